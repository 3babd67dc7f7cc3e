/**
 * Command-line parsing and errors shared by the `noisecat` commands.
 *
 * - Options: `--name VALUE`, `--name=VALUE`, boolean `--flag`, the short forms
 *   `-h` (`--help`) and `-q` (`--quiet`); `--` ends the options.
 * - {@linkcode UsageError}: a command line that cannot be run (exit status 2).
 * - {@linkcode CliError}: a failure with a `NoiseErrorCode` number, printed as
 *   `noisecat: <message> (code N)` (exit status 1).
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../lib/errors.ts";

/** A command line that cannot be run: exit status 2. */
export class UsageError extends Error {
  /** The command whose `--help` to point at (`""`: the top level). */
  readonly command: string;

  /** A usage error of `command`. */
  constructor(message: string, command = "") {
    super(message);
    this.name = "UsageError";
    this.command = command;
  }
}

/** A failure of a command: printed as `noisecat: <message> (code N)`, exit status 1. */
export class CliError extends Error {
  /** A `NoiseErrorCode` number. */
  readonly code: number;

  /** A failure with `code` (default Other, 99999). */
  constructor(message: string, code: number = NoiseErrorCode.Other) {
    super(message);
    this.name = "CliError";
    this.code = code;
  }
}

/** What a command accepts. */
export interface ArgSpec {
  /** The command, for error messages. */
  command: string;
  /** Boolean options (`help` and `quiet` take the short forms `-h` and `-q`). */
  flags: readonly string[];
  /** Options with a value. */
  valued: readonly string[];
  /** Valued options that may be given several times. */
  repeatable?: readonly string[];
  /** Fewest and most positional arguments. */
  positionals: readonly [number, number];
}

/** A parsed command line. */
export interface ParsedArgs {
  /** Boolean options given. */
  flags: Set<string>;
  /** Values of valued options, in order. */
  values: Map<string, string[]>;
  /** Positional arguments. */
  positionals: string[];
}

const SHORT: Record<string, string> = { "-h": "help", "-q": "quiet" };

/** Parses `argv` against `spec`; throws {@linkcode UsageError}. `--help` skips every other check. */
export function parseArgs(argv: readonly string[], spec: ArgSpec): ParsedArgs {
  const flags = new Set<string>();
  const values = new Map<string, string[]>();
  const positionals: string[] = [];
  const usage = (message: string) => new UsageError(message, spec.command);
  let optionsDone = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (optionsDone || arg === "-" || !arg.startsWith("-")) {
      positionals.push(arg);
      continue;
    }
    if (arg === "--") {
      optionsDone = true;
      continue;
    }
    const short = SHORT[arg];
    if (short !== undefined && spec.flags.includes(short)) {
      flags.add(short);
      continue;
    }
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/s.exec(arg);
    if (!m) throw usage(`unknown option ${arg}`);
    const [, name, inline] = m;
    if (spec.flags.includes(name)) {
      if (inline !== undefined) throw usage(`--${name} takes no value`);
      flags.add(name);
    } else if (spec.valued.includes(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw usage(`--${name} needs a value`);
      const list = values.get(name) ?? [];
      if (list.length > 0 && !spec.repeatable?.includes(name)) {
        throw usage(`--${name} given twice`);
      }
      list.push(value);
      values.set(name, list);
    } else {
      throw usage(`unknown option --${name}`);
    }
  }
  if (flags.has("help")) return { flags, values, positionals };
  const [min, max] = spec.positionals;
  if (positionals.length > max) {
    throw usage(`unexpected argument ${JSON.stringify(positionals[max])}`);
  }
  if (positionals.length < min) {
    throw usage(min === 1 ? "an argument is missing" : `${min} arguments are needed`);
  }
  return { flags, values, positionals };
}

/** The single value of option `name`, or `undefined`. */
export function value(args: ParsedArgs, name: string): string | undefined {
  return args.values.get(name)?.[0];
}

/** `hex` as exactly `length` bytes; throws {@linkcode UsageError} naming `what`. */
export function hexBytes(hex: string, length: number, what: string, command: string): Uint8Array {
  const clean = hex.trim();
  if (!/^[0-9a-fA-F]*$/.test(clean) || clean.length !== 2 * length) {
    throw new UsageError(
      `${what} must be ${length} bytes of hex (${2 * length} hex digits)`,
      command,
    );
  }
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
};

/** A byte count such as `4MiB`, `512KiB`, `10MB` or `1048576`; throws {@linkcode UsageError}. */
export function byteSize(text: string, what: string, command: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim());
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  const n = m && unit !== undefined ? Math.round(Number(m[1]) * unit) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new UsageError(
      `${what} must be a byte count such as 4MiB, 512KiB or 1048576, got ${JSON.stringify(text)}`,
      command,
    );
  }
  return n;
}

/** A positive number of seconds, as milliseconds; throws {@linkcode UsageError}. */
export function seconds(text: string, what: string, command: string): number {
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(n > 0)) {
    throw new UsageError(`${what} must be a positive number of seconds`, command);
  }
  return n * 1000;
}

/** `noisecat: <message> (code N)` for any error, with `context` in front when given. */
export function errorLine(e: unknown, context = ""): string {
  let message: string;
  let code: number;
  if (e instanceof NoiseError || e instanceof CliError) {
    message = e.message;
    code = e.code;
  } else {
    message = e instanceof Error ? e.message : String(e);
    code = NoiseErrorCode.Other;
  }
  return `noisecat: ${context ? `${context}: ` : ""}${message} (code ${code})`;
}
