/**
 * Stream throughput with `Deno.bench`: the rows of `stream_scenarios.ts` (encrypt→decrypt
 * stream pair, framed + encrypted loopback TCP, the message layer at 1 MiB and 64 MiB), each
 * beside its baseline (`baseline: true`, so the summary reads "N× slower than the baseline").
 * `deno bench` reports time per operation; `bench/report.ts` turns the same rows into MB/s.
 *
 * Run: `npx deno bench -A bench/stream_bench.ts`
 *
 * @module
 */
import { streamRows } from "./stream_scenarios.ts";

const rows = await streamRows();
for (const row of rows) {
  // An `async` function: `Deno.bench` awaits only those (a function that returns a promise is
  // timed as synchronous, and its runs would overlap).
  const [ours, ref] = [row.ours.op, row.ref.op];
  // Each operation moves up to 64 MiB: a few iterations are enough.
  const n = row.bytes >= 16 << 20 ? 10 : 100;
  Deno.bench({
    name: `${row.id} streams`,
    group: row.id,
    n,
    warmup: 2,
    fn: async () => {
      await ours();
    },
  });
  Deno.bench({
    name: `${row.id} baseline: ${row.baseline}`,
    group: row.id,
    baseline: true,
    n,
    warmup: 2,
    fn: async () => {
      await ref();
    },
  });
}
// The TCP row's sockets would keep the process alive after the benchmarks.
globalThis.addEventListener("unload", () => {
  for (const row of rows) void row.close();
});
