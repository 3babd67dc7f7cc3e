/**
 * BLAKE2s-256 and the hash functions Noise builds on it (spec §4.3, §5.2):
 * `HASH`, `HMAC-HASH` (RFC 2104) and `HKDF` (the HMAC chain of §4.3, not RFC 5869).
 *
 * BLAKE2s itself is never written here: `hash-wasm` where the runtime may compile
 * wasm (several times faster on V8), `@noble/hashes` elsewhere (workerd forbids
 * run-time wasm compilation). HMAC and HKDF are the spec's own constructions.
 *
 * @module
 */
import { blake2s } from "@noble/hashes/blake2.js";
import { createBLAKE2s } from "hash-wasm";
import { wipe } from "../bytes.ts";

/** Output length of BLAKE2s-256. */
export const HASHLEN = 32;
/** Block length of BLAKE2s, the HMAC pad length. */
export const BLOCKLEN = 64;

/**
 * The Noise hash functions of one hash (spec §4.3).
 *
 * @example
 * ```ts
 * import { nobleCryptoSuite, type NoiseHash, toHex } from "@pubky/noise";
 * const blake2s: NoiseHash = nobleCryptoSuite().hash;
 * console.log(toHex(blake2s.hash(new TextEncoder().encode("abc"))));
 * // 508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982 (RFC 7693)
 * const [ck, k] = blake2s.hkdf(new Uint8Array(32), new Uint8Array(32), 2); // Noise's HKDF
 * console.log(blake2s.name, ck.length, k.length); // noble 32 32
 * ```
 */
export interface NoiseHash {
  /** `"hash-wasm"` or `"noble"`. */
  readonly name: string;
  /** HASH(concatenation of `parts`). */
  hash(...parts: Uint8Array[]): Uint8Array;
  /** HMAC-HASH(key, concatenation of `parts`). */
  hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array;
  /** HKDF(chainingKey, inputKeyMaterial, numOutputs) with 2 or 3 outputs of 32 bytes. */
  hkdf(chainingKey: Uint8Array, inputKeyMaterial: Uint8Array, numOutputs: 2 | 3): Uint8Array[];
}

/** An incremental hash that can be reset and reused (no allocation per call). */
export interface Hasher {
  init(): void;
  update(data: Uint8Array): void;
  digest(): Uint8Array;
}

/** Inputs up to this length are hashed with one update (see `noiseHashOver`). */
const GATHER_LEN = 256;
const ONE = new Uint8Array([1]);
/** Hashed after each HKDF, so that no key stays in the hasher's state or input buffer. */
const SCRUB = new Uint8Array(BLOCKLEN);
const TWO = new Uint8Array([2]);
const THREE = new Uint8Array([3]);

/** HASH, HMAC and HKDF (spec §4.3) over any resettable BLAKE2s hasher. */
export function noiseHashOver(name: string, hasher: Hasher): NoiseHash {
  const ipad = new Uint8Array(BLOCKLEN);
  const opad = new Uint8Array(BLOCKLEN);

  // Short inputs (every HMAC block, most MixHash calls) are gathered into one buffer and
  // hashed with a single update: each update of a wasm hasher costs a few views and a copy, and
  // on JavaScriptCore reading `.buffer` of a small array (which hash-wasm does per update) is
  // slow. The buffer is made from an ArrayBuffer so that its `.buffer` is cheap everywhere.
  const gather = new Uint8Array(new ArrayBuffer(GATHER_LEN));

  function hash(...parts: Uint8Array[]): Uint8Array {
    hasher.init();
    let total = 0;
    for (const p of parts) total += p.length;
    if (total <= GATHER_LEN) {
      let off = 0;
      for (const p of parts) {
        gather.set(p, off);
        off += p.length;
      }
      hasher.update(gather.subarray(0, total));
      gather.fill(0, 0, total); // it may have held key material (HMAC pads)
    } else {
      for (const p of parts) hasher.update(p);
    }
    return hasher.digest();
  }

  function hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
    const k = key.length > BLOCKLEN ? hash(key) : key;
    ipad.fill(0x36);
    opad.fill(0x5c);
    for (let i = 0; i < k.length; i++) {
      ipad[i] ^= k[i];
      opad[i] ^= k[i];
    }
    if (k !== key) wipe(k);
    const inner = hash(ipad, ...parts);
    const out = hash(opad, inner);
    wipe(inner, ipad, opad);
    return out;
  }

  function hkdf(chainingKey: Uint8Array, ikm: Uint8Array, numOutputs: 2 | 3): Uint8Array[] {
    const tempKey = hmac(chainingKey, ikm);
    const out1 = hmac(tempKey, ONE);
    const out2 = hmac(tempKey, out1, TWO);
    const out3 = numOutputs === 3 ? hmac(tempKey, out2, THREE) : null;
    wipe(tempKey);
    // A wasm hasher keeps its last input block and state (= the last output) in its memory.
    wipe(hash(SCRUB));
    return out3 === null ? [out1, out2] : [out1, out2, out3];
  }

  return { name, hash, hmac, hkdf };
}

/** The portable backend: `@noble/hashes`. */
export function nobleBlake2s(): NoiseHash {
  let state = blake2s.create();
  return noiseHashOver("noble", {
    init() {
      state = blake2s.create();
    },
    update(data) {
      state.update(data);
    },
    digest() {
      return state.digest();
    },
  });
}

/** The fast backend: `hash-wasm` (rejects where the runtime forbids compiling wasm). */
export async function hashWasmBlake2s(): Promise<NoiseHash> {
  const h = await createBLAKE2s(256);
  return noiseHashOver("hash-wasm", {
    init() {
      h.init();
    },
    update(data) {
      h.update(data);
    },
    digest() {
      return h.digest("binary");
    },
  });
}

let detected: Promise<NoiseHash> | undefined;

/** The best BLAKE2s of this runtime: hash-wasm where wasm compiles and agrees, noble otherwise. */
export function detectBlake2s(): Promise<NoiseHash> {
  return detected ??= (async () => {
    try {
      const fast = await hashWasmBlake2s();
      const probe = new Uint8Array(100).fill(9);
      const a = fast.hmac(probe.subarray(0, 32), probe);
      const b = nobleBlake2s().hmac(probe.subarray(0, 32), probe);
      if (a.every((x, i) => x === b[i])) return fast;
    } catch {
      // "Wasm code generation disallowed by embedder" (workerd): noble it is.
    }
    return nobleBlake2s();
  })();
}
