/**
 * Messages of any size over a secure channel, with authenticated boundaries.
 *
 * Each application message travels as a sequence of Noise transport messages
 * whose plaintext is one flag byte followed by up to 65518 bytes of data:
 *
 * ```text
 * 0x00 ‖ data   the message continues in the next Noise message
 * 0x01 ‖ data   last chunk of this message (an empty message is just 0x01)
 * ```
 *
 * The flag is inside the AEAD and Noise nonces are in order, so a peer or a
 * network cannot cut, splice or reorder messages unnoticed: a stream that ends
 * after a `0x00` chunk errors with `NoiseError` ConnectionReset (8002) `stream
 * ended inside a message`; any other flag byte (or an empty Noise plaintext) is a
 * protocol violation, `NoiseError` Other (99999) `bad message flag` (there is no
 * closer code: it is neither a decryption failure — the AEAD passed — nor a
 * policy limit), after which the channel is cancelled.
 *
 * - {@linkcode messageWriter}: `send(Uint8Array | ReadableStream)`; a stream body is
 *   sent as it is read, never buffered whole, with backpressure.
 * - {@linkcode messageReader}: `next()` gives each message's body as a
 *   `ReadableStream` that pulls from the channel only when read (memory bounded
 *   by the chunk size, not the message size), or `null` at a clean end of the
 *   channel (between messages). The next message is read only once the previous
 *   body has been read to its end or cancelled — cancelling a body discards the
 *   rest of that message — so **a `next()` that follows an unread body waits for
 *   it**. `readAll(maxBytes)` buffers one message up to a cap (Policy 6000 above
 *   it, after which the rest of that message is discarded and the next one can be
 *   read).
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseServer } from "@pubky/noise";
 * import { accept, connect, memoryCarrierPair, messageReader, messageWriter } from "@pubky/noise/streams";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(5), "kid");
 * const [a, b] = memoryCarrierPair();
 * const [c, s] = await Promise.all([
 *   connect(a, new NoiseClient("kid", "client-device-0001", ring), { pattern: "XX" }),
 *   accept(b, new NoiseServer("kid", "server-device-0001", ring)),
 * ]);
 * const writer = messageWriter(c);
 * const reader = messageReader(s);
 * const sent = writer.send(new Uint8Array(200_000)).then(() => writer.close());
 * console.log((await reader.readAll(1 << 20))?.length); // 200000
 * console.log(await reader.next()); // null: the client closed
 * await sent;
 * ```
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";
import { asNoiseError, ignore } from "./carrier.ts";
import { MAX_CHUNK_PLAINTEXT } from "./link_streams.ts";

/**
 * Data bytes in one Noise message of the message layer (65519 − 1 flag byte).
 *
 * @example
 * ```ts
 * import { MESSAGE_CHUNK_DATA } from "@pubky/noise/streams";
 * const size = 200_000;
 * console.log(MESSAGE_CHUNK_DATA, Math.ceil(size / MESSAGE_CHUNK_DATA)); // 65518 4 Noise messages
 * ```
 */
export const MESSAGE_CHUNK_DATA = MAX_CHUNK_PLAINTEXT - 1;
/**
 * Flag byte: the message continues in the next Noise message.
 *
 * @example
 * ```ts
 * import { FLAG_CONTINUES, FLAG_LAST, MESSAGE_CHUNK_DATA } from "@pubky/noise/streams";
 * // The plaintexts of one message of the message layer, for a peer that encrypts by hand.
 * function chunks(message: Uint8Array): Uint8Array[] {
 *   const out: Uint8Array[] = [];
 *   for (let off = 0; off === 0 || off < message.length; off += MESSAGE_CHUNK_DATA) {
 *     const data = message.subarray(off, off + MESSAGE_CHUNK_DATA);
 *     const last = off + MESSAGE_CHUNK_DATA >= message.length;
 *     out.push(Uint8Array.of(last ? FLAG_LAST : FLAG_CONTINUES, ...data));
 *   }
 *   return out;
 * }
 * console.log(chunks(new Uint8Array(70_000)).map((c) => [c[0], c.length])); // [ [ 0, 65519 ], [ 1, 4483 ] ]
 * ```
 */
export const FLAG_CONTINUES = 0x00;
/**
 * Flag byte: this Noise message ends the message.
 *
 * @example
 * ```ts
 * import { FLAG_LAST } from "@pubky/noise/streams";
 * const reply = Uint8Array.of(FLAG_LAST, ...new TextEncoder().encode("ok")); // a one-chunk message
 * console.log(reply); // Uint8Array(3) [ 1, 111, 107 ]: encrypt it with the link, send it
 * ```
 */
export const FLAG_LAST = 0x01;

function channelFailed(e: unknown): NoiseError {
  return asNoiseError(e, NoiseErrorCode.Network, "channel failed");
}

function lockedError(e: unknown): NoiseError {
  return asNoiseError(e, NoiseErrorCode.Other, "the channel's stream is locked");
}

/**
 * Sends messages on a channel's plaintext writable (it stays locked by the writer).
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseServer } from "@pubky/noise";
 * import { accept, connect, memoryCarrierPair, messageReader, MessageWriter } from "@pubky/noise/streams";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * const [a, b] = memoryCarrierPair();
 * const [c, s] = await Promise.all([connect(a, client, { pattern: "XX" }), accept(b, server)]);
 * const writer = new MessageWriter(c);
 * const file = new Blob([new Uint8Array(100_000)]).stream(); // sent as it is read
 * const sending = Promise.all([writer.send(new TextEncoder().encode("file:")), writer.send(file)]).then(() => writer.close());
 * const reader = messageReader(s);
 * console.log((await reader.readAll(64))!.length, (await reader.readAll(1 << 20))!.length); // 5 100000
 * await sending;
 * ```
 */
export class MessageWriter {
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #tail: Promise<unknown> = Promise.resolve();
  #failed: NoiseError | null = null;
  #last: Promise<void> = Promise.resolve();

  /** Locks `channel.writable` (a `SecureChannel`, or `linkStreams(link, carrier)`). */
  constructor(channel: { writable: WritableStream<Uint8Array> }) {
    try {
      this.#writer = channel.writable.getWriter();
    } catch (e) {
      throw lockedError(e);
    }
  }

  /**
   * Sends one message: bytes, or a stream of byte chunks read as it goes. Sends
   * are queued in call order; the promise resolves once the message is handed
   * to the channel. If a stream body fails after part of it was sent, the
   * channel is aborted (the peer sees a truncated message) and `send` rejects.
   */
  send(message: Uint8Array | ReadableStream<Uint8Array>): Promise<void> {
    const p = this.#tail.then(() => this.#send(message));
    this.#tail = p.catch(ignore);
    return p;
  }

  /** Waits for queued sends, then closes the channel's writable. */
  async close(): Promise<void> {
    await this.#tail;
    if (this.#failed) throw this.#failed;
    try {
      await this.#writer.close();
    } catch (e) {
      throw channelFailed(e);
    }
  }

  /** Aborts the channel's writable: queued and later sends fail. */
  async abort(reason?: unknown): Promise<void> {
    this.#failed ??= asNoiseError(reason, NoiseErrorCode.Other, "message writer aborted");
    await this.#writer.abort(reason).catch(ignore);
  }

  async #send(message: Uint8Array | ReadableStream<Uint8Array>): Promise<void> {
    if (this.#failed) throw this.#failed;
    if (message instanceof Uint8Array) return await this.#sendBytes(message);
    if (message instanceof ReadableStream) return await this.#sendStream(message);
    throw new NoiseError(NoiseErrorCode.Other, "a message must be a Uint8Array or ReadableStream");
  }

  async #put(chunk: Uint8Array): Promise<void> {
    try {
      await this.#writer.ready;
    } catch (e) {
      throw this.#fail(channelFailed(e));
    }
    const p = this.#writer.write(chunk);
    p.catch(ignore);
    this.#last = p;
  }

  async #flush(): Promise<void> {
    try {
      await this.#last;
    } catch (e) {
      throw this.#fail(channelFailed(e));
    }
  }

  #fail(e: NoiseError): NoiseError {
    this.#failed ??= e;
    return e;
  }

  async #sendBytes(message: Uint8Array): Promise<void> {
    let off = 0;
    do {
      const n = Math.min(MESSAGE_CHUNK_DATA, message.length - off);
      const chunk = new Uint8Array(1 + n);
      chunk[0] = off + n === message.length ? FLAG_LAST : FLAG_CONTINUES;
      chunk.set(message.subarray(off, off + n), 1);
      await this.#put(chunk);
      off += n;
    } while (off < message.length);
    await this.#flush();
  }

  async #sendStream(body: ReadableStream<Uint8Array>): Promise<void> {
    let reader: ReadableStreamDefaultReader<Uint8Array>;
    try {
      reader = body.getReader();
    } catch (e) {
      throw asNoiseError(e, NoiseErrorCode.Other, "the message body stream is locked");
    }
    let sent = 0; // Noise messages of this message already written
    let chunk = new Uint8Array(1 + MESSAGE_CHUNK_DATA);
    let fill = 0;
    for (;;) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
        if (!result.done && !(result.value instanceof Uint8Array)) {
          throw new NoiseError(NoiseErrorCode.Other, "message body chunks must be Uint8Array");
        }
      } catch (e) {
        const err = asNoiseError(e, NoiseErrorCode.Other, "the message body stream failed");
        reader.cancel(err).catch(ignore);
        if (sent > 0) {
          // The peer holds part of this message: only a cut channel tells it so.
          this.#fail(err);
          await this.#writer.abort(err).catch(ignore);
        }
        throw err;
      }
      if (result.done) break;
      const data = result.value;
      try {
        for (let off = 0; off < data.length;) {
          if (fill === MESSAGE_CHUNK_DATA) {
            // More data is in hand, so this full chunk is not the last one.
            chunk[0] = FLAG_CONTINUES;
            await this.#put(chunk);
            sent++;
            chunk = new Uint8Array(1 + MESSAGE_CHUNK_DATA);
            fill = 0;
          }
          const n = Math.min(MESSAGE_CHUNK_DATA - fill, data.length - off);
          chunk.set(data.subarray(off, off + n), 1 + fill);
          fill += n;
          off += n;
        }
      } catch (e) {
        reader.cancel(e).catch(ignore);
        throw e;
      }
    }
    chunk[0] = FLAG_LAST;
    await this.#put(fill === MESSAGE_CHUNK_DATA ? chunk : chunk.slice(0, 1 + fill));
    await this.#flush();
  }
}

/** One message being read: its body and a promise settled once the channel is past it. */
interface OpenMessage {
  body: ReadableStream<Uint8Array>;
  done: Promise<void>;
}

/**
 * Reads messages from a channel's plaintext readable (it stays locked by the reader).
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseServer } from "@pubky/noise";
 * import { accept, connect, memoryCarrierPair, MessageReader, messageWriter } from "@pubky/noise/streams";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * const [a, b] = memoryCarrierPair();
 * const [c, s] = await Promise.all([connect(a, client, { pattern: "XX" }), accept(b, server)]);
 * const writer = messageWriter(c);
 * const sending = writer.send(new Uint8Array(150_000)).then(() => writer.send(new Uint8Array(10))).then(() => writer.close());
 * for await (const body of new MessageReader(s)) { // each body streams, chunk by chunk
 *   let size = 0;
 *   for await (const chunk of body) size += chunk.length;
 *   console.log(size); // 150000, then 10
 * }
 * await sending;
 * ```
 */
export class MessageReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #turn: Promise<unknown> = Promise.resolve();
  #error: NoiseError | null = null;
  #ended = false;

  /** Locks `channel.readable` (a `SecureChannel`, or `linkStreams(link, carrier)`). */
  constructor(channel: { readable: ReadableStream<Uint8Array> }) {
    try {
      this.#reader = channel.readable.getReader();
    } catch (e) {
      throw lockedError(e);
    }
  }

  /**
   * The body of the next message, or `null` when the channel ended cleanly
   * between messages. Waits until the previous body has been read to its end or
   * cancelled. Rejects with the channel's `NoiseError` once it has failed.
   */
  next(): Promise<ReadableStream<Uint8Array> | null> {
    const opened = this.#turn.then(() => this.#open());
    this.#turn = opened.then((m) => m?.done, ignore);
    return opened.then((m) => m?.body ?? null);
  }

  /**
   * The next message in one `Uint8Array`, or `null` at a clean end. A message
   * longer than `maxBytes` rejects with `NoiseError` Policy (6000); the rest of it
   * is then discarded, and the next message can still be read.
   */
  async readAll(maxBytes: number): Promise<Uint8Array | null> {
    if (!Number.isInteger(maxBytes) || maxBytes < 0) {
      throw new NoiseError(
        NoiseErrorCode.Other,
        `maxBytes must be a non-negative integer, got ${maxBytes}`,
      );
    }
    const body = await this.next();
    if (body === null) return null;
    const reader = body.getReader();
    const parts: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > maxBytes) {
        await reader.cancel();
        throw new NoiseError(NoiseErrorCode.Policy, `message longer than ${maxBytes} bytes`);
      }
      parts.push(value);
    }
    if (parts.length === 1) return parts[0];
    const out = new Uint8Array(total);
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }

  /** Cancels the channel's readable; `next()` then gives `null`. */
  async cancel(reason?: unknown): Promise<void> {
    this.#ended = true;
    await this.#reader.cancel(reason).catch(ignore);
  }

  /** Each message's body in turn (read or cancel each one before the loop goes on). */
  async *[Symbol.asyncIterator](): AsyncGenerator<ReadableStream<Uint8Array>, void, undefined> {
    for (;;) {
      const body = await this.next();
      if (body === null) return;
      yield body;
    }
  }

  #fail(e: NoiseError): NoiseError {
    this.#error ??= e;
    return this.#error;
  }

  /** The next Noise plaintext of the channel, or `null` at its end. */
  async #readChunk(): Promise<Uint8Array | null> {
    if (this.#error) throw this.#error;
    let result: ReadableStreamReadResult<Uint8Array>;
    try {
      result = await this.#reader.read();
    } catch (e) {
      throw this.#fail(channelFailed(e));
    }
    if (result.done) return null;
    const chunk = result.value;
    if (!(chunk instanceof Uint8Array) || chunk.length === 0 || chunk[0] > FLAG_LAST) {
      const flag = chunk instanceof Uint8Array && chunk.length > 0
        ? `0x${chunk[0].toString(16).padStart(2, "0")}`
        : "missing";
      const err = this.#fail(new NoiseError(NoiseErrorCode.Other, `bad message flag (${flag})`));
      this.#reader.cancel(err).catch(ignore);
      throw err;
    }
    return chunk;
  }

  async #open(): Promise<OpenMessage | null> {
    if (this.#error) throw this.#error;
    if (this.#ended) return null;
    const first = await this.#readChunk();
    if (first === null) {
      this.#ended = true;
      return null;
    }
    return this.#message(first);
  }

  #message(first: Uint8Array): OpenMessage {
    let last = first[0] === FLAG_LAST;
    let pending: Uint8Array | null = first.subarray(1);
    let cancelled = false;
    let inFlight: Promise<void> = Promise.resolve();
    let finish: () => void = ignore;
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    /** The data of the next Noise message of this message. */
    const step = async (): Promise<Uint8Array> => {
      const chunk = await this.#readChunk();
      if (chunk === null) {
        throw this.#fail(
          new NoiseError(NoiseErrorCode.ConnectionReset, "stream ended inside a message"),
        );
      }
      last = chunk[0] === FLAG_LAST;
      return chunk.subarray(1);
    };
    const body = new ReadableStream<Uint8Array>({
      pull: (controller) => {
        inFlight = (async () => {
          try {
            let data = pending;
            pending = null;
            while ((data === null || data.length === 0) && !last) data = await step();
            if (cancelled) return;
            if (data !== null && data.length > 0) controller.enqueue(data);
            if (last) {
              controller.close();
              finish();
            }
          } catch (e) {
            if (!cancelled) controller.error(e);
            finish();
          }
        })();
        return inFlight;
      },
      cancel: () => {
        cancelled = true;
        pending = null;
        inFlight
          .then(async () => {
            while (!last && this.#error === null) await step();
          })
          .catch(ignore)
          .finally(finish);
      },
    }, { highWaterMark: 0 });
    return { body, done };
  }
}

/**
 * A {@linkcode MessageWriter} on `channel.writable`.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseServer } from "@pubky/noise";
 * import { accept, connect, memoryCarrierPair, messageReader, messageWriter } from "@pubky/noise/streams";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * const [a, b] = memoryCarrierPair();
 * const [c, s] = await Promise.all([connect(a, client, { pattern: "XX" }), accept(b, server)]);
 * const out = messageWriter(c);
 * const sending = out.send(new TextEncoder().encode("hello")).then(() => out.close());
 * console.log(new TextDecoder().decode((await messageReader(s).readAll(1024))!)); // hello
 * await sending;
 * ```
 */
export function messageWriter(channel: { writable: WritableStream<Uint8Array> }): MessageWriter {
  return new MessageWriter(channel);
}

/**
 * A {@linkcode MessageReader} on `channel.readable`.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseError, NoiseServer } from "@pubky/noise";
 * import { accept, connect, memoryCarrierPair, messageReader, messageWriter } from "@pubky/noise/streams";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * const [a, b] = memoryCarrierPair();
 * const [c, s] = await Promise.all([connect(a, client, { pattern: "XX" }), accept(b, server)]);
 * const out = messageWriter(c);
 * const sending = out.send(new Uint8Array(5000)).then(() => out.send(new Uint8Array(10))).then(() => out.close());
 * const reader = messageReader(s);
 * await reader.readAll(1024).catch((e: NoiseError) => console.log(e.codeName)); // Policy: over the cap
 * console.log((await reader.readAll(1024))?.length, await reader.readAll(1024)); // 10 null
 * await sending;
 * ```
 */
export function messageReader(channel: { readable: ReadableStream<Uint8Array> }): MessageReader {
  return new MessageReader(channel);
}
