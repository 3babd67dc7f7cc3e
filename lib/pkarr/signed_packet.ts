/**
 * PKARR signed packets (pkarr `design/base.md`, `design/relays.md`; BEP 44 mutable items):
 *
 * - relay payload: `signature (64) ‖ timestamp (8, big-endian u64, microseconds) ‖ DNS packet`
 *   (at most 1000 bytes of DNS packet);
 * - signed message: the bencode fragment `3:seqi<timestamp>e1:v<length>:<DNS packet>`,
 *   signed with Ed25519 by the key the packet belongs to.
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";
import { concat, copyBytes, utf8 } from "../bytes.ts";
import { verifyEd25519 } from "../crypto/ed25519.ts";

/**
 * Largest DNS packet of a signed packet (BEP 44 `v` limit).
 *
 * @example
 * ```ts
 * import { MAX_DNS_PACKET_LEN } from "@pubky/noise/pkarr";
 * console.log(MAX_DNS_PACKET_LEN); // 1000: all of an identity's records must fit, the `_noise` one included
 * ```
 */
export const MAX_DNS_PACKET_LEN = 1000;
/** Signature + timestamp in front of the DNS packet in a relay payload. */
export const RELAY_HEADER_LEN = 72;
/** Largest relay payload. */
export const MAX_RELAY_PAYLOAD_LEN: number = RELAY_HEADER_LEN + MAX_DNS_PACKET_LEN;
/** BEP 44 `seq` is a signed 64-bit integer. */
const MAX_SEQ = (1n << 63n) - 1n;

/**
 * A verified (or freshly signed) PKARR packet.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseServer } from "@pubky/noise";
 * import { publishNoiseRecord, type RelayFetch, RelayResolver, type SignedPacket } from "@pubky/noise/pkarr";
 * const relayObjects = new Map<string, Uint8Array<ArrayBuffer>>(); // an in-memory PKARR relay
 * const relayFetch: RelayFetch = async (input, init) => {
 *   if (init?.method === "PUT") return relayObjects.set(String(input), init.body as Uint8Array<ArrayBuffer>), new Response(null);
 *   const payload = relayObjects.get(String(input));
 *   return payload ? new Response(payload) : new Response(null, { status: 404 });
 * };
 * const ring = await DummyRing.create(new Uint8Array(32).fill(2), "server");
 * const staticKey = await new NoiseServer("server", "server-device-0001", ring).staticPublicKey();
 * const expiresAt = Math.floor(Date.now() / 1000) + 86_400;
 * const relays = ["https://relay.example"];
 * const { publicKey } = await publishNoiseRecord(relays, { ring, kid: "server" }, { staticKey, expiresAt }, { fetch: relayFetch });
 * const packet: SignedPacket | null = await new RelayResolver(relays, { fetch: relayFetch }).fetchSignedPacket(publicKey);
 * const age = Date.now() - Number(packet!.timestampMicros / 1000n);
 * console.log(packet!.signature.length, packet!.packet.length < 1000, age < 60_000); // 64 true true
 * ```
 */
export interface SignedPacket {
  /** The Ed25519 public key that signed it (32 bytes). */
  publicKey: Uint8Array;
  /** The Ed25519 signature (64 bytes). */
  signature: Uint8Array;
  /** The timestamp (BEP 44 `seq`), microseconds since the Unix epoch. */
  timestampMicros: bigint;
  /** The encoded DNS packet. */
  packet: Uint8Array;
}

function pkarrError(detail: string): NoiseError {
  return new NoiseError(NoiseErrorCode.Pkarr, detail);
}

function checkSeq(seq: bigint): void {
  if (typeof seq !== "bigint" || seq < 0n || seq > MAX_SEQ) {
    throw pkarrError("timestamp must be a u63 number of microseconds");
  }
}

/**
 * The bytes signed for `(seq, packet)`: `3:seqi<seq>e1:v<len>:<packet>`.
 *
 * @example
 * ```ts
 * import { signableMessage } from "./signed_packet.ts";
 * const m = signableMessage(5n, new Uint8Array([0x61, 0x62]));
 * console.log(new TextDecoder().decode(m)); // 3:seqi5e1:v2:ab
 * ```
 */
export function signableMessage(seq: bigint, packet: Uint8Array): Uint8Array {
  checkSeq(seq);
  return concat(utf8(`3:seqi${seq}e1:v${packet.length}:`), packet);
}

/** Something that signs with an Ed25519 key: the library's `Ed25519Signer`. */
export interface PacketSigner {
  /** The 32-byte public key. */
  readonly publicKey: Uint8Array;
  /** The 64-byte signature of `message`. */
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/** Signs `packet` at `timestampMicros`. Throws Pkarr (2000) for a packet over 1000 bytes. */
export async function signPacket(
  signer: PacketSigner,
  packet: Uint8Array,
  timestampMicros: bigint,
): Promise<SignedPacket> {
  if (packet.length > MAX_DNS_PACKET_LEN) {
    throw pkarrError(
      `DNS packet is ${packet.length} bytes, more than the ${MAX_DNS_PACKET_LEN} a PKARR record may hold`,
    );
  }
  const signature = await signer.sign(signableMessage(timestampMicros, packet));
  return { publicKey: signer.publicKey, signature, timestampMicros, packet: copyBytes(packet) };
}

/** The relay payload `sig ‖ seq ‖ packet` of `signed`. */
export function encodeRelayPayload(signed: SignedPacket): Uint8Array {
  const out = new Uint8Array(RELAY_HEADER_LEN + signed.packet.length);
  out.set(signed.signature, 0);
  new DataView(out.buffer).setBigUint64(64, signed.timestampMicros, false);
  out.set(signed.packet, RELAY_HEADER_LEN);
  return out;
}

/**
 * Parses a relay payload for `publicKey` and verifies its signature. Throws `NoiseError`
 * (Pkarr, 2000) for a payload shorter than 72 bytes, a DNS packet over 1000 bytes, a timestamp
 * beyond 2^63 − 1 or a signature that does not verify.
 */
export async function verifyRelayPayload(
  publicKey: Uint8Array,
  payload: Uint8Array,
): Promise<SignedPacket> {
  if (!(payload instanceof Uint8Array) || payload.length < RELAY_HEADER_LEN) {
    throw pkarrError(
      `signed packet must be at least ${RELAY_HEADER_LEN} bytes, got ${payload?.length ?? 0}`,
    );
  }
  if (payload.length > MAX_RELAY_PAYLOAD_LEN) {
    throw pkarrError(
      `signed packet is oversized: ${
        payload.length - RELAY_HEADER_LEN
      } bytes of DNS packet (max ${MAX_DNS_PACKET_LEN})`,
    );
  }
  const signature = copyBytes(payload, 0, 64);
  const timestampMicros = new DataView(payload.buffer, payload.byteOffset, payload.length)
    .getBigUint64(64, false);
  if (timestampMicros > MAX_SEQ) throw pkarrError("signed packet timestamp exceeds 2^63 - 1");
  const packet = copyBytes(payload, RELAY_HEADER_LEN);
  const ok = await verifyEd25519(publicKey, signableMessage(timestampMicros, packet), signature);
  if (!ok) throw pkarrError("invalid signature on the signed packet");
  return { publicKey: copyBytes(publicKey), signature, timestampMicros, packet };
}
