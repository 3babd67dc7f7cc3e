/**
 * `noisecat`: the command-line tool of `@pubky/noise`. Dispatches to the
 * commands; see {@linkcode HELP}.
 *
 * @module
 */
import { errorLine, UsageError } from "./args.ts";
import { connectMain } from "./connect.ts";
import { demoMain } from "./demo.ts";
import { keygenMain, pubkeyMain } from "./keys.ts";
import { peerMain } from "./peer.ts";
import { serveMain } from "./serve.ts";
import { errLine, outLine } from "./stdio.ts";

/** `noisecat --help`. */
export const HELP = `noisecat: encrypted, authenticated pipes over Pubky Noise
(Noise_XX/IK_25519_ChaChaPoly_BLAKE2s, wire-compatible with pubky-noise 1.2.0)

Usage: noisecat <command> [options]

Commands:
  serve [HOST:]PORT   listen for one client; carry stdin/stdout over the channel
  connect ADDR        dial HOST:PORT (or ws://HOST:PORT/PATH); carry stdin/stdout
  keygen PATH         write a new random seed (mode 0600); print its public keys
  pubkey              print the public keys of a seed
  demo                the whole story on loopback: XX, pin, IK, messages, a 64 MiB stream
  peer                the interop peer: raw frames on stdin/stdout (see peer --help)
  help [COMMAND]      this text, or a command's

Run 'noisecat <command> --help' for its options.

Two terminals:
  noisecat keygen server.seed
  noisecat serve --seed-file server.seed 4433
  noisecat connect --save-pin 127.0.0.1:4433      (XX; pins the key; next time IK)

Run it as: deno run -A main.ts ... | bun main.ts ... | node --import tsx main.ts ...
Errors go to stderr as "noisecat: <message> (code N)" with the NoiseError code;
exit status 1 on failure, 2 on bad usage.
`;

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  serve: (argv) => serveMain(argv, outLine),
  connect: (argv) => connectMain(argv, outLine),
  keygen: (argv) => keygenMain(argv, outLine, errLine),
  pubkey: (argv) => pubkeyMain(argv, outLine, errLine),
  demo: (argv) => demoMain(argv, outLine),
  peer: (argv) => peerMain(argv),
};

/** Runs the command line `argv` (without the program name); resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined) {
      errLine(HELP.trimEnd());
      return 2;
    }
    if (command === "-h" || command === "--help") {
      outLine(HELP.trimEnd());
      return 0;
    }
    if (command === "help") {
      if (rest.length === 0) {
        outLine(HELP.trimEnd());
        return 0;
      }
      if (rest.length > 1 || !Object.hasOwn(COMMANDS, rest[0])) {
        throw new UsageError(`no command ${JSON.stringify(rest.join(" "))}`);
      }
      return await COMMANDS[rest[0]](["--help"]);
    }
    if (!Object.hasOwn(COMMANDS, command)) {
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
    return await COMMANDS[command](rest);
  } catch (e) {
    if (e instanceof UsageError) {
      errLine(`noisecat: ${e.message}`);
      errLine(`Run 'noisecat ${e.command ? `${e.command} ` : ""}--help' for usage.`);
      return 2;
    }
    errLine(errorLine(e));
    return 1;
  }
}
