/**
 * Memory per idle established session, for the comparison report: a server `NoiseManager` holding
 * `n` sessions, each made by a real IK handshake (`acceptConnection`), heap read after a full GC
 * before and after (the method of `session_report.ts`, which has the longer version).
 *
 * A full GC needs `--v8-flags=--expose-gc` (Deno), `--expose-gc` (Node) or nothing (Bun); without
 * it the figure is rough and says so.
 *
 * @module
 */
import process from "node:process";
import { DummyRing, NoiseClient, NoiseServer } from "../mod.ts";
import { clientCompleteIk, clientStartIkDirect } from "../lib/datalink_adapter.ts";
import { NoiseManager } from "../sessions.ts";

interface GcGlobals {
  Bun?: { gc(force: boolean): void };
  gc?: () => void;
}
const g = globalThis as unknown as GcGlobals;

async function collect(): Promise<boolean> {
  const run = g.Bun ? () => g.Bun!.gc(true) : g.gc;
  if (!run) return false;
  for (let i = 0; i < 3; i++) {
    run();
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

/** Heap bytes per idle session in a server `NoiseManager` of `n` sessions. */
export async function idleSessionMemory(
  n: number,
): Promise<{ heapPerSession: number; rssPerSession: number; forcedGc: boolean; secs: number }> {
  const client = new NoiseClient(
    "kid",
    "dev-client-00000000",
    await DummyRing.create(new Uint8Array(32).fill(1), "kid"),
  );
  const server = new NoiseServer(
    "kid",
    "dev-server-00000000",
    await DummyRing.create(new Uint8Array(32).fill(2), "kid"),
  );
  const pinned = await server.staticPublicKey();
  const manager = NoiseManager.newServer(server);
  // One checked session first (and the code paths warmed up).
  const first = await clientStartIkDirect(client, pinned);
  const accepted = await manager.acceptConnection(first.firstMsg);
  const link = await clientCompleteIk(first.hs, accepted.response);
  const ct = link.encrypt(new TextEncoder().encode("check"));
  if (new TextDecoder().decode(await manager.decrypt(accepted.sessionId, ct)) !== "check") {
    throw new Error("compare self-check failed: memory session");
  }
  manager.removeSession(accepted.sessionId)?.destroy();
  link.destroy();

  const forcedGc = await collect();
  const before = process.memoryUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const start = await clientStartIkDirect(client, pinned);
    await manager.acceptConnection(start.firstMsg);
    start.hs.destroy();
  }
  const secs = (performance.now() - t0) / 1000;
  await collect();
  const held = process.memoryUsage();
  if (manager.listSessions().length !== n) throw new Error("compare: sessions missing");
  for (const id of manager.listSessions()) manager.removeSession(id)?.destroy();
  return {
    heapPerSession: (held.heapUsed - before.heapUsed) / n,
    rssPerSession: (held.rss - before.rss) / n,
    forcedGc,
    secs,
  };
}
