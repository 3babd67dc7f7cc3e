/**
 * Runs one benchmark row variant in a loop, for CPU profiling:
 *
 * ```sh
 * npx deno run -A --cpu-prof --cpu-prof-dir=/tmp/prof bench/profile.ts pubky-xx ours 4000
 * npx deno run -A bench/profile_top.ts /tmp/prof/*.cpuprofile
 * ```
 *
 * Arguments: row id (see `bench/README.md`), variant (`ours`, `ref`, `strict`), milliseconds.
 *
 * @module
 */
import { handshakeRows, type Row, transportRows } from "./scenarios.ts";

interface RuntimeGlobals {
  Deno?: { args: string[] };
  process?: { argv: string[] };
}
const g = globalThis as unknown as RuntimeGlobals;
const [id = "pubky-xx", label = "ours", msText = "4000"] = g.Deno?.args ??
  g.process?.argv.slice(2) ?? [];

const rows: Row[] = id.startsWith("transport") ? await transportRows() : await handshakeRows();
const row = rows.find((r) => r.id === id);
if (!row) throw new Error(`unknown row ${id}; rows: ${rows.map((r) => r.id).join(", ")}`);
const variant = label === "ours" ? row.ours : label === "ref" ? row.ref : row.strict;
if (!variant) throw new Error(`row ${id} has no variant ${label}`);

const ms = Number(msText);
const t0 = performance.now();
let n = 0;
while (performance.now() - t0 < ms) {
  if (row.sync) variant.op();
  else await variant.op();
  n++;
}
const rate = n / ((performance.now() - t0) / 1000);
console.log(`${id} ${label}: ${rate.toFixed(0)} ops/s over ${ms} ms`);
