/**
 * # @pubky/noise/pkarr
 *
 * Servers' Noise static keys from signed PKARR records — what the Rust crate's `pkarr` feature
 * declares but does not do (it fetches and verifies nothing). Not loaded by the default entry.
 *
 * - **Record**: a TXT record `_noise.<z32 key>` (or `_noise.<label>.<z32 key>`) in the
 *   server identity's PKARR packet, text
 *   `v=1;suite=Noise_IK_25519_ChaChaPoly_BLAKE2s;k=<base64url X25519 static>;e=<epoch>;exp=<unix seconds>`,
 *   strict: exactly these fields in this order; an unknown version, suite, key length or
 *   number format is refused ({@linkcode parseNoiseTxt}).
 * - **Signature**: PKARR's — Ed25519 by the identity over `3:seqi<timestamp µs>e1:v<len>:<DNS packet>`;
 *   relay payload `sig(64) ‖ timestamp(8, big-endian) ‖ DNS packet (≤ 1000 bytes)`. DNS packets
 *   are encoded with `@dnsquery/dns-packet`.
 * - **Publish**: {@linkcode publishNoiseRecord} (an `Ed25519Signer` or a ring), keeping the
 *   identity's other records.
 * - **Resolve**: {@linkcode RelayResolver} asks PKARR relays over HTTP (`fetch`, time-outs),
 *   verifies signature, size, timestamp (no future, no rollback), the binding (the record is in
 *   the packet of the key asked for, under its name), the record and its expiry, before an IK
 *   client uses the key. Every bad record is `NoiseError` `Pkarr` (2000).
 * - {@linkcode PkarrResolver} is an interface: plug another source. {@linkcode PaykitNoiseJsonResolver}
 *   reads Paykit's **unsigned** `/pub/paykit.app/v0/noise` JSON, flagged `authenticated: false`
 *   ({@linkcode requireAuthenticated} refuses it).
 *
 * @example
 * ```ts
 * import { clientStartIkDirect, DummyRing, NoiseClient, NoiseServer } from "@pubky/noise";
 * import { publishNoiseRecord, RelayResolver } from "@pubky/noise/pkarr";
 *
 * const relays = ["https://relay.pkarr.org"];
 * // Server: publish the static key under the server's Ed25519 identity.
 * const ring = await DummyRing.create(crypto.getRandomValues(new Uint8Array(32)), "server");
 * const server = new NoiseServer("server", "server-device-0001", ring);
 * const record = { staticKey: await server.staticPublicKey(), expiresAt: Math.floor(Date.now() / 1000) + 86400 };
 * const publish = () => publishNoiseRecord(relays, { ring, kid: "server" }, record);
 *
 * // Client: resolve and verify, then IK.
 * const resolve = async (client: NoiseClient, serverId: string) => {
 *   const { staticKey } = await new RelayResolver(relays).resolveNoiseRecord(serverId);
 *   return await clientStartIkDirect(client, staticKey);
 * };
 * console.log(typeof publish, typeof resolve); // function function
 * ```
 *
 * @module
 */

export { decodeZ32Key, encodeZ32 } from "./lib/pkarr/z32.ts";
export { MAX_DNS_PACKET_LEN, type SignedPacket } from "./lib/pkarr/signed_packet.ts";
export {
  formatNoiseTxt,
  type NoiseRecord,
  noiseRecordName,
  parseNoiseTxt,
} from "./lib/pkarr/record.ts";
export {
  type PkarrResolver,
  requireAuthenticated,
  type ResolvedNoiseRecord,
  type ResolveOptions,
} from "./lib/pkarr/resolver.ts";
export {
  type NoiseRecordInput,
  type NoiseRecordSigner,
  publishNoiseRecord,
  type PublishOptions,
  type PublishResult,
  type RelayFetch,
  type RelayOptions,
  RelayResolver,
  type RelayResolverOptions,
} from "./lib/pkarr/relay.ts";
export {
  PaykitNoiseJsonResolver,
  type PaykitNoiseJsonResolverOptions,
} from "./lib/pkarr/paykit.ts";
