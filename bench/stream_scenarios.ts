/**
 * The stream benchmark rows, shared by `stream_bench.ts` (`Deno.bench`) and `report.ts`. Each
 * row times the streams layer beside a baseline in the same process and the same run, so that
 * the ratio (streams ÷ baseline) is the figure that survives a noisy machine:
 *
 * - `stream-pair`: 64 MiB as 64 KiB chunks through `encryptStream` → `decryptStream` in one
 *   process; baseline: the same chunks through `NoiseLink.encrypt`/`decrypt` in a plain loop.
 * - `stream-tcp`: 64 MiB as 64 KiB chunks over one loopback TCP connection (`node:net`,
 *   `nodeSocketCarrier` on both ends), framed and encrypted (`framed` + `linkStreams`); baseline:
 *   the same connection carrying the plaintext. The two take turns on the same socket.
 * - `msg-1MiB`, `msg-64MiB`: one message of that size through `messageWriter.send` →
 *   `messageReader` body over a secure channel on an in-memory carrier; baseline: the same bytes
 *   written to a second channel's plaintext streams (no message layer) in 65519-byte chunks.
 *
 * Sender and receiver run in the same thread, so every figure counts both ends' work. Every
 * variant carries random data once at setup and checks it arrives intact; the timed operation
 * then counts bytes (and fails if any are missing).
 *
 * @module
 */
import net from "node:net";
import {
  clientCompleteNn,
  clientStartNn,
  DummyRing,
  NoiseClient,
  type NoiseLink,
  NoiseServer,
  serverAcceptNn,
  serverCompleteNn,
} from "../mod.ts";
import { concat } from "../lib/bytes.ts";
import {
  accept,
  connect,
  decryptStream,
  encryptStream,
  framed,
  linkStreams,
  MAX_CHUNK_PLAINTEXT,
  memoryCarrierPair,
  messageReader,
  messageWriter,
  nodeSocketCarrier,
} from "../streams.ts";
import type { Row, Variant } from "./scenarios.ts";

/** A stream row: `ref` is the baseline described by `baseline`; `close()` frees its sockets. */
export interface StreamRow extends Row {
  /** What the baseline (`ref`) variant does. */
  baseline: string;
  /** Frees what the row holds (sockets). */
  close(): Promise<void>;
}

const KID = "bench";
const CHUNK = 64 * 1024;
/** Bytes per operation of the `stream-pair` and `stream-tcp` rows. */
export const STREAM_BYTES = 64 * 1024 * 1024;
/** Message sizes of the `msg-*` rows. */
export const MESSAGE_SIZES: readonly number[] = [1 << 20, 64 << 20];

function fail(what: string): never {
  throw new Error(`bench self-check failed: ${what}`);
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) {
    crypto.getRandomValues(out.subarray(off, Math.min(n, off + 65536)));
  }
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** `total` bytes as `CHUNK`-sized views of `data` (cycled). */
function chunksOf(data: Uint8Array, total: number, size = CHUNK): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let off = 0; off < total; off += size) {
    const n = Math.min(size, total - off);
    const at = off % data.length;
    out.push(at + n <= data.length ? data.subarray(at, at + n) : data.slice(0, n));
  }
  return out;
}

/** Reads `readable` (through its reader) until `total` bytes came, collecting them if asked. */
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

/** Writes `chunks` with backpressure (waits for `ready`, not for each write). */
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

/** Two linked NN links: `[initiator, responder]`. */
async function linkPair(): Promise<[NoiseLink, NoiseLink]> {
  const ring = await DummyRing.create(new Uint8Array(32).fill(0x55), KID);
  const client = new NoiseClient(KID, "bench-client-device-0001", ring);
  const server = new NoiseServer(KID, "bench-server-device-0001", ring);
  const c = await clientStartNn(client);
  const s = await serverAcceptNn(server, c.firstMsg);
  return [await clientCompleteNn(client, c.hs, s.response), serverCompleteNn(s.hs)];
}

/** A variant checked once on random data, then timed on a fixed chunk. */
async function checked(
  label: string,
  what: string,
  run: (chunks: Uint8Array[], collect: Uint8Array[] | null) => Promise<void>,
  total: number,
  chunkSize = CHUNK,
): Promise<Variant> {
  const sample = randomBytes(Math.min(total, 4 << 20));
  const received: Uint8Array[] = [];
  await run(chunksOf(sample, sample.length, chunkSize), received);
  if (!sameBytes(concat(...received), sample)) fail(`${what} (${label}): data differs`);
  const timed = chunksOf(randomBytes(chunkSize), total, chunkSize);
  return { label, op: () => run(timed, null) };
}

// ---------------------------------------------------------------------------------------------
// stream-pair

async function pairRow(): Promise<StreamRow> {
  const [a, b] = await linkPair();
  const streams = (chunks: Uint8Array[], collect: Uint8Array[] | null) => {
    const total = chunks.reduce((n, c) => n + c.length, 0);
    let i = 0;
    const source = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (i === chunks.length) controller.close();
        else controller.enqueue(chunks[i++]);
      },
    }, { highWaterMark: 0 });
    const plain = source.pipeThrough(encryptStream(a)).pipeThrough(decryptStream(b));
    return readBytes(plain.getReader(), total, collect);
  };
  const bare = (chunks: Uint8Array[], collect: Uint8Array[] | null) => {
    let got = 0;
    for (const chunk of chunks) {
      for (let off = 0; off < chunk.length; off += MAX_CHUNK_PLAINTEXT) {
        const plain = b.decrypt(a.encrypt(chunk.subarray(off, off + MAX_CHUNK_PLAINTEXT)));
        got += plain.length;
        collect?.push(plain);
      }
    }
    if (got !== chunks.reduce((n, c) => n + c.length, 0)) fail("stream-pair baseline: bytes");
    return Promise.resolve();
  };
  return {
    id: "stream-pair",
    title: "encryptStream → decryptStream, 64 MiB in 64 KiB chunks",
    bytes: STREAM_BYTES,
    sync: false,
    ours: await checked("ours", "stream-pair", streams, STREAM_BYTES),
    ref: await checked("ref", "stream-pair", bare, STREAM_BYTES),
    baseline: "NoiseLink.encrypt/decrypt loop",
    close: () => Promise.resolve(),
  };
}

// ---------------------------------------------------------------------------------------------
// stream-tcp

async function loopback(): Promise<{ client: net.Socket; server: net.Socket; close(): void }> {
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
  return {
    client,
    server,
    close() {
      client.destroy();
      server.destroy();
    },
  };
}

/** Frames on the wire for `chunks` sent through `encryptStream`: 2-byte length + 16-byte tag each. */
function wireBytes(chunks: Uint8Array[]): number {
  return chunks.reduce((n, c) => n + c.length + 18 * Math.ceil(c.length / MAX_CHUNK_PLAINTEXT), 0);
}

async function tcpRow(): Promise<StreamRow> {
  const [a, b] = await linkPair();
  const tcp = await loopback();
  const out = nodeSocketCarrier(tcp.client);
  const inn = nodeSocketCarrier(tcp.server);
  const socketWriter = out.writable.getWriter();
  const socketReader = inn.readable.getReader();

  // The encrypted path: the library's framed() and linkStreams() on both ends, over byte
  // streams that the bench routes to and from the shared socket.
  const toSocket = new TransformStream<Uint8Array, Uint8Array>();
  const fromSocket = new TransformStream<Uint8Array, Uint8Array>();
  const unused = () => ({
    readable: new ReadableStream<Uint8Array>(),
    writable: new WritableStream<Uint8Array>(),
  });
  const sender = linkStreams(
    a,
    framed({ readable: unused().readable, writable: toSocket.writable }),
  );
  const receiver = linkStreams(
    b,
    framed({ readable: fromSocket.readable, writable: unused().writable }),
  );
  const senderWriter = sender.writable.getWriter();
  const receiverReader = receiver.readable.getReader();
  const fromSocketWriter = fromSocket.writable.getWriter();

  // Sender pump: framed ciphertext → socket.
  (async () => {
    const r = toSocket.readable.getReader();
    for (;;) {
      const { done, value } = await r.read();
      if (done) return;
      await socketWriter.write(value);
    }
  })().catch(() => {});

  // Receiver router: socket bytes → the frame decoder (encrypted turn) or a counter (plaintext).
  const turn: {
    mode: "encrypted" | "plain";
    plainLeft: number;
    collect: Uint8Array[] | null;
    done: () => void;
    error: unknown;
  } = { mode: "plain", plainLeft: 0, collect: null, done: () => {}, error: null };
  (async () => {
    for (;;) {
      const { done, value } = await socketReader.read();
      if (done) return;
      if (turn.mode === "encrypted") {
        await fromSocketWriter.write(value);
      } else {
        turn.plainLeft -= value.length;
        turn.collect?.push(value.slice());
        if (turn.plainLeft <= 0) turn.done();
      }
    }
  })().catch((e) => turn.error = e);

  const encrypted = async (chunks: Uint8Array[], collect: Uint8Array[] | null) => {
    if (turn.error) throw turn.error;
    turn.mode = "encrypted";
    const total = chunks.reduce((n, c) => n + c.length, 0);
    if (wireBytes(chunks) <= total) fail("stream-tcp: wire size");
    await Promise.all([writeAll(senderWriter, chunks), readBytes(receiverReader, total, collect)]);
  };
  const plain = async (chunks: Uint8Array[], collect: Uint8Array[] | null) => {
    if (turn.error) throw turn.error;
    turn.mode = "plain";
    const total = chunks.reduce((n, c) => n + c.length, 0);
    turn.plainLeft = total;
    turn.collect = collect;
    const received = new Promise<void>((resolve) => turn.done = resolve);
    await Promise.all([writeAll(socketWriter, chunks), received]);
    if (turn.plainLeft !== 0) fail(`stream-tcp plaintext: ${-turn.plainLeft} bytes too many`);
  };
  return {
    id: "stream-tcp",
    title: "framed + encrypted over loopback TCP, 64 MiB in 64 KiB chunks",
    bytes: STREAM_BYTES,
    sync: false,
    ours: await checked("ours", "stream-tcp", encrypted, STREAM_BYTES),
    ref: await checked("ref", "stream-tcp", plain, STREAM_BYTES),
    baseline: "same socket, plaintext",
    close() {
      tcp.close();
      return Promise.resolve();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// msg-*

async function channelPair() {
  const ring = await DummyRing.create(new Uint8Array(32).fill(0x66), KID);
  const client = new NoiseClient(KID, "bench-client-device-0001", ring);
  const server = new NoiseServer(KID, "bench-server-device-0001", ring);
  const [c, s] = memoryCarrierPair();
  return await Promise.all([
    connect(c, client, { pattern: "NN" }),
    accept(s, server, { patterns: ["NN"] }),
  ]);
}

async function messageRow(size: number): Promise<StreamRow> {
  const [c1, s1] = await channelPair();
  const writer = messageWriter(c1);
  const reader = messageReader(s1);
  const layer = async (chunks: Uint8Array[], collect: Uint8Array[] | null) => {
    // One message: the chunks are views of one buffer when the message fits in it.
    const message = chunks.length === 1 ? chunks[0] : concat(...chunks);
    const receive = async () => {
      const body = await reader.next();
      if (body === null) fail("message layer: channel ended");
      const r = body.getReader();
      await readBytes(r, message.length, collect);
      if (!(await r.read()).done) fail("message layer: body longer than sent");
    };
    await Promise.all([writer.send(message), receive()]);
  };
  const [c2, s2] = await channelPair();
  const rawWriter = c2.writable.getWriter();
  const rawReader = s2.readable.getReader();
  const raw = async (chunks: Uint8Array[], collect: Uint8Array[] | null) => {
    const total = chunks.reduce((n, c) => n + c.length, 0);
    await Promise.all([writeAll(rawWriter, chunks), readBytes(rawReader, total, collect)]);
  };
  const label = size >= 1 << 20 ? `${size / (1 << 20)}MiB` : `${size}B`;
  // The message layer gets the whole message at once (one buffer, as an application has it).
  const whole = (run: typeof layer) => (chunks: Uint8Array[], collect: Uint8Array[] | null) =>
    run([concatOnce(chunks)], collect);
  const cache = new WeakMap<Uint8Array[], Uint8Array>();
  const concatOnce = (chunks: Uint8Array[]) => {
    let m = cache.get(chunks);
    if (!m) cache.set(chunks, m = concat(...chunks));
    return m;
  };
  return {
    id: `msg-${label}`,
    title: `message layer, one ${label.replace("MiB", " MiB")} message (send → body)`,
    bytes: size,
    sync: false,
    ours: await checked("ours", `msg-${label}`, whole(layer), size),
    ref: await checked("ref", `msg-${label}`, raw, size, MAX_CHUNK_PLAINTEXT),
    baseline: "same channel type, raw plaintext streams",
    close: () => Promise.resolve(),
  };
}

/** Every stream row, set up and checked. */
export async function streamRows(): Promise<StreamRow[]> {
  const rows = [await pairRow(), await tcpRow()];
  for (const size of MESSAGE_SIZES) rows.push(await messageRow(size));
  return rows;
}
