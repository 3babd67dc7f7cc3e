/**
 * X25519 (RFC 7748) behind one small interface, with three backends:
 * - WebCrypto: fast, and the secret can live in a non-extractable `CryptoKey`;
 * - `node+webcrypto`: static keys as WebCrypto (non-extractable), ephemeral keys
 *   through `node:crypto`, which is synchronous (no thread hop per operation) and
 *   several times faster in Deno, Node and Bun; ephemerals never outlive a handshake;
 * - `@noble/curves`: the portable fallback.
 * All reject an all-zero shared secret (a low-order peer key) with `NoiseError`
 * code 7000, whatever the runtime says.
 *
 * @module
 */
import { x25519 as nobleX25519 } from "@noble/curves/ed25519.js";
import { NoiseError, NoiseErrorCode } from "../errors.ts";
import {
  copyBytes,
  decodeBase64Url,
  encodeBase64Url,
  expectLength,
  isAllZero,
  toHex,
  wipe,
} from "../bytes.ts";
import { importRfc8410Secret } from "./pkcs8.ts";
import { inspectAsString } from "../redacted.ts";

/** Length of an X25519 key or shared secret. */
export const DHLEN = 32;

const REDACTED = "DhKeyPair { secret: [redacted] }";

/** Where a secret lives: WebCrypto key, noble bytes, or a `node:crypto` KeyObject. */
type DhSecret = CryptoKey | Uint8Array | NodeKeyObject;
/**
 * Which backend made a key pair.
 *
 * @example
 * ```ts
 * import { type DhBackendName, loadCryptoSuite, nobleCryptoSuite } from "@pubky/noise";
 * const fresh = await (await loadCryptoSuite()).dh.generateKeyPair();
 * const portable = await nobleCryptoSuite().dh.generateKeyPair();
 * const where: DhBackendName[] = [fresh.backend, portable.backend];
 * console.log(where); // e.g. [ "node", "noble" ] in Deno, Node and Bun
 * ```
 */
export type DhBackendName = "webcrypto" | "noble" | "node";

let secretOf: (keyPair: DhKeyPair) => DhSecret;

/**
 * An X25519 key pair whose secret half stays inside: a non-extractable
 * `CryptoKey` on the WebCrypto backend, a private byte array on the noble one.
 *
 * @example
 * ```ts
 * import { type DhKeyPair, loadCryptoSuite, toHex } from "@pubky/noise";
 * const { dh } = await loadCryptoSuite();
 * const alice: DhKeyPair = await dh.generateKeyPair();
 * const bob: DhKeyPair = await dh.generateKeyPair();
 * const same = toHex(await dh.dh(alice, bob.publicKey)) === toHex(await dh.dh(bob, alice.publicKey));
 * console.log(same, String(alice)); // true DhKeyPair { secret: [redacted] }
 * alice.destroy();
 * bob.destroy();
 * console.log(alice.destroyed); // true
 * ```
 */
export class DhKeyPair {
  /** The 32-byte public key. */
  readonly publicKey: Uint8Array;
  /** Which backend holds the secret. */
  readonly backend: DhBackendName;
  #secret: DhSecret | null;

  static {
    secretOf = (keyPair) => {
      if (keyPair.#secret === null) {
        throw new NoiseError(NoiseErrorCode.Other, "key pair was destroyed");
      }
      return keyPair.#secret;
    };
  }

  /** @internal Backends create key pairs; apps get them from a backend. */
  constructor(
    publicKey: Uint8Array,
    secret: DhSecret,
    backend: DhBackendName,
  ) {
    this.publicKey = publicKey;
    this.#secret = secret;
    this.backend = backend;
  }

  /** Wipes (noble) or drops (WebCrypto) the secret; the pair cannot be used afterwards. */
  destroy(): void {
    if (this.#secret instanceof Uint8Array) wipe(this.#secret);
    this.#secret = null;
  }

  /** Whether {@linkcode DhKeyPair.destroy} was called. */
  get destroyed(): boolean {
    return this.#secret === null;
  }

  /** Redacted. */
  toString(): string {
    return REDACTED;
  }
  /** Redacted: only the public key. */
  toJSON(): { publicKey: string } {
    return {
      publicKey: toHex(this.publicKey),
    };
  }
}
inspectAsString(DhKeyPair);

/**
 * X25519 as the Noise state machine needs it (spec §4.1: GENERATE_KEYPAIR, DH).
 *
 * @example
 * ```ts
 * import { nobleCryptoSuite, type NoiseError, type X25519 } from "@pubky/noise";
 * const x25519: X25519 = nobleCryptoSuite().dh;
 * const keyPair = await x25519.importSecretKey(new Uint8Array(32).fill(1));
 * await x25519.dh(keyPair, new Uint8Array(32)) // a low-order peer key: all-zero shared secret
 *   .catch((e: NoiseError) => console.log(e.codeName)); // InvalidPeerKey
 * console.log(x25519.name, keyPair.publicKey.length); // noble 32
 * keyPair.destroy();
 * ```
 */
export interface X25519 {
  /** `"webcrypto"`, `"node+webcrypto"` or `"noble"`. */
  readonly name: "webcrypto" | "node+webcrypto" | "noble";
  /** A fresh random key pair. */
  generateKeyPair(): Promise<DhKeyPair>;
  /** A key pair from a 32-byte secret; the caller keeps (and wipes) its buffer. */
  importSecretKey(secret: Uint8Array): Promise<DhKeyPair>;
  /** X25519(secret, publicKey); an all-zero result is refused with code 7000. */
  dh(keyPair: DhKeyPair, publicKey: Uint8Array): Promise<Uint8Array>;
}

function invalidPeerKey(): NoiseError {
  return new NoiseError(NoiseErrorCode.InvalidPeerKey);
}

function checkPeerKey(publicKey: Uint8Array): void {
  expectLength(publicKey, DHLEN, "X25519 public key", NoiseErrorCode.InvalidPeerKey);
}

/** The portable backend: `@noble/curves`. */
export const nobleX25519Backend: X25519 = {
  name: "noble",
  // deno-lint-ignore require-await
  async generateKeyPair(): Promise<DhKeyPair> {
    const secret = nobleX25519.utils.randomSecretKey();
    return new DhKeyPair(nobleX25519.getPublicKey(secret), secret, "noble");
  },
  // deno-lint-ignore require-await
  async importSecretKey(secret: Uint8Array): Promise<DhKeyPair> {
    expectLength(secret, DHLEN, "X25519 secret key");
    const own = copyBytes(secret);
    return new DhKeyPair(nobleX25519.getPublicKey(own), own, "noble");
  },
  // deno-lint-ignore require-await
  async dh(keyPair: DhKeyPair, publicKey: Uint8Array): Promise<Uint8Array> {
    checkPeerKey(publicKey);
    const secret = secretOf(keyPair);
    if (!(secret instanceof Uint8Array)) {
      throw new NoiseError(NoiseErrorCode.Other, "key pair belongs to another backend");
    }
    let shared: Uint8Array;
    try {
      shared = nobleX25519.getSharedSecret(secret, publicKey);
    } catch {
      // noble throws "invalid private or public key received" for low-order points.
      throw invalidPeerKey();
    }
    if (isAllZero(shared)) throw invalidPeerKey();
    return shared;
  },
};

const X25519_ALG = { name: "X25519" } as const;
let basePointKey: Promise<CryptoKey> | undefined;

function basePoint(): Promise<CryptoKey> {
  const u9 = new Uint8Array(DHLEN);
  u9[0] = 9;
  return basePointKey ??= crypto.subtle.importKey("raw", u9, X25519_ALG, true, []);
}

async function webCryptoDh(secret: CryptoKey, publicKey: CryptoKey): Promise<Uint8Array> {
  const bits = await crypto.subtle.deriveBits({ name: "X25519", public: publicKey }, secret, 256);
  return new Uint8Array(bits);
}

/** The fast backend: WebCrypto, with non-extractable secrets (PKCS#8 import). */
export const webCryptoX25519Backend: X25519 = {
  name: "webcrypto",
  async generateKeyPair(): Promise<DhKeyPair> {
    const pair = await crypto.subtle.generateKey(X25519_ALG, false, [
      "deriveBits",
    ]) as CryptoKeyPair;
    const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
    return new DhKeyPair(publicKey, pair.privateKey, "webcrypto");
  },
  async importSecretKey(secret: Uint8Array): Promise<DhKeyPair> {
    expectLength(secret, DHLEN, "X25519 secret key");
    const key = await importRfc8410Secret("X25519", secret, ["deriveBits"]);
    // WebCrypto cannot export a non-extractable secret's public key, but X25519(sk, 9) is it.
    const publicKey = await webCryptoDh(key, await basePoint());
    return new DhKeyPair(publicKey, key, "webcrypto");
  },
  async dh(keyPair: DhKeyPair, publicKey: Uint8Array): Promise<Uint8Array> {
    checkPeerKey(publicKey);
    const secret = secretOf(keyPair) as CryptoKey;
    if (keyPair.backend !== "webcrypto") {
      throw new NoiseError(NoiseErrorCode.Other, "key pair belongs to another backend");
    }
    let shared: Uint8Array;
    try {
      const peer = await crypto.subtle.importKey(
        "raw",
        publicKey as BufferSource,
        X25519_ALG,
        true,
        [],
      );
      shared = await webCryptoDh(secret, peer);
    } catch {
      // Runtimes reject low-order points here, each with its own message (OperationError,
      // "Invalid key", "INVALID_PEER_KEY"): one code for all of them.
      throw invalidPeerKey();
    }
    if (isAllZero(shared)) throw invalidPeerKey();
    return shared;
  },
};

/** The subset of `node:crypto` the `node+webcrypto` backend needs (structural: no Node types). */
interface NodeKeyObject {
  export(options: { format: "jwk" }): { x?: string };
}
/** An X25519 public key as a JWK (RFC 8037): `x` is the raw key in unpadded base64url. */
interface X25519Jwk {
  kty: "OKP";
  crv: "X25519";
  x: string;
}
interface NodeX25519Crypto {
  generateKeyPairSync(type: "x25519"): { privateKey: NodeKeyObject; publicKey: NodeKeyObject };
  createPublicKey(key: { key: X25519Jwk; format: "jwk" }): NodeKeyObject;
  diffieHellman(options: { privateKey: NodeKeyObject; publicKey: NodeKeyObject }): Uint8Array;
}

/**
 * `node:crypto` X25519 with keys moved as JWK: Node 20 (OpenSSL 3) imports a DER key through
 * its slow decoder framework (~9k imports/s here) but a JWK as a raw key (~110k/s), which makes
 * a DH with import 3× faster and a key generation with export 3× faster; Deno and Bun take
 * both at about the same speed.
 */
function nodeX25519Backend(nc: NodeX25519Crypto): X25519 {
  return {
    name: "node+webcrypto",
    // deno-lint-ignore require-await
    async generateKeyPair(): Promise<DhKeyPair> {
      const { privateKey, publicKey } = nc.generateKeyPairSync("x25519");
      const raw = decodeBase64Url(publicKey.export({ format: "jwk" }).x ?? "");
      if (raw?.length !== DHLEN) {
        throw new NoiseError(NoiseErrorCode.Other, "X25519 key export failed");
      }
      return new DhKeyPair(raw, privateKey, "node");
    },
    importSecretKey: webCryptoX25519Backend.importSecretKey,
    async dh(keyPair: DhKeyPair, publicKey: Uint8Array): Promise<Uint8Array> {
      checkPeerKey(publicKey);
      const secret = secretOf(keyPair);
      if (keyPair.backend === "webcrypto") {
        return await webCryptoX25519Backend.dh(keyPair, publicKey);
      }
      if (keyPair.backend !== "node") {
        throw new NoiseError(NoiseErrorCode.Other, "key pair belongs to another backend");
      }
      let shared: Uint8Array;
      try {
        const peer = nc.createPublicKey({
          key: { kty: "OKP", crv: "X25519", x: encodeBase64Url(publicKey) },
          format: "jwk",
        });
        const out = nc.diffieHellman({ privateKey: secret as NodeKeyObject, publicKey: peer });
        shared = new Uint8Array(out);
        out.fill(0);
      } catch {
        // OpenSSL and BoringSSL refuse low-order points, each in its own words.
        throw invalidPeerKey();
      }
      if (isAllZero(shared)) throw invalidPeerKey();
      return shared;
    },
  };
}

/** Whether `backend` computes what noble computes, and refuses a low-order point. */
async function agreesWithNoble(backend: X25519): Promise<boolean> {
  const secret = new Uint8Array(DHLEN).fill(7);
  const imported = await backend.importSecretKey(secret);
  const fresh = await backend.generateKeyPair();
  const ab = await backend.dh(fresh, imported.publicKey);
  const ba = nobleX25519.getSharedSecret(secret, fresh.publicKey);
  const ref = nobleX25519.getPublicKey(secret);
  const lowOrderRefused = await backend.dh(fresh, new Uint8Array(DHLEN)).then(
    () => false,
    (e) => e instanceof NoiseError && e.code === NoiseErrorCode.InvalidPeerKey,
  );
  return lowOrderRefused && ab.every((x, i) => x === ba[i]) &&
    imported.publicKey.every((x, i) => x === ref[i]);
}

let detected: Promise<X25519> | undefined;

/**
 * The best X25519 backend of this runtime: `node+webcrypto` where `node:crypto`
 * has X25519 (Deno, Node, Bun), WebCrypto alone elsewhere (workerd), noble where
 * neither works. Each candidate must agree with noble before it is chosen.
 */
export function detectX25519(): Promise<X25519> {
  return detected ??= (async () => {
    let webCryptoWorks = false;
    try {
      webCryptoWorks = await agreesWithNoble(webCryptoX25519Backend);
    } catch {
      // No X25519 in this runtime's WebCrypto.
    }
    if (!webCryptoWorks) return nobleX25519Backend;
    try {
      const nc = await import("node:crypto") as unknown as NodeX25519Crypto;
      const hybrid = nodeX25519Backend(nc);
      if (await agreesWithNoble(hybrid)) return hybrid;
    } catch {
      // No node:crypto, or no X25519 in it (workerd with nodejs_compat).
    }
    return webCryptoX25519Backend;
  })();
}

/** The `node+webcrypto` backend, where this runtime has it (for tests and benchmarks). */
export async function nodeX25519(): Promise<X25519 | null> {
  try {
    const backend = nodeX25519Backend(await import("node:crypto") as unknown as NodeX25519Crypto);
    return await agreesWithNoble(backend) ? backend : null;
  } catch {
    return null;
  }
}
