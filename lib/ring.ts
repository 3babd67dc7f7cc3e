/**
 * The key feed of the handshake ("ring"): where the device's X25519 static secret and the
 * Ed25519 identity signatures come from.
 *
 * Keys stay cold: a {@linkcode RingKeyProvider} never hands out a long-lived secret. The X25519
 * static secret exists as bytes only for the duration of a callback and is wiped afterwards, and
 * Ed25519 signing happens behind {@linkcode RingKeyProvider.signEd25519}.
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "./errors.ts";
import { copyBytes, toHex, utf8 } from "./bytes.ts";
import { deriveX25519ForDeviceEpoch, importHkdfSeed } from "./crypto/hkdf_sha512.ts";
import { type Ed25519Signer, importEd25519Seed } from "./crypto/ed25519.ts";
import { inspectAsString } from "./redacted.ts";

/**
 * Source of a device's keys (Rust `RingKeyProvider` + `RingKeyFiller`).
 *
 * @example
 * ```ts
 * import { DummyRing, type RingKeyProvider } from "@pubky/noise";
 * const ring: RingKeyProvider = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const deviceId = new TextEncoder().encode("dev-client-00000000");
 * const first = await ring.withDeviceX25519("kid", deviceId, 0, (sk) => sk[0]);
 * console.log(first); // 16
 * ```
 */
export interface RingKeyProvider {
  /**
   * Runs `fn` with the device's clamped X25519 static secret; the bytes are wiped once `fn`
   * settles (even if it throws).
   */
  withDeviceX25519<T>(
    kid: string,
    deviceId: Uint8Array,
    epoch: number,
    fn: (secret: Uint8Array) => T | Promise<T>,
  ): Promise<T>;
  /** The 32-byte Ed25519 public key of identity `kid`. */
  ed25519PublicKey(kid: string): Promise<Uint8Array>;
  /**
   * The 64-byte Ed25519 signature of `message` by identity `kid`. `message` is always a 32-byte
   * identity binding. A server signs its XX binding once and reuses the signature (Ed25519 is
   * deterministic); an XX client asks for its signature while it checks the server's, so a ring
   * may be asked to sign for a handshake that then fails: that signature is dropped, never sent.
   */
  signEd25519(kid: string, message: Uint8Array): Promise<Uint8Array>;
}

/**
 * Options of {@linkcode DummyRing.create}.
 *
 * @example
 * ```ts
 * import { DummyRing, type DummyRingOptions } from "@pubky/noise";
 * const options: DummyRingOptions = { deviceId: new TextEncoder().encode("dev-client-00000000") };
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid", options);
 * console.log(ring.epoch); // 0
 * ```
 */
export interface DummyRingOptions {
  /** Stored device id (default `utf8("default")`); like Rust, derivations do not use it. */
  deviceId?: Uint8Array;
  /** Stored epoch (default 0); like Rust, derivations do not use it. */
  epoch?: number;
}

/**
 * The key feed of every seed-backed ring: derives the device static from the
 * non-extractable HKDF key, runs `fn` with it and wipes it once `fn` settles.
 * (Internal: shared by {@linkcode DummyRing} and the Pubky SDK ring.)
 */
export async function withDerivedX25519<T>(
  hkdfKey: CryptoKey,
  deviceId: Uint8Array,
  epoch: number,
  fn: (secret: Uint8Array) => T | Promise<T>,
): Promise<T> {
  if (typeof fn !== "function") {
    throw new NoiseError(NoiseErrorCode.Ring, "withDeviceX25519 needs a callback");
  }
  const secret = await deriveX25519ForDeviceEpoch(hkdfKey, deviceId, epoch);
  try {
    return await fn(secret);
  } finally {
    secret.fill(0);
  }
}

/**
 * A ring holding one 32-byte seed, as the Rust test helper `DummyRing`: the seed is both the
 * HKDF input of the X25519 device key derivation and the Ed25519 (RFC 8032) seed.
 *
 * The seed is imported into a non-extractable WebCrypto HKDF key and an Ed25519 signer
 * (non-extractable WebCrypto key, or a private copy inside the noble fallback signer); the ring
 * itself keeps no copy, so the caller may wipe its seed once {@linkcode DummyRing.create}
 * resolves.
 *
 * Like Rust, the `kid` argument of every method is ignored, and `withDeviceX25519` uses the
 * caller's `deviceId` and `epoch`, not the stored ones.
 *
 * @example
 * ```ts
 * import { DummyRing, toHex } from "@pubky/noise";
 * const seed = new Uint8Array(32).fill(1);
 * const ring = await DummyRing.create(seed, "client");
 * seed.fill(0);
 * console.log(toHex(await ring.ed25519PublicKey("client")));
 * // 8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c
 * console.log(JSON.stringify(ring)); // no secret in here
 * ```
 */
export class DummyRing implements RingKeyProvider {
  readonly #hkdfKey: CryptoKey;
  readonly #signer: Ed25519Signer;
  readonly #publicKey: Uint8Array;
  readonly #kid: string;
  readonly #deviceId: Uint8Array;
  readonly #epoch: number;

  private constructor(
    hkdfKey: CryptoKey,
    signer: Ed25519Signer,
    kid: string,
    deviceId: Uint8Array,
    epoch: number,
  ) {
    this.#hkdfKey = hkdfKey;
    this.#signer = signer;
    this.#publicKey = signer.publicKey;
    this.#kid = kid;
    this.#deviceId = deviceId;
    this.#epoch = epoch;
  }

  /**
   * Builds a ring from a 32-byte seed (rejects with `NoiseError` Ring otherwise). Defaults:
   * `deviceId = utf8("default")`, `epoch = 0`.
   *
   * @example
   * ```ts
   * import { DummyRing } from "@pubky/noise";
   * const ring = await DummyRing.create(new Uint8Array(32).fill(2), "server", { epoch: 1 });
   * console.log(ring.kid, ring.epoch); // server 1
   * ```
   */
  static async create(
    seed: Uint8Array,
    kid: string,
    options: DummyRingOptions = {},
  ): Promise<DummyRing> {
    if (typeof kid !== "string") throw new NoiseError(NoiseErrorCode.Ring, "kid must be a string");
    const { deviceId = utf8("default"), epoch = 0 } = options;
    if (!(deviceId instanceof Uint8Array)) {
      throw new NoiseError(NoiseErrorCode.Ring, "device_id must be a Uint8Array");
    }
    if (!Number.isInteger(epoch) || epoch < 0 || epoch > 0xffff_ffff) {
      throw new NoiseError(
        NoiseErrorCode.Ring,
        `epoch must be an integer in 0..=4294967295, got ${String(epoch)}`,
      );
    }
    const storedDeviceId = copyBytes(deviceId);
    const [hkdfKey, signer] = await Promise.all([importHkdfSeed(seed), importEd25519Seed(seed)]);
    return new DummyRing(hkdfKey, signer, kid, storedDeviceId, epoch);
  }

  /** The key id given to {@linkcode DummyRing.create}. */
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

  /**
   * Derives the clamped X25519 static secret for `deviceId`/`epoch` (ignoring `kid` and the
   * stored device id and epoch), runs `fn` with it and wipes it once `fn` settles. Rejects with
   * `NoiseError` (Ring) for a device id shorter than 16 bytes or an invalid epoch.
   *
   * @example
   * ```ts
   * import { DummyRing, toHex } from "@pubky/noise";
   * import { x25519 } from "@noble/curves/ed25519.js";
   * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
   * const deviceId = new TextEncoder().encode("dev-client-00000000");
   * const pk = await ring.withDeviceX25519("kid", deviceId, 0, (sk) => x25519.getPublicKey(sk));
   * console.log(toHex(pk)); // 57f90bc75b934e22dbe78e081c9be4218cd7dc75b4e68247cda13c9dff2d2969
   * ```
   */
  async withDeviceX25519<T>(
    _kid: string,
    deviceId: Uint8Array,
    epoch: number,
    fn: (secret: Uint8Array) => T | Promise<T>,
  ): Promise<T> {
    return await withDerivedX25519(this.#hkdfKey, deviceId, epoch, fn);
  }

  /**
   * The Ed25519 public key of the seed (a copy; `kid` is ignored).
   *
   * @example
   * ```ts
   * import { DummyRing } from "@pubky/noise";
   * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
   * console.log((await ring.ed25519PublicKey("kid")).length); // 32
   * ```
   */
  ed25519PublicKey(_kid: string): Promise<Uint8Array> {
    return Promise.resolve(copyBytes(this.#publicKey));
  }

  /**
   * The deterministic RFC 8032 signature of `message` with the seed (`kid` is ignored).
   *
   * @example
   * ```ts
   * import { DummyRing, verifyEd25519 } from "@pubky/noise";
   * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
   * const msg = new Uint8Array(32);
   * const sig = await ring.signEd25519("kid", msg);
   * console.log(await verifyEd25519(await ring.ed25519PublicKey("kid"), msg, sig)); // true
   * ```
   */
  signEd25519(_kid: string, message: Uint8Array): Promise<Uint8Array> {
    return this.#signer.sign(message);
  }

  /**
   * A description without secrets.
   *
   * @example
   * ```ts
   * import { DummyRing } from "@pubky/noise";
   * console.log(String(await DummyRing.create(new Uint8Array(32).fill(1), "kid")));
   * ```
   */
  toString(): string {
    return `DummyRing { kid: ${JSON.stringify(this.#kid)}, deviceId: "${
      toHex(this.#deviceId)
    }", epoch: ${this.#epoch}, ed25519PublicKey: "${toHex(this.#publicKey)}", seed: [redacted] }`;
  }

  /**
   * The JSON form, without secrets.
   *
   * @example
   * ```ts
   * import { DummyRing } from "@pubky/noise";
   * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
   * console.log(JSON.stringify(ring));
   * ```
   */
  toJSON(): { kid: string; deviceId: string; epoch: number; ed25519PublicKey: string } {
    return {
      kid: this.#kid,
      deviceId: toHex(this.#deviceId),
      epoch: this.#epoch,
      ed25519PublicKey: toHex(this.#publicKey),
    };
  }
}
inspectAsString(DummyRing);
