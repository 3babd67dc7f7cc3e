/**
 * The rows of the side-by-side comparison (`compare_report.ts`): our raw and Pubky handshakes and
 * transport beside `noise-handshake`, `@chainsafe/libp2p-noise` (core and stream) and
 * `@noble/ciphers` alone, in one process and one run. Each variant runs once at setup with its
 * result checked (both sides agree, a message gets through), so a broken variant fails instead of
 * printing a number. A variant whose library does not load here is listed as missing, with why.
 *
 * @module
 */
import net from "node:net";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import {
  type CryptoSuite,
  type DhKeyPair,
  DummyRing,
  HandshakeState,
  IK,
  loadCryptoSuite,
  NoiseClient,
  type NoiseLink,
  NoiseServer,
  PROLOGUE,
  type TransportState,
  XX,
} from "../mod.ts";
import { concat } from "../lib/bytes.ts";
import { pubkyIk, type PubkyPeers, pubkyXx } from "./pubky_flows.ts";
import { accept, connect, framed, memoryCarrierPair, nodeSocketCarrier } from "../streams.ts";
import {
  type ByteList,
  type Libp2pNoiseModule,
  loadLibp2pNoise,
  loadNoiseHandshake,
  type LpMessageStream,
  type NoiseHandshakeModule,
} from "./compare_peers.ts";

/** One implementation's way of doing a row's operation. */
export interface CmpVariant {
  /** Column label, e.g. `ours raw`. */
  label: string;
  /** One operation. */
  op: () => Promise<void> | void;
  /** Whether `op` is synchronous. */
  sync: boolean;
}

/** One comparison row. */
export interface CmpRow {
  /** Stable id (`--only=`). */
  id: string;
  /** Human title. */
  title: string;
  /** Plaintext bytes per operation (0 for handshakes). */
  bytes: number;
  /** Messages (or handshakes) per operation. */
  count: number;
  /** The variants measured. */
  variants: CmpVariant[];
  /** Variants that could not run here, with the reason. */
  missing: { label: string; reason: string }[];
  /** Frees sockets. */
  close(): void;
}

/** Column labels, in table order. */
export const LABELS = {
  oursRaw: "ours raw",
  oursAsync: "ours raw, async calls",
  oursPubky: "ours Pubky",
  oursStream: "ours streams",
  nh: "noise-handshake",
  lpCore: "libp2p-noise core",
  lpStream: "libp2p-noise stream",
  noble: "@noble/ciphers alone",
  plain: "plaintext socket",
} as const;

/** T1 sizes of the issue. */
export const T1_SIZES: readonly number[] = [64, 1024, 16384, 65519];
/** Bytes per operation of the bulk socket row. */
export const SOCKET_BULK_BYTES = 16 * 1024 * 1024;
/** Messages per operation of the small-message socket row. */
export const SOCKET_SMALL_COUNT = 2048;

const enc = new TextEncoder();
const KID = "bench";

function fail(what: string): never {
  throw new Error(`compare self-check failed: ${what}`);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function bytesOf(x: Uint8Array | ByteList): Uint8Array {
  return x instanceof Uint8Array ? x : x.subarray();
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) {
    crypto.getRandomValues(out.subarray(off, Math.min(n, off + 65536)));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// ours

async function rawStatics(suite: CryptoSuite): Promise<[DhKeyPair, DhKeyPair]> {
  return [
    await suite.dh.importSecretKey(new Uint8Array(32).fill(0x33)),
    await suite.dh.importSecretKey(new Uint8Array(32).fill(0x44)),
  ];
}

async function oursRawXx(
  suite: CryptoSuite,
  [si, sr]: [DhKeyPair, DhKeyPair],
): Promise<[TransportState, TransportState]> {
  const base = { suite, pattern: XX, prologue: PROLOGUE };
  const i = new HandshakeState({ ...base, initiator: true, s: si });
  const r = new HandshakeState({ ...base, initiator: false, s: sr });
  await r.readMessage(await i.writeMessage());
  await i.readMessage(await r.writeMessage());
  await r.readMessage(await i.writeMessage());
  return [i.split(), r.split()];
}

async function oursRawIk(
  suite: CryptoSuite,
  [si, sr]: [DhKeyPair, DhKeyPair],
): Promise<[TransportState, TransportState]> {
  const base = { suite, pattern: IK, prologue: PROLOGUE };
  const i = new HandshakeState({ ...base, initiator: true, s: si, rs: sr.publicKey });
  const r = new HandshakeState({ ...base, initiator: false, s: sr });
  await r.readMessage(await i.writeMessage());
  await i.readMessage(await r.writeMessage());
  return [i.split(), r.split()];
}

function checkTransports(a: TransportState, b: TransportState, what: string): void {
  if (!sameBytes(a.handshakeHash, b.handshakeHash)) fail(`${what}: handshake hashes differ`);
  const m = enc.encode("ping");
  if (!sameBytes(b.readMessage(a.writeMessage(m)), m)) fail(`${what}: a → b`);
  if (!sameBytes(a.readMessage(b.writeMessage(m)), m)) fail(`${what}: b → a`);
}

function checkLinks(a: NoiseLink, b: NoiseLink, what: string): void {
  if (!a.sessionId.equals(b.sessionId)) fail(`${what}: session ids differ`);
  const m = enc.encode("ping");
  if (!sameBytes(b.decrypt(a.encrypt(m)), m)) fail(`${what}: client → server`);
  if (!sameBytes(a.decrypt(b.encrypt(m)), m)) fail(`${what}: server → client`);
}

async function pubkyPeers(): Promise<PubkyPeers> {
  const client = new NoiseClient(
    KID,
    "bench-client-device-0001",
    await DummyRing.create(new Uint8Array(32).fill(0x11), KID),
  );
  const server = new NoiseServer(
    KID,
    "bench-server-device-0001",
    await DummyRing.create(new Uint8Array(32).fill(0x22), KID),
  );
  return { client, server, pinned: await server.staticPublicKey() };
}

/** Pubky XX through `connect`/`accept` on an in-memory carrier pair (the streams layer). */
async function pubkyXxStreams(p: PubkyPeers): Promise<[NoiseLink, NoiseLink]> {
  const [a, b] = memoryCarrierPair();
  const [c, s] = await Promise.all([
    connect(a, p.client, { pattern: "XX" }),
    accept(b, p.server, { patterns: ["XX"] }),
  ]);
  return [c.link, s.link];
}

// ---------------------------------------------------------------------------------------------
// noise-handshake

function nhXx(nh: NoiseHandshakeModule, si: NhKeys, sr: NhKeys) {
  const i = new nh.Noise("XX", true, si);
  const r = new nh.Noise("XX", false, sr);
  i.initialise(new Uint8Array(0));
  r.initialise(new Uint8Array(0));
  r.recv(i.send());
  i.recv(r.send());
  r.recv(i.send());
  return [i, r] as const;
}

function nhIk(nh: NoiseHandshakeModule, si: NhKeys, sr: NhKeys) {
  const i = new nh.Noise("IK", true, si);
  const r = new nh.Noise("IK", false, sr);
  i.initialise(new Uint8Array(0), sr.publicKey);
  r.initialise(new Uint8Array(0));
  r.recv(i.send());
  i.recv(r.send());
  return [i, r] as const;
}

type NhKeys = ReturnType<NoiseHandshakeModule["generateKeyPair"]>;

function checkNh(nh: NoiseHandshakeModule, pair: ReturnType<typeof nhXx>, what: string): void {
  const [i, r] = pair;
  if (!i.complete || !r.complete) fail(`${what}: not complete`);
  if (!sameBytes(i.hash, r.hash)) fail(`${what}: handshake hashes differ`);
  const m = enc.encode("ping");
  const out = new nh.Cipher(r.rx).decrypt(new nh.Cipher(i.tx).encrypt(m));
  if (!sameBytes(out, m)) fail(`${what}: message`);
}

// ---------------------------------------------------------------------------------------------
// libp2p-noise core

function lpXx(lp: Libp2pNoiseModule, si: LpKeys, sr: LpKeys) {
  const i = lp.xx(true, si);
  const r = lp.xx(false, sr);
  r.readMessageA(lp.list(i.writeMessageA(lp.empty)));
  i.readMessageB(lp.list(r.writeMessageB(lp.empty)));
  r.readMessageC(lp.list(i.writeMessageC(lp.empty)));
  return [i, r] as const;
}

type LpKeys = ReturnType<Libp2pNoiseModule["generateKeyPair"]>;

function lpTransport(lp: Libp2pNoiseModule, what: string) {
  const [i, r] = lpXx(lp, lp.generateKeyPair(), lp.generateKeyPair());
  if (!sameBytes(i.ss.h, r.ss.h)) fail(`${what}: handshake hashes differ`);
  const [send] = i.ss.split();
  const [recv] = r.ss.split();
  return { send, recv };
}

// ---------------------------------------------------------------------------------------------
// libp2p-noise stream

async function lpSecure(lp: Libp2pNoiseModule, pair: [unknown, unknown]) {
  const [a, b] = await Promise.all([lp.encrypter(), lp.encrypter()]);
  const opts = { skipStreamMuxerNegotiation: true };
  return await Promise.all([a.secureOutbound(pair[0], opts), b.secureInbound(pair[1], opts)]);
}

/** Sends `chunks` on `conn` with its backpressure (waits for drain when `send` says so). */
async function lpSendAll(conn: LpMessageStream, chunks: Uint8Array[]): Promise<void> {
  for (const c of chunks) {
    if (!conn.send(c)) await conn.onDrain();
  }
}

/** Reads from `conn` until `total` bytes came, collecting them if asked. */
function lpReceive(
  conn: LpMessageStream,
  total: number,
  collect: Uint8Array[] | null,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const listener = (evt: { data: ByteList }) => {
      got += evt.data.byteLength;
      collect?.push(bytesOf(evt.data).slice());
      if (got >= total) {
        conn.removeEventListener("message", listener);
        if (got === total) resolve();
        else reject(new Error(`libp2p stream: ${got - total} bytes too many`));
      }
    };
    conn.addEventListener("message", listener);
  });
}

// ---------------------------------------------------------------------------------------------
// sockets

async function loopback(): Promise<[net.Socket, net.Socket]> {
  const listener = net.createServer({ allowHalfOpen: true });
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const { port } = listener.address() as net.AddressInfo;
  const accepted = new Promise<net.Socket>((resolve) => listener.once("connection", resolve));
  const client = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => {
    client.once("connect", resolve);
    client.once("error", reject);
  });
  const server = await accepted;
  listener.close();
  client.setNoDelay(true);
  server.setNoDelay(true);
  return [client, server];
}

async function writeAll(
  writer: WritableStreamDefaultWriter<Uint8Array>,
  chunks: Uint8Array[],
): Promise<void> {
  let last: Promise<void> = Promise.resolve();
  for (const chunk of chunks) {
    await writer.ready;
    last = writer.write(chunk);
    last.catch(() => {});
  }
  await last;
}

async function readBytes(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  total: number,
  collect: Uint8Array[] | null,
): Promise<void> {
  let got = 0;
  while (got < total) {
    const { done, value } = await reader.read();
    if (done) fail(`stream ended after ${got} of ${total} bytes`);
    got += value.length;
    collect?.push(value.slice());
  }
  if (got !== total) fail(`got ${got} bytes, expected ${total}`);
}

type Carry = (chunks: Uint8Array[], collect: Uint8Array[] | null) => Promise<void>;

/** A socket variant: checked once on random data, then timed on `chunks`. */
async function socketVariant(
  label: string,
  what: string,
  carry: Carry,
  chunkSize: number,
  count: number,
): Promise<CmpVariant> {
  const sample = randomBytes(chunkSize * Math.min(count, 64));
  const parts: Uint8Array[] = [];
  for (let off = 0; off < sample.length; off += chunkSize) {
    parts.push(sample.subarray(off, off + chunkSize));
  }
  const got: Uint8Array[] = [];
  await carry(parts, got);
  if (!sameBytes(concat(...got), sample)) fail(`${what} (${label}): data differs`);
  const chunk = randomBytes(chunkSize);
  const chunks = Array.from({ length: count }, () => chunk);
  return { label, sync: false, op: () => carry(chunks, null) };
}

/** Ours: `framed(nodeSocketCarrier(socket))` + NN `connect`/`accept` (the streams layer). */
async function oursSocket(): Promise<{ carry: Carry; close(): void }> {
  const [a, b] = await loopback();
  const ring = await DummyRing.create(new Uint8Array(32).fill(0x66), KID);
  const client = new NoiseClient(KID, "bench-client-device-0001", ring);
  const server = new NoiseServer(KID, "bench-server-device-0001", ring);
  const [c, s] = await Promise.all([
    connect(framed(nodeSocketCarrier(a)), client, { pattern: "NN" }),
    accept(framed(nodeSocketCarrier(b)), server, { patterns: ["NN"] }),
  ]);
  const writer = c.writable.getWriter();
  const reader = s.readable.getReader();
  return {
    carry: async (chunks, collect) => {
      const total = chunks.reduce((n, x) => n + x.length, 0);
      await Promise.all([writeAll(writer, chunks), readBytes(reader, total, collect)]);
    },
    close() {
      a.destroy();
      b.destroy();
    },
  };
}

/** The same socket type carrying plaintext through `nodeSocketCarrier` (no framing, no crypto). */
async function plainSocket(): Promise<{ carry: Carry; close(): void }> {
  const [a, b] = await loopback();
  const writer = nodeSocketCarrier(a).writable.getWriter();
  const reader = nodeSocketCarrier(b).readable.getReader();
  return {
    carry: async (chunks, collect) => {
      const total = chunks.reduce((n, x) => n + x.length, 0);
      await Promise.all([writeAll(writer, chunks), readBytes(reader, total, collect)]);
    },
    close() {
      a.destroy();
      b.destroy();
    },
  };
}

/** libp2p-noise's encrypter over the same kind of socket (its own framing). */
async function lpSocket(lp: Libp2pNoiseModule): Promise<{ carry: Carry; close(): void }> {
  const [a, b] = await loopback();
  const [out, inn] = await lpSecure(lp, [
    lp.socketConnection(a, true),
    lp.socketConnection(b, false),
  ]);
  return {
    carry: async (chunks, collect) => {
      const total = chunks.reduce((n, x) => n + x.length, 0);
      await Promise.all([
        lpSendAll(out.connection, chunks),
        lpReceive(inn.connection, total, collect),
      ]);
    },
    close() {
      a.destroy();
      b.destroy();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// rows

/** What was loaded, for the report header. */
export interface Loaded {
  nh: NoiseHandshakeModule | { error: string };
  lp: Libp2pNoiseModule | { error: string };
}

/** Loads the other implementations (once). */
export async function loadPeers(): Promise<Loaded> {
  return { nh: loadNoiseHandshake(), lp: await loadLibp2pNoise() };
}

function ok<T extends object>(x: T | { error: string }): x is T {
  return !("error" in x);
}

/** Handshake rows: XX and IK. */
export async function handshakeRows(peers: Loaded): Promise<CmpRow[]> {
  const suite = await loadCryptoSuite();
  const statics = await rawStatics(suite);
  const pubky = await pubkyPeers();
  const { nh, lp } = peers;

  const xx: CmpVariant[] = [];
  const xxMissing: CmpRow["missing"] = [];
  checkTransports(...await oursRawXx(suite, statics), "ours raw XX");
  xx.push({ label: LABELS.oursRaw, sync: false, op: () => oursRawXx(suite, statics).then() });
  checkLinks(...await pubkyXx(pubky), "ours Pubky XX");
  xx.push({ label: LABELS.oursPubky, sync: false, op: () => pubkyXx(pubky).then() });
  checkLinks(...await pubkyXxStreams(pubky), "ours Pubky XX over streams");
  xx.push({ label: LABELS.oursStream, sync: false, op: () => pubkyXxStreams(pubky).then() });
  if (ok(nh)) {
    const si = nh.generateKeyPair(), sr = nh.generateKeyPair();
    checkNh(nh, nhXx(nh, si, sr), "noise-handshake XX");
    xx.push({ label: LABELS.nh, sync: true, op: () => void nhXx(nh, si, sr) });
  } else xxMissing.push({ label: LABELS.nh, reason: nh.error });
  if (ok(lp)) {
    const si = lp.generateKeyPair(), sr = lp.generateKeyPair();
    lpTransport(lp, "libp2p-noise core XX");
    xx.push({ label: LABELS.lpCore, sync: true, op: () => void lpXx(lp, si, sr) });
    const [o, i] = await lpSecure(lp, lp.memoryPair());
    if (o.remotePeer.toString() === i.remotePeer.toString()) fail("libp2p stream: same peer");
    xx.push({
      label: LABELS.lpStream,
      sync: false,
      op: () => lpSecure(lp, lp.memoryPair()).then(),
    });
  } else {
    xxMissing.push({ label: LABELS.lpCore, reason: lp.error });
    xxMissing.push({ label: LABELS.lpStream, reason: lp.error });
  }

  const ik: CmpVariant[] = [];
  const ikMissing: CmpRow["missing"] = [];
  checkTransports(...await oursRawIk(suite, statics), "ours raw IK");
  ik.push({ label: LABELS.oursRaw, sync: false, op: () => oursRawIk(suite, statics).then() });
  checkLinks(...await pubkyIk(pubky), "ours Pubky IK");
  ik.push({ label: LABELS.oursPubky, sync: false, op: () => pubkyIk(pubky).then() });
  if (ok(nh)) {
    const si = nh.generateKeyPair(), sr = nh.generateKeyPair();
    checkNh(nh, nhIk(nh, si, sr), "noise-handshake IK");
    ik.push({ label: LABELS.nh, sync: true, op: () => void nhIk(nh, si, sr) });
  } else ikMissing.push({ label: LABELS.nh, reason: nh.error });
  if (ok(lp)) ikMissing.push({ label: LABELS.lpCore, reason: "no IK in libp2p-noise" });

  return [
    {
      id: "xx",
      title: "XX handshake (3 msgs, both sides)",
      bytes: 0,
      count: 1,
      variants: xx,
      missing: xxMissing,
      close() {},
    },
    {
      id: "ik",
      title: "IK handshake (2 msgs, both sides)",
      bytes: 0,
      count: 1,
      variants: ik,
      missing: ikMissing,
      close() {},
    },
  ];
}

/** T1 rows: one encrypt + one decrypt of a transport message, per size. */
export async function transportRows(peers: Loaded): Promise<CmpRow[]> {
  const suite = await loadCryptoSuite();
  const { nh, lp } = peers;
  const rows: CmpRow[] = [];
  for (const size of T1_SIZES) {
    const pt = randomBytes(size);
    const variants: CmpVariant[] = [];
    const missing: CmpRow["missing"] = [];
    const what = `T1 ${size}`;

    const [a, b] = await oursRawXx(suite, await rawStatics(suite));
    if (!sameBytes(b.readMessage(a.writeMessage(pt)), pt)) fail(`${what}: ours`);
    variants.push({
      label: LABELS.oursRaw,
      sync: true,
      op: () => void b.readMessage(a.writeMessage(pt)),
    });
    // The asynchronous calls, which the streams use: WebCrypto's AEAD for large messages on Bun.
    const [c, d] = await oursRawXx(suite, await rawStatics(suite));
    if (!sameBytes(await d.readMessageAsync(await c.writeMessageAsync(pt)), pt)) {
      fail(`${what}: ours async`);
    }
    variants.push({
      label: LABELS.oursAsync,
      sync: false,
      op: async () => void await d.readMessageAsync(await c.writeMessageAsync(pt)),
    });

    if (ok(nh)) {
      const [i, r] = nhXx(nh, nh.generateKeyPair(), nh.generateKeyPair());
      const tx = new nh.Cipher(i.tx), rx = new nh.Cipher(r.rx);
      if (!sameBytes(rx.decrypt(tx.encrypt(pt)), pt)) fail(`${what}: noise-handshake`);
      variants.push({ label: LABELS.nh, sync: true, op: () => void rx.decrypt(tx.encrypt(pt)) });
    } else missing.push({ label: LABELS.nh, reason: nh.error });

    if (ok(lp)) {
      const { send, recv } = lpTransport(lp, what);
      const e = lp.empty;
      if (!sameBytes(bytesOf(recv.decryptWithAd(e, bytesOf(send.encryptWithAd(e, pt)))), pt)) {
        fail(`${what}: libp2p-noise`);
      }
      variants.push({
        label: LABELS.lpCore,
        sync: true,
        op: () => void recv.decryptWithAd(e, bytesOf(send.encryptWithAd(e, pt))),
      });
    } else missing.push({ label: LABELS.lpCore, reason: lp.error });

    // @noble/ciphers alone: the floor of a pure-JS ChaCha20-Poly1305 (a fresh nonce each time).
    const key = randomBytes(32);
    const nonce = new Uint8Array(12);
    const view = new DataView(nonce.buffer);
    let n = 0;
    const nobleT1 = () => {
      view.setUint32(4, n++, true);
      return chacha20poly1305(key, nonce).decrypt(chacha20poly1305(key, nonce).encrypt(pt));
    };
    if (!sameBytes(nobleT1(), pt)) fail(`${what}: noble`);
    variants.push({ label: LABELS.noble, sync: true, op: () => void nobleT1() });

    rows.push({
      id: `t1-${size}`,
      title: `T1 ${size} B (encrypt + decrypt)`,
      bytes: size,
      count: 1,
      variants,
      missing,
      close() {},
    });
  }
  return rows;
}

/** Loopback TCP rows: bulk (64 KiB writes) and small messages (64 B writes). */
export async function socketRows(peers: Loaded): Promise<CmpRow[]> {
  const { lp } = peers;
  const rows: CmpRow[] = [];
  for (
    const [id, title, chunkSize, count] of [
      [
        "tcp-bulk",
        `loopback TCP, ${SOCKET_BULK_BYTES >> 20} MiB in 64 KiB writes`,
        65536,
        SOCKET_BULK_BYTES / 65536,
      ],
      ["tcp-64", `loopback TCP, ${SOCKET_SMALL_COUNT} writes of 64 B`, 64, SOCKET_SMALL_COUNT],
    ] as const
  ) {
    const closers: (() => void)[] = [];
    const variants: CmpVariant[] = [];
    const missing: CmpRow["missing"] = [];
    const ours = await oursSocket();
    closers.push(ours.close);
    variants.push(await socketVariant(LABELS.oursStream, id, ours.carry, chunkSize, count));
    if (ok(lp)) {
      const l = await lpSocket(lp);
      closers.push(l.close);
      variants.push(await socketVariant(LABELS.lpStream, id, l.carry, chunkSize, count));
    } else missing.push({ label: LABELS.lpStream, reason: lp.error });
    const plain = await plainSocket();
    closers.push(plain.close);
    variants.push(await socketVariant(LABELS.plain, id, plain.carry, chunkSize, count));
    rows.push({
      id,
      title,
      bytes: chunkSize * count,
      count,
      variants,
      missing,
      close: () => closers.forEach((c) => c()),
    });
  }
  return rows;
}
