/**
 * Node-only adapter: a `node:net` `Socket` (or any Node `Duplex` of bytes: a TLS
 * socket, a child process's pipes joined) as a WHATWG byte-stream pair, for
 * {@linkcode framed}. Works in Node, Bun and Deno's `node:net`. Runtimes with
 * WHATWG sockets (`Deno.connect`, workerd's `connect()`) need no adapter: pass
 * their `{ readable, writable }` to {@linkcode framed} directly.
 *
 * The socket is typed structurally (no `node:` import), so importing this module
 * is harmless elsewhere; it is only useful where Node sockets exist.
 *
 * - Readable: each `data` chunk (as a plain `Uint8Array` view); the socket is
 *   paused while more than `highWaterMark` bytes (default 64 KiB) wait unread and
 *   resumed when they are read. `end` closes it; an `error` errors it with
 *   `NoiseError` Network (8000), a close without `end` with ConnectionReset (8002). Cancelling destroys the
 *   socket.
 * - Writable: each write resolves once Node has handed the chunk to the kernel
 *   (the write callback), so backpressure follows the socket's buffer. Closing
 *   ends the socket (FIN) once the data is flushed; aborting destroys it.
 *
 * A socket made with `allowHalfOpen: false` (the default) ends its writing side
 * as soon as the peer ends its own; use `allowHalfOpen: true` to keep sending
 * after the peer has closed its direction.
 *
 * @example
 * ```ts ignore
 * import net from "node:net";
 * import { connect, framed, nodeSocketCarrier } from "@pubky/noise/streams";
 * const socket = net.connect(4433, "127.0.0.1");
 * await new Promise((resolve) => socket.once("connect", resolve));
 * const channel = await connect(framed(nodeSocketCarrier(socket)), client, { pattern: "XX" });
 * ```
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";

/**
 * The part of a Node `net.Socket` (a `Duplex`) this adapter uses.
 *
 * @example
 * ```ts
 * import { PassThrough } from "node:stream";
 * import { framed, nodeSocketCarrier, type NodeSocketLike } from "@pubky/noise/streams";
 * const loopback: NodeSocketLike = new PassThrough(); // any Node Duplex of bytes fits
 * const { readable, writable } = framed(nodeSocketCarrier(loopback));
 * const reader = readable.getReader();
 * await writable.getWriter().write(new TextEncoder().encode("hi"));
 * console.log(new TextDecoder().decode((await reader.read()).value)); // hi
 * loopback.destroy();
 * ```
 */
export interface NodeSocketLike {
  /** Queues `chunk`; `callback` runs once it is flushed (or with the error). */
  write(chunk: Uint8Array, callback: (error?: Error | null) => void): boolean;
  /** Ends the writing side (FIN) once queued data is flushed. */
  end(callback?: () => void): unknown;
  /** Closes the socket in both directions. */
  destroy(error?: Error): unknown;
  /** Stops `data` events. */
  pause(): unknown;
  /** Resumes `data` events. */
  resume(): unknown;
  /** Event listeners: `data`, `end`, `error`, `close`. */
  on(event: string, listener: (...args: never[]) => void): unknown;
  /** Whether the socket has been destroyed. */
  readonly destroyed?: boolean;
}

/**
 * Options of {@linkcode nodeSocketCarrier}.
 *
 * @example
 * ```ts
 * import { PassThrough } from "node:stream";
 * import { nodeSocketCarrier, type NodeSocketCarrierOptions } from "@pubky/noise/streams";
 * const socket = new PassThrough(); // stands in for a net.Socket
 * const options: NodeSocketCarrierOptions = { highWaterMark: 4 };
 * const reader = nodeSocketCarrier(socket, options).readable.getReader();
 * socket.write(new Uint8Array(10));
 * await new Promise((resolve) => setTimeout(resolve, 0));
 * console.log(socket.isPaused()); // true: 10 unread bytes, more than 4
 * await reader.read();
 * console.log(socket.isPaused()); // false
 * socket.destroy();
 * ```
 */
export interface NodeSocketCarrierOptions {
  /** Unread bytes above which the socket is paused (default 65536). */
  highWaterMark?: number;
}

/**
 * The socket as a `{ readable, writable }` byte-stream pair. See the module
 * documentation for backpressure, closing and errors.
 *
 * @example
 * ```ts
 * import net from "node:net";
 * import { DummyRing, NoiseClient, NoiseServer } from "@pubky/noise";
 * import { accept, connect, framed, messageReader, messageWriter, nodeSocketCarrier } from "@pubky/noise/streams";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * const done = Promise.withResolvers<void>();
 * const listener = net.createServer({ allowHalfOpen: true }, async (socket) => {
 *   const channel = await accept(framed(nodeSocketCarrier(socket)), server);
 *   const writer = messageWriter(channel);
 *   await writer.send((await messageReader(channel).readAll(1024))!); // echo
 *   await writer.close();
 *   done.resolve();
 * }).listen(0, "127.0.0.1");
 * await new Promise((resolve) => listener.once("listening", resolve));
 * const socket = net.connect({ port: (listener.address() as net.AddressInfo).port, host: "127.0.0.1", allowHalfOpen: true });
 * const channel = await connect(framed(nodeSocketCarrier(socket)), client, { pattern: "XX" });
 * const writer = messageWriter(channel);
 * await writer.send(new TextEncoder().encode("ping"));
 * console.log(new TextDecoder().decode((await messageReader(channel).readAll(1024))!)); // ping
 * await writer.close();
 * await done.promise;
 * await new Promise((resolve) => listener.close(resolve));
 * ```
 */
export function nodeSocketCarrier(
  socket: NodeSocketLike,
  options: NodeSocketCarrierOptions = {},
): { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> } {
  const hwm = options.highWaterMark ?? 65536;
  if (!Number.isInteger(hwm) || hwm < 0) {
    throw new NoiseError(NoiseErrorCode.Other, `highWaterMark must be a non-negative integer`);
  }
  let readDone = false;
  let failure: NoiseError | null = null;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const networkError = (e?: unknown) =>
    new NoiseError(
      NoiseErrorCode.Network,
      e instanceof Error && "code" in e ? `socket error ${String(e.code)}` : "socket error",
    );

  const readable = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    pull() {
      socket.resume();
    },
    cancel() {
      readDone = true;
      socket.destroy();
    },
  }, { highWaterMark: hwm, size: (chunk) => chunk.byteLength });

  socket.on("data", (data: Uint8Array) => {
    if (readDone) return;
    controller.enqueue(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    if ((controller.desiredSize ?? 0) <= 0) socket.pause();
  });
  socket.on("end", () => {
    if (readDone) return;
    readDone = true;
    controller.close();
  });
  socket.on("error", (e: Error) => {
    failure ??= networkError(e);
    if (readDone) return;
    readDone = true;
    controller.error(failure);
  });
  socket.on("close", () => {
    if (readDone) return;
    readDone = true;
    controller.error(
      failure ?? new NoiseError(NoiseErrorCode.ConnectionReset, "socket closed before its end"),
    );
  });

  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      if (!(chunk instanceof Uint8Array)) {
        throw new NoiseError(NoiseErrorCode.Other, "nodeSocketCarrier: chunks must be Uint8Array");
      }
      if (failure) throw failure;
      if (socket.destroyed) {
        throw new NoiseError(NoiseErrorCode.ConnectionReset, "socket is closed");
      }
      return new Promise<void>((resolve, reject) => {
        socket.write(chunk, (e) => (e ? reject(failure ?? networkError(e)) : resolve()));
      });
    },
    close() {
      if (socket.destroyed) return;
      return new Promise<void>((resolve) => {
        socket.on("close", () => resolve());
        socket.end(() => resolve());
      });
    },
    abort() {
      socket.destroy();
    },
  });
  return { readable, writable };
}
