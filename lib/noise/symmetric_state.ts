/**
 * SymmetricState (Noise spec §5.2): the chaining key `ck`, the handshake hash `h`
 * and a CipherState, mixed by every token of the handshake.
 *
 * @module
 */
import { copyBytes, utf8, wipe } from "../bytes.ts";
import { HASHLEN } from "../crypto/blake2s.ts";
import type { CryptoSuite } from "../crypto/suite.ts";
import { CipherState } from "./cipher_state.ts";

/** A SymmetricState: `InitializeSymmetric`, `MixKey`, `MixHash`, `EncryptAndHash`, ..., `Split`. */
export class SymmetricState {
  readonly #suite: CryptoSuite;
  #ck: Uint8Array;
  #h: Uint8Array;
  readonly cipherState: CipherState;

  /** `InitializeSymmetric(protocol_name)`. */
  constructor(suite: CryptoSuite, protocolName: string) {
    this.#suite = suite;
    const name = utf8(protocolName);
    if (name.length <= HASHLEN) {
      this.#h = new Uint8Array(HASHLEN);
      this.#h.set(name);
    } else {
      this.#h = suite.hash.hash(name);
    }
    this.#ck = copyBytes(this.#h);
    this.cipherState = new CipherState(suite.cipher);
  }

  /** `MixKey(input_key_material)`. */
  mixKey(inputKeyMaterial: Uint8Array): void {
    const [ck, tempK] = this.#suite.hash.hkdf(this.#ck, inputKeyMaterial, 2);
    wipe(this.#ck);
    this.#ck = ck;
    this.cipherState.initializeKey(tempK);
    wipe(tempK);
  }

  /** `MixHash(data)`. */
  mixHash(data: Uint8Array): void {
    this.#h = this.#suite.hash.hash(this.#h, data);
  }

  /** `MixKeyAndHash(input_key_material)` (only PSK patterns use it; kept for completeness). */
  mixKeyAndHash(inputKeyMaterial: Uint8Array): void {
    const [ck, tempH, tempK] = this.#suite.hash.hkdf(this.#ck, inputKeyMaterial, 3);
    wipe(this.#ck);
    this.#ck = ck;
    this.mixHash(tempH);
    this.cipherState.initializeKey(tempK);
    wipe(tempH, tempK);
  }

  /** `GetHandshakeHash()` (a copy). */
  getHandshakeHash(): Uint8Array {
    return copyBytes(this.#h);
  }

  /** `EncryptAndHash(plaintext)`. */
  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const ciphertext = this.cipherState.encryptWithAd(this.#h, plaintext);
    this.mixHash(ciphertext);
    return ciphertext;
  }

  /** `DecryptAndHash(ciphertext)`. */
  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    const plaintext = this.cipherState.decryptWithAd(this.#h, ciphertext);
    this.mixHash(ciphertext);
    return plaintext;
  }

  /** `Split()`: the two CipherStates of the transport phase, initiator-to-responder first. */
  split(): [CipherState, CipherState] {
    const [k1, k2] = this.#suite.hash.hkdf(this.#ck, new Uint8Array(0), 2);
    const c1 = new CipherState(this.#suite.cipher);
    const c2 = new CipherState(this.#suite.cipher);
    c1.initializeKey(k1);
    c2.initializeKey(k2);
    wipe(k1, k2);
    return [c1, c2];
  }

  /** Overwrites this state with `snapshot` (taken by {@linkcode SymmetricState.snapshot}). */
  restore(snapshot: SymmetricSnapshot): void {
    wipe(this.#ck);
    this.#ck = copyBytes(snapshot.ck);
    this.#h = copyBytes(snapshot.h);
    this.cipherState.assign(snapshot.cipher);
  }

  /** The whole state, copied, so that a rejected message can be undone. */
  snapshot(): SymmetricSnapshot {
    return { ck: copyBytes(this.#ck), h: copyBytes(this.#h), cipher: this.cipherState.clone() };
  }

  /** Wipes the chaining key and the cipher key. */
  destroy(): void {
    wipe(this.#ck);
    this.cipherState.destroy();
  }
}

/** A copy of a SymmetricState's fields (see {@linkcode SymmetricState.snapshot}). */
export interface SymmetricSnapshot {
  /** Chaining key. */
  ck: Uint8Array;
  /** Handshake hash. */
  h: Uint8Array;
  /** Cipher state. */
  cipher: CipherState;
}

/** Wipes a snapshot that is no longer needed. */
export function wipeSnapshot(s: SymmetricSnapshot): void {
  wipe(s.ck);
  s.cipher.destroy();
}
