/**
 * BLAKE2s from a precompiled `WebAssembly.Module`, for runtimes that forbid compiling
 * wasm at run time but accept a module compiled at deploy time: Cloudflare workerd
 * (a `CompiledWasm` module or a wasm binding), where `hash-wasm` cannot load and the
 * library falls back to `@noble/hashes` (about 6× slower per HKDF).
 *
 * The module is hash-wasm's own BLAKE2s build (the 6,731-byte module embedded in
 * hash-wasm 4.x), driven through its exports: `memory`, `Hash_GetBuffer()`,
 * `Hash_Init(bits)`, `Hash_Update(length)` and `Hash_Final()`. The result is checked
 * against noble before it is returned, so a wrong module is refused, never used.
 *
 * @example
 * ```ts ignore
 * // In a worker with `import blake2sWasm from "./blake2s.wasm"` (a CompiledWasm module):
 * import { loadCryptoSuite, NoiseClient } from "@pubky/noise";
 * import { blake2sFromWasmModule } from "./lib/crypto/blake2s_precompiled.ts";
 * const suite = { ...await loadCryptoSuite(), hash: await blake2sFromWasmModule(blake2sWasm) };
 * const client = new NoiseClient("kid", "client-device-0001", ring, { suite });
 * ```
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";
import { nobleBlake2s, type NoiseHash, noiseHashOver } from "./blake2s.ts";

/** The exports of hash-wasm's BLAKE2s module that this backend uses. */
interface Blake2sExports {
  memory: WebAssembly.Memory;
  Hash_GetBuffer(): number;
  Hash_Init(param: number): void;
  Hash_Update(length: number): void;
  Hash_Final(): void;
}

/** Bytes copied into the module's I/O buffer per `Hash_Update` (hash-wasm's own chunk). */
const CHUNK = 16 * 1024;
const DIGEST_BITS = 256;
const REQUIRED = ["memory", "Hash_GetBuffer", "Hash_Init", "Hash_Update", "Hash_Final"];

/**
 * A {@linkcode NoiseHash} (name `"hash-wasm-precompiled"`) over hash-wasm's BLAKE2s
 * module, already compiled. Rejects with `NoiseError` (Other) when the module lacks
 * the expected exports or does not compute BLAKE2s-256.
 */
export async function blake2sFromWasmModule(module: WebAssembly.Module): Promise<NoiseHash> {
  if (!(module instanceof WebAssembly.Module)) {
    throw new NoiseError(NoiseErrorCode.Other, "blake2sFromWasmModule needs a WebAssembly.Module");
  }
  const names = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  const missing = REQUIRED.filter((n) => !names.has(n));
  if (missing.length > 0) {
    throw new NoiseError(
      NoiseErrorCode.Other,
      `not hash-wasm's BLAKE2s module: missing exports ${missing.join(", ")}`,
    );
  }
  let wasm: Blake2sExports;
  try {
    const instance = await WebAssembly.instantiate(module, {});
    wasm = instance.exports as unknown as Blake2sExports;
  } catch (e) {
    throw new NoiseError(NoiseErrorCode.Other, `cannot instantiate the BLAKE2s module: ${e}`);
  }
  const offset = wasm.Hash_GetBuffer();
  let io = new Uint8Array(wasm.memory.buffer, offset, CHUNK);
  /** The I/O window, renewed if the memory ever grew (which detaches the old buffer). */
  const ioView = (): Uint8Array => {
    if (io.byteLength === 0) io = new Uint8Array(wasm.memory.buffer, offset, CHUNK);
    return io;
  };

  let used = 0;
  const hasher = noiseHashOver("hash-wasm-precompiled", {
    init() {
      wasm.Hash_Init(DIGEST_BITS);
      used = 32;
    },
    update(data) {
      for (let off = 0; off < data.length; off += CHUNK) {
        const chunk = data.subarray(off, off + CHUNK);
        ioView().set(chunk);
        wasm.Hash_Update(chunk.length);
        if (chunk.length > used) used = chunk.length;
      }
    },
    digest() {
      wasm.Hash_Final();
      const out = ioView().slice(0, 32);
      ioView().fill(0, 0, used); // no key material left in the I/O buffer
      return out;
    },
  });

  // Refuse a module that is not BLAKE2s-256: one short and one multi-chunk input vs noble.
  const noble = nobleBlake2s();
  const long = new Uint8Array(CHUNK + 100).map((_, i) => i * 7);
  for (const probe of [new Uint8Array([0x61, 0x62, 0x63]), long]) {
    const a = hasher.hash(probe);
    const b = noble.hash(probe);
    if (a.length !== b.length || a.some((x, i) => x !== b[i])) {
      throw new NoiseError(NoiseErrorCode.Other, "the wasm module does not compute BLAKE2s-256");
    }
  }
  return hasher;
}
