/**
 * A Pubky Noise echo server on a plain `node:net` TCP socket. Runs under Node
 * (through tsx), Deno and Bun, which all implement `node:net`.
 *
 * Each connection: the server accepts an XX (first contact) or IK (pinned key)
 * handshake, sends the session id as its first message, then echoes every
 * message back until the client closes. Noise messages travel as 2-byte
 * length-prefixed frames (`framed`, Noise spec §13).
 *
 * Run: `npx tsx examples/node_net_server.ts` (or `deno run -A` / `bun` on the
 * same file). Port: `PORT` (default 4433); seed: `NOISE_SEED` (64 hex digits).
 *
 * @module
 */
import net from "node:net";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { DummyRing, fromHex, NoiseServer, toHex } from "../mod.ts";
import {
  accept,
  framed,
  type MessageCarrier,
  messageReader,
  messageWriter,
  nodeSocketCarrier,
} from "../streams.ts";

/** DEMO ONLY: a fixed, public seed. A real server loads its seed from a secret store. */
export const DEMO_SEED: Uint8Array = new Uint8Array(32).fill(0x42);

/** Options of {@linkcode start}. */
export interface ServerOptions {
  /** TCP port (default 4433; 0 picks a free one). */
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
    if (message === null) break; // the client closed its direction
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

  const sockets = new Set<net.Socket>();
  const sessions = new Set<Promise<void>>();
  // allowHalfOpen: after the client closes its direction, we can still send our end.
  const listener = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    const session = serveSession(framed(nodeSocketCarrier(socket)), server, log)
      .catch((e) => {
        log(`session failed: ${e instanceof Error ? e.message : e}`);
        socket.destroy();
      })
      .finally(() => sessions.delete(session));
    sessions.add(session);
  });
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(options.port ?? 4433, options.hostname ?? "127.0.0.1", resolve);
  });
  const { port } = listener.address() as net.AddressInfo;
  log(`listening on tcp://${options.hostname ?? "127.0.0.1"}:${port}`);
  log(`static key ${toHex(staticKey)}`);

  return {
    port,
    staticKey,
    async close() {
      const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await Promise.all([closed, ...sessions]);
    },
  };
}

// Run directly: `process.argv[1]` is this file under Node; Deno and Bun set import.meta.main.
const isMain = (import.meta as { main?: boolean }).main ??
  (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]);
if (isMain) {
  const seedHex = process.env.NOISE_SEED;
  if (!seedHex) console.log("NOISE_SEED is not set: using the public demo seed (demo only)");
  const running = await start({
    port: Number(process.env.PORT ?? 4433),
    seed: seedHex ? fromHex(seedHex) : DEMO_SEED,
  });
  process.on("SIGINT", () => running.close().then(() => process.exit(0)));
}
