/**
 * BLAKE3-256, used for the identity binding digest: hash-wasm's WebAssembly build where wasm
 * compiles and agrees with `@noble/hashes` (several times faster: a Pubky handshake hashes four
 * bindings), noble until then and wherever wasm is not allowed (workerd).
 *
 * `blake3` stays synchronous: the wasm hasher is loaded in the background by
 * {@linkcode preloadBlake3} (which `loadCryptoSuite` calls), and used once it is ready.
 *
 * @module
 */
import { blake3 as nobleBlake3 } from "@noble/hashes/blake3.js";
import { createBLAKE3, type IHasher } from "hash-wasm";
import { NoiseError, NoiseErrorCode } from "../errors.ts";

let wasmHasher: IHasher | null = null;
let loading: Promise<boolean> | undefined;

/** hash-wasm's BLAKE3-256 of `data`, on one reused hasher (every call is synchronous). */
function wasmBlake3(hasher: IHasher, data: Uint8Array): Uint8Array {
  hasher.init();
  hasher.update(data);
  return hasher.digest("binary");
}

/**
 * Loads hash-wasm's BLAKE3 once, and checks it against noble on inputs across its 1024-byte
 * chunk boundary. Resolves to whether {@linkcode blake3} now runs on it.
 *
 * @example
 * ```ts
 * import { preloadBlake3 } from "./blake3.ts";
 * console.log(await preloadBlake3()); // true where wasm compiles (not in workerd)
 * ```
 */
export function preloadBlake3(): Promise<boolean> {
  return loading ??= (async () => {
    try {
      const hasher = await createBLAKE3();
      for (const length of [0, 97, 1024, 1025, 3000]) {
        const probe = new Uint8Array(length).map((_, i) => i * 7);
        const a = wasmBlake3(hasher, probe);
        const b = nobleBlake3(probe);
        if (a.length !== 32 || a.some((x, i) => x !== b[i])) return false;
      }
      wasmHasher = hasher;
      return true;
    } catch {
      return false; // "Wasm code generation disallowed by embedder" (workerd): noble it is.
    }
  })();
}

/**
 * The 32-byte BLAKE3 hash (unkeyed, default output length) of `data`.
 *
 * @example
 * ```ts
 * import { blake3 } from "./blake3.ts";
 * import { toHex } from "../bytes.ts";
 * console.log(toHex(blake3(new Uint8Array(0))));
 * // af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262
 * ```
 */
export function blake3(data: Uint8Array): Uint8Array {
  if (!(data instanceof Uint8Array)) {
    throw new NoiseError(NoiseErrorCode.Other, "blake3 input must be a Uint8Array");
  }
  if (wasmHasher !== null) return wasmBlake3(wasmHasher, data);
  void preloadBlake3();
  return nobleBlake3(data);
}

/**
 * The BLAKE3 backend {@linkcode blake3} uses right now: `"hash-wasm"` once loaded, else `"noble"`.
 *
 * @example
 * ```ts
 * import { blake3BackendName, preloadBlake3 } from "./blake3.ts";
 * await preloadBlake3();
 * console.log(blake3BackendName()); // "hash-wasm" in Deno, Bun and Node
 * ```
 */
export function blake3BackendName(): "hash-wasm" | "noble" {
  return wasmHasher === null ? "noble" : "hash-wasm";
}
