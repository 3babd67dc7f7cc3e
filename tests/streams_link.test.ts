/**
 * The link as a TransformStream pair (`lib/streams/link_streams.ts`) and the Rust
 * crate's `StreamingNoiseLink` (`lib/streams/streaming_link.ts`).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { assertBytes, assertChunks } from "./_assert_bytes.ts";
import {
  decryptStream,
  encryptStream,
  linkStreams,
  MAX_CHUNK_PLAINTEXT,
} from "../lib/streams/link_streams.ts";
import { memoryCarrierPair } from "../lib/streams/carrier.ts";
import { StreamingNoiseLink } from "../lib/streams/streaming_link.ts";
import { NoiseError, NoiseErrorCode } from "../lib/errors.ts";
import {
  chunksOf,
  concat,
  expectNoiseError,
  linkPair,
  randomBytes,
  sleep,
  stillPending,
  streamOf,
  until,
  within,
} from "./streams_helpers.ts";

describe("encryptStream and decryptStream", () => {
  test("carry 10,000 random chunks of random sizes intact", async () => {
    const [a, b] = await linkPair();
    const chunks = Array.from(
      { length: 10_000 },
      (_, i) => randomBytes(i % 1000 === 999 ? 70_000 + i : Math.floor(Math.random() * 1500)),
    );
    const wire: number[] = [];
    const tap = new TransformStream<Uint8Array, Uint8Array>({
      transform(message, controller) {
        wire.push(message.length);
        controller.enqueue(message);
      },
    });
    const out = await chunksOf(
      streamOf(chunks).pipeThrough(encryptStream(a)).pipeThrough(tap).pipeThrough(
        decryptStream(b),
      ),
    );
    assertBytes(concat(out), concat(chunks));
    assert.ok(Math.max(...wire) <= 65535, `largest Noise message ${Math.max(...wire)}`);
    // Empty chunks send nothing; the 10 chunks over 65519 bytes need two messages each.
    const nonEmpty = chunks.filter((c) => c.length > 0).length;
    assert.equal(wire.length, nonEmpty + 10);
  });

  test("split a chunk larger than 65519 bytes into messages of at most 65535 bytes", async () => {
    const [a] = await linkPair();
    const sizes = async (n: number) =>
      (await chunksOf(streamOf([new Uint8Array(n)]).pipeThrough(encryptStream(a)))).map((m) =>
        m.length
      );
    assert.deepEqual(await sizes(MAX_CHUNK_PLAINTEXT), [65535]);
    assert.deepEqual(await sizes(MAX_CHUNK_PLAINTEXT + 1), [65535, 17]);
    assert.deepEqual(await sizes(200_000), [65535, 65535, 65535, 3459]);
    assert.deepEqual(await sizes(0), []);
  });

  test("keep each chunk of at most 65519 bytes as one message, end to end", async () => {
    const [a, b] = await linkPair();
    const chunks = [randomBytes(1), randomBytes(MAX_CHUNK_PLAINTEXT), randomBytes(10)];
    const out = await chunksOf(
      streamOf(chunks).pipeThrough(encryptStream(a)).pipeThrough(decryptStream(b)),
    );
    assertChunks(out, chunks);
  });

  test("a tampered message errors the plaintext readable with Snow 3000", async () => {
    const [a, b] = await linkPair();
    let n = 0;
    const tamper = new TransformStream<Uint8Array, Uint8Array>({
      transform(message, controller) {
        if (++n === 3) message[5] ^= 0x01;
        controller.enqueue(message);
      },
    });
    const reader = streamOf([1, 2, 3, 4].map((i) => new Uint8Array(10).fill(i)))
      .pipeThrough(encryptStream(a)).pipeThrough(tamper).pipeThrough(decryptStream(b))
      .getReader();
    assert.deepEqual((await reader.read()).value, new Uint8Array(10).fill(1));
    assert.deepEqual((await reader.read()).value, new Uint8Array(10).fill(2));
    await expectNoiseError(reader.read(), NoiseErrorCode.Snow, "snow error: decrypt error");
  });

  test("reordered messages error the readable with Snow 3000", async () => {
    const [a, b] = await linkPair();
    const m1 = a.encrypt(new Uint8Array([1]));
    const m2 = a.encrypt(new Uint8Array([2]));
    await expectNoiseError(
      chunksOf(streamOf([m2, m1]).pipeThrough(decryptStream(b))),
      NoiseErrorCode.Snow,
    );
  });

  test("drop empty Noise messages (keep-alives) from the plaintext", async () => {
    const [a, b] = await linkPair();
    const wire = [a.encrypt(new Uint8Array(0)), a.encrypt(new Uint8Array([7]))];
    assert.deepEqual(await chunksOf(streamOf(wire).pipeThrough(decryptStream(b))), [
      new Uint8Array([7]),
    ]);
  });

  test("refuse chunks that are not bytes with Other", async () => {
    const [a, b] = await linkPair();
    const bad = () => streamOf([("x" as unknown) as Uint8Array]);
    await expectNoiseError(chunksOf(bad().pipeThrough(encryptStream(a))), NoiseErrorCode.Other);
    await expectNoiseError(chunksOf(bad().pipeThrough(decryptStream(b))), NoiseErrorCode.Other);
  });

  test("abort of the plaintext writable reaches the peer's plaintext readable", async () => {
    const [a, b] = await linkPair();
    const [ca, cb] = memoryCarrierPair();
    const alice = linkStreams(a, ca);
    const bob = linkStreams(b, cb);
    const reason = new NoiseError(NoiseErrorCode.Other, "stop");
    const reader = bob.readable.getReader();
    const writer = alice.writable.getWriter();
    await writer.write(new Uint8Array([1]));
    assert.deepEqual((await reader.read()).value, new Uint8Array([1]));
    await writer.abort(reason);
    await assert.rejects(within(reader.read(), 2000, "abort"), (e) => e === reason);
  });

  test("cancel of the plaintext readable reaches the peer's plaintext writable", async () => {
    const [a, b] = await linkPair();
    const [ca, cb] = memoryCarrierPair();
    const alice = linkStreams(a, ca);
    const bob = linkStreams(b, cb);
    const reason = new NoiseError(NoiseErrorCode.Other, "not interested");
    await bob.readable.cancel(reason);
    const writer = alice.writable.getWriter();
    // The cancel travels upstream through the pipes: writes start failing.
    await within(
      (async () => {
        for (;;) {
          try {
            await writer.write(new Uint8Array([1]));
          } catch (e) {
            assert.equal(e, reason);
            return;
          }
          await sleep(1);
        }
      })(),
      2000,
      "cancel",
    );
  });

  test("linkStreams refuses a carrier that is already locked with Other", async () => {
    const [a] = await linkPair();
    const [ca] = memoryCarrierPair();
    const reader = ca.readable.getReader();
    await expectNoiseError(() => linkStreams(a, ca), NoiseErrorCode.Other);
    reader.releaseLock();
    assert.equal(ca.writable.locked, false, "nothing was piped onto the carrier");
  });

  test("a closed plaintext writable closes the peer's plaintext readable", async () => {
    const [a, b] = await linkPair();
    const [ca, cb] = memoryCarrierPair();
    const writer = linkStreams(a, ca).writable.getWriter();
    const reading = chunksOf(linkStreams(b, cb).readable);
    await writer.write(new Uint8Array([4, 5]));
    await writer.close();
    assert.deepEqual(await within(reading, 2000, "close"), [new Uint8Array([4, 5])]);
  });

  test("backpressure: a consumer that stops reading stops the producer's pulls", async () => {
    const [a, b] = await linkPair();
    const [ca, cb] = memoryCarrierPair();
    let pulls = 0;
    const source = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulls++;
        controller.enqueue(new Uint8Array(1000).fill(pulls & 0xff));
      },
    }, { highWaterMark: 0 });
    const alice = linkStreams(a, ca);
    const bob = linkStreams(b, cb);
    source.pipeTo(alice.writable).catch(() => {});
    const reader = bob.readable.getReader();
    for (let i = 0; i < 3; i++) await reader.read();
    await sleep(100);
    const stalled = pulls;
    await sleep(100);
    assert.equal(pulls, stalled, "the producer keeps being pulled while nobody reads");
    // Source → encrypt (1 + 2) → carrier (2) → decrypt (1 + 2) → 3 read: about a dozen.
    assert.ok(pulls <= 16, `pulled ${pulls} chunks while the consumer read 3`);
    // Reading again resumes the flow.
    for (let i = 0; i < 20; i++) await within(reader.read(), 2000, "resume");
    assert.ok(pulls >= 23);
    await reader.cancel();
  });

  test("backpressure: writer.ready stays pending after a bounded number of writes", async () => {
    const [a] = await linkPair();
    const encrypt = encryptStream(a);
    const writer = encrypt.writable.getWriter();
    let writes = 0;
    while (!(await stillPending(writer.ready, 20))) {
      writer.write(new Uint8Array(100)).catch(() => {});
      writes++;
      assert.ok(writes < 50, "writer.ready never blocks");
    }
    assert.ok(writes <= 4, `${writes} writes accepted with nobody reading`);
    // Reading frees it.
    const reader = encrypt.readable.getReader();
    await reader.read();
    await within(writer.ready, 2000, "ready after a read");
    await reader.cancel();
  });

  test("a Noise message over 65535 bytes errors decryptStream with Snow 3000", async () => {
    const [, b] = await linkPair();
    await expectNoiseError(
      chunksOf(streamOf([new Uint8Array(65536)]).pipeThrough(decryptStream(b))),
      NoiseErrorCode.Snow,
    );
  });

  test("the pipes settle: a cancelled consumer leaves no pending producer", async () => {
    const [a] = await linkPair();
    let cancelled = false;
    const source = new ReadableStream<Uint8Array>({
      pull(c) {
        c.enqueue(new Uint8Array(10));
      },
      cancel() {
        cancelled = true;
      },
    });
    await source.pipeThrough(encryptStream(a)).cancel();
    await until(() => cancelled, 2000, "cancel to the source");
    assert.ok(cancelled);
  });
});

describe("StreamingNoiseLink", () => {
  test("has a default chunk size of 65519, the largest Noise plaintext", async () => {
    const [a] = await linkPair();
    assert.equal(StreamingNoiseLink.DEFAULT_CHUNK_SIZE, 65519);
    assert.equal(new StreamingNoiseLink(a).chunkSize, 65519);
    assert.equal(new StreamingNoiseLink(a, 10).chunkSize, 10);
  });

  test("refuses chunk sizes 65536, 65520, 0, -1 and 1.5 with Other", async () => {
    const [a] = await linkPair();
    for (const size of [65536, 65520, 0, -1, 1.5, NaN]) {
      await expectNoiseError(() => new StreamingNoiseLink(a, size), NoiseErrorCode.Other);
    }
  });

  test("cuts a 100,000-byte message into 65519 + 34481 bytes and restores it", async () => {
    const [a, b] = await linkPair();
    const data = randomBytes(100_000);
    const chunks = new StreamingNoiseLink(a).encryptStreaming(data);
    assert.deepEqual(chunks.map((c) => c.length), [65519 + 16, 34481 + 16]);
    assertBytes(new StreamingNoiseLink(b).decryptStreaming(chunks), data);
  });

  test("chunks are plain NoiseLink ciphertexts (no framing), as in Rust", async () => {
    const [a, b] = await linkPair();
    const chunks = new StreamingNoiseLink(a, 4).encryptStreaming(new Uint8Array([1, 2, 3, 4, 5]));
    assert.equal(chunks.length, 2);
    assert.deepEqual(b.decrypt(chunks[0]), new Uint8Array([1, 2, 3, 4]));
    assert.deepEqual(b.decrypt(chunks[1]), new Uint8Array([5]));
  });

  test("empty data gives no chunk, and no chunk gives empty data", async () => {
    const [a, b] = await linkPair();
    assert.deepEqual(new StreamingNoiseLink(a).encryptStreaming(new Uint8Array(0)), []);
    assert.deepEqual(new StreamingNoiseLink(b).decryptStreaming([]), new Uint8Array(0));
  });

  test("encryptChunk refuses a chunk larger than the chunk size with the Rust message", async () => {
    const [a, b] = await linkPair();
    const s = new StreamingNoiseLink(a, 100);
    await expectNoiseError(
      () => s.encryptChunk(new Uint8Array(101)),
      NoiseErrorCode.Other,
      "other: Chunk size 101 exceeds limit 100",
    );
    // Nothing was consumed: the next chunk still decrypts on the peer.
    const ct = s.encryptChunk(new Uint8Array(100).fill(3));
    assert.deepEqual(new StreamingNoiseLink(b, 100).decryptChunk(ct), new Uint8Array(100).fill(3));
  });

  test("a tampered chunk fails with Snow 3000", async () => {
    const [a, b] = await linkPair();
    const chunks = new StreamingNoiseLink(a, 10).encryptStreaming(new Uint8Array(25));
    chunks[1][0] ^= 1;
    await expectNoiseError(
      () => new StreamingNoiseLink(b, 10).decryptStreaming(chunks),
      NoiseErrorCode.Snow,
    );
  });

  test("inner is the link it wraps", async () => {
    const [a] = await linkPair();
    assert.equal(new StreamingNoiseLink(a).inner, a);
  });

  test("refuses data that is not bytes with Other", async () => {
    const [a] = await linkPair();
    const s = new StreamingNoiseLink(a);
    await expectNoiseError(
      () => s.encryptStreaming(("abc" as unknown) as Uint8Array),
      NoiseErrorCode.Other,
    );
    await expectNoiseError(
      () => s.decryptStreaming(("abc" as unknown) as Uint8Array[]),
      NoiseErrorCode.Other,
    );
  });
});
