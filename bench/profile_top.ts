/**
 * Prints the functions with the most self time in a V8 `.cpuprofile` (as written by
 * `deno run --cpu-prof` or `node --cpu-prof`):
 *
 * ```sh
 * npx deno run -A bench/profile_top.ts /tmp/prof/CPU.*.cpuprofile [count] [callers-of]
 * ```
 *
 * With a third argument, it prints instead where the self time of the functions whose name
 * starts with it comes from: their callers, two frames up.
 *
 * `(idle)` is time the main thread waited, e.g. for Deno's WebCrypto ops that run on another
 * thread; `(garbage collector)` and `(program)` are V8's own.
 *
 * @module
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

interface RuntimeGlobals {
  Deno?: { args: string[] };
  process?: { argv: string[] };
}
const g = globalThis as unknown as RuntimeGlobals;
const [file, countText = "15", callersOf] = g.Deno?.args ?? g.process?.argv.slice(2) ?? [];
if (!file) throw new Error("usage: profile_top.ts FILE.cpuprofile [count]");

const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
const nameOf = (id: number): string => {
  const cf = byId.get(id)!.callFrame;
  const where = cf.url ? ` ${cf.url.replace(/^.*\//, "")}:${cf.lineNumber + 1}` : "";
  return `${cf.functionName || "(anonymous)"}${where}`;
};
const self = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  total += dt;
  let key = nameOf(id);
  if (callersOf !== undefined) {
    if (!key.startsWith(callersOf)) return;
    const p1 = parentOf.get(id);
    const p2 = p1 === undefined ? undefined : parentOf.get(p1);
    key = [p1, p2].map((p) => p === undefined ? "-" : nameOf(p)).join(" ← ");
  }
  self.set(key, (self.get(key) ?? 0) + dt);
});
const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(countText));
for (const [name, us] of top) {
  const pct = ((100 * us) / total).toFixed(1).padStart(5);
  console.log(`${pct}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${name}`);
}
console.log(`total ${(total / 1000).toFixed(0)} ms`);
