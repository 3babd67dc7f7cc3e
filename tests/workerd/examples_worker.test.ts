/**
 * The Cloudflare Worker example (`examples/cloudflare_worker/worker.ts`) in workerd:
 * bundled with esbuild, run by miniflare with its Durable Object and a `NOISE_SEED`
 * binding on a real loopback port, and driven by a real WebSocket client (the `ws`
 * package) from this Node process: XX first contact, then IK to the pinned key,
 * messages echoed, and the session id the Durable Object sends back equal to the
 * client's.
 *
 * Runs under Node only (`npx tsx --test tests/workerd/examples_worker.test.ts`);
 * `deno test` and `bun test` pick the file up too and skip it.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Miniflare } from "miniflare";
import { DummyRing, NoiseClient, NoiseErrorCode, toHex } from "../../mod.ts";
import {
  connect,
  type ConnectOptions,
  type MessageCarrier,
  messageReader,
  messageWriter,
  type SecureChannel,
  webSocketCarrier,
  type WebSocketLike,
} from "../../streams.ts";
import { expectNoiseError, randomBytes, sleep, within } from "../streams_helpers.ts";

const SKIP: string | false = "Deno" in globalThis || "Bun" in globalThis
  ? "workerd runs through miniflare under Node: npx tsx --test tests/workerd/examples_worker.test.ts"
  : false;

/** The `ws` package's client (a dependency of miniflare; it has no bundled types). */
type WsClient = new (url: string) => WebSocketLike;

const SERVER_SEED = new Uint8Array(32).fill(0x61);
const CLIENT_SEED = new Uint8Array(32).fill(0x62);
const utf8 = new TextEncoder();
const text = new TextDecoder();
/** A small message, an empty one, and one larger than a Noise message (65535 bytes). */
const MESSAGES = [utf8.encode("hello, worker"), new Uint8Array(0), randomBytes(100_000)];

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
  return {
    date: date[1],
    flags: flags ? [...flags[1].matchAll(/"([^"]+)"/g)].map((m) => m[1]) : [],
  };
}

/** The worker as one ESM file, with `node:*` left to the runtime. */
async function bundleWorker(): Promise<string> {
  const esbuild = await import("esbuild");
  const { fileURLToPath } = await import("node:url");
  const result = await esbuild.build({
    entryPoints: [
      fileURLToPath(new URL("../../examples/cloudflare_worker/worker.ts", import.meta.url)),
    ],
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    mainFields: ["module", "main"],
    conditions: ["workerd", "worker", "browser", "import"],
    external: ["node:*"],
    logLevel: "silent",
  });
  assert.equal(result.outputFiles.length, 1);
  return result.outputFiles[0].text;
}

/**
 * Fails unless `actual` holds exactly the bytes of `expected`, naming the first
 * difference (deepEqual's diff of two large arrays takes minutes under Deno).
 */
function assertSameBytes(actual: Uint8Array | null, expected: Uint8Array, what: string): void {
  assert.ok(actual instanceof Uint8Array, `${what}: got ${actual}`);
  assert.equal(actual.length, expected.length, `${what}: length`);
  const at = actual.findIndex((byte, i) => byte !== expected[i]);
  assert.equal(at, -1, `${what}: first differing byte`);
}

/**
 * One client session: the handshake, the Durable Object's greeting (its session id),
 * every message of MESSAGES echoed, then the client closes and the session ends.
 */
async function echoSession(
  carrier: MessageCarrier,
  client: NoiseClient,
  options: ConnectOptions,
): Promise<SecureChannel> {
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
  for (const message of MESSAGES) {
    await writer.send(message);
    assertSameBytes(await within(reader.readAll(1 << 20), 5000, "echo"), message, "echo");
  }
  await writer.close();
  assert.equal(await within(reader.next(), 5000, "end of the session"), null);
  return channel;
}

describe("examples/cloudflare_worker in workerd (miniflare, real WebSocket)", {
  skip: SKIP,
}, () => {
  let mf: Miniflare | undefined;
  let base: URL;
  let WebSocket: WsClient;
  const sockets: WebSocketLike[] = [];
  /** A real WebSocket to the Worker's /noise, as a carrier once it is open. */
  const dial = (): Promise<MessageCarrier> => {
    const ws = new WebSocket(new URL("/noise", base).href.replace(/^http/, "ws"));
    sockets.push(ws);
    return within(webSocketCarrier(ws), 5000, "WebSocket open");
  };
  let client: NoiseClient;
  let identity: string;
  /** What the Worker and its Durable Object printed with console.log. */
  const logs: string[] = [];
  /** Waits until the worker has printed `line` (workerd's output comes through a pipe). */
  const logged = async (line: string) => {
    for (let waited = 0; !logs.includes(line); waited += 10) {
      assert.ok(waited < 5000, `no log line "${line}" in:\n${logs.join("\n")}`);
      await sleep(10);
    }
  };

  before(async () => {
    ({ WebSocket } = (await import("ws")) as { WebSocket: WsClient });
    const { Miniflare } = await import("miniflare");
    const { join } = await import("node:path");
    const compatibility = await wranglerCompatibility();
    mf = new Miniflare({
      // A path inside the cwd (workerd refuses paths that leave it); nothing is read from disk.
      modules: [{
        type: "ESModule",
        path: join(process.cwd(), "worker.mjs"),
        contents: await bundleWorker(),
      }],
      durableObjects: { SESSIONS: "NoiseSessions" },
      bindings: { NOISE_SEED: toHex(SERVER_SEED) },
      compatibilityDate: compatibility.date,
      compatibilityFlags: compatibility.flags,
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
});
