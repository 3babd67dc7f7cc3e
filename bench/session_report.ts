/**
 * Session figures (`@pubky/noise/sessions`), printed as Markdown:
 *
 * 1. **Memory per idle established session** in a server `NoiseManager` holding
 *    `--sessions=N` (default 10 000) sessions, each made by a real IK handshake
 *    (`acceptConnection`, so the manager also holds the client's static key and
 *    verified identity, and the policy bookkeeping). Heap and RSS are read after
 *    a full GC before and after; the same links are then measured bare (the
 *    manager dropped, the links kept in an array), which gives the manager's own
 *    share. Also the size of one sealed snapshot of such a session.
 * 2. **Encrypt + decrypt throughput** of one message through
 *    `ThreadSafeSessionManager` (`await encrypt`, then `await decrypt` on the peer's
 *    manager), through the same manager with 64 messages in flight, and through
 *    the bare `NoiseLink` (synchronous), interleaved sample by sample in one run.
 *
 * ```sh
 * npx deno run -A --v8-flags=--expose-gc bench/session_report.ts
 * npx bun bench/session_report.ts
 * node --expose-gc --import tsx bench/session_report.ts
 * ```
 *
 * Options: `--sessions=N`, `--sample-ms=N` (300), `--samples=N` (5), `--sizes=64,1024,16384`.
 *
 * @module
 */
import { cpus } from "node:os";
import process from "node:process";
import { DummyRing, NoiseClient, NoiseServer, suiteBackends } from "../mod.ts";
import { loadCryptoSuite } from "../lib/crypto/suite.ts";
import {
  clientCompleteIk,
  clientCompleteNn,
  clientStartIkDirect,
  clientStartNn,
  serverAcceptNn,
  serverCompleteNn,
} from "../lib/datalink_adapter.ts";
import type { NoiseLink } from "../lib/link.ts";
import { generateSnapshotKey, NoiseManager, ThreadSafeSessionManager } from "../sessions.ts";
import { timeInterleaved } from "./timing.ts";

interface RuntimeGlobals {
  Deno?: { version: { deno: string; v8: string }; args: string[] };
  Bun?: { version: string; gc(force: boolean): void };
  gc?: () => void;
}
const g = globalThis as unknown as RuntimeGlobals;

function runtimeName(): string {
  if (g.Deno) return `Deno ${g.Deno.version.deno} (V8 ${g.Deno.version.v8})`;
  if (g.Bun) return `Bun ${g.Bun.version} (JavaScriptCore)`;
  return `Node ${process.versions.node} (V8 ${process.versions.v8})`;
}

function option(name: string, fallback: string): string {
  const argv = g.Deno ? g.Deno.args : process.argv.slice(2);
  const hit = argv.find((a) => a.startsWith(`--${name}=`));
  return hit === undefined ? fallback : hit.slice(name.length + 3);
}

const SESSIONS = Number(option("sessions", "10000"));
const SAMPLE_MS = Number(option("sample-ms", "300"));
const SAMPLES = Number(option("samples", "5"));
const SIZES = option("sizes", "64,1024,16384").split(",").map(Number);

/** A full collection, if the runtime lets us ask for one. */
async function collect(): Promise<boolean> {
  const run = g.Bun ? () => g.Bun!.gc(true) : g.gc;
  if (!run) return false;
  for (let i = 0; i < 3; i++) {
    run();
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

function memory(): { heap: number; rss: number } {
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function memoryFigures() {
  const seed = (b: number) => new Uint8Array(32).fill(b);
  const clientRing = await DummyRing.create(seed(1), "kid");
  const serverRing = await DummyRing.create(seed(2), "kid");
  const client = new NoiseClient("kid", "dev-client-00000000", clientRing);
  const server = new NoiseServer("kid", "dev-server-00000000", serverRing);
  const pinned = await server.staticPublicKey();
  const manager = NoiseManager.newServer(server);

  // One checked session first (and the code paths warmed up).
  const first = await clientStartIkDirect(client, pinned);
  const accepted = await manager.acceptConnection(first.firstMsg);
  const clientLink = await clientCompleteIk(first.hs, accepted.response);
  const ct = clientLink.encrypt(new TextEncoder().encode("check"));
  if (new TextDecoder().decode(await manager.decrypt(accepted.sessionId, ct)) !== "check") {
    throw new Error("self-check failed");
  }
  const snapshot = await manager.snapshot(accepted.sessionId, await generateSnapshotKey());
  manager.removeSession(accepted.sessionId)?.destroy();
  clientLink.destroy();

  const hasGc = await collect();
  const before = memory();
  const t0 = performance.now();
  for (let i = 0; i < SESSIONS; i++) {
    const start = await clientStartIkDirect(client, pinned);
    await manager.acceptConnection(start.firstMsg);
    start.hs.destroy(); // the client side is not kept
  }
  const handshakeSecs = (performance.now() - t0) / 1000;
  await collect();
  const held = memory();
  if (manager.listSessions().length !== SESSIONS) throw new Error("sessions missing");

  // The same links, bare.
  const links: NoiseLink[] = manager.listSessions().map((id) => manager.removeSession(id)!);
  await collect();
  const bare = memory();
  const kept = links.length;
  links.length = 0;
  await collect();
  const after = memory();

  return {
    hasGc,
    handshakeSecs,
    snapshotBytes: snapshot.bytes.length,
    managerHeap: (held.heap - before.heap) / SESSIONS,
    managerRss: (held.rss - before.rss) / SESSIONS,
    bareHeap: (bare.heap - after.heap) / kept,
    released: (held.heap - after.heap) / SESSIONS,
  };
}

async function linkPair(): Promise<[NoiseLink, NoiseLink]> {
  const ring = await DummyRing.create(new Uint8Array(32).fill(3), "kid");
  const client = new NoiseClient("kid", "client-device-0001", ring);
  const server = new NoiseServer("kid", "server-device-0001", ring);
  const c = await clientStartNn(client);
  const s = await serverAcceptNn(server, c.firstMsg);
  return [await clientCompleteNn(client, c.hs, s.response), serverCompleteNn(s.hs)];
}

async function throughputFigures() {
  const rows: {
    size: number;
    bare: number;
    locked: number;
    pipelined: number;
    spread: string;
  }[] = [];
  for (const size of SIZES) {
    const [bareA, bareB] = await linkPair();
    const [lockA, lockB] = await linkPair();
    const ring = await DummyRing.create(new Uint8Array(32).fill(4), "kid");
    const clients = ThreadSafeSessionManager.newClient(
      new NoiseClient("kid", "client-device-0001", ring),
    );
    const servers = ThreadSafeSessionManager.newServer(
      new NoiseServer("kid", "server-device-0001", ring),
    );
    const id = lockA.sessionId;
    clients.addSession(id, lockA);
    servers.addSession(id, lockB);
    const pt = crypto.getRandomValues(new Uint8Array(size));
    const check = (out: Uint8Array) => {
      if (out.length !== size) throw new Error("bad round trip");
    };
    const bare = () => check(bareB.decrypt(bareA.encrypt(pt)));
    const locked = async () => check(await servers.decrypt(id, await clients.encrypt(id, pt)));
    const IN_FLIGHT = 64;
    const pipelined = async () => {
      const cts = await Promise.all(
        Array.from({ length: IN_FLIGHT }, () => clients.encrypt(id, pt)),
      );
      const outs = await Promise.all(cts.map((c) => servers.decrypt(id, c)));
      for (const o of outs) check(o);
    };
    const t = await timeInterleaved([
      { op: bare, sync: true },
      { op: locked, sync: false },
      { op: pipelined, sync: false },
    ], { samples: SAMPLES, sampleMs: SAMPLE_MS });
    const per = (i: number) => (i === 2 ? IN_FLIGHT : 1); // a pipelined op is IN_FLIGHT messages
    const spreadOf = (i: number) => [t.min[i] * per(i), t.max[i] * per(i)];
    const range = (i: number) => spreadOf(i).map((x) => fmt(x)).join("–");
    rows.push({
      size,
      bare: t.median[0],
      locked: t.median[1],
      pipelined: IN_FLIGHT * t.median[2],
      spread: `${fmt(size)} B: bare ${range(0)}, awaited ${range(1)}, in flight ${range(2)}`,
    });
  }
  return rows;
}

const suite = suiteBackends(await loadCryptoSuite());
console.log(`- Runtime: ${runtimeName()}, ${new Date().toISOString().slice(0, 10)}`);
console.log(`- CPU: ${cpus().length} × ${cpus()[0]?.model.trim() ?? "?"}`);
console.log(`- Suite: dh=${suite.dh}, cipher=${suite.cipher}, hash=${suite.hash}`);
const mem = await memoryFigures();
console.log(
  `- ${fmt(SESSIONS)} IK handshakes (both sides, one process) in ${fmt(mem.handshakeSecs, 1)} s` +
    (mem.hasGc ? "; full GC before each reading" : "; NO forced GC (figures are rough)"),
);
console.log("");
console.log("| idle established session, server side | bytes per session |");
console.log("| --- | ---: |");
console.log(`| in a \`NoiseManager\` (heap) | ${fmt(mem.managerHeap)} |`);
console.log(`| in a \`NoiseManager\` (RSS) | ${fmt(mem.managerRss)} |`);
console.log(`| the bare \`NoiseLink\` alone (heap) | ${fmt(mem.bareHeap)} |`);
console.log(`| heap freed when all are dropped | ${fmt(mem.released)} |`);
console.log(`| one sealed snapshot (bytes on disk) | ${fmt(mem.snapshotBytes)} |`);
console.log("");
const rows = await throughputFigures();
console.log(
  "| encrypt + decrypt, one message | bare `NoiseLink` | `ThreadSafeSessionManager`, awaited one by one | ratio | same, 64 in flight | ratio |",
);
console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
for (const r of rows) {
  const mbs = (opsPerSec: number) => `${fmt((opsPerSec * r.size) / 1e6, 1)} MB/s`;
  console.log(
    `| ${fmt(r.size)} B | ${fmt(r.bare)} ops/s (${mbs(r.bare)}) | ${fmt(r.locked)} ops/s (${
      mbs(r.locked)
    }) | ${fmt(r.locked / r.bare, 2)}× | ${fmt(r.pipelined)} ops/s (${mbs(r.pipelined)}) | ${
      fmt(r.pipelined / r.bare, 2)
    }× |`,
  );
}
console.log("");
console.log(`Sample spread (min–max ops/s): ${rows.map((r) => r.spread).join("; ")}.`);
console.log("");
console.log(
  `Method: median of ${SAMPLES} × ${SAMPLE_MS} ms samples after a warm-up, variants interleaved.`,
);
