/**
 * Framing of Noise messages on byte streams (`lib/streams/framing.ts`): 2-byte
 * big-endian length prefix, reassembly across any chunk boundary, limits and
 * truncation.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { assertChunks } from "./_assert_bytes.ts";
import { framed, frameDecoder, frameEncoder, MAX_FRAME_LEN } from "../lib/streams/framing.ts";
import { NoiseErrorCode } from "../lib/errors.ts";
import {
  chunksOf,
  concat,
  expectNoiseError,
  randomBytes,
  streamOf,
  until,
  within,
} from "./streams_helpers.ts";

function encodeAll(messages: Uint8Array[]): Promise<Uint8Array[]> {
  return chunksOf(streamOf(messages).pipeThrough(frameEncoder()));
}

function decodeAll(chunks: Uint8Array[], maxFrameLen?: number): Promise<Uint8Array[]> {
  return chunksOf(streamOf(chunks).pipeThrough(frameDecoder({ maxFrameLen })));
}

/** A frame written by hand: big-endian length, then the body. */
function frame(body: Uint8Array): Uint8Array {
  return concat([new Uint8Array([body.length >> 8, body.length & 0xff]), body]);
}

const SAMPLE = [0, 1, 2, 255, 256, 300, 1000].map((n) => randomBytes(n));

describe("frameEncoder", () => {
  test("prefixes each message with its length, big-endian", async () => {
    const out = await encodeAll([new Uint8Array(258).fill(7), new Uint8Array([9])]);
    assert.equal(out.length, 2);
    assert.deepEqual(out[0].subarray(0, 3), new Uint8Array([0x01, 0x02, 7]));
    assert.equal(out[0].length, 260);
    assert.deepEqual(out[1], new Uint8Array([0x00, 0x01, 9]));
  });

  test("writes an empty message as a bare zero length", async () => {
    assert.deepEqual(await encodeAll([new Uint8Array(0)]), [new Uint8Array([0, 0])]);
  });

  test("frames a 65535-byte message and refuses a 65536-byte one with Policy", async () => {
    const [ok] = await encodeAll([new Uint8Array(MAX_FRAME_LEN)]);
    assert.deepEqual(ok.subarray(0, 2), new Uint8Array([0xff, 0xff]));
    await expectNoiseError(
      encodeAll([new Uint8Array(MAX_FRAME_LEN + 1)]),
      NoiseErrorCode.Policy,
      "policy violation: frame of 65536 bytes is longer than 65535",
    );
  });

  test("refuses a chunk that is not bytes", async () => {
    const bad = streamOf([("text" as unknown) as Uint8Array]);
    await expectNoiseError(chunksOf(bad.pipeThrough(frameEncoder())), NoiseErrorCode.Other);
  });
});

describe("frameDecoder", () => {
  test("reassembles frames split at every possible byte boundary", async () => {
    const wire = concat(SAMPLE.map(frame));
    for (let cut = 0; cut <= wire.length; cut++) {
      const out = await decodeAll([wire.subarray(0, cut), wire.subarray(cut)]);
      assertChunks(out, SAMPLE, `cut at ${cut}`);
    }
  });

  test("reassembles frames split at every pair of boundaries of a short stream", async () => {
    const messages = [randomBytes(5), new Uint8Array(0), randomBytes(3)];
    const wire = concat(messages.map(frame));
    for (let i = 0; i <= wire.length; i++) {
      for (let j = i; j <= wire.length; j++) {
        const out = await decodeAll([wire.subarray(0, i), wire.subarray(i, j), wire.subarray(j)]);
        assertChunks(out, messages, `cuts at ${i}, ${j}`);
      }
    }
  });

  test("reassembles a stream delivered one byte at a time", async () => {
    const big = randomBytes(MAX_FRAME_LEN);
    const wire = concat([frame(big), frame(new Uint8Array(0)), frame(SAMPLE[3])]);
    const bytes = Array.from({ length: wire.length }, (_, i) => wire.subarray(i, i + 1));
    assertChunks(await decodeAll(bytes), [big, new Uint8Array(0), SAMPLE[3]]);
  });

  test("decodes a 0-length frame as an empty message", async () => {
    assert.deepEqual(await decodeAll([new Uint8Array([0, 0])]), [new Uint8Array(0)]);
  });

  test("decodes many frames from one chunk, in order", async () => {
    const messages = Array.from({ length: 1000 }, (_, i) => new Uint8Array(i % 17).fill(i & 0xff));
    const out = await decodeAll([concat(messages.map(frame))]);
    assert.equal(out.length, 1000);
    assertChunks(out, messages);
  });

  test("passes a frame that lies inside one chunk on without copying it", async () => {
    const wire = concat([frame(randomBytes(100)), frame(randomBytes(50))]);
    const out = await decodeAll([wire]);
    assert.equal(out[0].buffer, wire.buffer);
    assert.equal(out[1].buffer, wire.buffer);
  });

  test("round-trips random messages through random re-chunking", async () => {
    const messages = Array.from(
      { length: 200 },
      () => randomBytes(Math.floor(Math.random() * 3000)),
    );
    const wire = concat(await encodeAll(messages));
    const chunks: Uint8Array[] = [];
    for (let off = 0; off < wire.length;) {
      const n = Math.floor(Math.random() * 5000);
      chunks.push(wire.subarray(off, off + n));
      off += n;
    }
    assertChunks(await decodeAll(chunks), messages);
  });

  test("errors with Policy on a frame longer than maxFrameLen, as soon as its length is read", async () => {
    const decoder = frameDecoder({ maxFrameLen: 1000 });
    const writer = decoder.writable.getWriter();
    const reader = decoder.readable.getReader();
    // Only the length arrives; the stream stays open.
    writer.write(new Uint8Array([0x03, 0xe9])).catch(() => {});
    await expectNoiseError(
      within(reader.read(), 2000, "oversized frame"),
      NoiseErrorCode.Policy,
      "policy violation: frame of 1001 bytes is longer than 1000",
    );
  });

  test("accepts a frame of exactly maxFrameLen", async () => {
    const body = randomBytes(1000);
    assert.deepEqual(await decodeAll([frame(body)], 1000), [body]);
  });

  test("accepts 65535-byte frames by default and refuses maxFrameLen above 65535", async () => {
    const body = randomBytes(MAX_FRAME_LEN);
    assert.deepEqual(await decodeAll([frame(body)]), [body]);
    await expectNoiseError(() => frameDecoder({ maxFrameLen: 65536 }), NoiseErrorCode.Other);
    await expectNoiseError(() => frameDecoder({ maxFrameLen: -1 }), NoiseErrorCode.Other);
    await expectNoiseError(() => frameDecoder({ maxFrameLen: 1.5 }), NoiseErrorCode.Other);
  });

  test("errors with ConnectionReset when the stream ends inside a frame body", async () => {
    const wire = frame(randomBytes(10));
    await expectNoiseError(
      decodeAll([wire.subarray(0, 7)]),
      NoiseErrorCode.ConnectionReset,
      "connection reset: stream ended inside a frame",
    );
  });

  test("errors with ConnectionReset when the stream ends inside a length prefix", async () => {
    const wire = concat([frame(randomBytes(3)), new Uint8Array([0x00])]);
    await expectNoiseError(decodeAll([wire]), NoiseErrorCode.ConnectionReset);
  });

  test("errors with ConnectionReset when the stream ends right after a length prefix", async () => {
    await expectNoiseError(decodeAll([new Uint8Array([0, 5])]), NoiseErrorCode.ConnectionReset);
  });

  test("ends cleanly on a stream that ends between frames", async () => {
    assert.deepEqual(await decodeAll([]), []);
    assert.deepEqual(await decodeAll([frame(SAMPLE[2])]), [SAMPLE[2]]);
  });

  test("refuses a chunk that is not bytes", async () => {
    const bad = streamOf([([1, 2] as unknown) as Uint8Array]);
    await expectNoiseError(chunksOf(bad.pipeThrough(frameDecoder())), NoiseErrorCode.Other);
  });
});

describe("framed", () => {
  /** A byte pipe that re-chunks what passes through it into 7-byte pieces. */
  function bytePipe(): TransformStream<Uint8Array, Uint8Array> {
    return new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        for (let off = 0; off < chunk.length; off += 7) {
          controller.enqueue(chunk.slice(off, off + 7));
        }
      },
    });
  }

  test("turns a byte-stream pair into a message carrier", async () => {
    const aToB = bytePipe();
    const bToA = bytePipe();
    const a = framed({ readable: bToA.readable, writable: aToB.writable });
    const b = framed({ readable: aToB.readable, writable: bToA.writable });
    const messages = [randomBytes(100), new Uint8Array(0), randomBytes(MAX_FRAME_LEN)];
    const writer = a.writable.getWriter();
    const sending = (async () => {
      for (const m of messages) await writer.write(m);
      await writer.close();
    })();
    const received = await chunksOf(b.readable);
    await sending;
    assertChunks(received, messages);
    // And the other way round.
    const back = b.writable.getWriter();
    const reading = chunksOf(a.readable);
    await back.write(messages[0]);
    await back.close();
    assert.deepEqual(await reading, [messages[0]]);
  });

  test("refuses a byte stream that is already locked with Other", async () => {
    const readable = new ReadableStream<Uint8Array>();
    const writable = new WritableStream<Uint8Array>();
    const writer = writable.getWriter();
    await expectNoiseError(() => framed({ readable, writable }), NoiseErrorCode.Other);
    writer.releaseLock();
    readable.getReader();
    await expectNoiseError(() => framed({ readable, writable }), NoiseErrorCode.Other);
  });

  test("passes cancel of its readable to the byte stream", async () => {
    let cancelled: unknown = null;
    const source = new ReadableStream<Uint8Array>({
      cancel(reason) {
        cancelled = reason;
      },
    });
    const carrier = framed({ readable: source, writable: new WritableStream() });
    await carrier.readable.cancel("stop");
    await until(() => cancelled !== null, 2000, "cancel");
    assert.equal(cancelled, "stop");
  });

  test("passes abort of its writable to the byte stream", async () => {
    let aborted: unknown = null;
    const sink = new WritableStream<Uint8Array>({
      abort(reason) {
        aborted = reason;
      },
    });
    const carrier = framed({ readable: new ReadableStream(), writable: sink });
    await carrier.writable.abort("gone");
    await until(() => aborted !== null, 2000, "abort");
    assert.equal(aborted, "gone");
  });
});
