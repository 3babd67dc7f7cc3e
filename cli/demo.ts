/**
 * `noisecat demo` (`deno task demo`): the main job of `@pubky/noise` on one
 * machine, in one process. A server and a client talk over a real TCP socket on
 * 127.0.0.1 (`node:net`, a random port) through the streams layer
 * (`framed(nodeSocketCarrier(socket))`, `connect`/`accept`, the message layer):
 *
 * 1. first contact over XX: the client learns the server's static key and pins it;
 * 2. a new connection with IK to the pinned key: messages both ways;
 * 3. a large stream (64 MiB by default, generated on the fly) as one message,
 *    with a progress bar on stderr, checked by SHA-256 on the server;
 *
 * then the session ids (equal on both sides) and the throughput.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { concat, toHex } from "../lib/bytes.ts";
import { NoiseClient } from "../lib/client.ts";
import { NoiseServer } from "../lib/server.ts";
import { DummyRing } from "../lib/ring.ts";
import { loadCryptoSuite, suiteBackends } from "../lib/crypto/suite.ts";
import { NoiseErrorCode } from "../lib/errors.ts";
import { accept, connect, type SecureChannel } from "../lib/streams/handshake.ts";
import { messageReader, messageWriter } from "../lib/streams/messages.ts";
import { byteSize, CliError, parseArgs, value } from "./args.ts";
import { KID } from "./keys.ts";
import { dial, dialAddress, type Incoming, listen, listenAddress } from "./net.ts";
import { errLine, type Output, stderrIsTty, writeErr } from "./stdio.ts";

/** `noisecat demo --help`. */
export const DEMO_HELP = `Usage: noisecat demo [--bytes SIZE]

The main job of @pubky/noise, on loopback in one process: a server and a client
over TCP on 127.0.0.1 (a random port). First contact over XX (the client pins
the server's static key), a new connection with IK to the pinned key, messages
both ways, then SIZE bytes (default 64MiB, generated on the fly) streamed as one
message with a progress bar on stderr and checked by SHA-256 on the server.
Prints the session ids and the throughput.

Options:
  --bytes SIZE        size of the stream: 64MiB (default), 4MiB, 512KiB, 1048576...
  -h, --help          this text
`;

const enc = new TextEncoder();
const dec = new TextDecoder();
const CHUNK = 65536;
/** Messages up to this size are echoed; larger ones are answered with their size and hash. */
const ECHO_MAX = 1024;

function mib(n: number): string {
  return `${(n / 2 ** 20).toFixed(1)} MiB`;
}

/** What the server saw of one connection. */
interface ServerSide {
  channel: SecureChannel;
  /** Settles once the client has closed and the server has answered everything. */
  done: Promise<void>;
}

/** The demo server's application: answers each message (echo, or its size and SHA-256). */
async function serveMessages(
  channel: SecureChannel,
  progress: { received: number },
): Promise<void> {
  const reader = messageReader(channel);
  const writer = messageWriter(channel);
  for await (const body of reader) {
    const hash = createHash("sha256");
    const head: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of body) {
      hash.update(chunk);
      if (size < ECHO_MAX) head.push(chunk.slice(0, ECHO_MAX - size));
      size += chunk.length;
      progress.received = size;
    }
    if (size <= ECHO_MAX) {
      await writer.send(enc.encode(`echo: ${dec.decode(concat(...head))}`));
    } else {
      await writer.send(enc.encode(`received ${size} bytes, sha256 ${hash.digest("hex")}`));
    }
  }
  await writer.close();
}

/** `total` random bytes in 64 KiB chunks, made as they are read, hashed into `hash`. */
function randomStream(
  total: number,
  hash: ReturnType<typeof createHash>,
): ReadableStream<Uint8Array> {
  let left = total;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (left === 0) return controller.close();
      const chunk = crypto.getRandomValues(new Uint8Array(Math.min(CHUNK, left)));
      hash.update(chunk);
      left -= chunk.length;
      controller.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
}

/** Progress on stderr: a bar redrawn on a terminal, a line every 25% otherwise. */
function progressReporter(total: number, progress: { received: number }): () => void {
  const tty = stderrIsTty();
  const started = performance.now();
  let nextMark = 25;
  const draw = (final: boolean) => {
    const done = progress.received;
    const pct = total === 0 ? 100 : Math.floor((done / total) * 100);
    const secs = (performance.now() - started) / 1000;
    const rate = secs > 0 ? `${(done / secs / 1e6).toFixed(0)} MB/s` : "";
    if (tty) {
      const width = 30;
      const filled = Math.round((pct / 100) * width);
      writeErr(
        `\r   [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${String(pct).padStart(3)}% ` +
          `${mib(done)} / ${mib(total)}  ${rate}   ${final ? "\n" : ""}`,
      );
    } else {
      while (pct >= nextMark && nextMark <= 100) {
        errLine(`   ${nextMark}% (${mib((total * nextMark) / 100)} of ${mib(total)}) ${rate}`);
        nextMark += 25;
      }
    }
  };
  const timer = setInterval(() => draw(false), tty ? 100 : 50);
  return () => {
    clearInterval(timer);
    draw(true);
  };
}

/** `noisecat demo`. */
export async function demoMain(argv: string[], out: Output): Promise<number> {
  const args = parseArgs(argv, {
    command: "demo",
    flags: ["help"],
    valued: ["bytes"],
    positionals: [0, 0],
  });
  if (args.flags.has("help")) {
    out(DEMO_HELP.trimEnd());
    return 0;
  }
  const total = byteSize(value(args, "bytes") ?? "64MiB", "--bytes", "demo");
  const started = performance.now();

  const backends = suiteBackends(await loadCryptoSuite());
  out("noisecat demo: a server and a client in this process, over TCP on 127.0.0.1");
  out(
    `backends: X25519 ${backends.dh}, ChaCha20-Poly1305 ${backends.cipher}, BLAKE2s ${backends.hash}`,
  );
  const random = () => crypto.getRandomValues(new Uint8Array(32));
  const server = new NoiseServer(
    KID,
    "noisecat-demo-server",
    await DummyRing.create(random(), KID),
  );
  const client = new NoiseClient(KID, "noisecat-demo-client", await DummyRing.create(random(), KID))
    .withNowUnix(Math.floor(Date.now() / 1000));
  const serverKey = await server.staticPublicKey();

  const progress = { received: 0 };
  const connections: Promise<ServerSide>[] = [];
  const onConnection = (incoming: Incoming) => {
    connections.push(
      accept(incoming.carrier, server).then((channel) => ({
        channel,
        done: serveMessages(channel, progress),
      })),
    );
  };
  const listener = await listen(listenAddress("127.0.0.1:0", false), onConnection);
  const pins = new Map<string, Uint8Array>(); // what a known_hosts file holds
  const sessionIds: [string, string, string][] = [];
  try {
    out(`server: listening on ${listener.name}, static key ${toHex(serverKey)}`);

    // 1. First contact: XX.
    out("");
    out(`1. First contact with XX (3 handshake messages) to ${listener.name}`);
    const xx = await connect(await dial(dialAddress(listener.name, false), 10_000), client, {
      pattern: "XX",
    });
    const xxServer = await connections[0];
    out(`   client session ${xx.sessionId}`);
    out(`   server session ${xxServer.channel.sessionId}`);
    const learnt = xx.remoteStatic!;
    out(`   the server proved ed25519 ${toHex(xx.remoteIdentity!.ed25519Pub)}`);
    out(`   learnt its static key ${toHex(learnt)}: pinned for ${listener.name}`);
    pins.set(listener.name, learnt);
    sessionIds.push(["XX", xx.sessionId.toString(), xxServer.channel.sessionId.toString()]);
    await messageWriter(xx).close();
    await messageReader(xx).next(); // the server closes in turn
    await xxServer.done;

    // 2. Later: IK to the pinned key.
    out("");
    out(`2. A new connection with IK to the pinned key (2 handshake messages)`);
    const ik = await connect(await dial(dialAddress(listener.name, false), 10_000), client, {
      pattern: "IK",
      serverStaticPub: pins.get(listener.name)!,
    });
    const ikServer = await connections[1];
    out(`   client session ${ik.sessionId}`);
    out(`   server session ${ikServer.channel.sessionId}`);
    out(
      `   the server sees client ed25519 ${toHex(ikServer.channel.remoteIdentity!.ed25519Pub)}`,
    );
    sessionIds.push(["IK", ik.sessionId.toString(), ikServer.channel.sessionId.toString()]);
    const writer = messageWriter(ik);
    const reader = messageReader(ik);
    for (const line of ["hello, server", "how is the weather in Noise land?"]) {
      await writer.send(enc.encode(line));
      const reply = await reader.readAll(4096);
      out(`   client → server: ${line}`);
      out(`   server → client: ${reply === null ? "(closed)" : dec.decode(reply)}`);
    }

    // 3. A large stream as one message.
    out("");
    out(`3. Streaming ${mib(total)} (${total} bytes, made on the fly) as one message`);
    const hash = createHash("sha256");
    progress.received = 0;
    const stop = progressReporter(total, progress);
    const t0 = performance.now();
    let answer: Uint8Array | null;
    try {
      await writer.send(randomStream(total, hash));
      answer = await reader.readAll(4096);
    } finally {
      stop();
    }
    const secs = (performance.now() - t0) / 1000;
    const expected = total <= ECHO_MAX
      ? null
      : `received ${total} bytes, sha256 ${hash.digest("hex")}`;
    const got = answer === null ? "(closed)" : dec.decode(answer);
    out(`   server → client: ${got}`);
    if (expected !== null && got !== expected) {
      throw new CliError(`the server's checksum does not match: expected "${expected}"`);
    }
    if (expected !== null) out("   the SHA-256 matches what the client sent");
    out(
      `   ${mib(total)} in ${secs.toFixed(2)} s: ${(total / secs / 1e6).toFixed(1)} MB/s ` +
        `(encrypt, TCP, decrypt and SHA-256, both ends in this process)`,
    );
    await writer.close();
    if ((await reader.next()) !== null) {
      throw new CliError("the server sent more than expected", NoiseErrorCode.Other);
    }
    await ikServer.done;
  } finally {
    listener.stop();
  }

  out("");
  out("Session ids (the handshake hash, equal on both sides):");
  for (const [pattern, c, s] of sessionIds) {
    if (c !== s) throw new CliError(`${pattern}: the session ids differ`);
    out(`   ${pattern}  ${c}`);
  }
  out(`done in ${((performance.now() - started) / 1000).toFixed(2)} s`);
  return 0;
}
