/**
 * `ReconnectingSession`: a client session over the stream layer that reconnects
 * by itself when its connection drops, under a {@linkcode MobileConfig}.
 *
 * - It connects with IK to the pinned server key over a carrier from
 *   `carrierFactory` (a WebSocket, a framed TCP socket, …).
 * - A drop — the carrier ends or errors, a write fails — sets the status to
 *   `Reconnecting` and starts new attempts, each a fresh carrier and a fresh IK
 *   handshake, after a delay of **exponential backoff with full jitter**: attempt
 *   `n` (from 1) waits `random() × min(maxDelayMs, reconnectDelayMs × 2^(n−1))`
 *   milliseconds (`maxDelayMs` 30 s by default). Success: `Connected`, with a new
 *   session id. After `maxReconnectAttempts` failures: `Error` for good. With
 *   `autoReconnect` off (or 0 attempts), a drop ends in `Disconnected`.
 * - **A reconnection is a new Noise session**: messages in flight when the old
 *   connection dropped may be lost (neither side can decrypt the other's old
 *   nonces any more). Build acknowledgements on top if you need delivery; use
 *   `ResumableSession` when the *connection* survives and the process does not.
 * - {@linkcode ReconnectingSession.send} writes one message as Noise messages of
 *   at most `chunkSize` plaintext bytes; it waits while reconnecting and fails
 *   with ConnectionReset (8002) if the connection drops under it or the session
 *   ends. {@linkcode ReconnectingSession.receive} gives the peer's messages (one
 *   per Noise message) across reconnections, and `null` once the session has
 *   ended (closed, `Disconnected` or `Error`) and everything was read.
 * - Only the first connection is not retried: {@linkcode ReconnectingSession.connect}
 *   rejects with its error.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseServer } from "@pubky/noise";
 * import { accept, memoryCarrierPair } from "@pubky/noise/streams";
 * import { ReconnectingSession } from "@pubky/noise/sessions";
 * const ring = await DummyRing.create(crypto.getRandomValues(new Uint8Array(32)), "kid");
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * const session = await ReconnectingSession.connect({
 *   client: new NoiseClient("kid", "client-device-0001", ring),
 *   serverStaticPub: await server.staticPublicKey(),
 *   carrierFactory: () => {
 *     const [mine, theirs] = memoryCarrierPair(); // a WebSocket in real life
 *     accept(theirs, server).then((ch) => ch.readable.pipeTo(ch.writable)).catch(() => {}); // echo
 *     return mine;
 *   },
 *   config: { reconnectDelayMs: 100 },
 * });
 * await session.send(new TextEncoder().encode("ping"));
 * console.log(new TextDecoder().decode((await session.receive())!), session.status); // ping Connected
 * await session.close();
 * ```
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";
import type { NoiseClient } from "../client.ts";
import type { SessionId } from "../session_id.ts";
import { asNoiseError, ignore, type MessageCarrier } from "../streams/carrier.ts";
import { connect, type SecureChannel } from "../streams/handshake.ts";
import { ConnectionStatus, type MobileConfig, mobileConfig } from "./config.ts";
import { SerialQueue } from "./serial_queue.ts";
import { copyBytes } from "../bytes.ts";

/** Default cap of one backoff delay, in milliseconds (the crate's docs: about 30 s). */
export const MAX_RECONNECT_DELAY_MS = 30_000;

/**
 * What {@linkcode ReconnectOptions.onStatusChange} is told.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseServer } from "@pubky/noise";
 * import { accept, memoryCarrierPair } from "@pubky/noise/streams";
 * import { ReconnectingSession, type StatusEvent } from "@pubky/noise/sessions";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * // One echo server per connection; a WebSocket or socket in real life.
 * const carrierFactory = () => {
 *   const [mine, theirs] = memoryCarrierPair();
 *   accept(theirs, server).then((ch) => ch.readable.pipeTo(ch.writable)).catch(() => {});
 *   return mine;
 * };
 * const onStatusChange = (status: string, event: StatusEvent) =>
 *   console.log(status, event.attempt, event.sessionId?.toString().slice(0, 8) ?? "", event.error?.codeName ?? "");
 * const session = await ReconnectingSession.connect({
 *   client, serverStaticPub: await server.staticPublicKey(), carrierFactory, onStatusChange,
 * });
 * await session.close(); // Connected 0 <id>, then Disconnected 0
 * ```
 */
export interface StatusEvent {
  /** Reconnection attempt (1-based) that led here; 0 for the first connection and for `close()`. */
  attempt: number;
  /** The session id once `Connected`, else `null`. */
  sessionId: SessionId | null;
  /** What dropped the connection (`Reconnecting`, `Disconnected`) or the last failure (`Error`). */
  error: NoiseError | null;
}

/**
 * Options of {@linkcode ReconnectingSession.connect}.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseServer } from "@pubky/noise";
 * import { accept, memoryCarrierPair } from "@pubky/noise/streams";
 * import { ReconnectingSession, type ReconnectOptions } from "@pubky/noise/sessions";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * // One echo server per connection; a WebSocket or socket in real life.
 * const carrierFactory = () => {
 *   const [mine, theirs] = memoryCarrierPair();
 *   accept(theirs, server).then((ch) => ch.readable.pipeTo(ch.writable)).catch(() => {});
 *   return mine;
 * };
 * const options: ReconnectOptions = {
 *   client,
 *   serverStaticPub: await server.staticPublicKey(), // pinned: every (re)connection is IK
 *   carrierFactory,
 *   config: { maxReconnectAttempts: 3, reconnectDelayMs: 250 },
 *   handshakeTimeoutMs: 5_000,
 *   maxDelayMs: 5_000,
 * };
 * const session = await ReconnectingSession.connect(options);
 * console.log(session.status, session.config.maxReconnectAttempts); // Connected 3
 * await session.close();
 * ```
 */
export interface ReconnectOptions {
  /** Our client. */
  client: NoiseClient;
  /** The server's pinned static key (32 bytes): every connection is IK to it. */
  serverStaticPub: Uint8Array;
  /** Makes a new carrier to the server (called once per connection attempt). */
  carrierFactory: () => MessageCarrier | Promise<MessageCarrier>;
  /** Reconnection and chunking settings (default {@linkcode defaultConfig}). */
  config?: Partial<MobileConfig>;
  /** The routing hint signed into our identity payload. */
  serverHint?: string;
  /** Limit of each handshake in milliseconds (default 30 000). */
  handshakeTimeoutMs?: number;
  /** Cap of one backoff delay (default 30 000 ms). */
  maxDelayMs?: number;
  /** Told of every status change, synchronously (exceptions are ignored). */
  onStatusChange?: (status: ConnectionStatus, event: StatusEvent) => void;
  /** Jitter source in [0, 1) (default `Math.random`). */
  random?: () => number;
  /** Waits `ms`, or rejects when `signal` aborts (default: a timer). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Received messages held while nobody calls `receive` (default 16); reading pauses beyond. */
  receiveBuffer?: number;
}

/**
 * The delay before reconnection attempt `attempt` (1-based): full jitter over an
 * exponential backoff, `floor(random() × min(maxDelayMs, baseMs × 2^(attempt−1)))`.
 *
 * @example
 * ```ts
 * import { backoffDelay } from "./reconnect.ts";
 * console.log([1, 2, 3, 4].map((n) => backoffDelay(n, 1000, 30000, () => 0.5))); // [500, 1000, 2000, 4000]
 * ```
 */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  maxDelayMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxDelayMs, baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 52));
  const r = random();
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
  return Math.floor(unit * ceiling);
}

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function resetError(detail: string): NoiseError {
  return new NoiseError(NoiseErrorCode.ConnectionReset, detail);
}

/**
 * A client session that reconnects by itself: see the module documentation.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseServer } from "@pubky/noise";
 * import { accept, memoryCarrierPair } from "@pubky/noise/streams";
 * import { ReconnectingSession } from "@pubky/noise/sessions";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * const drops: (() => void)[] = [];
 * const back = Promise.withResolvers<void>();
 * const session = await ReconnectingSession.connect({
 *   client: new NoiseClient("kid", "client-device-0001", ring),
 *   serverStaticPub: await server.staticPublicKey(),
 *   carrierFactory: () => {
 *     const [mine, theirs] = memoryCarrierPair(); // a WebSocket in real life
 *     accept(theirs, server).then((ch) => ch.readable.pipeTo(ch.writable)).catch(() => {}); // echo
 *     const cut = new TransformStream<Uint8Array, Uint8Array>({
 *       start: (c) => void drops.push(() => c.error(new Error("network changed"))),
 *     });
 *     return { readable: mine.readable.pipeThrough(cut), writable: mine.writable };
 *   },
 *   config: { reconnectDelayMs: 10 },
 *   onStatusChange: (status, event) => {
 *     console.log(status); // Connected, Reconnecting, Connected, Disconnected
 *     if (status === "Connected" && event.attempt > 0) back.resolve();
 *   },
 * });
 * const first = session.sessionId!;
 * drops[0](); // the connection drops
 * await back.promise;
 * await session.send(new TextEncoder().encode("still there?"));
 * console.log(new TextDecoder().decode((await session.receive())!), session.reconnectCount); // still there? 1
 * console.log(session.sessionId?.equals(first)); // false: a new Noise session
 * await session.close();
 * ```
 */
export class ReconnectingSession {
  readonly #client: NoiseClient;
  readonly #serverStaticPub: Uint8Array;
  readonly #factory: () => MessageCarrier | Promise<MessageCarrier>;
  readonly #config: MobileConfig;
  readonly #hint: string | undefined;
  readonly #timeoutMs: number | undefined;
  readonly #maxDelayMs: number;
  readonly #onStatus: ((status: ConnectionStatus, event: StatusEvent) => void) | undefined;
  readonly #random: () => number;
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly #bufferMax: number;
  readonly #stop = new AbortController();
  readonly #sends = new SerialQueue();

  #status: ConnectionStatus = ConnectionStatus.Disconnected;
  #channel: SecureChannel | null = null;
  #writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  #reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  #connection = 0;
  #reconnects = 0;
  #closed = false;
  #lastError: NoiseError | null = null;
  #queue: Uint8Array[] = [];
  #wakers: (() => void)[] = [];
  #loop: Promise<void> | null = null;

  private constructor(options: ReconnectOptions) {
    if (options === null || typeof options !== "object") {
      throw new NoiseError(NoiseErrorCode.Other, "options missing");
    }
    if (typeof options.carrierFactory !== "function") {
      throw new NoiseError(NoiseErrorCode.Other, "carrierFactory must be a function");
    }
    const pinned = options.serverStaticPub;
    if (!(pinned instanceof Uint8Array) || pinned.length !== 32) {
      throw new NoiseError(
        NoiseErrorCode.InvalidPeerKey,
        "IK needs the server's 32-byte static key",
      );
    }
    if (!options.client) throw new NoiseError(NoiseErrorCode.Other, "a client is required");
    const maxDelayMs = options.maxDelayMs ?? MAX_RECONNECT_DELAY_MS;
    if (!(maxDelayMs >= 0)) throw new NoiseError(NoiseErrorCode.Other, "maxDelayMs must be ≥ 0");
    const buffer = options.receiveBuffer ?? 16;
    if (!Number.isSafeInteger(buffer) || buffer < 1) {
      throw new NoiseError(NoiseErrorCode.Other, "receiveBuffer must be a positive integer");
    }
    this.#client = options.client;
    this.#serverStaticPub = copyBytes(pinned);
    this.#factory = options.carrierFactory;
    this.#config = mobileConfig(options.config);
    this.#hint = options.serverHint;
    this.#timeoutMs = options.handshakeTimeoutMs;
    this.#maxDelayMs = maxDelayMs;
    this.#onStatus = options.onStatusChange;
    this.#random = options.random ?? Math.random;
    this.#sleep = options.sleep ?? defaultSleep;
    this.#bufferMax = buffer;
  }

  /** Connects (one attempt: rejects with its `NoiseError`) and returns the session. */
  static async connect(options: ReconnectOptions): Promise<ReconnectingSession> {
    const session = new ReconnectingSession(options);
    const channel = await session.#handshake();
    session.#install(channel, 0);
    return session;
  }

  /** The status: `Connected`, `Reconnecting`, `Disconnected` or `Error`. */
  get status(): ConnectionStatus {
    return this.#status;
  }

  /** The current session id (changes at each reconnection); `null` when not connected. */
  get sessionId(): SessionId | null {
    return this.#channel?.sessionId ?? null;
  }

  /** Successful reconnections so far. */
  get reconnectCount(): number {
    return this.#reconnects;
  }

  /** What dropped the last connection, or the last reconnection failure. */
  get lastError(): NoiseError | null {
    return this.#lastError;
  }

  /** The config in use. */
  get config(): MobileConfig {
    return { ...this.#config };
  }

  #notify(): void {
    const wakers = this.#wakers;
    this.#wakers = [];
    for (const wake of wakers) wake();
  }

  #changed(): Promise<void> {
    return new Promise((resolve) => this.#wakers.push(resolve));
  }

  #setStatus(status: ConnectionStatus, event: StatusEvent): void {
    this.#status = status;
    try {
      this.#onStatus?.(status, event);
    } catch {
      // a listener's failure is its own
    }
    this.#notify();
  }

  async #handshake(): Promise<SecureChannel> {
    const carrier = await this.#factory();
    return await connect(carrier, this.#client, {
      pattern: "IK",
      serverStaticPub: this.#serverStaticPub,
      serverHint: this.#hint,
      timeoutMs: this.#timeoutMs,
      signal: this.#stop.signal,
    });
  }

  #install(channel: SecureChannel, attempt: number): void {
    const connection = ++this.#connection;
    this.#channel = channel;
    this.#writer = channel.writable.getWriter();
    const reader = channel.readable.getReader();
    this.#reader = reader;
    this.#setStatus(ConnectionStatus.Connected, {
      attempt,
      sessionId: channel.sessionId,
      error: null,
    });
    this.#pump(connection, reader).catch(ignore);
  }

  async #pump(
    connection: number,
    reader: ReadableStreamDefaultReader<Uint8Array>,
  ): Promise<void> {
    for (;;) {
      while (this.#queue.length >= this.#bufferMax && connection === this.#connection) {
        await this.#changed();
      }
      if (connection !== this.#connection) return;
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (e) {
        this.#drop(connection, asNoiseError(e, NoiseErrorCode.Network, "connection failed"));
        return;
      }
      if (connection !== this.#connection) return;
      if (result.done) {
        this.#drop(connection, resetError("the server closed the connection"));
        return;
      }
      this.#queue.push(result.value);
      this.#notify();
    }
  }

  /** Tears down connection `connection` (if still current) and reconnects or ends. */
  #drop(connection: number, error: NoiseError): void {
    if (connection !== this.#connection || this.#closed) return;
    this.#connection++;
    this.#teardown(error);
    this.#lastError = error;
    const config = this.#config;
    if (!config.autoReconnect || config.maxReconnectAttempts === 0) {
      this.#setStatus(ConnectionStatus.Disconnected, { attempt: 0, sessionId: null, error });
      return;
    }
    this.#setStatus(ConnectionStatus.Reconnecting, { attempt: 0, sessionId: null, error });
    this.#loop = this.#reconnect();
  }

  #teardown(reason: NoiseError): void {
    this.#writer?.abort(reason).catch(ignore);
    this.#reader?.cancel(reason).catch(ignore);
    this.#writer = null;
    this.#reader = null;
    this.#channel = null;
  }

  async #reconnect(): Promise<void> {
    const { maxReconnectAttempts, reconnectDelayMs } = this.#config;
    let last: NoiseError | null = this.#lastError;
    for (let attempt = 1; attempt <= maxReconnectAttempts; attempt++) {
      const delay = backoffDelay(attempt, reconnectDelayMs, this.#maxDelayMs, this.#random);
      try {
        await this.#sleep(delay, this.#stop.signal);
      } catch {
        return; // closed
      }
      if (this.#closed) return;
      try {
        const channel = await this.#handshake();
        if (this.#closed) {
          channel.writable.abort(resetError("session closed")).catch(ignore);
          channel.readable.cancel(resetError("session closed")).catch(ignore);
          return;
        }
        this.#reconnects++;
        this.#install(channel, attempt);
        return;
      } catch (e) {
        if (this.#closed) return;
        last = asNoiseError(e, NoiseErrorCode.Network, "reconnection failed");
      }
    }
    this.#lastError = last;
    this.#setStatus(ConnectionStatus.Error, {
      attempt: maxReconnectAttempts,
      sessionId: null,
      error: last,
    });
  }

  async #connected(): Promise<WritableStreamDefaultWriter<Uint8Array>> {
    for (;;) {
      if (this.#closed) throw resetError("session closed");
      if (this.#status === ConnectionStatus.Connected && this.#writer) return this.#writer;
      if (this.#status !== ConnectionStatus.Reconnecting) {
        throw resetError(`session is ${this.#status}`);
      }
      await this.#changed();
    }
  }

  /**
   * Sends `data` as one or more Noise messages of at most `chunkSize` bytes (an
   * empty message sends nothing). Waits while reconnecting; ConnectionReset
   * (8002) if the session has ended or the connection drops during the send
   * (part of the data may then be lost).
   */
  send(data: Uint8Array): Promise<void> {
    if (!(data instanceof Uint8Array)) {
      return Promise.reject(new NoiseError(NoiseErrorCode.Other, "data must be a Uint8Array"));
    }
    return this.#sends.run(async () => {
      const writer = await this.#connected();
      const connection = this.#connection;
      const size = this.#config.chunkSize;
      try {
        for (let off = 0; off < data.length; off += size) {
          await writer.write(copyBytes(data, off, off + size));
        }
      } catch (e) {
        const error = asNoiseError(e, NoiseErrorCode.ConnectionReset, "connection dropped");
        this.#drop(connection, error);
        throw resetError("the connection dropped during the send");
      }
    });
  }

  /**
   * The next message from the server (across reconnections), or `null` once the
   * session has ended and every received message was read.
   */
  async receive(): Promise<Uint8Array | null> {
    for (;;) {
      const next = this.#queue.shift();
      if (next !== undefined) {
        this.#notify();
        return next;
      }
      if (this.#closed || this.#status === "Disconnected" || this.#status === "Error") return null;
      await this.#changed();
    }
  }

  /** Closes the session: no more reconnection; status `Disconnected`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#connection++;
    this.#stop.abort(resetError("session closed"));
    const writer = this.#writer;
    this.#writer = null;
    this.#reader?.cancel(resetError("session closed")).catch(ignore);
    this.#reader = null;
    this.#channel = null;
    this.#setStatus(ConnectionStatus.Disconnected, { attempt: 0, sessionId: null, error: null });
    await writer?.close().catch(ignore);
    await this.#loop?.catch(ignore);
  }

  /** Redacted. */
  toString(): string {
    return `ReconnectingSession(${this.#status}, ${this.sessionId ?? "no session"})`;
  }
}
