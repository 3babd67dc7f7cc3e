/**
 * PKARR over HTTP relays (pkarr `design/relays.md`): `PUT /<z32 key>` with the relay payload
 * `sig ‖ timestamp ‖ DNS packet`, `GET /<z32 key>` for the same bytes (404 if none).
 *
 * - {@linkcode publishNoiseRecord}: signs a packet with the server's `_noise` record (keeping
 *   the key's other records) and sends it to relays.
 * - {@linkcode RelayResolver}: fetches from relays, keeps the freshest packet whose signature
 *   verifies, refuses future timestamps and rollbacks, and checks the record.
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";
import type { Ed25519Signer } from "../crypto/ed25519.ts";
import type { RingKeyProvider } from "../ring.ts";
import { IK_SUITE } from "../client.ts";
import { abortError, attempt } from "../storage/retry.ts";
import {
  encodeRelayPayload,
  MAX_RELAY_PAYLOAD_LEN,
  type PacketSigner,
  type SignedPacket,
  signPacket,
  verifyRelayPayload,
} from "./signed_packet.ts";
import {
  buildNoisePacket,
  checkLabel,
  decodePacket,
  DEFAULT_RECORD_TTL,
  type DnsAnswer,
  findNoiseTxt,
  noiseRecordName,
  parseNoiseTxt,
} from "./record.ts";
import {
  type PkarrResolver,
  type ResolvedNoiseRecord,
  type ResolveOptions,
  serverKey,
} from "./resolver.ts";
import { encodeZ32 } from "./z32.ts";

/**
 * A `fetch`-compatible function.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseServer, toHex } from "@pubky/noise";
 * import { publishNoiseRecord, type RelayFetch, RelayResolver } from "@pubky/noise/pkarr";
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
 * const found = await new RelayResolver(relays, { fetch: relayFetch }).resolveNoiseRecord(publicKey);
 * console.log(found.authenticated, toHex(found.staticKey) === toHex(staticKey)); // true true
 * ```
 */
export type RelayFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** Default limit of one relay request, ms. */
export const DEFAULT_RELAY_TIMEOUT_MS = 10000;
/** Default tolerance for packet timestamps ahead of our clock, seconds. */
export const DEFAULT_MAX_FUTURE_SKEW_SECS = 300;

/**
 * Options shared by relay calls.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseError, NoiseServer } from "@pubky/noise";
 * import { publishNoiseRecord, type RelayFetch, type RelayOptions, RelayResolver } from "@pubky/noise/pkarr";
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
 * const nextYear: RelayOptions = { fetch: relayFetch, timeoutMs: 3_000, now: () => expiresAt + 365 * 86_400 };
 * await new RelayResolver(relays, nextYear).resolveNoiseRecord(publicKey)
 *   .catch((e: NoiseError) => console.log(e.codeName, e.detail.includes("expired"))); // Pkarr true
 * ```
 */
export interface RelayOptions {
  /** The `fetch` to use (default: the global one). */
  fetch?: RelayFetch;
  /** Limit of each relay request, ms (default 10 000). */
  timeoutMs?: number;
  /** The clock, Unix seconds (default: the system clock). */
  now?: () => number;
}

/**
 * Who signs a record: an `Ed25519Signer`, or a ring and the key id of the identity in it.
 *
 * @example
 * ```ts
 * import { importEd25519Seed, NoiseServer, DummyRing } from "@pubky/noise";
 * import { type NoiseRecordSigner, publishNoiseRecord, type RelayFetch } from "@pubky/noise/pkarr";
 * const relayObjects = new Map<string, Uint8Array<ArrayBuffer>>(); // an in-memory PKARR relay
 * const relayFetch: RelayFetch = async (input, init) => {
 *   if (init?.method === "PUT") return relayObjects.set(String(input), init.body as Uint8Array<ArrayBuffer>), new Response(null);
 *   const payload = relayObjects.get(String(input));
 *   return payload ? new Response(payload) : new Response(null, { status: 404 });
 * };
 * const seed = new Uint8Array(32).fill(2); // the server identity's Ed25519 seed
 * const ring = await DummyRing.create(seed, "server");
 * const bySigner: NoiseRecordSigner = await importEd25519Seed(seed); // an Ed25519Signer …
 * const byRing: NoiseRecordSigner = { ring, kid: "server" }; // … or a ring and key id: same identity
 * const record = { staticKey: await new NoiseServer("server", "server-device-0001", ring).staticPublicKey(), expiresAt: 2e9 };
 * const a = await publishNoiseRecord(["https://relay.example"], bySigner, record, { fetch: relayFetch });
 * const b = await publishNoiseRecord(["https://relay.example"], byRing, record, { fetch: relayFetch });
 * console.log(a.publicKey === b.publicKey, b.timestampMicros > a.timestampMicros); // true true
 * ```
 */
export type NoiseRecordSigner = Ed25519Signer | { ring: RingKeyProvider; kid: string };

/**
 * What {@linkcode publishNoiseRecord} publishes.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseServer } from "@pubky/noise";
 * import { type NoiseRecordInput, publishNoiseRecord, type RelayFetch, RelayResolver } from "@pubky/noise/pkarr";
 * const relayObjects = new Map<string, Uint8Array<ArrayBuffer>>(); // an in-memory PKARR relay
 * const relayFetch: RelayFetch = async (input, init) => {
 *   if (init?.method === "PUT") return relayObjects.set(String(input), init.body as Uint8Array<ArrayBuffer>), new Response(null);
 *   const payload = relayObjects.get(String(input));
 *   return payload ? new Response(payload) : new Response(null, { status: 404 });
 * };
 * const ring = await DummyRing.create(new Uint8Array(32).fill(2), "server");
 * const server = new NoiseServer("server", "server-device-0001", ring, { epoch: 3 }); // rotated keys
 * const record: NoiseRecordInput = {
 *   staticKey: await server.staticPublicKey(),
 *   epoch: 3,
 *   suite: "Noise_IK_25519_ChaChaPoly_BLAKE2s", // the default
 *   expiresAt: Math.floor(Date.now() / 1000) + 7 * 86_400, // republish before this
 * };
 * const relays = ["https://relay.example"];
 * const { publicKey } = await publishNoiseRecord(relays, { ring, kid: "server" }, record, { fetch: relayFetch });
 * console.log((await new RelayResolver(relays, { fetch: relayFetch }).resolveNoiseRecord(publicKey)).epoch); // 3
 * ```
 */
export interface NoiseRecordInput {
  /** The server's X25519 static public key (`NoiseServer.staticPublicKey()`). */
  staticKey: Uint8Array;
  /** The key epoch (default 0). */
  epoch?: number;
  /** The suite (default `Noise_IK_25519_ChaChaPoly_BLAKE2s`). */
  suite?: string;
  /** Expiry, Unix seconds. */
  expiresAt: number;
}

/**
 * Options of {@linkcode publishNoiseRecord}.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseServer } from "@pubky/noise";
 * import { publishNoiseRecord, type PublishOptions, type RelayFetch, RelayResolver } from "@pubky/noise/pkarr";
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
 * const options: PublishOptions = {
 *   label: "chat", // `_noise.chat.<key>`: one record per service of the same identity
 *   ttl: 600,
 *   merge: true, // keep the identity's other records (the default)
 *   fetch: relayFetch,
 * };
 * const { publicKey } = await publishNoiseRecord(relays, { ring, kid: "server" }, { staticKey, expiresAt }, options);
 * const resolver = new RelayResolver(relays, { fetch: relayFetch });
 * console.log((await resolver.resolveNoiseRecord(publicKey, { label: "chat" })).authenticated); // true
 * ```
 */
export interface PublishOptions extends RelayOptions {
  /** Publish as `_noise.<label>` (default: `_noise`). */
  label?: string;
  /** TTL of the record, seconds (default 300). */
  ttl?: number;
  /**
   * Keep the key's other records (default `true`): the current packet is fetched from the
   * relays first and its other records are re-published; the publish fails (Network/Timeout)
   * rather than overwrite a packet it could not read. `false` replaces the whole packet.
   */
  merge?: boolean;
  /** The packet timestamp in microseconds (default: the clock, and after the current packet's). */
  timestampMicros?: bigint;
  /** Aborts the publish. */
  signal?: AbortSignal;
}

/**
 * What {@linkcode publishNoiseRecord} did.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseServer } from "@pubky/noise";
 * import { publishNoiseRecord, type PublishResult, type RelayFetch } from "@pubky/noise/pkarr";
 * const relayObjects = new Map<string, Uint8Array<ArrayBuffer>>(); // an in-memory PKARR relay
 * const relayFetch: RelayFetch = async (input, init) => {
 *   if (init?.method === "PUT") return relayObjects.set(String(input), init.body as Uint8Array<ArrayBuffer>), new Response(null);
 *   const payload = relayObjects.get(String(input));
 *   return payload ? new Response(payload) : new Response(null, { status: 404 });
 * };
 * const down: RelayFetch = (input, init) =>
 *   init?.method === "PUT" ? Promise.resolve(new Response(null, { status: 503 })) : relayFetch(input, init);
 * const ring = await DummyRing.create(new Uint8Array(32).fill(2), "server");
 * const staticKey = await new NoiseServer("server", "server-device-0001", ring).staticPublicKey();
 * const expiresAt = Math.floor(Date.now() / 1000) + 86_400;
 * const both: RelayFetch = (input, init) => (String(input).startsWith("https://down.") ? down : relayFetch)(input, init);
 * const result: PublishResult = await publishNoiseRecord(
 *   ["https://relay.example", "https://down.example"], { ring, kid: "server" }, { staticKey, expiresAt }, { fetch: both },
 * );
 * console.log(result.accepted, result.failed.map((f) => f.error.codeName), result.payload.length > 72);
 * // [ "https://relay.example" ] [ "Network" ] true: published, as at least one relay took it
 * ```
 */
export interface PublishResult {
  /** The identity, z-base-32. */
  publicKey: string;
  /** The packet timestamp, microseconds. */
  timestampMicros: bigint;
  /** The relay payload that was sent. */
  payload: Uint8Array;
  /** Relays that accepted it. */
  accepted: string[];
  /** Relays that did not, with why. */
  failed: { relay: string; error: NoiseError }[];
}

/**
 * Options of {@linkcode RelayResolver}.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseServer } from "@pubky/noise";
 * import { publishNoiseRecord, type RelayFetch, RelayResolver, type RelayResolverOptions } from "@pubky/noise/pkarr";
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
 * const signer = { ring, kid: "server" };
 * const first = await publishNoiseRecord(relays, signer, { staticKey, expiresAt }, { fetch: relayFetch });
 * const options: RelayResolverOptions = { fetch: relayFetch, maxFutureSkewSecs: 60, rollbackProtection: true };
 * const resolver = new RelayResolver(relays, options);
 * await publishNoiseRecord(relays, signer, { staticKey, expiresAt: expiresAt + 1 }, { fetch: relayFetch });
 * console.log((await resolver.resolveNoiseRecord(first.publicKey)).expiresAt! - expiresAt); // 1
 * relayObjects.set(`${relays[0]}/${first.publicKey}`, new Uint8Array(first.payload)); // a relay serves the older packet
 * await resolver.resolveNoiseRecord(first.publicKey).catch((e) => console.log(e.codeName)); // Pkarr: rollback
 * ```
 */
export interface RelayResolverOptions extends RelayOptions {
  /** Largest accepted timestamp lead over our clock, seconds (default 300). */
  maxFutureSkewSecs?: number;
  /** Refuse a packet older than one this resolver has already seen for the key (default true). */
  rollbackProtection?: boolean;
}

function pkarrError(detail: string): NoiseError {
  return new NoiseError(NoiseErrorCode.Pkarr, detail);
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function systemNow(): number {
  return Date.now() / 1000;
}

function relayList(relays: string | string[]): string[] {
  const list = Array.isArray(relays) ? relays : [relays];
  if (list.length === 0) throw pkarrError("at least one relay URL is needed");
  return list.map((relay) => {
    let url: URL;
    try {
      url = new URL(relay);
    } catch {
      throw pkarrError(`invalid relay URL: ${String(relay)}`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw pkarrError(`relay URL must be http(s), got ${url.protocol}`);
    }
    return url.origin + url.pathname.replace(/\/+$/, "");
  });
}

function checkTimeout(ms: number | undefined): number {
  const value = ms ?? DEFAULT_RELAY_TIMEOUT_MS;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw pkarrError(`timeoutMs must be a positive integer, got ${String(ms)}`);
  }
  return value;
}

async function readCapped(response: Response, limit: number, what: string): Promise<Uint8Array> {
  const oversized = () =>
    pkarrError(`${what}: signed packet is oversized (more than ${limit} bytes)`);
  const declared = Number(response.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > limit) {
    response.body?.cancel().catch(() => {});
    throw oversized();
  }
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (e) {
      throw new NoiseError(
        NoiseErrorCode.Network,
        `${what}: reading the body failed: ${message(e)}`,
      );
    }
    if (chunk.done) break;
    total += chunk.value.length;
    if (total > limit) {
      reader.cancel().catch(() => {});
      throw oversized();
    }
    chunks.push(chunk.value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

async function relayRequest<T>(
  fetchFn: RelayFetch,
  url: string,
  init: RequestInit,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  handle: (response: Response, what: string) => Promise<T>,
): Promise<T> {
  const what = `${init.method ?? "GET"} ${url}`;
  return await attempt(
    async (s) => {
      let response: Response;
      try {
        response = await fetchFn(url, { ...init, signal: s });
      } catch (e) {
        if (s.aborted) throw s.reason;
        throw new NoiseError(NoiseErrorCode.Network, `${what}: ${message(e)}`);
      }
      return await handle(response, what);
    },
    timeoutMs,
    what,
    signal,
  );
}

async function resolveSigner(signer: NoiseRecordSigner): Promise<PacketSigner> {
  if (signer !== null && typeof signer === "object" && "ring" in signer) {
    const { ring, kid } = signer;
    const publicKey = await ring.ed25519PublicKey(kid);
    return { publicKey, sign: (m) => ring.signEd25519(kid, m) };
  }
  if (signer === null || typeof signer !== "object" || typeof signer.sign !== "function") {
    throw pkarrError("signer must be an Ed25519Signer or { ring, kid }");
  }
  return signer;
}

/**
 * A resolver of `_noise` records through PKARR relays.
 *
 * For every lookup it asks all relays (in parallel, each within `timeoutMs`), verifies every
 * packet against the key (signature over `3:seqi…e1:v…`, at most 1000 bytes of DNS packet,
 * timestamp not more than `maxFutureSkewSecs` ahead), keeps the freshest valid one — never an
 * older one than it has seen for that key before — and then requires exactly one well-formed,
 * unexpired `_noise` TXT record for the key. Anything wrong with the record is `Pkarr` (2000).
 *
 * @example
 * ```ts
 * import { clientStartIkDirect, DummyRing, NoiseClient, NoiseServer } from "@pubky/noise";
 * import { publishNoiseRecord, type RelayFetch, RelayResolver } from "@pubky/noise/pkarr";
 * const relayObjects = new Map<string, Uint8Array<ArrayBuffer>>(); // an in-memory PKARR relay
 * const relayFetch: RelayFetch = async (input, init) => {
 *   if (init?.method === "PUT") return relayObjects.set(String(input), init.body as Uint8Array<ArrayBuffer>), new Response(null);
 *   const payload = relayObjects.get(String(input));
 *   return payload ? new Response(payload) : new Response(null, { status: 404 });
 * };
 * const ring = await DummyRing.create(new Uint8Array(32).fill(2), "server");
 * const staticKey = await new NoiseServer("server", "server-device-0001", ring).staticPublicKey();
 * const expiresAt = Math.floor(Date.now() / 1000) + 86_400;
 * const relays = ["https://relay.example"]; // e.g. https://relay.pkarr.org, without `fetch`
 * const { publicKey } = await publishNoiseRecord(relays, { ring, kid: "server" }, { staticKey, expiresAt }, { fetch: relayFetch });
 *
 * // Client: from the server's identity (its z-base-32 key) to an IK handshake.
 * const resolver = new RelayResolver(relays, { fetch: relayFetch, timeoutMs: 5_000 });
 * const record = await resolver.resolveNoiseRecord(publicKey);
 * const client = new NoiseClient("kid", "client-device-0001", await DummyRing.create(new Uint8Array(32).fill(1), "kid"));
 * const { firstMsg } = await clientStartIkDirect(client, record.staticKey);
 * console.log(record.source, record.authenticated, firstMsg.length); // pkarr true 484
 * ```
 */
export class RelayResolver implements PkarrResolver {
  readonly #relays: string[];
  readonly #fetch: RelayFetch;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  readonly #skew: number;
  readonly #rollback: boolean;
  readonly #seen = new Map<string, bigint>();

  /** A resolver asking `relays` (base URLs). */
  constructor(relays: string | string[], options: RelayResolverOptions = {}) {
    this.#relays = relayList(relays);
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#timeoutMs = checkTimeout(options.timeoutMs);
    this.#now = options.now ?? systemNow;
    const skew = options.maxFutureSkewSecs ?? DEFAULT_MAX_FUTURE_SKEW_SECS;
    if (typeof skew !== "number" || !(skew >= 0)) {
      throw pkarrError("maxFutureSkewSecs must be a non-negative number");
    }
    this.#skew = skew;
    this.#rollback = options.rollbackProtection ?? true;
  }

  /** The relays asked. */
  get relays(): string[] {
    return [...this.#relays];
  }

  async #get(relay: string, z32: string, signal?: AbortSignal): Promise<Uint8Array | null> {
    return await relayRequest(
      this.#fetch,
      `${relay}/${z32}`,
      { method: "GET" },
      this.#timeoutMs,
      signal,
      async (response, what) => {
        if (response.status === 404) {
          response.body?.cancel().catch(() => {});
          return null;
        }
        if (response.status !== 200) {
          response.body?.cancel().catch(() => {});
          throw new NoiseError(NoiseErrorCode.Network, `${what} answered HTTP ${response.status}`);
        }
        return await readCapped(response, MAX_RELAY_PAYLOAD_LEN, what);
      },
    );
  }

  /**
   * The freshest verified signed packet of `serverId` on the relays, or `null` if no relay has
   * one. Throws `Pkarr` (2000) if relays answered only with invalid packets, `Network` /
   * `Timeout` if none answered.
   */
  async fetchSignedPacket(
    serverId: string | Uint8Array,
    options: { signal?: AbortSignal } = {},
  ): Promise<SignedPacket | null> {
    const { key, z32 } = serverKey(serverId);
    const results = await Promise.allSettled(
      this.#relays.map((relay) => this.#get(relay, z32, options.signal)),
    );
    if (options.signal?.aborted) throw abortError(options.signal, `GET ${z32}`);
    const valid: SignedPacket[] = [];
    const invalid: NoiseError[] = [];
    const unreachable: NoiseError[] = [];
    const limit = BigInt(Math.floor((this.#now() + this.#skew) * 1e6));
    for (const [i, result] of results.entries()) {
      if (result.status === "rejected") {
        const e = result.reason instanceof NoiseError
          ? result.reason
          : new NoiseError(NoiseErrorCode.Network, message(result.reason));
        (e.code === NoiseErrorCode.Pkarr ? invalid : unreachable).push(e);
        continue;
      }
      if (result.value === null) continue;
      try {
        const packet = await verifyRelayPayload(key, result.value);
        if (packet.timestampMicros > limit) {
          throw pkarrError(
            `signed packet timestamp ${packet.timestampMicros}µs is in the future (from ${
              this.#relays[i]
            })`,
          );
        }
        valid.push(packet);
      } catch (e) {
        invalid.push(e as NoiseError);
      }
    }
    if (valid.length === 0) {
      if (invalid.length > 0) throw invalid[0];
      if (unreachable.length > 0) throw unreachable[0];
      return null;
    }
    const freshest = valid.reduce((a, b) => b.timestampMicros > a.timestampMicros ? b : a);
    const seen = this.#seen.get(z32);
    if (this.#rollback && seen !== undefined && freshest.timestampMicros < seen) {
      throw pkarrError(
        `signed packet of ${z32} is older than one already seen (${freshest.timestampMicros} < ${seen}): possible rollback`,
      );
    }
    if (seen === undefined || freshest.timestampMicros > seen) {
      this.#seen.set(z32, freshest.timestampMicros);
    }
    return freshest;
  }

  /** The verified `_noise` record of `serverId` (see the class documentation). */
  async resolveNoiseRecord(
    serverId: string | Uint8Array,
    options: ResolveOptions = {},
  ): Promise<ResolvedNoiseRecord> {
    checkLabel(options.label);
    const { key, z32 } = serverKey(serverId);
    const packet = await this.fetchSignedPacket(key, options);
    if (packet === null) throw pkarrError(`no PKARR record published for ${z32}`);
    const name = noiseRecordName(z32, options.label);
    const record = parseNoiseTxt(findNoiseTxt(decodePacket(packet.packet), name));
    const now = this.#now();
    if (now > record.expiresAt) {
      throw pkarrError(`${name} record expired at ${record.expiresAt} (now ${Math.floor(now)})`);
    }
    return {
      staticKey: record.staticKey,
      epoch: record.epoch,
      suite: record.suite,
      expiresAt: record.expiresAt,
      ed25519: key,
      authenticated: true,
      source: "pkarr",
      timestampMicros: packet.timestampMicros,
      endpoint: null,
    };
  }
}

/**
 * Publishes a server's `_noise` record to PKARR relays, signed by its Ed25519 identity.
 *
 * With `merge` (the default) the key's current packet is read from the relays first (verified)
 * and its other records are kept; the new packet's timestamp is after the current one. Resolves
 * when at least one relay accepted it. Throws `Pkarr` (2000) for a bad record, a packet over
 * 1000 bytes, a signer whose signature does not verify, or when every relay refused; `Network`
 * / `Timeout` when no relay could be reached.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseServer } from "@pubky/noise";
 * import { publishNoiseRecord, type RelayFetch } from "@pubky/noise/pkarr";
 * const relayObjects = new Map<string, Uint8Array<ArrayBuffer>>(); // an in-memory PKARR relay
 * const relayFetch: RelayFetch = async (input, init) => {
 *   if (init?.method === "PUT") return relayObjects.set(String(input), init.body as Uint8Array<ArrayBuffer>), new Response(null);
 *   const payload = relayObjects.get(String(input));
 *   return payload ? new Response(payload) : new Response(null, { status: 404 });
 * };
 * const ring = await DummyRing.create(new Uint8Array(32).fill(2), "server");
 * const server = new NoiseServer("server", "server-device-0001", ring);
 * const record = {
 *   staticKey: await server.staticPublicKey(),
 *   expiresAt: Math.floor(Date.now() / 1000) + 86_400, // republish before it expires
 * };
 * const relays = ["https://relay.example"]; // e.g. https://relay.pkarr.org, without `fetch`
 * const result = await publishNoiseRecord(relays, { ring, kid: "server" }, record, { fetch: relayFetch });
 * console.log(result.publicKey, result.accepted); // the server's pubky id, [ "https://relay.example" ]
 * ```
 */
export async function publishNoiseRecord(
  relays: string | string[],
  signer: NoiseRecordSigner,
  record: NoiseRecordInput,
  options: PublishOptions = {},
): Promise<PublishResult> {
  const list = relayList(relays);
  const timeoutMs = checkTimeout(options.timeoutMs);
  const fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
  const now = options.now ?? systemNow;
  checkLabel(options.label);
  const packetSigner = await resolveSigner(signer);
  const publicKey = packetSigner.publicKey;
  const { z32 } = serverKey(publicKey);
  const full = {
    staticKey: record.staticKey,
    epoch: record.epoch ?? 0,
    suite: record.suite ?? IK_SUITE,
    expiresAt: record.expiresAt,
  };
  let keep: DnsAnswer[] = [];
  let after = -1n;
  if (options.merge ?? true) {
    const reader = new RelayResolver(list, {
      fetch: fetchFn,
      timeoutMs,
      now,
      rollbackProtection: false,
    });
    let current: SignedPacket | null = null;
    try {
      current = await reader.fetchSignedPacket(publicKey, { signal: options.signal });
    } catch (e) {
      const error = e as NoiseError;
      if (error.code !== NoiseErrorCode.Pkarr) {
        throw new NoiseError(
          error.code,
          `cannot read the current packet of ${z32} to keep its other records (pass merge: false to replace it): ${error.detail}`,
        );
      }
      // Only invalid packets on the relays: nothing verifiable to keep.
    }
    if (current !== null) {
      keep = decodePacket(current.packet);
      after = current.timestampMicros;
    }
  }
  const packet = buildNoisePacket(
    noiseRecordName(z32, options.label),
    full,
    options.ttl ?? DEFAULT_RECORD_TTL,
    keep,
  );
  let timestamp = options.timestampMicros ?? BigInt(Math.floor(now() * 1e6));
  if (options.timestampMicros === undefined && timestamp <= after) timestamp = after + 1n;
  const signed = await signPacket(packetSigner, packet, timestamp);
  const payload = encodeRelayPayload(signed);
  try {
    await verifyRelayPayload(publicKey, payload);
  } catch {
    throw pkarrError("the signer's signature does not verify with its public key");
  }
  const outcomes = await Promise.allSettled(list.map((relay) =>
    relayRequest(
      fetchFn,
      `${relay}/${z32}`,
      { method: "PUT", body: new Uint8Array(payload) },
      timeoutMs,
      options.signal,
      (response, what) => {
        response.body?.cancel().catch(() => {});
        if (response.status >= 200 && response.status <= 299) return Promise.resolve();
        const code = response.status >= 500 ? NoiseErrorCode.Network : NoiseErrorCode.Pkarr;
        return Promise.reject(new NoiseError(code, `${what} answered HTTP ${response.status}`));
      },
    )
  ));
  const accepted: string[] = [];
  const failed: { relay: string; error: NoiseError }[] = [];
  for (const [i, outcome] of outcomes.entries()) {
    if (outcome.status === "fulfilled") accepted.push(list[i]);
    else {
      const error = outcome.reason instanceof NoiseError
        ? outcome.reason
        : new NoiseError(NoiseErrorCode.Network, message(outcome.reason));
      failed.push({ relay: list[i], error });
    }
  }
  if (accepted.length === 0) {
    const refused = failed.find((f) => f.error.code === NoiseErrorCode.Pkarr);
    const detail = failed.map((f) => `${f.relay}: ${f.error.message}`).join("; ");
    if (refused) throw pkarrError(`no relay accepted the record: ${detail}`);
    throw new NoiseError(failed[0].error.code, `no relay accepted the record: ${detail}`);
  }
  return { publicKey: encodeZ32(publicKey), timestampMicros: timestamp, payload, accepted, failed };
}
