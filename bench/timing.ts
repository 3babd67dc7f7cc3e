/**
 * The timing loop every report here shares (`report.ts`, `compare_report.ts`, `compare_ab.ts`):
 * per variant a warm-up that also picks a batch size of at least 2 ms, then `samples` samples of
 * about `sampleMs` each, the variants interleaved sample by sample in alternating order, so that
 * a noisy neighbour hits them alike. The figure of a variant is the median of its samples.
 *
 * @module
 */

/** One operation to time, and whether it returns without a promise. */
export interface Timed {
  op: () => Promise<void> | void;
  sync: boolean;
}

/** How long and how often to sample. */
export interface TimingOptions {
  samples: number;
  sampleMs: number;
  /** Warm-up per variant (default: one sample length). */
  warmupMs?: number;
}

/** Operations per second of each variant: the median, and the lowest and highest sample. */
export interface Timing {
  median: number[];
  min: number[];
  max: number[];
}

/** A batch that takes at least this long is long enough to time with `performance.now()`. */
const MIN_BATCH_MS = 2;

type Batch = (n: number) => Promise<void> | void;

function batchOf({ op, sync }: Timed): Batch {
  if (sync) {
    return (n) => {
      for (let i = 0; i < n; i++) op();
    };
  }
  return async (n) => {
    for (let i = 0; i < n; i++) await op();
  };
}

/** Operations per second over one sample of about `ms` milliseconds. */
async function sample(batch: Batch, n: number, ms: number): Promise<number> {
  let ops = 0;
  const t0 = performance.now();
  let elapsed = 0;
  do {
    await batch(n);
    ops += n;
    elapsed = performance.now() - t0;
  } while (elapsed < ms);
  return ops / (elapsed / 1000);
}

/** Warms `batch` up for about `ms` and returns a batch size that takes ≥ MIN_BATCH_MS. */
async function warmUp(batch: Batch, ms: number): Promise<number> {
  let n = 1;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    const t = performance.now();
    await batch(n);
    if (performance.now() - t < MIN_BATCH_MS) n *= 2;
  }
  return n;
}

/** The median of `xs`. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Times `variants` against each other, interleaved (see the module documentation). */
export async function timeInterleaved(variants: Timed[], options: TimingOptions): Promise<Timing> {
  const batches = variants.map(batchOf);
  const sizes: number[] = [];
  for (const b of batches) sizes.push(await warmUp(b, options.warmupMs ?? options.sampleMs));
  const samples: number[][] = variants.map(() => []);
  for (let s = 0; s < options.samples; s++) {
    const order = variants.map((_, i) => i);
    if (s % 2 === 1) order.reverse();
    for (const i of order) samples[i].push(await sample(batches[i], sizes[i], options.sampleMs));
  }
  return {
    median: samples.map(median),
    min: samples.map((xs) => Math.min(...xs)),
    max: samples.map((xs) => Math.max(...xs)),
  };
}
