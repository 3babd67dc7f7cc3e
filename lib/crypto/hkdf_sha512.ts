/**
 * Device static key derivation of pubky-noise (`derive_x25519_for_device_epoch`) and the
 * paykit `derive_noise_seed`, both on WebCrypto HKDF.
 *
 * The 32-byte seed is imported once as a non-extractable `HKDF` `CryptoKey`
 * ({@linkcode importHkdfSeed}); derivations never see the seed bytes again. The derived X25519
 * secret is returned as bytes that the caller must wipe (`.fill(0)`) when done;
 * `RingKeyProvider.withDeviceX25519` does that for you.
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";
import { copyBytes, utf8 } from "../bytes.ts";

/**
 * Minimum length of a device id in bytes (Rust `MIN_DEVICE_ID_LEN`).
 *
 * @example
 * ```ts
 * import { MIN_DEVICE_ID_LEN } from "@pubky/noise";
 * console.log(new TextEncoder().encode("dev-client-00000000").length >= MIN_DEVICE_ID_LEN); // true
 * ```
 */
export const MIN_DEVICE_ID_LEN = 16;

/**
 * HKDF-SHA512 salt of the device key derivation (21 ASCII bytes).
 *
 * @example
 * ```ts
 * import { KDF_SALT } from "@pubky/noise";
 * console.log(KDF_SALT); // "pubky-noise-x25519:v1"
 * ```
 */
export const KDF_SALT = "pubky-noise-x25519:v1";

/**
 * HKDF-SHA256 salt of {@linkcode deriveNoiseSeed}.
 *
 * @example
 * ```ts
 * import { NOISE_SEED_SALT } from "@pubky/noise";
 * console.log(NOISE_SEED_SALT); // "paykit-noise-seed-v1"
 * ```
 */
export const NOISE_SEED_SALT = "paykit-noise-seed-v1";

const SEED_LEN = 32;
const MAX_EPOCH = 0xffff_ffff;

function ring(detail: string): NoiseError {
  return new NoiseError(NoiseErrorCode.Ring, detail);
}

/** `bytes` as a view WebCrypto's types accept (copied only if backed by a SharedArrayBuffer). */
function bufferSource(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer
    ? bytes as Uint8Array<ArrayBuffer>
    : new Uint8Array(bytes);
}

async function importRawHkdf(ikm: Uint8Array): Promise<CryptoKey> {
  try {
    return await crypto.subtle.importKey("raw", bufferSource(ikm), "HKDF", false, ["deriveBits"]);
  } catch {
    throw ring("HKDF key import failed");
  }
}

/**
 * Imports a 32-byte seed as a non-extractable WebCrypto HKDF key. The caller may wipe `seed`
 * once the promise resolves. Rejects with `NoiseError` (Ring, `"Seed must be 32 bytes"`) for any
 * other length.
 *
 * @example
 * ```ts
 * import { importHkdfSeed } from "@pubky/noise";
 * const seed = crypto.getRandomValues(new Uint8Array(32));
 * const key = await importHkdfSeed(seed);
 * seed.fill(0);
 * console.log(key.extractable); // false
 * ```
 */
export async function importHkdfSeed(seed: Uint8Array): Promise<CryptoKey> {
  if (!(seed instanceof Uint8Array) || seed.length !== SEED_LEN) {
    throw ring("Seed must be 32 bytes");
  }
  const copy = copyBytes(seed); // WebCrypto copies too; this one is wiped below
  try {
    return await importRawHkdf(copy);
  } finally {
    copy.fill(0);
  }
}

/**
 * Derives the device's clamped X25519 static secret:
 * `clamp(HKDF-SHA512(salt = "pubky-noise-x25519:v1", ikm = seed, info = deviceId ‖ u32le(epoch), L = 32))`.
 *
 * Rejects with `NoiseError` (Ring) if `deviceId` is shorter than {@linkcode MIN_DEVICE_ID_LEN}
 * (`"device_id too short: N bytes (minimum 16 bytes required)"`), if `epoch` is not an integer in
 * `0..=4294967295`, or if `seedKey` is not an HKDF key. The returned 32 bytes are secret: wipe
 * them when done.
 *
 * @example
 * ```ts
 * import { deriveX25519ForDeviceEpoch, importHkdfSeed, toHex } from "@pubky/noise";
 * const key = await importHkdfSeed(new Uint8Array(32).fill(1));
 * const sk = await deriveX25519ForDeviceEpoch(key, new TextEncoder().encode("dev-client-00000000"), 0);
 * console.log(toHex(sk)); // 10024847c7928c42b17575a34f78d172c29692b3cdc8e042508901c5f6a42457
 * sk.fill(0);
 * ```
 */
export async function deriveX25519ForDeviceEpoch(
  seedKey: CryptoKey,
  deviceId: Uint8Array,
  epoch: number,
): Promise<Uint8Array> {
  if (!(deviceId instanceof Uint8Array)) throw ring("device_id must be a Uint8Array");
  if (deviceId.length < MIN_DEVICE_ID_LEN) {
    throw ring(
      `device_id too short: ${deviceId.length} bytes (minimum ${MIN_DEVICE_ID_LEN} bytes required)`,
    );
  }
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > MAX_EPOCH) {
    throw ring(`epoch must be an integer in 0..=${MAX_EPOCH}, got ${String(epoch)}`);
  }
  if (seedKey?.algorithm?.name !== "HKDF") throw ring("seed key must be an HKDF CryptoKey");
  const info = new Uint8Array(deviceId.length + 4);
  info.set(deviceId);
  new DataView(info.buffer).setUint32(deviceId.length, epoch, true);
  let sk: Uint8Array;
  try {
    sk = new Uint8Array(
      await crypto.subtle.deriveBits(
        { name: "HKDF", hash: "SHA-512", salt: utf8(KDF_SALT) as Uint8Array<ArrayBuffer>, info },
        seedKey,
        256,
      ),
    );
  } catch {
    throw ring("HKDF-SHA512 derivation failed");
  }
  sk[0] &= 248;
  sk[31] &= 127;
  sk[31] |= 64;
  return sk;
}

/**
 * paykit's `derive_noise_seed`: `HKDF-SHA256(salt = "paykit-noise-seed-v1", ikm = ed25519Secret,
 * info = deviceId, L = 32)`. No device id length check (as in Rust). The secret is imported as a
 * non-extractable HKDF key for the derivation only; the returned 32 bytes are secret: wipe them
 * when done.
 *
 * @example
 * ```ts
 * import { deriveNoiseSeed, toHex } from "@pubky/noise";
 * const seed = await deriveNoiseSeed(new Uint8Array(32).fill(1), new TextEncoder().encode("dev-client-00000000"));
 * console.log(toHex(seed)); // 1b8a2b3a331a0e28bd7b640de0499def1caf34c7f496c2729f8273aaf58c720b
 * seed.fill(0);
 * ```
 */
export async function deriveNoiseSeed(
  ed25519Secret: Uint8Array,
  deviceId: Uint8Array,
): Promise<Uint8Array> {
  if (!(ed25519Secret instanceof Uint8Array) || ed25519Secret.length !== SEED_LEN) {
    throw ring("Seed must be 32 bytes");
  }
  if (!(deviceId instanceof Uint8Array)) throw ring("device_id must be a Uint8Array");
  const key = await importHkdfSeed(ed25519Secret);
  try {
    return new Uint8Array(
      await crypto.subtle.deriveBits(
        {
          name: "HKDF",
          hash: "SHA-256",
          salt: utf8(NOISE_SEED_SALT) as Uint8Array<ArrayBuffer>,
          info: bufferSource(deviceId),
        },
        key,
        256,
      ),
    );
  } catch {
    throw ring("HKDF-SHA256 derivation failed");
  }
}
