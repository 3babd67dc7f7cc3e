/**
 * The wasm modules embedded (base64) in hash-wasm's ESM build, as bytes: what a
 * worker would ship as a precompiled (`CompiledWasm`) module. Works under Node,
 * Deno and Bun.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** The bytes of hash-wasm's module `name` ("blake2s", "blake2b", "sha256", …). */
export async function hashWasmModuleBytes(name: string): Promise<Uint8Array<ArrayBuffer>> {
  const main = createRequire(import.meta.url).resolve("hash-wasm");
  const source = await readFile(join(dirname(main), "index.esm.js"), "utf8");
  const m = new RegExp(`var name\\$(\\w+) = "${name}";\\s*var data\\$\\1 = "([A-Za-z0-9+/=]+)"`)
    .exec(source);
  if (!m) {
    throw new Error(`hash-wasm's ESM build has no embedded "${name}" module (layout changed?)`);
  }
  const binary = atob(m[2]);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  if (bytes[0] !== 0x00 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new Error(`hash-wasm's "${name}" data is not a wasm module`);
  }
  return bytes;
}
