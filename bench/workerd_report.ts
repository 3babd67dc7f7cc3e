/**
 * Our rows timed inside workerd (Cloudflare's runtime, through miniflare), under Node:
 *
 * ```sh
 * node --import tsx bench/workerd_report.ts
 * ```
 *
 * workerd's clocks stand still while a request computes, so the worker
 * (`workerd_timing_worker.ts`) only runs a row N times, and this driver times each request
 * from outside. A request of the `noop` row with the same N is timed beside each sample and
 * subtracted (the cost of dispatching a request). Per row: N is grown until a request takes
 * ≥ 150 ms, then 5 samples; the median is printed. The peers of `compare_report.ts` do not
 * load in workerd (native addons, `node:crypto` ChaCha20-Poly1305), so this table has ours only.
 *
 * Options: `--samples=5`, `--only=raw-xx,t1-64,…`.
 *
 * @module
 */
import { join } from "node:path";
import type { Miniflare } from "miniflare";
import { bundleWorker } from "../tests/workerd/_bundle.ts";

const ROWS = [
  ["raw-xx", "raw XX handshake (both sides)", 0],
  ["raw-ik", "raw IK handshake (both sides)", 0],
  ["pubky-xx", "Pubky XX handshake (both sides)", 0],
  ["pubky-ik", "Pubky IK handshake (both sides)", 0],
  ["t1-64", "T1 64 B", 64],
  ["t1-1024", "T1 1024 B", 1024],
  ["t1-16384", "T1 16384 B", 16384],
  ["t1-65519", "T1 65519 B", 65519],
] as const;
const CONFIGS = [
  { name: "workerd, no flags", flags: [] as string[] },
  { name: "workerd, nodejs_compat", flags: ["nodejs_compat"] },
];

function option(name: string, fallback: string): string {
  const hit = process.argv.slice(2).find((a) => a.startsWith(`--${name}=`));
  return hit === undefined ? fallback : hit.slice(name.length + 3);
}
const SAMPLES = Number(option("samples", "5"));
const ONLY = option("only", "").split(",").filter((s) => s !== "");

async function timed(mf: Miniflare, row: string, n: number): Promise<number> {
  const t0 = performance.now();
  const response = await mf.dispatchFetch(`http://localhost/?row=${row}&n=${n}`);
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${row}: ${response.status} ${text}`);
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const fmt = (x: number) =>
  x >= 10_000 ? `${(x / 1000).toFixed(0)} k` : Math.round(x).toLocaleString("en-US");

const { Miniflare: MiniflareClass } = await import("miniflare");
const script = await bundleWorker(new URL("./workerd_timing_worker.ts", import.meta.url));
const results = new Map<string, Map<string, string>>();
const notes: string[] = [];
for (const config of CONFIGS) {
  const mf = new MiniflareClass({
    modules: [{ type: "ESModule", path: join(process.cwd(), "timing.mjs"), contents: script }],
    compatibilityDate: "2025-01-01",
    compatibilityFlags: config.flags,
  });
  try {
    const backends = await (await mf.dispatchFetch("http://localhost/?backends=1")).text();
    notes.push(`- ${config.name}: ${backends}`);
    const column = new Map<string, string>();
    for (const [id, , bytes] of ROWS) {
      if (ONLY.length > 0 && !ONLY.includes(id)) continue;
      let n = 1;
      await timed(mf, id, n); // warm-up, and the row's self-check on first use
      while (n < 1e6 && (await timed(mf, id, n)) < 150) n *= 2;
      const rates: number[] = [];
      for (let s = 0; s < SAMPLES; s++) {
        const base = await timed(mf, "noop", n);
        const ms = await timed(mf, id, n) - base;
        rates.push((n / ms) * 1000);
      }
      const rate = median(rates);
      column.set(
        id,
        bytes > 0
          ? `${fmt(rate)} msg/s · ${((rate * bytes) / 1e6).toFixed(1)} MB/s`
          : `${fmt(rate)}/s`,
      );
    }
    results.set(config.name, column);
  } finally {
    await mf.dispose();
  }
}

console.log(`- Date: ${new Date().toISOString().slice(0, 16)}Z; miniflare's workerd, under Node`);
console.log(notes.join("\n") + "\n");
console.log(`| row | ${CONFIGS.map((c) => c.name).join(" | ")} |`);
console.log(`|---|${CONFIGS.map(() => "---:").join("|")}|`);
for (const [id, title] of ROWS) {
  if (ONLY.length > 0 && !ONLY.includes(id)) continue;
  console.log(
    `| ${title} | ${CONFIGS.map((c) => results.get(c.name)?.get(id) ?? "–").join(" | ")} |`,
  );
}
