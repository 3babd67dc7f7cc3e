/**
 * ChaCha20-Poly1305 (RFC 8439) as Noise uses it: 96-bit nonce = 32 zero bits ‖
 * the 64-bit little-endian counter (Noise spec §5.1, `ChaChaPoly` §12.3).
 *
 * Two backends: `@noble/ciphers` everywhere, and `node:crypto` where the runtime
 * has it (Node, Deno; not Bun's BoringSSL, not plain workerd), which is several
 * times faster for large messages.
 *
 * Where only noble is synchronous but WebCrypto has ChaCha20-Poly1305 (the "modern algorithms"
 * of WebCrypto: Bun, recent Deno), the noble backend gets a {@linkcode BulkAead}: an
 * asynchronous path for large messages, which the asynchronous transport calls
 * (`NoiseLink.encryptAsync` and the streams) use. WebCrypto pays a fixed ~40 µs per call there,
 * and wins from about 8 KiB on.
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
  /**
   * `"noble"`, `"node"`, `"noble+webcrypto"` (noble, with a WebCrypto bulk path) or `"node+noble"`
   * (noble below 1 KiB: workerd).
   */
  readonly name: string;
  /** An asynchronous path for messages of at least `bulk.threshold` plaintext bytes, if any. */
  readonly bulk?: BulkAead;
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

/**
 * ChaCha20-Poly1305 on WebCrypto, asynchronous: the same `ENCRYPT`/`DECRYPT`, with the key
 * imported once per cipher state as a non-extractable `CryptoKey`.
 *
 * @example
 * ```ts
 * import { type BulkAead, loadCryptoSuite } from "@pubky/noise";
 * const bulk: BulkAead | undefined = (await loadCryptoSuite()).cipher.bulk; // Bun: WebCrypto
 * if (bulk) {
 *   const key = await bulk.importKey(new Uint8Array(32).fill(1));
 *   const sealed = await bulk.encrypt(key, 0n, new Uint8Array(0), new Uint8Array(100_000 - 16));
 *   console.log(sealed.length); // 100000
 * }
 * ```
 */
export interface BulkAead {
  /** `"webcrypto"`. */
  readonly name: string;
  /** The smallest plaintext worth sending this way. */
  readonly threshold: number;
  /** `key` as a non-extractable key of this backend. */
  importKey(key: Uint8Array): Promise<CryptoKey>;
  /** Ciphertext with the 16-byte tag appended. */
  encrypt(
    key: CryptoKey,
    nonce: bigint,
    ad: Uint8Array,
    plaintext: Uint8Array,
  ): Promise<Uint8Array>;
  /** Plaintext, or `null` when the tag does not authenticate. */
  decrypt(
    key: CryptoKey,
    nonce: bigint,
    ad: Uint8Array,
    ciphertext: Uint8Array,
  ): Promise<Uint8Array | null>;
}

/** WebCrypto's name of the algorithm (WICG "modern algorithms in WebCrypto"). */
const WEBCRYPTO_ALG = "ChaCha20-Poly1305";
/** Below this, noble's synchronous call is faster than WebCrypto's (Bun 1.4: ~40 µs a call). */
const BULK_THRESHOLD = 8192;

/** `bytes` as a view WebCrypto's types accept (copied only if backed by a SharedArrayBuffer). */
function bufferSource(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer
    ? bytes as Uint8Array<ArrayBuffer>
    : new Uint8Array(bytes);
}

const webCryptoBulk: BulkAead = {
  name: "webcrypto",
  threshold: BULK_THRESHOLD,
  importKey(key) {
    // "raw-secret" is the import format of the modern algorithms (not "raw").
    return crypto.subtle.importKey(
      "raw-secret" as "raw",
      bufferSource(key),
      WEBCRYPTO_ALG,
      false,
      ["encrypt", "decrypt"],
    );
  },
  async encrypt(key, nonce, ad, plaintext) {
    // A nonce of its own per call: the scratch one could change while this one is pending.
    const params = { name: WEBCRYPTO_ALG, iv: nonceBytes(nonce), additionalData: bufferSource(ad) };
    return new Uint8Array(await crypto.subtle.encrypt(params, key, bufferSource(plaintext)));
  },
  async decrypt(key, nonce, ad, ciphertext) {
    if (ciphertext.length < TAGLEN) return null;
    const params = { name: WEBCRYPTO_ALG, iv: nonceBytes(nonce), additionalData: bufferSource(ad) };
    try {
      return new Uint8Array(await crypto.subtle.decrypt(params, key, bufferSource(ciphertext)));
    } catch {
      return null;
    }
  },
};

/** Whether `bulk` agrees with noble on fixed inputs, tag check included. */
async function bulkAgreesWithNoble(bulk: BulkAead): Promise<boolean> {
  const raw = new Uint8Array(32).fill(1);
  const msg = new Uint8Array(100).fill(2);
  const ad = new Uint8Array(5).fill(3);
  const key = await bulk.importKey(raw);
  const a = await bulk.encrypt(key, 5n, ad, msg);
  const b = nobleChaChaPoly.encrypt(raw, 5n, ad, msg);
  if (a.length !== b.length || a.some((x, i) => x !== b[i])) return false;
  const tampered = a.slice();
  tampered[0] ^= 1;
  const back = await bulk.decrypt(key, 5n, ad, a);
  return await bulk.decrypt(key, 5n, ad, tampered) === null &&
    await bulk.decrypt(key, 6n, ad, a) === null && back !== null &&
    back.length === msg.length && back.every((x, i) => x === msg[i]);
}

/** WebCrypto's ChaCha20-Poly1305, where this runtime has it and it agrees with noble. */
export async function detectWebCryptoBulk(): Promise<BulkAead | null> {
  try {
    return await bulkAgreesWithNoble(webCryptoBulk) ? webCryptoBulk : null;
  } catch {
    return null; // no such algorithm (Node 20, workerd) or no "raw-secret" import
  }
}

/**
 * `small` for messages of fewer than `below` plaintext bytes, `large` for the rest: the same
 * bytes either way, for runtimes where the fastest backend depends on the size.
 *
 * @example
 * ```ts
 * import { nobleChaChaPoly, sizeSplitChaChaPoly } from "./chachapoly.ts";
 * const split = sizeSplitChaChaPoly(nobleChaChaPoly, nobleChaChaPoly, 1024);
 * console.log(split.name); // "noble+noble"
 * ```
 */
export function sizeSplitChaChaPoly(
  small: ChaChaPoly,
  large: ChaChaPoly,
  below: number,
): ChaChaPoly {
  return Object.freeze(
    {
      name: `${large.name}+${small.name}`,
      encrypt(key, nonce, ad, plaintext, output) {
        return (plaintext.length < below ? small : large).encrypt(
          key,
          nonce,
          ad,
          plaintext,
          output,
        );
      },
      decrypt(key, nonce, ad, ciphertext) {
        return (ciphertext.length - TAGLEN < below ? small : large).decrypt(
          key,
          nonce,
          ad,
          ciphertext,
        );
      },
    } satisfies ChaChaPoly,
  );
}

/**
 * In workerd (`nodejs_compat`), a `node:crypto` cipher object costs more than noble's whole call
 * below about 1 KiB (T1 at 64 B: 40–48 k against 77–102 k messages/s; at 1 KiB they are even),
 * while from 16 KiB on `node:crypto` is 4–9× faster. Deno and Node have no such crossover.
 */
const WORKERD_NOBLE_BELOW = 1024;

function isWorkerd(): boolean {
  const nav = (globalThis as { navigator?: { userAgent?: unknown } }).navigator;
  return nav?.userAgent === "Cloudflare-Workers";
}

let detected: Promise<ChaChaPoly> | undefined;

/**
 * The best ChaCha20-Poly1305 of this runtime: `node:crypto` where it works (with noble for small
 * messages in workerd), noble otherwise, with WebCrypto's for large messages where it has one
 * (Bun).
 */
export function detectChaChaPoly(): Promise<ChaChaPoly> {
  return detected ??= (async () => {
    try {
      const nc = await import("node:crypto") as unknown as NodeCrypto;
      const backend = nodeChaChaPoly(nc);
      if (agreesWithNoble(backend)) {
        return isWorkerd()
          ? sizeSplitChaChaPoly(nobleChaChaPoly, backend, WORKERD_NOBLE_BELOW)
          : backend;
      }
    } catch {
      // No node:crypto, or no chacha20-poly1305 in it (Bun): noble it is.
    }
    const bulk = await detectWebCryptoBulk();
    if (bulk === null) return nobleChaChaPoly;
    return Object.freeze({ ...nobleChaChaPoly, name: "noble+webcrypto", bulk });
  })();
}
