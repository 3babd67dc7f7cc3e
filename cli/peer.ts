/**
 * `noisecat peer`: a Noise peer that talks to other implementations over
 * stdin/stdout, for interop tests. Every Noise message (handshake and transport)
 * is framed by a 2-byte big-endian length; stdout carries frames only, stderr
 * `key=value` lines. See {@linkcode USAGE}.
 *
 * Runs unchanged under `deno run -A main.ts peer`, `bun main.ts peer` and
 * `node --import tsx main.ts peer`.
 *
 * @module
 */
import process from "node:process";
import { NoiseError, NoiseErrorCode } from "../lib/errors.ts";
import { equalBytes, fromHex, toHex } from "../lib/bytes.ts";
import { loadCryptoSuite } from "../lib/crypto/suite.ts";
import { HandshakeState } from "../lib/noise/handshake_state.ts";
import { type HandshakePattern, IK, NN, XX } from "../lib/noise/patterns.ts";
import { DummyRing } from "../lib/ring.ts";
import { NoiseClient } from "../lib/client.ts";
import { NoiseServer } from "../lib/server.ts";
import {
  clientCompleteIk,
  clientCompleteXx,
  clientStartIkDirect,
  clientStartXxTofu,
  serverAcceptIk,
  serverAcceptXx,
  serverCompleteIk,
  serverCompleteXx,
} from "../lib/datalink_adapter.ts";
import { FrameReader, FrameWriter } from "./frames.ts";

/** The `--help` text. */
export const USAGE = `Usage: noisecat peer [options]
       (deno run -A main.ts peer | bun main.ts peer | node --import tsx main.ts peer)

A Noise peer over stdin/stdout, for interop tests. stdin and stdout carry frames
only: each Noise message (handshake and transport) as a 2-byte big-endian length
and that many bytes (0-65535). stderr carries key=value lines.

Raw Noise (Noise_{XX,IK,NN}_25519_ChaChaPoly_BLAKE2s):
  --pattern XX|IK|NN           handshake pattern (required)
  --role initiator|responder   (required)
  --static HEX                 own X25519 static secret key, 32 bytes (required for
                               XX and IK; NN has no static key and refuses one)
  --remote HEX                 the responder's static public key (IK initiator:
                               required; refused elsewhere)
  --prologue HEX               prologue (default: empty)
  --payload HEX,HEX,...        payloads of the handshake messages this side writes,
                               in order; _ = empty; missing ones are empty

Pubky (pubky-noise 1.2.0: prologue "pubky-noise-v1", signed identity payloads,
DummyRing.create(seed, "kid"), kid "kid", epoch 0):
  --pubky                      select this mode
  --pattern XX|IK              (required)
  --role client|server         (required)
  --seed HEX                   32-byte ring seed: Ed25519 identity and X25519 device
                               key (required)
  --device TEXT                device id, at least 16 bytes of UTF-8 (required)
  --remote HEX                 the server's static public key (IK client: required;
                               refused elsewhere)
  --hint TEXT                  server_hint sent by the client (client only)

After the handshake:
  --send HEX,HEX,...           initiator/client only: transport messages to send
                               one at a time (_ = empty, plaintext <= 65519 bytes);
                               each echo must equal what was sent; then stdout is
                               closed (end of stream)
  The responder/server echoes every transport message (decrypt, re-encrypt the
  same plaintext, send) until end of stream.

  --help                       print this text on stdout and exit 0

Options take their value as the next argument or after "=" (--role=initiator).

stderr lines:
  static_pub=HEX      own static public key, before the handshake (empty for NN)
  payload_N=HEX       raw: payload of handshake message N (0-based, both sides
                      counted), for each message this side reads
  remote_static=HEX   raw XX/IK: the peer's static public key
  server_static=HEX   Pubky client: the server's static public key (pin it for IK)
  server_ed25519=HEX  Pubky XX client: the server's Ed25519 identity
  client_static=HEX   Pubky server: the client's static public key
  client_ed25519=HEX  Pubky server: the client's Ed25519 identity
  hh=HEX              handshake hash (= session id), equal on both sides
  echo=ok count=N     initiator/client: all N echoes matched
  echoed=N            responder/server: N messages echoed before end of stream
  error=CODE TEXT     failure with its NoiseError code and text, e.g.
                      "error=3000 snow error: decrypt error",
                      "error=8002 connection reset: connection closed mid-frame ..."

Exit status: 0 success, 1 failure (after an error= line), 2 bad usage.
`;

const EMPTY = new Uint8Array(0);

/** A command line that cannot be run (exit 2). */
class UsageError extends Error {}

interface CommonOptions {
  send: Uint8Array[];
}

interface RawOptions extends CommonOptions {
  mode: "raw";
  pattern: HandshakePattern;
  initiator: boolean;
  staticKey: Uint8Array | null;
  remote: Uint8Array | null;
  prologue: Uint8Array;
  payloads: Uint8Array[];
}

interface PubkyOptions extends CommonOptions {
  mode: "pubky";
  pattern: "XX" | "IK";
  client: boolean;
  seed: Uint8Array;
  device: string;
  remote: Uint8Array | null;
  hint: string | null;
}

type Options = RawOptions | PubkyOptions | { mode: "help" };

const FLAGS = new Set(["help", "pubky"]);
const VALUED = new Set([
  "pattern",
  "role",
  "static",
  "remote",
  "prologue",
  "payload",
  "seed",
  "device",
  "hint",
  "send",
]);

function hexArg(name: string, value: string, length?: number): Uint8Array {
  if (value.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(value)) {
    throw new UsageError(`--${name} must be hex (an even number of hex digits)`);
  }
  const bytes = fromHex(value);
  if (length !== undefined && bytes.length !== length) {
    throw new UsageError(`--${name} must be ${length} bytes, got ${bytes.length}`);
  }
  return bytes;
}

function listArg(name: string, value: string | undefined): Uint8Array[] {
  if (value === undefined || value === "") return [];
  return value.split(",").map((item) => {
    if (item === "_") return EMPTY;
    if (item === "") throw new UsageError(`--${name}: empty item (write _ for an empty message)`);
    return hexArg(name, item);
  });
}

/** Parses the command line; throws `UsageError`. */
function parseArgs(argv: string[]): Options {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "-h") {
      flags.add("help");
      continue;
    }
    const m = /^--([a-z]+)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
    const [, name, inline] = m;
    if (FLAGS.has(name)) {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
      flags.add(name);
    } else if (VALUED.has(name)) {
      if (values.has(name)) throw new UsageError(`--${name} given twice`);
      const value = inline ?? argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      values.set(name, value);
    } else {
      throw new UsageError(`unknown option --${name}`);
    }
  }
  if (flags.has("help")) return { mode: "help" };

  const refuse = (names: string[], why: string) => {
    for (const name of names) if (values.has(name)) throw new UsageError(`--${name} ${why}`);
  };
  const pattern = values.get("pattern");
  const role = values.get("role");
  if (pattern === undefined) throw new UsageError("--pattern is required");
  if (role === undefined) throw new UsageError("--role is required");

  if (flags.has("pubky")) {
    refuse(["static", "prologue", "payload"], "is not used with --pubky");
    if (pattern !== "XX" && pattern !== "IK") {
      throw new UsageError(
        `--pattern must be XX or IK with --pubky, got ${JSON.stringify(pattern)}`,
      );
    }
    if (role !== "client" && role !== "server") {
      throw new UsageError(
        `--role must be client or server with --pubky, got ${JSON.stringify(role)}`,
      );
    }
    const client = role === "client";
    const seed = values.get("seed");
    const device = values.get("device");
    if (seed === undefined) throw new UsageError("--seed is required with --pubky");
    if (device === undefined) throw new UsageError("--device is required with --pubky");
    const remote = values.get("remote");
    if (pattern === "IK" && client && remote === undefined) {
      throw new UsageError(
        "--remote (the server's static public key) is required for an IK client",
      );
    }
    if (!(pattern === "IK" && client)) refuse(["remote"], "is only used by an IK client");
    if (!client) refuse(["hint", "send"], "is only used by a client");
    return {
      mode: "pubky",
      pattern,
      client,
      seed: hexArg("seed", seed, 32),
      device,
      remote: remote === undefined ? null : hexArg("remote", remote, 32),
      hint: values.get("hint") ?? null,
      send: listArg("send", values.get("send")),
    };
  }

  refuse(["seed", "device", "hint"], "needs --pubky");
  const patterns: Record<string, HandshakePattern> = { XX, IK, NN };
  if (!Object.hasOwn(patterns, pattern)) {
    throw new UsageError(`--pattern must be XX, IK or NN, got ${JSON.stringify(pattern)}`);
  }
  if (role !== "initiator" && role !== "responder") {
    throw new UsageError(`--role must be initiator or responder, got ${JSON.stringify(role)}`);
  }
  const initiator = role === "initiator";
  const staticHex = values.get("static");
  if (pattern === "NN") refuse(["static"], "is not used by NN (it has no static keys)");
  else if (staticHex === undefined) throw new UsageError(`--static is required for ${pattern}`);
  const remote = values.get("remote");
  if (pattern === "IK" && initiator && remote === undefined) {
    throw new UsageError(
      "--remote (the responder's static public key) is required for an IK initiator",
    );
  }
  if (!(pattern === "IK" && initiator)) refuse(["remote"], "is only used by an IK initiator");
  if (!initiator) refuse(["send"], "is only used by the initiator");
  const p = patterns[pattern];
  const writes = p.messages.filter((_, i) => (i % 2 === 0) === initiator).length;
  const payloads = listArg("payload", values.get("payload"));
  if (payloads.length > writes) {
    throw new UsageError(
      `--payload has ${payloads.length} items, but the ${pattern} ${role} writes ${writes} handshake message(s)`,
    );
  }
  return {
    mode: "raw",
    pattern: p,
    initiator,
    staticKey: staticHex === undefined ? null : hexArg("static", staticHex, 32),
    remote: remote === undefined ? null : hexArg("remote", remote, 32),
    prologue: hexArg("prologue", values.get("prologue") ?? ""),
    payloads,
    send: listArg("send", values.get("send")),
  };
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

const pendingLogs: Promise<void>[] = [];

function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  const done = new Promise<void>((resolve) => {
    try {
      stream.write(text, () => resolve());
    } catch {
      resolve();
    }
  });
  pendingLogs.push(done);
  return done;
}

/** One `key=value` line on stderr. */
function log(line: string): void {
  void write(process.stderr, line + "\n");
}

function closed(what: string): NoiseError {
  return new NoiseError(NoiseErrorCode.ConnectionReset, `connection closed ${what}`);
}

function errorLine(e: unknown): string {
  if (e instanceof NoiseError) return `error=${e.code} ${e.message}`;
  const why = e instanceof Error ? e.message : String(e);
  return `error=${NoiseErrorCode.Other} other: ${why}`;
}

// ---------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------

interface Io {
  reader: FrameReader;
  writer: FrameWriter;
}

/** One direction-agnostic view of an established session. */
interface Channel {
  encrypt(plaintext: Uint8Array): Uint8Array;
  decrypt(ciphertext: Uint8Array): Uint8Array;
}

async function expectFrame(io: Io, what: string): Promise<Uint8Array> {
  const frame = await io.reader.read();
  if (frame === null) throw closed(what);
  return frame;
}

/** Initiator/client: sends each message, checks its echo, then ends the stream. */
async function sendAndCheck(ch: Channel, io: Io, messages: Uint8Array[]): Promise<void> {
  for (let i = 0; i < messages.length; i++) {
    await io.writer.write(ch.encrypt(messages[i]));
    const echo = ch.decrypt(await expectFrame(io, `before the echo of message ${i}`));
    if (!equalBytes(echo, messages[i])) {
      throw new NoiseError(NoiseErrorCode.Other, `echo of message ${i} differs from what was sent`);
    }
  }
  await endStream(io);
  log(`echo=ok count=${messages.length}`);
}

/** Responder/server: echoes every message until end of stream. */
async function echoAll(ch: Channel, io: Io): Promise<void> {
  let count = 0;
  for (;;) {
    const frame = await io.reader.read();
    if (frame === null) break;
    await io.writer.write(ch.encrypt(ch.decrypt(frame)));
    count++;
  }
  await endStream(io);
  log(`echoed=${count}`);
}

/** Ends our output stream, without waiting long for runtimes that never confirm. */
async function endStream(io: Io): Promise<void> {
  await io.writer.flushed();
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([io.writer.end(), new Promise((r) => timer = setTimeout(r, 1000))]);
  clearTimeout(timer);
}

async function runRaw(o: RawOptions, io: Io): Promise<void> {
  const suite = await loadCryptoSuite();
  const s = o.staticKey ? await suite.dh.importSecretKey(o.staticKey) : null;
  log(`static_pub=${s ? toHex(s.publicKey) : ""}`);
  const hs = new HandshakeState({
    suite,
    pattern: o.pattern,
    initiator: o.initiator,
    prologue: o.prologue,
    s,
    rs: o.remote,
  });
  let written = 0;
  while (!hs.isComplete) {
    const index = hs.messageIndex;
    if (hs.isMyTurn) {
      await io.writer.write(await hs.writeMessage(o.payloads[written++] ?? EMPTY));
    } else {
      const msg = await expectFrame(io, `before handshake message ${index}`);
      log(`payload_${index}=${toHex(await hs.readMessage(msg))}`);
    }
  }
  const rs = hs.remoteStatic;
  if (rs) log(`remote_static=${toHex(rs)}`);
  const transport = hs.split();
  log(`hh=${toHex(transport.handshakeHash)}`);
  const ch: Channel = {
    encrypt: (p) => transport.writeMessage(p),
    decrypt: (c) => transport.readMessage(c),
  };
  if (o.initiator) await sendAndCheck(ch, io, o.send);
  else await echoAll(ch, io);
}

async function runPubkyClient(o: PubkyOptions, io: Io): Promise<void> {
  const ring = await DummyRing.create(o.seed, "kid");
  const client = new NoiseClient("kid", o.device, ring);
  let link;
  if (o.pattern === "XX") {
    const start = await clientStartXxTofu(client, o.hint);
    log(`static_pub=${toHex(start.hs.localStatic!)}`);
    await io.writer.write(start.firstMsg);
    const response = await expectFrame(io, "before handshake message 1");
    const done = await clientCompleteXx(client, start.hs, response, o.hint);
    await io.writer.write(done.finalMsg);
    log(`server_static=${toHex(done.serverStaticPk)}`);
    log(`server_ed25519=${toHex(done.serverIdentity.ed25519Pub)}`);
    link = done.link;
  } else {
    const start = await clientStartIkDirect(client, o.remote!, o.hint);
    log(`static_pub=${toHex(start.hs.localStatic!)}`);
    await io.writer.write(start.firstMsg);
    const response = await expectFrame(io, "before handshake message 1");
    link = await clientCompleteIk(start.hs, response);
    log(`server_static=${toHex(o.remote!)}`);
  }
  log(`hh=${link.sessionId.toString()}`);
  await sendAndCheck(
    { encrypt: (p) => link.encrypt(p), decrypt: (c) => link.decrypt(c) },
    io,
    o.send,
  );
}

async function runPubkyServer(o: PubkyOptions, io: Io): Promise<void> {
  const ring = await DummyRing.create(o.seed, "kid");
  const server = new NoiseServer("kid", o.device, ring);
  log(`static_pub=${toHex(await server.staticPublicKey())}`);
  const first = await expectFrame(io, "before handshake message 0");
  let link;
  if (o.pattern === "XX") {
    const accepted = await serverAcceptXx(server, first);
    await io.writer.write(accepted.response);
    const final = await expectFrame(io, "before handshake message 2");
    const done = await serverCompleteXx(server, accepted.hs, final, accepted.serverStaticPk);
    const clientStatic = accepted.hs.remoteStatic;
    if (clientStatic) log(`client_static=${toHex(clientStatic)}`);
    log(`client_ed25519=${toHex(done.clientIdentity.ed25519Pub)}`);
    link = done.link;
  } else {
    const accepted = await serverAcceptIk(server, first);
    log(`client_static=${toHex(accepted.hs.remoteStatic!)}`);
    log(`client_ed25519=${toHex(accepted.clientIdentity.ed25519Pub)}`);
    await io.writer.write(accepted.response);
    link = serverCompleteIk(accepted.hs);
  }
  log(`hh=${link.sessionId.toString()}`);
  await echoAll({ encrypt: (p) => link.encrypt(p), decrypt: (c) => link.decrypt(c) }, io);
}

/** Runs the command line `argv`; resolves to the exit status. */
async function run(argv: string[], io: () => Io): Promise<number> {
  let options: Options;
  try {
    options = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    log(`error=usage: ${e.message}`);
    log(USAGE.trimEnd());
    return 2;
  }
  if (options.mode === "help") {
    await write(process.stdout, USAGE);
    return 0;
  }
  try {
    if (options.mode === "raw") await runRaw(options, io());
    else if (options.client) await runPubkyClient(options, io());
    else await runPubkyServer(options, io());
    return 0;
  } catch (e) {
    log(errorLine(e));
    return 1;
  }
}

/**
 * `noisecat peer ARGS`: runs the peer on stdin/stdout and resolves to the exit
 * status once every write has reached the OS (the caller exits the process).
 */
export async function peerMain(argv: string[]): Promise<number> {
  let ioInstance: Io | undefined;
  const status = await run(argv, () =>
    ioInstance ??= {
      reader: new FrameReader(process.stdin),
      writer: new FrameWriter(process.stdout),
    });
  // Let every write reach the OS before exiting (stdout bounded: the peer may have gone).
  let flushTimer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.all([...pendingLogs, ioInstance?.writer.flushed()]),
    new Promise((r) => flushTimer = setTimeout(r, 2000)),
  ]);
  clearTimeout(flushTimer);
  return status;
}
