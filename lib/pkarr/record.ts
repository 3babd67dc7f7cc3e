/**
 * The `_noise` TXT record that binds a server's Noise static key to its Ed25519 (PKARR)
 * identity, and the DNS packets that carry it (encoded with `@dnsquery/dns-packet`).
 *
 * Record: a TXT record named `_noise.<z32 key>` (or `_noise.<label>.<z32 key>`) whose text
 * (character-strings joined) is exactly
 *
 * ```
 * v=1;suite=<suite>;k=<key>;e=<epoch>;exp=<expiry>
 * ```
 *
 * - `v`: the format version, first; only `1` is known (anything else is refused).
 * - `suite`: `Noise_IK_25519_ChaChaPoly_BLAKE2s` or `Noise_XX_25519_ChaChaPoly_BLAKE2s`.
 * - `k`: the 32-byte X25519 static public key, unpadded base64url (43 characters).
 * - `e`: the key epoch (decimal, 0..=4294967295, no leading zeros).
 * - `exp`: expiry, Unix seconds (decimal, no leading zeros); the record is void once
 *   `now > exp`.
 *
 * Fields appear once each, in this order; anything else is a `Pkarr` (2000) error.
 *
 * @module
 */
import * as dns from "@dnsquery/dns-packet";
import { NoiseError, NoiseErrorCode } from "../errors.ts";
import { IK_SUITE, XX_SUITE } from "../client.ts";
import { decodeBase64Url, encodeBase64Url } from "../bytes.ts";
import { MAX_DNS_PACKET_LEN } from "./signed_packet.ts";

/** The only known record version. */
export const NOISE_RECORD_VERSION = 1;
/** The record's name below the key (`_noise.<z32>`). */
export const NOISE_RECORD_NAME = "_noise";
/** Suites a record may name. */
export const NOISE_RECORD_SUITES: readonly string[] = Object.freeze([IK_SUITE, XX_SUITE]);
/** Default TTL of published records, seconds. */
export const DEFAULT_RECORD_TTL = 300;

const FIELDS = ["suite", "k", "e", "exp"] as const;
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const DECIMAL = /^(0|[1-9][0-9]*)$/;

/**
 * What a `_noise` record says.
 *
 * @example
 * ```ts
 * import { formatNoiseTxt, type NoiseRecord, parseNoiseTxt } from "@pubky/noise/pkarr";
 * const record: NoiseRecord = {
 *   staticKey: new Uint8Array(32).fill(1),
 *   epoch: 0,
 *   suite: "Noise_IK_25519_ChaChaPoly_BLAKE2s",
 *   expiresAt: 1_800_000_000,
 * };
 * // For publishing through another PKARR client: the TXT text of `_noise.<key>`.
 * const text = formatNoiseTxt(record);
 * console.log(parseNoiseTxt(text).expiresAt === record.expiresAt, text.length); // true 108
 * ```
 */
export interface NoiseRecord {
  /** The server's X25519 static public key (32 bytes). */
  staticKey: Uint8Array;
  /** The key epoch. */
  epoch: number;
  /** The Noise protocol name. */
  suite: string;
  /** Expiry, Unix seconds. */
  expiresAt: number;
}

/** One DNS resource record as `@dnsquery/dns-packet` decodes it. */
export interface DnsAnswer {
  /** Owner name, without trailing dot. */
  name: string;
  /** Record type (`"TXT"`, `"A"`, …, `"UNKNOWN_64"` for types the codec does not know). */
  type: string;
  /** Class, normally `"IN"`. */
  class?: string;
  /** TTL, seconds. */
  ttl?: number;
  /** Type-specific data. */
  data?: unknown;
}

function pkarrError(detail: string): NoiseError {
  return new NoiseError(NoiseErrorCode.Pkarr, detail);
}

/** Throws unless `label` is a lowercase DNS label (letters, digits, inner hyphens). */
export function checkLabel(label: string | undefined): void {
  if (label !== undefined && (typeof label !== "string" || !LABEL.test(label))) {
    throw pkarrError(`record label must be a lowercase DNS label, got ${JSON.stringify(label)}`);
  }
}

/**
 * The full record name: `_noise[.<label>].<origin>`.
 *
 * @example
 * ```ts
 * import { encodeZ32, noiseRecordName } from "@pubky/noise/pkarr";
 * const origin = encodeZ32(new Uint8Array(32).fill(9)); // the server identity's z-base-32 key
 * console.log(noiseRecordName(origin).split(".")[0], noiseRecordName(origin, "chat").split(".").slice(0, 2)); // _noise [ "_noise", "chat" ]
 * ```
 */
export function noiseRecordName(origin: string, label?: string): string {
  checkLabel(label);
  return label === undefined
    ? `${NOISE_RECORD_NAME}.${origin}`
    : `${NOISE_RECORD_NAME}.${label}.${origin}`;
}

function checkRecord(record: NoiseRecord): void {
  if (!(record.staticKey instanceof Uint8Array) || record.staticKey.length !== 32) {
    const got = record.staticKey instanceof Uint8Array ? `${record.staticKey.length}` : "no";
    throw pkarrError(`static key must be 32 bytes, got ${got}`);
  }
  if (record.staticKey.every((b) => b === 0)) throw pkarrError("static key is all zeros");
  if (!NOISE_RECORD_SUITES.includes(record.suite)) {
    throw pkarrError(`unsupported suite ${JSON.stringify(record.suite)}`);
  }
  if (!Number.isInteger(record.epoch) || record.epoch < 0 || record.epoch > 0xffff_ffff) {
    throw pkarrError(`epoch must be an integer in 0..=4294967295, got ${record.epoch}`);
  }
  if (!Number.isSafeInteger(record.expiresAt) || record.expiresAt < 0) {
    throw pkarrError(
      `expiry must be a non-negative integer of Unix seconds, got ${record.expiresAt}`,
    );
  }
}

/**
 * The TXT text of `record`. Throws `NoiseError` (Pkarr) for a key that is not 32 bytes, an
 * unknown suite, or a bad epoch or expiry.
 *
 * @example
 * ```ts
 * import { formatNoiseTxt } from "@pubky/noise/pkarr";
 * const suite = "Noise_IK_25519_ChaChaPoly_BLAKE2s";
 * const txt = formatNoiseTxt({ staticKey: new Uint8Array(32).fill(1), epoch: 0, suite, expiresAt: 1800000000 });
 * console.log(txt); // v=1;suite=Noise_IK_25519_ChaChaPoly_BLAKE2s;k=AQEB…AQE;e=0;exp=1800000000
 * ```
 */
export function formatNoiseTxt(record: NoiseRecord): string {
  checkRecord(record);
  return `v=${NOISE_RECORD_VERSION};suite=${record.suite};k=${
    encodeBase64Url(record.staticKey)
  };e=${record.epoch};exp=${record.expiresAt}`;
}

function decimal(value: string, max: number, what: string): number {
  if (!DECIMAL.test(value) || value.length > 16 || Number(value) > max) {
    throw pkarrError(`malformed _noise record: ${what} must be a decimal integer ≤ ${max}`);
  }
  return Number(value);
}

/**
 * Parses the TXT text of a `_noise` record strictly (see the module documentation). Throws
 * `NoiseError` (Pkarr, 2000): unknown version, fields missing, extra, repeated or out of order,
 * unknown suite, a key that is not 32 bytes of base64url, bad numbers. Does not check expiry.
 *
 * @example
 * ```ts
 * import { NoiseError } from "@pubky/noise";
 * import { parseNoiseTxt } from "@pubky/noise/pkarr";
 * const text = "v=1;suite=Noise_IK_25519_ChaChaPoly_BLAKE2s;k=AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE;e=0;exp=1800000000";
 * const record = parseNoiseTxt(text);
 * console.log(record.staticKey.length, record.epoch, record.expiresAt); // 32 0 1800000000
 * try {
 *   parseNoiseTxt(text.replace("v=1", "v=2"));
 * } catch (e) {
 *   console.log((e as NoiseError).codeName); // Pkarr: unknown version
 * }
 * ```
 */
export function parseNoiseTxt(text: string): NoiseRecord {
  if (typeof text !== "string") throw pkarrError("malformed _noise record: not text");
  const parts = text.split(";");
  const head = parts[0];
  if (!head.startsWith("v=")) throw pkarrError("malformed _noise record: no version (v=) first");
  const version = head.slice(2);
  if (version !== String(NOISE_RECORD_VERSION)) {
    throw pkarrError(`unsupported _noise record version ${JSON.stringify(version)}`);
  }
  const rest = parts.slice(1);
  const values: string[] = [];
  if (rest.length !== FIELDS.length) {
    throw pkarrError("malformed _noise record: expected exactly v, suite, k, e, exp");
  }
  for (const [i, field] of rest.entries()) {
    const eq = field.indexOf("=");
    if (eq < 0 || field.slice(0, eq) !== FIELDS[i]) {
      throw pkarrError("malformed _noise record: expected exactly v, suite, k, e, exp");
    }
    values.push(field.slice(eq + 1));
  }
  const [suite, k, e, exp] = values;
  if (!NOISE_RECORD_SUITES.includes(suite)) {
    throw pkarrError(`unsupported suite ${JSON.stringify(suite)}`);
  }
  const staticKey = decodeBase64Url(k);
  if (staticKey === null) throw pkarrError("static key is not unpadded base64url");
  if (staticKey.length !== 32) {
    throw pkarrError(`static key must be 32 bytes, got ${staticKey.length}`);
  }
  if (staticKey.every((b) => b === 0)) throw pkarrError("static key is all zeros");
  const epoch = decimal(e, 0xffff_ffff, "epoch");
  const expiresAt = decimal(exp, Number.MAX_SAFE_INTEGER, "expiry");
  return { staticKey, epoch, suite, expiresAt };
}

/** Decodes a DNS packet; Pkarr (2000) if it does not decode. */
export function decodePacket(packet: Uint8Array): DnsAnswer[] {
  if (packet.length > MAX_DNS_PACKET_LEN) {
    throw pkarrError(`DNS packet is oversized: ${packet.length} bytes (max ${MAX_DNS_PACKET_LEN})`);
  }
  try {
    const decoded = dns.decode(packet) as { answers?: DnsAnswer[] };
    return decoded.answers ?? [];
  } catch (e) {
    throw pkarrError(`malformed DNS packet: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Encodes `answers` as a PKARR DNS packet (a response with answers only). */
export function encodePacket(answers: DnsAnswer[]): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = dns.encode(
      { type: "response", id: 0, flags: 0, answers } as unknown as dns.Packet,
    );
  } catch (e) {
    throw pkarrError(`cannot encode DNS packet: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (bytes.length > MAX_DNS_PACKET_LEN) {
    throw pkarrError(
      `DNS packet is ${bytes.length} bytes, more than the ${MAX_DNS_PACKET_LEN} a PKARR record may hold`,
    );
  }
  return bytes;
}

function sameName(a: string, b: string): boolean {
  return a.replace(/\.$/, "").toLowerCase() === b.toLowerCase();
}

/** The `_noise` TXT text at `name` in `answers`: exactly one such record, strings joined. */
export function findNoiseTxt(answers: DnsAnswer[], name: string): string {
  const found = answers.filter((a) => a.type === "TXT" && sameName(a.name, name));
  if (found.length === 0) throw pkarrError(`no ${name} TXT record in the signed packet`);
  if (found.length > 1) throw pkarrError(`more than one ${name} TXT record in the signed packet`);
  const data = found[0].data;
  const strings = Array.isArray(data) ? data : [data];
  const decoder = new TextDecoder("utf-8", { fatal: true });
  try {
    return strings.map((s) => s instanceof Uint8Array ? decoder.decode(s) : String(s)).join("");
  } catch {
    throw pkarrError(`${name} TXT record is not UTF-8`);
  }
}

/**
 * A packet with `record` at `name` (TTL `ttl`), keeping the other records of `keep` (any
 * previous record at `name` is dropped).
 */
export function buildNoisePacket(
  name: string,
  record: NoiseRecord,
  ttl: number = DEFAULT_RECORD_TTL,
  keep: DnsAnswer[] = [],
): Uint8Array {
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 0x7fff_ffff) {
    throw pkarrError(`ttl must be an integer in 0..=2147483647, got ${ttl}`);
  }
  const text = formatNoiseTxt(record);
  const others = keep.filter((a) => !(a.type === "TXT" && sameName(a.name, name)));
  return encodePacket([...others, { name, type: "TXT", class: "IN", ttl, data: [text] }]);
}
