/**
 * # @pubky/noise/pubky-sdk
 *
 * A key ring built from a Pubky SDK keypair — the Rust crate's `pubky-sdk`
 * feature (`PubkyRingProvider`). The keypair's secret key is the HKDF input of
 * the device static keys and the Ed25519 seed of the identity; its public key
 * is the identity. Same scheme as `DummyRing`: the same secret gives the same
 * statics and signatures.
 *
 * The keypair is typed structurally: this entry does not import
 * `@synonymdev/pubky` (install and load it yourself); a `Keypair` of
 * `@synonymdev/pubky` 0.6 fits as it is.
 *
 * @example
 * ```ts
 * import { Keypair } from "@synonymdev/pubky";
 * import { NoiseClient } from "@pubky/noise";
 * import { PubkyRingProvider } from "@pubky/noise/pubky-sdk";
 *
 * const keypair = Keypair.random(); // or Keypair.fromSecret(secret), fromRecoveryFile(...)
 * const ring = await PubkyRingProvider.fromKeypair(keypair, "my-app");
 * keypair.free();
 * const client = new NoiseClient("my-app", "my-phone-device-01", ring);
 * console.log(client.toString()); // NoiseClient(my-app)
 * ```
 *
 * @module
 */

export {
  type PubkyKeypairLike,
  type PubkyPublicKeyLike,
  type PubkyRingOptions,
  PubkyRingProvider,
} from "./lib/pubky_sdk_ring.ts";
