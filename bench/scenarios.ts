/**
 * The benchmark rows, shared by the `Deno.bench` files and the portable `report.ts`: each row
 * is one operation set up twice (or three times), with our default suite and with an all-noble
 * reference, ready to be timed in the same process.
 *
 * - ours: the defaults (`loadCryptoSuite()`, `DummyRing`), i.e. what an application gets.
 * - ref: the same library code with every primitive it lets us choose on `@noble/*`:
 *   `nobleCryptoSuite()` for Noise and a noble ring ({@linkcode NobleRing}) for HKDF-SHA512 and
 *   Ed25519 signing. Ed25519 *verification* of the peer's identity still goes through the
 *   library's detected backend (WebCrypto where the runtime has it): there is no way to choose it.
 * - strict (Pubky rows only): the same handshake driven step by step through the library's
 *   lower layers (`HandshakeState`, identity payload, binding), with the peer's signature checked
 *   by the library's noble verifier (`ed25519Backends.noble.verify`): every primitive on noble.
 *
 * Every variant is run once with its result checked when it is set up, so a row that measures
 * something broken fails loudly instead of printing a number.
 *
 * @module
 */
import {
  type CryptoSuite,
  decodeIdentityPayload,
  DEFAULT_HANDSHAKE_EXPIRY_SECS,
  type DhKeyPair,
  DummyRing,
  HandshakeState,
  type IdentityPayload,
  IK,
  loadCryptoSuite,
  makeBindingMessage,
  nobleCryptoSuite,
  NoiseClient,
  NoiseLink,
  NoiseServer,
  PROLOGUE,
  type RingKeyProvider,
  type Role,
  type TransportState,
  XX,
} from "../mod.ts";
import { checkServerHint, signedIdentityPayload } from "../lib/identity.ts";
import { ed25519Backends } from "../lib/crypto/ed25519.ts";
import { ed25519 } from "@noble/curves/ed25519.js";
import { NobleRing } from "./noble_ring.ts";
import { pubkyIk, type PubkyPeers, pubkyXx } from "./pubky_flows.ts";

/** One way of doing a row's operation. `op` does it once. */
export interface Variant {
  /** Short label: "ours", "ref" or "strict". */
  label: string;
  /** One operation (a whole handshake, or one seal + one open). */
  op: () => Promise<void> | void;
}

/** One benchmark row. */
export interface Row {
  /** Stable id, also the `Deno.bench` group. */
  id: string;
  /** Human title. */
  title: string;
  /** Plaintext bytes per operation (transport rows); 0 for handshakes (reported in ops/s). */
  bytes: number;
  /** Whether `op` is synchronous (then it is called without `await`). */
  sync: boolean;
  /** Our default suite and ring. */
  ours: Variant;
  /** The all-noble reference through the same API (verification excepted, see the module doc). */
  ref: Variant;
  /** Every primitive on noble, verification included (Pubky handshake rows only). */
  strict?: Variant;
}

const KID = "bench";
const CLIENT_DEVICE = "bench-client-device-0001";
const SERVER_DEVICE = "bench-server-device-0001";
const CLIENT_SEED = new Uint8Array(32).fill(0x11);
const SERVER_SEED = new Uint8Array(32).fill(0x22);
const enc = new TextEncoder();

/** The transport sizes of the issue: small, 1 KiB, 16 KiB and the largest plaintext (65519). */
export const TRANSPORT_SIZES: readonly number[] = [64, 1024, 16384, 65519];

function fail(what: string): never {
  throw new Error(`bench self-check failed: ${what}`);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Both ends of a session agree on the session id and carry a message each way. */
function checkLinks(client: NoiseLink, server: NoiseLink, what: string): void {
  if (!client.sessionId.equals(server.sessionId)) fail(`${what}: session ids differ`);
  const msg = enc.encode("ping");
  if (!sameBytes(server.decrypt(client.encrypt(msg)), msg)) fail(`${what}: client → server`);
  if (!sameBytes(client.decrypt(server.encrypt(msg)), msg)) fail(`${what}: server → client`);
}

function checkTransports(a: TransportState, b: TransportState, what: string): void {
  if (!sameBytes(a.handshakeHash, b.handshakeHash)) fail(`${what}: handshake hashes differ`);
  const msg = enc.encode("ping");
  if (!sameBytes(b.readMessage(a.writeMessage(msg)), msg)) fail(`${what}: a → b`);
  if (!sameBytes(a.readMessage(b.writeMessage(msg)), msg)) fail(`${what}: b → a`);
}

// ---------------------------------------------------------------------------------------------
// Pubky handshakes through NoiseClient / NoiseServer and the datalink adapter

async function pubkyPeers(
  clientRing: RingKeyProvider,
  serverRing: RingKeyProvider,
  suite: CryptoSuite | undefined,
): Promise<PubkyPeers> {
  const options = suite ? { suite } : {};
  const client = new NoiseClient(KID, CLIENT_DEVICE, clientRing, options);
  const server = new NoiseServer(KID, SERVER_DEVICE, serverRing, options);
  return { client, server, pinned: await server.staticPublicKey() };
}

// ---------------------------------------------------------------------------------------------
// "strict": the same handshakes step by step, every primitive on noble (verification too)

interface StrictPeers {
  suite: CryptoSuite;
  clientRing: NobleRing;
  serverRing: NobleRing;
  clientDevice: Uint8Array;
  serverDevice: Uint8Array;
  pinned: Uint8Array;
}

/** The noble static key, re-derived per handshake as `StaticKeySource` does on noble. */
function nobleStatic(ring: RingKeyProvider, deviceId: Uint8Array, suite: CryptoSuite) {
  return ring.withDeviceX25519(KID, deviceId, 0, (sk) => suite.dh.importSecretKey(sk));
}

/** `verifyPeerIdentity` of lib/identity.ts, with the library's noble verifier. */
async function verifyStrict(
  payload: IdentityPayload,
  peerNoisePub: Uint8Array,
  role: Role,
  remoteNoisePub: Uint8Array | null,
): Promise<void> {
  ed25519.Point.fromBytes(payload.ed25519Pub);
  if (payload.role !== role) fail("strict: role");
  const binding = makeBindingMessage({
    ed25519Pub: payload.ed25519Pub,
    localNoisePub: peerNoisePub,
    role,
    remoteNoisePub,
  });
  if (!(await ed25519Backends.noble.verify(payload.ed25519Pub, binding, payload.sig))) {
    fail("strict: identity signature");
  }
}

/** The server's checks of a client payload (lib/server.ts `#verifyClient`), noble verify. */
async function verifyClientStrict(hs: HandshakeState, payloadBytes: Uint8Array): Promise<void> {
  const identity = decodeIdentityPayload(payloadBytes);
  const clientStatic = hs.remoteStatic ?? fail("strict: no client static");
  checkServerHint(identity.serverHint);
  if (identity.hintExpiresAt !== null && Date.now() / 1000 > identity.hintExpiresAt) {
    fail("strict: expired");
  }
  await verifyStrict(identity, clientStatic, "Client", hs.localStatic);
}

async function strictPeers(): Promise<StrictPeers> {
  const suite = nobleCryptoSuite();
  const serverRing = NobleRing.create(SERVER_SEED);
  const serverDevice = enc.encode(SERVER_DEVICE);
  const s = await nobleStatic(serverRing, serverDevice, suite);
  const pinned = s.publicKey.slice();
  s.destroy();
  return {
    suite,
    clientRing: NobleRing.create(CLIENT_SEED),
    serverRing,
    clientDevice: enc.encode(CLIENT_DEVICE),
    serverDevice,
    pinned,
  };
}

async function strictXx(p: StrictPeers): Promise<[NoiseLink, NoiseLink]> {
  const { suite } = p;
  // client: message 1
  const cs: DhKeyPair = await nobleStatic(p.clientRing, p.clientDevice, suite);
  const chs = new HandshakeState({
    suite,
    pattern: XX,
    initiator: true,
    prologue: PROLOGUE,
    s: cs,
    ownsStatic: true,
  });
  const m1 = await chs.writeMessage(new Uint8Array(0));
  // server: read 1, write 2 with its identity
  const ss: DhKeyPair = await nobleStatic(p.serverRing, p.serverDevice, suite);
  const shs = new HandshakeState({
    suite,
    pattern: XX,
    initiator: false,
    prologue: PROLOGUE,
    s: ss,
    ownsStatic: true,
  });
  await shs.readMessage(m1);
  const m2 = await shs.writeMessage(
    await signedIdentityPayload({
      ring: p.serverRing,
      kid: KID,
      localNoisePub: ss.publicKey,
      role: "Server",
      remoteNoisePub: null,
      serverHint: null,
      hintExpiresAt: Math.floor(Date.now() / 1000) + DEFAULT_HANDSHAKE_EXPIRY_SECS,
    }),
  );
  // client: read 2, verify the server, write 3 with its identity
  const serverIdentity = decodeIdentityPayload(await chs.readMessage(m2));
  const serverStatic = chs.remoteStatic ?? fail("strict: no server static");
  await verifyStrict(serverIdentity, serverStatic, "Server", null);
  const m3 = await chs.writeMessage(
    await signedIdentityPayload({
      ring: p.clientRing,
      kid: KID,
      localNoisePub: cs.publicKey,
      role: "Client",
      remoteNoisePub: serverStatic,
      serverHint: null,
      hintExpiresAt: null,
    }),
  );
  const clientLink = new NoiseLink(chs.split());
  // server: read 3, verify the client
  await verifyClientStrict(shs, await shs.readMessage(m3));
  return [clientLink, new NoiseLink(shs.split())];
}

async function strictIk(p: StrictPeers): Promise<[NoiseLink, NoiseLink]> {
  const { suite } = p;
  // client: message 1 with its identity, to the pinned key
  const cs: DhKeyPair = await nobleStatic(p.clientRing, p.clientDevice, suite);
  const chs = new HandshakeState({
    suite,
    pattern: IK,
    initiator: true,
    prologue: PROLOGUE,
    s: cs,
    ownsStatic: true,
    rs: p.pinned,
  });
  const m1 = await chs.writeMessage(
    await signedIdentityPayload({
      ring: p.clientRing,
      kid: KID,
      localNoisePub: cs.publicKey,
      role: "Client",
      remoteNoisePub: p.pinned,
      serverHint: null,
      hintExpiresAt: null,
    }),
  );
  // server: read and verify 1, answer with 2
  const ss: DhKeyPair = await nobleStatic(p.serverRing, p.serverDevice, suite);
  const shs = new HandshakeState({
    suite,
    pattern: IK,
    initiator: false,
    prologue: PROLOGUE,
    s: ss,
    ownsStatic: true,
  });
  await verifyClientStrict(shs, await shs.readMessage(m1));
  const m2 = await shs.writeMessage(new Uint8Array(0));
  // client: read 2
  await chs.readMessage(m2);
  return [new NoiseLink(chs.split()), new NoiseLink(shs.split())];
}

// ---------------------------------------------------------------------------------------------
// raw Noise: HandshakeState alone, static keys made once, no payloads

interface RawPeers {
  suite: CryptoSuite;
  initiatorStatic: DhKeyPair;
  responderStatic: DhKeyPair;
}

async function rawPeers(suite: CryptoSuite): Promise<RawPeers> {
  return {
    suite,
    initiatorStatic: await suite.dh.importSecretKey(new Uint8Array(32).fill(0x33)),
    responderStatic: await suite.dh.importSecretKey(new Uint8Array(32).fill(0x44)),
  };
}

async function rawXx(p: RawPeers): Promise<[TransportState, TransportState]> {
  const base = { suite: p.suite, pattern: XX, prologue: PROLOGUE };
  const i = new HandshakeState({ ...base, initiator: true, s: p.initiatorStatic });
  const r = new HandshakeState({ ...base, initiator: false, s: p.responderStatic });
  await r.readMessage(await i.writeMessage());
  await i.readMessage(await r.writeMessage());
  await r.readMessage(await i.writeMessage());
  return [i.split(), r.split()];
}

async function rawIk(p: RawPeers): Promise<[TransportState, TransportState]> {
  const base = { suite: p.suite, pattern: IK, prologue: PROLOGUE };
  const i = new HandshakeState({
    ...base,
    initiator: true,
    s: p.initiatorStatic,
    rs: p.responderStatic.publicKey,
  });
  const r = new HandshakeState({ ...base, initiator: false, s: p.responderStatic });
  await r.readMessage(await i.writeMessage());
  await i.readMessage(await r.writeMessage());
  return [i.split(), r.split()];
}

// ---------------------------------------------------------------------------------------------
// rows

async function linkVariant<P>(
  label: string,
  what: string,
  peers: P,
  run: (p: P) => Promise<[NoiseLink, NoiseLink]>,
): Promise<Variant> {
  const [a, b] = await run(peers);
  checkLinks(a, b, `${what} (${label})`);
  return {
    label,
    op: async () => {
      await run(peers);
    },
  };
}

async function rawVariant(
  label: string,
  what: string,
  peers: RawPeers,
  run: (p: RawPeers) => Promise<[TransportState, TransportState]>,
): Promise<Variant> {
  const [a, b] = await run(peers);
  checkTransports(a, b, `${what} (${label})`);
  return {
    label,
    op: async () => {
      await run(peers);
    },
  };
}

/** Checks that the noble ring derives what `DummyRing` derives from the same seed. */
async function checkNobleRing(): Promise<void> {
  const dummy = await DummyRing.create(CLIENT_SEED, KID);
  const noble = NobleRing.create(CLIENT_SEED);
  const dev = enc.encode(CLIENT_DEVICE);
  const sk1 = await dummy.withDeviceX25519(KID, dev, 0, (sk) => sk.slice());
  const sk2 = await noble.withDeviceX25519(KID, dev, 0, (sk) => sk.slice());
  if (!sameBytes(sk1, sk2)) fail("NobleRing static differs from DummyRing");
  const pk1 = await dummy.ed25519PublicKey(KID);
  if (!sameBytes(pk1, await noble.ed25519PublicKey(KID))) fail("NobleRing Ed25519 key differs");
  const msg = new Uint8Array(32).fill(7);
  const sig1 = await dummy.signEd25519(KID, msg);
  if (!sameBytes(sig1, await noble.signEd25519(KID, msg))) fail("NobleRing signature differs");
}

/** Pubky XX and IK (ours, ref, strict) and raw Noise XX and IK (ours, ref). */
export async function handshakeRows(): Promise<Row[]> {
  await checkNobleRing();
  const ours = await pubkyPeers(
    await DummyRing.create(CLIENT_SEED, KID),
    await DummyRing.create(SERVER_SEED, KID),
    undefined,
  );
  const ref = await pubkyPeers(
    NobleRing.create(CLIENT_SEED),
    NobleRing.create(SERVER_SEED),
    nobleCryptoSuite(),
  );
  const strict = await strictPeers();
  if (!sameBytes(ours.pinned, ref.pinned) || !sameBytes(ours.pinned, strict.pinned)) {
    fail("the three server static keys differ");
  }
  const rawOurs = await rawPeers(await loadCryptoSuite());
  const rawRef = await rawPeers(nobleCryptoSuite());
  return [
    {
      id: "pubky-xx",
      title: "Pubky XX handshake (TOFU, 3 msgs, both sides)",
      bytes: 0,
      sync: false,
      ours: await linkVariant("ours", "Pubky XX", ours, pubkyXx),
      ref: await linkVariant("ref", "Pubky XX", ref, pubkyXx),
      strict: await linkVariant("strict", "Pubky XX", strict, strictXx),
    },
    {
      id: "pubky-ik",
      title: "Pubky IK handshake (pinned, 2 msgs, both sides)",
      bytes: 0,
      sync: false,
      ours: await linkVariant("ours", "Pubky IK", ours, pubkyIk),
      ref: await linkVariant("ref", "Pubky IK", ref, pubkyIk),
      strict: await linkVariant("strict", "Pubky IK", strict, strictIk),
    },
    {
      id: "raw-xx",
      title: "Noise XX handshake (HandshakeState only)",
      bytes: 0,
      sync: false,
      ours: await rawVariant("ours", "raw XX", rawOurs, rawXx),
      ref: await rawVariant("ref", "raw XX", rawRef, rawXx),
    },
    {
      id: "raw-ik",
      title: "Noise IK handshake (HandshakeState only)",
      bytes: 0,
      sync: false,
      ours: await rawVariant("ours", "raw IK", rawOurs, rawIk),
      ref: await rawVariant("ref", "raw IK", rawRef, rawIk),
    },
  ];
}

/** A transport pair of `suite`, and one seal + open of `size` random bytes per op. */
async function transportVariant(label: string, suite: CryptoSuite, size: number): Promise<Variant> {
  const [a, b] = await rawXx(await rawPeers(suite));
  const plaintext = new Uint8Array(size);
  for (let off = 0; off < size; off += 65536) {
    crypto.getRandomValues(plaintext.subarray(off, Math.min(size, off + 65536)));
  }
  const ct = a.writeMessage(plaintext);
  if (ct.length !== size + 16) fail(`transport ${size} (${label}): ciphertext length`);
  if (!sameBytes(b.readMessage(ct), plaintext)) fail(`transport ${size} (${label}): round trip`);
  return {
    label,
    // One seal on a, one open on b: both nonces advance together.
    op: () => {
      b.readMessage(a.writeMessage(plaintext));
    },
  };
}

/** Transport seal + open at each of {@linkcode TRANSPORT_SIZES} (ours, ref). */
export async function transportRows(): Promise<Row[]> {
  const ours = await loadCryptoSuite();
  const ref = nobleCryptoSuite();
  const rows: Row[] = [];
  for (const size of TRANSPORT_SIZES) {
    rows.push({
      id: `transport-${size}`,
      title: `Transport seal+open, ${size} B`,
      bytes: size,
      sync: true,
      ours: await transportVariant("ours", ours, size),
      ref: await transportVariant("ref", ref, size),
    });
  }
  return rows;
}
