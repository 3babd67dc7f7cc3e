/**
 * `deno run -A tools/check_examples.ts`: every symbol exported by a package
 * entry (jsr.json `exports`) must carry JSDoc with an `@example`; `deno test
 * --doc` then runs them. Prints the ones that do not and exits 1.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import process from "node:process";

const jsr = JSON.parse(readFileSync(new URL("../jsr.json", import.meta.url), "utf8"));
const entries = Object.values(jsr.exports as Record<string, string>);
const out = new Deno.Command(Deno.execPath(), { args: ["doc", "--json", ...entries] }).outputSync();
if (!out.success) {
  console.error(new TextDecoder().decode(out.stderr));
  process.exit(1);
}
interface DocNode {
  name: string;
  declarations: { kind: string; jsDoc?: { tags?: { kind: string }[] } }[];
}
const doc = JSON.parse(new TextDecoder().decode(out.stdout)) as {
  nodes: Record<string, { symbols: DocNode[] }>;
};
const missing: string[] = [];
let total = 0;
for (const [specifier, { symbols }] of Object.entries(doc.nodes)) {
  for (const symbol of symbols) {
    // A re-export of a symbol documented in another entry is checked there.
    if (symbol.declarations.every((d) => d.kind === "reference")) continue;
    total++;
    const documented = symbol.declarations.some((d) =>
      d.jsDoc?.tags?.some((t) => t.kind === "example")
    );
    if (!documented) missing.push(`${specifier.split("/").pop()}: ${symbol.name}`);
  }
}
for (const m of missing) console.log(`no @example: ${m}`);
console.log(`${total - missing.length} of ${total} exports have an @example`);
process.exit(missing.length > 0 ? 1 : 0);
