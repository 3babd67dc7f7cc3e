/**
 * Shared helpers of the `streams_*.test.ts` files: peers on fixed seeds, links made
 * with the data-link adapter, error and timing assertions, byte utilities.
 *
 * Not a test file itself (no `.test.` in its name).
 *
 * @module
 */
import assert from "node:assert/strict";
import net from "node:net";
import process from "node:process";
import { memoryCarrierPair } from "../lib/streams/carrier.ts";
import { linkStreams, type PlaintextStreams } from "../lib/streams/link_streams.ts";
import { NoiseError } from "../lib/errors.ts";
import { concat as concatBytes } from "../lib/bytes.ts";
import { DummyRing } from "../lib/ring.ts";
import { NoiseClient } from "../lib/client.ts";
import { NoiseServer } from "../lib/server.ts";
import type { NoiseLink } from "../lib/link.ts";
import {
  clientCompleteNn,
  clientStartNn,
  serverAcceptNn,
  serverCompleteNn,
} from "../lib/datalink_adapter.ts";

/** Client device id of the KAT keys (seed 01×32). */
export const CLIENT_DEVICE = "dev-client-00000000";
/** Server device id of the KAT keys (seed 02×32). */
export const SERVER_DEVICE = "dev-server-00000000";
/** X25519 public key of seed 01×32, `dev-client-00000000`, epoch 0 (reference §15.2). */
export const CLIENT_STATIC_HEX = "57f90bc75b934e22dbe78e081c9be4218cd7dc75b4e68247cda13c9dff2d2969";

/** The ring of seed `byte`×32. */
export function ring(byte: number): Promise<DummyRing> {
  return DummyRing.create(new Uint8Array(32).fill(byte), "kid");
}

/** A client on seed 01×32 and a server on seed 02×32, with their rings. */
export async function peers(): Promise<{
  client: NoiseClient;
  server: NoiseServer;
  clientRing: DummyRing;
  serverRing: DummyRing;
}> {
  const [clientRing, serverRing] = await Promise.all([ring(1), ring(2)]);
  return {
    client: new NoiseClient("kid", CLIENT_DEVICE, clientRing),
    server: new NoiseServer("kid", SERVER_DEVICE, serverRing),
    clientRing,
    serverRing,
  };
}

/** Two linked NoiseLinks (NN, through the data-link adapter): `[initiator, responder]`. */
export async function linkPair(): Promise<[NoiseLink, NoiseLink]> {
  const { client, server } = await peers();
  const c = await clientStartNn(client);
  const s = await serverAcceptNn(server, c.firstMsg);
  return [await clientCompleteNn(client, c.hs, s.response), serverCompleteNn(s.hs)];
}

/**
 * Asserts that `action` fails with a `NoiseError` of `code` (and exactly `message`
 * when given); returns the error.
 */
export async function expectNoiseError(
  action: Promise<unknown> | (() => unknown),
  code: number,
  message?: string,
): Promise<NoiseError> {
  let error: unknown;
  let threw = false;
  try {
    await (typeof action === "function" ? action() : action);
  } catch (e) {
    error = e;
    threw = true;
  }
  assert.ok(threw, `expected NoiseError ${code}, but it succeeded`);
  assert.ok(error instanceof NoiseError, `expected NoiseError ${code}, got ${String(error)}`);
  assert.equal(error.code, code, `code (${error.message})`);
  if (message !== undefined) assert.equal(error.message, message);
  return error;
}

/** `p`, or a failed assertion if it has not settled after `ms` (the timer is cleared). */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new assert.AssertionError({ message: `${what}: hung` })), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether `p` is still pending after `ms`. */
export async function stillPending(p: Promise<unknown>, ms: number): Promise<boolean> {
  const marker = Symbol("pending");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const wait = new Promise<symbol>((resolve) => {
    timer = setTimeout(() => resolve(marker), ms);
  });
  try {
    return (await Promise.race([p.then(() => null, () => null), wait])) === marker;
  } finally {
    clearTimeout(timer);
  }
}

/** Waits `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `n` random bytes. */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) {
    crypto.getRandomValues(out.subarray(off, Math.min(n, off + 65536)));
  }
  return out;
}

/** The concatenation of `parts` (`lib/bytes.ts`'s, taking an array). */
export function concat(parts: Uint8Array[]): Uint8Array {
  return concatBytes(...parts);
}

/** Every chunk of `readable`. */
export async function chunksOf(readable: ReadableStream<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  const reader = readable.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return out;
    out.push(value);
  }
}

/** A readable of `chunks`, in order (ReadableStream.from is missing from some type libs). */
export function streamOf(chunks: Iterable<Uint8Array>): ReadableStream<Uint8Array> {
  const it = chunks[Symbol.iterator]();
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = it.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
  });
}

/** Which runtime runs the tests. */
export const runtime: "deno" | "bun" | "node" = "Deno" in globalThis
  ? "deno"
  : "Bun" in globalThis
  ? "bun"
  : "node";

/**
 * A running position-sensitive checksum (Fletcher-style over 32-bit little-endian
 * words of the byte stream, so the same whatever the chunking): cheap enough for a
 * gigabyte, and it notices reordered, lost or changed bytes.
 */
export class Checksum {
  #a = 1;
  #b = 0;
  #length = 0;
  #pending = 0; // bytes of an incomplete word, little-endian
  #pendingLen = 0;

  #words(words: Uint32Array): void {
    let a = this.#a;
    let b = this.#b;
    for (let i = 0; i < words.length; i++) {
      a = (a + words[i]) | 0;
      b = (b + a) | 0;
    }
    this.#a = a;
    this.#b = b;
  }

  /** Adds `bytes`. */
  update(bytes: Uint8Array): void {
    this.#length += bytes.length;
    let i = 0;
    if (this.#pendingLen > 0) {
      while (this.#pendingLen < 4 && i < bytes.length) {
        this.#pending |= bytes[i++] << (8 * this.#pendingLen++);
      }
      if (this.#pendingLen < 4) return;
      this.#words(new Uint32Array([this.#pending >>> 0]));
      this.#pending = 0;
      this.#pendingLen = 0;
    }
    const count = (bytes.length - i) >>> 2;
    if (count > 0) {
      const start = bytes.byteOffset + i;
      this.#words(
        start % 4 === 0
          ? new Uint32Array(bytes.buffer, start, count)
          : new Uint32Array(bytes.slice(i, i + 4 * count).buffer),
      );
      i += 4 * count;
    }
    while (i < bytes.length) this.#pending |= bytes[i++] << (8 * this.#pendingLen++);
  }

  /** Bytes seen so far. */
  get length(): number {
    return this.#length;
  }

  /** The checksum as text (length, both sums, and the bytes of an incomplete last word). */
  digest(): string {
    return `${this.#length}:${this.#a >>> 0}:${this.#b >>> 0}:${this.#pending >>> 0}`;
  }
}

/** Waits until `condition()` holds, polling every millisecond; fails after `ms`. */
export function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  return within(
    (async () => {
      // Stop polling at the deadline too, so a failed wait does not keep the process alive.
      while (!condition() && Date.now() < deadline) await sleep(1);
    })(),
    ms,
    what,
  );
}

/** A connected loopback TCP pair made with `node:net`, and a `close()` that ends it all. */
export async function tcpPair(
  options: { allowHalfOpen?: boolean } = {},
): Promise<{ client: net.Socket; server: net.Socket; close(): Promise<void> }> {
  const listener = net.createServer({ allowHalfOpen: options.allowHalfOpen ?? false });
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const { port } = listener.address() as net.AddressInfo;
  const accepted = new Promise<net.Socket>((resolve) => listener.once("connection", resolve));
  const client = net.connect({ port, host: "127.0.0.1", allowHalfOpen: options.allowHalfOpen });
  await new Promise<void>((resolve, reject) => {
    client.once("connect", resolve);
    client.once("error", reject);
  });
  const server = await accepted;
  const gone = (s: net.Socket) =>
    new Promise<void>((resolve) => {
      if (s.closed) return resolve();
      s.once("close", () => resolve());
      s.destroy();
    });
  return {
    client,
    server,
    async close() {
      await Promise.all([
        gone(client),
        gone(server),
        new Promise<void>((resolve) => listener.close(() => resolve())),
      ]);
    },
  };
}

/** Two plaintext channels over an in-memory carrier pair, on NN links. */
export async function channelPair(
  highWaterMark = 1,
): Promise<{ a: PlaintextStreams; b: PlaintextStreams; links: [NoiseLink, NoiseLink] }> {
  const links = await linkPair();
  const [ca, cb] = memoryCarrierPair({ highWaterMark });
  return { a: linkStreams(links[0], ca), b: linkStreams(links[1], cb), links };
}

/** The resident set size of this process, in bytes. */
export function rss(): number {
  return process.memoryUsage().rss;
}
