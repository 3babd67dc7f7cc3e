/**
 * # @pubky/noise
 *
 * Direct, authenticated, encrypted client↔server sessions for Pubky, built on
 * the [Noise Protocol Framework](https://noiseprotocol.org/noise.html) (rev 34),
 * wire-compatible with the Rust crate
 * [`pubky-noise`](https://github.com/BitcoinErrorLog/pubky-noise) 1.2.0.
 *
 * - `Noise_XX_25519_ChaChaPoly_BLAKE2s` for first contact (trust on first use),
 *   then `Noise_IK_25519_ChaChaPoly_BLAKE2s` once the server's static key is pinned;
 *   `NN` without identities.
 * - Keys stay cold: seeds live in non-extractable WebCrypto keys; device statics
 *   are derived per device and epoch (HKDF-SHA512) inside a closure and wiped.
 * - Each side's Ed25519 identity signs its Noise static (BLAKE3 binding).
 * - {@linkcode NoiseLink}: `encrypt`/`decrypt` of one transport message; the
 *   session id is the handshake hash.
 * - Other entries, never loaded by this one: `@pubky/noise/streams` (WHATWG
 *   streams: sockets, WebSockets, chunked messages), `@pubky/noise/storage`
 *   (async messaging and handshakes through Pubky storage) and
 *   `@pubky/noise/pkarr` (server static keys from signed PKARR records).
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteIk, clientCompleteXx, clientStartIkDirect, clientStartXxTofu, DummyRing,
 *   NoiseClient, NoiseServer, serverAcceptIk, serverAcceptXx, serverCompleteIk, serverCompleteXx,
 * } from "@pubky/noise";
 *
 * const client = new NoiseClient("kid", "client-device-0001",
 *   await DummyRing.create(crypto.getRandomValues(new Uint8Array(32)), "kid"));
 * const server = new NoiseServer("kid", "server-device-0001",
 *   await DummyRing.create(crypto.getRandomValues(new Uint8Array(32)), "kid"));
 *
 * // First contact: XX, and pin the server's static key.
 * const c1 = await clientStartXxTofu(client);
 * const s1 = await serverAcceptXx(server, c1.firstMsg);
 * const c2 = await clientCompleteXx(client, c1.hs, s1.response);
 * await serverCompleteXx(server, s1.hs, c2.finalMsg, s1.serverStaticPk);
 * const pinned = c2.serverStaticPk;
 *
 * // Later: IK to the pinned key.
 * const ik = await clientStartIkDirect(client, pinned);
 * const accepted = await serverAcceptIk(server, ik.firstMsg);
 * const clientLink = await clientCompleteIk(ik.hs, accepted.response);
 * const serverLink = serverCompleteIk(accepted.hs);
 * const reply = serverLink.decrypt(clientLink.encrypt(new TextEncoder().encode("hi")));
 * console.log(new TextDecoder().decode(reply), clientLink.sessionId.toString());
 * ```
 *
 * @module
 */

export { NoiseError, NoiseErrorCode, type NoiseErrorOptions } from "./lib/errors.ts";
export type {
  TraceEvent,
  TraceEventName,
  TraceLogger,
  TracePattern,
  TraceRole,
} from "./lib/trace.ts";
export { fromHex, toHex } from "./lib/bytes.ts";

// Pubky layer
export {
  DEFAULT_HANDSHAKE_EXPIRY_SECS,
  NoiseClient,
  type NoiseClientOptions,
  type NoisePeerOptions,
  PROLOGUE,
  type XxClientStep,
  type XxInitResult,
} from "./lib/client.ts";
export {
  type ClientHello,
  MAX_HANDSHAKE_MSG_LEN,
  NoiseServer,
  type NoiseServerOptions,
  type ServerPolicy,
} from "./lib/server.ts";
export {
  clientCompleteIk,
  clientCompleteNn,
  clientCompleteXx,
  clientStartIkDirect,
  clientStartNn,
  clientStartXxTofu,
  serverAcceptIk,
  serverAcceptNn,
  serverAcceptXx,
  serverCompleteIk,
  serverCompleteNn,
  serverCompleteXx,
  type XxClientComplete,
} from "./lib/datalink_adapter.ts";
export { NoiseLink } from "./lib/link.ts";
export { StreamingNoiseLink } from "./lib/streams/streaming_link.ts";
export { SessionId } from "./lib/session_id.ts";
export { DummyRing, type DummyRingOptions, type RingKeyProvider } from "./lib/ring.ts";
export {
  decodeIdentityPayload,
  encodeIdentityPayload,
  type IdentityPayload,
  type Role,
} from "./lib/identity_payload.ts";
export { MAX_SERVER_HINT_LEN } from "./lib/identity.ts";
export {
  type BindingParams,
  makeBindingMessage,
  signIdentityBinding,
  verifyIdentityBinding,
} from "./lib/binding.ts";
export {
  deriveNoiseSeed,
  deriveX25519ForDeviceEpoch,
  importHkdfSeed,
  KDF_SALT,
  MIN_DEVICE_ID_LEN,
  NOISE_SEED_SALT,
} from "./lib/crypto/hkdf_sha512.ts";
export {
  type Ed25519BackendName,
  ed25519BackendName,
  type Ed25519Signer,
  importEd25519Seed,
  verifyEd25519,
} from "./lib/crypto/ed25519.ts";

// Noise layer
export {
  HandshakeState,
  type HandshakeStateOptions,
  MAX_MESSAGE_LEN,
} from "./lib/noise/handshake_state.ts";
export { MAX_PLAINTEXT_LEN, TransportState } from "./lib/noise/transport_state.ts";
export { type HandshakePattern, IK, NN, type Token, XX } from "./lib/noise/patterns.ts";
export {
  type CryptoSuite,
  loadCryptoSuite,
  nobleCryptoSuite,
  type SuiteBackends,
  suiteBackends,
} from "./lib/crypto/suite.ts";
export { type DhBackendName, DhKeyPair, type X25519 } from "./lib/crypto/x25519.ts";
export type { BulkAead, ChaChaPoly } from "./lib/crypto/chachapoly.ts";
export type { NoiseHash } from "./lib/crypto/blake2s.ts";
