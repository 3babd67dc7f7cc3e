/**
 * Framing of Noise messages on byte streams (Noise spec §13): each message
 * travels as a 2-byte big-endian length followed by that many bytes (0–65535).
 * TCP sockets, pipes and fetch bodies have no message boundaries; this puts them
 * back.
 *
 * - {@linkcode frameEncoder}: messages in, framed bytes out.
 * - {@linkcode frameDecoder}: bytes in arbitrary chunks in, messages out. It
 *   copies each byte at most once (a frame inside one input chunk is passed on as a
 *   view, without copying) and keeps at most one partial frame.
 * - {@linkcode framed}: a byte-stream pair (a TCP socket) as a
 *   {@linkcode MessageCarrier}.
 *
 * Errors: a frame longer than `maxFrameLen` is refused with `NoiseError` Policy
 * (6000); a byte stream that ends inside a frame errors with ConnectionReset
 * (8002) `stream ended inside a frame`.
 *
 * @example
 * ```ts
 * import { frameDecoder, frameEncoder } from "@pubky/noise/streams";
 * const bytes = ReadableStream.from([new Uint8Array([1, 2, 3]), new Uint8Array(0)])
 *   .pipeThrough(frameEncoder());
 * for await (const message of bytes.pipeThrough(frameDecoder())) console.log(message);
 * // Uint8Array(3) [1, 2, 3], then Uint8Array(0) []
 * ```
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";
import { expectUnlocked, ignore, type MessageCarrier } from "./carrier.ts";

/**
 * The longest frame a 2-byte length can express (and the longest Noise message).
 *
 * @example
 * ```ts
 * import { NoiseError } from "@pubky/noise";
 * import { frameEncoder, MAX_FRAME_LEN } from "@pubky/noise/streams";
 * const tooLong = ReadableStream.from([new Uint8Array(MAX_FRAME_LEN + 1)]).pipeThrough(frameEncoder());
 * await tooLong.getReader().read().catch((e: NoiseError) => console.log(e.codeName, MAX_FRAME_LEN)); // Policy 65535
 * ```
 */
export const MAX_FRAME_LEN = 65535;

/**
 * Options of {@linkcode frameDecoder} and {@linkcode framed}.
 *
 * @example
 * ```ts
 * import { NoiseError } from "@pubky/noise";
 * import { frameDecoder, type FrameDecoderOptions, frameEncoder } from "@pubky/noise/streams";
 * const options: FrameDecoderOptions = { maxFrameLen: 1024 }; // what this protocol ever sends
 * const reader = ReadableStream.from([new Uint8Array(10), new Uint8Array(5000)])
 *   .pipeThrough(frameEncoder()).pipeThrough(frameDecoder(options)).getReader();
 * console.log((await reader.read()).value?.length); // 10
 * await reader.read().catch((e: NoiseError) => console.log(e.codeName)); // Policy: refused at its length
 * ```
 */
export interface FrameDecoderOptions {
  /** Longest frame accepted, 0–65535 (default 65535); longer ones error with Policy (6000). */
  maxFrameLen?: number;
}

function notBytes(what: string): NoiseError {
  return new NoiseError(NoiseErrorCode.Other, `${what}: chunks must be Uint8Array`);
}

/** Byte buffers that already hold whole frames (see {@linkcode markFramed}). */
const preFramed = new WeakSet<Uint8Array>();
/** Message carriers made by {@linkcode framed}. */
const framedCarriers = new WeakSet<MessageCarrier>();

/**
 * @internal Marks `bytes`, one or more complete frames built by the caller, so that the
 * writable of a {@linkcode framed} carrier writes it to the byte stream as it is (the link
 * streams encrypt straight into frames). Returns `bytes`.
 */
export function markFramed(bytes: Uint8Array): Uint8Array {
  preFramed.add(bytes);
  return bytes;
}

/** @internal Whether `carrier` was made by {@linkcode framed} (its writable takes marked frames). */
export function isFramedCarrier(carrier: MessageCarrier): boolean {
  return framedCarriers.has(carrier);
}

function tooLong(length: number): NoiseError {
  return new NoiseError(
    NoiseErrorCode.Policy,
    `frame of ${length} bytes is longer than ${MAX_FRAME_LEN}`,
  );
}

/** `message` with its 2-byte length in front (the caller checked the length). */
function frameOf(message: Uint8Array): Uint8Array {
  const frame = new Uint8Array(2 + message.length);
  frame[0] = message.length >>> 8;
  frame[1] = message.length & 0xff;
  frame.set(message, 2);
  return frame;
}

/**
 * Messages in, length-prefixed frames out (one output chunk per message). A
 * message over 65535 bytes errors the stream with `NoiseError` Policy (6000).
 *
 * @example
 * ```ts
 * import { frameEncoder } from "@pubky/noise/streams";
 * const frames = ReadableStream.from([new TextEncoder().encode("hi")]).pipeThrough(frameEncoder());
 * for await (const frame of frames) console.log(frame); // Uint8Array(4) [ 0, 2, 104, 105 ]: length, then bytes
 * ```
 */
export function frameEncoder(): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(message, controller) {
      // controller.error, not throw: workerd reports a throwing transform() as unhandled.
      if (!(message instanceof Uint8Array)) return controller.error(notBytes("frameEncoder"));
      if (message.length > MAX_FRAME_LEN) return controller.error(tooLong(message.length));
      controller.enqueue(frameOf(message));
    },
  });
}

/**
 * Bytes in (chunked any way), messages out. A frame longer than `maxFrameLen`
 * errors the stream with `NoiseError` Policy (6000) as soon as its length is
 * read; an end of input inside a frame errors it with ConnectionReset (8002).
 *
 * @example
 * ```ts
 * import { frameDecoder } from "@pubky/noise/streams";
 * // Bytes as a socket delivers them, split anywhere: the frames "hi" and "!".
 * const bytes = ReadableStream.from([Uint8Array.of(0), Uint8Array.of(2, 104), Uint8Array.of(105, 0, 1, 33)]);
 * for await (const message of bytes.pipeThrough(frameDecoder())) {
 *   console.log(new TextDecoder().decode(message)); // hi, then !
 * }
 * ```
 */
export function frameDecoder(
  options: FrameDecoderOptions = {},
): TransformStream<Uint8Array, Uint8Array> {
  const max = options.maxFrameLen ?? MAX_FRAME_LEN;
  if (!Number.isInteger(max) || max < 0 || max > MAX_FRAME_LEN) {
    throw new NoiseError(
      NoiseErrorCode.Other,
      `maxFrameLen must be an integer from 0 to ${MAX_FRAME_LEN}, got ${max}`,
    );
  }
  // Unread input: chunks[first..] with `offset` bytes of chunks[first] already used.
  let chunks: Uint8Array[] = [];
  let first = 0;
  let offset = 0;
  let buffered = 0;
  let need = -1; // body length of the frame being read, or -1 while reading its length

  function advance(n: number): void {
    offset += n;
    buffered -= n;
    if (offset === chunks[first].length) {
      chunks[first] = EMPTY; // let it be collected
      first++;
      offset = 0;
      if (first === chunks.length) {
        chunks = [];
        first = 0;
      }
    }
  }

  function byte(): number {
    const b = chunks[first][offset];
    advance(1);
    return b;
  }

  function take(n: number): Uint8Array {
    const head = chunks[first];
    if (n === 0) return new Uint8Array(0);
    if (head.length - offset >= n) {
      const view = head.subarray(offset, offset + n);
      advance(n);
      return view;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = chunks[first];
      const k = Math.min(n - filled, c.length - offset);
      out.set(c.subarray(offset, offset + k), filled);
      filled += k;
      advance(k);
    }
    return out;
  }

  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      if (!(chunk instanceof Uint8Array)) return controller.error(notBytes("frameDecoder"));
      if (chunk.length === 0) return;
      chunks.push(chunk);
      buffered += chunk.length;
      for (;;) {
        if (need < 0) {
          if (buffered < 2) return;
          need = (byte() << 8) | byte();
          if (need > max) {
            return controller.error(
              new NoiseError(NoiseErrorCode.Policy, `frame of ${need} bytes is longer than ${max}`),
            );
          }
        }
        if (buffered < need) return;
        const frame = take(need);
        need = -1;
        controller.enqueue(frame);
      }
    },
    flush(controller) {
      if (need >= 0 || buffered > 0) {
        controller.error(
          new NoiseError(NoiseErrorCode.ConnectionReset, "stream ended inside a frame"),
        );
      }
    },
  });
}

const EMPTY = new Uint8Array(0);

/**
 * A byte-stream pair (a TCP socket's `{ readable, writable }`) as a
 * {@linkcode MessageCarrier}: messages written are framed onto `carrier.writable`,
 * frames read from `carrier.readable` come out as messages. Closing, aborting and
 * cancelling pass through to the carrier. Throws `NoiseError` Other if either
 * stream is locked.
 *
 * Half-close is whatever the byte stream does: `Deno.Conn`'s own streams close
 * the whole connection when either one finishes (wrap the connection in
 * `denoConnCarrier` to keep reading after closing the writable); `node:net`
 * sockets through `nodeSocketCarrier` half-close when made with `allowHalfOpen`.
 *
 * @example
 * ```ts ignore
 * import { denoConnCarrier, framed } from "@pubky/noise/streams";
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 4433 });
 * const carrier = framed(denoConnCarrier(conn)); // { readable, writable } of Noise messages
 * ```
 */
export function framed(
  carrier: { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> },
  options: FrameDecoderOptions = {},
): MessageCarrier {
  expectUnlocked(carrier, "framed");
  const readable = carrier.readable.pipeThrough(frameDecoder(options));
  // The writable frames each message and writes it to the byte stream's writer directly (a
  // sink, not a TransformStream piped on: one stream hop less per message).
  const bytes = carrier.writable.getWriter();
  const fail = (e: NoiseError): never => {
    bytes.abort(e).catch(ignore);
    throw e;
  };
  const writable = new WritableStream<Uint8Array>({
    write(message) {
      if (!(message instanceof Uint8Array)) return fail(notBytes("framed"));
      if (preFramed.has(message)) return bytes.write(message);
      if (message.length > MAX_FRAME_LEN) return fail(tooLong(message.length));
      return bytes.write(frameOf(message));
    },
    close() {
      return bytes.close();
    },
    abort(reason) {
      return bytes.abort(reason);
    },
  });
  const out: MessageCarrier = { readable, writable };
  framedCarriers.add(out);
  return out;
}
