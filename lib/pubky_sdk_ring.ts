/**
 * A key ring built from a Pubky SDK keypair (the Rust crate's `pubky-sdk`
 * feature, `PubkyRingProvider`): the keypair's 32-byte secret key is the HKDF
 * input of the device static keys and the Ed25519 seed of the identity, its
 * public key is the Ed25519 identity — the same scheme as {@linkcode DummyRing},
 * so the same secret gives the same statics and the same signatures.
 *
 * The keypair is typed structurally ({@linkcode PubkyKeypairLike}): this module
 * does not import `@synonymdev/pubky`, so nothing of the SDK is loaded unless
 * the app loads it. A `Keypair` of `@synonymdev/pubky` 0.6 fits as it is
 * (`secret()`, `publicKey.toUint8Array()`, `publicKey.z32()`); older SDK shapes
 * (`secretKey()`, `publicKey()`) fit too.
 *
 * Keys stay cold: the secret is read once, imported into non-extractable
 * WebCrypto keys (HKDF and Ed25519) and the copy wiped. The ring keeps no
 * reference to the keypair unless it signs through it (a keypair with a `sign`
 * method); `keypair.free()` stays the app's call.
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "./errors.ts";
import { copyBytes, equalBytes, toHex, utf8 } from "./bytes.ts";
import { importHkdfSeed } from "./crypto/hkdf_sha512.ts";
import { type Ed25519Signer, importEd25519Seed } from "./crypto/ed25519.ts";
import { type RingKeyProvider, withDerivedX25519 } from "./ring.ts";
import { inspectAsString } from "./redacted.ts";
import { encodeZ32 } from "./pkarr/z32.ts";

/**
 * A public key as the Pubky SDK represents it (one of the two forms is enough).
 *
 * @example
 * ```ts
 * import { Keypair } from "@synonymdev/pubky";
 * import type { PubkyPublicKeyLike } from "@pubky/noise/pubky-sdk";
 * const keypair = Keypair.random();
 * const publicKey: PubkyPublicKeyLike = keypair.publicKey; // the SDK's PublicKey fits
 * console.log(publicKey.z32?.().length, publicKey.toUint8Array?.().length); // 52 32
 * keypair.free();
 * ```
 */
export interface PubkyPublicKeyLike {
  /** The 32 bytes of the Ed25519 public key. */
  toUint8Array?(): Uint8Array;
  /** The z-base-32 form (52 characters, no `pubky` prefix). */
  z32?(): string;
}

/**
 * A keypair as the npm `@synonymdev/pubky` SDK represents it (its `Keypair`
 * class fits this interface).
 *
 * @example
 * ```ts
 * import { importEd25519Seed } from "@pubky/noise";
 * import { type PubkyKeypairLike, PubkyRingProvider } from "@pubky/noise/pubky-sdk";
 * // A keypair from another source (a wallet, a hardware key export) in the SDK's shape.
 * const seed = new Uint8Array(32).fill(7);
 * const publicKey = (await importEd25519Seed(seed)).publicKey;
 * const keypair: PubkyKeypairLike = { secret: () => seed.slice(), publicKey: { toUint8Array: () => publicKey } };
 * const ring = await PubkyRingProvider.fromKeypair(keypair, "my-app");
 * const identity = await ring.ed25519PublicKey("my-app");
 * console.log(identity.every((b, i) => b === publicKey[i]), ring.signsThroughKeypair); // true false
 * ```
 */
export interface PubkyKeypairLike {
  /** `@synonymdev/pubky` 0.6: a copy of the 32-byte secret key (the Ed25519 seed). */
  secret?(): Uint8Array;
  /** Older SDKs: the same 32 bytes. */
  secretKey?(): Uint8Array;
  /** The public key: a property in `@synonymdev/pubky` 0.6, a method in older SDKs. */
  readonly publicKey: PubkyPublicKeyLike | (() => PubkyPublicKeyLike);
  /** Ed25519 signing by the keypair itself, where the SDK offers it (64 bytes). */
  sign?(message: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

/**
 * Options of {@linkcode PubkyRingProvider.fromKeypair}.
 *
 * @example
 * ```ts
 * import { Keypair } from "@synonymdev/pubky";
 * import { PubkyRingProvider, type PubkyRingOptions } from "@pubky/noise/pubky-sdk";
 * const keypair = Keypair.random();
 * const options: PubkyRingOptions = { deviceId: new TextEncoder().encode("my-phone-device-01"), epoch: 2 };
 * const ring = await PubkyRingProvider.fromKeypair(keypair, "my-app", options);
 * keypair.free();
 * console.log(ring.epoch, new TextDecoder().decode(ring.deviceId)); // 2 my-phone-device-01
 * ```
 */
export interface PubkyRingOptions {
  /** Stored device id (default `utf8("default")`); as in Rust, derivations use the caller's. */
  deviceId?: Uint8Array;
  /** Stored epoch (default 0); as in Rust, derivations use the caller's. */
  epoch?: number;
}

function ringError(detail: string): NoiseError {
  return new NoiseError(NoiseErrorCode.Ring, detail);
}

/** The keypair's secret key, read once (a copy the caller wipes). */
function readSecret(keypair: PubkyKeypairLike): Uint8Array {
  const read = typeof keypair.secret === "function"
    ? () => keypair.secret!()
    : typeof keypair.secretKey === "function"
    ? () => keypair.secretKey!()
    : null;
  if (read === null) throw ringError("keypair has neither secret() nor secretKey()");
  let secret: unknown;
  try {
    secret = read();
  } catch {
    throw ringError("keypair secret key could not be read");
  }
  if (!(secret instanceof Uint8Array) || secret.length !== 32) {
    if (secret instanceof Uint8Array) secret.fill(0);
    throw ringError("Seed must be 32 bytes");
  }
  return secret;
}

/** Whether the keypair's public key is `expected` (the public key of its secret). */
function publicKeyMatches(keypair: PubkyKeypairLike, expected: Uint8Array): boolean {
  let pk: PubkyPublicKeyLike;
  try {
    pk = typeof keypair.publicKey === "function" ? keypair.publicKey() : keypair.publicKey;
  } catch {
    throw ringError("keypair public key could not be read");
  }
  if (typeof pk?.toUint8Array === "function") {
    const bytes = pk.toUint8Array();
    return bytes instanceof Uint8Array && equalBytes(bytes, expected);
  }
  if (typeof pk?.z32 === "function") return pk.z32() === encodeZ32(expected); // the SDK's `z32()` form
  throw ringError("keypair public key has neither toUint8Array() nor z32()");
}

/** Signs through the keypair (its own `sign`), checking what comes back. */
class KeypairSigner implements Ed25519Signer {
  readonly #keypair: PubkyKeypairLike;
  readonly #publicKey: Uint8Array;

  constructor(keypair: PubkyKeypairLike, publicKey: Uint8Array) {
    this.#keypair = keypair;
    this.#publicKey = publicKey;
  }

  get publicKey(): Uint8Array {
    return copyBytes(this.#publicKey);
  }

  async sign(message: Uint8Array): Promise<Uint8Array> {
    let sig: unknown;
    try {
      sig = await this.#keypair.sign!(message);
    } catch {
      throw ringError("Ed25519 signing by the keypair failed");
    }
    if (!(sig instanceof Uint8Array) || sig.length !== 64) {
      throw ringError("keypair signature must be 64 bytes");
    }
    return sig;
  }
}

/**
 * A ring on a Pubky SDK keypair (Rust `PubkyRingProvider`, feature `pubky-sdk`).
 *
 * Like Rust, the `kid` argument of every method is ignored, and
 * `withDeviceX25519` uses the caller's `deviceId` and `epoch`.
 *
 * @example
 * ```ts
 * import { Keypair } from "@synonymdev/pubky";
 * import { PubkyRingProvider } from "@pubky/noise/pubky-sdk";
 * const keypair = Keypair.random();
 * const ring = await PubkyRingProvider.fromKeypair(keypair, "my-app");
 * console.log(String(ring)); // no secret in here
 * keypair.free(); // the ring does not need the keypair any more
 * ```
 */
export class PubkyRingProvider implements RingKeyProvider {
  readonly #hkdfKey: CryptoKey;
  readonly #signer: Ed25519Signer;
  readonly #publicKey: Uint8Array;
  readonly #kid: string;
  readonly #deviceId: Uint8Array;
  readonly #epoch: number;
  readonly #signsThroughKeypair: boolean;

  private constructor(
    hkdfKey: CryptoKey,
    signer: Ed25519Signer,
    kid: string,
    deviceId: Uint8Array,
    epoch: number,
    signsThroughKeypair: boolean,
  ) {
    this.#hkdfKey = hkdfKey;
    this.#signer = signer;
    this.#publicKey = signer.publicKey;
    this.#kid = kid;
    this.#deviceId = deviceId;
    this.#epoch = epoch;
    this.#signsThroughKeypair = signsThroughKeypair;
  }

  /**
   * Builds the ring from `keypair`. Rejects with `NoiseError` Ring when the
   * keypair has no readable 32-byte secret, when its public key is not the one
   * of its secret, or on a bad `kid`, device id or epoch.
   */
  static async fromKeypair(
    keypair: PubkyKeypairLike,
    kid: string,
    options: PubkyRingOptions = {},
  ): Promise<PubkyRingProvider> {
    if (typeof keypair !== "object" || keypair === null) {
      throw ringError("keypair must be a Pubky SDK Keypair");
    }
    if (typeof kid !== "string") throw ringError("kid must be a string");
    const { deviceId = utf8("default"), epoch = 0 } = options;
    if (!(deviceId instanceof Uint8Array)) throw ringError("device_id must be a Uint8Array");
    if (!Number.isInteger(epoch) || epoch < 0 || epoch > 0xffff_ffff) {
      throw ringError(`epoch must be an integer in 0..=4294967295, got ${String(epoch)}`);
    }
    const secret = readSecret(keypair);
    let hkdfKey: CryptoKey;
    let ownSigner: Ed25519Signer;
    try {
      [hkdfKey, ownSigner] = await Promise.all([importHkdfSeed(secret), importEd25519Seed(secret)]);
    } finally {
      secret.fill(0);
    }
    const publicKey = ownSigner.publicKey;
    if (!publicKeyMatches(keypair, publicKey)) {
      throw ringError("keypair public key is not the public key of its secret key");
    }
    const throughKeypair = typeof keypair.sign === "function";
    const signer = throughKeypair ? new KeypairSigner(keypair, publicKey) : ownSigner;
    return new PubkyRingProvider(hkdfKey, signer, kid, copyBytes(deviceId), epoch, throughKeypair);
  }

  /** The key id given to {@linkcode PubkyRingProvider.fromKeypair}. */
  get kid(): string {
    return this.#kid;
  }

  /** A copy of the stored device id. */
  get deviceId(): Uint8Array {
    return copyBytes(this.#deviceId);
  }

  /** The stored epoch. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Whether signatures are made by the keypair's own `sign` (else by a WebCrypto key). */
  get signsThroughKeypair(): boolean {
    return this.#signsThroughKeypair;
  }

  /**
   * Derives the clamped X25519 static secret for `deviceId`/`epoch`, runs `fn`
   * with it and wipes it once `fn` settles. Rejects with `NoiseError` Ring for a
   * device id shorter than 16 bytes or a bad epoch.
   */
  async withDeviceX25519<T>(
    _kid: string,
    deviceId: Uint8Array,
    epoch: number,
    fn: (secret: Uint8Array) => T | Promise<T>,
  ): Promise<T> {
    return await withDerivedX25519(this.#hkdfKey, deviceId, epoch, fn);
  }

  /** The keypair's Ed25519 public key (a copy; `kid` is ignored). */
  ed25519PublicKey(_kid: string): Promise<Uint8Array> {
    return Promise.resolve(copyBytes(this.#publicKey));
  }

  /** The RFC 8032 signature of `message` by the keypair (`kid` is ignored). */
  signEd25519(_kid: string, message: Uint8Array): Promise<Uint8Array> {
    return this.#signer.sign(message);
  }

  /** A description without secrets. */
  toString(): string {
    return `PubkyRingProvider { kid: ${JSON.stringify(this.#kid)}, deviceId: "${
      toHex(this.#deviceId)
    }", epoch: ${this.#epoch}, ed25519PublicKey: "${toHex(this.#publicKey)}", secret: [redacted] }`;
  }

  /** The JSON form, without secrets. */
  toJSON(): { kid: string; deviceId: string; epoch: number; ed25519PublicKey: string } {
    return {
      kid: this.#kid,
      deviceId: toHex(this.#deviceId),
      epoch: this.#epoch,
      ed25519PublicKey: toHex(this.#publicKey),
    };
  }
}
inspectAsString(PubkyRingProvider);
