/**
 * The import of a 32-byte X25519 or Ed25519 secret as a non-extractable WebCrypto key. PKCS#8
 * is the one private-key format every runtime's WebCrypto takes for both curves; the DER is
 * RFC 8410's `OneAsymmetricKey`, which differs between them only in the last byte of the OID.
 *
 * @module
 */
import { fromHex, wipe } from "../bytes.ts";

/**
 * The DER of `OneAsymmetricKey` up to the 32 key bytes: SEQUENCE { INTEGER 0, SEQUENCE { OID
 * 1.3.101.1xx }, OCTET STRING { OCTET STRING (32 bytes) } }. Byte 11, the OID's last, is set per
 * curve.
 */
const PREFIX = fromHex("302e020100300506032b650004220420");
/** Last byte of the OID 1.3.101.110 (X25519) or 1.3.101.112 (Ed25519), RFC 8410 §3. */
const OID_LAST = { X25519: 0x6e, Ed25519: 0x70 } as const;

/**
 * `secret` (32 bytes) imported as a non-extractable `alg` key for `usages`; the DER buffer that
 * held a copy of it is wiped, whether or not the import succeeds.
 *
 * @example
 * ```ts
 * import { importRfc8410Secret } from "./pkcs8.ts";
 * const key = await importRfc8410Secret("Ed25519", new Uint8Array(32).fill(1), ["sign"]);
 * console.log(key.extractable, key.algorithm.name); // false Ed25519
 * ```
 */
export async function importRfc8410Secret(
  alg: "X25519" | "Ed25519",
  secret: Uint8Array,
  usages: KeyUsage[],
): Promise<CryptoKey> {
  const der = new Uint8Array(PREFIX.length + secret.length);
  der.set(PREFIX);
  der[11] = OID_LAST[alg];
  der.set(secret, PREFIX.length);
  try {
    return await crypto.subtle.importKey("pkcs8", der, { name: alg }, false, usages);
  } finally {
    wipe(der);
  }
}
