/**
 * Shared fixtures of the Pubky-layer tests (`pubky_handshake.test.ts`,
 * `pubky_bad_input.test.ts`): the KAT keys of `vectors/pubky-kat.json`, clients and
 * servers built on them, raw Noise peers that write any payload, and error assertions.
 *
 * Not a test file itself (no `.test.` in its name).
 *
 * @module
 */
import assert from "node:assert/strict";
import kat from "./vectors/pubky-kat.json" with { type: "json" };
import { NoiseError } from "../lib/errors.ts";
import { fromHex, toHex, utf8 } from "../lib/bytes.ts";
import { NoiseClient, type NoiseClientOptions, PROLOGUE } from "../lib/client.ts";
import { NoiseServer, type NoiseServerOptions } from "../lib/server.ts";
import { DummyRing } from "../lib/ring.ts";
import { makeBindingMessage } from "../lib/binding.ts";
import { encodeIdentityPayload, type Role } from "../lib/identity_payload.ts";
import { HandshakeState } from "../lib/noise/handshake_state.ts";
import { IK, XX } from "../lib/noise/patterns.ts";
import { type CryptoSuite, loadCryptoSuite } from "../lib/crypto/suite.ts";
import type { DhKeyPair } from "../lib/crypto/x25519.ts";
import type { NoiseLink } from "../lib/link.ts";

/** One identity payload of the KAT file (JSON `null`s make the inferred type too narrow). */
export interface KatPayload {
  description: string;
  ed25519_pub: string;
  role: Role;
  server_hint: string | null;
  hint_expires_at: number | null;
  sig: string;
  json: string;
  json_hex: string;
  json_len: number;
  noise_message_len: number;
}

/** The identity payloads of the KAT file: [0] IK/XX client, [1] IK client with hint, [2] XX server. */
export const KAT_PAYLOADS = (kat as unknown as { identity_payloads: KatPayload[] })
  .identity_payloads;
/** Client device key: seed 01×32, `dev-client-00000000`, epoch 0. */
export const KAT_CLIENT = kat.x25519_kdf[1];
/** Server device key: seed 02×32, `dev-server-00000000`, epoch 0. */
export const KAT_SERVER = kat.x25519_kdf[2];
/** Server device key at epoch 1. */
export const KAT_SERVER_EPOCH1 = kat.x25519_kdf[3];
/** Ed25519 public key of seed 01×32 (the client identity). */
export const CLIENT_ED25519_PUB = kat.ed25519_from_seed[0].ed25519_pub;
/** Ed25519 public key of seed 02×32 (the server identity). */
export const SERVER_ED25519_PUB = kat.ed25519_from_seed[1].ed25519_pub;

/** Key id handed to the rings (DummyRing ignores it). */
export const KID = "kid";
/** The KAT client device id (19 bytes). */
export const CLIENT_DEVICE = KAT_CLIENT.device_id;
/** The KAT server device id (19 bytes). */
export const SERVER_DEVICE = KAT_SERVER.device_id;
/** The server clock of the KAT XX message 2 (and the client `now_unix` of the hint KAT). */
export const KAT_NOW = 1700000000;

/** The order-8 point of Curve25519 (u-coordinate), a low-order public key. */
export const ORDER8_POINT = fromHex(
  "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
);

/** The ring of seed `byte`×32 (01 for the KAT client, 02 for the KAT server). */
export function ring(byte: number): Promise<DummyRing> {
  return DummyRing.create(new Uint8Array(32).fill(byte), KID);
}

/** A client on the KAT client keys (or another device id / ring). */
export async function makeClient(
  options: NoiseClientOptions = {},
  deviceId: string | Uint8Array = CLIENT_DEVICE,
  seedByte = 1,
): Promise<NoiseClient> {
  return new NoiseClient(KID, deviceId, await ring(seedByte), options);
}

/** A server on the KAT server keys (or another device id / ring). */
export async function makeServer(
  options: NoiseServerOptions = {},
  deviceId: string | Uint8Array = SERVER_DEVICE,
  seedByte = 2,
): Promise<NoiseServer> {
  return new NoiseServer(KID, deviceId, await ring(seedByte), options);
}

/** A key pair of the default suite from a hex secret (as the crate's snow builder would take it). */
export async function importStatic(
  secretHex: string,
  suite?: CryptoSuite,
): Promise<DhKeyPair> {
  return (suite ?? await loadCryptoSuite()).dh.importSecretKey(fromHex(secretHex));
}

/** The client's device static, fetched through the ring's closure and imported in the suite. */
export async function clientStaticFromRing(suite?: CryptoSuite): Promise<DhKeyPair> {
  const s = suite ?? await loadCryptoSuite();
  const r = await ring(1);
  return r.withDeviceX25519(KID, utf8(CLIENT_DEVICE), 0, (sk) => s.dh.importSecretKey(sk));
}

/**
 * Asserts that `action` (a promise, or a function run now) fails with a `NoiseError` of
 * `code`, and with exactly `message` when given. Returns the error.
 */
export async function expectNoiseError(
  action: Promise<unknown> | (() => unknown),
  code: number,
  message?: string,
  label = "",
): Promise<NoiseError> {
  let error: unknown = undefined;
  let threw = false;
  try {
    await (typeof action === "function" ? action() : action);
  } catch (e) {
    error = e;
    threw = true;
  }
  assert.ok(threw, `${label}: expected NoiseError ${code}, but it succeeded`);
  assert.ok(
    error instanceof NoiseError,
    `${label}: expected NoiseError ${code}, got ${String(error)}`,
  );
  assert.equal(error.code, code, `${label}: code (${error.message})`);
  if (message !== undefined) assert.equal(error.message, message, label);
  return error;
}

/** Fields of a hand-made identity payload; every one has an honest default. */
export interface CraftedPayload {
  /** Who signs the binding. */
  signer: DummyRing;
  /** The `ed25519_pub` written in the payload (default: the signer's key). */
  ed25519Pub?: Uint8Array;
  /** The `role` written in the payload. */
  role: Role;
  /** The role byte of the signed binding (default: `role`). */
  bindingRole?: Role;
  /** `local_noise_pub` of the binding (the signer's static). */
  local: Uint8Array;
  /** `remote_noise_pub` of the binding. */
  remote: Uint8Array | null;
  /** `server_hint` (default null). */
  serverHint?: string | null;
  /** `hint_expires_at` (default null). */
  hintExpiresAt?: number | null;
  /** Replaces the signature. */
  sig?: Uint8Array;
}

/** An identity payload signed over a binding of our choosing (honest by default). */
export async function craftPayload(p: CraftedPayload): Promise<Uint8Array> {
  const signer = p.signer;
  const ed25519Pub = p.ed25519Pub ?? await signer.ed25519PublicKey(KID);
  const binding = makeBindingMessage({
    ed25519Pub,
    localNoisePub: p.local,
    role: p.bindingRole ?? p.role,
    remoteNoisePub: p.remote,
  });
  const sig = p.sig ?? await signer.signEd25519(KID, binding);
  return encodeIdentityPayload({
    ed25519Pub,
    role: p.role,
    serverHint: p.serverHint ?? null,
    hintExpiresAt: p.hintExpiresAt ?? null,
    sig,
  });
}

/** A raw IK initiator with the client's real static, pinned to `rs` (default: the KAT server). */
export async function rawIkInitiator(
  options: { s?: DhKeyPair; rs?: Uint8Array; suite?: CryptoSuite } = {},
): Promise<HandshakeState> {
  const suite = options.suite ?? await loadCryptoSuite();
  return new HandshakeState({
    suite,
    pattern: IK,
    initiator: true,
    prologue: PROLOGUE,
    s: options.s ?? await clientStaticFromRing(suite),
    rs: options.rs ?? fromHex(KAT_SERVER.x25519_pk),
  });
}

/** IK message 1 with any payload bytes, from the client's real static key. */
export async function rawIkMsg1(payload: Uint8Array, s?: DhKeyPair): Promise<Uint8Array> {
  return (await rawIkInitiator({ s })).writeMessage(payload);
}

/** A raw XX responder on the KAT server static (imported from the KAT secret). */
export async function rawXxResponder(): Promise<HandshakeState> {
  return new HandshakeState({
    suite: await loadCryptoSuite(),
    pattern: XX,
    initiator: false,
    prologue: PROLOGUE,
    s: await importStatic(KAT_SERVER.x25519_sk),
  });
}

/** A raw XX initiator on the KAT client static (imported from the KAT secret, or `s`). */
export async function rawXxInitiator(s?: DhKeyPair, suite?: CryptoSuite): Promise<HandshakeState> {
  return new HandshakeState({
    suite: suite ?? await loadCryptoSuite(),
    pattern: XX,
    initiator: true,
    prologue: PROLOGUE,
    s: s ?? await importStatic(KAT_CLIENT.x25519_sk),
  });
}

/** Asserts that two links form one session: same id, messages pass both ways in order. */
export function assertLinked(a: NoiseLink, b: NoiseLink, label = ""): void {
  assert.equal(a.sessionId.toString(), b.sessionId.toString(), `${label}: session ids`);
  assert.match(a.sessionId.toString(), /^[0-9a-f]{64}$/, `${label}: session id form`);
  for (let i = 0; i < 3; i++) {
    const there = utf8(`${label} a→b #${i}`);
    assert.deepEqual(b.decrypt(a.encrypt(there)), there, `${label}: a→b #${i}`);
    const back = utf8(`${label} b→a #${i}`);
    assert.deepEqual(a.decrypt(b.encrypt(back)), back, `${label}: b→a #${i}`);
  }
  assert.equal(a.transport.sendNonce, 3n);
  assert.equal(b.transport.receiveNonce, 3n);
}

/** `bytes` with one bit flipped. */
export function flipBit(bytes: Uint8Array, index: number, bit = 0): Uint8Array {
  const out = bytes.slice();
  out[index] ^= 1 << bit;
  return out;
}

/** `bytes` followed by `extra`. */
export function append(bytes: Uint8Array, extra: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + extra.length);
  out.set(bytes);
  out.set(extra, bytes.length);
  return out;
}

/** Hex of `bytes` (re-exported for the test files). */
export { fromHex, toHex, utf8 };
