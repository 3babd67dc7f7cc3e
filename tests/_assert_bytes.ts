/**
 * Byte comparisons for tests that move large buffers. `assert.deepEqual` on arrays of ~100 KB
 * builds a diff of every element when they differ, which takes minutes and looks like a hang;
 * these report the length, or the first byte that differs, at once.
 *
 * @module
 */
import assert from "node:assert/strict";

/** Where `a` and `b` first differ, or -1 when they are equal. */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/** `actual` holds exactly the bytes of `expected` (and is not `null`). */
export function assertBytes(
  actual: Uint8Array | null | undefined,
  expected: Uint8Array,
  what = "bytes",
): asserts actual is Uint8Array {
  assert.ok(actual instanceof Uint8Array, `${what}: not a Uint8Array but ${actual}`);
  assert.equal(actual.length, expected.length, `${what}: length`);
  const at = firstDifference(actual, expected);
  assert.equal(at, -1, `${what}: first difference at byte ${at}`);
}

/** `actual` is the same sequence of chunks as `expected`, chunk for chunk. */
export function assertChunks(actual: Uint8Array[], expected: Uint8Array[], what = "chunks"): void {
  assert.equal(actual.length, expected.length, `${what}: number of chunks`);
  actual.forEach((chunk, i) => assertBytes(chunk, expected[i], `${what}, chunk ${i}`));
}
