/**
 * Framing for the interop peer: every Noise message travels as a 2-byte big-endian
 * length followed by that many bytes (0–65535), over Node-style streams
 * (`process.stdin`/`process.stdout` in Deno, Bun and Node).
 *
 * - {@linkcode encodeFrame} / {@linkcode FrameDecoder}: pure byte-level helpers.
 * - {@linkcode FrameReader}: frames from a readable stream, `null` at a clean end of
 *   stream, a `NoiseError` (ConnectionReset) when the stream ends inside a frame.
 * - {@linkcode FrameWriter}: frames to a writable stream, each write awaited.
 *
 * @module
 */
import type { Readable, Writable } from "node:stream";
import { NoiseError, NoiseErrorCode } from "../lib/errors.ts";

/** The longest frame body a 2-byte length can express. */
export const MAX_FRAME_LEN = 65535;

/** `body` with its 2-byte big-endian length in front; a body over 65535 bytes is refused. */
export function encodeFrame(body: Uint8Array): Uint8Array {
  if (!(body instanceof Uint8Array) || body.length > MAX_FRAME_LEN) {
    const len = body instanceof Uint8Array ? body.length : 0;
    throw new NoiseError(
      NoiseErrorCode.Other,
      `frame of ${len} bytes cannot be sent (max ${MAX_FRAME_LEN})`,
    );
  }
  const out = new Uint8Array(2 + body.length);
  out[0] = body.length >>> 8;
  out[1] = body.length & 0xff;
  out.set(body, 2);
  return out;
}

/** Splits a byte stream into frame bodies; bytes may arrive in chunks of any size. */
export class FrameDecoder {
  #buf: Uint8Array = new Uint8Array(0);

  /** Adds `chunk` and returns the frame bodies completed by it, in order. */
  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.length > 0) {
      const next = new Uint8Array(this.#buf.length + chunk.length);
      next.set(this.#buf);
      next.set(chunk, this.#buf.length);
      this.#buf = next;
    }
    const frames: Uint8Array[] = [];
    let off = 0;
    while (this.#buf.length - off >= 2) {
      const len = (this.#buf[off] << 8) | this.#buf[off + 1];
      if (this.#buf.length - off - 2 < len) break;
      frames.push(this.#buf.slice(off + 2, off + 2 + len));
      off += 2 + len;
    }
    if (off > 0) this.#buf = this.#buf.slice(off);
    return frames;
  }

  /** Bytes of an incomplete frame held back (0 at a frame boundary). */
  get pending(): number {
    return this.#buf.length;
  }

  /** The held-back bytes of an incomplete frame (a copy). */
  get pendingBytes(): Uint8Array {
    return this.#buf.slice();
  }

  /** What is missing from the incomplete frame, for error messages. */
  describePending(): string {
    if (this.#buf.length === 1) return "1 of 2 length bytes";
    const len = (this.#buf[0] << 8) | this.#buf[1];
    return `${this.#buf.length - 2} of ${len} bytes`;
  }
}

function asBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === "string") return new TextEncoder().encode(chunk);
  throw new NoiseError(NoiseErrorCode.Other, "stream delivered neither bytes nor text");
}

/** Frames read from a readable stream (typically `process.stdin`). */
export class FrameReader {
  readonly #decoder = new FrameDecoder();
  readonly #frames: Uint8Array[] = [];
  #ended = false;
  #error: NoiseError | null = null;
  #wake: (() => void) | null = null;

  /** Starts consuming `stream` at once; frames are queued until read. */
  constructor(stream: Readable) {
    stream.on("data", (chunk: unknown) => {
      try {
        this.#frames.push(...this.#decoder.push(asBytes(chunk)));
      } catch (e) {
        this.#error ??= e instanceof NoiseError
          ? e
          : new NoiseError(NoiseErrorCode.Other, "unreadable input");
      }
      this.#notify();
    });
    stream.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    stream.on("close", () => {
      this.#ended = true;
      this.#notify();
    });
    stream.on("error", (e: unknown) => {
      const why = e instanceof Error ? e.message : String(e);
      this.#error ??= new NoiseError(NoiseErrorCode.ConnectionReset, `read failed: ${why}`);
      this.#notify();
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /**
   * The next frame body; `null` when the stream ended at a frame boundary. Rejects with
   * `NoiseError` (ConnectionReset) when the stream ended inside a frame or failed.
   */
  async read(): Promise<Uint8Array | null> {
    for (;;) {
      const frame = this.#frames.shift();
      if (frame !== undefined) return frame;
      if (this.#error) throw this.#error;
      if (this.#ended) {
        if (this.#decoder.pending > 0) {
          throw new NoiseError(
            NoiseErrorCode.ConnectionReset,
            `connection closed mid-frame (${this.#decoder.describePending()})`,
          );
        }
        return null;
      }
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
  }
}

/** Frames written to a writable stream (typically `process.stdout`). */
export class FrameWriter {
  readonly #stream: Writable;
  #error: NoiseError | null = null;
  #last: Promise<void> = Promise.resolve();

  /** Writes to `stream`; its `error` events are captured rather than thrown. */
  constructor(stream: Writable) {
    this.#stream = stream;
    stream.on("error", (e: unknown) => {
      this.#error ??= writeError(e);
    });
  }

  /** Writes one frame; resolves once the stream has taken it (rejects on a write error). */
  write(body: Uint8Array): Promise<void> {
    if (this.#error) return Promise.reject(this.#error);
    const frame = encodeFrame(body);
    const done = new Promise<void>((resolve, reject) => {
      this.#stream.write(frame, (e?: Error | null) => {
        if (e) {
          this.#error ??= writeError(e);
          reject(this.#error);
        } else resolve();
      });
    });
    this.#last = done.catch(() => {});
    return done;
  }

  /** Ends the stream (end of stream for the peer, where the runtime closes the pipe). */
  end(): Promise<void> {
    return new Promise<void>((resolve) => {
      try {
        this.#stream.end(() => resolve());
      } catch {
        resolve();
      }
    });
  }

  /** Settles once every write so far has been taken by the stream (or failed). */
  flushed(): Promise<void> {
    return this.#last;
  }
}

function writeError(e: unknown): NoiseError {
  const why = e instanceof Error ? e.message : String(e);
  return new NoiseError(NoiseErrorCode.ConnectionReset, `write failed: ${why}`);
}
