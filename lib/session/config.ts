/**
 * Lifecycle data of the session managers, as in the Rust crate's
 * `mobile_manager`: {@linkcode ConnectionStatus}, {@linkcode MobileConfig} with its
 * three presets, and {@linkcode SessionState}, the session metadata whose JSON is
 * the crate's serde output.
 *
 * Differences from the crate (its bugs, fixed without touching the wire):
 * - `chunkSize` is clamped to 65519 bytes, the largest Noise plaintext (the crate's
 *   performance preset says 65536, which fails on every full chunk); 0 or a
 *   non-integer is refused (the crate panics).
 * - The reconnect fields are not just hints: `ReconnectingSession` follows them.
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";
import { SessionId } from "../session_id.ts";
import { copyBytes } from "../bytes.ts";

/** The largest plaintext of one Noise transport message: the cap of `chunkSize`. */
export const MAX_CHUNK_SIZE = 65519;

/**
 * The state of a managed session (Rust `enum ConnectionStatus`, serialized as the
 * variant name).
 *
 * @example
 * ```ts
 * import { ConnectionStatus } from "@pubky/noise/sessions";
 * console.log(ConnectionStatus.Reconnecting); // "Reconnecting"
 * ```
 */
export const ConnectionStatus = {
  /** Established: ready to encrypt and decrypt. */
  Connected: "Connected",
  /** Dropped; a new connection is being attempted. */
  Reconnecting: "Reconnecting",
  /** Closed, or dropped with reconnection off. */
  Disconnected: "Disconnected",
  /** Dropped, and reconnection failed for good. */
  Error: "Error",
} as const;

/** One of the values of {@linkcode ConnectionStatus}. */
export type ConnectionStatus = typeof ConnectionStatus[keyof typeof ConnectionStatus];

const STATUSES: readonly string[] = Object.values(ConnectionStatus);

/** Whether `value` is one of the four statuses. */
export function isConnectionStatus(value: unknown): value is ConnectionStatus {
  return typeof value === "string" && STATUSES.includes(value);
}

/**
 * Settings of a mobile client (Rust `MobileConfig`).
 *
 * @example
 * ```ts
 * import { batterySaverConfig, mobileConfig } from "@pubky/noise/sessions";
 * console.log(batterySaverConfig().chunkSize); // 16384
 * console.log(mobileConfig({ chunkSize: 65536 }).chunkSize); // 65519 (clamped)
 * ```
 */
export interface MobileConfig {
  /** Reconnect by itself when a connection drops. */
  autoReconnect: boolean;
  /** Attempts per drop before giving up (status `Error`). */
  maxReconnectAttempts: number;
  /** Base delay of the exponential backoff, in milliseconds. */
  reconnectDelayMs: number;
  /** Fewer, slower retries (storage retry settings; the preset also turns reconnection off). */
  batterySaver: boolean;
  /** Plaintext bytes per Noise message when sending large data (1 to 65519). */
  chunkSize: number;
}

/**
 * Rust `MobileConfig::default()`.
 *
 * @example
 * ```ts
 * import { defaultConfig } from "@pubky/noise/sessions";
 * console.log(defaultConfig());
 * // { autoReconnect: true, maxReconnectAttempts: 5, reconnectDelayMs: 1000, batterySaver: false, chunkSize: 32768 }
 * ```
 */
export function defaultConfig(): MobileConfig {
  return {
    autoReconnect: true,
    maxReconnectAttempts: 5,
    reconnectDelayMs: 1000,
    batterySaver: false,
    chunkSize: 32768,
  };
}

/**
 * Rust `battery_saver_config()`.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient } from "@pubky/noise";
 * import { batterySaverConfig, NoiseManager } from "@pubky/noise/sessions";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const phone = NoiseManager.newClient(new NoiseClient("kid", "client-device-0001", ring), {
 *   config: batterySaverConfig(), // on a metered or low-battery device
 * });
 * console.log(phone.config.autoReconnect, phone.config.chunkSize); // false 16384
 * ```
 */
export function batterySaverConfig(): MobileConfig {
  return {
    autoReconnect: false,
    maxReconnectAttempts: 2,
    reconnectDelayMs: 2000,
    batterySaver: true,
    chunkSize: 16384,
  };
}

/**
 * Rust `performance_config()`, with `chunkSize` clamped from 65536 to 65519.
 *
 * @example
 * ```ts
 * import { performanceConfig } from "@pubky/noise/sessions";
 * const config = performanceConfig();
 * console.log(config.reconnectDelayMs, config.maxReconnectAttempts, config.chunkSize); // 100 10 65519
 * ```
 */
export function performanceConfig(): MobileConfig {
  return {
    autoReconnect: true,
    maxReconnectAttempts: 10,
    reconnectDelayMs: 100,
    batterySaver: false,
    chunkSize: MAX_CHUNK_SIZE,
  };
}

function configError(detail: string): NoiseError {
  return new NoiseError(NoiseErrorCode.Other, `MobileConfig: ${detail}`);
}

/**
 * A complete, checked config: `partial` over the defaults, `chunkSize` clamped to
 * 65519. Throws `NoiseError` Other on a field of the wrong type or range.
 *
 * @example
 * ```ts
 * import { NoiseError } from "@pubky/noise";
 * import { mobileConfig } from "@pubky/noise/sessions";
 * console.log(mobileConfig({ maxReconnectAttempts: 8 }).reconnectDelayMs); // 1000: the rest is the default
 * console.log(mobileConfig({ chunkSize: 1 << 20 }).chunkSize); // 65519: clamped
 * try {
 *   mobileConfig({ chunkSize: 0 });
 * } catch (e) {
 *   console.log((e as NoiseError).message); // other: MobileConfig: chunkSize must be a positive integer, got 0
 * }
 * ```
 */
export function mobileConfig(partial: Partial<MobileConfig> = {}): MobileConfig {
  if (partial === null || typeof partial !== "object") throw configError("not an object");
  const c = { ...defaultConfig(), ...partial };
  for (const name of ["autoReconnect", "batterySaver"] as const) {
    if (typeof c[name] !== "boolean") throw configError(`${name} must be a boolean`);
  }
  if (!Number.isSafeInteger(c.maxReconnectAttempts) || c.maxReconnectAttempts < 0) {
    throw configError("maxReconnectAttempts must be a non-negative integer");
  }
  if (!Number.isFinite(c.reconnectDelayMs) || c.reconnectDelayMs < 0) {
    throw configError("reconnectDelayMs must be a non-negative number");
  }
  if (!Number.isSafeInteger(c.chunkSize) || c.chunkSize < 1) {
    throw configError(`chunkSize must be a positive integer, got ${c.chunkSize}`);
  }
  return {
    autoReconnect: c.autoReconnect,
    maxReconnectAttempts: c.maxReconnectAttempts,
    reconnectDelayMs: c.reconnectDelayMs,
    batterySaver: c.batterySaver,
    chunkSize: Math.min(c.chunkSize, MAX_CHUNK_SIZE),
  };
}

/**
 * The storage retry settings the crate derives from a config
 * (`create_storage_messaging`): fewer, shorter retries in battery-saver mode. The
 * shape of `RetryConfig` of `@pubky/noise/storage`.
 *
 * @example
 * ```ts
 * import { batterySaverConfig, defaultConfig, storageRetryConfig } from "@pubky/noise/sessions";
 * console.log(storageRetryConfig(defaultConfig()).maxRetries); // 3
 * console.log(storageRetryConfig(batterySaverConfig())); // fewer, shorter retries
 * // { maxRetries: 2, initialBackoffMs: 200, maxBackoffMs: 3000, operationTimeoutMs: 30000 }
 * // Pass it on: storageMessaging.withRetryConfig(storageRetryConfig(config)).
 * ```
 */
export function storageRetryConfig(config: MobileConfig): {
  maxRetries: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  operationTimeoutMs: number;
} {
  return {
    maxRetries: config.batterySaver ? 2 : 3,
    initialBackoffMs: 200,
    maxBackoffMs: config.batterySaver ? 3000 : 5000,
    operationTimeoutMs: 30000,
  };
}

function serdeError(detail: string): NoiseError {
  return new NoiseError(NoiseErrorCode.Serde, detail);
}

function byteArray(value: unknown, field: string): Uint8Array {
  if (
    !Array.isArray(value) || value.length !== 32 ||
    !value.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)
  ) {
    throw serdeError(`${field}: expected an array of 32 integers from 0 to 255`);
  }
  return Uint8Array.from(value);
}

function counter(value: unknown, field: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw serdeError(`${field}: expected an integer from 0 to 2^53 - 1`);
  }
  return value as number;
}

/**
 * The JSON object of a {@linkcode SessionState}, as Rust's serde writes it.
 *
 * @example
 * ```ts
 * import { SessionId } from "@pubky/noise";
 * import { SessionState, type SessionStateJson } from "@pubky/noise/sessions";
 * const state = new SessionState(new SessionId(new Uint8Array(32).fill(7)), new Uint8Array(32), 12, 9, "Connected");
 * const json: SessionStateJson = state.toJSON(); // what a Rust peer's serde_json reads and writes
 * console.log(json.write_counter, json.read_counter, json.status, json.session_id.length); // 12 9 Connected 32
 * ```
 */
export interface SessionStateJson {
  /** 32 numbers. */
  session_id: number[];
  /** 32 numbers. */
  peer_static_pk: number[];
  /** Messages written. */
  write_counter: number;
  /** Messages read. */
  read_counter: number;
  /** The status name. */
  status: ConnectionStatus;
}

/**
 * A session's metadata (Rust `SessionState`): id, peer static key, counters and
 * status. No keys: it cannot resume a session on its own (see `snapshot` for
 * that). `JSON.stringify(state)` gives the crate's serde_json output:
 *
 * ```json
 * {"session_id":[…32],"peer_static_pk":[…32],"write_counter":0,"read_counter":0,"status":"Connected"}
 * ```
 *
 * Counters are JavaScript numbers: values above 2^53 − 1 (never reached in
 * practice) are refused when parsing.
 *
 * @example
 * ```ts
 * import { SessionId } from "@pubky/noise";
 * import { SessionState } from "@pubky/noise/sessions";
 * const state = new SessionState(new SessionId(new Uint8Array(32)), new Uint8Array(32), 3, 1, "Connected");
 * const again = SessionState.fromJSON(JSON.stringify(state));
 * console.log(again.writeCounter, again.status); // 3 "Connected"
 * ```
 */
export class SessionState {
  /** The session id. */
  readonly sessionId: SessionId;
  /** The peer's static key (the server's on a client, the client's on a server). */
  readonly peerStaticPk: Uint8Array;
  /** Messages written on the session (the send nonce). */
  readonly writeCounter: number;
  /** Messages read on the session (the receive nonce). */
  readonly readCounter: number;
  /** The status. */
  readonly status: ConnectionStatus;

  /** Throws `NoiseError` Serde on a field out of shape. */
  constructor(
    sessionId: SessionId,
    peerStaticPk: Uint8Array,
    writeCounter: number,
    readCounter: number,
    status: ConnectionStatus,
  ) {
    if (!(sessionId instanceof SessionId)) throw serdeError("session_id: expected a SessionId");
    if (!(peerStaticPk instanceof Uint8Array) || peerStaticPk.length !== 32) {
      throw serdeError("peer_static_pk: expected 32 bytes");
    }
    if (!isConnectionStatus(status)) {
      throw serdeError(`status: unknown variant ${JSON.stringify(String(status))}`);
    }
    this.sessionId = sessionId;
    this.peerStaticPk = copyBytes(peerStaticPk);
    this.writeCounter = counter(writeCounter, "write_counter");
    this.readCounter = counter(readCounter, "read_counter");
    this.status = status;
  }

  /** The serde shape (snake case, byte arrays as number arrays). */
  toJSON(): SessionStateJson {
    return {
      session_id: this.sessionId.toJSON(),
      peer_static_pk: Array.from(this.peerStaticPk),
      write_counter: this.writeCounter,
      read_counter: this.readCounter,
      status: this.status,
    };
  }

  /**
   * Parses the serde shape (a JSON string or the parsed object); unknown fields are
   * ignored, as serde does. Throws `NoiseError` Serde on anything else.
   */
  static fromJSON(input: string | unknown): SessionState {
    let value: unknown = input;
    if (typeof input === "string") {
      try {
        value = JSON.parse(input);
      } catch {
        throw serdeError("SessionState: not JSON");
      }
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw serdeError("SessionState: expected a JSON object");
    }
    const o = value as Record<string, unknown>;
    for (const f of ["session_id", "peer_static_pk", "write_counter", "read_counter", "status"]) {
      if (!(f in o)) throw serdeError(`missing field \`${f}\``);
    }
    return new SessionState(
      new SessionId(byteArray(o.session_id, "session_id")),
      byteArray(o.peer_static_pk, "peer_static_pk"),
      counter(o.write_counter, "write_counter"),
      counter(o.read_counter, "read_counter"),
      o.status as ConnectionStatus,
    );
  }
}
