/**
 * z-base-32 for PKARR public keys (52 characters for 32 bytes), strict: lowercase alphabet
 * only, canonical (the 4 unused trailing bits must be zero).
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
