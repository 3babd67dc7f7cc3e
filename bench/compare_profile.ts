/**
 * Loops one variant of one comparison row (`compare_scenarios.ts`), for CPU profiling:
 *
 * ```sh
 * npx deno run -A --cpu-prof --cpu-prof-dir=/tmp/prof bench/compare_profile.ts tcp-bulk "ours streams" 4000
 * npx deno run -A bench/profile_top.ts /tmp/prof/*.cpuprofile 20
 * ```
 *
 * Arguments: row id, variant label, milliseconds.
 *
 * @module
 */
import { handshakeRows, loadPeers, socketRows, transportRows } from "./compare_scenarios.ts";

interface RuntimeGlobals {
  Deno?: { args: string[]; exit(code: number): never };
  process?: { argv: string[]; exit(code: number): never };
}
const g = globalThis as unknown as RuntimeGlobals;
const [id = "xx", label = "ours raw", msText = "4000"] = g.Deno?.args ?? g.process?.argv.slice(2) ??
  [];

const peers = await loadPeers();
const rows = id.startsWith("t1")
  ? await transportRows(peers)
  : id.startsWith("tcp")
  ? await socketRows(peers)
  : await handshakeRows(peers);
const row = rows.find((r) => r.id === id);
if (!row) throw new Error(`unknown row ${id}; rows: ${rows.map((r) => r.id).join(", ")}`);
const variant = row.variants.find((v) => v.label === label);
if (!variant) {
  throw new Error(`row ${id} has no "${label}": ${row.variants.map((v) => v.label).join(", ")}`);
}
const ms = Number(msText);
const t0 = performance.now();
let n = 0;
while (performance.now() - t0 < ms) {
  if (variant.sync) variant.op();
  else await variant.op();
  n++;
}
const rate = n / ((performance.now() - t0) / 1000);
console.log(`${id} ${label}: ${rate.toFixed(1)} ops/s over ${ms} ms`);
for (const r of rows) r.close();
if (g.Deno) g.Deno.exit(0);
else g.process?.exit(0);
