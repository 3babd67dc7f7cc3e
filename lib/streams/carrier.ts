/**
 * The carrier: what the streams layer runs over. A {@linkcode MessageCarrier} is a
 * `{ readable, writable }` pair in which every chunk is one whole message (one
 * Noise message): a WebSocket, a framed TCP socket ({@linkcode framed}), a
 * `postMessage` channel, or an in-memory pair ({@linkcode memoryCarrierPair}) for
 * tests and examples.
 *
 * A byte-stream carrier (a TCP socket's `{ readable, writable }`, a fetch body)
 * has the same shape but no message boundaries: pass it through
 * {@linkcode framed} first.
 *
 * @example
 * ```ts
 * import { memoryCarrierPair } from "@pubky/noise/streams";
 * const [a, b] = memoryCarrierPair();
 * const writer = a.writable.getWriter();
 * const reader = b.readable.getReader();
 * const [, { value }] = await Promise.all([writer.write(new Uint8Array([1, 2])), reader.read()]);
 * console.log(value); // Uint8Array(2) [1, 2]
 * ```
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";

/**
 * A duplex pair of WHATWG streams in which each chunk is one message. The same
 * shape with arbitrary chunk boundaries is a byte-stream carrier (see
 * {@linkcode framed}).
 *
 * @example
 * ```ts
 * import type { MessageCarrier } from "@pubky/noise/streams";
 * // A `postMessage` port as a carrier: each message is one chunk already.
 * function portCarrier(port: MessagePort): MessageCarrier {
 *   return {
 *     readable: new ReadableStream({
 *       start: (c) => void (port.onmessage = (e) => c.enqueue(new Uint8Array(e.data))),
 *     }),
 *     writable: new WritableStream({ write: (chunk) => port.postMessage(chunk) }),
 *   };
 * }
 * const { port1, port2 } = new MessageChannel();
 * const [a, b] = [portCarrier(port1), portCarrier(port2)];
 * await a.writable.getWriter().write(new Uint8Array([1, 2, 3]));
 * console.log((await b.readable.getReader().read()).value); // Uint8Array(3) [ 1, 2, 3 ]
 * port1.close();
 * port2.close();
 * ```
 */
export interface MessageCarrier {
  /** Incoming messages, one per chunk. */
  readable: ReadableStream<Uint8Array>;
  /** Outgoing messages, one per chunk. */
  writable: WritableStream<Uint8Array>;
}

/**
 * Options of {@linkcode memoryCarrierPair}.
 *
 * @example
 * ```ts
 * import { type MemoryCarrierOptions, memoryCarrierPair } from "@pubky/noise/streams";
 * const options: MemoryCarrierOptions = { highWaterMark: 0 }; // every write waits for its read
 * const [a, b] = memoryCarrierPair(options);
 * let delivered = false;
 * const write = a.writable.getWriter().write(new Uint8Array([1])).then(() => (delivered = true));
 * await new Promise((resolve) => setTimeout(resolve, 10));
 * console.log(delivered); // false: nobody has read it yet
 * await b.readable.getReader().read();
 * await write;
 * console.log(delivered); // true
 * ```
 */
export interface MemoryCarrierOptions {
  /**
   * Messages each direction holds before a writer waits (default 1). With 0,
   * every write waits until the other side reads it.
   */
  highWaterMark?: number;
}

/**
 * Two in-memory carriers connected crosswise (two `TransformStream`s): what one
 * writes, the other reads, with backpressure. Closing a writable closes the
 * other side's readable; aborting it errors that readable with the same reason;
 * cancelling a readable errors the other side's writable.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseServer } from "@pubky/noise";
 * import { accept, connect, memoryCarrierPair } from "@pubky/noise/streams";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * const [clientSide, serverSide] = memoryCarrierPair(); // a loopback: for tests and demos
 * const [c, s] = await Promise.all([connect(clientSide, client, { pattern: "NN" }), accept(serverSide, server, { patterns: ["NN"] })]);
 * console.log(c.sessionId.equals(s.sessionId)); // true
 * await c.writable.close();
 * ```
 */
export function memoryCarrierPair(
  options: MemoryCarrierOptions = {},
): [MessageCarrier, MessageCarrier] {
  const hwm = options.highWaterMark ?? 1;
  if (!Number.isInteger(hwm) || hwm < 0) {
    throw new NoiseError(
      NoiseErrorCode.Other,
      `highWaterMark must be a non-negative integer, got ${hwm}`,
    );
  }
  // The writable side keeps its default of 1; the readable side holds `hwm`.
  const ab = new TransformStream<Uint8Array, Uint8Array>({}, undefined, { highWaterMark: hwm });
  const ba = new TransformStream<Uint8Array, Uint8Array>({}, undefined, { highWaterMark: hwm });
  return [
    { readable: ba.readable, writable: ab.writable },
    { readable: ab.readable, writable: ba.writable },
  ];
}

/** `e` itself if it is a `NoiseError`, otherwise a `NoiseError` of `code` with `detail`. */
export function asNoiseError(e: unknown, code: NoiseErrorCode, detail: string): NoiseError {
  return e instanceof NoiseError ? e : new NoiseError(code, detail);
}

/** Throws `NoiseError` Other unless both streams of `pair` are unlocked (a pipe onto a locked one would stall). */
export function expectUnlocked(
  pair: { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> },
  what: string,
): void {
  if (pair.readable.locked || pair.writable.locked) {
    throw new NoiseError(NoiseErrorCode.Other, `${what}: the carrier's streams are locked`);
  }
}

/** A no-op, to mark a promise's rejection as handled where it is reported elsewhere. */
export function ignore(): void {}
