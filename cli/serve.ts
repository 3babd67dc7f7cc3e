/**
 * `noisecat serve`: listens on TCP (or WebSocket), accepts XX and IK handshakes,
 * and carries one session between the first client that completes one and this
 * process's stdin/stdout. Failed handshakes (a client that pinned another key, a
 * port scanner) are reported on stderr and the server keeps listening.
 *
 * @module
 */
import { toHex } from "../lib/bytes.ts";
import { NoiseServer } from "../lib/server.ts";
import { accept, type SecureChannel } from "../lib/streams/handshake.ts";
import { errorLine, hexBytes, parseArgs, seconds, UsageError, value } from "./args.ts";
import { deviceArg, KEY_OPTIONS, KID, loadSeed, publicKeys, ringOf, SEED_ENV } from "./keys.ts";
import { type Incoming, listen, listenAddress } from "./net.ts";
import { pipeSession } from "./session.ts";
import { errLine, type Output, silent, stdinStream, stdoutStream } from "./stdio.ts";

/** `noisecat serve --help`. */
export const SERVE_HELP = `Usage: noisecat serve [options] [HOST:]PORT

Listens for one client, then carries stdin to it and its stream to stdout over
a Pubky Noise channel (XX for first contact, IK for clients that pinned our key),
until both streams have ended. Handshakes that fail are reported on stderr and
the server keeps listening. HOST defaults to 127.0.0.1 (0.0.0.0: every
interface); PORT 0 picks a free port (printed on stderr).

Options:
${KEY_OPTIONS}
                      serve needs a seed: make one with 'noisecat keygen PATH'.
  --ws                serve WebSocket instead of TCP (Deno or Bun)
  --allow HEX         accept only clients with this Ed25519 identity (64 hex
                      digits; repeat, or separate with commas)
  --timeout SECS      time limit of each handshake (default 30)
  -q, --quiet         no status lines on stderr (errors still go there)
  -h, --help          this text

stderr lines: "noisecat: listening on HOST:PORT (tcp), static key HEX", then
"noisecat: session with ADDR (XX|IK), client ed25519 HEX, session ID".
Exit status: 0 once the session ended cleanly, 1 on failure, 2 on bad usage.
`;

/** `noisecat serve`. */
export async function serveMain(argv: string[], out: Output): Promise<number> {
  const args = parseArgs(argv, {
    command: "serve",
    flags: ["help", "quiet", "ws"],
    valued: ["seed-file", "device", "allow", "timeout"],
    repeatable: ["allow"],
    positionals: [1, 1],
  });
  if (args.flags.has("help")) {
    out(SERVE_HELP.trimEnd());
    return 0;
  }
  const status = args.flags.has("quiet") ? silent : errLine;
  const address = listenAddress(args.positionals[0], args.flags.has("ws"));
  const device = deviceArg(args, "serve");
  const timeoutMs = seconds(value(args, "timeout") ?? "30", "--timeout", "serve");
  const allowed = (args.values.get("allow") ?? []).flatMap((list) => list.split(","))
    .map((hex) => toHex(hexBytes(hex, 32, "--allow", "serve")));
  const seed = loadSeed(args, "serve", errLine);
  if (seed === null) {
    throw new UsageError(
      `serve needs a seed: --seed-file PATH or $${SEED_ENV} (make one with 'noisecat keygen PATH')`,
      "serve",
    );
  }
  const ring = await ringOf(seed);
  const server = new NoiseServer(KID, device, ring);
  const keys = await publicKeys(ring, device);

  let started = false;
  let resolveSession!: (channel: { channel: SecureChannel; remote: string }) => void;
  const session = new Promise<{ channel: SecureChannel; remote: string }>((resolve) => {
    resolveSession = resolve;
  });
  const onConnection = (incoming: Incoming) => {
    if (started) {
      status(`noisecat: refused ${incoming.remote}: a session is already running`);
      incoming.drop();
      return;
    }
    accept(incoming.carrier, server, { timeoutMs }).then((channel) => {
      const ed = toHex(channel.remoteIdentity!.ed25519Pub);
      if (started || (allowed.length > 0 && !allowed.includes(ed))) {
        status(
          `noisecat: refused ${incoming.remote}: ${
            started
              ? "a session is already running"
              : `client ed25519 ${ed} is not allowed (--allow)`
          }`,
        );
        channel.writable.abort().catch(() => {});
        channel.readable.cancel().catch(() => {});
        return;
      }
      started = true;
      listener.stop();
      status(
        `noisecat: session with ${incoming.remote} (${channel.pattern}), client ed25519 ${ed}, ` +
          `session ${channel.sessionId}`,
      );
      resolveSession({ channel, remote: incoming.remote });
    }, (e) => {
      status(errorLine(e, `handshake with ${incoming.remote} failed`));
    });
  };
  const listener = await listen(address, onConnection);
  status(
    `noisecat: listening on ${listener.name} (${address.kind === "ws" ? "WebSocket" : "tcp"}), ` +
      `static key ${toHex(keys.staticKey)}`,
  );
  const { channel } = await session;
  const stats = await pipeSession(channel, stdinStream(), stdoutStream(), "the client");
  status(`noisecat: session ended: sent ${stats.sent} bytes, received ${stats.received} bytes`);
  return 0;
}
