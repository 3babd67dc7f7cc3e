/**
 * z-base-32 for PKARR public keys (52 characters for 32 bytes), strict: lowercase alphabet
 * only, canonical (the 4 unused trailing bits must be zero). Also strict unpadded base64url.
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";

const ALPHABET = "ybndrfg8ejkmcpqxot1uwisza345h769";
const REVERSE: Record<string, number> = Object.fromEntries(
  [...ALPHABET].map((c, i) => [c, i]),
);

/** Length of a z-base-32 encoded 32-byte key. */
export const Z32_KEY_LEN = 52;

/**
 * The z-base-32 encoding of `bytes` (no padding).
 *
 * @example
 * ```ts
 * import { encodeZ32 } from "@pubky/noise/pkarr";
 * console.log(encodeZ32(new Uint8Array(32)).length); // 52
 * ```
 */
export function encodeZ32(bytes: Uint8Array): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(buffer >>> bits) & 31];
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/**
 * The 32-byte public key of a 52-character z-base-32 string; a `pk:` prefix is allowed. Throws
 * `NoiseError` (Pkarr, 2000) for anything else (wrong length, characters outside the lowercase
 * alphabet, non-zero trailing bits).
 *
 * @example
 * ```ts
 * import { decodeZ32Key, encodeZ32 } from "@pubky/noise/pkarr";
 * const key = new Uint8Array(32).fill(7);
 * console.log(decodeZ32Key("pk:" + encodeZ32(key))); // the 32 bytes again
 * ```
 */
export function decodeZ32Key(text: string): Uint8Array {
  if (typeof text !== "string") {
    throw new NoiseError(NoiseErrorCode.Pkarr, "public key must be a z-base-32 string");
  }
  const s = text.startsWith("pk:") ? text.slice(3) : text;
  if (s.length !== Z32_KEY_LEN) {
    throw new NoiseError(
      NoiseErrorCode.Pkarr,
      `public key must be ${Z32_KEY_LEN} z-base-32 characters, got ${s.length}`,
    );
  }
  const out = new Uint8Array(32);
  let buffer = 0;
  let bits = 0;
  let index = 0;
  for (const c of s) {
    const v = REVERSE[c];
    if (v === undefined) {
      throw new NoiseError(NoiseErrorCode.Pkarr, `invalid z-base-32 character '${c}' in key`);
    }
    buffer = (buffer << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[index++] = (buffer >>> bits) & 0xff;
      buffer &= (1 << bits) - 1;
    }
  }
  if (buffer !== 0) {
    throw new NoiseError(NoiseErrorCode.Pkarr, "non-canonical z-base-32 key (trailing bits set)");
  }
  return out;
}

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const B64URL_REVERSE: Record<string, number> = Object.fromEntries(
  [...B64URL].map((c, i) => [c, i]),
);

/** Unpadded base64url of `bytes`. */
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
