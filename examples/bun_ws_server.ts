/**
 * A Pubky Noise echo server on Bun: `Bun.serve` upgrades `GET /noise` to a
 * WebSocket, and each WebSocket carries one Noise session (one binary WebSocket
 * message per Noise message, no framing needed).
 *
 * Bun hands the server side of a WebSocket to callbacks (`open`, `message`,
 * `close`) instead of a standard `WebSocket` object, so a small shim
 * ({@linkcode ServerSocketShim}) gives it the standard shape that
 * `webSocketCarrier` takes.
 *
 * Each session: the server accepts an XX (first contact) or IK (pinned key)
 * handshake, sends the session id as its first message, then echoes every
 * message back until the client closes. `GET /static-key` answers the server's
 * Noise static key in hex, for clients that pin it out of band.
 *
 * Run: `bun examples/bun_ws_server.ts` (or `npx bun examples/bun_ws_server.ts`)
 * Port: `PORT` (default 8080); seed: `NOISE_SEED` (64 hex digits).
 *
 * @module
 */
import process from "node:process";
import { DummyRing, fromHex, NoiseServer, toHex } from "../mod.ts";
import {
  accept,
  type MessageCarrier,
  messageReader,
  messageWriter,
  webSocketCarrier,
  type WebSocketLike,
} from "../streams.ts";

/** The part of Bun's server-side WebSocket this example uses (typed here: no bun-types needed). */
interface BunServerWebSocket {
  readonly readyState: number;
  readonly data: { shim?: ServerSocketShim };
  getBufferedAmount(): number;
  send(data: Uint8Array): number;
  close(code?: number, reason?: string): void;
}

/** The part of `Bun.serve` this example uses. */
interface BunServe {
  serve(options: {
    hostname: string;
    port: number;
    fetch(
      req: Request,
      server: { upgrade(req: Request, options: { data: object }): boolean },
    ): Response | undefined;
    websocket: {
      open(ws: BunServerWebSocket): void;
      message(ws: BunServerWebSocket, message: string | Uint8Array | ArrayBuffer): void;
      close(ws: BunServerWebSocket, code: number, reason: string): void;
    };
  }): { port: number; stop(closeActiveConnections?: boolean): Promise<void> | void };
}
declare const Bun: BunServe;

type Listener = (event: { data?: unknown }) => void;

/**
 * Bun's server-side socket as a standard `WebSocket` (what `webSocketCarrier`
 * takes): Bun's `message` and `close` callbacks are dispatched as events.
 */
export class ServerSocketShim implements WebSocketLike {
  binaryType = "arraybuffer";
  readonly #ws: BunServerWebSocket;
  readonly #listeners = new Map<string, Set<Listener>>();

  constructor(ws: BunServerWebSocket) {
    this.#ws = ws;
  }
  get readyState(): number {
    return this.#ws.readyState;
  }
  get bufferedAmount(): number {
    return this.#ws.getBufferedAmount();
  }
  send(data: Uint8Array): void {
    this.#ws.send(data);
  }
  close(code?: number, reason?: string): void {
    this.#ws.close(code, reason);
  }
  addEventListener(type: string, listener: Listener): void {
    if (!this.#listeners.has(type)) this.#listeners.set(type, new Set());
    this.#listeners.get(type)!.add(listener);
  }
  removeEventListener(type: string, listener: Listener): void {
    this.#listeners.get(type)?.delete(listener);
  }
  /** Called from Bun's callbacks. */
  dispatch(type: "message" | "close", data?: unknown): void {
    for (const listener of [...(this.#listeners.get(type) ?? [])]) listener({ data });
  }
}

/** DEMO ONLY: a fixed, public seed. A real server loads its seed from a secret store. */
export const DEMO_SEED: Uint8Array = new Uint8Array(32).fill(0x42);

/** Options of {@linkcode start}. */
export interface ServerOptions {
  /** HTTP port (default 8080; 0 picks a free one). */
  port?: number;
  /** Address to listen on (default 127.0.0.1). */
  hostname?: string;
  /** The server's 32-byte identity seed (default {@linkcode DEMO_SEED}). */
  seed?: Uint8Array;
  /** Where log lines go (default `console.log`). */
  log?: (line: string) => void;
}

/** A running server. */
export interface RunningServer {
  /** The port it listens on. */
  port: number;
  /** Its Noise static key: what clients pin for IK. */
  staticKey: Uint8Array;
  /** Stops listening, ends open sessions and waits until everything is closed. */
  close(): Promise<void>;
}

/** The largest message the server echoes (the message layer streams any size). */
const MAX_MESSAGE = 1 << 20;

/** Handshake, greeting, echo loop: one client session over `carrier`. */
async function serveSession(
  carrier: MessageCarrier,
  server: NoiseServer,
  log: (line: string) => void,
): Promise<void> {
  const channel = await accept(carrier, server, { timeoutMs: 10_000 }); // XX or IK
  const client = toHex(channel.remoteIdentity!.ed25519Pub);
  log(`${channel.pattern} session ${channel.sessionId} with client ${client}`);
  const writer = messageWriter(channel);
  const reader = messageReader(channel);
  // The session id is the handshake hash: equal on both sides, so the client can compare.
  await writer.send(new TextEncoder().encode(channel.sessionId.toString()));
  for (;;) {
    const message = await reader.readAll(MAX_MESSAGE);
    if (message === null) break; // the client closed the WebSocket
    await writer.send(message);
  }
  await writer.close();
}

/** Starts the server; resolves once it listens. */
export async function start(options: ServerOptions = {}): Promise<RunningServer> {
  const log = options.log ?? console.log;
  const ring = await DummyRing.create(options.seed ?? DEMO_SEED, "echo");
  const server = new NoiseServer("echo", "echo-server-device-01", ring);
  const staticKey = await server.staticPublicKey();

  const sockets = new Set<ServerSocketShim>();
  const sessions = new Set<Promise<void>>();
  const hostname = options.hostname ?? "127.0.0.1";
  const http = Bun.serve({
    hostname,
    port: options.port ?? 8080,
    fetch(req, bun) {
      const { pathname } = new URL(req.url);
      if (pathname === "/static-key") return new Response(toHex(staticKey));
      if (pathname === "/noise" && bun.upgrade(req, { data: {} })) return undefined;
      return new Response("open a WebSocket to /noise\n", { status: 404 });
    },
    websocket: {
      open(ws) {
        const shim = new ServerSocketShim(ws);
        ws.data.shim = shim;
        sockets.add(shim);
        const session = webSocketCarrier(shim) // already open: resolves at once
          .then((carrier) => serveSession(carrier, server, log))
          .catch((e) => {
            log(`session failed: ${e instanceof Error ? e.message : e}`);
            shim.close(1011);
          })
          .finally(() => {
            sockets.delete(shim);
            sessions.delete(session);
          });
        sessions.add(session);
      },
      message(ws, message) {
        ws.data.shim?.dispatch("message", message);
      },
      close(ws) {
        ws.data.shim?.dispatch("close");
      },
    },
  });
  log(`listening on ws://${hostname}:${http.port}/noise`);
  log(`static key ${toHex(staticKey)}`);

  return {
    port: http.port,
    staticKey,
    async close() {
      for (const socket of sockets) socket.close(1001, "server shutting down");
      await Promise.all(sessions);
      await http.stop(true);
    },
  };
}

if (import.meta.main) {
  const seedHex = process.env.NOISE_SEED;
  if (!seedHex) console.log("NOISE_SEED is not set: using the public demo seed (demo only)");
  const running = await start({
    port: Number(process.env.PORT ?? 8080),
    seed: seedHex ? fromHex(seedHex) : DEMO_SEED,
  });
  process.on("SIGINT", () => running.close().then(() => process.exit(0)));
}
