/**
 * Identity binding in the handshake: each side's Ed25519 identity signs its
 * Noise static key (BLAKE3 binding, see `binding.ts`), carried as the JSON
 * identity payload of a handshake message (`identity_payload.ts`).
 *
 * The verifier rebuilds the binding from the keys the Noise state authenticated
 * (the peer's static from the handshake, its own static), never from the payload.
 *
 * @module
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { NoiseError, NoiseErrorCode } from "./errors.ts";
import { makeBindingMessage, verifyIdentityBinding } from "./binding.ts";
import { encodeIdentityPayload, type IdentityPayload, type Role } from "./identity_payload.ts";
import type { RingKeyProvider } from "./ring.ts";

/**
 * Longest `server_hint`, in UTF-8 bytes (Rust `MAX_SERVER_HINT_LEN`).
 *
 * @example
 * ```ts
 * import { clientStartIkDirect, DummyRing, MAX_SERVER_HINT_LEN, NoiseClient, NoiseError } from "@pubky/noise";
 * const client = new NoiseClient("kid", "client-device-0001", await DummyRing.create(new Uint8Array(32).fill(1), "kid"));
 * const hint = "h".repeat(MAX_SERVER_HINT_LEN + 1);
 * await clientStartIkDirect(client, new Uint8Array(32).fill(9), hint)
 *   .catch((e: NoiseError) => console.log(e.codeName)); // Policy
 * ```
 */
export const MAX_SERVER_HINT_LEN = 256;

/** What a signer needs to produce its payload. */
export interface SignIdentityParams {
  ring: RingKeyProvider;
  kid: string;
  localNoisePub: Uint8Array;
  role: Role;
  remoteNoisePub: Uint8Array | null;
  serverHint: string | null;
  hintExpiresAt: number | null;
}

/**
 * The last binding a signer signed, and its signature. A server's XX binding covers only its own
 * keys (no remote static), so it is the same for every client until the static key or the
 * identity changes; Ed25519 signatures are deterministic (RFC 8032), so reusing the signature
 * puts the same bytes on the wire and saves a signing call per handshake. A signature is public:
 * the memo holds nothing secret.
 */
export class SignatureMemo {
  #binding: Uint8Array | null = null;
  #sig: Uint8Array | null = null;

  /** The signature of `binding`, if it is the one remembered (a copy). */
  get(binding: Uint8Array): Uint8Array | null {
    const known = this.#binding;
    if (known === null || this.#sig === null || known.length !== binding.length) return null;
    for (let i = 0; i < known.length; i++) if (known[i] !== binding[i]) return null;
    return this.#sig.slice();
  }

  /** Remembers `sig` as the signature of `binding` (both copied). */
  set(binding: Uint8Array, sig: Uint8Array): void {
    this.#binding = binding.slice();
    this.#sig = sig.slice();
  }
}

/**
 * The encoded, signed identity payload of one handshake message. With a `memo`, a binding signed
 * before is not signed again.
 */
export async function signedIdentityPayload(
  p: SignIdentityParams,
  memo?: SignatureMemo,
): Promise<Uint8Array> {
  const ed25519Pub = await p.ring.ed25519PublicKey(p.kid);
  const binding = makeBindingMessage({
    ed25519Pub,
    localNoisePub: p.localNoisePub,
    role: p.role,
    remoteNoisePub: p.remoteNoisePub,
  });
  let sig = memo?.get(binding) ?? null;
  if (sig === null) {
    sig = await p.ring.signEd25519(p.kid, binding);
    memo?.set(binding, sig);
  }
  return encodeIdentityPayload({
    ed25519Pub,
    role: p.role,
    serverHint: p.serverHint,
    hintExpiresAt: p.hintExpiresAt,
    sig,
  });
}

/** Throws `Policy` when the hint is longer than 256 UTF-8 bytes (Rust counts bytes). */
export function checkServerHint(hint: string | null): void {
  if (hint === null) return;
  const len = new TextEncoder().encode(hint).length;
  if (len > MAX_SERVER_HINT_LEN) {
    throw new NoiseError(
      NoiseErrorCode.Policy,
      `server_hint too long: ${len} chars (max ${MAX_SERVER_HINT_LEN})`,
    );
  }
}

/**
 * Verifies that `payload` binds the peer's Ed25519 identity to `peerNoisePub`
 * (the static the handshake authenticated) in `role`, with `remoteNoisePub`
 * (ours) where the signer knew it. Errors as the crate: an Ed25519 key that does
 * not decode is `Other`, a bad signature `IdentityVerify`.
 */
export async function verifyPeerIdentity(
  payload: IdentityPayload,
  peerNoisePub: Uint8Array,
  role: Role,
  remoteNoisePub: Uint8Array | null,
): Promise<void> {
  const binding = makeBindingMessage({
    ed25519Pub: payload.ed25519Pub,
    localNoisePub: peerNoisePub,
    role,
    remoteNoisePub,
  });
  // Stricter than the crate, which ignores `role`: a payload must claim the role
  // its binding is checked for (honest Rust peers always do).
  if (
    payload.role === role && await verifyIdentityBinding(payload.ed25519Pub, binding, payload.sig)
  ) {
    return;
  }
  // Failed: tell an undecodable key (Rust: `VerifyingKey::from_bytes` → Other) from a bad
  // signature. zip215 decoding reduces y mod p as ed25519-dalek does, so a non-canonical key
  // decodes and fails as a signature (5000), as in Rust.
  try {
    ed25519.Point.fromBytes(payload.ed25519Pub, true);
  } catch {
    throw new NoiseError(NoiseErrorCode.Other, "invalid Ed25519 public key");
  }
  throw new NoiseError(NoiseErrorCode.IdentityVerify);
}
