/**
 * # @pubky/noise/storage
 *
 * Asynchronous Noise messaging through storage — the Rust crate's `storage-queue` feature
 * (`StorageBackedMessaging`, `HandshakeQueue`), compatible with its object format, without its
 * desynchronisation on failed writes. Not loaded by the default entry.
 *
 * - **Outbox pattern**: a sender writes message `N` to its own storage at
 *   `{writePath}/msg_{N}` (one Noise transport message per object, decimal counter); the
 *   receiver polls the sender's public storage. {@linkcode StorageBackedMessaging}.
 * - **Nonce = counter**: message `N` is encrypted at nonce `N`, the write counter advances only
 *   after a successful write, and a failed message is kept: a retry — now, or after a restart
 *   from the persisted counters ({@linkcode StorageBackedMessaging.withCounters}) — writes the
 *   same ciphertext to the same path. Every message is delivered exactly once, in order.
 *   **Exactly one writer per session and direction.**
 * - **Retries**: {@linkcode RetryConfig} as in the crate; `maxRetries` counts retries after
 *   the first attempt; exponential backoff with full jitter; every attempt is limited by
 *   `operationTimeoutMs` through an `AbortSignal`. Errors: `Storage` 9000 (server refusals and
 *   errors), `Network` 8000, `Timeout` 8001, `Decryption` 10000.
 * - **Storage** behind {@linkcode OutboxStorage} and {@linkcode PublicStorageReader}, with
 *   adapters for a Pubky homeserver over `fetch` ({@linkcode HomeserverStorage},
 *   {@linkcode HomeserverPublicReader}) and memory ({@linkcode MemoryStorage}).
 * - **Handshakes through storage**: {@linkcode HandshakeQueue} (IK or XX; polling interval and
 *   time-out).
 * - Paths are validated exactly as the crate does ({@linkcode validatePath}).
 *
 * @example
 * ```ts
 * import { clientCompleteNn, clientStartNn, DummyRing, NoiseClient, NoiseServer, serverAcceptNn, serverCompleteNn } from "@pubky/noise";
 * import { MemoryStorage, StorageBackedMessaging } from "@pubky/noise/storage";
 *
 * const ring = await DummyRing.create(crypto.getRandomValues(new Uint8Array(32)), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const c = await clientStartNn(client);
 * const s = await serverAcceptNn(new NoiseServer("kid", "server-device-0001", ring), c.firstMsg);
 * const aliceLink = await clientCompleteNn(client, c.hs, s.response);
 * const bobLink = serverCompleteNn(s.hs);
 *
 * // In production: HomeserverStorage (own space) and HomeserverPublicReader (the peer's).
 * const aliceStore = new MemoryStorage();
 * const bobStore = new MemoryStorage();
 * const alice = new StorageBackedMessaging(aliceLink, aliceStore, bobStore, "/pub/chat/a", "/pub/chat/b");
 * const bob = new StorageBackedMessaging(bobLink, bobStore, aliceStore, "/pub/chat/b", "/pub/chat/a");
 *
 * await alice.sendMessage(new TextEncoder().encode("hello"));
 * const saved = alice.counters; // persist { write, read } after each send/receive
 * for (const m of await bob.receiveMessages()) console.log(new TextDecoder().decode(m)); // hello
 * console.log(saved); // { write: 1, read: 0 }
 * ```
 *
 * @module
 */

export { MAX_PATH_LENGTH, messagePath, validatePath } from "./lib/storage/paths.ts";
export { DEFAULT_RETRY_CONFIG, type RetryConfig } from "./lib/storage/retry.ts";
export { type OutboxStorage, type PublicStorageReader, StorageError } from "./lib/storage/types.ts";
export {
  type MemoryFaultHook,
  MemoryStorage,
  type MemoryStorageEvent,
  type MemoryStorageOptions,
} from "./lib/storage/memory.ts";
export {
  type FetchFunction,
  type HeadersSource,
  HomeserverPublicReader,
  type HomeserverPublicReaderOptions,
  HomeserverStorage,
  type HomeserverStorageOptions,
} from "./lib/storage/homeserver.ts";
export {
  type MessageQueue,
  type MessagingCounters,
  StorageBackedMessaging,
  type StorageMessagingOptions,
  type StorageOperationOptions,
} from "./lib/storage/messaging.ts";
export { HandshakeQueue, type HandshakeQueueOptions } from "./lib/storage/handshake_queue.ts";
