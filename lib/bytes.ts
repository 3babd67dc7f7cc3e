/**
 * Small byte helpers shared by every layer: hex, concatenation, constant-time
 * comparison and wiping.
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "./errors.ts";

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * Lowercase hex of `bytes`.
 *
 * @example
 * ```ts
 * import { toHex } from "@pubky/noise";
 * console.log(toHex(new Uint8Array([0, 15, 255]))); // 000fff
 * ```
 */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]];
  return out;
}

/**
 * Bytes of a hex string (either case); throws `NoiseError` (Other) on bad input.
 *
 * @example
 * ```ts
 * import { fromHex, NoiseError } from "@pubky/noise";
 * console.log(fromHex("000FFF")); // Uint8Array(3) [ 0, 15, 255 ]
 * try {
 *   fromHex("abc");
 * } catch (e) {
 *   console.log((e as NoiseError).codeName); // Other
 * }
 * ```
 */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new NoiseError(
      NoiseErrorCode.Other,
      "Invalid hex: expected an even number of hex digits",
    );
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The concatenation of `parts` in a new array. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Equality of two byte arrays in time independent of where they differ. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Whether every byte is zero, in time independent of the content. */
export function isAllZero(a: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc |= a[i];
  return acc === 0;
}

/** Overwrites `buffers` with zeros (best effort: JS cannot pin or lock memory). */
export function wipe(...buffers: (Uint8Array | null | undefined)[]): void {
  for (const b of buffers) b?.fill(0);
}

/** UTF-8 bytes of `text`. */
export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Throws a `NoiseError` unless `bytes` is a `Uint8Array` of exactly `length` bytes. */
export function expectLength(
  bytes: Uint8Array,
  length: number,
  what: string,
  code: NoiseErrorCode = NoiseErrorCode.Other,
): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    const got = bytes instanceof Uint8Array ? `${bytes.length} bytes` : typeof bytes;
    throw new NoiseError(code, `${what} must be ${length} bytes, got ${got}`);
  }
}

/**
 * A copy of `bytes` (or of `bytes[start..end]`) as a plain `Uint8Array`. Not
 * `bytes.slice()`: a Node `Buffer`'s `slice` is a view, so wiping or keeping
 * that "copy" would touch the caller's memory.
 */
export function copyBytes(
  bytes: Uint8Array,
  start = 0,
  end: number = bytes.length,
): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes.subarray(start, end));
}

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const B64URL_REVERSE: Record<string, number> = Object.fromEntries(
  [...B64URL].map((c, i) => [c, i]),
);

/**
 * Unpadded base64url (RFC 4648 §5) of `bytes`: the `k=` of a PKARR record, the `x` of a JWK.
 *
 * @example
 * ```ts
 * import { encodeBase64Url } from "./bytes.ts";
 * console.log(encodeBase64Url(new Uint8Array([0xfb, 0xff]))); // -_8
 * ```
 */
export function encodeBase64Url(bytes: Uint8Array): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += B64URL[(buffer >>> bits) & 63];
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += B64URL[(buffer << (6 - bits)) & 63];
  return out;
}

/**
 * The bytes of unpadded, canonical base64url, or `null` if `text` is not exactly that
 * (padding, other characters, an impossible length or non-zero trailing bits).
 *
 * @example
 * ```ts
 * import { decodeBase64Url } from "./bytes.ts";
 * console.log(decodeBase64Url("-_8"), decodeBase64Url("-_9")); // Uint8Array(2) [ 251, 255 ] null
 * ```
 */
export function decodeBase64Url(text: string): Uint8Array | null {
  if (typeof text !== "string" || text.length % 4 === 1) return null;
  const out = new Uint8Array(Math.floor((text.length * 6) / 8));
  let buffer = 0;
  let bits = 0;
  let index = 0;
  for (const c of text) {
    const v = B64URL_REVERSE[c];
    if (v === undefined) return null;
    buffer = (buffer << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[index++] = (buffer >>> bits) & 0xff;
      buffer &= (1 << bits) - 1;
    }
  }
  return buffer === 0 ? out : null;
}
