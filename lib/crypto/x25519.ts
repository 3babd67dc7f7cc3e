/**
 * X25519 (RFC 7748) behind one small interface, with two backends:
 * WebCrypto (fast, and the secret can live in a non-extractable `CryptoKey`) and
 * `@noble/curves` (portable fallback). Both reject an all-zero shared secret
 * (a low-order peer key) with `NoiseError` code 7000, whatever the runtime says.
 *
 * @module
 */
import { x25519 as nobleX25519 } from "@noble/curves/ed25519.js";
import { NoiseError, NoiseErrorCode } from "../errors.ts";
import { expectLength, isAllZero, wipe } from "../bytes.ts";

/** Length of an X25519 key or shared secret. */
export const DHLEN = 32;

/** PKCS#8 prefix of a raw X25519 private key (RFC 8410), the one import format every runtime takes. */
const PKCS8_X25519_PREFIX = new Uint8Array([
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x6e,
  0x04,
  0x22,
  0x04,
  0x20,
]);

const REDACTED = "DhKeyPair { secret: [redacted] }";

let secretOf: (keyPair: DhKeyPair) => CryptoKey | Uint8Array;

/**
 * An X25519 key pair whose secret half stays inside: a non-extractable
 * `CryptoKey` on the WebCrypto backend, a private byte array on the noble one.
 */
export class DhKeyPair {
  /** The 32-byte public key. */
  readonly publicKey: Uint8Array;
  /** Which backend holds the secret. */
  readonly backend: "webcrypto" | "noble";
  #secret: CryptoKey | Uint8Array | null;

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
    secret: CryptoKey | Uint8Array,
    backend: "webcrypto" | "noble",
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
      publicKey: Array.from(this.publicKey, (b) => b.toString(16).padStart(2, "0")).join(""),
    };
  }
  /** Redacted in `console.log` on Node and Bun. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return REDACTED;
  }
  /** Redacted in `console.log` on Deno. */
  [Symbol.for("Deno.customInspect")](): string {
    return REDACTED;
  }
}

/** X25519 as the Noise state machine needs it (spec §4.1: GENERATE_KEYPAIR, DH). */
export interface X25519 {
  /** `"webcrypto"` or `"noble"`. */
  readonly name: "webcrypto" | "noble";
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
    const own = secret.slice();
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
    const pkcs8 = new Uint8Array(PKCS8_X25519_PREFIX.length + DHLEN);
    pkcs8.set(PKCS8_X25519_PREFIX);
    pkcs8.set(secret, PKCS8_X25519_PREFIX.length);
    let key: CryptoKey;
    try {
      key = await crypto.subtle.importKey("pkcs8", pkcs8, X25519_ALG, false, ["deriveBits"]);
    } finally {
      wipe(pkcs8);
    }
    // WebCrypto cannot export a non-extractable secret's public key, but X25519(sk, 9) is it.
    const publicKey = await webCryptoDh(key, await basePoint());
    return new DhKeyPair(publicKey, key, "webcrypto");
  },
  async dh(keyPair: DhKeyPair, publicKey: Uint8Array): Promise<Uint8Array> {
    checkPeerKey(publicKey);
    const secret = secretOf(keyPair);
    if (secret instanceof Uint8Array) {
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

let detected: Promise<X25519> | undefined;

/** The best X25519 backend of this runtime: WebCrypto where it works, noble otherwise. */
export function detectX25519(): Promise<X25519> {
  return detected ??= (async () => {
    try {
      const a = await webCryptoX25519Backend.generateKeyPair();
      const b = await webCryptoX25519Backend.importSecretKey(new Uint8Array(DHLEN).fill(7));
      const ab = await webCryptoX25519Backend.dh(a, b.publicKey);
      const ref = nobleX25519.getPublicKey(new Uint8Array(DHLEN).fill(7));
      if (ab.length === DHLEN && b.publicKey.every((x, i) => x === ref[i])) {
        return webCryptoX25519Backend;
      }
    } catch {
      // No X25519 in this runtime's WebCrypto: fall through to noble.
    }
    return nobleX25519Backend;
  })();
}
