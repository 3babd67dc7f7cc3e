/**
 * Before/after of a change, in one process: loads `compare_scenarios.ts` from two trees of the
 * library (this one and `--base=DIR`, e.g. `git archive HEAD | tar -x -C /tmp/base` with this
 * `bench/compare_*.ts` copied in and `node_modules` linked) and times our variants of each row
 * from both trees, interleaved sample by sample. The ratio after ÷ before is what the change log in
 * `bench/README.md` records: on a noisy machine, figures from separate runs differ by more than
 * most changes.
 *
 * ```sh
 * npx deno run -A bench/compare_ab.ts --base=/tmp/base --only=xx,ik,t1-64
 * npx bun bench/compare_ab.ts --base=/tmp/base
 * npx tsx bench/compare_ab.ts --base=/tmp/base
 * ```
 *
 * @module
 */
import { pathToFileURL } from "node:url";
import type { CmpRow } from "./compare_scenarios.ts";
import { timeInterleaved } from "./timing.ts";

interface RuntimeGlobals {
  Deno?: { args: string[]; exit(code: number): never };
  Bun?: unknown;
  process?: { argv: string[]; exit(code: number): never };
}
const g = globalThis as unknown as RuntimeGlobals;

function option(name: string, fallback: string): string {
  const argv = g.Deno ? g.Deno.args : g.process?.argv.slice(2) ?? [];
  const hit = argv.find((a) => a.startsWith(`--${name}=`));
  return hit === undefined ? fallback : hit.slice(name.length + 3);
}

const BASE = option("base", "/tmp/base");
const SAMPLE_MS = Number(option("sample-ms", "300"));
const SAMPLES = Number(option("samples", "7"));
const ONLY = option("only", "xx,ik,t1-64,t1-1024,t1-16384,t1-65519").split(",");
const OURS = ["ours raw", "ours Pubky", "ours streams"];

type Scenarios = typeof import("./compare_scenarios.ts");

async function rowsOf(s: Scenarios): Promise<CmpRow[]> {
  const none = { nh: { error: "skipped" }, lp: { error: "skipped" } };
  const rows: CmpRow[] = [];
  if (ONLY.some((id) => id === "xx" || id === "ik")) rows.push(...await s.handshakeRows(none));
  if (ONLY.some((id) => id.startsWith("t1"))) rows.push(...await s.transportRows(none));
  if (ONLY.some((id) => id.startsWith("tcp"))) rows.push(...await s.socketRows(none));
  return rows.filter((r) => ONLY.includes(r.id));
}

const before = await import(pathToFileURL(`${BASE}/bench/compare_scenarios.ts`).href) as Scenarios;
const after = await import("./compare_scenarios.ts") as Scenarios;
const [rowsBefore, rowsAfter] = [await rowsOf(before), await rowsOf(after)];
console.log(`| row | variant | before | after | after ÷ before |`);
console.log(`|---|---|---:|---:|---:|`);
for (const rowA of rowsAfter) {
  const rowB = rowsBefore.find((r) => r.id === rowA.id);
  if (!rowB) continue;
  for (const label of OURS) {
    const a = rowA.variants.find((v) => v.label === label);
    const b = rowB.variants.find((v) => v.label === label);
    if (!a || !b) continue;
    const t = await timeInterleaved([b, a], { samples: SAMPLES, sampleMs: SAMPLE_MS });
    const [mb, ma] = t.median;
    const unit = rowA.bytes === 0 ? "/s" : " msg/s";
    const f = (x: number) => `${Math.round(x * rowA.count).toLocaleString("en-US")}${unit}`;
    console.log(`| ${rowA.id} | ${label} | ${f(mb)} | ${f(ma)} | **${(ma / mb).toFixed(2)}×** |`);
  }
  rowA.close();
  rowB.close();
}
if (g.Deno) g.Deno.exit(0);
else g.process?.exit(0);
