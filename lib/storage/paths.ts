/**
 * Storage paths of the crate's storage queue (`src/storage_queue.rs`, `src/handshake_queue.rs`):
 * validation with the crate's exact rules and messages, base-path normalisation, and the
 * object path `{base}/msg_{counter}`.
 *
 * A read location may also name the peer: `pubky://<z-base-32 key>/pub/...`. Its path part is
 * validated with the same rules; the key must be 52 characters of z-base-32.
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";

/**
 * Longest accepted path, in UTF-8 bytes (Rust `str::len`).
 *
 * @example
 * ```ts
 * import { NoiseError } from "@pubky/noise";
 * import { MAX_PATH_LENGTH, validatePath } from "@pubky/noise/storage";
 * try {
 *   validatePath("/pub/" + "a".repeat(MAX_PATH_LENGTH));
 * } catch (e) {
 *   console.log((e as NoiseError).codeName, MAX_PATH_LENGTH); // Storage 1024
 * }
 * ```
 */
export const MAX_PATH_LENGTH = 1024;

const ENCODER = new TextEncoder();
/** Rust `char::is_alphanumeric`: Unicode `Alphabetic` or a numeric general category. */
const ALPHANUMERIC = /^[\p{Alphabetic}\p{N}]$/u;
/** A z-base-32 encoded Ed25519 public key (52 characters). */
const Z32_KEY = /^[ybndrfg8ejkmcpqxot1uwisza345h769]{52}$/;
const PUBKY_SCHEME = "pubky://";

function storageError(detail: string): NoiseError {
  return new NoiseError(NoiseErrorCode.Storage, detail);
}

/**
 * Checks `path` as the crate does, in the crate's order: not empty; starts with `/`; at most
 * 1024 UTF-8 bytes; no `..`; no `//`; every character alphanumeric (Unicode-aware) or one of
 * `/ - _ .`. Throws `NoiseError` (Storage, 9000) with the crate's message otherwise.
 *
 * @example
 * ```ts
 * import { validatePath } from "@pubky/noise/storage";
 * validatePath("/pub/app/outbox"); // fine
 * try {
 *   validatePath("/pub/../etc");
 * } catch (e) {
 *   console.log((e as Error).message); // storage error: Path cannot contain .. sequences (path traversal)
 * }
 * ```
 */
export function validatePath(path: string): void {
  if (typeof path !== "string") throw storageError("Path must be a string");
  if (path.length === 0) throw storageError("Path cannot be empty");
  if (!path.startsWith("/")) throw storageError("Path must start with /");
  if (ENCODER.encode(path).length > MAX_PATH_LENGTH) {
    throw storageError(`Path exceeds maximum length of ${MAX_PATH_LENGTH} characters`);
  }
  if (path.includes("..")) throw storageError("Path cannot contain .. sequences (path traversal)");
  if (path.includes("//")) throw storageError("Path cannot contain // sequences");
  for (const c of path) {
    if (c !== "/" && c !== "-" && c !== "_" && c !== "." && !ALPHANUMERIC.test(c)) {
      throw storageError(`Path contains invalid character: '${c}'`);
    }
  }
}

/**
 * Strips trailing `/` while the path is longer than one character (Rust `normalize_base_path`).
 *
 * @example
 * ```ts
 * import { normalizeBasePath } from "./paths.ts";
 * console.log(normalizeBasePath("/pub/app/outbox/"), normalizeBasePath("/")); // /pub/app/outbox /
 * ```
 */
export function normalizeBasePath(path: string): string {
  let out = path;
  while (out.length > 1 && out.endsWith("/")) out = out.slice(0, -1);
  return out;
}

/**
 * Checks a counter: a non-negative safe integer (Noise nonces are 64-bit; counters beyond
 * 2^53 − 1 are not representable as JS numbers and are refused).
 */
export function checkCounter(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw storageError(`${what} must be a non-negative safe integer, got ${String(value)}`);
  }
}

/**
 * The object path of message `counter` under `base`: `{base}/msg_{counter}`, decimal, no padding
 * (the crate's format).
 *
 * @example
 * ```ts
 * import { messagePath } from "@pubky/noise/storage";
 * console.log(messagePath("/pub/app/outbox", 7)); // /pub/app/outbox/msg_7
 * ```
 */
export function messagePath(base: string, counter: number): string {
  checkCounter(counter, "Message counter");
  return `${base}/msg_${counter}`;
}

/** A storage location: a path, optionally in the public storage of another key. */
export interface StorageLocation {
  /** The z-base-32 key of the owner (`pubky://<owner>/...`), or `null` for a plain path. */
  owner: string | null;
  /** The absolute path (validated with {@linkcode validatePath}). */
  path: string;
}

/**
 * Parses and validates a location: a path (`/pub/...`) or `pubky://<z32 key>/pub/...`. Throws
 * `NoiseError` (Storage) for a bad key or a path that {@linkcode validatePath} refuses.
 *
 * @example
 * ```ts
 * import { parseLocation } from "./paths.ts";
 * const owner = "o".repeat(52);
 * console.log(parseLocation(`pubky://${owner}/pub/app/outbox`).path); // /pub/app/outbox
 * ```
 */
export function parseLocation(location: string): StorageLocation {
  if (typeof location !== "string") throw storageError("Path must be a string");
  if (!location.startsWith(PUBKY_SCHEME)) {
    validatePath(location);
    return { owner: null, path: location };
  }
  const rest = location.slice(PUBKY_SCHEME.length);
  const slash = rest.indexOf("/");
  const owner = slash < 0 ? rest : rest.slice(0, slash);
  if (!Z32_KEY.test(owner)) {
    throw storageError("pubky:// location must name a 52-character z-base-32 public key");
  }
  const path = slash < 0 ? "" : rest.slice(slash);
  validatePath(path);
  return { owner, path };
}

/** Validates a base location and strips trailing slashes from its path, keeping the owner. */
export function normalizeBaseLocation(location: string): string {
  const { owner, path } = parseLocation(location);
  const base = normalizeBasePath(path);
  return owner === null ? base : `${PUBKY_SCHEME}${owner}${base}`;
}
