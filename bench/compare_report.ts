/**
 * Side-by-side comparison with the other JavaScript Noise implementations, in one process and one
 * run: our raw and Pubky XX/IK handshakes, T1 (encrypt + decrypt of one transport message) at
 * 64 B, 1 KiB, 16 KiB and 65519 B, and the streams layer over loopback TCP, beside
 * `noise-handshake`, `@chainsafe/libp2p-noise` (core and stream) and `@noble/ciphers` alone; then
 * the memory of 10,000 idle sessions. Prints Markdown tables, the ratios and which of the issue's
 * targets hold in this run.
 *
 * ```sh
 * npx deno run -A --v8-flags=--expose-gc bench/compare_report.ts
 * npx bun bench/compare_report.ts
 * node --expose-gc --import tsx bench/compare_report.ts
 * ```
 *
 * Options: `--sample-ms=300`, `--samples=5`, `--only=xx,ik,t1-64,…,tcp-bulk,tcp-64,memory`,
 * `--sessions=10000`.
 *
 * Method (as `report.ts`): per variant a warm-up of one sample length, which also picks a batch
 * of ≥ 2 ms; then `--samples` samples per variant, the variants of a row interleaved sample by
 * sample in alternating order; the figure is the median.
 *
 * @module
 */
import { cpus } from "node:os";
import { loadCryptoSuite, suiteBackends } from "../mod.ts";
import {
  type CmpRow,
  handshakeRows,
  LABELS,
  loadPeers,
  socketRows,
  transportRows,
} from "./compare_scenarios.ts";
import { idleSessionMemory } from "./compare_memory.ts";
import { timeInterleaved } from "./timing.ts";

interface RuntimeGlobals {
  Deno?: { version: { deno: string; v8: string }; args: string[] };
  Bun?: { version: string };
  process?: { versions: Record<string, string | undefined>; argv: string[] };
}
const g = globalThis as unknown as RuntimeGlobals;
const RUNTIME: "deno" | "bun" | "node" = g.Deno ? "deno" : g.Bun ? "bun" : "node";

function runtimeName(): string {
  if (g.Deno) return `Deno ${g.Deno.version.deno} (V8 ${g.Deno.version.v8})`;
  if (g.Bun) return `Bun ${g.Bun.version} (JavaScriptCore)`;
  const v = g.process?.versions ?? {};
  return `Node ${v.node ?? "?"} (V8 ${v.v8 ?? "?"})`;
}

function option(name: string, fallback: string): string {
  const argv = g.Deno ? g.Deno.args : g.process?.argv.slice(2) ?? [];
  const hit = argv.find((a) => a.startsWith(`--${name}=`));
  return hit === undefined ? fallback : hit.slice(name.length + 3);
}

const SAMPLE_MS = Number(option("sample-ms", "300"));
const SAMPLES = Number(option("samples", "5"));
const SESSIONS = Number(option("sessions", "10000"));
const ONLY = option("only", "").split(",").filter((s) => s !== "");
const wanted = (id: string) => ONLY.length === 0 || ONLY.includes(id);

interface Measured {
  row: CmpRow;
  /** Median operations per second, by label. */
  ops: Map<string, number>;
  /** Min–max, by label. */
  spread: Map<string, [number, number]>;
}

async function measure(row: CmpRow): Promise<Measured> {
  const t = await timeInterleaved(row.variants, { samples: SAMPLES, sampleMs: SAMPLE_MS });
  const ops = new Map<string, number>();
  const spread = new Map<string, [number, number]>();
  row.variants.forEach((v, i) => {
    ops.set(v.label, t.median[i]);
    spread.set(v.label, [t.min[i], t.max[i]]);
  });
  return { row, ops, spread };
}

function num(x: number): string {
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} M`;
  if (x >= 1e4) return `${(x / 1e3).toFixed(0)} k`;
  if (x >= 100) return Math.round(x).toLocaleString("en-US");
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

function ratio(a: number | undefined, b: number | undefined): string {
  return a === undefined || b === undefined ? "–" : `${(a / b).toFixed(2)}×`;
}

/** "1,234/s" for handshakes, "91 k msg/s · 5.8 MB/s" for messages. */
function cell(m: Measured, label: string): string {
  const missing = m.row.missing.find((x) => x.label === label);
  if (missing) return "n/a";
  const ops = m.ops.get(label);
  if (ops === undefined) return "–";
  if (m.row.bytes === 0) return `${num(ops)}/s`;
  const msgs = ops * m.row.count;
  const mbs = (ops * m.row.bytes) / 1e6;
  return `${num(msgs)} msg/s · ${num(mbs)} MB/s`;
}

function table(title: string, labels: string[], results: Measured[]): string[] {
  const present = labels.filter((l) =>
    results.some((r) => r.ops.has(l) || r.row.missing.some((x) => x.label === l))
  );
  const lines = [`| ${title} | ${present.join(" | ")} |`];
  lines.push(`|---|${present.map(() => "---:").join("|")}|`);
  for (const r of results) {
    lines.push(`| ${r.row.title} | ${present.map((l) => cell(r, l)).join(" | ")} |`);
  }
  return lines;
}

interface Target {
  what: string;
  value: number | undefined;
  goal: number;
}

function targetLine(t: Target): string {
  if (t.value === undefined) return `- ${t.what}: not measured here`;
  const v = t.goal >= 1000 ? num(t.value) : `${t.value.toFixed(2)}×`;
  const goal = t.goal >= 1000 ? num(t.goal) : `${t.goal}×`;
  return `- ${t.value >= t.goal ? "**met**" : "**not met**"}: ${t.what}: ${v} (target ≥ ${goal})`;
}

async function main(): Promise<void> {
  const started = performance.now();
  const suite = suiteBackends(await loadCryptoSuite());
  const peers = await loadPeers();
  const cpu = cpus();
  const out: string[] = [];
  out.push(`- Runtime: ${runtimeName()}, ${new Date().toISOString().slice(0, 16)}Z`);
  out.push(`- CPU: ${cpu.length} × ${cpu[0]?.model.trim() ?? "?"}`);
  out.push(`- Ours: dh=${suite.dh}, cipher=${suite.cipher}, hash=${suite.hash}`);
  out.push(
    "error" in peers.nh
      ? `- noise-handshake: does not load here (${peers.nh.error})`
      : `- noise-handshake 4.2 on ${peers.nh.sodium} (its suite: 25519_ChaChaPoly_BLAKE2b)`,
  );
  out.push(
    "error" in peers.lp
      ? `- @chainsafe/libp2p-noise: does not load here (${peers.lp.error})`
      : `- @chainsafe/libp2p-noise 17 (25519_ChaChaPoly_SHA256, default crypto${
        peers.lp.cipherNote ? `; ${peers.lp.cipherNote}` : ""
      })`,
  );
  out.push(
    `- Method: median of ${SAMPLES} × ${SAMPLE_MS} ms samples after a warm-up, variants ` +
      `interleaved`,
  );

  const all: Measured[] = [];
  const run = async (rows: CmpRow[]) => {
    const res: Measured[] = [];
    for (const row of rows) {
      if (wanted(row.id)) res.push(await measure(row));
      row.close();
    }
    all.push(...res);
    return res;
  };
  const some = (prefix: string) => ONLY.length === 0 || ONLY.some((id) => id.startsWith(prefix));
  const hs = some("xx") || some("ik") ? await run(await handshakeRows(peers)) : [];
  const t1 = some("t1") ? await run(await transportRows(peers)) : [];
  const tcp = some("tcp") ? await run(await socketRows(peers)) : [];

  const L = LABELS;
  if (hs.length > 0) {
    out.push("");
    out.push(
      ...table(
        "handshakes/s",
        [L.oursRaw, L.oursPubky, L.oursStream, L.nh, L.lpCore, L.lpStream],
        hs,
      ),
    );
  }
  if (hs.length > 0) {
    out.push("");
    out.push(
      "| handshake ratio | ours raw ÷ noise-handshake | ours raw ÷ libp2p-noise core | " +
        "ours Pubky ÷ ours raw | ours Pubky ÷ libp2p-noise stream |",
    );
    out.push("|---|---:|---:|---:|---:|");
    for (const r of hs) {
      const raw = r.ops.get(L.oursRaw);
      const pubky = r.ops.get(L.oursPubky);
      out.push(
        `| ${r.row.id.toUpperCase()} | ${ratio(raw, r.ops.get(L.nh))} | ` +
          `${ratio(raw, r.ops.get(L.lpCore))} | ${ratio(pubky, raw)} | ` +
          `${ratio(pubky, r.ops.get(L.lpStream))} |`,
      );
    }
  }
  if (t1.length > 0) {
    out.push("");
    out.push(...table("T1", [L.oursRaw, L.oursAsync, L.nh, L.lpCore, L.noble], t1));
    out.push("");
    out.push(
      "| T1 ratio, ours ÷ | noise-handshake | libp2p-noise core | @noble/ciphers alone | " +
        "ours async calls ÷ @noble/ciphers alone |",
    );
    out.push("|---|---:|---:|---:|---:|");
    for (const r of t1) {
      const o = r.ops.get(L.oursRaw);
      const noble = r.ops.get(L.noble);
      out.push(
        `| ${r.row.bytes} B | ${ratio(o, r.ops.get(L.nh))} | ${ratio(o, r.ops.get(L.lpCore))} | ` +
          `${ratio(o, noble)} | ${ratio(r.ops.get(L.oursAsync), noble)} |`,
      );
    }
  }
  if (tcp.length > 0) {
    out.push("");
    out.push(
      ...table(
        "loopback TCP (both ends in this process)",
        [L.oursStream, L.lpStream, L.plain],
        tcp,
      ),
    );
    out.push("");
    out.push("| loopback TCP ratio | ours ÷ libp2p-noise stream | ours ÷ plaintext |");
    out.push("|---|---:|---:|");
    for (const r of tcp) {
      const o = r.ops.get(L.oursStream);
      out.push(
        `| ${r.row.id} | ${ratio(o, r.ops.get(L.lpStream))} | ${ratio(o, r.ops.get(L.plain))} |`,
      );
    }
  }

  let memory: Awaited<ReturnType<typeof idleSessionMemory>> | undefined;
  if (wanted("memory")) {
    memory = await idleSessionMemory(SESSIONS);
    out.push("");
    out.push(
      `Memory: ${SESSIONS.toLocaleString("en-US")} idle established sessions in a server ` +
        `\`NoiseManager\` (IK): **${Math.round(memory.heapPerSession).toLocaleString("en-US")} B ` +
        `heap per session** (RSS ${Math.round(memory.rssPerSession).toLocaleString("en-US")} B)` +
        (memory.forcedGc ? ", full GC before each reading" : ", no forced GC: rough") +
        `; ${SESSIONS.toLocaleString("en-US")} IK handshakes took ${memory.secs.toFixed(1)} s.`,
    );
  }

  // Targets of the issue, as ratios in this run.
  const get = (id: string, label: string) => all.find((m) => m.row.id === id)?.ops.get(label);
  const targets: Target[] = [];
  const rawXx = get("xx", L.oursRaw);
  const nhXx = get("xx", L.nh);
  if (RUNTIME === "bun" || RUNTIME === "deno") {
    const goal = RUNTIME === "bun" ? 1.0 : 0.5;
    targets.push({
      what: "raw XX ÷ noise-handshake XX",
      value: rawXx && nhXx ? rawXx / nhXx : undefined,
      goal,
    });
  }
  const lpXx = get("xx", L.lpCore);
  targets.push({
    what: "raw XX ÷ libp2p-noise (core) XX",
    value: rawXx && lpXx ? rawXx / lpXx : undefined,
    goal: 5,
  });
  const pubkyXx = get("xx", L.oursPubky);
  targets.push({
    what: "Pubky XX ÷ our raw XX",
    value: rawXx && pubkyXx ? pubkyXx / rawXx : undefined,
    goal: 0.7,
  });
  const t1Big = get("t1-65519", L.oursRaw);
  if (RUNTIME === "bun") {
    const noble = get("t1-65519", L.noble);
    targets.push({
      what: "T1 65519 B ÷ @noble/ciphers alone (synchronous calls)",
      value: t1Big && noble ? t1Big / noble : undefined,
      goal: 1.5,
    });
    const t1Async = get("t1-65519", L.oursAsync);
    targets.push({
      what: "T1 65519 B ÷ @noble/ciphers alone (async calls, as the streams use)",
      value: t1Async && noble ? t1Async / noble : undefined,
      goal: 1.5,
    });
  } else {
    const nh = get("t1-65519", L.nh);
    targets.push({
      what: "T1 65519 B ÷ noise-handshake",
      value: t1Big && nh ? t1Big / nh : undefined,
      goal: 1.0,
    });
  }
  targets.push({ what: "T1 64 B, messages/s", value: get("t1-64", L.oursRaw), goal: 100_000 });
  const tcpOurs = get("tcp-bulk", L.oursStream);
  const tcpLp = get("tcp-bulk", L.lpStream);
  const tcpPlain = get("tcp-bulk", L.plain);
  targets.push({
    what: "streams over loopback TCP ÷ libp2p-noise stream (bulk)",
    value: tcpOurs && tcpLp ? tcpOurs / tcpLp : undefined,
    goal: 2,
  });
  targets.push({
    what: "streams over loopback TCP ÷ plaintext on the same socket type (bulk)",
    value: tcpOurs && tcpPlain ? tcpOurs / tcpPlain : undefined,
    goal: 0.7,
  });
  if (memory) {
    targets.push({
      what: "bytes of heap per idle session (≤ 4096; shown as 4096 ÷ bytes)",
      value: 4096 / memory.heapPerSession,
      goal: 1,
    });
  }
  out.push("");
  out.push(`Targets in this run (${RUNTIME}):`);
  out.push("");
  for (const t of targets) out.push(targetLine(t));

  out.push("");
  out.push(
    "Sample spread (min–max operations/s): " +
      all.map((m) =>
        `${m.row.id} ` +
        [...m.spread].map(([l, [lo, hi]]) => `${l} ${num(lo)}–${num(hi)}`).join(", ")
      ).join("; ") + ".",
  );
  const missing = all.flatMap((m) =>
    m.row.missing.map((x) => `${m.row.id} ${x.label}: ${x.reason}`)
  );
  if (missing.length > 0) out.push(`Not measured: ${missing.join("; ")}.`);
  out.push(`Total run time: ${((performance.now() - started) / 1000).toFixed(1)} s.`);
  console.log(out.join("\n"));
}

await main();
// Sockets and libp2p timers may linger: the report is done.
if (g.Deno) (g.Deno as unknown as { exit(code: number): never }).exit(0);
else (g.process as unknown as { exit(code: number): never }).exit(0);
