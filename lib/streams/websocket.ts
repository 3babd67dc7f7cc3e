/**
 * A WHATWG `WebSocket` as a {@linkcode MessageCarrier}: one binary WebSocket
 * message per Noise message, no framing needed. Works with any object of the
 * standard shape — `new WebSocket(url)` (Deno, Bun, browsers, workerd, Node ≥ 22),
 * the socket of `Deno.upgradeWebSocket`, one side of a workerd `WebSocketPair`
 * (call `accept()` on it first) — with no runtime-specific code.
 *
 * - `binaryType` is set to `"arraybuffer"`; the promise resolves once the socket is
 *   open (at once if it already is) and rejects with `NoiseError` Network (8000)
 *   if it fails or closes first.
 * - Readable: a binary message is a chunk; the socket's close closes it; an
 *   `error` event errors it with Network (8000); a text message errors it with
 *   Policy (6000) and closes the socket (code 4002). WebSocket has no receive
 *   flow control: messages the application has not read yet are queued, and once
 *   they pass `maxQueuedBytes` (default 16 MiB) the readable errors with Policy
 *   and the socket is closed (code 4002). Cancelling the readable closes the
 *   socket (code 1000).
 * - Writable: each chunk is sent as one binary message. Backpressure: after a
 *   send, while `bufferedAmount` is above `highWaterMark` (default 1 MiB) the
 *   write waits, polling every `pollIntervalMs` (default 5 ms). Closing the
 *   writable closes the socket (code 1000, after what is buffered is sent);
 *   aborting it closes it with code 4001. Writing to a socket that is no longer
 *   open fails with ConnectionReset (8002).
 * - WebSocket has no half-close: as with `WebSocketStream`, closing the writable
 *   closes the socket in both directions, and what the peer sends after it sees
 *   the close is lost. Close once the conversation is over (for instance: the
 *   client sends its last message and waits; the server answers and closes).
 *
 * @example
 * ```ts ignore
 * import { connect, webSocketCarrier } from "@pubky/noise/streams";
 * const carrier = await webSocketCarrier(new WebSocket("wss://example.com/noise"));
 * const channel = await connect(carrier, client, { pattern: "IK", serverStaticPub: pinned });
 * ```
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";
import type { MessageCarrier } from "./carrier.ts";

/**
 * The part of the WHATWG `WebSocket` interface this adapter uses.
 *
 * @example
 * ```ts
 * import { webSocketCarrier, type WebSocketLike } from "@pubky/noise/streams";
 * const sent: Uint8Array[] = [];
 * const socket: WebSocketLike = { // e.g. a wrapper around a socket library of another shape
 *   readyState: 1, // open
 *   bufferedAmount: 0,
 *   binaryType: "blob",
 *   send: (data) => void sent.push(data),
 *   close: () => {},
 *   addEventListener: () => {},
 *   removeEventListener: () => {},
 * };
 * const carrier = await webSocketCarrier(socket);
 * await carrier.writable.getWriter().write(new Uint8Array([1, 2, 3]));
 * console.log(socket.binaryType, sent); // arraybuffer [ Uint8Array(3) [ 1, 2, 3 ] ]
 * ```
 */
export interface WebSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** Bytes queued by `send` and not yet handed to the network. */
  readonly bufferedAmount: number;
  /** Set to `"arraybuffer"` by the adapter. */
  binaryType: string;
  /** Sends one message. */
  send(data: Uint8Array): void;
  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void;
  /** Standard event listeners (`open`, `message`, `error`, `close`). */
  addEventListener(type: string, listener: (event: { data?: unknown }) => void): void;
  /** Removes a listener. */
  removeEventListener(type: string, listener: (event: { data?: unknown }) => void): void;
}

/**
 * Options of {@linkcode webSocketCarrier}.
 *
 * @example
 * ```ts
 * import { NoiseError } from "@pubky/noise";
 * import { webSocketCarrier, type WebSocketCarrierOptions, type WebSocketLike } from "@pubky/noise/streams";
 * let deliver = (_event: { data?: unknown }) => {};
 * const ws: WebSocketLike = { // stands in for `new WebSocket(url)`
 *   readyState: 1, bufferedAmount: 0, binaryType: "", send() {}, close() {},
 *   addEventListener: (type, listener) => void (type === "message" && (deliver = listener)),
 *   removeEventListener() {},
 * };
 * const options: WebSocketCarrierOptions = { maxQueuedBytes: 1024, highWaterMark: 64 * 1024 };
 * const carrier = await webSocketCarrier(ws, options);
 * deliver({ data: new ArrayBuffer(800) });
 * deliver({ data: new ArrayBuffer(800) }); // 1600 unread bytes: over the cap
 * const reader = carrier.readable.getReader();
 * await reader.read().catch((e: NoiseError) => console.log(e.codeName)); // Policy
 * ```
 */
export interface WebSocketCarrierOptions {
  /** Bytes of `bufferedAmount` above which writes wait (default 1 MiB). */
  highWaterMark?: number;
  /** How often a waiting write looks at `bufferedAmount`, in ms (default 5). */
  pollIntervalMs?: number;
  /** Unread incoming bytes above which the readable errors (default 16 MiB). */
  maxQueuedBytes?: number;
}

const CONNECTING = 0;
const OPEN = 1;
/**
 * Close code of an aborted writable (application range: `close()` refuses 1001–2999).
 *
 * @example
 * ```ts
 * import { CLOSE_ABORTED, webSocketCarrier, type WebSocketLike } from "@pubky/noise/streams";
 * let closedWith: number | undefined;
 * const ws: WebSocketLike = {
 *   readyState: 1, bufferedAmount: 0, binaryType: "", send() {},
 *   close: (code) => void (closedWith = code),
 *   addEventListener() {}, removeEventListener() {},
 * };
 * const carrier = await webSocketCarrier(ws);
 * await carrier.writable.abort(new Error("giving up"));
 * console.log(closedWith === CLOSE_ABORTED, CLOSE_ABORTED); // true 4001
 * ```
 */
export const CLOSE_ABORTED = 4001;
/**
 * Close code of a protocol violation by the peer (a text message, an overfull queue).
 *
 * @example
 * ```ts
 * import { NoiseError } from "@pubky/noise";
 * import { CLOSE_PROTOCOL, webSocketCarrier, type WebSocketLike } from "@pubky/noise/streams";
 * let deliver = (_event: { data?: unknown }) => {};
 * let closedWith: number | undefined;
 * const ws: WebSocketLike = {
 *   readyState: 1, bufferedAmount: 0, binaryType: "", send() {},
 *   close: (code) => void (closedWith = code),
 *   addEventListener: (type, listener) => void (type === "message" && (deliver = listener)),
 *   removeEventListener() {},
 * };
 * const carrier = await webSocketCarrier(ws);
 * deliver({ data: "a text message" }); // the peer broke the protocol
 * await carrier.readable.getReader().read().catch((e: NoiseError) => console.log(e.codeName)); // Policy
 * console.log(closedWith === CLOSE_PROTOCOL, CLOSE_PROTOCOL); // true 4002
 * ```
 */
export const CLOSE_PROTOCOL = 4002;

function closeQuietly(ws: WebSocketLike, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    // Already closed, or a runtime that refuses the code: nothing more to do.
  }
}

function positive(value: number, name: string): number {
  if (typeof value !== "number" || !(value >= 0) || !Number.isFinite(value)) {
    throw new NoiseError(NoiseErrorCode.Other, `${name} must be a non-negative number`);
  }
  return value;
}

/**
 * The message carrier of `ws`, once it is open. See the module documentation
 * for the close codes, backpressure and errors.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseServer } from "@pubky/noise";
 * import { accept, connect, messageReader, messageWriter, webSocketCarrier } from "@pubky/noise/streams";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * const http = Deno.serve({ port: 0, onListen: () => {} }, (request) => {
 *   const { socket, response } = Deno.upgradeWebSocket(request);
 *   webSocketCarrier(socket).then((carrier) => accept(carrier, server)).then(async (channel) => {
 *     const reader = messageReader(channel);
 *     const writer = messageWriter(channel);
 *     await writer.send((await reader.readAll(1024))!); // echo one message
 *     await writer.close();
 *   });
 *   return response;
 * });
 * const ws = new WebSocket(`ws://127.0.0.1:${http.addr.port}`);
 * const channel = await connect(await webSocketCarrier(ws), client, { pattern: "XX" });
 * await messageWriter(channel).send(new TextEncoder().encode("echo?"));
 * console.log(new TextDecoder().decode((await messageReader(channel).readAll(1024))!)); // echo?
 * await http.shutdown();
 * ```
 */
export async function webSocketCarrier(
  ws: WebSocketLike,
  options: WebSocketCarrierOptions = {},
): Promise<MessageCarrier> {
  const highWaterMark = positive(options.highWaterMark ?? 1 << 20, "highWaterMark");
  const pollMs = positive(options.pollIntervalMs ?? 5, "pollIntervalMs");
  const maxQueued = positive(options.maxQueuedBytes ?? 16 << 20, "maxQueuedBytes");
  ws.binaryType = "arraybuffer";

  // Listeners go on before anything is awaited: no message can be missed.
  let finished = false;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const readable = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    cancel() {
      finished = true;
      closeQuietly(ws, 1000, "");
    },
  }, { highWaterMark: 0, size: (chunk) => chunk.byteLength });

  const fail = (err: NoiseError, closeCode?: number): void => {
    if (finished) return;
    finished = true;
    controller.error(err);
    if (closeCode !== undefined) closeQuietly(ws, closeCode, err.detail.slice(0, 100));
  };
  ws.addEventListener("message", (event) => {
    if (finished) return;
    const data = event.data;
    let bytes: Uint8Array;
    if (data instanceof ArrayBuffer) bytes = new Uint8Array(data);
    else if (ArrayBuffer.isView(data)) {
      bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } else if (typeof data === "string") {
      return fail(
        new NoiseError(NoiseErrorCode.Policy, "text message on a binary channel"),
        CLOSE_PROTOCOL,
      );
    } else {
      return fail(
        new NoiseError(NoiseErrorCode.Other, "message is neither text nor ArrayBuffer"),
        CLOSE_PROTOCOL,
      );
    }
    controller.enqueue(bytes);
    // desiredSize is minus the unread bytes (high-water mark 0, size = byteLength).
    if (-(controller.desiredSize ?? 0) > maxQueued) {
      fail(
        new NoiseError(NoiseErrorCode.Policy, `more than ${maxQueued} unread bytes queued`),
        CLOSE_PROTOCOL,
      );
    }
  });
  ws.addEventListener("error", () => {
    fail(new NoiseError(NoiseErrorCode.Network, "WebSocket error"));
  });
  ws.addEventListener("close", () => {
    if (finished) return;
    finished = true;
    controller.close();
  });

  if (ws.readyState === CONNECTING) {
    await new Promise<void>((resolve, reject) => {
      const settle = (ok: boolean) => () => {
        ws.removeEventListener("open", onOpen);
        ws.removeEventListener("error", onFail);
        ws.removeEventListener("close", onFail);
        if (ok) resolve();
        else reject(new NoiseError(NoiseErrorCode.Network, "WebSocket did not open"));
      };
      const onOpen = settle(true);
      const onFail = settle(false);
      ws.addEventListener("open", onOpen);
      ws.addEventListener("error", onFail);
      ws.addEventListener("close", onFail);
    });
  } else if (ws.readyState !== OPEN) {
    throw new NoiseError(NoiseErrorCode.Network, "WebSocket is closing or closed");
  }

  const notOpen = () => new NoiseError(NoiseErrorCode.ConnectionReset, "WebSocket is not open");
  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      if (!(chunk instanceof Uint8Array)) {
        throw new NoiseError(NoiseErrorCode.Other, "webSocketCarrier: chunks must be Uint8Array");
      }
      if (ws.readyState !== OPEN) throw notOpen();
      try {
        ws.send(chunk);
      } catch {
        throw notOpen();
      }
      while (ws.bufferedAmount > highWaterMark) {
        await new Promise((r) => setTimeout(r, pollMs));
        if (ws.readyState !== OPEN) throw notOpen();
      }
    },
    close() {
      closeQuietly(ws, 1000, "");
    },
    abort() {
      closeQuietly(ws, CLOSE_ABORTED, "aborted");
    },
  });
  return { readable, writable };
}
