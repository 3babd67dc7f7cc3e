/**
 * A Pubky Noise echo server on Deno's own TCP sockets (`Deno.listen`). Noise
 * messages travel as 2-byte length-prefixed frames (`framed`, Noise spec §13);
 * `denoConnCarrier` gives the connection half-close, so the server can still
 * answer after the client has closed its direction.
 *
 * Each connection: the server accepts an XX (first contact) or IK (pinned key)
 * handshake, sends the session id as its first message, then echoes every
 * message back until the client closes.
 *
 * Run: `deno run --allow-net --allow-env examples/deno_tcp_server.ts`
 * Port: `PORT` (default 4433); seed: `NOISE_SEED` (64 hex digits).
 *
 * @module
 */
import { DummyRing, fromHex, NoiseServer, toHex } from "@pubky/noise";
import {
  accept,
  denoConnCarrier,
  framed,
  type MessageCarrier,
  messageReader,
  messageWriter,
} from "@pubky/noise/streams";

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

/** Closes `conn` unless it is closed already. */
function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed (denoConnCarrier closes it once both directions are done)
  }
}

/** Starts the server; resolves once it listens. */
export async function start(options: ServerOptions = {}): Promise<RunningServer> {
  const log = options.log ?? console.log;
  const ring = await DummyRing.create(options.seed ?? DEMO_SEED, "echo");
  const server = new NoiseServer("echo", "echo-server-device-01", ring);
  const staticKey = await server.staticPublicKey();

  const hostname = options.hostname ?? "127.0.0.1";
  const listener = Deno.listen({ hostname, port: options.port ?? 4433 });
  const conns = new Set<Deno.Conn>();
  const sessions = new Set<Promise<void>>();
  const acceptLoop = (async () => {
    try {
      for await (const conn of listener) {
        conns.add(conn);
        const session = serveSession(framed(denoConnCarrier(conn)), server, log)
          .catch((e) => {
            log(`session failed: ${e instanceof Error ? e.message : e}`);
            closeQuietly(conn);
          })
          .finally(() => {
            conns.delete(conn);
            sessions.delete(session);
          });
        sessions.add(session);
      }
    } catch {
      // the listener was closed
    }
  })();
  log(`listening on tcp://${hostname}:${listener.addr.port}`);
  log(`static key ${toHex(staticKey)}`);

  return {
    port: listener.addr.port,
    staticKey,
    async close() {
      listener.close();
      for (const conn of conns) closeQuietly(conn);
      await Promise.all([acceptLoop, ...sessions]);
    },
  };
}

if (import.meta.main) {
  const seedHex = Deno.env.get("NOISE_SEED");
  if (!seedHex) console.log("NOISE_SEED is not set: using the public demo seed (demo only)");
  const running = await start({
    port: Number(Deno.env.get("PORT") ?? 4433),
    seed: seedHex ? fromHex(seedHex) : DEMO_SEED,
  });
  Deno.addSignalListener("SIGINT", () => running.close().then(() => Deno.exit(0)));
}
