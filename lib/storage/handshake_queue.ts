/**
 * {@linkcode HandshakeQueue}: a Noise handshake through storage, as the crate's
 * `src/handshake_queue.rs`, for parties that are not online at the same time.
 *
 * Each side writes its handshake messages to its own storage at `{handshakePath}/msg_{index}`
 * (index 0: initiator, 1: responder, 2: XX final message) and polls the peer's storage at
 * `{peerPath}/msg_{index}`. The bytes are the raw handshake messages, as the crate stores them.
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";
import type { NoiseLink } from "../link.ts";
import { normalizeBaseLocation, normalizeBasePath, validatePath } from "./paths.ts";
import { attempt, resolveRetryConfig, type RetryConfig, sleep, withRetry } from "./retry.ts";
import {
  StorageBackedMessaging,
  type StorageMessagingOptions,
  type StorageOperationOptions,
} from "./messaging.ts";
import { type OutboxStorage, type PublicStorageReader, StorageError } from "./types.ts";

/** The crate's polling interval of `await_handshake_msg`. */
export const DEFAULT_POLL_INTERVAL_MS = 500;

/**
 * Options of {@linkcode HandshakeQueue}.
 *
 * @example
 * ```ts
 * import { HandshakeQueue, type HandshakeQueueOptions, MemoryStorage } from "@pubky/noise/storage";
 * const peer = "p".repeat(52);
 * const options: HandshakeQueueOptions = {
 *   peerPath: `pubky://${peer}/pub/app/hs/42`, // where the peer answers
 *   pollIntervalMs: 250,
 *   retry: { maxRetries: 2 },
 * };
 * const store = new MemoryStorage({ owner: peer });
 * const queue = new HandshakeQueue(store, store, "/pub/app/hs/42", options);
 * await queue.awaitHandshakeMsg(1, 100).catch((e) => console.log(e.codeName)); // Timeout: no answer yet
 * console.log(queue.peerPath, queue.pollIntervalMs); // pubky://ppp…/pub/app/hs/42 250
 * ```
 */
export interface HandshakeQueueOptions {
  /**
   * Where the peer writes its handshake messages: a path or `pubky://<peer>/...` (default: the
   * same path as ours, read through the reader).
   */
  peerPath?: string;
  /** Interval between polls of {@linkcode HandshakeQueue.awaitHandshakeMsg} (default 500 ms). */
  pollIntervalMs?: number;
  /** Retry behaviour of writes and polls (default {@linkcode DEFAULT_RETRY_CONFIG}). */
  retry?: Partial<RetryConfig>;
  /** Source of backoff jitter in `[0, 1)` (default `Math.random`). */
  random?: () => number;
}

function checkIndex(index: number): void {
  if (!Number.isInteger(index) || index < 0 || index > 255) {
    throw new StorageError(
      `handshake message index must be an integer in 0..=255, got ${String(index)}`,
      400,
    );
  }
}

/**
 * A handshake exchanged through storage.
 *
 * Use a fresh `handshakePath` for every handshake (for example with a random id in it) and
 * {@linkcode cleanup} afterwards: a stale message left at the same path would be read as the
 * answer to the next handshake (and fail it).
 *
 * @example
 * ```ts
 * import { clientCompleteXx, clientStartXxTofu, DummyRing, NoiseClient, NoiseServer, serverAcceptXx, serverCompleteXx } from "@pubky/noise";
 * import { HandshakeQueue, MemoryStorage } from "@pubky/noise/storage";
 * const client = new NoiseClient("kid", "client-device-0001", await DummyRing.create(new Uint8Array(32).fill(1), "kid"));
 * const server = new NoiseServer("kid", "server-device-0001", await DummyRing.create(new Uint8Array(32).fill(2), "kid"));
 * const clientStore = new MemoryStorage();
 * const serverStore = new MemoryStorage();
 * const path = "/pub/noise/hs/demo";
 * const cq = new HandshakeQueue(clientStore, serverStore, path, { pollIntervalMs: 10 });
 * const sq = new HandshakeQueue(serverStore, clientStore, path, { pollIntervalMs: 10 });
 *
 * const init = await clientStartXxTofu(client);
 * await cq.sendHandshakeMsg(0, init.firstMsg);
 * const accepted = await serverAcceptXx(server, await sq.awaitHandshakeMsg(0, 1000));
 * await sq.sendHandshakeMsg(1, accepted.response);
 * const done = await clientCompleteXx(client, init.hs, await cq.awaitHandshakeMsg(1, 1000));
 * await cq.sendHandshakeMsg(2, done.finalMsg);
 * const { link } = await serverCompleteXx(server, accepted.hs, await sq.awaitHandshakeMsg(2, 1000), accepted.serverStaticPk);
 * console.log(link.sessionId.toString() === done.link.sessionId.toString()); // true
 * await cq.cleanup(3);
 * ```
 */
export class HandshakeQueue {
  readonly #outbox: OutboxStorage;
  readonly #reader: PublicStorageReader;
  readonly #path: string;
  readonly #peerPath: string;
  readonly #pollIntervalMs: number;
  readonly #random: () => number;
  #retry: RetryConfig;

  /**
   * A queue writing to `handshakePath` in `outbox` and reading the peer's messages through
   * `reader`. Paths are validated as the crate does (`NoiseError` Storage, 9000).
   */
  constructor(
    outbox: OutboxStorage,
    reader: PublicStorageReader,
    handshakePath: string,
    options: HandshakeQueueOptions = {},
  ) {
    if (outbox === null || typeof outbox !== "object" || typeof outbox.put !== "function") {
      throw new StorageError("outbox must be an OutboxStorage (with put)", 400);
    }
    if (reader === null || typeof reader !== "object" || typeof reader.get !== "function") {
      throw new StorageError("reader must be a PublicStorageReader (with get)", 400);
    }
    validatePath(handshakePath);
    this.#path = normalizeBasePath(handshakePath);
    this.#peerPath = normalizeBaseLocation(options.peerPath ?? handshakePath);
    const poll = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    if (!Number.isSafeInteger(poll) || poll < 1) {
      throw new StorageError(`pollIntervalMs must be a positive integer, got ${String(poll)}`, 400);
    }
    this.#pollIntervalMs = poll;
    this.#retry = resolveRetryConfig(options.retry);
    this.#random = options.random ?? Math.random;
    this.#outbox = outbox;
    this.#reader = reader;
  }

  /** Replaces the retry behaviour (unset fields: defaults). */
  withRetryConfig(config: Partial<RetryConfig>): this {
    this.#retry = resolveRetryConfig(config);
    return this;
  }

  /** Our base path. */
  get handshakePath(): string {
    return this.#path;
  }

  /** The peer's base location. */
  get peerPath(): string {
    return this.#peerPath;
  }

  /** The polling interval of {@linkcode awaitHandshakeMsg}, in ms. */
  get pollIntervalMs(): number {
    return this.#pollIntervalMs;
  }

  /** Writes handshake message `index` (0..=255) to our storage, with retries. */
  async sendHandshakeMsg(
    index: number,
    data: Uint8Array,
    options: StorageOperationOptions = {},
  ): Promise<void> {
    checkIndex(index);
    if (!(data instanceof Uint8Array)) {
      throw new StorageError("a handshake message must be a Uint8Array", 400);
    }
    const path = `${this.#path}/msg_${index}`;
    const bytes = data.slice();
    await withRetry(
      (signal) => this.#outbox.put(path, bytes, signal),
      this.#retry,
      `PUT ${path}`,
      { signal: options.signal, random: this.#random },
    );
  }

  /**
   * One look at the peer's message `index`: its bytes, or `null` if it is not there yet. One
   * time-limited attempt, no retries (as the crate).
   */
  async pollHandshakeMsg(
    index: number,
    options: StorageOperationOptions = {},
  ): Promise<Uint8Array | null> {
    checkIndex(index);
    return await this.#poll(index, this.#retry.operationTimeoutMs, options.signal);
  }

  async #poll(
    index: number,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<Uint8Array | null> {
    const location = `${this.#peerPath}/msg_${index}`;
    const found = await attempt(
      (s) => this.#reader.get(location, s),
      timeoutMs,
      `GET ${location}`,
      signal,
    );
    if (found !== null && !(found instanceof Uint8Array)) {
      throw new StorageError(`GET ${location}: the reader returned no bytes`);
    }
    return found;
  }

  /**
   * Polls for the peer's message `index` every `pollIntervalMs` until it is there or
   * `timeoutMs` has passed (then `NoiseError` Timeout, 8001). Transient read errors (server,
   * network, time-out) are polled through; others are thrown at once.
   */
  async awaitHandshakeMsg(
    index: number,
    timeoutMs: number,
    options: StorageOperationOptions = {},
  ): Promise<Uint8Array> {
    checkIndex(index);
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 0) {
      throw new StorageError(`timeoutMs must be a non-negative integer, got ${timeoutMs}`, 400);
    }
    const deadline = Date.now() + timeoutMs;
    let lastError: NoiseError | null = null;
    for (;;) {
      const remaining = Math.max(deadline - Date.now(), 1);
      try {
        const found = await this.#poll(
          index,
          Math.min(this.#retry.operationTimeoutMs, remaining),
          options.signal,
        );
        if (found !== null) return found;
      } catch (e) {
        const error = e as NoiseError;
        if (options.signal?.aborted || !error.isRetryable) throw error;
        lastError = error;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        const cause = lastError ? ` (last error: ${lastError.message})` : "";
        throw new NoiseError(
          NoiseErrorCode.Timeout,
          `Handshake message ${index} not received within ${timeoutMs}ms${cause}`,
        );
      }
      await sleep(Math.min(this.#pollIntervalMs, left), options.signal, "awaitHandshakeMsg");
    }
  }

  /**
   * The messaging for the established `link`, on the same storage and retry behaviour (the
   * crate's `complete_to_messaging`).
   */
  completeToMessaging(
    link: NoiseLink,
    writePath: string,
    readPath: string,
    options: StorageMessagingOptions = {},
  ): StorageBackedMessaging {
    return new StorageBackedMessaging(link, this.#outbox, this.#reader, writePath, readPath, {
      retry: this.#retry,
      random: this.#random,
      ...options,
    });
  }

  /**
   * Best-effort removal of our messages `msg_0 … msg_{msgCount−1}` (2 for IK, 3 for XX on the
   * initiator). Errors are ignored, as in the crate; resolves how many deletions succeeded.
   */
  async cleanup(msgCount: number, options: StorageOperationOptions = {}): Promise<number> {
    checkIndex(msgCount);
    const outbox = this.#outbox;
    if (typeof outbox.delete !== "function") return 0;
    let removed = 0;
    for (let i = 0; i < msgCount; i++) {
      const path = `${this.#path}/msg_${i}`;
      try {
        await attempt(
          (signal) => outbox.delete!(path, signal),
          this.#retry.operationTimeoutMs,
          `DELETE ${path}`,
          options.signal,
        );
        removed++;
      } catch {
        // best effort
      }
    }
    return removed;
  }
}
