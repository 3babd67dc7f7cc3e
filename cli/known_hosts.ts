/**
 * The pin file of `noisecat connect`, in the spirit of SSH's `known_hosts`: one
 * line per server, `HOST:PORT STATIC_KEY_HEX` (for WebSocket, the URL instead of
 * `HOST:PORT`); blank lines and lines starting with `#` are ignored.
 *
 * Default path: `$NOISECAT_KNOWN_HOSTS`, else `$XDG_CONFIG_HOME/noisecat/known_hosts`,
 * else `~/.config/noisecat/known_hosts`. The file is created with mode 0600 (its
 * folder 0700) when a pin is first saved.
 *
 * @module
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { fromHex, toHex } from "../lib/bytes.ts";
import { CliError } from "./args.ts";

/** One pinned server. */
export interface KnownHost {
  /** `HOST:PORT`, or a WebSocket URL. */
  host: string;
  /** The server's X25519 static key (32 bytes). */
  key: Uint8Array;
  /** Line number in the file (1-based). */
  line: number;
}

/** The default path of the pin file (see the module documentation). */
export function defaultKnownHostsPath(): string {
  const env = process.env.NOISECAT_KNOWN_HOSTS;
  if (env) return env;
  const config = process.env.XDG_CONFIG_HOME || path.join(os.homedir(), ".config");
  return path.join(config, "noisecat", "known_hosts");
}

/** A pin file, read once. */
export class KnownHosts {
  /** Where it lives. */
  readonly path: string;
  readonly #entries: KnownHost[];

  private constructor(file: string, entries: KnownHost[]) {
    this.path = file;
    this.#entries = entries;
  }

  /** Reads `file` (a missing file is an empty list); throws `CliError` for a malformed line. */
  static load(file: string): KnownHosts {
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (e) {
      if ((e as { code?: string })?.code === "ENOENT") return new KnownHosts(file, []);
      throw new CliError(`cannot read the pin file ${file}: ${String((e as Error)?.message)}`);
    }
    const entries: KnownHost[] = [];
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) return;
      const [host, hex] = line.split(/\s+/);
      if (hex === undefined || !/^[0-9a-fA-F]{64}$/.test(hex)) {
        throw new CliError(
          `${file}:${i + 1}: expected "HOST:PORT STATIC_KEY_HEX" (64 hex digits), got ${
            JSON.stringify(line.slice(0, 80))
          }`,
        );
      }
      entries.push({ host, key: fromHex(hex.toLowerCase()), line: i + 1 });
    });
    return new KnownHosts(file, entries);
  }

  /** The first entry for `host`, if any. */
  find(host: string): KnownHost | undefined {
    return this.#entries.find((e) => e.host === host);
  }

  /** Appends `host key` to the file (creating it, mode 0600) and returns the new entry. */
  add(host: string, key: Uint8Array): KnownHost {
    if (/\s/.test(host) || host === "") {
      throw new CliError(`cannot pin ${JSON.stringify(host)}: a host name has no spaces`);
    }
    let existing = "";
    try {
      fs.mkdirSync(path.dirname(this.path), { recursive: true, mode: 0o700 });
      try {
        existing = fs.readFileSync(this.path, "utf8");
      } catch {
        existing = "";
      }
      const head = existing === "" ? "# noisecat pins: HOST:PORT STATIC_KEY_HEX\n" : "";
      const sep = existing !== "" && !existing.endsWith("\n") ? "\n" : "";
      fs.appendFileSync(this.path, `${sep}${head}${host} ${toHex(key)}\n`, { mode: 0o600 });
    } catch (e) {
      throw new CliError(
        `cannot save the pin to ${this.path}: ${(e as { code?: string })?.code ?? String(e)}`,
      );
    }
    const lines = (existing === "" ? 1 : existing.replace(/\n$/, "").split("\n").length) + 1;
    const entry = { host, key: key.slice(), line: lines };
    this.#entries.push(entry);
    return entry;
  }
}
