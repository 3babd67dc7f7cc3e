/**
 * A Pubky Noise echo server on Cloudflare Workers whose sessions survive
 * Durable Object hibernation. The Worker routes `GET /noise?room=NAME` (a
 * WebSocket upgrade) to the Durable Object of that room (`lobby` by default),
 * which accepts the socket with the WebSocket Hibernation API and runs the
 * server side of a Noise session per socket: one binary WebSocket message per
 * Noise message.
 *
 * Per socket: the Durable Object accepts an XX (first contact) or IK (pinned
 * key) handshake, sends the session id as its first transport message, then
 * answers each transport message with one carrying the same plaintext (an
 * echo), until the client closes. `GET /static-key` answers the server's Noise
 * static key in hex, for clients that pin it out of band.
 *
 * **Hibernation.** Between messages the runtime may evict the object from
 * memory and keep only its sockets; the next message wakes a fresh instance.
 * So every established session lives in Durable Object storage as a sealed
 * snapshot (`@pubky/noise/sessions`: keys and nonces under AES-GCM) with its
 * generation counter, written in one `put`, and the socket's attachment
 * (`serializeAttachment`, kept by the runtime) names its session. A woken
 * object restores the session from the snapshot, which consumes the snapshot
 * (a second restore of it is refused), and carries on: the client notices
 * nothing. "Durable before visible": each reply is encrypted, then the
 * session is sealed and stored, and only then is the reply sent — so the
 * stored state always covers every message the client has seen and every
 * message it sent that was acted on. An XX handshake in progress cannot be
 * sealed: it stays in memory, and if the object is evicted between XX
 * messages 2 and 3 the socket is closed with code 4000 (reconnect).
 *
 * Close codes the server uses:
 * - 4000: the session is lost — evicted in the middle of XX, or its snapshot is
 *   missing or stale (SessionExpired 6003). Reconnect; with IK if the key is
 *   pinned already.
 * - 4002: protocol error — a refused handshake, a message that does not
 *   decrypt, a text message. The reason holds the `NoiseError` code.
 * - 1011: the server failed (storage, configuration).
 *
 * Secrets (`wrangler secret put NAME`; locally, lines `NAME=...` in `.dev.vars`):
 * - `NOISE_SEED`: 64 hex digits, the server's identity seed;
 * - `SNAPSHOT_KEY`: 64 hex digits, the AES-GCM-256 key that seals the snapshots
 *   (imported non-extractable). Anyone with it and read access to the object's
 *   storage can read the sessions' keys; changing it drops every stored session.
 *
 * `TEST_HOOKS = "1"` (a binding the test sets; never in a deployment) turns on
 * `/debug/*` routes that simulate an eviction and probe the stored snapshots:
 * see {@linkcode NoiseSessions}.
 *
 * Deploy with `wrangler deploy` (see `wrangler.toml`). workerd cannot compile
 * WebAssembly at run time, so the library falls back to its pure-JS BLAKE2s.
 *
 * @module
 */
import {
  DummyRing,
  fromHex,
  NoiseError,
  NoiseErrorCode,
  NoiseServer,
  SessionId,
  toHex,
} from "../../mod.ts";
import { importSnapshotKey, NoiseManager, type SessionSnapshot } from "../../sessions.ts";
import { FLAG_LAST } from "../../streams.ts";

// The few Workers runtime types this example uses, typed here so that no
// @cloudflare/workers-types is needed (with it, use its DurableObjectState etc.).

/** A Workers WebSocket, as the Hibernation API hands it to the handler methods. */
interface WorkerWebSocket {
  readonly readyState: number;
  send(data: Uint8Array | string): void;
  close(code?: number, reason?: string): void;
  /** Stores a small structured-clonable value with the socket, kept across hibernation. */
  serializeAttachment(value: unknown): void;
  deserializeAttachment(): unknown;
}
declare const WebSocketPair: new () => { 0: WorkerWebSocket; 1: WorkerWebSocket };
/** Durable Object storage (its key-value API). */
interface DurableObjectStorage {
  get<T = unknown>(key: string): Promise<T | undefined>;
  put<T>(key: string, value: T): Promise<void>;
  delete(key: string): Promise<boolean>;
}
/** The state of a Durable Object. */
interface DurableObjectState {
  readonly storage: DurableObjectStorage;
  /** Hibernatable accept: the socket's events go to `webSocketMessage` & co. */
  acceptWebSocket(ws: WorkerWebSocket, tags?: string[]): void;
}
/** A Durable Object namespace binding. */
interface DurableObjectNamespace {
  idFromName(name: string): unknown;
  get(id: unknown): { fetch(request: Request): Promise<Response> };
}

/** The bindings of this Worker (`wrangler.toml`, secrets). */
export interface Env {
  /** The Durable Object class {@linkcode NoiseSessions}. */
  SESSIONS: DurableObjectNamespace;
  /** The server's 32-byte identity seed, in hex (a secret). */
  NOISE_SEED?: string;
  /** The 32-byte key that seals session snapshots, in hex (a secret). */
  SNAPSHOT_KEY?: string;
  /** `"1"` turns on the `/debug/*` routes. For tests only: never set it in a deployment. */
  TEST_HOOKS?: string;
}

/** Close code: the session is lost, reconnect (evicted mid-XX, or SessionExpired). */
const CLOSE_RECONNECT = 4000;
/** Close code: the peer broke the protocol (as `CLOSE_PROTOCOL` of `@pubky/noise/streams`). */
const CLOSE_PROTOCOL = 4002;
/** Close code: the server failed. */
const CLOSE_SERVER_ERROR = 1011;

/** The Noise server of this deployment, from its seed. */
async function noiseServer(env: Env): Promise<NoiseServer> {
  if (!env.NOISE_SEED) throw new Error("NOISE_SEED is not set: wrangler secret put NOISE_SEED");
  const seed = fromHex(env.NOISE_SEED);
  try {
    const ring = await DummyRing.create(seed, "echo");
    return new NoiseServer("echo", "echo-worker-device-01", ring);
  } finally {
    seed.fill(0);
  }
}

/** The snapshot key of this deployment: non-extractable, so it never leaves WebCrypto. */
async function snapshotKey(env: Env): Promise<CryptoKey> {
  const hex = env.SNAPSHOT_KEY ?? "";
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new Error("SNAPSHOT_KEY must be 64 hex digits: wrangler secret put SNAPSHOT_KEY");
  }
  const raw = fromHex(hex);
  try {
    return await importSnapshotKey(raw);
  } finally {
    raw.fill(0);
  }
}

/** The Worker: routes Noise WebSockets to the Durable Object of their room. */
export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/static-key") {
      return new Response(toHex(await (await noiseServer(env)).staticPublicKey()));
    }
    const room = url.searchParams.get("room") ?? "lobby";
    if (!/^[\w-]{1,64}$/.test(room)) return new Response("bad room name\n", { status: 400 });
    // One object per room holds all of its sessions (rate-limit here, in front of it).
    const object = () => env.SESSIONS.get(env.SESSIONS.idFromName(room));
    if (url.pathname.startsWith("/debug/") && env.TEST_HOOKS === "1") {
      return object().fetch(request);
    }
    if (url.pathname !== "/noise") {
      return new Response("open a WebSocket to /noise\n", { status: 404 });
    }
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade\n", { status: 426 });
    }
    return object().fetch(request);
  },
};

/**
 * What a socket remembers across hibernation (`serializeAttachment`). The
 * runtime keeps it in plain: nothing secret goes in here.
 */
type Attachment =
  /** Waiting for handshake message 1. */
  | { phase: "handshake"; address: string | null }
  /** XX message 2 sent; the handshake waits in memory for message 3. */
  | { phase: "xx"; pendingId: string }
  /** Established: the session's snapshot is in storage under `storageKey(sessionId)`. */
  | { phase: "open"; sessionId: string }
  /** Closed or failed. */
  | { phase: "closed" };

/** What storage holds per session: the sealed snapshot and its counter, written together. */
interface Saved {
  bytes: Uint8Array;
  generation: bigint;
}

/** Everything the object holds in memory; hibernation (or `/debug/evict`) drops all of it. */
interface Live {
  server: NoiseServer;
  snapshotKey: CryptoKey;
  /** Established sessions (restored from storage after an eviction) and pending XX handshakes. */
  manager: NoiseManager;
  /** The ids of the XX handshakes `manager` holds for a socket. */
  pendingXx: Set<string>;
}

function storageKey(id: SessionId | string): string {
  return `session:${id}`;
}

/** A message's plaintext in the message layer of `@pubky/noise/streams`: a whole message. */
function wholeMessage(body: Uint8Array): Uint8Array {
  const plaintext = new Uint8Array(1 + body.length);
  plaintext[0] = FLAG_LAST;
  plaintext.set(body, 1);
  return plaintext;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * The Durable Object of a room: runs one Noise session per WebSocket, through
 * the Hibernation API (`acceptWebSocket`, `webSocketMessage`,
 * `webSocketClose`, `webSocketError`), with each session's transport state
 * sealed in storage after every message.
 *
 * Handshakes go through {@linkcode NoiseManager}'s message-level API
 * (`acceptConnection`, `completeAcceptConnection`): every handshake message is
 * a `webSocketMessage` call, possibly to a freshly woken instance.
 *
 * Test hooks, answered only when the binding `TEST_HOOKS` is `"1"` (the Worker
 * routes `/debug/*` here only then, and this class checks again):
 * - `POST /debug/evict?room=R`: drops everything the object holds in memory —
 *   sessions, pending XX handshakes, keys — as an eviction does; answers
 *   `{"sessions": n, "handshakes": m}`, what was dropped.
 * - `GET /debug/snapshot?room=R&session=ID`: the stored snapshot's bytes, its
 *   generation counter in the `x-generation` header (404 if none).
 * - `POST /debug/resume?room=R&session=ID`: restores the session as the first
 *   message after an eviction does, and stops there (nothing is sealed after
 *   it): with an eviction right after, it stands for a crash between the restore
 *   and the next save. Answers `{"held": n}`, the sessions in memory.
 * - `POST /debug/replay?room=R&session=ID` with snapshot bytes as the body: tries
 *   to restore them into a scratch manager against the stored counter, as a
 *   second process holding an old copy would, and answers `{"code": c}`: the
 *   `NoiseError` code of the refusal, 9000 (Storage) if the snapshot passed every
 *   check (its commit is always refused: the hook never changes storage).
 */
export class NoiseSessions {
  readonly #ctx: DurableObjectState;
  readonly #env: Env;
  #live: Promise<Live> | undefined;
  /** One event at a time: the steps await (WebCrypto, storage) and must not interleave. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    this.#ctx = ctx;
    this.#env = env;
  }

  #load(): Promise<Live> {
    if (this.#live) return this.#live;
    const live = (async () => {
      const [server, key] = await Promise.all([noiseServer(this.#env), snapshotKey(this.#env)]);
      return {
        server,
        snapshotKey: key,
        manager: NoiseManager.newServer(server),
        pendingXx: new Set<string>(),
      };
    })();
    this.#live = live;
    live.catch(() => {
      if (this.#live === live) this.#live = undefined;
    });
    return live;
  }

  /** Runs `step` after every step queued before it. */
  #serially<T>(step: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(step);
    this.#queue = run.catch(() => {});
    return run;
  }

  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/debug/")) return await this.#debug(request, url);
    try {
      await this.#load(); // refuse the upgrade, not the first message, when a secret is missing
    } catch (e) {
      return new Response(`${errorText(e)}\n`, { status: 500 });
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.#ctx.acceptWebSocket(server); // hibernatable: events come to the methods below
    server.serializeAttachment(
      {
        phase: "handshake",
        address: request.headers.get("cf-connecting-ip"),
      } satisfies Attachment,
    );
    return new Response(null, { status: 101, webSocket: client } as ResponseInit);
  }

  webSocketMessage(ws: WorkerWebSocket, message: ArrayBuffer | string): Promise<void> {
    return this.#serially(() => this.#onMessage(ws, message)).catch((e) =>
      this.#serially(() => this.#fail(ws, e))
    );
  }

  webSocketClose(ws: WorkerWebSocket, code: number): Promise<void> {
    return this.#serially(async () => {
      await this.#forget(ws);
      try {
        // Completes the closing handshake if the runtime has not (a second close is a no-op).
        ws.close(code >= 3000 && code <= 4999 ? code : 1000, "closed");
      } catch {
        // already closed
      }
    });
  }

  webSocketError(ws: WorkerWebSocket): Promise<void> {
    return this.#serially(() => this.#forget(ws));
  }

  async #onMessage(ws: WorkerWebSocket, message: ArrayBuffer | string): Promise<void> {
    if (typeof message === "string") {
      throw new NoiseError(NoiseErrorCode.Policy, "text message on a binary channel");
    }
    const bytes = new Uint8Array(message);
    const live = await this.#load();
    const at = ws.deserializeAttachment() as Attachment;
    switch (at.phase) {
      case "handshake": { // message 1: XX (32 bytes) or IK
        const accepted = await live.manager.acceptConnection(bytes, { address: at.address });
        if (accepted.established) return await this.#open(ws, live, accepted.sessionId, accepted);
        const pendingId = accepted.sessionId.toString(); // XX: the handshake waits in memory
        live.pendingXx.add(pendingId);
        ws.serializeAttachment({ phase: "xx", pendingId } satisfies Attachment);
        ws.send(accepted.response);
        return;
      }
      case "xx": { // XX message 3
        if (!live.pendingXx.delete(at.pendingId)) {
          throw new NoiseError(
            NoiseErrorCode.SessionExpired,
            "the XX handshake was lost (the object was evicted after message 2): reconnect",
          );
        }
        const id = await live.manager.completeAcceptConnection(
          SessionId.parse(at.pendingId),
          bytes,
        );
        return await this.#open(ws, live, id, null);
      }
      case "open": { // a transport message
        const id = SessionId.parse(at.sessionId);
        if (!live.manager.getSession(id)) await this.#restore(live, id);
        const reply = await live.manager.withSession(id, async (session) => {
          const request = session.link.decrypt(bytes); // Snow (3000): forged, replayed, reordered
          const reply = session.link.encrypt(request); // the application's work: an echo
          // One write covers both rules: after the decrypt, before its effect (the reply)
          // is visible; after the encrypt, before the ciphertext leaves.
          await this.#save(await session.snapshot(live.snapshotKey)); // durable…
          return reply;
        });
        ws.send(reply); // …before visible
        return;
      }
      default:
        throw new NoiseError(NoiseErrorCode.ConnectionReset, "message on a closed session");
    }
  }

  /**
   * An established session: seals it with its greeting (the session id, equal on
   * both sides) already encrypted, stores it, then sends the IK response if any
   * and the greeting.
   */
  async #open(
    ws: WorkerWebSocket,
    live: Live,
    id: SessionId,
    ik: { response: Uint8Array; pattern: string } | null,
  ): Promise<void> {
    let greeting: Uint8Array;
    try {
      greeting = await live.manager.withSession(id, async (session) => {
        const ciphertext = session.link.encrypt(
          wholeMessage(new TextEncoder().encode(id.toString())),
        );
        await this.#save(await session.snapshot(live.snapshotKey));
        return ciphertext;
      });
    } catch (e) {
      live.manager.removeSession(id)?.destroy(); // not stored: the socket still names no session
      throw e;
    }
    ws.serializeAttachment({ phase: "open", sessionId: id.toString() } satisfies Attachment);
    if (ik) ws.send(ik.response);
    ws.send(greeting);
    const client = toHex(live.manager.getPeerIdentity(id)!.ed25519Pub);
    console.log(`${ik ? ik.pattern : "XX"} session ${id} with client ${client}`);
  }

  /** Stores a snapshot and its generation in one write. */
  async #save(snap: SessionSnapshot): Promise<void> {
    await this.#ctx.storage.put<Saved>(storageKey(snap.sessionId), {
      bytes: snap.bytes,
      generation: snap.generation,
    });
  }

  /**
   * After an eviction: the session from its snapshot. Restoring consumes the
   * snapshot (`commit` moves the stored counter past it before the session is
   * used), so the same bytes are refused from then on with SessionExpired.
   */
  async #restore(live: Live, id: SessionId): Promise<void> {
    const key = storageKey(id);
    const saved = await this.#ctx.storage.get<Saved>(key);
    if (!saved) {
      throw new NoiseError(NoiseErrorCode.SessionExpired, "no snapshot of this session: reconnect");
    }
    try {
      await live.manager.restore(live.snapshotKey, saved.bytes, {
        generation: saved.generation,
        sessionId: id,
        commit: (next) =>
          this.#ctx.storage.put<Saved>(key, { bytes: saved.bytes, generation: next }),
      });
    } catch (e) {
      // Stale (SessionExpired), sealed under another SNAPSHOT_KEY (Decryption), damaged
      // (Serde): the session cannot go on, the client must reconnect (close code 4000).
      // A storage failure stays one (1011).
      if (!(e instanceof NoiseError) || e.code === NoiseErrorCode.Storage) throw e;
      throw new NoiseError(NoiseErrorCode.SessionExpired, `cannot resume: ${e.message}`);
    }
    console.log(`restored session ${id} from generation ${saved.generation}`);
  }

  /** Drops what the socket held, in memory and in storage. */
  async #forget(ws: WorkerWebSocket): Promise<void> {
    const at = ws.deserializeAttachment() as Attachment | null;
    ws.serializeAttachment({ phase: "closed" } satisfies Attachment);
    const live = await this.#live?.catch(() => undefined);
    if (at?.phase === "xx" && live?.pendingXx.delete(at.pendingId)) {
      live.manager.cancelPending(SessionId.parse(at.pendingId));
    }
    if (at?.phase === "open") {
      live?.manager.removeSession(SessionId.parse(at.sessionId))?.destroy();
      await this.#ctx.storage.delete(storageKey(at.sessionId));
    }
  }

  /** A failed message: the session is dropped and the socket closed with a code that says why. */
  async #fail(ws: WorkerWebSocket, e: unknown): Promise<void> {
    console.log(`session failed: ${errorText(e)}`);
    const code = !(e instanceof NoiseError)
      ? CLOSE_SERVER_ERROR
      : e.code === NoiseErrorCode.SessionExpired
      ? CLOSE_RECONNECT
      : CLOSE_PROTOCOL;
    try {
      await this.#forget(ws);
    } finally {
      try {
        ws.close(code, e instanceof NoiseError ? `noise error ${e.code}` : "server error");
      } catch {
        // already closed
      }
    }
  }

  /** The test hooks (see the class documentation). */
  #debug(request: Request, url: URL): Promise<Response> {
    const json = (value: unknown) =>
      new Response(JSON.stringify(value), { headers: { "content-type": "application/json" } });
    if (this.#env.TEST_HOOKS !== "1") {
      return Promise.resolve(new Response("not found\n", { status: 404 }));
    }
    const route = `${request.method} ${url.pathname}`;
    const session = url.searchParams.get("session") ?? "";
    return this.#serially(async () => {
      if (route === "POST /debug/evict") {
        const live = await this.#live?.catch(() => undefined);
        this.#live = undefined;
        const dropped = {
          sessions: live?.manager.listSessions().length ?? 0,
          handshakes: live?.pendingXx.size ?? 0,
        };
        live?.manager.destroy();
        return json(dropped);
      }
      if (!/^[0-9a-f]{64}$/.test(session)) return new Response("bad session\n", { status: 400 });
      const saved = await this.#ctx.storage.get<Saved>(storageKey(session));
      if (route === "GET /debug/snapshot") {
        if (!saved) return new Response("no snapshot\n", { status: 404 });
        return new Response(saved.bytes as Uint8Array<ArrayBuffer>, {
          headers: { "x-generation": `${saved.generation}` },
        });
      }
      if (route === "POST /debug/resume") {
        if (!saved) return new Response("no snapshot\n", { status: 404 });
        const live = await this.#load();
        const id = SessionId.parse(session);
        if (!live.manager.getSession(id)) await this.#restore(live, id);
        return json({ held: live.manager.listSessions().length });
      }
      if (route === "POST /debug/replay") {
        const live = await this.#load();
        const scratch = NoiseManager.newServer(live.server);
        try {
          await scratch.restore(live.snapshotKey, new Uint8Array(await request.arrayBuffer()), {
            generation: saved?.generation ?? 0n,
            sessionId: SessionId.parse(session),
            commit: () => {
              throw new NoiseError(NoiseErrorCode.Storage, "the replay hook never commits");
            },
          });
          return json({ code: 0 });
        } catch (e) {
          return json({ code: e instanceof NoiseError ? e.code : -1, message: errorText(e) });
        } finally {
          scratch.destroy();
        }
      }
      return new Response("unknown test hook\n", { status: 404 });
    });
  }
}
