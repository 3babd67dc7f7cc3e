/**
 * # @pubky/noise/streams
 *
 * Pubky Noise sessions over WHATWG streams — what Deno, Bun and Cloudflare
 * Workers hand you for sockets, and what fetch bodies are.
 *
 * - **Carriers**: a {@linkcode MessageCarrier} is a `{ readable, writable }` pair
 *   with one Noise message per chunk. {@linkcode framed} makes one from a byte
 *   stream (2-byte big-endian length prefix, Noise spec §13: TCP sockets,
 *   `Deno.connect`, workerd `connect()`), {@linkcode webSocketCarrier} from a
 *   WHATWG `WebSocket`, {@linkcode nodeSocketCarrier} from a `node:net` socket,
 *   {@linkcode denoConnCarrier} from a `Deno.Conn` (with half-close),
 *   {@linkcode memoryCarrierPair} in memory.
 * - **Handshake**: {@linkcode connect} (client: XX, IK or NN) and
 *   {@linkcode accept} (server: tells XX from IK by the first message) give a
 *   {@linkcode SecureChannel}: plaintext streams, session id, peer identity.
 * - **Transport**: {@linkcode encryptStream} / {@linkcode decryptStream}, the
 *   link as `TransformStream`s; {@linkcode linkStreams} puts both on a carrier.
 * - **Messages**: {@linkcode messageWriter} / {@linkcode messageReader} carry
 *   messages of any size, streamed, with authenticated boundaries.
 * - **Rust API**: the crate's chunked link, `StreamingNoiseLink`, wire-compatible, is in
 *   the default entry (`@pubky/noise`).
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseServer } from "@pubky/noise";
 * import { accept, connect, memoryCarrierPair, messageReader, messageWriter } from "@pubky/noise/streams";
 * const ring = await DummyRing.create(crypto.getRandomValues(new Uint8Array(32)), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * const [clientSide, serverSide] = memoryCarrierPair(); // or framed(conn), webSocketCarrier(ws)
 * const [c, s] = await Promise.all([
 *   connect(clientSide, client, { pattern: "XX" }),
 *   accept(serverSide, server),
 * ]);
 * const out = messageWriter(c);
 * const sent = out.send(new TextEncoder().encode("hello")).then(() => out.close());
 * const message = await messageReader(s).readAll(1024);
 * console.log(new TextDecoder().decode(message!)); // hello
 * await sent;
 * ```
 *
 * @module
 */

export {
  type MemoryCarrierOptions,
  memoryCarrierPair,
  type MessageCarrier,
} from "./lib/streams/carrier.ts";
export {
  framed,
  frameDecoder,
  type FrameDecoderOptions,
  frameEncoder,
  MAX_FRAME_LEN,
} from "./lib/streams/framing.ts";
export {
  CLOSE_ABORTED,
  CLOSE_PROTOCOL,
  webSocketCarrier,
  type WebSocketCarrierOptions,
  type WebSocketLike,
} from "./lib/streams/websocket.ts";
export {
  decryptStream,
  encryptStream,
  linkStreams,
  MAX_CHUNK_PLAINTEXT,
  type PlaintextStreams,
} from "./lib/streams/link_streams.ts";
export {
  accept,
  type AcceptOptions,
  connect,
  type ConnectOptions,
  type HandshakeStepOptions,
  type PatternName,
  type SecureChannel,
} from "./lib/streams/handshake.ts";
export {
  FLAG_CONTINUES,
  FLAG_LAST,
  MESSAGE_CHUNK_DATA,
  MessageReader,
  messageReader,
  MessageWriter,
  messageWriter,
} from "./lib/streams/messages.ts";
export {
  denoConnCarrier,
  type DenoConnCarrierOptions,
  type DenoConnLike,
} from "./lib/streams/deno_conn.ts";
export {
  nodeSocketCarrier,
  type NodeSocketCarrierOptions,
  type NodeSocketLike,
} from "./lib/streams/node_socket.ts";
