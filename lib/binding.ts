/**
 * Identity binding (pubky-noise 1.2.0, BLAKE3 format): the 32-byte digest an Ed25519 identity
 * signs to bind itself to a Noise static key.
 *
 * ```text
 * binding = BLAKE3("pubky-noise-binding/v1" ‖ ed25519_pub(32) ‖ local_noise_pub(32)
 *                  ‖ role byte (Client 0x00, Server 0x01) ‖ [remote_noise_pub(32)])
 * sig     = Ed25519(binding)
 * ```
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "./errors.ts";
import { utf8 } from "./bytes.ts";
import { blake3 } from "./crypto/blake3.ts";
import { verifyEd25519 } from "./crypto/ed25519.ts";
import type { Role } from "./identity_payload.ts";
import type { RingKeyProvider } from "./ring.ts";

/**
 * Domain-separation prefix of the binding (22 ASCII bytes, no length prefix).
 *
 * @example
 * ```ts
 * import { BINDING_PREFIX } from "./binding.ts";
 * console.log(BINDING_PREFIX.length); // 22
 * ```
 */
export const BINDING_PREFIX = "pubky-noise-binding/v1";

/**
 * Inputs of the binding.
 *
 * @example
 * ```ts
 * import { makeBindingMessage, type BindingParams } from "@pubky/noise";
 * const params: BindingParams = {
 *   ed25519Pub: new Uint8Array(32).fill(1),
 *   localNoisePub: new Uint8Array(32).fill(2),
 *   role: "Server",
 * };
 * console.log(makeBindingMessage(params).length); // 32
 * ```
 */
export interface BindingParams {
  /** The signer's Ed25519 public key (32 bytes). */
  ed25519Pub: Uint8Array;
  /** The signer's own X25519 static public key (32 bytes). */
  localNoisePub: Uint8Array;
  /** The signer's role: `"Client"` (byte 0x00) or `"Server"` (byte 0x01). */
  role: Role;
  /** The peer's X25519 static public key (32 bytes), when known; `null`/absent otherwise. */
  remoteNoisePub?: Uint8Array | null;
}

const PREFIX_BYTES = utf8(BINDING_PREFIX);
const KEY_LEN = 32;

function checkKey(key: unknown, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== KEY_LEN) {
    const got = key instanceof Uint8Array ? `${key.length} bytes` : typeof key;
    throw new NoiseError(NoiseErrorCode.Other, `${what} must be 32 bytes, got ${got}`);
  }
}

/**
 * The bytes that are hashed into the binding (prefix ‖ keys ‖ role byte ‖ [remote]). Throws
 * `NoiseError` (Other) for a key that is not 32 bytes or an unknown role.
 *
 * @example
 * ```ts
 * import { bindingInput } from "./binding.ts";
 * const input = bindingInput({
 *   ed25519Pub: new Uint8Array(32),
 *   localNoisePub: new Uint8Array(32),
 *   role: "Client",
 *   remoteNoisePub: new Uint8Array(32),
 * });
 * console.log(input.length); // 119 = 22 + 32 + 32 + 1 + 32
 * ```
 */
export function bindingInput(params: BindingParams): Uint8Array {
  const { ed25519Pub, localNoisePub, role, remoteNoisePub } = params;
  checkKey(ed25519Pub, "ed25519_pub");
  checkKey(localNoisePub, "local_noise_pub");
  let roleByte: number;
  if (role === "Client") roleByte = 0x00;
  else if (role === "Server") roleByte = 0x01;
  else throw new NoiseError(NoiseErrorCode.Other, `invalid role: ${String(role)}`);
  const hasRemote = remoteNoisePub !== undefined && remoteNoisePub !== null;
  if (hasRemote) checkKey(remoteNoisePub, "remote_noise_pub");
  const out = new Uint8Array(PREFIX_BYTES.length + 2 * KEY_LEN + 1 + (hasRemote ? KEY_LEN : 0));
  let off = 0;
  out.set(PREFIX_BYTES, off);
  off += PREFIX_BYTES.length;
  out.set(ed25519Pub, off);
  off += KEY_LEN;
  out.set(localNoisePub, off);
  off += KEY_LEN;
  out[off++] = roleByte;
  if (hasRemote) out.set(remoteNoisePub, off);
  return out;
}

/**
 * The 32-byte binding digest (Rust `make_binding_message`). Throws `NoiseError` (Other) for a
 * key that is not 32 bytes or an unknown role.
 *
 * @example
 * ```ts
 * import { makeBindingMessage, toHex } from "@pubky/noise";
 * const digest = makeBindingMessage({
 *   ed25519Pub: new Uint8Array(32).fill(1),
 *   localNoisePub: new Uint8Array(32).fill(2),
 *   role: "Client",
 *   remoteNoisePub: new Uint8Array(32).fill(3),
 * });
 * console.log(toHex(digest)); // c36144b9746912c61447c9dd2be88ad538a1de09be5fd3223c9c318c90aec071
 * ```
 */
export function makeBindingMessage(params: BindingParams): Uint8Array {
  return blake3(bindingInput(params));
}

/**
 * Signs a binding digest with the ring's Ed25519 identity `kid` (Rust `sign_identity_payload`).
 * Rejects with `NoiseError` (Other) if `binding` is not 32 bytes.
 *
 * @example
 * ```ts
 * import { DummyRing, makeBindingMessage, signIdentityBinding } from "@pubky/noise";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(0x2a), "kid");
 * const binding = makeBindingMessage({
 *   ed25519Pub: await ring.ed25519PublicKey("kid"),
 *   localNoisePub: new Uint8Array(32).fill(2),
 *   role: "Server",
 * });
 * console.log((await signIdentityBinding(ring, "kid", binding)).length); // 64
 * ```
 */
export async function signIdentityBinding(
  ring: RingKeyProvider,
  kid: string,
  binding: Uint8Array,
): Promise<Uint8Array> {
  checkKey(binding, "binding");
  return await ring.signEd25519(kid, binding);
}

/**
 * Verifies a binding signature (Rust `verify_identity_payload`). Never throws: any malformed
 * input (wrong lengths, invalid key) gives `false`. See `verifyEd25519` for the exact rules.
 *
 * @example
 * ```ts
 * import { DummyRing, makeBindingMessage, signIdentityBinding, verifyIdentityBinding } from "@pubky/noise";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(0x2a), "kid");
 * const ed25519Pub = await ring.ed25519PublicKey("kid");
 * const binding = makeBindingMessage({ ed25519Pub, localNoisePub: new Uint8Array(32), role: "Client" });
 * const sig = await signIdentityBinding(ring, "kid", binding);
 * console.log(await verifyIdentityBinding(ed25519Pub, binding, sig)); // true
 * ```
 */
export async function verifyIdentityBinding(
  ed25519Pub: Uint8Array,
  binding: Uint8Array,
  sig: Uint8Array,
): Promise<boolean> {
  if (!(binding instanceof Uint8Array) || binding.length !== KEY_LEN) return false;
  return await verifyEd25519(ed25519Pub, binding, sig);
}
