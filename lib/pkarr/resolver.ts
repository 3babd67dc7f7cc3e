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
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseServer } from "@pubky/noise";
 * import { publishNoiseRecord, type RelayFetch, RelayResolver, type ResolvedNoiseRecord } from "@pubky/noise/pkarr";
 * const relayObjects = new Map<string, Uint8Array<ArrayBuffer>>(); // an in-memory PKARR relay
 * const relayFetch: RelayFetch = async (input, init) => {
 *   if (init?.method === "PUT") return relayObjects.set(String(input), init.body as Uint8Array<ArrayBuffer>), new Response(null);
 *   const payload = relayObjects.get(String(input));
 *   return payload ? new Response(payload) : new Response(null, { status: 404 });
 * };
 * const ring = await DummyRing.create(new Uint8Array(32).fill(2), "server");
 * const staticKey = await new NoiseServer("server", "server-device-0001", ring).staticPublicKey();
 * const expiresAt = Math.floor(Date.now() / 1000) + 86_400;
 * const relays = ["https://relay.example"];
 * const { publicKey } = await publishNoiseRecord(relays, { ring, kid: "server" }, { staticKey, expiresAt }, { fetch: relayFetch });
 * const record: ResolvedNoiseRecord = await new RelayResolver(relays, { fetch: relayFetch }).resolveNoiseRecord(publicKey);
 * const { source, authenticated, suite, epoch, endpoint } = record;
 * console.log(source, authenticated, suite, epoch, endpoint); // pkarr true Noise_IK_25519_ChaChaPoly_BLAKE2s 0 null
 * ```
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

/**
 * Options of {@linkcode PkarrResolver.resolveNoiseRecord}.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseServer } from "@pubky/noise";
 * import { publishNoiseRecord, type RelayFetch, RelayResolver, type ResolveOptions } from "@pubky/noise/pkarr";
 * const relayObjects = new Map<string, Uint8Array<ArrayBuffer>>(); // an in-memory PKARR relay
 * const relayFetch: RelayFetch = async (input, init) => {
 *   if (init?.method === "PUT") return relayObjects.set(String(input), init.body as Uint8Array<ArrayBuffer>), new Response(null);
 *   const payload = relayObjects.get(String(input));
 *   return payload ? new Response(payload) : new Response(null, { status: 404 });
 * };
 * const ring = await DummyRing.create(new Uint8Array(32).fill(2), "server");
 * const staticKey = await new NoiseServer("server", "server-device-0001", ring).staticPublicKey();
 * const expiresAt = Math.floor(Date.now() / 1000) + 86_400;
 * const relays = ["https://relay.example"];
 * const { publicKey } = await publishNoiseRecord(relays, { ring, kid: "server" }, { staticKey, expiresAt }, {
 *   fetch: relayFetch, label: "api",
 * });
 * const options: ResolveOptions = { label: "api", signal: AbortSignal.timeout(5_000) };
 * const found = await new RelayResolver(relays, { fetch: relayFetch }).resolveNoiseRecord(publicKey, options);
 * console.log(found.authenticated); // true
 * ```
 */
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
 * import { DummyRing, NoiseServer, toHex } from "@pubky/noise";
 * import { encodeZ32, type PkarrResolver, type ResolvedNoiseRecord } from "@pubky/noise/pkarr";
 * // Keys from the app's own configuration, behind the same interface as the relays.
 * const ring = await DummyRing.create(new Uint8Array(32).fill(2), "server");
 * const id = encodeZ32(await ring.ed25519PublicKey("server"));
 * const staticKey = await new NoiseServer("server", "server-device-0001", ring).staticPublicKey();
 * const fromConfig: PkarrResolver = {
 *   resolveNoiseRecord: (serverId): Promise<ResolvedNoiseRecord> =>
 *     serverId !== id ? Promise.reject(new Error("unknown server")) : Promise.resolve({
 *       staticKey, epoch: 0, suite: "Noise_IK_25519_ChaChaPoly_BLAKE2s", expiresAt: null,
 *       ed25519: new Uint8Array(32), authenticated: true, source: "pkarr", timestampMicros: null, endpoint: null,
 *     }),
 * };
 * console.log(toHex((await fromConfig.resolveNoiseRecord(id)).staticKey) === toHex(staticKey)); // true
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
