/**
 * Portable benchmark report: measures the rows of bench/scenarios.ts with `performance.now()`
 * and prints a Markdown table (ours, the all-noble reference, the ratio) plus the runtime and the
 * backends in use. Runs unchanged on Deno, Bun and Node (tsx):
 *
 * ```sh
 * npx deno run -A bench/report.ts
 * npx bun bench/report.ts
 * npx tsx bench/report.ts
 * ```
 *
 * A second table has the stream rows of bench/stream_scenarios.ts (encrypt→decrypt stream pair,
 * framed + encrypted loopback TCP, the message layer), each beside its baseline.
 *
 * Method: per variant a warm-up (~300 ms, which also picks a batch size of ≥ ~2 ms), then 5
 * samples of ~300 ms each; the variants of a row are interleaved sample by sample (the order
 * alternates), so a noisy neighbour hits them alike. The figure is the median of the 5 samples.
 * Options: `--sample-ms=N` (default 300), `--samples=N` (default 5), `--only=ID,ID` (row ids).
 *
 * @module
 */
import { cpus } from "node:os";
import { loadCryptoSuite, nobleCryptoSuite, suiteBackends } from "../mod.ts";
import { ed25519BackendName } from "../lib/crypto/ed25519.ts";
import { handshakeRows, type Row, transportRows } from "./scenarios.ts";
import { type StreamRow, streamRows } from "./stream_scenarios.ts";
import { timeInterleaved } from "./timing.ts";

interface RuntimeGlobals {
  Deno?: { version: { deno: string; v8: string }; args: string[] };
  Bun?: { version: string; revision?: string };
  process?: { versions: Record<string, string | undefined>; argv: string[] };
}
const g = globalThis as unknown as RuntimeGlobals;

function runtimeName(): string {
  if (g.Deno) return `Deno ${g.Deno.version.deno} (V8 ${g.Deno.version.v8})`;
  if (g.Bun) return `Bun ${g.Bun.version} (JavaScriptCore)`;
  const v = g.process?.versions ?? {};
  return `Node ${v.node ?? "?"} (V8 ${v.v8 ?? "?"})`;
}

function args(): string[] {
  if (g.Deno) return g.Deno.args;
  return g.process?.argv.slice(2) ?? [];
}

function option(name: string, fallback: string): string {
  const hit = args().find((a) => a.startsWith(`--${name}=`));
  return hit === undefined ? fallback : hit.slice(name.length + 3);
}

const SAMPLE_MS = Number(option("sample-ms", "300"));
const SAMPLES = Number(option("samples", "5"));
const WARMUP_MS = SAMPLE_MS;
const ONLY = option("only", "").split(",").filter((s) => s !== "");

interface Result {
  row: Row;
  /** Median ops/s per variant label. */
  opsPerSec: Record<string, number>;
  /** Lowest and highest sample per variant label. */
  spread: Record<string, [number, number]>;
}

async function measure(row: Row): Promise<Result> {
  const variants = [row.ours, row.ref, ...(row.strict ? [row.strict] : [])];
  const t = await timeInterleaved(variants.map((v) => ({ op: v.op, sync: row.sync })), {
    samples: SAMPLES,
    sampleMs: SAMPLE_MS,
    warmupMs: WARMUP_MS,
  });
  const opsPerSec: Record<string, number> = {};
  const spread: Record<string, [number, number]> = {};
  variants.forEach((v, i) => {
    opsPerSec[v.label] = t.median[i];
    spread[v.label] = [t.min[i], t.max[i]];
  });
  return { row, opsPerSec, spread };
}

function fmtNumber(x: number): string {
  if (x >= 100) return Math.round(x).toLocaleString("en-US");
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

/** "1,234 ops/s" for handshakes, "123 MB/s" (plaintext bytes, 10^6) for transport rows. */
function fmtRate(row: Row, opsPerSec: number): string {
  if (row.bytes === 0) return `${fmtNumber(opsPerSec)} ops/s`;
  return `${fmtNumber((opsPerSec * row.bytes) / 1e6)} MB/s`;
}

function fmtRatio(a: number, b: number): string {
  return `${(a / b).toFixed(2)}×`;
}

async function main(): Promise<void> {
  const started = performance.now();
  const suite = await loadCryptoSuite();
  const backends = suiteBackends(suite);
  const [edSign, edVerify] = [await ed25519BackendName("sign"), await ed25519BackendName("verify")];
  const cpu = cpus();
  let rows = [...await handshakeRows(), ...await transportRows()];
  if (ONLY.length > 0) rows = rows.filter((r) => ONLY.includes(r.id));

  const results: Result[] = [];
  for (const row of rows) results.push(await measure(row));

  const isStreamId = (id: string) => id.startsWith("stream-") || id.startsWith("msg-");
  let streams: StreamRow[] = [];
  if (ONLY.length === 0 || ONLY.some(isStreamId)) {
    const all = await streamRows();
    streams = ONLY.length === 0 ? all : all.filter((r) => ONLY.includes(r.id));
    for (const r of all) if (!streams.includes(r)) await r.close();
  }
  const streamResults: Result[] = [];
  for (const row of streams) {
    streamResults.push(await measure(row));
    await row.close();
  }

  const lines: string[] = [];
  lines.push(`Runtime: ${runtimeName()}, ${new Date().toISOString().slice(0, 10)}`);
  lines.push(`CPU: ${cpu.length} × ${cpu[0]?.model.trim() ?? "?"}`);
  lines.push(
    `Default suite: dh=${backends.dh}, cipher=${backends.cipher}, hash=${backends.hash}; ` +
      `Ed25519 sign=${edSign}, verify=${edVerify}; DummyRing HKDF-SHA512=webcrypto`,
  );
  const ref = suiteBackends(nobleCryptoSuite());
  lines.push(
    `Reference: dh=${ref.dh}, cipher=${ref.cipher}, hash=${ref.hash}; NobleRing (noble ` +
      `HKDF-SHA512 + Ed25519 sign); peer verify=${edVerify} (library-detected), strict: noble`,
  );
  lines.push(
    `Method: median of ${SAMPLES} × ${SAMPLE_MS} ms samples after a ${WARMUP_MS} ms warm-up, ` +
      `variants interleaved`,
  );
  if (results.length > 0) {
    lines.push("");
    lines.push(
      "| row | ours | reference (all-noble) | ratio | strict all-noble | ratio vs strict |",
    );
    lines.push("|---|---:|---:|---:|---:|---:|");
    for (const { row, opsPerSec } of results) {
      const ours = opsPerSec.ours;
      const refOps = opsPerSec.ref;
      const strict = opsPerSec.strict;
      lines.push(
        `| ${row.title} | ${fmtRate(row, ours)} | ${fmtRate(row, refOps)} | ` +
          `**${fmtRatio(ours, refOps)}** | ${
            strict === undefined ? "–" : fmtRate(row, strict)
          } | ` +
          `${strict === undefined ? "–" : fmtRatio(ours, strict)} |`,
      );
    }
    lines.push("");
    lines.push(spreadLine(results));
  }
  if (streamResults.length > 0) {
    lines.push("");
    lines.push("| stream row | streams | baseline | baseline is | ratio |");
    lines.push("|---|---:|---:|---|---:|");
    for (const { row, opsPerSec } of streamResults) {
      lines.push(
        `| ${row.title} | ${fmtRate(row, opsPerSec.ours)} | ${fmtRate(row, opsPerSec.ref)} | ` +
          `${(row as StreamRow).baseline} | **${fmtRatio(opsPerSec.ours, opsPerSec.ref)}** |`,
      );
    }
    lines.push("");
    lines.push(spreadLine(streamResults));
  }
  lines.push(`Total run time: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  console.log(lines.join("\n"));
}

/** "Sample spread (min–max ops/s): id label lo–hi, …". */
function spreadLine(results: Result[]): string {
  return (
    "Sample spread (min–max ops/s): " +
    results.map(({ row, spread }) =>
      `${row.id} ` +
      Object.entries(spread).map(([k, [lo, hi]]) => `${k} ${fmtNumber(lo)}–${fmtNumber(hi)}`)
        .join(", ")
    ).join("; ")
  );
}

await main();
