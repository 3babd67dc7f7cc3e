/**
 * The default entry loads nothing of the optional entries: the static import
 * graph of `mod.ts` (every `import`/`export ... from`, and dynamic `import()`)
 * reaches no module of `lib/storage/`, `lib/pkarr/`, `lib/session/` or the
 * streams layer, and none of their npm dependencies.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const SPECIFIER =
  /(?:^|[\s;])(?:import|export)\s[^;]*?\sfrom\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|^import\s*["']([^"']+)["']/gm;

/** Every module reachable from `entry`: relative paths of local files, and bare specifiers. */
function importGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = [join(ROOT, entry)];
  while (pending.length > 0) {
    const file = pending.pop()!;
    const rel = relative(ROOT, file);
    if (files.has(rel)) continue;
    files.add(rel);
    // Code only: JSDoc examples (`* import ...`) are not imports.
    const source = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
    for (const m of source.matchAll(SPECIFIER)) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (spec.startsWith(".")) pending.push(join(dirname(file), spec));
      else packages.add(spec);
    }
  }
  return { files, packages };
}

describe("entry isolation", () => {
  const graph = importGraph("mod.ts");

  test("the walk finds the default entry's own modules (it can see imports at all)", () => {
    for (const f of ["lib/client.ts", "lib/noise/handshake_state.ts", "lib/crypto/x25519.ts"]) {
      assert.ok(graph.files.has(f), f);
    }
    assert.ok(graph.packages.has("@noble/curves/ed25519.js"));
  });

  test("mod.ts reaches no module of the storage, pkarr or session entries, nor the streams layer", () => {
    const offending = [...graph.files].filter((f) =>
      /^lib\/(storage|pkarr|session)\//.test(f) ||
      (f.startsWith("lib/streams/") && f !== "lib/streams/streaming_link.ts") ||
      /^(streams|storage|pkarr|sessions)\.ts$/.test(f)
    );
    assert.deepEqual(offending, []);
  });

  test("mod.ts reaches none of the optional entries' npm dependencies", () => {
    assert.deepEqual([...graph.packages].filter((p) => p.includes("dns-packet")), []);
    assert.deepEqual([...graph.packages].filter((p) => p.includes("@synonymdev/pubky")), []);
  });

  test("each optional entry does reach its own modules", () => {
    assert.ok([...importGraph("storage.ts").files].some((f) => f.startsWith("lib/storage/")));
    const pkarr = importGraph("pkarr.ts");
    assert.ok([...pkarr.files].some((f) => f.startsWith("lib/pkarr/")));
    assert.ok([...pkarr.packages].some((p) => p.includes("dns-packet")));
  });
});
