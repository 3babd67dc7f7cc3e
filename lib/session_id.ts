/**
 * `SessionId`: the name of a live session, equal on both sides. It is the Noise
 * handshake hash `h` at the end of the handshake (32 bytes), as in the Rust
 * crate; it doubles as the session tag that binds app messages (Paykit, Locks)
 * to the channel.
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "./errors.ts";
import { copyBytes, equalBytes, fromHex, toHex } from "./bytes.ts";

/**
 * A 32-byte session identifier; prints as 64 lowercase hex characters.
 *
 * @example
 * ```ts
 * import { SessionId } from "@pubky/noise";
 * const id = SessionId.parse("0123456789ABCDEF".repeat(4));
 * console.log(id.toString()); // "0123456789abcdef0123456789abcdef..."
 * console.log(SessionId.fromBytes(id.toBytes()).equals(id)); // true
 * ```
 */
export class SessionId {
  readonly #bytes: Uint8Array;
  readonly #hex: string;

  /** The id of these 32 bytes (copied). */
  constructor(bytes: Uint8Array) {
    if (!(bytes instanceof Uint8Array) || bytes.length !== 32) {
      const n = bytes instanceof Uint8Array ? bytes.length : 0;
      throw new NoiseError(
        NoiseErrorCode.Other,
        `SessionId must be 32 bytes (64 hex chars), got ${n} bytes`,
      );
    }
    this.#bytes = copyBytes(bytes);
    this.#hex = toHex(bytes);
  }

  /** Same as the constructor (Rust `SessionId::from_bytes`). */
  static fromBytes(bytes: Uint8Array): SessionId {
    return new SessionId(bytes);
  }

  /** Parses 64 hex characters of either case (Rust `FromStr`). */
  static parse(hex: string): SessionId {
    if (typeof hex !== "string" || !/^([0-9a-fA-F]{2})*$/.test(hex)) {
      throw new NoiseError(NoiseErrorCode.Other, "Invalid hex: not a hex string");
    }
    return new SessionId(fromHex(hex));
  }

  /** The 32 bytes (a copy). */
  toBytes(): Uint8Array {
    return copyBytes(this.#bytes);
  }

  /** 64 lowercase hex characters. */
  toString(): string {
    return this.#hex;
  }

  /** The Rust serde form: an array of 32 numbers. */
  toJSON(): number[] {
    return Array.from(this.#bytes);
  }

  /** Whether `other` names the same session. */
  equals(other: SessionId): boolean {
    return other instanceof SessionId && equalBytes(this.#bytes, other.#bytes);
  }

  /** Shown as `SessionId(<hex>)`, as Rust's `Debug`. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `SessionId(${this.#hex})`;
  }
  /** Shown as `SessionId(<hex>)`, as Rust's `Debug`. */
  [Symbol.for("Deno.customInspect")](): string {
    return `SessionId(${this.#hex})`;
  }
}
