/**
 * CipherState (Noise spec §5.1): a key `k` and a 64-bit nonce `n`.
 *
 * The nonce advances only after a successful encryption or an authenticated
 * decryption, so a forged, replayed or reordered message changes nothing.
 * Nonce 2^64−1 is reserved (spec §5.1) and never used: the state reports
 * exhaustion instead.
 *
 * The asynchronous calls (`encryptWithAdAsync`, `decryptWithAdAsync`) seal and open large
 * messages on the cipher's bulk path where it has one (WebCrypto on Bun), and are otherwise the
 * synchronous ones. An encryption takes its nonce when it is called, so encryptions may overlap
 * and keep their call order. Decryptions run one after the other, in call order, each taking
 * its nonce only once it authenticates; while one is pending, the synchronous calls that read or
 * move the nonce refuse with `Other`.
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";
import { copyBytes, wipe } from "../bytes.ts";
import { type ChaChaPoly, TAGLEN } from "../crypto/chachapoly.ts";
import { inspectAsString } from "../redacted.ts";

/** The largest nonce that may encrypt; 2^64−1 itself is reserved for rekey. */
export const MAX_NONCE = (1n << 64n) - 1n;

const EMPTY = new Uint8Array(0);

function destroyedError(): NoiseError {
  return new NoiseError(NoiseErrorCode.Snow, "state error: Destroyed");
}

function decryptError(): NoiseError {
  return new NoiseError(NoiseErrorCode.Snow, "decrypt error");
}

function busyError(): NoiseError {
  return new NoiseError(NoiseErrorCode.Other, "an asynchronous decryption is still pending");
}

function exhaustedError(): NoiseError {
  return new NoiseError(NoiseErrorCode.Snow, "state error: Exhausted");
}

const ignore = (): void => {};

/** A CipherState: `InitializeKey`, `HasKey`, `SetNonce`, `EncryptWithAd`, `DecryptWithAd`, `Rekey`. */
export class CipherState {
  #k: Uint8Array | null = null;
  #n = 0n;
  // Without a key, Encrypt/DecryptWithAd pass data through (spec §5.1): once the
  // key is wiped that must never happen again, so a destroyed state refuses.
  #destroyed = false;
  readonly #cipher: ChaChaPoly;
  /** `k` imported for the cipher's bulk path, made on first use; dropped when `k` changes. */
  #bulkKey: Promise<CryptoKey> | null = null;
  /** The asynchronous decryptions, chained in call order, and how many are pending. */
  #opening: Promise<unknown> = Promise.resolve();
  #pendingOpens = 0;

  /** @param cipher the AEAD backend */
  constructor(cipher: ChaChaPoly) {
    this.#cipher = cipher;
  }

  /** `InitializeKey(key)`: sets k (copied) and n = 0; `null` empties the state. */
  initializeKey(key: Uint8Array | null): void {
    if (this.#pendingOpens > 0) throw busyError();
    this.#bulkKey = null;
    wipe(this.#k);
    this.#k = key === null ? null : copyBytes(key);
    this.#n = 0n;
  }

  /** `HasKey()`. */
  hasKey(): boolean {
    return this.#k !== null;
  }

  /**
   * The plaintext length from which the asynchronous calls are faster (the cipher's bulk path);
   * `Infinity` where the cipher has none.
   */
  get asyncFromBytes(): number {
    return this.#cipher.bulk?.threshold ?? Infinity;
  }

  /** The next nonce to use. */
  get nonce(): bigint {
    return this.#n;
  }

  /** `SetNonce(nonce)`. */
  setNonce(nonce: bigint): void {
    if (this.#pendingOpens > 0) throw busyError();
    if (nonce < 0n || nonce > MAX_NONCE) {
      throw new NoiseError(NoiseErrorCode.Other, "nonce out of range");
    }
    this.#n = nonce;
  }

  /**
   * `EncryptWithAd(ad, plaintext)`: plaintext unchanged when there is no key. With `output`
   * (the caller checked its length: `plaintext.length + 16` with a key), the result is written
   * there and `output` returned.
   */
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array, output?: Uint8Array): Uint8Array {
    if (this.#destroyed) throw destroyedError();
    if (this.#k === null) {
      if (output === undefined) return copyBytes(plaintext);
      output.set(plaintext);
      return output;
    }
    if (this.#n >= MAX_NONCE) throw new NoiseError(NoiseErrorCode.Snow, "state error: Exhausted");
    const out = this.#cipher.encrypt(this.#k, this.#n, ad, plaintext, output);
    // A third-party cipher may ignore `output`: the caller still gets its bytes there.
    if (output !== undefined && out !== output) output.set(out);
    this.#n++;
    return output ?? out;
  }

  /** `DecryptWithAd(ad, ciphertext)`: throws (n unchanged) when it does not authenticate. */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    if (this.#destroyed) throw destroyedError();
    if (this.#pendingOpens > 0) throw busyError();
    return this.#decryptNow(ad, ciphertext);
  }

  #decryptNow(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    if (this.#k === null) return copyBytes(ciphertext);
    if (this.#n >= MAX_NONCE) throw new NoiseError(NoiseErrorCode.Snow, "state error: Exhausted");
    const out = this.#cipher.decrypt(this.#k, this.#n, ad, ciphertext);
    if (out === null) throw decryptError();
    this.#n++;
    return out;
  }

  /**
   * `EncryptWithAd`, on the cipher's bulk path for a large `plaintext` where it has one. The
   * nonce is taken now: calls may overlap, and their messages keep the call order.
   */
  encryptWithAdAsync(ad: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> {
    const bulk = this.#cipher.bulk;
    const k = this.#k;
    if (bulk === undefined || k === null || plaintext.length < bulk.threshold || this.#destroyed) {
      try {
        return Promise.resolve(this.encryptWithAd(ad, plaintext));
      } catch (e) {
        return Promise.reject(e);
      }
    }
    if (this.#n >= MAX_NONCE) return Promise.reject(exhaustedError());
    const n = this.#n++;
    const key = this.#bulkKey ??= bulk.importKey(k);
    return (async () => {
      let out: Uint8Array;
      try {
        out = await bulk.encrypt(await key, n, ad, plaintext);
      } catch {
        // Nonce n is spent but no message carries it: the peer could never read the next one.
        this.destroy();
        throw new NoiseError(NoiseErrorCode.Other, "sealing failed; the cipher state is closed");
      }
      if (this.#destroyed) throw destroyedError();
      return out;
    })();
  }

  /**
   * `DecryptWithAd`, on the cipher's bulk path for a large message where it has one. Runs after
   * the asynchronous decryptions called before it; rejects (n unchanged) when the message does
   * not authenticate.
   */
  decryptWithAdAsync(ad: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array> {
    this.#pendingOpens++;
    const run = this.#opening.then(() => this.#openNow(ad, ciphertext));
    this.#opening = run.then(ignore, ignore);
    return run.finally(() => this.#pendingOpens--);
  }

  async #openNow(ad: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array> {
    const bulk = this.#cipher.bulk;
    const k = this.#k;
    if (this.#destroyed) throw destroyedError();
    if (bulk === undefined || k === null || ciphertext.length - TAGLEN < bulk.threshold) {
      return this.#decryptNow(ad, ciphertext);
    }
    if (this.#n >= MAX_NONCE) throw exhaustedError();
    const key = this.#bulkKey ??= bulk.importKey(k);
    let out: Uint8Array | null;
    try {
      out = await bulk.decrypt(await key, this.#n, ad, ciphertext);
    } catch {
      // The backend failed, not the message: the nonce stays, and the caller may retry.
      throw new NoiseError(NoiseErrorCode.Other, "opening failed in the cipher backend");
    }
    if (this.#destroyed) throw destroyedError();
    if (out === null) throw decryptError();
    this.#n++;
    return out;
  }

  /** `Rekey()` (spec §4.2, §11.3): k = first 32 bytes of ENCRYPT(k, 2^64−1, empty, zeros). */
  rekey(): void {
    if (this.#pendingOpens > 0) throw busyError();
    if (this.#k === null) throw new NoiseError(NoiseErrorCode.Snow, "state error: NoKey");
    const zeros = new Uint8Array(32);
    const block = this.#cipher.encrypt(this.#k, MAX_NONCE, EMPTY, zeros);
    wipe(this.#k);
    this.#k = copyBytes(block, 0, 32);
    this.#bulkKey = null;
    wipe(block);
  }

  /** A copy, for restoring after a rejected handshake message. */
  clone(): CipherState {
    const c = new CipherState(this.#cipher);
    c.#k = this.#k === null ? null : copyBytes(this.#k);
    c.#n = this.#n;
    return c;
  }

  /** Takes over `other`'s key and nonce (used to roll back). */
  assign(other: CipherState): void {
    this.#bulkKey = null;
    wipe(this.#k);
    this.#k = other.#k === null ? null : copyBytes(other.#k);
    this.#n = other.#n;
  }

  /**
   * @internal For sealed session snapshots only (`lib/session/snapshot.ts`): a copy
   * of the key, or `null` when there is none. The caller must wipe it.
   */
  exportKeyForSnapshot(): Uint8Array | null {
    return this.#k === null ? null : copyBytes(this.#k);
  }

  /** Wipes the key; the state refuses to encrypt or decrypt afterwards. */
  destroy(): void {
    wipe(this.#k);
    this.#k = null;
    this.#bulkKey = null;
    this.#destroyed = true;
  }

  /** Redacted. */
  toString(): string {
    return "CipherState { k: [redacted] }";
  }
  /** Redacted. */
  toJSON(): { hasKey: boolean; nonce: string } {
    return { hasKey: this.hasKey(), nonce: this.#n.toString() };
  }
}
inspectAsString(CipherState);
