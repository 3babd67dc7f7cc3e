/**
 * Where an IK client gets a server's static key: the {@linkcode PkarrResolver} interface and
 * what it returns.
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";
import { decodeZ32Key, encodeZ32 } from "./z32.ts";
import { copyBytes } from "../bytes.ts";

/**
 * A server's Noise static key as a resolver found it.
 *
 * Check {@linkcode authenticated} before trusting it: `true` only when the key came from a
 * record signed by the server's Ed25519 identity and was verified (signature, expiry,
 * binding). {@linkcode requireAuthenticated} does that check.
 */
export interface ResolvedNoiseRecord {
  /** The server's X25519 static public key (32 bytes): what an IK client pins. */
  staticKey: Uint8Array;
  /** The key epoch, if the source states one. */
  epoch: number | null;
  /** The Noise protocol name the server offers. */
  suite: string;
  /** Expiry in Unix seconds, if the source states one. */
  expiresAt: number | null;
  /** The Ed25519 identity (PKARR key) the record belongs to. */
  ed25519: Uint8Array;
  /** Whether the record was signed by `ed25519` and verified. */
  authenticated: boolean;
  /** Where it came from: a signed PKARR record, or Paykit's unsigned JSON. */
  source: "pkarr" | "paykit";
  /** The PKARR packet timestamp (microseconds), for signed records. */
  timestampMicros: bigint | null;
  /** Host and port, when the source names them (Paykit). */
  endpoint: { host: string; port: number } | null;
  /** Extra data of the source (Paykit `metadata`), unverified. */
  metadata?: unknown;
}

/** Options of {@linkcode PkarrResolver.resolveNoiseRecord}. */
export interface ResolveOptions {
  /** The record label: `_noise.<label>` instead of `_noise` (PKARR only). */
  label?: string;
  /** Aborts the lookup. */
  signal?: AbortSignal;
}

/**
 * A source of servers' Noise static keys, keyed by the server's Ed25519 identity (z-base-32,
 * optionally `pk:`-prefixed, or the 32 bytes). Failures are `NoiseError`s: `Pkarr` (2000) for
 * missing or bad records, `Network` (8000) / `Timeout` (8001) when no source answered.
 *
 * @example
 * ```ts
 * import type { PkarrResolver, ResolvedNoiseRecord } from "@pubky/noise/pkarr";
 * const pinned = new Map<string, ResolvedNoiseRecord>();
 * const fromConfig: PkarrResolver = {
 *   resolveNoiseRecord: (id) => {
 *     const found = pinned.get(String(id));
 *     return found ? Promise.resolve(found) : Promise.reject(new Error("unknown server"));
 *   },
 * };
 * console.log(typeof fromConfig.resolveNoiseRecord); // function
 * ```
 */
export interface PkarrResolver {
  /** The static key of `serverId`. */
  resolveNoiseRecord(
    serverId: string | Uint8Array,
    options?: ResolveOptions,
  ): Promise<ResolvedNoiseRecord>;
}

/** The 32-byte key and z-base-32 name of a server id; Pkarr (2000) if it is neither. */
export function serverKey(serverId: string | Uint8Array): { key: Uint8Array; z32: string } {
  if (serverId instanceof Uint8Array) {
    if (serverId.length !== 32) {
      throw new NoiseError(
        NoiseErrorCode.Pkarr,
        `server Ed25519 key must be 32 bytes, got ${serverId.length}`,
      );
    }
    return { key: copyBytes(serverId), z32: encodeZ32(serverId) };
  }
  const key = decodeZ32Key(serverId);
  return { key, z32: encodeZ32(key) };
}

/**
 * `record`, if it is authenticated; else `NoiseError` (Pkarr, 2000). Use it where only a
 * signed, verified key may be used.
 *
 * @example
 * ```ts
 * import { requireAuthenticated, type ResolvedNoiseRecord } from "@pubky/noise/pkarr";
 * const unsigned = { authenticated: false, source: "paykit" } as ResolvedNoiseRecord;
 * try {
 *   requireAuthenticated(unsigned);
 * } catch (e) {
 *   console.log((e as Error).message); // pkarr error: the paykit record is not authenticated …
 * }
 * ```
 */
export function requireAuthenticated(record: ResolvedNoiseRecord): ResolvedNoiseRecord {
  if (record.authenticated !== true) {
    throw new NoiseError(
      NoiseErrorCode.Pkarr,
      `the ${record.source} record is not authenticated (unsigned): refusing to use its key`,
    );
  }
  return record;
}
