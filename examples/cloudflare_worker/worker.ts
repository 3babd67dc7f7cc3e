/**
 * A Pubky Noise echo server on Cloudflare Workers. The Worker routes
 * `GET /noise` (a WebSocket upgrade) to a Durable Object, which accepts the
 * WebSocket and runs the server side of a Noise session over it: one binary
 * WebSocket message per Noise message.
 *
 * Each session: the Durable Object accepts an XX (first contact) or IK (pinned
 * key) handshake, sends the session id as its first message, then echoes every
 * message back until the client closes. `GET /static-key` answers the server's
 * Noise static key in hex, for clients that pin it out of band.
 *
 * The identity seed is the secret `NOISE_SEED` (64 hex digits):
 * `wrangler secret put NOISE_SEED`; locally, put `NOISE_SEED=...` in `.dev.vars`.
 * Deploy with `wrangler deploy` (see `wrangler.toml`). workerd cannot compile
 * WebAssembly at run time, so the library falls back to its pure-JS BLAKE2s.
 *
 * @module
 */
import { DummyRing, fromHex, NoiseServer, toHex } from "../../mod.ts";
import {
  accept,
  type MessageCarrier,
  messageReader,
  messageWriter,
  webSocketCarrier,
  type WebSocketLike,
} from "../../streams.ts";

// The few Workers runtime types this example uses, typed here so that no
// @cloudflare/workers-types is needed (with it, use its DurableObjectState etc.).

/** A Workers WebSocket: the standard shape plus `accept()`. */
interface WorkerWebSocket extends WebSocketLike {
  accept(): void;
}
declare const WebSocketPair: new () => { 0: WorkerWebSocket; 1: WorkerWebSocket };
/** A Durable Object namespace binding. */
interface DurableObjectNamespace {
  newUniqueId(): unknown;
  get(id: unknown): { fetch(request: Request): Promise<Response> };
}

/** The bindings of this Worker (`wrangler.toml`, secrets). */
export interface Env {
  /** The Durable Object class {@linkcode NoiseSessions}. */
  SESSIONS: DurableObjectNamespace;
  /** The server's 32-byte identity seed, in hex (a secret). */
  NOISE_SEED?: string;
}

/** The Noise server of this deployment, from its seed. */
async function noiseServer(env: Env): Promise<NoiseServer> {
  if (!env.NOISE_SEED) throw new Error("NOISE_SEED is not set: wrangler secret put NOISE_SEED");
  const ring = await DummyRing.create(fromHex(env.NOISE_SEED), "echo");
  return new NoiseServer("echo", "echo-worker-device-01", ring);
}

/** The Worker: routes Noise WebSockets to Durable Objects. */
export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === "/static-key") {
      return new Response(toHex(await (await noiseServer(env)).staticPublicKey()));
    }
    if (pathname !== "/noise") return new Response("open a WebSocket to /noise\n", { status: 404 });
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade\n", { status: 426 });
    }
    // One Durable Object per session. With hibernation, one object per user or
    // room could hold many sessions instead (`idFromName`).
    return env.SESSIONS.get(env.SESSIONS.newUniqueId()).fetch(request);
  },
};

/** The largest message the server echoes (the message layer streams any size). */
const MAX_MESSAGE = 1 << 20;

/** Handshake, greeting, echo loop: one client session over `carrier`. */
async function serveSession(carrier: MessageCarrier, server: NoiseServer): Promise<void> {
  const channel = await accept(carrier, server, { timeoutMs: 10_000 }); // XX or IK
  const client = toHex(channel.remoteIdentity!.ed25519Pub);
  console.log(`${channel.pattern} session ${channel.sessionId} with client ${client}`);
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

type Listener = (event: { data?: unknown }) => void;

/**
 * A server-side socket whose events are delivered by the Durable Object's
 * handler methods (`webSocketMessage`, `webSocketClose`, `webSocketError`)
 * rather than by listeners on the socket itself: the shape the WebSocket
 * Hibernation API calls for. Sending and closing go to the socket.
 */
class SocketEvents implements WebSocketLike {
  binaryType = "arraybuffer";
  readonly #ws: WorkerWebSocket;
  readonly #listeners = new Map<string, Set<Listener>>();

  constructor(ws: WorkerWebSocket) {
    this.#ws = ws;
  }
  get readyState(): number {
    return this.#ws.readyState;
  }
  get bufferedAmount(): number {
    return this.#ws.bufferedAmount ?? 0;
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
  dispatch(type: "message" | "close" | "error", data?: unknown): void {
    for (const listener of [...(this.#listeners.get(type) ?? [])]) listener({ data });
  }
}

/**
 * The Durable Object: accepts the WebSocket and runs the Noise session.
 *
 * Hibernation (not done here): replace `ws.accept()` and the three
 * `addEventListener` calls in `fetch` with `this.state.acceptWebSocket(ws)`;
 * the runtime then calls `webSocketMessage`/`webSocketClose`/`webSocketError`
 * itself. What hibernation loses is memory: the session's keys and nonces live
 * in `#sessions`, so a woken object must either restore them (e.g. from
 * `ws.serializeAttachment`, which puts transport keys in storage) or close the
 * socket and let the client reconnect with IK (one round trip).
 */
export class NoiseSessions {
  readonly #env: Env;
  #server: Promise<NoiseServer> | undefined;
  readonly #sessions = new Map<WorkerWebSocket, SocketEvents>();

  constructor(_state: unknown, env: Env) {
    this.#env = env;
  }

  async fetch(_request: Request): Promise<Response> {
    let server: NoiseServer;
    try {
      server = await (this.#server ??= noiseServer(this.#env));
    } catch (e) {
      this.#server = undefined;
      return new Response(`${e instanceof Error ? e.message : e}\n`, { status: 500 });
    }
    const pair = new WebSocketPair();
    const [client, ws] = [pair[0], pair[1]];
    ws.accept();
    ws.addEventListener("message", (event) => this.webSocketMessage(ws, event.data));
    ws.addEventListener("close", () => this.webSocketClose(ws));
    ws.addEventListener("error", () => this.webSocketError(ws));

    const events = new SocketEvents(ws);
    this.#sessions.set(ws, events);
    webSocketCarrier(events) // already open: resolves at once
      .then((carrier) => serveSession(carrier, server))
      .catch((e) => {
        console.log(`session failed: ${e instanceof Error ? e.message : e}`);
        events.close(1011);
      })
      .finally(() => this.#sessions.delete(ws));
    return new Response(null, { status: 101, webSocket: client } as ResponseInit);
  }

  webSocketMessage(ws: WorkerWebSocket, message: unknown): void {
    this.#sessions.get(ws)?.dispatch("message", message);
  }

  webSocketClose(ws: WorkerWebSocket): void {
    this.#sessions.get(ws)?.dispatch("close");
  }

  webSocketError(ws: WorkerWebSocket): void {
    this.#sessions.get(ws)?.dispatch("error");
  }
}
