/**
 * The device's Noise static key, fetched from the ring's closure-based key feed.
 *
 * The derived secret exists as bytes only inside the ring's closure, which
 * imports it into the DH backend and returns; the ring wipes the bytes. On the
 * WebCrypto backend the result is a non-extractable `CryptoKey`, cached for the
 * life of the client or server (Node's PKCS#8 import is slow). On the noble
 * fallback the secret must stay in bytes, so it is not cached: each handshake
 * gets its own copy, wiped when the handshake ends.
 *
 * @module
 */
import type { DhKeyPair } from "./crypto/x25519.ts";
import type { CryptoSuite } from "./crypto/suite.ts";
import type { RingKeyProvider } from "./ring.ts";

/** Where a client or server gets its static key pair. */
export class StaticKeySource {
  readonly #ring: RingKeyProvider;
  readonly #kid: string;
  readonly #deviceId: Uint8Array;
  readonly #epoch: number;
  #cached: Promise<DhKeyPair> | null = null;

  constructor(ring: RingKeyProvider, kid: string, deviceId: Uint8Array, epoch: number) {
    this.#ring = ring;
    this.#kid = kid;
    this.#deviceId = deviceId;
    this.#epoch = epoch;
  }

  /**
   * The key pair for one handshake, and whether the handshake must wipe it when
   * it ends (`ownsStatic` of the HandshakeState).
   */
  async acquire(suite: CryptoSuite): Promise<{ s: DhKeyPair; ownsStatic: boolean }> {
    if (this.#cached) {
      const kp = await this.#cached.catch(() => null);
      if (kp && !kp.destroyed) return { s: kp, ownsStatic: false };
      this.#cached = null;
    }
    const pending = this.#ring.withDeviceX25519(
      this.#kid,
      this.#deviceId,
      this.#epoch,
      (secret) => suite.dh.importSecretKey(secret),
    );
    // Statics import through WebCrypto on every backend but noble ("webcrypto",
    // "node+webcrypto"): cache the promise so concurrent handshakes share one import.
    if (suite.dh.name !== "noble") this.#cached = pending;
    const s = await pending;
    const cached = s.backend === "webcrypto"; // a non-extractable CryptoKey: safe to keep
    if (!cached && this.#cached === pending) this.#cached = null;
    return { s, ownsStatic: !cached };
  }

  /** Drops the cached key (after a change of epoch or ring). */
  forget(): void {
    this.#cached = null;
  }
}
