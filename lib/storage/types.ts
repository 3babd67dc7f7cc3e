/**
 * The storage the messaging runs on, behind two small interfaces: an {@linkcode OutboxStorage}
 * (authenticated writes to the own space) and a {@linkcode PublicStorageReader} (public reads of
 * anyone's space), plus {@linkcode StorageError}, the error adapters throw for HTTP statuses.
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";

/**
 * The own storage space, written with the owner's authority (a Pubky homeserver session, or
 * memory in tests).
 *
 * Adapters signal failures with `NoiseError`: `Storage` (9000) for refusals and server errors,
 * `Network` (8000) when the server could not be reached, `Timeout` (8001). A `NoiseError` whose
 * `isRetryable` is false (for example a {@linkcode StorageError} for HTTP 401) is not retried.
 * Anything else thrown counts as a retryable `Storage` error. Every method receives an
 * `AbortSignal` that fires at the attempt's time-out; pass it on (e.g. to `fetch`).
 *
 * @example
 * ```ts
 * import type { OutboxStorage } from "@pubky/noise/storage";
 * const objects = new Map<string, Uint8Array>();
 * const outbox: OutboxStorage = {
 *   put: (path, bytes) => Promise.resolve(void objects.set(path, bytes.slice())),
 *   get: (path) => Promise.resolve(objects.get(path)?.slice() ?? null),
 * };
 * await outbox.put("/pub/app/outbox/msg_0", new Uint8Array([1]));
 * console.log(objects.size); // 1
 * ```
 */
export interface OutboxStorage {
  /** Stores `bytes` at `path`, replacing what was there. Must be idempotent. */
  put(path: string, bytes: Uint8Array, signal?: AbortSignal): Promise<void>;
  /** Removes `path`; removing a missing object is not an error. */
  delete?(path: string, signal?: AbortSignal): Promise<void>;
  /**
   * Reads back an own object (`null` if missing). Optional; when present, the messaging uses it
   * to refuse to overwrite a stored message with a different one after a restart.
   */
  get?(path: string, signal?: AbortSignal): Promise<Uint8Array | null>;
}

/**
 * Public reads: a path (`/pub/...`, in a storage the reader is bound to) or a location in
 * someone's storage (`pubky://<z32 key>/pub/...`). Resolves `null` for a missing object (HTTP
 * 404); errors as for {@linkcode OutboxStorage}.
 *
 * @example
 * ```ts
 * import type { PublicStorageReader } from "@pubky/noise/storage";
 * const reader: PublicStorageReader = { get: () => Promise.resolve(null) };
 * console.log(await reader.get("/pub/app/outbox/msg_0")); // null
 * ```
 */
export interface PublicStorageReader {
  /** The object at `location`, or `null` if there is none. */
  get(location: string, signal?: AbortSignal): Promise<Uint8Array | null>;
}

/**
 * A `Storage` (9000) `NoiseError` from a storage server, with the HTTP status if there was one.
 * Retryable for 5xx, 408 and 429 (and when there is no status); not for other statuses
 * (a refused authentication, a bad request): retrying those cannot help.
 *
 * @example
 * ```ts
 * import { StorageError } from "@pubky/noise/storage";
 * const e = new StorageError("PUT /pub/x answered 401", 401);
 * console.log(e.code, e.status, e.isRetryable); // 9000 401 false
 * ```
 */
export class StorageError extends NoiseError {
  /** The HTTP status, or `null`. */
  readonly status: number | null;

  /**
   * A `Storage` error.
   *
   * @param detail what failed
   * @param status the HTTP status, if any
   */
  constructor(detail: string, status: number | null = null) {
    super(NoiseErrorCode.Storage, detail);
    this.status = status;
  }

  /** Whether a retry may succeed: no status, 5xx, 408 or 429. */
  override get isRetryable(): boolean {
    const s = this.status;
    return s === null || s >= 500 || s === 408 || s === 429;
  }
}
