/**
 * BLAKE3-256, used for the identity binding digest (`@noble/hashes`).
 *
 * @module
 */
import { blake3 as nobleBlake3 } from "@noble/hashes/blake3.js";
import { NoiseError, NoiseErrorCode } from "../errors.ts";

/**
 * The 32-byte BLAKE3 hash (unkeyed, default output length) of `data`.
 *
 * @example
 * ```ts
 * import { blake3 } from "./blake3.ts";
 * import { toHex } from "../bytes.ts";
 * console.log(toHex(blake3(new Uint8Array(0))));
 * // af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262
 * ```
 */
export function blake3(data: Uint8Array): Uint8Array {
  if (!(data instanceof Uint8Array)) {
    throw new NoiseError(NoiseErrorCode.Other, "blake3 input must be a Uint8Array");
  }
  return nobleBlake3(data);
}
