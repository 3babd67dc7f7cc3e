/**
 * One error type for the whole library, carrying the numeric codes of the Rust
 * crate's `NoiseErrorCode` so that apps (and FFI layers) can branch on `code`.
 *
 * The `message` is the Rust `Display` text (`"snow error: decrypt error"`), so logs
 * from a Rust peer and a TypeScript peer read alike. Raw runtime errors never
 * escape as the only information: they are mapped to a code first.
 *
 * @module
 */

/**
 * The numeric error codes of the Rust crate (`#[repr(i32)] enum NoiseErrorCode`).
 *
 * @example
 * ```ts
 * import { NoiseErrorCode } from "@pubky/noise";
 * console.log(NoiseErrorCode.InvalidPeerKey); // 7000
 * ```
 */
export const NoiseErrorCode = {
  Ring: 1000,
  Pkarr: 2000,
  Snow: 3000,
  Serde: 4000,
  IdentityVerify: 5000,
  RemoteStaticMissing: 5001,
  Policy: 6000,
  RateLimited: 6001,
  MaxSessionsExceeded: 6002,
  SessionExpired: 6003,
  InvalidPeerKey: 7000,
  Network: 8000,
  Timeout: 8001,
  ConnectionReset: 8002,
  Storage: 9000,
  Decryption: 10000,
  Other: 99999,
} as const;

/** One of the values of {@linkcode NoiseErrorCode}. */
export type NoiseErrorCode = typeof NoiseErrorCode[keyof typeof NoiseErrorCode];

/** The Rust `Display` prefix of each code; codes without detail have a fixed text. */
const DISPLAY: Record<NoiseErrorCode, (detail: string) => string> = {
  1000: (d) => `ring error: ${d}`,
  2000: (d) => `pkarr error: ${d}`,
  3000: (d) => `snow error: ${d}`,
  4000: (d) => `serialization error: ${d}`,
  5000: () => "identity verification failed",
  5001: () => "remote static not available",
  6000: (d) => `policy violation: ${d}`,
  6001: (d) => `rate limited: ${d}`,
  6002: () => "maximum sessions exceeded for this identity",
  6003: (d) => `session expired or not found: ${d}`,
  7000: () => "invalid peer static or shared secret",
  8000: (d) => `network error: ${d}`,
  8001: (d) => `timeout: ${d}`,
  8002: (d) => `connection reset: ${d}`,
  9000: (d) => `storage error: ${d}`,
  10000: (d) => `decryption error: ${d}`,
  99999: (d) => `other: ${d}`,
};

const NAMES: Record<NoiseErrorCode, string> = Object.fromEntries(
  Object.entries(NoiseErrorCode).map(([name, code]) => [code, name]),
) as Record<NoiseErrorCode, string>;

/**
 * Options of {@linkcode NoiseError}.
 *
 * @example
 * ```ts
 * import { NoiseError, NoiseErrorCode, type NoiseErrorOptions } from "@pubky/noise";
 * const options: NoiseErrorOptions = { retryAfterMs: 2000 };
 * const err = new NoiseError(NoiseErrorCode.RateLimited, "too many handshakes", options);
 * console.log(err.message, err.retryAfterMs); // rate limited: too many handshakes 2000
 * ```
 */
export interface NoiseErrorOptions {
  /** For `RateLimited`: how long the caller should wait before retrying. */
  retryAfterMs?: number;
}

/**
 * The error thrown by every operation of this library.
 *
 * @example
 * ```ts
 * import { NoiseError, NoiseErrorCode } from "@pubky/noise";
 * const err = new NoiseError(NoiseErrorCode.Snow, "decrypt error");
 * console.log(err.code, err.message); // 3000 "snow error: decrypt error"
 * console.log(err.isRetryable); // false
 * ```
 */
export class NoiseError extends Error {
  /** The Rust `NoiseErrorCode` number. */
  readonly code: NoiseErrorCode;
  /** The variant's own text (the part after the Rust `Display` prefix). */
  readonly detail: string;
  readonly #retryAfterMs: number | undefined;

  /**
   * An error of `code`; the message is the Rust `Display` text of that variant.
   *
   * @param code one of {@linkcode NoiseErrorCode}
   * @param detail the variant's text, e.g. `"decrypt error"` for `Snow`
   * @param options `retryAfterMs` for `RateLimited`
   */
  constructor(code: NoiseErrorCode, detail = "", options: NoiseErrorOptions = {}) {
    super(DISPLAY[code](detail));
    this.name = "NoiseError";
    this.code = code;
    this.detail = detail;
    this.#retryAfterMs = options.retryAfterMs;
  }

  /** The name of the code, as in Rust (`"InvalidPeerKey"`). */
  get codeName(): string {
    return NAMES[this.code];
  }

  /** Whether retrying the same operation later may succeed (Rust `is_retryable`). */
  get isRetryable(): boolean {
    return this.code === NoiseErrorCode.Network || this.code === NoiseErrorCode.Timeout ||
      this.code === NoiseErrorCode.ConnectionReset || this.code === NoiseErrorCode.RateLimited ||
      this.code === NoiseErrorCode.Storage;
  }

  /** Suggested wait before a retry, in milliseconds (Rust `retry_after_ms`). */
  get retryAfterMs(): number | undefined {
    switch (this.code) {
      case NoiseErrorCode.RateLimited:
        return this.#retryAfterMs;
      case NoiseErrorCode.Network:
      case NoiseErrorCode.Timeout:
      case NoiseErrorCode.ConnectionReset:
        return 1000;
      case NoiseErrorCode.Storage:
        return 500;
    }
    return undefined;
  }

  /** Whether the error is meant to be shown to a person (Rust `is_user_facing`). */
  get isUserFacing(): boolean {
    return this.code === NoiseErrorCode.Network || this.code === NoiseErrorCode.Timeout ||
      this.code === NoiseErrorCode.RateLimited || this.code === NoiseErrorCode.IdentityVerify ||
      this.code === NoiseErrorCode.SessionExpired;
  }

  /** A plain object for logs and FFI: `{ code, name, message }`. */
  toJSON(): { code: NoiseErrorCode; name: string; message: string; retryAfterMs?: number } {
    const out: { code: NoiseErrorCode; name: string; message: string; retryAfterMs?: number } = {
      code: this.code,
      name: this.codeName,
      message: this.message,
    };
    if (this.retryAfterMs !== undefined) out.retryAfterMs = this.retryAfterMs;
    return out;
  }
}
