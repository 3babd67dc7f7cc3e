/**
 * A cipher suite: the three primitives of `Noise_*_25519_ChaChaPoly_BLAKE2s`,
 * each from the fastest backend that works in this runtime.
 *
 * @module
 */
import { preloadBlake3 } from "./blake3.ts";
import { type ChaChaPoly, detectChaChaPoly, nobleChaChaPoly } from "./chachapoly.ts";
import { detectBlake2s, nobleBlake2s, type NoiseHash } from "./blake2s.ts";
import { detectX25519, nobleX25519Backend, type X25519 } from "./x25519.ts";

/**
 * The primitives of one Noise cipher suite (spec §4: DH, cipher and hash functions).
 *
 * @example
 * ```ts
 * import { type CryptoSuite, DummyRing, nobleCryptoSuite, NoiseServer, toHex } from "@pubky/noise";
 * const portable: CryptoSuite = nobleCryptoSuite(); // pure JS: where wasm or node:crypto are not allowed
 * const ring = await DummyRing.create(new Uint8Array(32).fill(2), "kid");
 * const server = new NoiseServer("kid", "server-device-0001", ring, { suite: portable });
 * const digest = portable.hash.hash(new TextEncoder().encode("abc")); // BLAKE2s-256
 * console.log(portable.dh.name, toHex(digest).slice(0, 16), (await server.staticPublicKey()).length); // noble 508c5e8c327c14e2 32
 * ```
 */
export interface CryptoSuite {
  /** `25519`. */
  readonly dh: X25519;
  /** `ChaChaPoly`. */
  readonly cipher: ChaChaPoly;
  /** `BLAKE2s`. */
  readonly hash: NoiseHash;
}

/**
 * The names of the backends of a suite, e.g. `{ dh: "webcrypto", cipher: "node", hash: "hash-wasm" }`.
 *
 * @example
 * ```ts
 * import { loadCryptoSuite, type SuiteBackends, suiteBackends } from "@pubky/noise";
 * const backends: SuiteBackends = suiteBackends(await loadCryptoSuite());
 * console.log(`x25519=${backends.dh} chacha20poly1305=${backends.cipher} blake2s=${backends.hash}`);
 * // e.g. in Deno: x25519=node+webcrypto chacha20poly1305=node blake2s=hash-wasm
 * ```
 */
export interface SuiteBackends {
  /** X25519 backend. */
  dh: string;
  /** ChaCha20-Poly1305 backend. */
  cipher: string;
  /** BLAKE2s backend. */
  hash: string;
}

let defaultSuite: Promise<CryptoSuite> | undefined;

/**
 * The fastest suite of this runtime (detected once, then cached).
 *
 * @example
 * ```ts
 * import { loadCryptoSuite, suiteBackends } from "@pubky/noise";
 * console.log(suiteBackends(await loadCryptoSuite()));
 * ```
 */
export function loadCryptoSuite(): Promise<CryptoSuite> {
  return defaultSuite ??= (async () => {
    const [dh, cipher, hash] = await Promise.all([
      detectX25519(),
      detectChaChaPoly(),
      detectBlake2s(),
      preloadBlake3(), // the identity binding's hash, ready before the first handshake
    ]);
    return { dh, cipher, hash };
  })();
}

/**
 * The all-`@noble` suite: portable everywhere, the reference the fast paths are checked against.
 *
 * @example
 * ```ts
 * import { nobleCryptoSuite } from "@pubky/noise";
 * const suite = nobleCryptoSuite();
 * console.log(suite.dh.name, suite.cipher.name, suite.hash.name); // noble noble noble
 * ```
 */
export function nobleCryptoSuite(): CryptoSuite {
  return { dh: nobleX25519Backend, cipher: nobleChaChaPoly, hash: nobleBlake2s() };
}

/**
 * Which backend each primitive of `suite` uses.
 *
 * @example
 * ```ts
 * import { loadCryptoSuite, suiteBackends } from "@pubky/noise";
 * const { dh } = suiteBackends(await loadCryptoSuite());
 * console.log(dh); // "webcrypto" in Deno, Bun, Node and workerd
 * ```
 */
export function suiteBackends(suite: CryptoSuite): SuiteBackends {
  return { dh: suite.dh.name, cipher: suite.cipher.name, hash: suite.hash.name };
}
