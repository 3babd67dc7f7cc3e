/**
 * Paykit's Noise endpoint file, `/pub/paykit.app/v0/noise` in a server's public storage:
 * `{"host": …, "port": u16, "pubkey": "<hex X25519 static>", "metadata"?: …}`. It is how Paykit
 * discovers IK server keys today. **It is not signed**: anyone who can change what the reader
 * returns (the homeserver, the network path) can change the key. Results are therefore marked
 * `authenticated: false`; prefer the signed PKARR record ({@linkcode RelayResolver}).
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";
import { fromHex } from "../bytes.ts";
import { IK_SUITE } from "../client.ts";
import type { PublicStorageReader } from "../storage/types.ts";
import { attempt } from "../storage/retry.ts";
import { validatePath } from "../storage/paths.ts";
import {
  type PkarrResolver,
  type ResolvedNoiseRecord,
  type ResolveOptions,
  serverKey,
} from "./resolver.ts";

/** Where Paykit servers publish their Noise endpoint. */
export const PAYKIT_NOISE_PATH = "/pub/paykit.app/v0/noise";
/** Largest endpoint file read. */
export const MAX_PAYKIT_JSON_BYTES = 4096;

/**
 * Options of {@linkcode PaykitNoiseJsonResolver}.
 *
 * @example
 * ```ts
 * import { MemoryStorage } from "@pubky/noise/storage";
 * import { encodeZ32, PaykitNoiseJsonResolver, type PaykitNoiseJsonResolverOptions } from "@pubky/noise/pkarr";
 * const server = encodeZ32(new Uint8Array(32).fill(9));
 * const storage = new MemoryStorage({ owner: server }); // a HomeserverPublicReader in real life
 * const endpoint = { host: "pay.example", port: 9735, pubkey: "11".repeat(32) };
 * await storage.put("/pub/my-app/noise.json", new TextEncoder().encode(JSON.stringify(endpoint)));
 * const options: PaykitNoiseJsonResolverOptions = { path: "/pub/my-app/noise.json", timeoutMs: 2_000 };
 * const found = await new PaykitNoiseJsonResolver(storage, options).resolveNoiseRecord(server);
 * console.log(found.endpoint, found.authenticated); // { host: "pay.example", port: 9735 } false
 * ```
 */
export interface PaykitNoiseJsonResolverOptions {
  /** The file's path (default `/pub/paykit.app/v0/noise`). */
  path?: string;
  /** Limit of the read, ms (default 10 000). */
  timeoutMs?: number;
}

function pkarrError(detail: string): NoiseError {
  return new NoiseError(NoiseErrorCode.Pkarr, detail);
}

/**
 * Parses Paykit's endpoint JSON strictly enough to use it: an object with a non-empty `host`
 * string, an integer `port` in 0..=65535 and `pubkey`, 64 hex digits (32 bytes); `metadata` is
 * passed through. Unknown fields are ignored (as serde does). Throws `NoiseError` (Pkarr).
 */
export function parsePaykitNoiseJson(
  bytes: Uint8Array,
): { host: string; port: number; staticKey: Uint8Array; metadata?: unknown } {
  if (bytes.length > MAX_PAYKIT_JSON_BYTES) {
    throw pkarrError(
      `Paykit noise endpoint is oversized: ${bytes.length} bytes (max ${MAX_PAYKIT_JSON_BYTES})`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw pkarrError("Paykit noise endpoint is not valid JSON");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw pkarrError("Paykit noise endpoint must be a JSON object");
  }
  const { host, port, pubkey, metadata } = value as Record<string, unknown>;
  if (typeof host !== "string" || host.length === 0) {
    throw pkarrError("Paykit noise endpoint: host must be a non-empty string");
  }
  if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw pkarrError("Paykit noise endpoint: port must be an integer in 0..=65535");
  }
  if (typeof pubkey !== "string" || !/^[0-9a-fA-F]*$/.test(pubkey) || pubkey.length % 2 !== 0) {
    throw pkarrError("Paykit noise endpoint: pubkey must be hex");
  }
  if (pubkey.length !== 64) {
    throw pkarrError(
      `Paykit noise endpoint: static key must be 32 bytes, got ${pubkey.length / 2}`,
    );
  }
  const staticKey = fromHex(pubkey);
  if (staticKey.every((b) => b === 0)) {
    throw pkarrError("Paykit noise endpoint: static key is all zeros");
  }
  const out: { host: string; port: number; staticKey: Uint8Array; metadata?: unknown } = {
    host,
    port,
    staticKey,
  };
  if (metadata !== undefined) out.metadata = metadata;
  return out;
}

/**
 * Reads the **unsigned** Paykit endpoint file of a server through a
 * {@linkcode PublicStorageReader} (`pubky://<server>/pub/paykit.app/v0/noise`). The result has
 * `authenticated: false` and `source: "paykit"`; {@linkcode requireAuthenticated} refuses it.
 *
 * @example
 * ```ts
 * import { MemoryStorage } from "@pubky/noise/storage";
 * import { encodeZ32, PaykitNoiseJsonResolver } from "@pubky/noise/pkarr";
 * const server = encodeZ32(new Uint8Array(32).fill(9));
 * const storage = new MemoryStorage({ owner: server });
 * await storage.put("/pub/paykit.app/v0/noise", new TextEncoder().encode(
 *   JSON.stringify({ host: "pay.example", port: 9735, pubkey: "11".repeat(32) }),
 * ));
 * const found = await new PaykitNoiseJsonResolver(storage).resolveNoiseRecord(server);
 * console.log(found.authenticated, found.endpoint); // false { host: "pay.example", port: 9735 }
 * ```
 */
export class PaykitNoiseJsonResolver implements PkarrResolver {
  readonly #reader: PublicStorageReader;
  readonly #path: string;
  readonly #timeoutMs: number;

  /** A resolver reading through `reader`. */
  constructor(reader: PublicStorageReader, options: PaykitNoiseJsonResolverOptions = {}) {
    if (reader === null || typeof reader !== "object" || typeof reader.get !== "function") {
      throw pkarrError("reader must be a PublicStorageReader");
    }
    const path = options.path ?? PAYKIT_NOISE_PATH;
    validatePath(path);
    const timeoutMs = options.timeoutMs ?? 10000;
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) {
      throw pkarrError(`timeoutMs must be a positive integer, got ${String(options.timeoutMs)}`);
    }
    this.#reader = reader;
    this.#path = path;
    this.#timeoutMs = timeoutMs;
  }

  /** The unauthenticated endpoint of `serverId`. */
  async resolveNoiseRecord(
    serverId: string | Uint8Array,
    options: ResolveOptions = {},
  ): Promise<ResolvedNoiseRecord> {
    const { key, z32 } = serverKey(serverId);
    const location = `pubky://${z32}${this.#path}`;
    const bytes = await attempt(
      (signal) => this.#reader.get(location, signal),
      this.#timeoutMs,
      `GET ${location}`,
      options.signal,
    );
    if (bytes === null) throw pkarrError(`no Paykit noise endpoint published by ${z32}`);
    if (!(bytes instanceof Uint8Array)) throw pkarrError("the reader returned no bytes");
    const parsed = parsePaykitNoiseJson(bytes);
    const out: ResolvedNoiseRecord = {
      staticKey: parsed.staticKey,
      epoch: null,
      suite: IK_SUITE,
      expiresAt: null,
      ed25519: key,
      authenticated: false,
      source: "paykit",
      timestampMicros: null,
      endpoint: { host: parsed.host, port: parsed.port },
    };
    if (parsed.metadata !== undefined) out.metadata = parsed.metadata;
    return out;
  }
}
