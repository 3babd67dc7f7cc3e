/**
 * ChaCha20-Poly1305 (RFC 8439) as Noise uses it: 96-bit nonce = 32 zero bits ‖
 * the 64-bit little-endian counter (Noise spec §5.1, `ChaChaPoly` §12.3).
 *
 * Two backends: `@noble/ciphers` everywhere, and `node:crypto` where the runtime
 * has it (Node, Deno; not Bun's BoringSSL, not plain workerd), which is several
 * times faster for large messages.
 *
 * @module
 */
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";

/** Length of the Poly1305 tag. */
export const TAGLEN = 16;

/**
 * The AEAD of Noise: `ENCRYPT(k, n, ad, plaintext)` and `DECRYPT(k, n, ad, ciphertext)`.
 *
 * @example
 * ```ts
 * import { type ChaChaPoly, loadCryptoSuite } from "@pubky/noise";
 * const aead: ChaChaPoly = (await loadCryptoSuite()).cipher;
 * const key = crypto.getRandomValues(new Uint8Array(32));
 * const ad = new TextEncoder().encode("header");
 * const sealed = aead.encrypt(key, 0n, ad, new TextEncoder().encode("secret"));
 * console.log(sealed.length, new TextDecoder().decode(aead.decrypt(key, 0n, ad, sealed)!)); // 22 secret
 * console.log(aead.decrypt(key, 1n, ad, sealed)); // null: another nonce does not authenticate
 * ```
 */
export interface ChaChaPoly {
  /** `"noble"` or `"node"`. */
  readonly name: string;
  /**
   * Ciphertext with the 16-byte tag appended. With `output` (exactly `plaintext.length + 16`
   * bytes, which may overlap `plaintext`), the result is written there and `output` returned.
   */
  encrypt(
    key: Uint8Array,
    nonce: bigint,
    ad: Uint8Array,
    plaintext: Uint8Array,
    output?: Uint8Array,
  ): Uint8Array;
  /** Plaintext, or `null` when the tag does not authenticate. */
  decrypt(
    key: Uint8Array,
    nonce: bigint,
    ad: Uint8Array,
    ciphertext: Uint8Array,
  ): Uint8Array | null;
}

/** The 12-byte nonce of counter `n`. */
export function nonceBytes(n: bigint): Uint8Array {
  const out = new Uint8Array(12);
  new DataView(out.buffer).setBigUint64(4, n, true);
  return out;
}

// One scratch nonce per module: every use below is synchronous and both backends
// copy the nonce before returning, so no call can see another's.
const scratchNonce = new Uint8Array(12);
const scratchView = new DataView(scratchNonce.buffer);

function scratchNonceBytes(n: bigint): Uint8Array {
  scratchView.setBigUint64(4, n, true);
  return scratchNonce;
}

/** The portable backend: `@noble/ciphers`. */
export const nobleChaChaPoly: ChaChaPoly = {
  name: "noble",
  encrypt(key, nonce, ad, plaintext, output) {
    return chacha20poly1305(key, scratchNonceBytes(nonce), ad).encrypt(plaintext, output);
  },
  decrypt(key, nonce, ad, ciphertext) {
    if (ciphertext.length < TAGLEN) return null;
    try {
      return chacha20poly1305(key, scratchNonceBytes(nonce), ad).decrypt(ciphertext);
    } catch {
      return null;
    }
  },
};

/** The subset of `node:crypto` this backend needs (kept structural: no Node types required). */
interface NodeCipher {
  setAAD(ad: Uint8Array): unknown;
  update(data: Uint8Array): Uint8Array;
  final(): Uint8Array;
}
interface NodeCrypto {
  createCipheriv(
    alg: string,
    key: Uint8Array,
    iv: Uint8Array,
    options: { authTagLength: number },
  ): NodeCipher & { getAuthTag(): Uint8Array };
  createDecipheriv(
    alg: string,
    key: Uint8Array,
    iv: Uint8Array,
    options: { authTagLength: number },
  ): NodeCipher & { setAuthTag(tag: Uint8Array): unknown };
}

const ALG = "chacha20-poly1305";
const TAG_OPTIONS = { authTagLength: TAGLEN };

/**
 * `body` as a plain `Uint8Array`, without a copy when it is the only thing in its buffer:
 * `node:crypto` returns a `Buffer`, whose `slice` is a view and which may sit in a shared pool
 * (its `.buffer` then holds other data), so a pooled one is copied out.
 */
function ownBytes(body: Uint8Array): Uint8Array {
  const buffer = body.buffer;
  if (body.byteOffset === 0 && buffer.byteLength === body.length && buffer instanceof ArrayBuffer) {
    return new Uint8Array(buffer);
  }
  return new Uint8Array(body);
}

function nodeChaChaPoly(nc: NodeCrypto): ChaChaPoly {
  return {
    name: "node",
    encrypt(key, nonce, ad, plaintext, output) {
      const c = nc.createCipheriv(ALG, key, scratchNonceBytes(nonce), TAG_OPTIONS);
      // An empty AD adds nothing to the tag (RFC 8439 §2.8), so transport messages skip the call.
      if (ad.length > 0) c.setAAD(ad);
      const body = c.update(plaintext);
      const fin = c.final(); // empty for a stream cipher, kept for the contract
      const tag = c.getAuthTag();
      const out = output ?? new Uint8Array(plaintext.length + TAGLEN);
      out.set(body);
      if (fin.length > 0) out.set(fin, body.length);
      out.set(tag, plaintext.length);
      return out;
    },
    decrypt(key, nonce, ad, ciphertext) {
      if (ciphertext.length < TAGLEN) return null;
      const len = ciphertext.length - TAGLEN;
      try {
        const d = nc.createDecipheriv(ALG, key, scratchNonceBytes(nonce), TAG_OPTIONS);
        d.setAuthTag(ciphertext.subarray(len));
        if (ad.length > 0) d.setAAD(ad);
        const body = d.update(ciphertext.subarray(0, len));
        const fin = d.final(); // throws when the tag does not authenticate
        if (fin.length === 0) return ownBytes(body);
        const out = new Uint8Array(len);
        out.set(body);
        out.set(fin, body.length);
        return out;
      } catch {
        return null;
      }
    },
  };
}

/** Whether `backend` agrees with noble on a fixed input, tag check included. */
function agreesWithNoble(backend: ChaChaPoly): boolean {
  const key = new Uint8Array(32).fill(1);
  const msg = new Uint8Array(100).fill(2);
  const ad = new Uint8Array(5).fill(3);
  const a = backend.encrypt(key, 5n, ad, msg);
  const b = nobleChaChaPoly.encrypt(key, 5n, ad, msg);
  if (a.length !== b.length || a.some((x, i) => x !== b[i])) return false;
  const tampered = a.slice();
  tampered[0] ^= 1;
  const back = backend.decrypt(key, 5n, ad, a);
  return backend.decrypt(key, 5n, ad, tampered) === null && back !== null &&
    back.every((x, i) => x === msg[i]);
}

let detected: Promise<ChaChaPoly> | undefined;

/** The best ChaCha20-Poly1305 of this runtime: `node:crypto` where it works, noble otherwise. */
export function detectChaChaPoly(): Promise<ChaChaPoly> {
  return detected ??= (async () => {
    try {
      const nc = await import("node:crypto") as unknown as NodeCrypto;
      const backend = nodeChaChaPoly(nc);
      if (agreesWithNoble(backend)) return backend;
    } catch {
      // No node:crypto, or no chacha20-poly1305 in it (Bun): noble it is.
    }
    return nobleChaChaPoly;
  })();
}
