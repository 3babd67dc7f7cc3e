/**
 * Keys of `noisecat`: the 32-byte seed (from `--seed-file` or `$NOISECAT_SEED`),
 * the device id, and the `keygen` and `pubkey` commands.
 *
 * The seed is a `DummyRing` seed: it is both the Ed25519 identity and the HKDF
 * input of the X25519 device key (per device id, epoch 0). It is never printed.
 *
 * @module
 */
import fs from "node:fs";
import process from "node:process";
import { DummyRing } from "../lib/ring.ts";
import { NoiseServer } from "../lib/server.ts";
import { toHex, wipe } from "../lib/bytes.ts";
import { NoiseErrorCode } from "../lib/errors.ts";
import { CliError, parseArgs, type ParsedArgs, UsageError, value } from "./args.ts";
import { type Output, writeOut } from "./stdio.ts";

/** The key id given to the ring (a `DummyRing` ignores it). */
export const KID = "noisecat";
/** The device id when `--device` is not given. */
export const DEFAULT_DEVICE = "noisecat-device-0";
/** The environment variable that may hold the seed, as hex. */
export const SEED_ENV = "NOISECAT_SEED";

/** Help lines of the key options, shared by the commands that take them. */
export const KEY_OPTIONS =
  `  --seed-file PATH    the 32-byte seed, as 64 hex digits (what keygen writes);
                      default: $${SEED_ENV} (hex). Never printed.
  --device ID         device id, at least 16 bytes of UTF-8 (default ${DEFAULT_DEVICE})`;

/** A seed and where it came from. */
export interface Seed {
  bytes: Uint8Array;
  /** `file PATH` or `$NOISECAT_SEED`. */
  source: string;
}

function fsReason(e: unknown): string {
  const code = (e as { code?: string })?.code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "EISDIR") return "it is a directory";
  if (code === "EEXIST") return "it already exists";
  return code ?? (e instanceof Error ? e.message : String(e));
}

function parseSeedText(text: string): Uint8Array | null {
  const hex = text.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) return null;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * The seed of `--seed-file` or `$NOISECAT_SEED` (the file wins), or `null` when
 * neither is given. A seed file that others may read gets a warning on `warn`.
 */
export function loadSeed(args: ParsedArgs, command: string, warn: Output): Seed | null {
  const path = value(args, "seed-file");
  if (path !== undefined) {
    let data: Uint8Array;
    try {
      data = fs.readFileSync(path);
    } catch (e) {
      throw new CliError(`cannot read the seed file ${path}: ${fsReason(e)}`);
    }
    const bytes = parseSeedText(new TextDecoder().decode(data));
    wipe(data);
    if (bytes === null) {
      throw new CliError(`the seed file ${path} must hold 32 bytes as 64 hex digits`);
    }
    try {
      const mode = fs.statSync(path).mode & 0o777;
      if (process.platform !== "win32" && (mode & 0o077) !== 0) {
        warn(
          `noisecat: warning: the seed file ${path} can be read by others (mode ${
            mode.toString(8).padStart(4, "0")
          }); chmod 600 it`,
        );
      }
    } catch {
      // A file we could read but not stat: nothing to warn about.
    }
    return { bytes, source: `file ${path}` };
  }
  const env = process.env[SEED_ENV];
  if (env !== undefined && env !== "") {
    const bytes = parseSeedText(env);
    if (bytes === null) {
      throw new UsageError(`$${SEED_ENV} must be 32 bytes as 64 hex digits`, command);
    }
    return { bytes, source: `$${SEED_ENV}` };
  }
  return null;
}

/** The `--device` id (default {@linkcode DEFAULT_DEVICE}); at least 16 bytes. */
export function deviceArg(args: ParsedArgs, command: string): string {
  const device = value(args, "device") ?? DEFAULT_DEVICE;
  const len = new TextEncoder().encode(device).length;
  if (len < 16) {
    throw new UsageError(
      `--device must be at least 16 bytes of UTF-8, got ${len} (${JSON.stringify(device)})`,
      command,
    );
  }
  return device;
}

/** A ring on `seed` (the seed bytes are wiped once imported). */
export async function ringOf(seed: Seed): Promise<DummyRing> {
  try {
    return await DummyRing.create(seed.bytes, KID);
  } finally {
    wipe(seed.bytes);
  }
}

/** The public keys of a ring and device: the static key clients pin, and the Ed25519 identity. */
export async function publicKeys(
  ring: DummyRing,
  device: string,
): Promise<{ staticKey: Uint8Array; ed25519: Uint8Array }> {
  const staticKey = await new NoiseServer(KID, device, ring).staticPublicKey();
  return { staticKey, ed25519: await ring.ed25519PublicKey(KID) };
}

function keyLines(device: string, keys: { staticKey: Uint8Array; ed25519: Uint8Array }): string {
  return `device: ${device}\nstatic: ${toHex(keys.staticKey)}\ned25519: ${toHex(keys.ed25519)}\n`;
}

/** `noisecat keygen --help`. */
export const KEYGEN_HELP = `Usage: noisecat keygen PATH [--device ID] [--force]

Writes a new random 32-byte seed to PATH (64 hex digits, file mode 0600; an
existing file is refused unless --force) and prints the public keys of the
device on stdout:

  device: noisecat-device-0
  static: <64 hex>      the X25519 static key: clients pin it (connect --pin)
  ed25519: <64 hex>     the Ed25519 identity that signs it

Options:
  --seed-file PATH    the same as the PATH argument
  --device ID         device id, at least 16 bytes of UTF-8 (default ${DEFAULT_DEVICE})
  --force             overwrite PATH
  -h, --help          this text
`;

/** `noisecat keygen`. */
export async function keygenMain(argv: string[], out: Output, err: Output): Promise<number> {
  const args = parseArgs(argv, {
    command: "keygen",
    flags: ["help", "force"],
    valued: ["seed-file", "device"],
    positionals: [0, 1],
  });
  if (args.flags.has("help")) {
    out(KEYGEN_HELP.trimEnd());
    return 0;
  }
  const flagPath = value(args, "seed-file");
  const path = args.positionals[0] ?? flagPath;
  if (path === undefined) throw new UsageError("keygen needs the PATH of the new seed", "keygen");
  if (args.positionals.length > 0 && flagPath !== undefined) {
    throw new UsageError("give the PATH once (argument or --seed-file)", "keygen");
  }
  const device = deviceArg(args, "keygen");
  const seed = crypto.getRandomValues(new Uint8Array(32));
  const text = new TextEncoder().encode(toHex(seed) + "\n");
  try {
    fs.writeFileSync(path, text, { mode: 0o600, flag: args.flags.has("force") ? "w" : "wx" });
    fs.chmodSync(path, 0o600); // an overwritten file keeps its old mode otherwise
  } catch (e) {
    wipe(seed, text);
    throw new CliError(`cannot write the seed file ${path}: ${fsReason(e)}`, NoiseErrorCode.Other);
  }
  wipe(text);
  const ring = await ringOf({ bytes: seed, source: `file ${path}` });
  const keys = await publicKeys(ring, device);
  err(`noisecat: wrote a new seed to ${path} (mode 0600); keep it secret`);
  await writeOut(keyLines(device, keys));
  return 0;
}

/** `noisecat pubkey --help`. */
export const PUBKEY_HELP = `Usage: noisecat pubkey [--seed-file PATH] [--device ID] [--static]

Prints the public keys of a seed and device on stdout (the seed comes from
--seed-file or $${SEED_ENV}):

  device: noisecat-device-0
  static: <64 hex>      the X25519 static key: clients pin it (connect --pin)
  ed25519: <64 hex>     the Ed25519 identity that signs it

Options:
${KEY_OPTIONS}
  --static            print the static key alone (for --pin "$(noisecat pubkey --static)")
  -h, --help          this text
`;

/** `noisecat pubkey`. */
export async function pubkeyMain(argv: string[], out: Output, err: Output): Promise<number> {
  const args = parseArgs(argv, {
    command: "pubkey",
    flags: ["help", "static"],
    valued: ["seed-file", "device"],
    positionals: [0, 0],
  });
  if (args.flags.has("help")) {
    out(PUBKEY_HELP.trimEnd());
    return 0;
  }
  const device = deviceArg(args, "pubkey");
  const seed = loadSeed(args, "pubkey", err);
  if (seed === null) {
    throw new UsageError(`pubkey needs a seed: --seed-file PATH or $${SEED_ENV}`, "pubkey");
  }
  const keys = await publicKeys(await ringOf(seed), device);
  await writeOut(args.flags.has("static") ? `${toHex(keys.staticKey)}\n` : keyLines(device, keys));
  return 0;
}
