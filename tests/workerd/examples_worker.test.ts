/**
 * The Cloudflare Worker example (`examples/cloudflare_worker/worker.ts`) in workerd:
 * bundled with esbuild, run by miniflare with its Durable Object (SQLite-backed,
 * as `wrangler.toml` declares it) and its `NOISE_SEED` and `SNAPSHOT_KEY` secrets
 * on a real loopback port, and driven by a real WebSocket client (the `ws`
 * package) from this Node process: XX first contact, then IK to the pinned key,
 * messages echoed, and the session id the Durable Object sends back equal to the
 * client's.
 *
 * Hibernation: miniflare cannot force the runtime to evict a Durable Object, so
 * the Worker runs with `TEST_HOOKS = "1"`, which turns on its `/debug/*` routes:
 * `POST /debug/evict` drops everything the object holds in memory (what an
 * eviction does; its sockets and storage stay), `GET /debug/snapshot` reads a
 * stored snapshot, `POST /debug/replay` tries to restore given snapshot bytes.
 * A second worker in the same workerd runs the same code without the binding,
 * as a deployment would: the routes are not there.
 *
 * Runs under Node only (`npx tsx --test tests/workerd/examples_worker.test.ts`);
 * `deno test` and `bun test` pick the file up too and skip it.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { assertBytes } from "../_assert_bytes.ts";
import { bundleWorker } from "./_bundle.ts";
import type { Miniflare } from "miniflare";
import {
  clientCompleteXx,
  clientStartXxTofu,
  DummyRing,
  fromHex,
  NoiseClient,
  NoiseErrorCode,
  toHex,
} from "../../mod.ts";
import {
  connect,
  type ConnectOptions,
  type MessageCarrier,
  type MessageReader,
  messageReader,
  type MessageWriter,
  messageWriter,
  type SecureChannel,
  webSocketCarrier,
  type WebSocketLike,
} from "../../streams.ts";
import { expectNoiseError, randomBytes, sleep, within } from "../streams_helpers.ts";

const SKIP: string | false = "Deno" in globalThis || "Bun" in globalThis
  ? "workerd runs through miniflare under Node: npx tsx --test tests/workerd/examples_worker.test.ts"
  : false;

/** What the tests use of the `ws` package's client (a miniflare dependency without bundled types). */
interface WsSocket extends WebSocketLike {
  addEventListener(
    type: string,
    listener: (event: { data?: unknown; code?: number; reason?: string }) => void,
  ): void;
}
type WsClient = new (url: string) => WsSocket;
/** What the tests use of `mf.getWorker(name)` (Deno's checker mistypes miniflare's Fetcher). */
interface WorkerFetcher {
  fetch(url: string, init?: RequestInit): Promise<Response>;
}

const SERVER_SEED = new Uint8Array(32).fill(0x61);
const SNAPSHOT_KEY = new Uint8Array(32).fill(0x63);
const CLIENT_SEED = new Uint8Array(32).fill(0x62);
const utf8 = new TextEncoder();
const text = new TextDecoder();
/** A small message, an empty one, and one larger than a Noise message (65535 bytes). */
const MESSAGES = [utf8.encode("hello, worker"), new Uint8Array(0), randomBytes(100_000)];
/** Close code of the Worker: the session is lost, reconnect (see worker.ts). */
const CLOSE_RECONNECT = 4000;

/** Message `n` of a numbered sequence: distinct content and length for each `n`. */
const numbered = (n: number): Uint8Array => utf8.encode(`message ${n} `.padEnd(10 + n, "."));

/** The compatibility date and flags of the example's wrangler.toml (what a deploy uses). */
async function wranglerCompatibility(): Promise<{ date: string; flags: string[] }> {
  const { readFile } = await import("node:fs/promises");
  const toml = await readFile(
    new URL("../../examples/cloudflare_worker/wrangler.toml", import.meta.url),
    "utf8",
  );
  const date = /^compatibility_date\s*=\s*"([0-9-]+)"/m.exec(toml);
  const flags = /^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml);
  assert.ok(date, "wrangler.toml sets compatibility_date");
  assert.match(toml, /name\s*=\s*"SESSIONS"\s*\nclass_name\s*=\s*"NoiseSessions"/);
  assert.match(toml, /new_sqlite_classes\s*=\s*\["NoiseSessions"\]/, "SQLite-backed, as tested");
  assert.match(toml, /wrangler secret put SNAPSHOT_KEY/, "wrangler.toml names the secret");
  return {
    date: date[1],
    flags: flags ? [...flags[1].matchAll(/"([^"]+)"/g)].map((m) => m[1]) : [],
  };
}

/** A client session over the Worker: the handshake done and the greeting checked. */
interface Session {
  channel: SecureChannel;
  reader: MessageReader;
  writer: MessageWriter;
  /** The session id, in hex. */
  id: string;
}

/** Handshake, then the Durable Object's greeting: its session id, equal to the client's. */
async function openSession(
  carrier: MessageCarrier,
  client: NoiseClient,
  options: ConnectOptions,
): Promise<Session> {
  const channel = await within(
    connect(carrier, client, { ...options, timeoutMs: 10_000 }),
    10_000,
    `${options.pattern} handshake`,
  );
  const reader = messageReader(channel);
  const writer = messageWriter(channel);
  const greeting = await within(reader.readAll(1024), 5000, "greeting");
  assert.ok(greeting, "the Durable Object greets before closing");
  assert.equal(text.decode(greeting), channel.sessionId.toString(), "its session id");
  return { channel, reader, writer, id: channel.sessionId.toString() };
}

/** Sends every message of `messages` at once, then reads the echoes: each exactly once, in order. */
async function echo(session: Session, messages: Uint8Array[]): Promise<void> {
  await Promise.all(messages.map((m) => session.writer.send(m)));
  for (const [i, message] of messages.entries()) {
    const got = await within(session.reader.readAll(1 << 20), 5000, `echo ${i}`);
    assertBytes(got, message, `echo ${i}`);
  }
}

/** The client closes; the server closes back, with no message left over (none duplicated). */
async function closeSession(session: Session): Promise<void> {
  await session.writer.close();
  assert.equal(await within(session.reader.next(), 5000, "end of the session"), null);
}

/** One client session: handshake, greeting, MESSAGES echoed one by one, close. */
async function echoSession(
  carrier: MessageCarrier,
  client: NoiseClient,
  options: ConnectOptions,
): Promise<SecureChannel> {
  const session = await openSession(carrier, client, options);
  for (const message of MESSAGES) await echo(session, [message]);
  await closeSession(session);
  return session.channel;
}

describe("examples/cloudflare_worker in workerd (miniflare, real WebSocket)", {
  skip: SKIP,
}, () => {
  let mf: Miniflare | undefined;
  let base: URL;
  let WebSocket: WsClient;
  const sockets: WebSocketLike[] = [];
  const wsUrl = (room: string) => new URL(`/noise?room=${room}`, base).href.replace(/^http/, "ws");
  /** A real WebSocket to the Worker's /noise in `room`: a carrier once open, and its close. */
  const dialed = async (room: string) => {
    const ws = new WebSocket(wsUrl(room));
    sockets.push(ws);
    const closed = new Promise<{ code?: number; reason?: string }>((resolve) =>
      ws.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason }))
    );
    return { carrier: await within(webSocketCarrier(ws), 5000, "WebSocket open"), closed };
  };
  /** A real WebSocket to the Worker's /noise in `room`, as a carrier once it is open. */
  const dial = async (room = "lobby"): Promise<MessageCarrier> => (await dialed(room)).carrier;
  let client: NoiseClient;
  let identity: string;
  /** What the Worker and its Durable Object printed with console.log. */
  const logs: string[] = [];
  const count = (line: string) => logs.filter((l) => l === line).length;
  /** Waits until the worker has printed `line` `times` times (workerd's output comes through a pipe). */
  const logged = async (line: string, times = 1) => {
    for (let waited = 0; count(line) < times; waited += 10) {
      assert.ok(waited < 5000, `not ${times}× the log line "${line}" in:\n${logs.join("\n")}`);
      await sleep(10);
    }
  };

  /** A worker of the Miniflare instance by name, to fetch from. */
  const worker = async (name: string) => (await mf!.getWorker(name)) as unknown as WorkerFetcher;
  /** A test hook of the Worker (TEST_HOOKS = "1"). */
  const hook = async (method: string, path: string, body?: Uint8Array): Promise<Response> =>
    await fetch(new URL(path, base), { method, body: body as Uint8Array<ArrayBuffer> });
  /** Simulated hibernation: the room's object forgets everything it held in memory. */
  const evict = async (room: string): Promise<{ sessions: number; handshakes: number }> => {
    const res = await hook("POST", `/debug/evict?room=${room}`);
    assert.equal(res.status, 200);
    return await res.json();
  };
  /** The stored snapshot of a session and its counter, or null if there is none. */
  const stored = async (
    room: string,
    id: string,
  ): Promise<{ bytes: Uint8Array; generation: bigint } | null> => {
    const res = await hook("GET", `/debug/snapshot?room=${room}&session=${id}`);
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    assert.equal(res.status, 200);
    return {
      bytes: new Uint8Array(await res.arrayBuffer()),
      generation: BigInt(res.headers.get("x-generation")!),
    };
  };
  /** The NoiseError code a restore of `bytes` against the stored counter ends with. */
  const replay = async (room: string, id: string, bytes: Uint8Array): Promise<number> => {
    const res = await hook("POST", `/debug/replay?room=${room}&session=${id}`, bytes);
    assert.equal(res.status, 200);
    return ((await res.json()) as { code: number }).code;
  };

  before(async () => {
    ({ WebSocket } = (await import("ws")) as unknown as { WebSocket: WsClient });
    const { Miniflare } = await import("miniflare");
    const { join } = await import("node:path");
    const compatibility = await wranglerCompatibility();
    const contents = await bundleWorker(
      new URL("../../examples/cloudflare_worker/worker.ts", import.meta.url),
    );
    // A path inside the cwd (workerd refuses paths that leave it); nothing is read from disk.
    const workerOptions = (name: string, bindings: Record<string, string>) => ({
      name,
      modules: [{ type: "ESModule" as const, path: join(process.cwd(), `${name}.mjs`), contents }],
      durableObjects: { SESSIONS: { className: "NoiseSessions", useSQLite: true } },
      bindings,
      compatibilityDate: compatibility.date,
      compatibilityFlags: compatibility.flags,
    });
    const secrets = { NOISE_SEED: toHex(SERVER_SEED), SNAPSHOT_KEY: toHex(SNAPSHOT_KEY) };
    mf = new Miniflare({
      workers: [
        workerOptions("hooks", { ...secrets, TEST_HOOKS: "1" }), // on the port: the tests' worker
        workerOptions("deployed", secrets), // as deployed: no TEST_HOOKS
        workerOptions("no-snapshot-key", { NOISE_SEED: secrets.NOISE_SEED }),
      ],
      host: "127.0.0.1",
      port: 0,
      handleStructuredLogs: ({ message }: { message: string }) => {
        logs.push(message); // (miniflare checks that the handler returns nothing)
      },
    });
    base = await mf.ready;
    const ring = await DummyRing.create(CLIENT_SEED, "client");
    client = new NoiseClient("client", "example-test-client-01", ring);
    identity = toHex(await ring.ed25519PublicKey("client"));
  }, { timeout: 60_000 });

  after(async () => {
    for (const ws of sockets) ws.close(1000);
    await mf?.dispose();
  });

  test("XX then IK to the pinned key: the Durable Object reports the same session ids", async () => {
    const xx = await echoSession(await dial(), client, { pattern: "XX" });
    const published = await (await fetch(new URL("/static-key", base))).text();
    assert.equal(toHex(xx.remoteStatic!), published, "XX learns the key GET /static-key gives");
    await logged(`XX session ${xx.sessionId} with client ${identity}`);
    const ik = await echoSession(await dial(), client, {
      pattern: "IK",
      serverStaticPub: xx.remoteStatic!,
    });
    await logged(`IK session ${ik.sessionId} with client ${identity}`);
    assert.notEqual(ik.sessionId.toString(), xx.sessionId.toString(), "a fresh session");
  });

  test("a session survives eviction on the same socket: nothing lost, nothing repeated", async () => {
    const room = "hibernation";
    const session = await openSession(await dial(room), client, { pattern: "XX" });
    await echo(session, [1, 2, 3].map(numbered));
    const before = await stored(room, session.id);
    assert.ok(before, "the session is in storage");

    assert.deepEqual(await evict(room), { sessions: 1, handshakes: 0 });
    // Seven messages at once into a fresh instance: the first restores, all are answered in order.
    await echo(session, [4, 5, 6, 7, 8, 9, 10].map(numbered));
    await logged(`restored session ${session.id} from generation ${before.generation}`);
    const after = await stored(room, session.id);
    assert.equal(
      after?.generation,
      before.generation + 1n + 7n,
      "the restore consumed a generation, and each message stored a snapshot",
    );

    assert.deepEqual(await evict(room), { sessions: 1, handshakes: 0 });
    await echo(session, MESSAGES); // a message of two Noise messages, an empty one
    await logged(`restored session ${session.id} from generation ${after.generation}`);
    assert.equal(count(`restored session ${session.id} from generation ${before.generation}`), 1);

    await closeSession(session);
    for (let waited = 0; await stored(room, session.id) !== null; waited += 20) {
      assert.ok(waited < 5000, "the snapshot is deleted once the socket closes");
      await sleep(20);
    }
  });

  test("an outdated snapshot is refused with SessionExpired (6003); the newest resumes once", async () => {
    const room = "replay";
    const pinned = fromHex(await (await fetch(new URL("/static-key", base))).text());
    const session = await openSession(await dial(room), client, {
      pattern: "IK",
      serverStaticPub: pinned,
    });
    await echo(session, [numbered(1)]);
    const old = (await stored(room, session.id))!;
    await echo(session, [numbered(2)]);
    const newest = (await stored(room, session.id))!;
    assert.equal(newest.generation, old.generation + 1n);

    assert.equal(await replay(room, session.id, old.bytes), NoiseErrorCode.SessionExpired);
    // The newest passes every check; the hook then refuses to commit (Storage), changing nothing.
    assert.equal(await replay(room, session.id, newest.bytes), NoiseErrorCode.Storage);
    const tampered = newest.bytes.slice();
    tampered[tampered.length - 20] ^= 1;
    assert.equal(await replay(room, session.id, tampered), NoiseErrorCode.Decryption);

    assert.deepEqual(await evict(room), { sessions: 1, handshakes: 0 });
    await echo(session, [numbered(3)]); // resumes from `newest`, which is now used up
    await logged(`restored session ${session.id} from generation ${newest.generation}`);
    assert.equal(await replay(room, session.id, newest.bytes), NoiseErrorCode.SessionExpired);
    const latest = (await stored(room, session.id))!;
    assert.equal(await replay(room, session.id, latest.bytes), NoiseErrorCode.Storage);

    await echo(session, [numbered(4)]);
    await closeSession(session);
  });

  test("restored, then evicted before the next save: the snapshot is used up, the session lost (4000)", async () => {
    const room = "crash";
    const socket = await dialed(room);
    const session = await openSession(socket.carrier, client, { pattern: "XX" });
    await echo(session, [numbered(1)]);
    const snap = (await stored(room, session.id))!;

    assert.deepEqual(await evict(room), { sessions: 1, handshakes: 0 });
    const resume = await hook("POST", `/debug/resume?room=${room}&session=${session.id}`);
    assert.deepEqual(await resume.json(), { held: 1 });
    await logged(`restored session ${session.id} from generation ${snap.generation}`);
    const consumed = (await stored(room, session.id))!;
    assert.equal(consumed.generation, snap.generation + 1n, "the restore moved the counter");
    assertBytes(consumed.bytes, snap.bytes, "…and only the counter");
    assert.equal(await replay(room, session.id, snap.bytes), NoiseErrorCode.SessionExpired);

    // A crash now: the next message finds only the used-up snapshot, and the session ends.
    assert.deepEqual(await evict(room), { sessions: 1, handshakes: 0 });
    await session.writer.send(numbered(2));
    assert.equal(await within(session.reader.next(), 5000, "the server closes"), null);
    assert.deepEqual(await within(socket.closed, 5000, "close"), {
      code: CLOSE_RECONNECT,
      reason: `noise error ${NoiseErrorCode.SessionExpired}`,
    });
    await logged(
      `session failed: session expired or not found: cannot resume: session expired or not found: ` +
        `snapshot generation ${snap.generation} is stale (the holder's counter is ` +
        `${snap.generation + 1n}): it was restored already or a newer snapshot superseded it`,
    );
    assert.equal(await stored(room, session.id), null, "the lost session's snapshot is deleted");
  });

  test("evicted between XX messages 2 and 3: the socket closes with 4000; IK then works", async () => {
    const room = "mid-xx";
    const ws = new WebSocket(wsUrl(room));
    sockets.push(ws);
    ws.binaryType = "arraybuffer";
    const received: Uint8Array[] = [];
    ws.addEventListener("message", (e) => received.push(new Uint8Array(e.data as ArrayBuffer)));
    const closed = new Promise<{ code?: number; reason?: string }>((resolve) =>
      ws.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason }))
    );
    await within(new Promise((resolve) => ws.addEventListener("open", resolve)), 5000, "open");

    const start = await clientStartXxTofu(client);
    ws.send(start.firstMsg);
    for (let waited = 0; received.length === 0; waited += 10) {
      assert.ok(waited < 5000, "XX message 2");
      await sleep(10);
    }
    assert.deepEqual(await evict(room), { sessions: 0, handshakes: 1 });
    const done = await clientCompleteXx(client, start.hs, received[0]);
    ws.send(done.finalMsg);
    const { code, reason } = await within(closed, 5000, "close");
    assert.equal(code, CLOSE_RECONNECT);
    assert.equal(reason, `noise error ${NoiseErrorCode.SessionExpired}`);
    assert.equal(received.length, 1, "nothing after message 2");
    await logged(
      "session failed: session expired or not found: " +
        "the XX handshake was lost (the object was evicted after message 2): reconnect",
    );

    // The client learnt and verified the server's key in message 2: it retries with IK.
    const ik = await echoSession(await dial(room), client, {
      pattern: "IK",
      serverStaticPub: done.serverStaticPk,
    });
    await logged(`IK session ${ik.sessionId} with client ${identity}`);
  });

  test("IK to a wrong pinned key is refused (8002 at the client); the Worker goes on", async () => {
    const wrong = new Uint8Array(32).fill(9);
    await expectNoiseError(
      within(
        connect(await dial(), client, { pattern: "IK", serverStaticPub: wrong }),
        10_000,
        "refused IK",
      ),
      NoiseErrorCode.ConnectionReset,
      "connection reset: carrier closed during the handshake",
    );
    await logged("session failed: snow error: decrypt error");
    const xx = await echoSession(await dial(), client, { pattern: "XX" });
    await logged(`XX session ${xx.sessionId} with client ${identity}`);
  });

  test("a plain GET of /noise is refused with 426; an unknown path with 404", async () => {
    const plain = await fetch(new URL("/noise", base));
    assert.equal(plain.status, 426);
    await plain.body?.cancel();
    const unknown = await fetch(new URL("/elsewhere", base));
    assert.equal(unknown.status, 404);
    await unknown.body?.cancel();
  });

  test("without TEST_HOOKS the /debug routes do not exist; without SNAPSHOT_KEY no socket opens", async () => {
    const deployed = await worker("deployed");
    for (const path of ["/debug/evict?room=lobby", "/debug/replay?room=lobby&session=00"]) {
      const res = await deployed.fetch(`http://worker${path}`, { method: "POST" });
      assert.equal(res.status, 404, path);
      await res.text();
    }
    const hooks = await worker("hooks"); // the same request where the binding is set
    const res = await hooks.fetch("http://worker/debug/evict?room=lobby", { method: "POST" });
    assert.equal(res.status, 200);
    await res.text();

    const unkeyed = await worker("no-snapshot-key");
    const refused = await unkeyed.fetch("http://worker/noise", {
      headers: { upgrade: "websocket" },
    });
    assert.equal(refused.status, 500);
    assert.match(await refused.text(), /SNAPSHOT_KEY must be 64 hex digits/);
  });
});
