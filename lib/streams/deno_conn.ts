/**
 * Deno adapter: a `Deno.Conn` (TCP, TLS, Unix socket) as a byte-stream pair
 * **with half-close**, for {@linkcode framed}.
 *
 * `conn.readable` and `conn.writable` work with {@linkcode framed} directly, but
 * Deno closes the whole connection when either of them finishes: closing
 * `conn.writable` also ends reading, and the end of `conn.readable` also ends
 * writing. So a side that closes its channel after sending its last message can
 * no longer read the answer, and a side that has read the peer's end can no
 * longer close its own direction cleanly. This adapter reads and writes with
 * `conn.read`/`conn.write` instead:
 *
 * - Readable: pulled on demand (nothing is read from the socket until asked: the
 *   kernel's buffer and TCP flow control hold the peer back). The peer's end
 *   closes it; a read error errors it with `NoiseError` ConnectionReset (8002)
 *   for a reset, Network (8000) otherwise. Cancelling it closes the connection.
 * - Writable: each chunk is written in full before the write resolves. Closing it
 *   calls `conn.closeWrite()` (FIN) and reading goes on; aborting it closes the
 *   connection.
 * - The connection is closed once both directions are done.
 *
 * The connection is typed structurally (no use of the `Deno` namespace), so this
 * module loads anywhere.
 *
 * @example
 * ```ts ignore
 * import { connect, denoConnCarrier, framed } from "@pubky/noise/streams";
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 4433 });
 * const channel = await connect(framed(denoConnCarrier(conn)), client, { pattern: "XX" });
 * ```
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";

/**
 * The part of a `Deno.Conn` this adapter uses.
 *
 * @example
 * ```ts
 * import { type DenoConnLike, denoConnCarrier, framed } from "@pubky/noise/streams";
 * const incoming = [Uint8Array.of(0, 2, 104, 105)]; // one frame: length 2, "hi"
 * const conn: DenoConnLike = { // a Deno.Conn fits as it is; this one replays bytes
 *   read: (p) => Promise.resolve(incoming.length ? (p.set(incoming[0]), incoming.shift()!.length) : null),
 *   write: (p) => Promise.resolve(p.length),
 *   closeWrite: () => Promise.resolve(),
 *   close: () => {},
 * };
 * const { value } = await framed(denoConnCarrier(conn)).readable.getReader().read();
 * console.log(new TextDecoder().decode(value)); // hi
 * ```
 */
export interface DenoConnLike {
  /** Reads into `p`; the number of bytes, or `null` at the end of the stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes some of `p`; the number of bytes written. */
  write(p: Uint8Array): Promise<number>;
  /** Shuts the writing direction (FIN). */
  closeWrite(): Promise<void>;
  /** Closes the connection. */
  close(): void;
}

/**
 * Options of {@linkcode denoConnCarrier}.
 *
 * @example
 * ```ts
 * import { type DenoConnCarrierOptions, denoConnCarrier } from "@pubky/noise/streams";
 * const reads: number[] = [];
 * const conn = { // stands in for a Deno.Conn at its end
 *   read: (p: Uint8Array) => (reads.push(p.length), Promise.resolve(null)),
 *   write: (p: Uint8Array) => Promise.resolve(p.length),
 *   closeWrite: () => Promise.resolve(),
 *   close: () => {},
 * };
 * const options: DenoConnCarrierOptions = { readSize: 16 * 1024 }; // less memory per connection
 * await denoConnCarrier(conn, options).readable.getReader().read();
 * console.log(reads); // [ 16384 ]
 * ```
 */
export interface DenoConnCarrierOptions {
  /** Size of each read buffer in bytes (default 65536). */
  readSize?: number;
}

function connError(e: unknown): NoiseError {
  if (e instanceof NoiseError) return e;
  const name = e instanceof Error ? e.name : "";
  return name === "ConnectionReset" || name === "BrokenPipe"
    ? new NoiseError(NoiseErrorCode.ConnectionReset, `connection ${name}`)
    : new NoiseError(NoiseErrorCode.Network, `connection error${name ? ` ${name}` : ""}`);
}

/**
 * The connection as a `{ readable, writable }` byte-stream pair with half-close.
 * See the module documentation.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseServer } from "@pubky/noise";
 * import { accept, connect, denoConnCarrier, framed, messageReader, messageWriter } from "@pubky/noise/streams";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const serving = listener.accept().then(async (conn) => {
 *   const channel = await accept(framed(denoConnCarrier(conn)), server);
 *   const reader = messageReader(channel);
 *   const writer = messageWriter(channel);
 *   await writer.send((await reader.readAll(1024))!); // the client closed its side: we can still answer
 *   await writer.close();
 * });
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * const channel = await connect(framed(denoConnCarrier(conn)), client, { pattern: "XX" });
 * const writer = messageWriter(channel);
 * await writer.send(new TextEncoder().encode("ping"));
 * await writer.close(); // half-close: FIN, reading goes on
 * console.log(new TextDecoder().decode((await messageReader(channel).readAll(1024))!)); // ping
 * await serving;
 * listener.close();
 * ```
 */
export function denoConnCarrier(
  conn: DenoConnLike,
  options: DenoConnCarrierOptions = {},
): { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> } {
  const readSize = options.readSize ?? 65536;
  if (!Number.isInteger(readSize) || readSize < 1) {
    throw new NoiseError(NoiseErrorCode.Other, "readSize must be a positive integer");
  }
  let readDone = false;
  let writeDone = false;
  let closed = false;
  const closeConn = () => {
    if (closed) return;
    closed = true;
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  };
  const settle = () => {
    if (readDone && writeDone) closeConn();
  };

  const readable = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const buf = new Uint8Array(readSize);
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch (e) {
        readDone = true;
        closeConn();
        throw connError(e);
      }
      if (n === null) {
        readDone = true;
        controller.close();
        settle();
      } else if (n > 0) {
        controller.enqueue(buf.subarray(0, n));
      }
    },
    cancel() {
      readDone = true;
      closeConn();
    },
  }, { highWaterMark: 0 });

  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      if (!(chunk instanceof Uint8Array)) {
        throw new NoiseError(NoiseErrorCode.Other, "denoConnCarrier: chunks must be Uint8Array");
      }
      if (closed) throw new NoiseError(NoiseErrorCode.ConnectionReset, "connection is closed");
      try {
        for (let off = 0; off < chunk.length;) off += await conn.write(chunk.subarray(off));
      } catch (e) {
        throw connError(e);
      }
    },
    async close() {
      writeDone = true;
      if (!closed) {
        try {
          await conn.closeWrite();
        } catch (e) {
          closeConn();
          throw connError(e);
        }
      }
      settle();
    },
    abort() {
      writeDone = true;
      closeConn();
    },
  });
  return { readable, writable };
}
