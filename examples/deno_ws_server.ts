/**
 * A Pubky Noise echo server on Deno: `Deno.serve` upgrades `GET /noise` to a
 * WebSocket, and each WebSocket carries one Noise session (one binary WebSocket
 * message per Noise message, no framing needed).
 *
 * Each session: the server accepts an XX (first contact) or IK (pinned key)
 * handshake, sends the session id as its first message, then echoes every
 * message back until the client closes. `GET /static-key` answers the server's
 * Noise static key in hex, for clients that pin it out of band.
 *
 * Run: `deno run --allow-net --allow-env examples/deno_ws_server.ts`
 * Port: `PORT` (default 8080); seed: `NOISE_SEED` (64 hex digits).
 *
 * @module
 */
import { DummyRing, fromHex, NoiseServer, toHex } from "@pubky/noise";
import {
  accept,
  type MessageCarrier,
  messageReader,
  messageWriter,
  webSocketCarrier,
} from "@pubky/noise/streams";

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

  const sockets = new Set<WebSocket>();
  const sessions = new Set<Promise<void>>();
  const hostname = options.hostname ?? "127.0.0.1";
  const http = Deno.serve({ hostname, port: options.port ?? 8080, onListen() {} }, (req) => {
    const { pathname } = new URL(req.url);
    if (pathname === "/static-key") return new Response(toHex(staticKey));
    if (pathname !== "/noise" || req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("open a WebSocket to /noise\n", { status: 404 });
    }
    const { socket, response } = Deno.upgradeWebSocket(req);
    sockets.add(socket);
    // webSocketCarrier waits for the socket to open, which happens once `response` is sent.
    const session = webSocketCarrier(socket)
      .then((carrier) => serveSession(carrier, server, log))
      .catch((e) => {
        log(`session failed: ${e instanceof Error ? e.message : e}`);
        socket.close(1011);
      })
      .finally(() => {
        sockets.delete(socket);
        sessions.delete(session);
      });
    sessions.add(session);
    return response;
  });
  log(`listening on ws://${hostname}:${http.addr.port}/noise`);
  log(`static key ${toHex(staticKey)}`);

  return {
    port: http.addr.port,
    staticKey,
    async close() {
      for (const socket of sockets) socket.close(1001, "server shutting down");
      await Promise.all(sessions);
      await http.shutdown();
    },
  };
}

if (import.meta.main) {
  const seedHex = Deno.env.get("NOISE_SEED");
  if (!seedHex) console.log("NOISE_SEED is not set: using the public demo seed (demo only)");
  const running = await start({
    port: Number(Deno.env.get("PORT") ?? 8080),
    seed: seedHex ? fromHex(seedHex) : DEMO_SEED,
  });
  Deno.addSignalListener("SIGINT", () => running.close().then(() => Deno.exit(0)));
}
