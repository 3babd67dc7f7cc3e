/**
 * The message layer (`lib/streams/messages.ts`): messages of any size as Noise
 * messages of `flag ‖ data`, streamed bodies with bounded memory, truncation and
 * bad flags detected, backpressure from reader to writer; and a large message
 * over a real loopback TCP socket.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { assertBytes, assertChunks } from "./_assert_bytes.ts";
import process from "node:process";
import {
  FLAG_CONTINUES,
  FLAG_LAST,
  MESSAGE_CHUNK_DATA,
  messageReader,
  messageWriter,
} from "../lib/streams/messages.ts";
import { memoryCarrierPair } from "../lib/streams/carrier.ts";
import { linkStreams } from "../lib/streams/link_streams.ts";
import { framed } from "../lib/streams/framing.ts";
import { nodeSocketCarrier } from "../lib/streams/node_socket.ts";
import { NoiseError, NoiseErrorCode } from "../lib/errors.ts";
import {
  channelPair,
  Checksum,
  chunksOf,
  concat,
  expectNoiseError,
  linkPair,
  randomBytes,
  rss,
  sleep,
  stillPending,
  streamOf,
  tcpPair,
  within,
} from "./streams_helpers.ts";

const MiB = 1 << 20;
const SIZES = [0, 1, 65518, 65519, 200_000];

/** Noise plaintexts seen on the wire from `a` to `b` (a tap on the carrier). */
async function tappedChannels() {
  const links = await linkPair();
  const [ca, cb] = memoryCarrierPair();
  const wire: number[] = [];
  const tap = new TransformStream<Uint8Array, Uint8Array>({
    transform(m, c) {
      wire.push(m.length - 16);
      c.enqueue(m);
    },
  });
  const a = linkStreams(links[0], { readable: ca.readable, writable: tap.writable });
  tap.readable.pipeTo(ca.writable).catch(() => {});
  const b = linkStreams(links[1], cb);
  return { a, b, wire, links, raw: ca };
}

/** `data` as a stream of chunks of irregular sizes. */
function irregular(data: Uint8Array): ReadableStream<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (let off = 0, i = 0; off < data.length; i++) {
    const n = [1, 7000, 65518, 3, 100_000][i % 5];
    parts.push(data.subarray(off, off + n));
    off += n;
  }
  return streamOf(parts);
}

describe("messageWriter and messageReader", () => {
  for (const size of SIZES) {
    test(`carry a ${size}-byte message as ${Math.max(1, Math.ceil(size / 65518))} Noise message(s)`, async () => {
      const { a, b, wire } = await tappedChannels();
      const writer = messageWriter(a);
      const reader = messageReader(b);
      const data = randomBytes(size);
      const sent = writer.send(data);
      assertBytes(await within(reader.readAll(1 << 20), 5000, "readAll"), data);
      await sent;
      const expected = Math.max(1, Math.ceil(size / MESSAGE_CHUNK_DATA));
      assert.equal(wire.length, expected);
      assert.ok(wire.every((n) => n <= 65519), `plaintexts ${wire}`);
      assert.equal(wire[expected - 1], 1 + size - (expected - 1) * MESSAGE_CHUNK_DATA);
    });

    test(`carry a ${size}-byte stream body with the same wire as its bytes`, async () => {
      const { a, b, wire } = await tappedChannels();
      const writer = messageWriter(a);
      const reader = messageReader(b);
      const data = randomBytes(size);
      const sent = writer.send(irregular(data));
      assertBytes(await within(reader.readAll(1 << 20), 5000, "readAll"), data);
      await sent;
      assert.equal(wire.length, Math.max(1, Math.ceil(size / MESSAGE_CHUNK_DATA)));
    });
  }

  test("put the flag first: 0x00 on continued chunks, 0x01 on the last", async () => {
    const [x, y] = await linkPair();
    const [ca, cb] = memoryCarrierPair({ highWaterMark: 8 });
    const writer = messageWriter(linkStreams(x, ca));
    const reader = cb.readable.getReader();
    await writer.send(new Uint8Array(MESSAGE_CHUNK_DATA + 2).fill(0xaa));
    await writer.send(new Uint8Array(0));
    const plain = [];
    for (let i = 0; i < 3; i++) plain.push(y.decrypt((await reader.read()).value!));
    assert.deepEqual(plain.map((p) => [p[0], p.length]), [
      [FLAG_CONTINUES, 65519],
      [FLAG_LAST, 3],
      [FLAG_LAST, 1],
    ]);
  });

  test("deliver a body as a stream of chunks of at most 65518 bytes", async () => {
    const { a, b } = await channelPair();
    const writer = messageWriter(a);
    const reader = messageReader(b);
    const data = randomBytes(300_000);
    const sent = writer.send(data);
    const body = await reader.next();
    assert.ok(body instanceof ReadableStream);
    const chunks = await chunksOf(body);
    assert.ok(chunks.every((c) => c.length > 0 && c.length <= MESSAGE_CHUNK_DATA));
    assertBytes(concat(chunks), data);
    await sent;
  });

  test("keep messages apart and in order, and end with null after close", async () => {
    const { a, b } = await channelPair();
    const writer = messageWriter(a);
    const reader = messageReader(b);
    const messages = [randomBytes(10), new Uint8Array(0), randomBytes(70_000), randomBytes(3)];
    const sending = (async () => {
      for (const m of messages) await writer.send(m);
      await writer.close();
    })();
    const got: Uint8Array[] = [];
    for await (const body of reader) got.push(concat(await chunksOf(body)));
    assertChunks(got, messages);
    assert.equal(await reader.next(), null);
    await sending;
  });

  test("queue concurrent sends without interleaving them", async () => {
    const { a, b } = await channelPair();
    const writer = messageWriter(a);
    const reader = messageReader(b);
    const one = randomBytes(150_000);
    const two = randomBytes(150_000);
    const sending = Promise.all([writer.send(irregular(one)), writer.send(two)]);
    assertBytes(await reader.readAll(MiB), one);
    assert.deepEqual(await reader.readAll(MiB), two);
    await sending;
  });

  test("detect a message truncated after a continuation chunk (8002)", async () => {
    const [x, y] = await linkPair();
    const [ca, cb] = memoryCarrierPair({ highWaterMark: 4 });
    const raw = ca.writable.getWriter();
    const reader = messageReader(linkStreams(y, cb));
    await raw.write(x.encrypt(new Uint8Array([FLAG_CONTINUES, 1, 2, 3])));
    await raw.close();
    const body = await reader.next();
    const chunks = body!.getReader();
    assert.deepEqual((await chunks.read()).value, new Uint8Array([1, 2, 3]));
    await expectNoiseError(
      chunks.read(),
      NoiseErrorCode.ConnectionReset,
      "connection reset: stream ended inside a message",
    );
    // And the reader stays failed.
    await expectNoiseError(reader.next(), NoiseErrorCode.ConnectionReset);
  });

  test("readAll rejects a truncated message with 8002", async () => {
    const [x, y] = await linkPair();
    const [ca, cb] = memoryCarrierPair({ highWaterMark: 4 });
    const raw = ca.writable.getWriter();
    await raw.write(x.encrypt(new Uint8Array([FLAG_CONTINUES, 9])));
    await raw.write(x.encrypt(new Uint8Array([FLAG_CONTINUES, 9])));
    await raw.close();
    await expectNoiseError(
      messageReader(linkStreams(y, cb)).readAll(100),
      NoiseErrorCode.ConnectionReset,
    );
  });

  test("a channel cut while a writer streams a message is a truncation on the reader", async () => {
    const { a, b } = await channelPair();
    const writer = messageWriter(a);
    const reader = messageReader(b);
    let pulls = 0;
    const failing = new ReadableStream<Uint8Array>({
      pull(c) {
        if (++pulls === 4) c.error(new Error("disk failed"));
        else c.enqueue(new Uint8Array(50_000));
      },
    });
    const sending = writer.send(failing);
    const body = await reader.next();
    // In memory the abort reason itself reaches the reader; on a socket it is a reset.
    await expectNoiseError(chunksOf(body!), NoiseErrorCode.Other);
    await expectNoiseError(sending, NoiseErrorCode.Other, "other: the message body stream failed");
    await expectNoiseError(writer.send(new Uint8Array(1)), NoiseErrorCode.Other);
  });

  test("a stream body that fails before sending anything leaves the channel usable", async () => {
    const { a, b } = await channelPair();
    const writer = messageWriter(a);
    const reader = messageReader(b);
    const failing = new ReadableStream<Uint8Array>({
      pull(c) {
        c.error(new Error("no data"));
      },
    });
    await expectNoiseError(writer.send(failing), NoiseErrorCode.Other);
    const sent = writer.send(new Uint8Array([42]));
    assert.deepEqual(await reader.readAll(10), new Uint8Array([42]));
    await sent;
  });

  test("refuse an unknown flag with Other and cancel the channel", async () => {
    const [x, y] = await linkPair();
    const [ca, cb] = memoryCarrierPair({ highWaterMark: 4 });
    const raw = ca.writable.getWriter();
    const reader = messageReader(linkStreams(y, cb));
    await raw.write(x.encrypt(new Uint8Array([0x02, 1])));
    await expectNoiseError(reader.next(), NoiseErrorCode.Other, "other: bad message flag (0x02)");
    await expectNoiseError(reader.next(), NoiseErrorCode.Other);
    // The cancel reaches the sender's side of the carrier.
    await assert.rejects(
      within(
        (async () => {
          for (;;) {
            await raw.write(new Uint8Array(20));
            await sleep(1);
          }
        })(),
        2000,
        "cancelled carrier",
      ),
      (e) => e instanceof NoiseError && e.code === NoiseErrorCode.Other,
    );
  });

  test("a flag in a later chunk is checked too", async () => {
    const [x, y] = await linkPair();
    const [ca, cb] = memoryCarrierPair({ highWaterMark: 4 });
    const raw = ca.writable.getWriter();
    const reader = messageReader(linkStreams(y, cb));
    await raw.write(x.encrypt(new Uint8Array([FLAG_CONTINUES, 1])));
    await raw.write(x.encrypt(new Uint8Array([0xff, 2])));
    await expectNoiseError(
      reader.readAll(100),
      NoiseErrorCode.Other,
      "other: bad message flag (0xff)",
    );
  });

  test("reordered chunks of a message fail to decrypt (3000)", async () => {
    const [x, y] = await linkPair();
    const [ca, cb] = memoryCarrierPair({ highWaterMark: 4 });
    const raw = ca.writable.getWriter();
    const first = x.encrypt(new Uint8Array([FLAG_CONTINUES, 1]));
    const last = x.encrypt(new Uint8Array([FLAG_LAST, 2]));
    await raw.write(last);
    await raw.write(first);
    await expectNoiseError(messageReader(linkStreams(y, cb)).readAll(100), NoiseErrorCode.Snow);
  });

  test("cancelling a body discards the rest of its message", async () => {
    const { a, b } = await channelPair();
    const writer = messageWriter(a);
    const reader = messageReader(b);
    const next = randomBytes(1000);
    const sending = Promise.all([writer.send(randomBytes(400_000)), writer.send(next)]);
    const body = (await reader.next())!;
    const chunks = body.getReader();
    assert.equal((await chunks.read()).value?.length, MESSAGE_CHUNK_DATA);
    await chunks.cancel();
    assert.deepEqual(await within(reader.readAll(2000), 5000, "next message"), next);
    await sending;
  });

  test("cancelling a body before reading it skips the whole message", async () => {
    const { a, b } = await channelPair();
    const writer = messageWriter(a);
    const reader = messageReader(b);
    const sending = Promise.all([
      writer.send(randomBytes(200_000)),
      writer.send(new Uint8Array([5])),
    ]);
    await (await reader.next())!.cancel();
    assert.deepEqual(await within(reader.readAll(10), 5000, "next"), new Uint8Array([5]));
    await sending;
  });

  test("the next message waits until the previous body is read", async () => {
    const { a, b } = await channelPair(4);
    const writer = messageWriter(a);
    const reader = messageReader(b);
    const sending = Promise.all([
      writer.send(randomBytes(100_000)),
      writer.send(new Uint8Array([6])),
    ]);
    const first = (await reader.next())!;
    const second = reader.next();
    assert.ok(await stillPending(second, 50), "next() ran ahead of an unread body");
    assert.equal(concat(await chunksOf(first)).length, 100_000);
    assert.deepEqual(await chunksOf((await within(second, 2000, "second"))!), [
      new Uint8Array([6]),
    ]);
    await sending;
  });

  test("readAll refuses a message over its cap with Policy, and the next one still reads", async () => {
    const { a, b } = await channelPair();
    const writer = messageWriter(a);
    const reader = messageReader(b);
    const sending = Promise.all([writer.send(randomBytes(100_000)), writer.send(randomBytes(999))]);
    await expectNoiseError(
      reader.readAll(99_999),
      NoiseErrorCode.Policy,
      "policy violation: message longer than 99999 bytes",
    );
    assert.equal((await within(reader.readAll(999), 2000, "next"))?.length, 999);
    await sending;
    await expectNoiseError(reader.readAll(-1), NoiseErrorCode.Other);
  });

  test("refuse a message that is neither bytes nor a stream, and locked channels", async () => {
    const { a, b } = await channelPair();
    const writer = messageWriter(a);
    await expectNoiseError(
      writer.send("hello" as unknown as Uint8Array),
      NoiseErrorCode.Other,
    );
    await expectNoiseError(() => messageWriter(a), NoiseErrorCode.Other);
    messageReader(b);
    await expectNoiseError(() => messageReader(b), NoiseErrorCode.Other);
    await expectNoiseError(
      writer.send(streamOf(["x" as unknown as Uint8Array])),
      NoiseErrorCode.Other,
    );
  });

  test("a reader that stops reading stops the writer after a bounded number of bytes", async () => {
    const { a, b } = await channelPair();
    const writer = messageWriter(a);
    const reader = messageReader(b);
    let produced = 0;
    let cancelled = false;
    const endless = new ReadableStream<Uint8Array>({
      pull(c) {
        produced += 16384;
        c.enqueue(new Uint8Array(16384));
      },
      cancel() {
        cancelled = true;
      },
    }, { highWaterMark: 0 });
    const sending = writer.send(endless);
    const body = (await reader.next())!.getReader();
    await body.read();
    await sleep(100);
    const stalled = produced;
    await sleep(100);
    assert.equal(produced, stalled, "the writer keeps producing");
    assert.ok(produced < 1.5 * MiB, `${produced} bytes produced while one chunk was read`);
    await reader.cancel();
    await expectNoiseError(within(sending, 2000, "send after cancel"), NoiseErrorCode.Network);
    assert.ok(cancelled, "the body stream was cancelled");
  });
});

describe("messages over a loopback TCP socket", () => {
  // 1 GiB, as the issue asks; NOISE_QUICK_TESTS=1 shortens it to 64 MiB for local runs.
  const quick = process.env.NOISE_QUICK_TESTS === "1";
  const SIZE = quick ? 64 * MiB : 1024 * MiB;

  /** A stream of `size` pseudo-random bytes in irregular chunks, made as it is read. */
  function generated(size: number, sum: Checksum): ReadableStream<Uint8Array> {
    const pool = randomBytes(MiB);
    let produced = 0;
    let step = 0;
    return new ReadableStream<Uint8Array>({
      pull(c) {
        if (produced >= size) return c.close();
        const n = Math.min(size - produced, 30_000 + (step++ * 7919) % 70_000);
        const off = (produced * 13) % (pool.length - n);
        const chunk = pool.subarray(off, off + n);
        sum.update(chunk);
        produced += n;
        c.enqueue(chunk);
      },
    }, { highWaterMark: 0 });
  }

  /** Reads one message body to its end into `sum`. */
  async function drain(body: ReadableStream<Uint8Array> | null, sum: Checksum): Promise<void> {
    assert.ok(body !== null, "a message");
    const reader = body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      sum.update(value);
    }
  }

  test(`a ${SIZE / MiB} MiB message streams through with memory growth under 64 MiB`, {
    timeout: quick ? 60_000 : 600_000,
  }, async () => {
    const tcp = await tcpPair();
    try {
      const links = await linkPair();
      const writer = messageWriter(linkStreams(links[0], framed(nodeSocketCarrier(tcp.client))));
      const reader = messageReader(linkStreams(links[1], framed(nodeSocketCarrier(tcp.server))));
      // A first 16 MiB message brings the runtime's heap and buffers to their steady size,
      // so that the measure below is what the large message adds.
      const warmSent = new Checksum();
      const warmReceived = new Checksum();
      const warm = writer.send(generated(16 * MiB, warmSent));
      await drain(await reader.next(), warmReceived);
      await warm;
      assert.equal(warmReceived.digest(), warmSent.digest());

      const sent = new Checksum();
      const received = new Checksum();
      const baseline = rss();
      let peak = baseline;
      const sampler = setInterval(() => {
        peak = Math.max(peak, rss());
      }, 20);
      const started = performance.now();
      try {
        const sending = writer.send(generated(SIZE, sent)).then(() => writer.close());
        await drain(await reader.next(), received);
        await sending;
        assert.equal(await reader.next(), null);
      } finally {
        clearInterval(sampler);
      }
      peak = Math.max(peak, rss());
      assert.equal(received.length, SIZE);
      assert.equal(received.digest(), sent.digest());
      const seconds = (performance.now() - started) / 1000;
      const growth = (peak - baseline) / MiB;
      console.log(
        `  ${SIZE / MiB} MiB in ${seconds.toFixed(1)} s (${(SIZE / MiB / seconds).toFixed(0)} ` +
          `MiB/s), rss growth ${growth.toFixed(1)} MiB`,
      );
      assert.ok(growth < 64, `rss grew by ${growth.toFixed(1)} MiB`);
    } finally {
      await tcp.close();
    }
  });

  test("a reader that stops reading stops the writer, within socket buffers", async () => {
    const tcp = await tcpPair();
    try {
      const links = await linkPair();
      const writer = messageWriter(linkStreams(links[0], framed(nodeSocketCarrier(tcp.client))));
      const reader = messageReader(linkStreams(links[1], framed(nodeSocketCarrier(tcp.server))));
      let produced = 0;
      const endless = new ReadableStream<Uint8Array>({
        pull(c) {
          produced += 65536;
          c.enqueue(new Uint8Array(65536));
        },
      }, { highWaterMark: 0 });
      const sending = writer.send(endless);
      sending.catch(() => {});
      const body = (await reader.next())!.getReader();
      await body.read();
      let stalled = -1;
      for (let i = 0; i < 100 && produced !== stalled; i++) {
        stalled = produced;
        await sleep(50);
      }
      assert.equal(produced, stalled, "the writer never stops");
      assert.ok(produced < 32 * MiB, `${(produced / MiB).toFixed(1)} MiB produced`);
      await body.cancel();
      await reader.cancel();
    } finally {
      await tcp.close();
    }
  });
});
