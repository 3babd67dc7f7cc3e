/**
 * Ed25519 behind a small interface, with interchangeable backends:
 *
 * - **webcrypto**: the seed is imported once as a non-extractable PKCS#8 `Ed25519` key and
 *   signing happens inside the runtime (OpenSSL, BoringSSL or Rust). Used wherever it works.
 * - **noble**: `@noble/curves` (pure JS). Used where WebCrypto has no Ed25519; the signer keeps
 *   a private copy of the seed because noble needs it for every signature.
 * - **node** (verification only): `node:crypto.verify`, synchronous, so a verification costs no
 *   thread hop (WebCrypto's `verify` is a promise that Deno and Node settle on another thread).
 *   Only public keys are involved. Signing stays on WebCrypto: `node:crypto` signs only with a
 *   `KeyObject`, which can be exported, and the seed must stay a non-extractable `CryptoKey`.
 *
 * Both signers produce the same deterministic RFC 8032 signatures; the backends are detected once
 * per process (and cross-checked against noble on fixed inputs) by {@linkcode ed25519BackendName}.
 *
 * ## Verification semantics
 *
 * The Rust crate verifies with ed25519-dalek 2 `verify`: cofactorless equation, canonical `s`,
 * `R` compared byte-for-byte, but any decodable public key is accepted (including small-order
 * and non-canonically encoded ones). `@noble/curves` with `zip215: false` rejects small-order and
 * non-canonical keys and `R`, but checks the *cofactored* equation, so it accepts a few crafted
 * mixed-order signatures that dalek rejects. Measured on the 15 "Taming the many EdDSAs"
 * (ed25519-speccheck) vectors: WebCrypto on Node and Bun accepts exactly dalek 2's set
 * (#1, #3, #5, #6, #14), Deno's WebCrypto additionally rejects #14 (non-canonical key), and noble
 * accepts #4–#8.
 *
 * {@linkcode verifyEd25519} therefore accepts a signature only if **both** rules accept it:
 * noble's key and encoding rules (canonical `A` and `R`, `A` not of small order, `s < L`) and
 * the cofactorless equation. Compared with dalek it only additionally rejects small-order and
 * non-canonical public keys (speccheck #1, #3, #14), which no honest key produces; it never
 * accepts a signature that dalek or noble rejects. The result is the same on Deno, Bun and Node.
 *
 * - node verify (fastest, Deno, Bun and Node): noble decodes and checks `A` and the encodings of
 *   `R`/`s` (cheap), then `node:crypto.verify` checks the cofactorless equation. It is used only
 *   if the one-time probe shows that the runtime rejects a non-canonical `s` and a
 *   cofactored-only signature (speccheck #4) while accepting a valid one.
 * - webcrypto verify (workerd, and wherever `node:crypto` fails the probe): the same checks,
 *   with the equation on WebCrypto, under the same probe.
 * - noble verify (fallback): `ed25519.verify(..., { zip215: false })` and, because noble is
 *   cofactored, additionally requires `A` and `R` to be torsion-free (equivalent to the
 *   cofactorless equation whenever `A` is torsion-free). It also rejects mixed-order public keys
 *   (speccheck #5, #6), which honest keys never are.
 *
 * Speed (median ops/s, this VM, `bench` loop outside the tests; Node 20 / Deno 2.9 / Bun 1.4):
 * sign webcrypto 11k / 18k / 36k vs noble 1.6k / 3.9k / 3.5k; verify webcrypto fast path
 * 3.1k / 6.1k / 7.3k vs noble 0.87k / 2.0k / 2.2k (noble fallback with torsion checks
 * 0.35k / 0.83k / 1.1k); `node:crypto.verify` with the key imported once is 1.5× / 2.2× / 1.5×
 * WebCrypto's verify.
 *
 * @module
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToNumberLE } from "@noble/curves/utils.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { NoiseError, NoiseErrorCode } from "../errors.ts";
import { copyBytes, encodeBase64Url, toHex } from "../bytes.ts";
import { importRfc8410Secret } from "./pkcs8.ts";
import { inspectAsString } from "../redacted.ts";

/** Length of an Ed25519 seed (secret key) in bytes. */
const SEED_LEN = 32;
/** Length of an Ed25519 public key in bytes. */
const PUBLIC_KEY_LEN = 32;
/** Length of an Ed25519 signature in bytes. */
const SIGNATURE_LEN = 64;
const ALG = { name: "Ed25519" } as const;
/** The field prime p = 2^255 - 19 and the group order L. */
const P = ed25519.Point.Fp.ORDER;
const L = ed25519.Point.Fn.ORDER;
const Y_MASK = (1n << 255n) - 1n;

/**
 * An Ed25519 signing key whose secret never leaves the object.
 *
 * @example
 * ```ts
 * import { importEd25519Seed, type Ed25519Signer } from "@pubky/noise";
 * const signer: Ed25519Signer = await importEd25519Seed(new Uint8Array(32).fill(0x2a));
 * const sig = await signer.sign(new TextEncoder().encode("hello"));
 * console.log(signer.publicKey.length, sig.length); // 32 64
 * ```
 */
export interface Ed25519Signer {
  /** The 32-byte public key (a fresh copy on each read). */
  readonly publicKey: Uint8Array;
  /** The deterministic RFC 8032 signature (64 bytes) of `message`. */
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/**
 * Name of an Ed25519 backend.
 *
 * @example
 * ```ts
 * import { ed25519BackendName, type Ed25519BackendName } from "@pubky/noise";
 * const name: Ed25519BackendName = await ed25519BackendName();
 * console.log(name); // "webcrypto" or "noble"
 * ```
 */
export type Ed25519BackendName = "webcrypto" | "noble" | "node";

/**
 * One Ed25519 implementation: seed import (signing) and verification.
 *
 * @example
 * ```ts
 * import { ed25519Backends } from "./ed25519.ts";
 * const noble = ed25519Backends.noble;
 * const signer = await noble.importSeed(new Uint8Array(32).fill(1));
 * const msg = new Uint8Array([1, 2, 3]);
 * console.log(await noble.verify(signer.publicKey, msg, await signer.sign(msg))); // true
 * ```
 */
export interface Ed25519Backend {
  /** `"webcrypto"`, `"noble"` or `"node"`. */
  readonly name: Ed25519BackendName;
  /**
   * Imports a 32-byte seed as a signer. The webcrypto backend rejects with `NoiseError` (Ring)
   * when the runtime has no usable WebCrypto Ed25519. The node backend signs with WebCrypto too:
   * a seed never becomes an exportable `node:crypto` key.
   */
  importSeed(seed: Uint8Array): Promise<Ed25519Signer>;
  /**
   * Verifies `signature` over `message` with this backend only; `false` for any malformed input.
   * The webcrypto and node backends reject with `NoiseError` (Ring) when the runtime has no
   * usable WebCrypto or `node:crypto` Ed25519 verification.
   */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

// ---------------------------------------------------------------------------------------------
// helpers

function isBytes(value: unknown, length?: number): value is Uint8Array {
  return value instanceof Uint8Array && (length === undefined || value.length === length);
}

/** `bytes` as a view WebCrypto's types accept (copied only if backed by a SharedArrayBuffer). */
function bufferSource(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer
    ? bytes as Uint8Array<ArrayBuffer>
    : new Uint8Array(bytes);
}

function checkSeed(seed: Uint8Array): void {
  if (!isBytes(seed, SEED_LEN)) {
    throw new NoiseError(NoiseErrorCode.Ring, "Ed25519 seed must be 32 bytes");
  }
}

function checkMessage(message: Uint8Array): void {
  if (!isBytes(message)) {
    throw new NoiseError(NoiseErrorCode.Ring, "Ed25519 message must be a Uint8Array");
  }
}

/** Redacted description shared by `toString`, `toJSON` and the inspectors. */
function describe(backend: Ed25519BackendName, publicKey: Uint8Array): string {
  return `Ed25519Signer { backend: "${backend}", publicKey: "${
    toHex(publicKey)
  }", secret: [redacted] }`;
}

/**
 * The public key of `seed` (RFC 8032 §5.1.5), as `ed25519.getPublicKey`, but with the SHA-512
 * expansion of the seed (the secret scalar and nonce prefix) wiped instead of left to the GC.
 */
function publicKeyOfSeed(seed: Uint8Array): Uint8Array {
  const expanded = sha512(seed);
  try {
    const head = expanded.subarray(0, 32);
    head[0] &= 248;
    head[31] &= 127;
    head[31] |= 64;
    return ed25519.Point.BASE.multiply(bytesToNumberLE(head) % L).toBytes();
  } finally {
    expanded.fill(0);
  }
}

/** `seed` as a non-extractable WebCrypto signing key (PKCS#8; the DER copy is wiped). */
function importPkcs8(seed: Uint8Array): Promise<CryptoKey> {
  return importRfc8410Secret("Ed25519", seed, ["sign"]);
}

// ---------------------------------------------------------------------------------------------
// signers

class WebCryptoSigner implements Ed25519Signer {
  readonly #key: CryptoKey;
  readonly #publicKey: Uint8Array;

  constructor(key: CryptoKey, publicKey: Uint8Array) {
    this.#key = key;
    this.#publicKey = publicKey;
  }

  get publicKey(): Uint8Array {
    return copyBytes(this.#publicKey);
  }

  async sign(message: Uint8Array): Promise<Uint8Array> {
    checkMessage(message);
    try {
      return new Uint8Array(await crypto.subtle.sign(ALG, this.#key, bufferSource(message)));
    } catch {
      throw new NoiseError(NoiseErrorCode.Ring, "Ed25519 signing failed");
    }
  }

  toString(): string {
    return describe("webcrypto", this.#publicKey);
  }
  toJSON(): string {
    return this.toString();
  }
}
inspectAsString(WebCryptoSigner);

class NobleSigner implements Ed25519Signer {
  readonly #seed: Uint8Array;
  readonly #publicKey: Uint8Array;

  constructor(seed: Uint8Array, publicKey: Uint8Array) {
    this.#seed = seed;
    this.#publicKey = publicKey;
  }

  get publicKey(): Uint8Array {
    return copyBytes(this.#publicKey);
  }

  sign(message: Uint8Array): Promise<Uint8Array> {
    try {
      checkMessage(message);
      return Promise.resolve(ed25519.sign(message, this.#seed));
    } catch (e) {
      return Promise.reject(
        e instanceof NoiseError ? e : new NoiseError(NoiseErrorCode.Ring, "Ed25519 signing failed"),
      );
    }
  }

  toString(): string {
    return describe("noble", this.#publicKey);
  }
  toJSON(): string {
    return this.toString();
  }
}
inspectAsString(NobleSigner);

// ---------------------------------------------------------------------------------------------
// verification

/**
 * Noble's decoding rules for the signature, checked without the (expensive) equation:
 * `R` canonically encoded (`y < p`, no "negative zero"), `s < L`.
 */
function signatureEncodingAcceptable(signature: Uint8Array): boolean {
  const s = bytesToNumberLE(signature.subarray(32, 64));
  if (s >= L) return false;
  const rBytes = signature.subarray(0, 32);
  const ry = bytesToNumberLE(rBytes) & Y_MASK;
  if (ry >= P) return false;
  return !((rBytes[31] & 0x80) !== 0 && (ry === 1n || ry === P - 1n)); // x = 0, sign 1
}

/** Noble's decoding rules for the key: `A` canonical and not of small order. */
function publicKeyAcceptable(publicKey: Uint8Array): boolean {
  try {
    return !ed25519.Point.fromBytes(publicKey, false).isSmallOrder();
  } catch {
    return false;
  }
}

/**
 * Public keys already checked and imported for verification, one cache per backend. Peers
 * reconnect with the same identity, and both the point decompression (a field square root) and
 * the import cost more than the verification itself. Bounded, oldest evicted first; they hold
 * public keys only. `null` marks a key that noble's rules refuse.
 */
const MAX_VERIFY_KEYS = 1024;

function cachedVerifyKey<K>(
  cache: Map<string, K | null>,
  publicKey: Uint8Array,
  importKey: () => K,
): K | null {
  const id = toHex(publicKey);
  let key = cache.get(id);
  if (key === undefined) {
    key = publicKeyAcceptable(publicKey) ? importKey() : null;
    if (cache.size >= MAX_VERIFY_KEYS) cache.delete(cache.keys().next().value!);
    cache.set(id, key);
  }
  return key;
}

const webCryptoVerifyKeys = new Map<string, Promise<CryptoKey> | null>();

function webCryptoVerifyKeyFor(publicKey: Uint8Array): Promise<CryptoKey> | null {
  return cachedVerifyKey(webCryptoVerifyKeys, publicKey, () => {
    const key = crypto.subtle.importKey("raw", bufferSource(publicKey), ALG, false, ["verify"]);
    key.catch(() => webCryptoVerifyKeys.delete(toHex(publicKey)));
    return key;
  });
}

/** The subset of `node:crypto` the node verifier needs (structural: no Node types). */
interface NodeEd25519Crypto {
  createPublicKey(key: { key: { kty: "OKP"; crv: "Ed25519"; x: string }; format: "jwk" }): object;
  verify(algorithm: null, data: Uint8Array, key: object, signature: Uint8Array): boolean;
}

const nodeVerifyKeys = new Map<string, object | null>();

function nodeImport(nc: NodeEd25519Crypto, publicKey: Uint8Array): object {
  return nc.createPublicKey({
    key: { kty: "OKP", crv: "Ed25519", x: encodeBase64Url(publicKey) },
    format: "jwk",
  });
}

/** The equation on `node:crypto` (cofactorless where the probe accepts it); throws on failure. */
function nodeEquation(
  nc: NodeEd25519Crypto,
  key: object,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  return nc.verify(null, message, key, signature) === true;
}

/** The equation on WebCrypto (cofactorless on every runtime the probe accepts). */
async function webCryptoEquation(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  const key = await crypto.subtle.importKey("raw", bufferSource(publicKey), ALG, false, [
    "verify",
  ]);
  return await crypto.subtle.verify(ALG, key, bufferSource(signature), bufferSource(message));
}

function wellFormed(publicKey: unknown, message: unknown, signature: unknown): boolean {
  return isBytes(publicKey, PUBLIC_KEY_LEN) && isBytes(message) &&
    isBytes(signature, SIGNATURE_LEN);
}

/** Fast path: noble's key/encoding rules, then the cofactorless equation on WebCrypto. */
async function verifyWebCryptoUnchecked(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  if (!signatureEncodingAcceptable(signature)) return false;
  const key = webCryptoVerifyKeyFor(publicKey);
  if (key === null) return false;
  return await crypto.subtle.verify(ALG, await key, bufferSource(signature), bufferSource(message));
}

/** Fastest path: noble's key/encoding rules, then the cofactorless equation on `node:crypto`. */
function verifyNodeUnchecked(
  nc: NodeEd25519Crypto,
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (!signatureEncodingAcceptable(signature)) return false;
  const key = cachedVerifyKey(nodeVerifyKeys, publicKey, () => nodeImport(nc, publicKey));
  if (key === null) return false;
  return nodeEquation(nc, key, message, signature);
}

/** Fallback: noble (cofactored, RFC 8032 decoding) plus torsion-free `A` and `R`. */
function verifyNobleSync(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (!wellFormed(publicKey, message, signature)) return false;
  try {
    if (!ed25519.verify(signature, message, publicKey, { zip215: false })) return false;
    return ed25519.Point.fromBytes(publicKey, false).isTorsionFree() &&
      ed25519.Point.fromBytes(signature.subarray(0, 32), false).isTorsionFree();
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// feature detection (once per process)

interface Capabilities {
  /** WebCrypto signs, and agrees with noble. */
  sign: boolean;
  /** WebCrypto's verify passes the probe. */
  webCryptoVerify: boolean;
  /** `node:crypto`, if its verify passes the probe. */
  node: NodeEd25519Crypto | null;
}

/**
 * A verification equation passes the probe if it accepts a valid signature and rejects a
 * tampered message, a non-canonical `s` (`s + L`) and a cofactored-only signature. A throw
 * counts as a rejection, except on the valid signature.
 */
async function passesProbe(
  equation: (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) =>
    | boolean
    | Promise<boolean>,
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  const rejects = async (p: Uint8Array, m: Uint8Array, s: Uint8Array) => {
    try {
      return !(await equation(p, m, s));
    } catch {
      return true;
    }
  };
  // s + L (< 2^254) is the same signature with a non-canonical scalar.
  const s = bytesToNumberLE(signature.subarray(32)) + L;
  const malleated = signature.slice();
  for (let i = 0, v = s; i < 32; i++, v >>= 8n) malleated[32 + i] = Number(v & 0xffn);
  try {
    if (!(await equation(publicKey, message, signature))) return false;
  } catch {
    return false;
  }
  return await rejects(publicKey, message.slice(1), signature) &&
    await rejects(publicKey, message, malleated) &&
    await rejects(
      hex(COFACTORED_ONLY.publicKey),
      hex(COFACTORED_ONLY.message),
      hex(COFACTORED_ONLY.signature),
    );
}

const hex = (h: string): Uint8Array => Uint8Array.from(h.match(/../g)!, (b) => parseInt(b, 16));

/**
 * ed25519-speccheck vector #4 (novifinancial/ed25519-speccheck, cases.json): mixed-order `A`,
 * small-order `R`; valid only under the cofactored equation.
 */
const COFACTORED_ONLY = {
  publicKey: "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
  message: "9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41",
  signature: "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa" +
    "182ef1a5b928da07fec769cc8a12db6bcf70dab3f3227fa315e9d5e3e01a3405",
};

async function probe(): Promise<Capabilities> {
  const caps: Capabilities = { sign: false, webCryptoVerify: false, node: null };
  if (typeof crypto === "undefined" || typeof crypto.subtle?.importKey !== "function") return caps;
  // A fixed, public test seed: the probe handles no secret.
  const seed = new Uint8Array(SEED_LEN).fill(0x5a);
  const message = new TextEncoder().encode("pubky-noise ed25519 backend probe");
  const expected = ed25519.sign(message, seed);
  const publicKey = ed25519.getPublicKey(seed);
  try {
    const key = await importPkcs8(seed);
    const sig = new Uint8Array(await crypto.subtle.sign(ALG, key, message));
    caps.sign = toHex(sig) === toHex(expected);
  } catch {
    caps.sign = false;
  }
  caps.webCryptoVerify = await passesProbe(webCryptoEquation, publicKey, message, expected);
  try {
    const nc = await import("node:crypto") as unknown as NodeEd25519Crypto;
    const nodeWorks = await passesProbe(
      (p, m, s) => nodeEquation(nc, nodeImport(nc, p), m, s),
      publicKey,
      message,
      expected,
    );
    caps.node = nodeWorks ? nc : null;
  } catch {
    // No node:crypto (workerd without nodejs_compat, browsers), or no Ed25519 in it.
  }
  return caps;
}

let capabilities: Promise<Capabilities> | undefined;

function detect(): Promise<Capabilities> {
  capabilities ??= probe();
  return capabilities;
}

const UNAVAILABLE = "WebCrypto Ed25519 is not available in this runtime";

// ---------------------------------------------------------------------------------------------
// public API

/**
 * Imports `seed` with the noble backend (pure JS). The signer keeps a private copy of the seed.
 *
 * @example
 * ```ts
 * import { importEd25519SeedNoble } from "./ed25519.ts";
 * const signer = await importEd25519SeedNoble(new Uint8Array(32).fill(0x2a));
 * console.log(String(signer)); // no secret in here
 * ```
 */
export function importEd25519SeedNoble(seed: Uint8Array): Promise<Ed25519Signer> {
  try {
    checkSeed(seed);
    const copy = copyBytes(seed);
    return Promise.resolve(new NobleSigner(copy, ed25519.getPublicKey(copy)));
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * Imports `seed` as a non-extractable WebCrypto `Ed25519` key (PKCS#8; the temporary buffer is
 * wiped). Rejects with `NoiseError` (Ring) if the runtime has no usable WebCrypto Ed25519.
 *
 * @example
 * ```ts
 * import { ed25519BackendName, importEd25519SeedWebCrypto } from "./ed25519.ts";
 * if (await ed25519BackendName() === "webcrypto") {
 *   const signer = await importEd25519SeedWebCrypto(new Uint8Array(32).fill(0x2a));
 *   console.log((await signer.sign(new Uint8Array(0))).length); // 64
 * }
 * ```
 */
export async function importEd25519SeedWebCrypto(seed: Uint8Array): Promise<Ed25519Signer> {
  checkSeed(seed);
  const copy = copyBytes(seed); // the caller may wipe `seed` while we await
  try {
    if (!(await detect()).sign) throw new NoiseError(NoiseErrorCode.Ring, UNAVAILABLE);
    const publicKey = publicKeyOfSeed(copy);
    let key: CryptoKey;
    try {
      key = await importPkcs8(copy);
    } catch {
      throw new NoiseError(NoiseErrorCode.Ring, "Ed25519 key import failed");
    }
    return new WebCryptoSigner(key, publicKey);
  } finally {
    copy.fill(0);
  }
}

/**
 * Imports a 32-byte Ed25519 seed (RFC 8032 secret key) as a signer, on WebCrypto where the
 * runtime supports it (non-extractable key) and on noble otherwise. The public key is computed
 * once with noble, since WebCrypto cannot derive it from a non-extractable key. The caller may
 * wipe `seed` once the promise resolves.
 *
 * @example
 * ```ts
 * import { importEd25519Seed, toHex } from "@pubky/noise";
 * const signer = await importEd25519Seed(new Uint8Array(32).fill(1));
 * console.log(toHex(signer.publicKey)); // 8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c
 * ```
 */
export async function importEd25519Seed(seed: Uint8Array): Promise<Ed25519Signer> {
  checkSeed(seed);
  const copy = copyBytes(seed); // the caller may wipe `seed` while we await
  try {
    return await ((await detect()).sign
      ? importEd25519SeedWebCrypto(copy)
      : importEd25519SeedNoble(copy));
  } finally {
    copy.fill(0);
  }
}

/**
 * Verifies an Ed25519 signature. Never throws: wrong lengths, non-Uint8Array inputs, undecodable
 * or small-order keys and non-canonical encodings all give `false`. See the module documentation
 * for how this relates to ed25519-dalek's `verify`.
 *
 * @example
 * ```ts
 * import { importEd25519Seed, verifyEd25519 } from "@pubky/noise";
 * const signer = await importEd25519Seed(new Uint8Array(32).fill(7));
 * const msg = new TextEncoder().encode("binding");
 * const sig = await signer.sign(msg);
 * console.log(await verifyEd25519(signer.publicKey, msg, sig)); // true
 * console.log(await verifyEd25519(signer.publicKey, msg, sig.subarray(1))); // false
 * ```
 */
export async function verifyEd25519(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  if (!wellFormed(publicKey, message, signature)) return false;
  const caps = await detect();
  if (caps.node !== null) {
    try {
      return verifyNodeUnchecked(caps.node, publicKey, message, signature);
    } catch {
      // An unexpected node:crypto failure: decide with the next path instead.
    }
  }
  if (caps.webCryptoVerify) {
    try {
      return await verifyWebCryptoUnchecked(publicKey, message, signature);
    } catch {
      // An unexpected WebCrypto failure: decide with the noble path instead.
    }
  }
  return verifyNobleSync(publicKey, message, signature);
}

/**
 * The backend used by {@linkcode importEd25519Seed} (`op = "sign"`, the default) or by
 * {@linkcode verifyEd25519} (`op = "verify"`) in this runtime. Detected once and cached. Signing
 * is `"webcrypto"` or `"noble"`; verification is `"node"` where `node:crypto` passes the probe.
 *
 * @example
 * ```ts
 * import { ed25519BackendName } from "@pubky/noise";
 * console.log(await ed25519BackendName()); // "webcrypto" on Deno, Bun, Node 20+ and workerd
 * console.log(await ed25519BackendName("verify")); // "node" on Deno, Bun and Node
 * ```
 */
export async function ed25519BackendName(
  op: "sign" | "verify" = "sign",
): Promise<Ed25519BackendName> {
  const caps = await detect();
  if (op === "sign") return caps.sign ? "webcrypto" : "noble";
  return caps.node !== null ? "node" : caps.webCryptoVerify ? "webcrypto" : "noble";
}

/**
 * Both backends, for cross-checking them on the same inputs. Application code should use
 * {@linkcode importEd25519Seed} and {@linkcode verifyEd25519}.
 *
 * @example
 * ```ts
 * import { ed25519Backends } from "./ed25519.ts";
 * import { toHex } from "../bytes.ts";
 * const seed = new Uint8Array(32).fill(3);
 * const msg = new Uint8Array([9]);
 * const a = await (await ed25519Backends.noble.importSeed(seed)).sign(msg);
 * const b = await (await ed25519Backends.webcrypto.importSeed(seed)).sign(msg);
 * console.log(toHex(a) === toHex(b)); // true
 * ```
 */
export const ed25519Backends: {
  readonly webcrypto: Ed25519Backend;
  readonly noble: Ed25519Backend;
  readonly node: Ed25519Backend;
} = Object.freeze({
  webcrypto: Object.freeze(
    {
      name: "webcrypto",
      importSeed: importEd25519SeedWebCrypto,
      async verify(
        publicKey: Uint8Array,
        message: Uint8Array,
        signature: Uint8Array,
      ): Promise<boolean> {
        if (!(await detect()).webCryptoVerify) {
          throw new NoiseError(NoiseErrorCode.Ring, UNAVAILABLE);
        }
        if (!wellFormed(publicKey, message, signature)) return false;
        try {
          return await verifyWebCryptoUnchecked(publicKey, message, signature);
        } catch {
          return false;
        }
      },
    } as const,
  ),
  noble: Object.freeze(
    {
      name: "noble",
      importSeed: importEd25519SeedNoble,
      verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
        return Promise.resolve(verifyNobleSync(publicKey, message, signature));
      },
    } as const,
  ),
  node: Object.freeze(
    {
      name: "node",
      importSeed: importEd25519SeedWebCrypto,
      async verify(
        publicKey: Uint8Array,
        message: Uint8Array,
        signature: Uint8Array,
      ): Promise<boolean> {
        const nc = (await detect()).node;
        if (nc === null) {
          throw new NoiseError(NoiseErrorCode.Ring, "node:crypto Ed25519 is not available here");
        }
        if (!wellFormed(publicKey, message, signature)) return false;
        try {
          return verifyNodeUnchecked(nc, publicKey, message, signature);
        } catch {
          return false;
        }
      },
    } as const,
  ),
});
