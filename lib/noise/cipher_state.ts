/**
 * CipherState (Noise spec §5.1): a key `k` and a 64-bit nonce `n`.
 *
 * The nonce advances only after a successful encryption or an authenticated
 * decryption, so a forged, replayed or reordered message changes nothing.
 * Nonce 2^64−1 is reserved (spec §5.1) and never used: the state reports
 * exhaustion instead.
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";
import { copyBytes, wipe } from "../bytes.ts";
import type { ChaChaPoly } from "../crypto/chachapoly.ts";

/** The largest nonce that may encrypt; 2^64−1 itself is reserved for rekey. */
export const MAX_NONCE = (1n << 64n) - 1n;

const EMPTY = new Uint8Array(0);

function destroyedError(): NoiseError {
  return new NoiseError(NoiseErrorCode.Snow, "state error: Destroyed");
}

function decryptError(): NoiseError {
  return new NoiseError(NoiseErrorCode.Snow, "decrypt error");
}

/** A CipherState: `InitializeKey`, `HasKey`, `SetNonce`, `EncryptWithAd`, `DecryptWithAd`, `Rekey`. */
export class CipherState {
  #k: Uint8Array | null = null;
  #n = 0n;
  // Without a key, Encrypt/DecryptWithAd pass data through (spec §5.1): once the
  // key is wiped that must never happen again, so a destroyed state refuses.
  #destroyed = false;
  readonly #cipher: ChaChaPoly;

  /** @param cipher the AEAD backend */
  constructor(cipher: ChaChaPoly) {
    this.#cipher = cipher;
  }

  /** `InitializeKey(key)`: sets k (copied) and n = 0; `null` empties the state. */
  initializeKey(key: Uint8Array | null): void {
    wipe(this.#k);
    this.#k = key === null ? null : copyBytes(key);
    this.#n = 0n;
  }

  /** `HasKey()`. */
  hasKey(): boolean {
    return this.#k !== null;
  }

  /** The next nonce to use. */
  get nonce(): bigint {
    return this.#n;
  }

  /** `SetNonce(nonce)`. */
  setNonce(nonce: bigint): void {
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
    if (this.#k === null) return copyBytes(ciphertext);
    if (this.#n >= MAX_NONCE) throw new NoiseError(NoiseErrorCode.Snow, "state error: Exhausted");
    const out = this.#cipher.decrypt(this.#k, this.#n, ad, ciphertext);
    if (out === null) throw decryptError();
    this.#n++;
    return out;
  }

  /** `Rekey()` (spec §4.2, §11.3): k = first 32 bytes of ENCRYPT(k, 2^64−1, empty, zeros). */
  rekey(): void {
    if (this.#k === null) throw new NoiseError(NoiseErrorCode.Snow, "state error: NoKey");
    const zeros = new Uint8Array(32);
    const block = this.#cipher.encrypt(this.#k, MAX_NONCE, EMPTY, zeros);
    wipe(this.#k);
    this.#k = copyBytes(block, 0, 32);
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
  /** Redacted. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
  /** Redacted. */
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }
}
