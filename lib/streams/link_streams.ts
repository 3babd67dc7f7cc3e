/**
 * An established {@linkcode NoiseLink} as a pair of `TransformStream`s:
 * {@linkcode encryptStream} (plaintext in, Noise transport messages out) and
 * {@linkcode decryptStream} (Noise messages in, plaintext out), and
 * {@linkcode linkStreams}, which puts both on a {@linkcode MessageCarrier}.
 *
 * - The plaintext side is a byte stream: chunks of any size go in; a chunk over
 *   65519 bytes is split into several Noise messages (each at most 65535 bytes on
 *   the wire); empty chunks send nothing. A non-empty chunk of at most 65519 bytes
 *   becomes exactly one Noise message, and each Noise message comes out of
 *   {@linkcode decryptStream} as exactly one chunk (empty ones, keep-alives, are
 *   dropped): the message layer (`messages.ts`) builds on this.
 * - A message that does not authenticate errors the stream with the link's
 *   `NoiseError` (Snow 3000); since nonces are in order, a dropped, replayed or
 *   reordered message does too.
 * - Backpressure holds end to end: each transform holds one input chunk and a
 *   couple of output messages, so a consumer that stops reading stops the
 *   producer after a bounded number of chunks.
 * - Cancel and abort propagate both ways (native `TransformStream` behaviour).
 * - Where WebCrypto seals large messages faster than the synchronous cipher (Bun), the streams
 *   use the link's asynchronous calls, and the pieces of a large chunk are sealed concurrently
 *   (their nonces are taken in order). Elsewhere they stay synchronous. The bytes are the same.
 *
 * The two directions of a link are independent: use one encryptStream and one
 * decryptStream per link, never two of the same kind.
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteNn, clientStartNn, DummyRing, NoiseClient, NoiseServer, serverAcceptNn,
 *   serverCompleteNn,
 * } from "@pubky/noise";
 * import { decryptStream, encryptStream } from "@pubky/noise/streams";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(7), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * const c = await clientStartNn(client);
 * const s = await serverAcceptNn(server, c.firstMsg);
 * const [alice, bob] = [await clientCompleteNn(client, c.hs, s.response), serverCompleteNn(s.hs)];
 * const plain = ReadableStream.from([new TextEncoder().encode("hello")])
 *   .pipeThrough(encryptStream(alice))
 *   .pipeThrough(decryptStream(bob));
 * for await (const chunk of plain) console.log(new TextDecoder().decode(chunk)); // hello
 * ```
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";
import type { NoiseLink } from "../link.ts";
import { TAGLEN } from "../crypto/chachapoly.ts";
import { asNoiseError, expectUnlocked, ignore, type MessageCarrier } from "./carrier.ts";
import { isFramedCarrier, markFramed } from "./framing.ts";

/**
 * Largest plaintext of one Noise transport message (65535 − 16).
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteNn, clientStartNn, DummyRing, NoiseClient, NoiseServer, serverAcceptNn,
 *   serverCompleteNn,
 * } from "@pubky/noise";
 * import { encryptStream, MAX_CHUNK_PLAINTEXT } from "@pubky/noise/streams";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const c = await clientStartNn(client);
 * const s = await serverAcceptNn(new NoiseServer("kid", "server-device-0001", ring), c.firstMsg);
 * const [alice, bob] = [await clientCompleteNn(client, c.hs, s.response), serverCompleteNn(s.hs)];
 * const wire = ReadableStream.from([new Uint8Array(100_000)]).pipeThrough(encryptStream(alice));
 * for await (const message of wire) console.log(message.length - 16); // 65519, then 34481
 * console.log(MAX_CHUNK_PLAINTEXT); // 65519
 * ```
 */
export const MAX_CHUNK_PLAINTEXT = 65519;

/** Chunks waiting on the writable side of each transform. */
const WRITABLE_HWM = 1;
/** Messages (or plaintext chunks) waiting on the readable side of each transform. */
const READABLE_HWM = 2;

// Transforms report failures with `controller.error(e)`, never `throw`: workerd
// raises an unhandled rejection for a throwing transform() even when the caller
// catches the stream's error.
function transformFailure(e: unknown): NoiseError {
  return asNoiseError(e, NoiseErrorCode.Other, "unexpected failure in a link stream");
}

/** The Noise messages of `chunk`, one per 65519-byte piece, sealed concurrently in order. */
function sealPiecesAsync(link: NoiseLink, chunk: Uint8Array): Promise<Uint8Array[]> {
  const sealing: Promise<Uint8Array>[] = [];
  for (let off = 0; off < chunk.length; off += MAX_CHUNK_PLAINTEXT) {
    sealing.push(link.encryptAsync(chunk.subarray(off, off + MAX_CHUNK_PLAINTEXT)));
  }
  return Promise.all(sealing);
}

/**
 * Plaintext chunks of any size in, Noise transport messages out (each at most
 * 65535 bytes). Chunks must be `Uint8Array`; anything else errors the stream with
 * `NoiseError` Other.
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteNn, clientStartNn, DummyRing, NoiseClient, NoiseServer, serverAcceptNn,
 *   serverCompleteNn,
 * } from "@pubky/noise";
 * import { encryptStream } from "@pubky/noise/streams";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const c = await clientStartNn(client);
 * const s = await serverAcceptNn(new NoiseServer("kid", "server-device-0001", ring), c.firstMsg);
 * const [alice, bob] = [await clientCompleteNn(client, c.hs, s.response), serverCompleteNn(s.hs)];
 * const upload = ReadableStream.from([new Uint8Array(150_000)]).pipeThrough(encryptStream(alice));
 * let received = 0;
 * for await (const message of upload) received += bob.decrypt(message).length; // send each one
 * console.log(received); // 150000, in 3 Noise messages
 * ```
 */
export function encryptStream(link: NoiseLink): TransformStream<Uint8Array, Uint8Array> {
  const asyncFrom = link.transport.asyncFromBytes;
  return new TransformStream<Uint8Array, Uint8Array>(
    {
      transform(chunk, controller) {
        if (!(chunk instanceof Uint8Array)) {
          controller.error(
            new NoiseError(NoiseErrorCode.Other, "encryptStream: chunks must be Uint8Array"),
          );
          return;
        }
        if (chunk.length >= asyncFrom) return sealAsync(link, chunk, controller);
        try {
          for (let off = 0; off < chunk.length; off += MAX_CHUNK_PLAINTEXT) {
            controller.enqueue(link.encrypt(chunk.subarray(off, off + MAX_CHUNK_PLAINTEXT)));
          }
        } catch (e) {
          controller.error(transformFailure(e));
        }
      },
    },
    { highWaterMark: WRITABLE_HWM },
    { highWaterMark: READABLE_HWM },
  );
}

async function sealAsync(
  link: NoiseLink,
  chunk: Uint8Array,
  controller: TransformStreamDefaultController<Uint8Array>,
): Promise<void> {
  try {
    for (const message of await sealPiecesAsync(link, chunk)) controller.enqueue(message);
  } catch (e) {
    controller.error(transformFailure(e));
  }
}

/**
 * Noise transport messages in (one per chunk, in order), plaintext out. A message
 * that fails to decrypt errors both sides of the stream with the `NoiseError`
 * (Snow 3000, `snow error: decrypt error`).
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteNn, clientStartNn, DummyRing, NoiseClient, NoiseServer, serverAcceptNn,
 *   serverCompleteNn, type NoiseError,
 * } from "@pubky/noise";
 * import { decryptStream } from "@pubky/noise/streams";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const c = await clientStartNn(client);
 * const s = await serverAcceptNn(new NoiseServer("kid", "server-device-0001", ring), c.firstMsg);
 * const [alice, bob] = [await clientCompleteNn(client, c.hs, s.response), serverCompleteNn(s.hs)];
 * const first = alice.encrypt(new TextEncoder().encode("one"));
 * const second = alice.encrypt(new TextEncoder().encode("two"));
 * second[0] ^= 1; // tampered on the way
 * const reader = ReadableStream.from([first, second]).pipeThrough(decryptStream(bob)).getReader();
 * console.log(new TextDecoder().decode((await reader.read()).value)); // one
 * await reader.read().catch((e: NoiseError) => console.log(e.message)); // snow error: decrypt error
 * ```
 */
export function decryptStream(link: NoiseLink): TransformStream<Uint8Array, Uint8Array> {
  const asyncFrom = link.transport.asyncFromBytes + TAGLEN;
  return new TransformStream<Uint8Array, Uint8Array>(
    {
      transform(message, controller) {
        if (!(message instanceof Uint8Array)) {
          controller.error(
            new NoiseError(NoiseErrorCode.Other, "decryptStream: chunks must be Uint8Array"),
          );
          return;
        }
        // The previous transform has finished: no asynchronous decryption is pending here.
        if (message.length >= asyncFrom) return openAsync(link, message, controller);
        let plain: Uint8Array;
        try {
          plain = link.decrypt(message);
        } catch (e) {
          controller.error(transformFailure(e));
          return;
        }
        if (plain.length > 0) controller.enqueue(plain);
      },
    },
    { highWaterMark: WRITABLE_HWM },
    { highWaterMark: READABLE_HWM },
  );
}

async function openAsync(
  link: NoiseLink,
  message: Uint8Array,
  controller: TransformStreamDefaultController<Uint8Array>,
): Promise<void> {
  let plain: Uint8Array;
  try {
    plain = await link.decryptAsync(message);
  } catch (e) {
    return controller.error(transformFailure(e));
  }
  if (plain.length > 0) controller.enqueue(plain);
}

/**
 * The plaintext side of a secure session: what you read and write.
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteNn, clientStartNn, DummyRing, NoiseClient, NoiseServer, serverAcceptNn,
 *   serverCompleteNn,
 * } from "@pubky/noise";
 * import { linkStreams, memoryCarrierPair, type PlaintextStreams } from "@pubky/noise/streams";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const c = await clientStartNn(client);
 * const s = await serverAcceptNn(new NoiseServer("kid", "server-device-0001", ring), c.firstMsg);
 * const [alice, bob] = [await clientCompleteNn(client, c.hs, s.response), serverCompleteNn(s.hs)];
 * const [a, b] = memoryCarrierPair(); // a WebSocket or framed socket in real life
 * const mine: PlaintextStreams = linkStreams(alice, a);
 * const theirs: PlaintextStreams = linkStreams(bob, b);
 * const writer = mine.writable.getWriter();
 * await writer.write(new TextEncoder().encode("plaintext in, ciphertext on the carrier"));
 * console.log(new TextDecoder().decode((await theirs.readable.getReader().read()).value)); // plaintext in, …
 * await writer.close();
 * ```
 */
export interface PlaintextStreams {
  /** Decrypted data from the peer. */
  readable: ReadableStream<Uint8Array>;
  /** Data to encrypt and send to the peer. */
  writable: WritableStream<Uint8Array>;
}

/**
 * The plaintext streams of `link` over a message carrier:
 * `carrier.readable.pipeThrough(decryptStream(link))` and an
 * {@linkcode encryptStream} piped to `carrier.writable`. Closing the writable
 * closes the carrier's writable; aborting or cancelling reaches the carrier.
 * Throws `NoiseError` Other if either stream of the carrier is locked.
 *
 * @example
 * ```ts
 * import { clientCompleteIk, clientStartIkDirect, DummyRing, NoiseClient, NoiseServer, serverAcceptIk, serverCompleteIk } from "@pubky/noise";
 * import { linkStreams, memoryCarrierPair } from "@pubky/noise/streams";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * // A handshake done elsewhere (e.g. over HTTP), then the session on a carrier.
 * const hello = await clientStartIkDirect(client, await server.staticPublicKey());
 * const accepted = await serverAcceptIk(server, hello.firstMsg);
 * const [a, b] = memoryCarrierPair();
 * const up = linkStreams(await clientCompleteIk(hello.hs, accepted.response), a);
 * const down = linkStreams(serverCompleteIk(accepted.hs), b);
 * const reader = down.readable.getReader();
 * await up.writable.getWriter().write(new TextEncoder().encode("hello"));
 * console.log(new TextDecoder().decode((await reader.read()).value)); // hello
 * ```
 */
export function linkStreams(link: NoiseLink, carrier: MessageCarrier): PlaintextStreams {
  expectUnlocked(carrier, "linkStreams");
  const readable = carrier.readable.pipeThrough(decryptStream(link));
  if (isFramedCarrier(carrier)) return { readable, writable: framedEncryptWritable(link, carrier) };
  const encrypt = encryptStream(link);
  encrypt.readable.pipeTo(carrier.writable).catch(ignore);
  return { readable, writable: encrypt.writable };
}

/**
 * The plaintext writable of a link over a {@linkcode framed} carrier: each chunk is encrypted
 * straight into one buffer of complete frames (length prefix and Noise message, for every
 * 65519-byte piece), which the framed carrier writes to its byte stream as it is. The same bytes
 * as `encryptStream` piped to the carrier, with one stream hop, one write per piece and two
 * copies less.
 */
function framedEncryptWritable(
  link: NoiseLink,
  carrier: MessageCarrier,
): WritableStream<Uint8Array> {
  const out = carrier.writable.getWriter();
  const fail = (e: NoiseError): never => {
    out.abort(e).catch(ignore);
    throw e;
  };
  const asyncFrom = link.transport.asyncFromBytes;
  const writeFramesAsync = async (chunk: Uint8Array): Promise<void> => {
    let messages: Uint8Array[];
    try {
      messages = await sealPiecesAsync(link, chunk);
    } catch (e) {
      return fail(transformFailure(e));
    }
    const frames = new Uint8Array(messages.reduce((n, m) => n + 2 + m.length, 0));
    let at = 0;
    for (const message of messages) {
      frames[at] = message.length >>> 8;
      frames[at + 1] = message.length & 0xff;
      frames.set(message, at + 2);
      at += 2 + message.length;
    }
    await out.write(markFramed(frames));
  };
  return new WritableStream<Uint8Array>({
    write(chunk) {
      if (!(chunk instanceof Uint8Array)) {
        return fail(
          new NoiseError(NoiseErrorCode.Other, "encryptStream: chunks must be Uint8Array"),
        );
      }
      if (chunk.length === 0) return;
      if (chunk.length >= asyncFrom) return writeFramesAsync(chunk);
      // Each piece is sealed straight into its place after its 2-byte length.
      const pieces = Math.ceil(chunk.length / MAX_CHUNK_PLAINTEXT);
      const frames = new Uint8Array(chunk.length + pieces * (2 + TAGLEN));
      try {
        let at = 0;
        for (let off = 0; off < chunk.length; off += MAX_CHUNK_PLAINTEXT) {
          const piece = chunk.subarray(off, off + MAX_CHUNK_PLAINTEXT);
          const length = piece.length + TAGLEN;
          frames[at] = length >>> 8;
          frames[at + 1] = length & 0xff;
          link.encrypt(piece, frames.subarray(at + 2, at + 2 + length));
          at += 2 + length;
        }
      } catch (e) {
        return fail(transformFailure(e));
      }
      return out.write(markFramed(frames));
    },
    close() {
      return out.close();
    },
    abort(reason) {
      return out.abort(reason);
    },
  }, { highWaterMark: WRITABLE_HWM });
}
