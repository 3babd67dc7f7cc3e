/**
 * The conformance suite of `conformance_worker.ts`, run inside workerd (Cloudflare's
 * runtime) through miniflare: the worker is bundled with esbuild, started once per
 * configuration, and every check it reports must pass.
 *
 * Runs under Node only (`npx tsx --test tests/workerd/workerd.test.ts`); `deno test`
 * and `bun test` pick the file up too and skip it.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Miniflare } from "miniflare";
import type { ConformanceReport } from "./conformance_worker.ts";
import { hashWasmModuleBytes } from "./_hash_wasm_modules.ts";
import { bundleWorker } from "./_bundle.ts";

const SKIP: string | false = "Deno" in globalThis || "Bun" in globalThis
  ? "workerd runs through miniflare under Node: npx tsx --test tests/workerd/workerd.test.ts"
  : false;

/** How one workerd configuration is started, and the backends it must detect. */
interface Config {
  name: string;
  compatibilityFlags: string[];
  /** Give the worker hash-wasm's BLAKE2s module, compiled by workerd (a `CompiledWasm` module). */
  blake2sWasm: boolean;
  backends: { dh: string; cipher: string; hash: string };
}

const CONFIGS: Config[] = [
  {
    name: "workerd, compatibility date 2025-01-01, no flags",
    compatibilityFlags: [],
    blake2sWasm: false,
    backends: { dh: "webcrypto", cipher: "noble", hash: "noble" },
  },
  {
    name: "workerd with nodejs_compat",
    compatibilityFlags: ["nodejs_compat"],
    blake2sWasm: false,
    backends: { dh: "webcrypto", cipher: "node+noble", hash: "noble" },
  },
  {
    name: "workerd, no flags, with hash-wasm's BLAKE2s as a CompiledWasm module",
    compatibilityFlags: [],
    blake2sWasm: true,
    backends: { dh: "webcrypto", cipher: "noble", hash: "noble" },
  },
];

/**
 * Checks that fail for a known, reported reason: run and shown as TODO (a failure does not
 * fail the file). Remove an entry once its cause is fixed.
 */
/** Checks known to fail in workerd, with the reason (shown as TODO, not failing CI). */
const KNOWN_ISSUES: Record<string, string> = {};

/** The main module of the wasm configuration: the suite, given the module workerd compiled. */
const WASM_ENTRY = `import blake2sWasm from "./blake2s.wasm";
import { runConformance } from "./conformance_worker.mjs";
export default {
  async fetch() {
    return Response.json(await runConformance({ BLAKE2S_WASM: blake2sWasm }));
  },
};
`;

describe("workerd conformance (miniflare)", { skip: SKIP }, () => {
  let bundle = "";

  before(async () => {
    bundle = await bundleWorker(new URL("./conformance_worker.ts", import.meta.url));
  });

  test("the bundle leaves node:crypto to the runtime, as a dynamic import only", () => {
    assert.match(bundle, /import\(\s*"node:crypto"\s*\)/);
    assert.doesNotMatch(bundle, /^\s*import[^(]*from\s*"node:/m, "no static node: import");
    assert.doesNotMatch(bundle, /require\(\s*"node:/, "no require of node: modules");
  });

  for (const config of CONFIGS) {
    describe(config.name, () => {
      let mf: Miniflare | undefined;
      let report: ConformanceReport;

      before(async () => {
        const { Miniflare } = await import("miniflare");
        const { join } = await import("node:path");
        // Paths inside the cwd (workerd refuses paths that leave it); nothing is read from disk.
        const at = (name: string) => join(process.cwd(), name);
        const worker = {
          type: "ESModule" as const,
          path: at("conformance_worker.mjs"),
          contents: bundle,
        };
        mf = new Miniflare({
          modules: config.blake2sWasm
            ? [
              // workerd has no wasm bindings for module workers: the module is imported instead.
              { type: "ESModule", path: at("conformance_entry.mjs"), contents: WASM_ENTRY },
              worker,
              {
                type: "CompiledWasm",
                path: at("blake2s.wasm"),
                contents: await hashWasmModuleBytes("blake2s"),
              },
            ]
            : [worker],
          compatibilityDate: "2025-01-01",
          compatibilityFlags: config.compatibilityFlags,
        });
        const response = await mf.dispatchFetch("http://localhost/");
        const text = await response.text();
        assert.equal(response.status, 200, `the worker answered ${response.status}: ${text}`);
        report = JSON.parse(text) as ConformanceReport;
      }, { timeout: 60_000 });

      after(async () => {
        await mf?.dispose();
      });

      test("the worker runs in workerd", () => {
        assert.equal(report.runtime, "Cloudflare-Workers");
      });

      test(`detected backends: ${JSON.stringify(config.backends)}`, () => {
        assert.deepEqual(report.backends, config.backends);
        const nodeCompat = config.compatibilityFlags.includes("nodejs_compat");
        // With nodejs_compat, node:crypto's Ed25519 verify passes the same probe as WebCrypto's.
        assert.deepEqual(report.ed25519, {
          sign: "webcrypto",
          verify: nodeCompat ? "node" : "webcrypto",
        });
        if (nodeCompat) {
          assert.equal(report.nodeCrypto, "available");
        } else {
          assert.match(report.nodeCrypto, /No such module "node:crypto"/);
        }
      });

      test("every conformance check passes", async (t) => {
        const minimum = config.blake2sWasm ? 52 : 40;
        assert.ok(report.results.length >= minimum, `only ${report.results.length} checks ran`);
        const names = new Set(report.results.map((r) => r.name));
        assert.equal(names.size, report.results.length, "check names are unique");
        if (config.blake2sWasm) {
          assert.ok(
            names.has("precompiled BLAKE2s: hash-wasm's module loads and agrees with noble"),
          );
        }
        for (const r of report.results) {
          await t.test(r.name, { todo: KNOWN_ISSUES[r.name] ?? false }, () => {
            assert.ok(r.ok, `${r.name}: ${r.error}`);
          });
        }
        const failed = report.results.filter((r) => !r.ok && !(r.name in KNOWN_ISSUES))
          .map((r) => `${r.name}: ${r.error}`);
        assert.deepEqual(failed, [], "failed checks");
        t.diagnostic(`timings (ms): ${JSON.stringify(report.timings)}`);
      });
    });
  }
});
