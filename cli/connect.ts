/**
 * `noisecat connect`: dials a `noisecat serve`, authenticates it, and carries
 * stdin to it and its stream to stdout.
 *
 * Which handshake: IK to `--pin HEX`, else IK to the key pinned for the address
 * in the pin file (`known_hosts.ts`), else XX (first contact), printing the key
 * it learnt and saving it with `--save-pin`.
 *
 * When an IK handshake fails, the server did not prove it holds the pinned key,
 * but IK cannot tell why. So the client then probes: it runs the first two XX
 * messages (the server sends its static key, signed by its identity) and stops
 * before the third, so no session starts on the server. If the server's key is
 * not the pinned one, the error says so: "wrong pin" for `--pin`, "REMOTE STATIC
 * KEY CHANGED" for a pin-file entry, which is never replaced silently.
 *
 * @module
 */
import { equalBytes, toHex } from "../lib/bytes.ts";
import { NoiseClient } from "../lib/client.ts";
import { NoiseError, NoiseErrorCode } from "../lib/errors.ts";
import { DummyRing } from "../lib/ring.ts";
import { clientCompleteXx, clientStartXxTofu } from "../lib/datalink_adapter.ts";
import { connect, type SecureChannel } from "../lib/streams/handshake.ts";
import type { MessageCarrier } from "../lib/streams/carrier.ts";
import { CliError, hexBytes, parseArgs, seconds, value } from "./args.ts";
import { deviceArg, KEY_OPTIONS, KID, loadSeed, ringOf } from "./keys.ts";
import { defaultKnownHostsPath, type KnownHost, KnownHosts } from "./known_hosts.ts";
import { type Address, dial, dialAddress } from "./net.ts";
import { pipeSession } from "./session.ts";
import { errLine, type Output, silent, stdinStream, stdoutStream } from "./stdio.ts";

/** `noisecat connect --help`. */
export const CONNECT_HELP = `Usage: noisecat connect [options] HOST:PORT | ws://HOST:PORT/PATH

Connects to a noisecat server, then carries stdin to it and its stream to
stdout over a Pubky Noise channel, until both streams have ended.

The server is authenticated by its static key:
  --pin HEX           IK to this key (64 hex digits); anything else is refused
  otherwise           IK to the key pinned for HOST:PORT in the pin file; if
                      there is none, XX (first contact): the server's key is
                      printed, and saved with --save-pin. A server whose key
                      differs from its pin is refused: REMOTE STATIC KEY CHANGED
                      (delete its line from the pin file if the change is expected).

Options:
  --known-hosts PATH  the pin file (default $NOISECAT_KNOWN_HOSTS, else
                      ~/.config/noisecat/known_hosts), lines "HOST:PORT HEX"
  --save-pin          add the server's key to the pin file (after XX, or --pin)
${KEY_OPTIONS}
                      without a seed, the client uses a one-time identity.
  --hint TEXT         server hint signed into our identity payload
  --ws                dial ws://HOST:PORT/ (WebSocket) instead of TCP
  --timeout SECS      time limit of the connection and of the handshake (default 30)
  -q, --quiet         no status lines on stderr (errors still go there)
  -h, --help          this text

Exit status: 0 once the session ended cleanly, 1 on failure (a wrong pin, a
changed key, a closed peer...), 2 on bad usage.
`;

/** The server's static key, from the first two XX messages; the third is never sent. */
async function probeStaticKey(
  address: Address,
  client: NoiseClient,
  timeoutMs: number,
): Promise<Uint8Array> {
  const carrier: MessageCarrier = await dial(address, timeoutMs);
  const reader = carrier.readable.getReader();
  const writer = carrier.writable.getWriter();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new NoiseError(NoiseErrorCode.Timeout, "no answer to the key probe")),
        timeoutMs,
      );
    });
    const start = await clientStartXxTofu(client);
    await Promise.race([writer.write(start.firstMsg), late]);
    const reply = await Promise.race([reader.read(), late]);
    if (reply.done) {
      throw new NoiseError(NoiseErrorCode.ConnectionReset, "the server closed the key probe");
    }
    const done = await clientCompleteXx(client, start.hs, reply.value);
    return done.serverStaticPk;
  } finally {
    clearTimeout(timer);
    reader.cancel().catch(() => {});
    writer.abort().catch(() => {});
  }
}

/** `noisecat connect`. */
export async function connectMain(argv: string[], out: Output): Promise<number> {
  const args = parseArgs(argv, {
    command: "connect",
    flags: ["help", "quiet", "ws", "save-pin"],
    valued: ["seed-file", "device", "pin", "known-hosts", "hint", "timeout"],
    positionals: [1, 1],
  });
  if (args.flags.has("help")) {
    out(CONNECT_HELP.trimEnd());
    return 0;
  }
  const status = args.flags.has("quiet") ? silent : errLine;
  const address = dialAddress(args.positionals[0], args.flags.has("ws"));
  const device = deviceArg(args, "connect");
  const timeoutMs = seconds(value(args, "timeout") ?? "30", "--timeout", "connect");
  const pinHex = value(args, "pin");
  const pin = pinHex === undefined ? null : hexBytes(pinHex, 32, "--pin", "connect");
  const hint = value(args, "hint");
  const knownHostsPath = value(args, "known-hosts") ?? defaultKnownHostsPath();
  const seed = loadSeed(args, "connect", errLine);
  let ring: DummyRing;
  if (seed === null) {
    status("noisecat: no seed given: this client uses a one-time identity");
    ring = await DummyRing.create(crypto.getRandomValues(new Uint8Array(32)), KID);
  } else {
    ring = await ringOf(seed);
  }
  const client = new NoiseClient(KID, device, ring).withNowUnix(Math.floor(Date.now() / 1000));
  const knownHosts = pin === null || args.flags.has("save-pin")
    ? KnownHosts.load(knownHostsPath)
    : null;
  const entry: KnownHost | undefined = pin === null ? knownHosts!.find(address.name) : undefined;
  const pinned = pin ?? entry?.key ?? null;

  let channel: SecureChannel;
  if (pinned !== null) {
    const carrier = await dial(address, timeoutMs);
    try {
      channel = await connect(carrier, client, {
        pattern: "IK",
        serverStaticPub: pinned,
        serverHint: hint,
        timeoutMs,
      });
    } catch (e) {
      throw await ikFailure(e, address, client, timeoutMs, pinned, entry, knownHostsPath);
    }
    const from = entry ? `pinned in ${knownHostsPath}:${entry.line}` : "--pin";
    status(
      `noisecat: connected to ${address.name} (IK to the key of ${from}), ` +
        `server static key ${toHex(pinned)}, session ${channel.sessionId}`,
    );
  } else {
    const carrier = await dial(address, timeoutMs);
    try {
      channel = await connect(carrier, client, { pattern: "XX", serverHint: hint, timeoutMs });
    } catch (e) {
      throw handshakeFailure(e, address);
    }
    status(
      `noisecat: connected to ${address.name} (XX, first contact), server static key ${
        toHex(channel.remoteStatic!)
      }, ed25519 ${toHex(channel.remoteIdentity!.ed25519Pub)}, session ${channel.sessionId}`,
    );
  }
  if (args.flags.has("save-pin")) {
    const existing = knownHosts!.find(address.name);
    if (existing === undefined) {
      knownHosts!.add(address.name, channel.remoteStatic!);
      status(`noisecat: pinned ${address.name} in ${knownHosts!.path}`);
    } else if (!equalBytes(existing.key, channel.remoteStatic!)) {
      status(
        `noisecat: not pinned: ${knownHosts!.path}:${existing.line} pins another key for ` +
          `${address.name}; delete that line first`,
      );
    }
  } else if (pinned === null) {
    status(
      `noisecat: ${address.name} is not pinned: run with --save-pin to pin it in ` +
        `${knownHostsPath}, or pass --pin ${toHex(channel.remoteStatic!)}`,
    );
  }
  const stats = await pipeSession(channel, stdinStream(), stdoutStream(), "the server");
  status(`noisecat: session ended: sent ${stats.sent} bytes, received ${stats.received} bytes`);
  return 0;
}

function handshakeFailure(e: unknown, address: Address): CliError {
  if (e instanceof CliError) return e;
  const code = e instanceof NoiseError ? e.code : NoiseErrorCode.Other;
  const why = e instanceof Error ? e.message : String(e);
  // What an HTTP server's answer looks like through the 2-byte framing.
  const hint = address.kind === "tcp" && why.includes("inside a frame")
    ? " (not a noisecat TCP server? a WebSocket server needs ws://)"
    : "";
  return new CliError(`handshake with ${address.name} failed: ${why}${hint}`, code);
}

/** Explains a failed IK handshake, probing the server's key (see the module documentation). */
async function ikFailure(
  e: unknown,
  address: Address,
  client: NoiseClient,
  timeoutMs: number,
  pinned: Uint8Array,
  entry: KnownHost | undefined,
  knownHostsPath: string,
): Promise<CliError> {
  const first = handshakeFailure(e, address);
  let actual: Uint8Array;
  try {
    actual = await probeStaticKey(address, client, timeoutMs);
  } catch {
    return new CliError(
      `${first.message}; the server may not hold the pinned key ${toHex(pinned)}`,
      first.code,
    );
  }
  if (equalBytes(actual, pinned)) {
    return new CliError(
      `${first.message} (the server holds the pinned key: it refused this client)`,
      first.code,
    );
  }
  if (entry) {
    return new CliError(
      `REMOTE STATIC KEY CHANGED for ${address.name}: ${knownHostsPath}:${entry.line} pins ` +
        `${toHex(pinned)}, but the server now presents ${toHex(actual)}. Someone may be ` +
        `intercepting the connection, or the server's key was replaced. Refusing to connect; ` +
        `if the change is expected, delete line ${entry.line} of ${knownHostsPath}`,
      NoiseErrorCode.InvalidPeerKey,
    );
  }
  return new CliError(
    `wrong pin for ${address.name}: the server's static key is ${toHex(actual)}, ` +
      `not ${toHex(pinned)}`,
    NoiseErrorCode.InvalidPeerKey,
  );
}
