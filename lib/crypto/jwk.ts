/**
 * The `x` member of an OKP JWK (RFC 8037): a 32-byte X25519 or Ed25519 public key in unpadded
 * base64url. `node:crypto` imports a JWK as a raw key, far faster than DER on Node 20 (OpenSSL 3
 * sends DER through its slow decoder framework), and at the same speed in Deno and Bun.
 *
 * @module
 */

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const B64URL_INDEX = new Map(Array.from(B64URL, (c, i) => [c, i]));
const KEY_LEN = 32;

/**
 * Unpadded base64url of a 32-byte key (43 characters).
 *
 * @example
 * ```ts
 * import { keyToBase64Url } from "./jwk.ts";
 * console.log(keyToBase64Url(new Uint8Array(32))); // "AAAA…A" (43 characters)
 * ```
 */
export function keyToBase64Url(key: Uint8Array): string {
  let out = "";
  for (let i = 0; i < 30; i += 3) {
    const n = (key[i] << 16) | (key[i + 1] << 8) | key[i + 2];
    out += B64URL[n >> 18] + B64URL[(n >> 12) & 63] + B64URL[(n >> 6) & 63] + B64URL[n & 63];
  }
  const n = (key[30] << 16) | (key[31] << 8);
  return out + B64URL[n >> 18] + B64URL[(n >> 12) & 63] + B64URL[(n >> 6) & 63];
}

/**
 * The 32-byte key of unpadded base64url `x`; `null` unless it is exactly that.
 *
 * @example
 * ```ts
 * import { keyFromBase64Url, keyToBase64Url } from "./jwk.ts";
 * const key = new Uint8Array(32).fill(0xab);
 * console.log(keyFromBase64Url(keyToBase64Url(key))?.[0]); // 171
 * ```
 */
export function keyFromBase64Url(x: string | undefined): Uint8Array | null {
  if (typeof x !== "string" || x.length !== 43) return null;
  const out = new Uint8Array(KEY_LEN);
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < 43; i++) {
    const v = B64URL_INDEX.get(x[i]);
    if (v === undefined) return null;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return o === KEY_LEN ? out : null;
}
