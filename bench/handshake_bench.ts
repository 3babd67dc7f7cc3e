/**
 * Handshakes per second, both sides in one process: full Pubky XX (TOFU) and IK through
 * `NoiseClient`/`NoiseServer` and the datalink adapter, and raw Noise XX/IK (`HandshakeState`
 * alone). Each group has our default suite beside the all-noble reference (the baseline, so
 * `deno bench` prints "× faster"); the Pubky groups also have the strict all-noble variant.
 * See bench/README.md and bench/scenarios.ts.
 *
 * Run: `npx deno bench -A bench/handshake_bench.ts`
 *
 * @module
 */
import { handshakeRows } from "./scenarios.ts";

for (const row of await handshakeRows()) {
  Deno.bench({ name: `${row.id} ours (default suite)`, group: row.id, fn: row.ours.op });
  Deno.bench({
    name: `${row.id} reference (all-noble)`,
    group: row.id,
    baseline: true,
    fn: row.ref.op,
  });
  if (row.strict) {
    Deno.bench({
      name: `${row.id} reference, strict (noble verify too)`,
      group: row.id,
      fn: row.strict.op,
    });
  }
}
