/**
 * Bench-only {@linkcode RingKeyProvider} built from `@noble/*` alone, for the all-noble
 * reference rows: HKDF-SHA512 from `@noble/hashes`, Ed25519 signing from `@noble/curves`.
 *
 * `DummyRing` cannot be forced onto noble through the public API: it always imports the seed as
 * a WebCrypto HKDF key, and its Ed25519 signer uses WebCrypto wherever the runtime has it. This
 * ring derives the same keys and signatures from the same seed (report.ts checks that), so a
 * handshake with it does the same work as with `DummyRing`, only on noble.
 *
 * Not for applications: it keeps the seed as bytes for its whole life.
 *
 * @module
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { NoiseError, NoiseErrorCode, type RingKeyProvider } from "../mod.ts";

const SALT = new TextEncoder().encode("pubky-noise-x25519:v1");
const MIN_DEVICE_ID_LEN = 16;
const MAX_EPOCH = 0xffff_ffff;

function ringError(detail: string): NoiseError {
  return new NoiseError(NoiseErrorCode.Ring, detail);
}

/** One 32-byte seed: HKDF input of the device static and Ed25519 seed, as `DummyRing`. */
export class NobleRing implements RingKeyProvider {
  readonly #seed: Uint8Array;
  readonly #publicKey: Uint8Array;

  private constructor(seed: Uint8Array) {
    this.#seed = seed;
    this.#publicKey = ed25519.getPublicKey(seed);
  }

  /** A ring holding a copy of `seed` (32 bytes, else `NoiseError` Ring). */
  static create(seed: Uint8Array): NobleRing {
    if (!(seed instanceof Uint8Array) || seed.length !== 32) {
      throw ringError("Seed must be 32 bytes");
    }
    return new NobleRing(seed.slice());
  }

  /** `clamp(HKDF-SHA512(salt, seed, deviceId ‖ u32le(epoch), 32))`, wiped once `fn` settles. */
  async withDeviceX25519<T>(
    _kid: string,
    deviceId: Uint8Array,
    epoch: number,
    fn: (secret: Uint8Array) => T | Promise<T>,
  ): Promise<T> {
    if (!(deviceId instanceof Uint8Array) || deviceId.length < MIN_DEVICE_ID_LEN) {
      throw ringError("device_id too short");
    }
    if (!Number.isInteger(epoch) || epoch < 0 || epoch > MAX_EPOCH) {
      throw ringError(`epoch must be an integer in 0..=${MAX_EPOCH}`);
    }
    const info = new Uint8Array(deviceId.length + 4);
    info.set(deviceId);
    new DataView(info.buffer).setUint32(deviceId.length, epoch, true);
    const sk = hkdf(sha512, this.#seed, SALT, info, 32);
    sk[0] &= 248;
    sk[31] &= 127;
    sk[31] |= 64;
    try {
      return await fn(sk);
    } finally {
      sk.fill(0);
    }
  }

  /** The Ed25519 public key of the seed (a copy). */
  ed25519PublicKey(_kid: string): Promise<Uint8Array> {
    return Promise.resolve(this.#publicKey.slice());
  }

  /** RFC 8032 signature by `@noble/curves`. */
  signEd25519(_kid: string, message: Uint8Array): Promise<Uint8Array> {
    try {
      return Promise.resolve(ed25519.sign(message, this.#seed));
    } catch {
      return Promise.reject(ringError("Ed25519 signing failed"));
    }
  }

  /** Redacted. */
  toString(): string {
    return "NobleRing { seed: [redacted] }";
  }
}
