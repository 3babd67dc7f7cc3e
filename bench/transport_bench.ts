/**
 * Transport throughput: one `TransportState.writeMessage` and the peer's `readMessage` per
 * iteration (nonces stay in step), at 64 B, 1 KiB, 16 KiB and 65519 B (the largest plaintext),
 * our default suite beside the all-noble reference (the baseline). `deno bench` reports time per
 * iteration; bench/report.ts turns the same rows into MB/s.
 *
 * Run: `npx deno bench -A bench/transport_bench.ts`
 *
 * @module
 */
import { transportRows } from "./scenarios.ts";

for (const row of await transportRows()) {
  Deno.bench({ name: `${row.id} ours (default suite)`, group: row.id, fn: row.ours.op });
  Deno.bench({
    name: `${row.id} reference (noble)`,
    group: row.id,
    baseline: true,
    fn: row.ref.op,
  });
}
