/**
 * One `noisecat` session: standard input to the peer, the peer to standard
 * output, over an established `SecureChannel`.
 *
 * Each direction is **one message of the message layer** (`messages.ts`): every
 * chunk of input travels at once as a `0x00 ‖ data` Noise message (at most 65518
 * bytes of data each, so typed lines go out as they are typed), and the end of
 * input is the `0x01` message that ends it. The peer reads it with
 * `messageReader`. So the end of a stream is authenticated: a connection cut by
 * the network (or by an attacker) shows as "stream ended inside a message",
 * never as a clean end of file, and half-close works the same over TCP and over
 * WebSocket (which has no half-close of its own). Once both directions have
 * ended, the channel is closed.
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../lib/errors.ts";
import type { SecureChannel } from "../lib/streams/handshake.ts";
import {
  FLAG_CONTINUES,
  FLAG_LAST,
  MESSAGE_CHUNK_DATA,
  messageReader,
} from "../lib/streams/messages.ts";
import { CliError } from "./args.ts";

/** Bytes carried each way. */
export interface SessionStats {
  sent: number;
  received: number;
}

function ignore(): void {}

/** A clear `CliError` for a failure of the session with `peer` ("the server", "the client"). */
export function sessionError(e: unknown, peer: string): CliError {
  if (e instanceof CliError) return e;
  if (!(e instanceof NoiseError)) {
    return new CliError(`session with ${peer} failed: ${e instanceof Error ? e.message : e}`);
  }
  switch (e.code) {
    case NoiseErrorCode.ConnectionReset:
      return new CliError(
        `${peer} closed the connection before the end of its stream (${e.message})`,
        e.code,
      );
    case NoiseErrorCode.Network:
      // A write to a peer that has gone: EPIPE, or ECONNRESET once it reset the connection.
      if (/EPIPE|ECONNRESET/.test(e.detail)) {
        return new CliError(`${peer} closed the connection (${e.message})`, e.code);
      }
      return new CliError(`the connection to ${peer} failed (${e.message})`, e.code);
    case NoiseErrorCode.Snow:
      return new CliError(
        `a message from ${peer} did not decrypt: it was altered, replayed or reordered (${e.message})`,
        e.code,
      );
    case NoiseErrorCode.Policy:
      return new CliError(
        `${peer} sent an oversized frame or too much at once (${e.message})`,
        e.code,
      );
    default:
      return new CliError(`session with ${peer} failed: ${e.message}`, e.code);
  }
}

async function within<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<T>((r) => timer = setTimeout(() => r(fallback), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Carries `input` to the peer and the peer's stream to `output`, both at once,
 * until both have ended; then closes the channel. Rejects with a `CliError`
 * (see {@linkcode sessionError}) if either direction fails, after shutting the
 * other one.
 */
export async function pipeSession(
  channel: SecureChannel,
  input: ReadableStream<Uint8Array>,
  output: WritableStream<Uint8Array>,
  peer: string,
): Promise<SessionStats> {
  const stats: SessionStats = { sent: 0, received: 0 };
  const writer = channel.writable.getWriter();
  const reader = messageReader(channel);
  const source = input.getReader();
  let failure: unknown = null;
  let failed: () => void = ignore;
  const stopped = new Promise<void>((resolve) => failed = resolve);
  const fail = (e: unknown) => {
    if (failure !== null) return;
    failure = e;
    failed();
    source.cancel().catch(ignore);
    writer.abort(e).catch(ignore);
    reader.cancel(e).catch(ignore);
  };

  const send = async () => {
    for (;;) {
      const { done, value } = await source.read();
      if (done || failure !== null) break;
      for (let off = 0; off < value.length; off += MESSAGE_CHUNK_DATA) {
        const n = Math.min(MESSAGE_CHUNK_DATA, value.length - off);
        const chunk = new Uint8Array(1 + n);
        chunk[0] = FLAG_CONTINUES;
        chunk.set(value.subarray(off, off + n), 1);
        await writer.ready;
        writer.write(chunk).catch(ignore); // a failure shows on the next `ready`
      }
      stats.sent += value.length;
    }
    if (failure !== null) return;
    await writer.ready;
    await writer.write(Uint8Array.of(FLAG_LAST));
  };

  const receive = async () => {
    const body = await reader.next();
    if (body === null) {
      throw new CliError(
        `${peer} closed the connection without sending anything`,
        NoiseErrorCode.ConnectionReset,
      );
    }
    const from = body.getReader();
    const to = output.getWriter();
    try {
      for (;;) {
        const { done, value } = await from.read();
        if (done) break;
        stats.received += value.length;
        await to.write(value);
      }
      await to.close();
    } catch (e) {
      from.cancel(e).catch(ignore);
      to.abort(e).catch(ignore);
      throw e;
    }
  };

  // After a failure, a pending read of stdin may never return (a terminal, say): do not wait.
  await Promise.race([Promise.all([send().catch(fail), receive().catch(fail)]), stopped]);
  if (failure !== null) throw sessionError(failure, peer);
  try {
    await writer.close();
  } catch (e) {
    throw sessionError(e, peer);
  }
  // Both streams ended: wait a little for the peer's close, so that nothing is cut short.
  const after = await within(reader.next().catch(() => null), 3000, null);
  if (after !== null) await after.cancel().catch(ignore);
  await reader.cancel().catch(ignore);
  return stats;
}
