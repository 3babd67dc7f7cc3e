/**
 * {@linkcode StorageBackedMessaging}: the crate's outbox pattern, made safe to retry.
 *
 * A sender writes message `N` to its own storage at `{writePath}/msg_{N}`; the receiver polls
 * the sender's public storage at `{readPath}/msg_{N}`. One object holds exactly one Noise
 * transport message (plaintext + 16-byte tag), counters are decimal: the format of the crate.
 *
 * Unlike the crate, **message `N` is always encrypted with nonce `N`**. The write counter
 * advances only after a successful write, and the ciphertext of a message whose write failed
 * is kept until it is written: a retry (now or after a restart, from the saved counter) writes
 * the same bytes to the same path, so a failed or doubtful write never desynchronises the
 * session and never delivers a message twice.
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";
import { equalBytes } from "../bytes.ts";
import { NoiseLink } from "../link.ts";
import {
  checkCounter,
  messagePath,
  normalizeBaseLocation,
  normalizeBasePath,
  validatePath,
} from "./paths.ts";
import { resolveRetryConfig, type RetryConfig, withRetry } from "./retry.ts";
import { type OutboxStorage, type PublicStorageReader, StorageError } from "./types.ts";

/**
 * Options of {@linkcode StorageBackedMessaging}.
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteNn, clientStartNn, DummyRing, NoiseClient, NoiseServer, serverAcceptNn,
 *   serverCompleteNn,
 * } from "@pubky/noise";
 * import { MemoryStorage, StorageBackedMessaging, type StorageMessagingOptions } from "@pubky/noise/storage";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const c = await clientStartNn(client);
 * const s = await serverAcceptNn(new NoiseServer("kid", "server-device-0001", ring), c.firstMsg);
 * const aliceLink = await clientCompleteNn(client, c.hs, s.response);
 * const bobLink = serverCompleteNn(s.hs);
 * const options: StorageMessagingOptions = {
 *   retry: { maxRetries: 5, operationTimeoutMs: 10_000 },
 *   verifyFirstWrite: true, // the default: never overwrite a different message after a restart
 * };
 * const alice = new StorageBackedMessaging(aliceLink, new MemoryStorage(), new MemoryStorage(), "/pub/a", "/pub/b", options);
 * console.log(alice.retryConfig.maxRetries, alice.retryConfig.initialBackoffMs); // 5 100
 * ```
 */
export interface StorageMessagingOptions {
  /** Retry behaviour (default {@linkcode DEFAULT_RETRY_CONFIG}). */
  retry?: Partial<RetryConfig>;
  /** Source of backoff jitter in `[0, 1)` (default `Math.random`). */
  random?: () => number;
  /**
   * Before the first write after construction or {@linkcode StorageBackedMessaging.withCounters},
   * read the target object back (needs `outbox.get`) and refuse to replace a different message
   * (default `true`). See "Restarts" in {@linkcode StorageBackedMessaging}.
   */
  verifyFirstWrite?: boolean;
}

/**
 * Options of one operation.
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteNn, clientStartNn, DummyRing, NoiseClient, NoiseServer, serverAcceptNn,
 *   serverCompleteNn,
 * } from "@pubky/noise";
 * import { MemoryStorage, StorageBackedMessaging, type StorageOperationOptions } from "@pubky/noise/storage";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const c = await clientStartNn(client);
 * const s = await serverAcceptNn(new NoiseServer("kid", "server-device-0001", ring), c.firstMsg);
 * const aliceLink = await clientCompleteNn(client, c.hs, s.response);
 * const bobLink = serverCompleteNn(s.hs);
 * const store = new MemoryStorage({ faults: (e) => MemoryStorage.hang(e.signal) }); // a server that never answers
 * const alice = new StorageBackedMessaging(aliceLink, store, store, "/pub/a", "/pub/b");
 * const options: StorageOperationOptions = { signal: AbortSignal.timeout(50) }; // give up after 50 ms
 * await alice.sendMessage(new Uint8Array([1]), options).catch((e) => console.log(e.codeName)); // Timeout
 * console.log(alice.pendingCounter); // 0: kept, to retry later with the same bytes
 * ```
 */
export interface StorageOperationOptions {
  /** Aborts the operation (including retries and backoff waits). */
  signal?: AbortSignal;
}

/**
 * The counters to persist: the next message to write and the next to read.
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteNn, clientStartNn, DummyRing, NoiseClient, NoiseServer, serverAcceptNn,
 * } from "@pubky/noise";
 * import { MemoryStorage, StorageBackedMessaging, type MessagingCounters } from "@pubky/noise/storage";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const c = await clientStartNn(client);
 * const s = await serverAcceptNn(new NoiseServer("kid", "server-device-0001", ring), c.firstMsg);
 * const link = await clientCompleteNn(client, c.hs, s.response);
 * const outbox = new MemoryStorage();
 * const peer = new MemoryStorage();
 * const alice = new StorageBackedMessaging(link, outbox, peer, "/pub/a", "/pub/b");
 * await alice.sendMessage(new TextEncoder().encode("one"));
 * const saved: MessagingCounters = alice.counters; // persist after each send and receive
 * // After a restart, with the link restored (e.g. from a ResumableSession snapshot):
 * const again = new StorageBackedMessaging(link, outbox, peer, "/pub/a", "/pub/b")
 *   .withCounters(saved.write, saved.read);
 * console.log(saved, await again.sendMessage(new TextEncoder().encode("two"))); // { write: 1, read: 0 } 1
 * ```
 */
export interface MessagingCounters {
  /** Counter of the next message this side writes. */
  write: number;
  /** Counter of the next message this side reads. */
  read: number;
}

/**
 * The crate's `MessageQueue` trait.
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteNn, clientStartNn, DummyRing, NoiseClient, NoiseServer, serverAcceptNn,
 *   serverCompleteNn,
 * } from "@pubky/noise";
 * import { MemoryStorage, type MessageQueue, StorageBackedMessaging } from "@pubky/noise/storage";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const c = await clientStartNn(client);
 * const s = await serverAcceptNn(new NoiseServer("kid", "server-device-0001", ring), c.firstMsg);
 * const aliceLink = await clientCompleteNn(client, c.hs, s.response);
 * const bobLink = serverCompleteNn(s.hs);
 * const aliceStore = new MemoryStorage();
 * const bobStore = new MemoryStorage();
 * const alice: MessageQueue = new StorageBackedMessaging(aliceLink, aliceStore, bobStore, "/pub/a", "/pub/b");
 * const bob: MessageQueue = new StorageBackedMessaging(bobLink, bobStore, aliceStore, "/pub/b", "/pub/a");
 * await alice.enqueue(new TextEncoder().encode("queued"));
 * console.log(new TextDecoder().decode((await bob.dequeue())!), await bob.dequeue()); // queued null
 * ```
 */
export interface MessageQueue {
  /** Sends one message (`sendMessage`). */
  enqueue(data: Uint8Array): Promise<void>;
  /** The next message, or `null` if none is there yet (`receiveMessages(1)`). */
  dequeue(): Promise<Uint8Array | null>;
}

interface Pending {
  counter: number;
  ciphertext: Uint8Array;
}

/** Default number of messages one `receiveMessages` call reads (the crate's). */
export const DEFAULT_RECEIVE_LIMIT = 10;

function checkStorage(outbox: OutboxStorage, reader: PublicStorageReader): void {
  if (outbox === null || typeof outbox !== "object" || typeof outbox.put !== "function") {
    throw new StorageError("outbox must be an OutboxStorage (with put)", 400);
  }
  if (reader === null || typeof reader !== "object" || typeof reader.get !== "function") {
    throw new StorageError("reader must be a PublicStorageReader (with get)", 400);
  }
}

/**
 * Encrypted messaging through storage, with the outbox pattern of the crate.
 *
 * **One writer per direction.** The messaging owns its {@linkcode NoiseLink} exclusively (it
 * sets the link's nonces to the counters before every encryption and decryption). Each session
 * must have exactly one `StorageBackedMessaging` per side: two writers of the same outbox would
 * encrypt different messages under the same nonce.
 *
 * **Sending.** {@linkcode sendMessage} encrypts message `N = writeCounter` at nonce `N` and
 * writes it, with retries; only a successful write advances the counter. If every attempt
 * fails, the message stays *pending*: send the same plaintext again (or call
 * {@linkcode retryPending}) to write the very same ciphertext; a different message is refused
 * until then.
 *
 * **Receiving.** {@linkcode receiveMessages} reads `msg_N` from the read counter on, decrypting
 * each at nonce `N`; a missing object ends the poll (no error); a message that does not decrypt
 * gives `Decryption` (10000) and the counter stays. Messages already decrypted in the same call
 * are returned first; the error comes again on the next call.
 *
 * **Restarts.** Persist {@linkcode counters} and restore them with {@linkcode withCounters}.
 * Sender: keep each message until a send has succeeded *and* the new counter is saved; after a
 * restart, send the unconfirmed messages again, in order. A message whose write succeeded but
 * whose counter was not saved is then written again — same nonce, same plaintext, so the same
 * bytes: no duplicate. (With `outbox.get`, the first write after a restart first reads the object
 * back and refuses to replace a *different* message, which would reuse a nonce.) Receiver:
 * store the returned messages and the new `readCounter` together (atomically); after a crash
 * before that, the same messages are read again from the saved counter.
 *
 * @example
 * ```ts
 * import { clientCompleteNn, clientStartNn, DummyRing, NoiseClient, NoiseServer, serverAcceptNn, serverCompleteNn } from "@pubky/noise";
 * import { MemoryStorage, StorageBackedMessaging } from "@pubky/noise/storage";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const c = await clientStartNn(new NoiseClient("kid", "client-device-0001", ring));
 * const s = await serverAcceptNn(new NoiseServer("kid", "server-device-0001", ring), c.firstMsg);
 * const aliceLink = await clientCompleteNn(new NoiseClient("kid", "client-device-0001", ring), c.hs, s.response);
 * const bobLink = serverCompleteNn(s.hs);
 *
 * const aliceStore = new MemoryStorage();
 * const bobStore = new MemoryStorage();
 * const alice = new StorageBackedMessaging(aliceLink, aliceStore, bobStore, "/pub/chat/out", "/pub/chat/out");
 * const bob = new StorageBackedMessaging(bobLink, bobStore, aliceStore, "/pub/chat/out", "/pub/chat/out");
 * await alice.sendMessage(new TextEncoder().encode("hello"));
 * const [hello] = await bob.receiveMessages();
 * console.log(new TextDecoder().decode(hello), alice.counters, bob.counters);
 * // hello { write: 1, read: 0 } { write: 0, read: 1 }
 * ```
 */
export class StorageBackedMessaging implements MessageQueue {
  readonly #link: NoiseLink;
  readonly #outbox: OutboxStorage;
  readonly #reader: PublicStorageReader;
  readonly #writePath: string;
  readonly #readPath: string;
  readonly #random: () => number;
  readonly #verifyFirstWrite: boolean;
  #retry: RetryConfig;
  #write = 0;
  #read = 0;
  #pending: Pending | null = null;
  /** Whether the object at the write counter is known not to hold another message. */
  #writeChecked = false;
  #busy = 0;
  readonly #locks: { send: Promise<void>; receive: Promise<void> } = {
    send: Promise.resolve(),
    receive: Promise.resolve(),
  };

  /**
   * Messaging over `link`: writes go to `writePath` in `outbox`, reads come from `readPath`
   * through `reader`. `writePath` is a path of the own storage; `readPath` a path or
   * `pubky://<peer>/...`. Both are validated as the crate does (`NoiseError` Storage, 9000) and
   * trailing slashes are removed. Counters start at 0.
   */
  constructor(
    link: NoiseLink,
    outbox: OutboxStorage,
    reader: PublicStorageReader,
    writePath: string,
    readPath: string,
    options: StorageMessagingOptions = {},
  ) {
    if (!(link instanceof NoiseLink)) throw new StorageError("link must be a NoiseLink", 400);
    checkStorage(outbox, reader);
    validatePath(writePath);
    this.#writePath = normalizeBasePath(writePath);
    this.#readPath = normalizeBaseLocation(readPath);
    this.#retry = resolveRetryConfig(options.retry);
    this.#random = options.random ?? Math.random;
    this.#verifyFirstWrite = options.verifyFirstWrite ?? true;
    this.#link = link;
    this.#outbox = outbox;
    this.#reader = reader;
  }

  /**
   * Sets the counters (from persisted state); forgets a pending message. Refused (Storage)
   * while an operation runs or for a counter that is not a non-negative safe integer.
   */
  withCounters(write: number, read: number): this {
    checkCounter(write, "write counter");
    checkCounter(read, "read counter");
    if (this.#busy > 0) {
      throw new StorageError("cannot set counters while an operation is running", 409);
    }
    this.#write = write;
    this.#read = read;
    this.#pending = null;
    this.#writeChecked = false;
    return this;
  }

  /** Replaces the retry behaviour (unset fields: defaults). */
  withRetryConfig(config: Partial<RetryConfig>): this {
    this.#retry = resolveRetryConfig(config);
    return this;
  }

  /** The retry behaviour in force. */
  get retryConfig(): RetryConfig {
    return { ...this.#retry };
  }

  /** The own base path messages are written under. */
  get writePath(): string {
    return this.#writePath;
  }

  /** The peer's base location messages are read from. */
  get readPath(): string {
    return this.#readPath;
  }

  /** Counter of the next message to write (persist it). */
  get writeCounter(): number {
    return this.#write;
  }

  /** Counter of the next message to read (persist it). */
  get readCounter(): number {
    return this.#read;
  }

  /** Both counters, to persist. */
  get counters(): MessagingCounters {
    return { write: this.#write, read: this.#read };
  }

  /** Counter of the message whose write failed and is kept for a retry, or `null`. */
  get pendingCounter(): number | null {
    return this.#pending?.counter ?? null;
  }

  async #serial<T>(lock: "send" | "receive", fn: () => Promise<T>): Promise<T> {
    const previous = this.#locks[lock];
    let release!: () => void;
    this.#locks[lock] = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#busy++;
    try {
      await previous;
      return await fn();
    } finally {
      this.#busy--;
      release();
    }
  }

  #encryptAt(counter: number, plaintext: Uint8Array): Uint8Array {
    const transport = this.#link.transport;
    transport.setNonces(BigInt(counter), transport.receiveNonce);
    return this.#link.encrypt(plaintext);
  }

  #decryptAt(counter: number, ciphertext: Uint8Array): Uint8Array {
    const transport = this.#link.transport;
    transport.setNonces(transport.sendNonce, BigInt(counter));
    return this.#link.decrypt(ciphertext);
  }

  /**
   * Encrypts `plaintext` as message `writeCounter` (nonce = counter) and writes it with
   * retries; resolves the counter it was stored under. On failure the counter stays and the
   * message is pending: sending the same plaintext again retries the same ciphertext; a
   * different plaintext is refused (Storage) while a message is pending. Errors: Storage
   * (9000), Network (8000), Timeout (8001); `Snow` (3000) for a plaintext over 65519 bytes.
   */
  sendMessage(plaintext: Uint8Array, options: StorageOperationOptions = {}): Promise<number> {
    return this.#serial("send", async () => {
      const counter = this.#write;
      const ciphertext = this.#encryptAt(counter, plaintext);
      if (this.#pending !== null) {
        if (!equalBytes(this.#pending.ciphertext, ciphertext)) {
          throw new StorageError(
            `message ${counter} is still pending (its write failed): send the same message ` +
              "again or call retryPending() before sending another one",
            409,
          );
        }
      } else {
        this.#pending = { counter, ciphertext };
      }
      return await this.#flush(options);
    });
  }

  /**
   * Writes the pending message again (same bytes, same path); resolves its counter, or `null`
   * if nothing is pending.
   */
  retryPending(options: StorageOperationOptions = {}): Promise<number | null> {
    return this.#serial("send", async () => {
      if (this.#pending === null) return null;
      return await this.#flush(options);
    });
  }

  async #flush(options: StorageOperationOptions): Promise<number> {
    const { counter, ciphertext } = this.#pending!;
    const path = messagePath(this.#writePath, counter);
    const run = { signal: options.signal, random: this.#random };
    const outbox = this.#outbox;
    if (!this.#writeChecked && this.#verifyFirstWrite && typeof outbox.get === "function") {
      const existing = await withRetry(
        (signal) => outbox.get!(path, signal),
        this.#retry,
        `GET ${path}`,
        run,
      );
      if (existing !== null) {
        if (!(existing instanceof Uint8Array) || !equalBytes(existing, ciphertext)) {
          this.#pending = null;
          throw new StorageError(
            `${path} already holds a different message: refusing to reuse nonce ${counter} ` +
              "(was another message sent at this counter before a restart?). Nothing was " +
              `written; to move on, continue at withCounters(${counter + 1}, …)`,
            409,
          );
        }
        // Written before (e.g. before a crash that lost the counter): nothing to do.
        return this.#written(counter);
      }
      this.#writeChecked = true;
    }
    await withRetry(
      (signal) => outbox.put(path, ciphertext, signal),
      this.#retry,
      `PUT ${path}`,
      run,
    );
    return this.#written(counter);
  }

  #written(counter: number): number {
    this.#pending = null;
    this.#write = counter + 1;
    this.#writeChecked = true;
    return counter;
  }

  /**
   * Reads and decrypts up to `max` messages (default 10) from the read counter on, in order.
   * Stops at the first missing object (`[]` if there is none). Errors (only when no message was
   * read in this call): Decryption (10000) for a message that does not authenticate, Storage,
   * Network, Timeout after retries. The read counter advances past each returned message only.
   */
  receiveMessages(
    max: number = DEFAULT_RECEIVE_LIMIT,
    options: StorageOperationOptions = {},
  ): Promise<Uint8Array[]> {
    return this.#serial("receive", async () => {
      if (!Number.isSafeInteger(max) || max < 1) {
        throw new StorageError(`max must be a positive integer, got ${String(max)}`, 400);
      }
      const out: Uint8Array[] = [];
      while (out.length < max) {
        const counter = this.#read;
        const location = messagePath(this.#readPath, counter);
        let ciphertext: Uint8Array | null;
        try {
          ciphertext = await withRetry(
            (signal) => this.#reader.get(location, signal),
            this.#retry,
            `GET ${location}`,
            { signal: options.signal, random: this.#random },
          );
        } catch (e) {
          if (out.length > 0) break;
          throw e;
        }
        if (ciphertext === null) break;
        if (!(ciphertext instanceof Uint8Array)) {
          if (out.length > 0) break;
          throw new StorageError(`GET ${location}: the reader returned no bytes`);
        }
        let plaintext: Uint8Array;
        try {
          plaintext = this.#decryptAt(counter, ciphertext);
        } catch (e) {
          if (out.length > 0) break;
          const why = e instanceof NoiseError ? e.message : String(e);
          throw new NoiseError(
            NoiseErrorCode.Decryption,
            `Failed to decrypt message ${counter} at ${location}: ${why}`,
          );
        }
        out.push(plaintext);
        this.#read = counter + 1;
      }
      return out;
    });
  }

  /**
   * 1 if the next message to read is there, else 0 (the crate's `peek_message_count`); reads
   * with retries, and throws what is left after them (the crate returned 0 for most errors).
   */
  peekMessageCount(options: StorageOperationOptions = {}): Promise<number> {
    return this.#serial("receive", async () => {
      const location = messagePath(this.#readPath, this.#read);
      const found = await withRetry(
        (signal) => this.#reader.get(location, signal),
        this.#retry,
        `GET ${location}`,
        { signal: options.signal, random: this.#random },
      );
      return found === null ? 0 : 1;
    });
  }

  /** `MessageQueue.enqueue`: {@linkcode sendMessage}. */
  async enqueue(data: Uint8Array): Promise<void> {
    await this.sendMessage(data);
  }

  /** `MessageQueue.dequeue`: the next message or `null`. */
  async dequeue(): Promise<Uint8Array | null> {
    const [first] = await this.receiveMessages(1);
    return first ?? null;
  }

  /** Redacted. */
  toString(): string {
    return `StorageBackedMessaging { write: ${this.#writePath} #${this.#write}, read: ${this.#readPath} #${this.#read} }`;
  }
  /** Redacted (no keys). */
  toJSON(): { writePath: string; readPath: string; writeCounter: number; readCounter: number } {
    return {
      writePath: this.#writePath,
      readPath: this.#readPath,
      writeCounter: this.#write,
      readCounter: this.#read,
    };
  }
}
