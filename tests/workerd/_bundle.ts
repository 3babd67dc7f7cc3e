/**
 * Bundles a worker for workerd (miniflare) as one ESM file, with `node:*` left to the runtime:
 * the conformance suite, the Cloudflare Worker example and the workerd timing bench use it.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** The bundled worker whose entry module is `entry`. */
export async function bundleWorker(entry: URL): Promise<string> {
  const esbuild = await import("esbuild");
  const result = await esbuild.build({
    entryPoints: [fileURLToPath(entry)],
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    mainFields: ["module", "main"],
    conditions: ["workerd", "worker", "browser", "import"],
    external: ["node:*"],
    logLevel: "silent",
  });
  if (result.outputFiles.length !== 1) {
    throw new Error(`expected one bundled file, got ${result.outputFiles.length}`);
  }
  return result.outputFiles[0].text;
}
