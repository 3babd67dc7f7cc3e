/**
 * `NoiseClient`: the initiating side of a Pubky Noise session, wire-compatible
 * with the Rust crate's `NoiseClient`.
 *
 * - XX for first contact (trust on first use): the server's static key comes
 *   back to be pinned.
 * - IK once the server's static key is pinned (or delivered out of band).
 * - NN: no identities at all.
 *
 * The check order of each step follows the crate (see the reference, §2.3).
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "./errors.ts";
import { expectLength, utf8 } from "./bytes.ts";
import { type CryptoSuite, loadCryptoSuite } from "./crypto/suite.ts";
import { HandshakeState } from "./noise/handshake_state.ts";
import { IK, NN, XX } from "./noise/patterns.ts";
import { decodeIdentityPayload, type IdentityPayload } from "./identity_payload.ts";
import { checkServerHint, signedIdentityPayload, verifyPeerIdentity } from "./identity.ts";
import type { RingKeyProvider } from "./ring.ts";
import { StaticKeySource } from "./static_key.ts";
import type { TraceLogger } from "./trace.ts";

/**
 * The prologue of every Pubky Noise handshake (not configurable, as in the crate).
 *
 * @example
 * ```ts
 * import { PROLOGUE } from "@pubky/noise";
 * console.log(new TextDecoder().decode(PROLOGUE)); // pubky-noise-v1
 * ```
 */
export const PROLOGUE: Uint8Array = utf8("pubky-noise-v1");
/** The IK protocol name. */
export const IK_SUITE = "Noise_IK_25519_ChaChaPoly_BLAKE2s";
/** The XX protocol name. */
export const XX_SUITE = "Noise_XX_25519_ChaChaPoly_BLAKE2s";
/** The NN protocol name. */
export const NN_SUITE = "Noise_NN_25519_ChaChaPoly_BLAKE2s";
/**
 * Default lifetime of a client's `hint_expires_at`, in seconds.
 *
 * @example
 * ```ts
 * import { DEFAULT_HANDSHAKE_EXPIRY_SECS, DummyRing, NoiseClient } from "@pubky/noise";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * console.log(client.expirySecs === DEFAULT_HANDSHAKE_EXPIRY_SECS, DEFAULT_HANDSHAKE_EXPIRY_SECS); // true 300
 * ```
 */
export const DEFAULT_HANDSHAKE_EXPIRY_SECS = 300;

/**
 * Options of {@linkcode NoiseClient} and {@linkcode NoiseServer}.
 *
 * @example
 * ```ts
 * import { DummyRing, nobleCryptoSuite, NoiseServer, type NoisePeerOptions, toHex } from "@pubky/noise";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(2), "kid");
 * const rotated: NoisePeerOptions = { epoch: 1, suite: nobleCryptoSuite() };
 * const before = new NoiseServer("kid", "server-device-0001", ring);
 * const after = new NoiseServer("kid", "server-device-0001", ring, rotated);
 * console.log(toHex(await before.staticPublicKey()) !== toHex(await after.staticPublicKey())); // true
 * ```
 */
export interface NoisePeerOptions {
  /** Key epoch of the device static (default 0, as the crate); bump it to rotate keys. */
  epoch?: number;
  /** The primitives (default: the fastest of this runtime). */
  suite?: CryptoSuite;
  /** Receives non-sensitive trace events of handshakes and links (default: none, no cost). */
  trace?: TraceLogger;
}

/**
 * Options of {@linkcode NoiseClient}.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, type NoiseClientOptions } from "@pubky/noise";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const options: NoiseClientOptions = { nowUnix: Math.floor(Date.now() / 1000), expirySecs: 60 };
 * const client = new NoiseClient("kid", "client-device-0001", ring, options);
 * console.log(client.nowUnix !== null, client.expirySecs); // true 60
 * ```
 */
export interface NoiseClientOptions extends NoisePeerOptions {
  /** The current Unix time in seconds; when set, payloads carry `hint_expires_at`. */
  nowUnix?: number | null;
  /** Lifetime of `hint_expires_at` (default 300 s). */
  expirySecs?: number;
}

/**
 * What an XX client's first step returns (Rust `XxInitResult`).
 *
 * @example
 * ```ts
 * import { clientStartXxTofu, DummyRing, NoiseClient, type XxInitResult } from "@pubky/noise";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const start: XxInitResult = await clientStartXxTofu(client, "chat.example");
 * console.log(start.firstMsg.length, start.serverHint); // 32 chat.example
 * ```
 */
export interface XxInitResult {
  /** The handshake, to pass to the next step. */
  hs: HandshakeState;
  /** Message 1, to send to the server. */
  firstMsg: Uint8Array;
  /** The hint, returned unchanged (XX sends it in message 3). */
  serverHint: string | null;
}

/**
 * What the XX client's second step returns.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseServer, toHex, type XxClientStep } from "@pubky/noise";
 * const client = new NoiseClient("kid", "client-device-0001", await DummyRing.create(new Uint8Array(32).fill(1), "kid"));
 * const server = new NoiseServer("kid", "server-device-0001", await DummyRing.create(new Uint8Array(32).fill(2), "kid"));
 * const { hs, firstMsg } = await client.buildInitiatorXxTofu();
 * const { response } = await server.buildResponderXx(firstMsg);
 * const step: XxClientStep = await client.completeInitiatorXx(hs, response);
 * console.log(step.serverIdentity.role, toHex(step.serverStaticPk) === toHex(await server.staticPublicKey()));
 * // Server true
 * ```
 */
export interface XxClientStep {
  /** The handshake, complete; to be split into a link. */
  hs: HandshakeState;
  /** Message 3, to send to the server. */
  finalMsg: Uint8Array;
  /** The server's verified identity payload. */
  serverIdentity: IdentityPayload;
  /** The server's static key: pin it and use IK next time. */
  serverStaticPk: Uint8Array;
}

export function deviceIdBytes(deviceId: Uint8Array | string): Uint8Array {
  return typeof deviceId === "string" ? utf8(deviceId) : deviceId.slice();
}

/**
 * The client of a Pubky Noise session.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient } from "@pubky/noise";
 * const ring = await DummyRing.create(crypto.getRandomValues(new Uint8Array(32)), "kid");
 * const client = new NoiseClient("kid", "my-phone-device-01", ring).withNowUnix(Math.floor(Date.now() / 1000));
 * const { firstMsg } = await client.buildInitiatorXxTofu();
 * console.log(firstMsg.length); // 32
 * ```
 */
export class NoiseClient {
  /** Key id passed to the ring. */
  readonly kid: string;
  /** The device id (at least 16 bytes for XX and IK). */
  readonly deviceId: Uint8Array;
  /** The key ring. */
  readonly ring: RingKeyProvider;
  /** The IK protocol name (as the crate's `suite` field). */
  readonly suite: string = IK_SUITE;
  /** Unix time used for `hint_expires_at`; `null`: payloads carry none. */
  nowUnix: number | null;
  /** Lifetime of `hint_expires_at` in seconds. */
  expirySecs: number;
  /** The trace logger of this client's handshakes and links, if any. */
  readonly trace: TraceLogger | undefined;
  readonly #crypto: CryptoSuite | undefined;
  readonly #static: StaticKeySource;

  /** Rust `NoiseClient::new_direct(kid, device_id, ring)`. */
  constructor(
    kid: string,
    deviceId: Uint8Array | string,
    ring: RingKeyProvider,
    options: NoiseClientOptions = {},
  ) {
    this.kid = kid;
    this.deviceId = deviceIdBytes(deviceId);
    this.ring = ring;
    this.nowUnix = options.nowUnix ?? null;
    this.expirySecs = options.expirySecs ?? DEFAULT_HANDSHAKE_EXPIRY_SECS;
    this.trace = options.trace;
    this.#crypto = options.suite;
    this.#static = new StaticKeySource(ring, kid, this.deviceId, options.epoch ?? 0);
  }

  /** Sets the clock used for `hint_expires_at` (Rust `with_now_unix`). */
  withNowUnix(nowUnix: number): this {
    this.nowUnix = nowUnix;
    return this;
  }

  /** Sets the lifetime of `hint_expires_at` (Rust `with_expiry_secs`). */
  withExpirySecs(secs: number): this {
    this.expirySecs = secs;
    return this;
  }

  async #suite(): Promise<CryptoSuite> {
    return this.#crypto ?? await loadCryptoSuite();
  }

  #hintExpiresAt(): number | null {
    return this.nowUnix === null ? null : this.nowUnix + this.expirySecs;
  }

  /**
   * IK, step 1 (Rust `build_initiator_ik_direct`): message 1 to a server whose
   * static key is pinned, carrying our signed identity.
   */
  async buildInitiatorIkDirect(
    serverStaticPub: Uint8Array,
    serverHint: string | null = null,
  ): Promise<{ hs: HandshakeState; firstMsg: Uint8Array }> {
    expectLength(serverStaticPub, 32, "server static key", NoiseErrorCode.InvalidPeerKey);
    checkServerHint(serverHint);
    const suite = await this.#suite();
    const { s, ownsStatic } = await this.#static.acquire(suite);
    const hs = new HandshakeState({
      suite,
      pattern: IK,
      initiator: true,
      prologue: PROLOGUE,
      s,
      ownsStatic,
      rs: serverStaticPub,
    });
    const payload = await signedIdentityPayload({
      ring: this.ring,
      kid: this.kid,
      localNoisePub: s.publicKey,
      role: "Client",
      remoteNoisePub: serverStaticPub,
      serverHint,
      hintExpiresAt: this.#hintExpiresAt(),
    });
    const firstMsg = await hs.writeMessage(payload);
    return { hs, firstMsg };
  }

  /** XX, step 1 (Rust `build_initiator_xx_tofu`): message 1, no payload. */
  async buildInitiatorXxTofu(serverHint: string | null = null): Promise<XxInitResult> {
    const suite = await this.#suite();
    const { s, ownsStatic } = await this.#static.acquire(suite);
    const hs = new HandshakeState({
      suite,
      pattern: XX,
      initiator: true,
      prologue: PROLOGUE,
      s,
      ownsStatic,
    });
    const firstMsg = await hs.writeMessage(new Uint8Array(0));
    return { hs, firstMsg, serverHint };
  }

  /**
   * XX, step 2 (Rust `complete_initiator_xx`): reads message 2, verifies the
   * server's identity, writes message 3 with ours.
   */
  async completeInitiatorXx(
    hs: HandshakeState,
    serverResponse: Uint8Array,
    serverHint: string | null = null,
  ): Promise<XxClientStep> {
    checkServerHint(serverHint);
    const s = hs.localStatic;
    if (s === null) throw new NoiseError(NoiseErrorCode.Other, "not an XX client handshake");
    const payloadBytes = await hs.readMessage(serverResponse);
    const serverIdentity = decodeIdentityPayload(payloadBytes);
    const serverStaticPk = hs.remoteStatic;
    if (serverStaticPk === null) throw new NoiseError(NoiseErrorCode.RemoteStaticMissing);
    // Sign while the server's signature is checked: neither needs the other, and each may wait
    // on a WebCrypto promise. Nothing is written until the verification has passed.
    const signing = signedIdentityPayload({
      ring: this.ring,
      kid: this.kid,
      localNoisePub: s,
      role: "Client",
      remoteNoisePub: serverStaticPk,
      serverHint,
      hintExpiresAt: this.#hintExpiresAt(),
    });
    try {
      // The server signs without knowing our static (no remote in its binding).
      await verifyPeerIdentity(serverIdentity, serverStaticPk, "Server", null);
    } catch (e) {
      signing.catch(() => {}); // the verification's error is the one to report
      throw e;
    }
    const finalMsg = await hs.writeMessage(await signing);
    return { hs, finalMsg, serverIdentity, serverStaticPk };
  }

  /** NN, step 1 (Rust `build_initiator_nn`): message 1, no keys, no identity. */
  async buildInitiatorNn(): Promise<{ hs: HandshakeState; firstMsg: Uint8Array }> {
    const hs = new HandshakeState({
      suite: await this.#suite(),
      pattern: NN,
      initiator: true,
      prologue: PROLOGUE,
    });
    return { hs, firstMsg: await hs.writeMessage(new Uint8Array(0)) };
  }

  /** NN, step 2 (Rust `complete_initiator_nn`): reads message 2. */
  async completeInitiatorNn(
    hs: HandshakeState,
    serverResponse: Uint8Array,
  ): Promise<HandshakeState> {
    await hs.readMessage(serverResponse);
    return hs;
  }

  /** Redacted. */
  toString(): string {
    return `NoiseClient(${this.kid})`;
  }
  /** Redacted. */
  toJSON(): { kid: string } {
    return { kid: this.kid };
  }
}
