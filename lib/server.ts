/**
 * `NoiseServer`: the responding side of a Pubky Noise session, wire-compatible
 * with the Rust crate's `NoiseServer`, with the crate's check order
 * (reference §2.3): size cap, read, JSON, remote static, hint length, expiry,
 * Ed25519 key, binding signature.
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "./errors.ts";
import { type CryptoSuite, loadCryptoSuite } from "./crypto/suite.ts";
import { HandshakeState } from "./noise/handshake_state.ts";
import { IK, NN, XX } from "./noise/patterns.ts";
import { decodeIdentityPayload, type IdentityPayload } from "./identity_payload.ts";
import {
  checkServerHint,
  SignatureMemo,
  signedIdentityPayload,
  verifyPeerIdentity,
} from "./identity.ts";
import type { RingKeyProvider } from "./ring.ts";
import { StaticKeySource } from "./static_key.ts";
import type { TraceLogger } from "./trace.ts";
import {
  DEFAULT_HANDSHAKE_EXPIRY_SECS,
  deviceIdBytes,
  IK_SUITE,
  type NoisePeerOptions,
  PROLOGUE,
} from "./client.ts";

/**
 * Largest handshake message a server reads (Rust `MAX_HANDSHAKE_MSG_LEN`).
 *
 * @example
 * ```ts
 * import { DummyRing, MAX_HANDSHAKE_MSG_LEN, NoiseError, NoiseServer, serverAcceptIk } from "@pubky/noise";
 * const server = new NoiseServer("kid", "server-device-0001", await DummyRing.create(new Uint8Array(32).fill(2), "kid"));
 * const tooBig = new Uint8Array(MAX_HANDSHAKE_MSG_LEN + 1);
 * await serverAcceptIk(server, tooBig).catch((e: NoiseError) => console.log(e.codeName)); // Policy
 * ```
 */
export const MAX_HANDSHAKE_MSG_LEN = 65536;

/**
 * Limits a server applies in front of handshakes (Rust `ServerPolicy`). The
 * crate only declares it; enforcement lives with the session managers.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseServer, type ServerPolicy } from "@pubky/noise";
 * const policy: ServerPolicy = { maxHandshakesPerIp: 20, maxSessionsPerEd25519: 3 };
 * const ring = await DummyRing.create(new Uint8Array(32).fill(2), "kid");
 * const server = new NoiseServer("kid", "server-device-0001", ring, { policy });
 * console.log(server.policy); // { maxHandshakesPerIp: 20, maxSessionsPerEd25519: 3 }
 * ```
 */
export interface ServerPolicy {
  /** Most handshakes per client address in the rate-limit window. */
  maxHandshakesPerIp: number | null;
  /** Most concurrent sessions per client Ed25519 identity. */
  maxSessionsPerEd25519: number | null;
}

/**
 * Options of {@linkcode NoiseServer}.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseServer, type NoiseServerOptions } from "@pubky/noise";
 * const options: NoiseServerOptions = {
 *   clock: () => 1_700_000_000, // a fixed clock, e.g. in tests
 *   policy: { maxSessionsPerEd25519: 3 },
 * };
 * const server = new NoiseServer("kid", "server-device-0001", await DummyRing.create(new Uint8Array(32).fill(2), "kid"), options);
 * console.log(server.now(), server.policy.maxHandshakesPerIp); // 1700000000 null
 * ```
 */
export interface NoiseServerOptions extends NoisePeerOptions {
  /** The clock, in Unix seconds, for expiry checks and our own `hint_expires_at` (default: system). */
  clock?: () => number;
  /** Limits in front of handshakes. */
  policy?: Partial<ServerPolicy>;
}

/**
 * What the server learns from a client's handshake message.
 *
 * @example
 * ```ts
 * import { clientStartIkDirect, type ClientHello, DummyRing, NoiseClient, NoiseServer, toHex } from "@pubky/noise";
 * const client = new NoiseClient("kid", "client-device-0001", await DummyRing.create(new Uint8Array(32).fill(1), "kid"));
 * const server = new NoiseServer("kid", "server-device-0001", await DummyRing.create(new Uint8Array(32).fill(2), "kid"));
 * const { firstMsg } = await clientStartIkDirect(client, await server.staticPublicKey());
 * const hello: ClientHello = await server.buildResponderReadIk(firstMsg);
 * console.log(hello.identity.role, toHex(hello.identity.ed25519Pub).slice(0, 16)); // Client 8a88e3dd7409f195
 * ```
 */
export interface ClientHello {
  /** The handshake, to continue. */
  hs: HandshakeState;
  /** The client's verified identity payload. */
  identity: IdentityPayload;
}

function systemClock(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * The server of a Pubky Noise session.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseServer } from "@pubky/noise";
 * const ring = await DummyRing.create(crypto.getRandomValues(new Uint8Array(32)), "kid");
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * console.log((await server.staticPublicKey()).length); // 32: publish or pin this
 * ```
 */
export class NoiseServer {
  /** Key id passed to the ring. */
  readonly kid: string;
  /** The device id (at least 16 bytes for XX and IK). */
  readonly deviceId: Uint8Array;
  /** The key ring. */
  readonly ring: RingKeyProvider;
  /** The IK protocol name (as the crate's `suite` field). */
  readonly suite: string = IK_SUITE;
  /** Limits in front of handshakes. */
  readonly policy: ServerPolicy;
  /** The trace logger of this server's handshakes and links, if any. */
  readonly trace: TraceLogger | undefined;
  readonly #clock: () => number;
  readonly #crypto: CryptoSuite | undefined;
  readonly #static: StaticKeySource;
  /** Our XX signature: the binding has no client key in it, so it is signed once. */
  readonly #xxSignature = new SignatureMemo();

  /** Rust `NoiseServer::new_direct(kid, device_id, ring)`. */
  constructor(
    kid: string,
    deviceId: Uint8Array | string,
    ring: RingKeyProvider,
    options: NoiseServerOptions = {},
  ) {
    this.kid = kid;
    this.deviceId = deviceIdBytes(deviceId);
    this.ring = ring;
    this.#clock = options.clock ?? systemClock;
    this.trace = options.trace;
    this.#crypto = options.suite;
    this.policy = {
      maxHandshakesPerIp: options.policy?.maxHandshakesPerIp ?? null,
      maxSessionsPerEd25519: options.policy?.maxSessionsPerEd25519 ?? null,
    };
    this.#static = new StaticKeySource(ring, kid, this.deviceId, options.epoch ?? 0);
  }

  async #suite(): Promise<CryptoSuite> {
    return this.#crypto ?? await loadCryptoSuite();
  }

  /** The current time of this server's clock, in Unix seconds. */
  now(): number {
    return this.#clock();
  }

  /** Our static public key: what clients pin for IK. */
  async staticPublicKey(): Promise<Uint8Array> {
    const { s, ownsStatic } = await this.#static.acquire(await this.#suite());
    const pub = s.publicKey.slice();
    if (ownsStatic) s.destroy();
    return pub;
  }

  #checkSize(msg: Uint8Array): void {
    if (!(msg instanceof Uint8Array)) {
      throw new NoiseError(NoiseErrorCode.Policy, "Handshake message must be bytes");
    }
    if (msg.length > MAX_HANDSHAKE_MSG_LEN) {
      throw new NoiseError(
        NoiseErrorCode.Policy,
        `Handshake message too large: ${msg.length} bytes (max ${MAX_HANDSHAKE_MSG_LEN})`,
      );
    }
  }

  async #responder(pattern: typeof IK | typeof XX): Promise<HandshakeState> {
    const suite = await this.#suite();
    const { s, ownsStatic } = await this.#static.acquire(suite);
    return new HandshakeState({
      suite,
      pattern,
      initiator: false,
      prologue: PROLOGUE,
      s,
      ownsStatic,
    });
  }

  /** Decodes and verifies a client's payload (crate steps 3–9). */
  async #verifyClient(hs: HandshakeState, payloadBytes: Uint8Array): Promise<IdentityPayload> {
    const identity = decodeIdentityPayload(payloadBytes);
    const clientStatic = hs.remoteStatic;
    if (clientStatic === null) throw new NoiseError(NoiseErrorCode.RemoteStaticMissing);
    checkServerHint(identity.serverHint);
    // Step 6 of the crate (all-zero static–static DH) already ran: every DH of
    // the handshake refuses an all-zero result with InvalidPeerKey.
    if (identity.hintExpiresAt !== null) {
      const now = this.#clock();
      if (now > identity.hintExpiresAt) {
        throw new NoiseError(
          NoiseErrorCode.SessionExpired,
          `Identity payload hint expired at ${identity.hintExpiresAt} (current time: ${now})`,
        );
      }
    }
    await verifyPeerIdentity(identity, clientStatic, "Client", hs.localStatic);
    return identity;
  }

  /** IK, step 1 (Rust `build_responder_read_ik`): reads and verifies message 1. */
  async buildResponderReadIk(firstMsg: Uint8Array): Promise<ClientHello> {
    this.#checkSize(firstMsg);
    const hs = await this.#responder(IK);
    try {
      const payload = await hs.readMessage(firstMsg);
      const identity = await this.#verifyClient(hs, payload);
      return { hs, identity };
    } catch (e) {
      hs.destroy(); // nobody else holds this handshake: wipe it now
      throw e;
    }
  }

  /**
   * XX, step 1 (Rust `build_responder_xx`): reads message 1 (its payload is
   * ignored) and writes message 2 with our signed identity. Returns our static
   * key, to pass back to {@linkcode NoiseServer.completeResponderXx}.
   */
  async buildResponderXx(
    firstMsg: Uint8Array,
  ): Promise<{ hs: HandshakeState; response: Uint8Array; serverStaticPk: Uint8Array }> {
    this.#checkSize(firstMsg);
    const hs = await this.#responder(XX);
    try {
      await hs.readMessage(firstMsg);
      const serverStaticPk = hs.localStatic!;
      const payload = await signedIdentityPayload({
        ring: this.ring,
        kid: this.kid,
        localNoisePub: serverStaticPk,
        role: "Server",
        remoteNoisePub: null,
        serverHint: null,
        hintExpiresAt: this.#clock() + DEFAULT_HANDSHAKE_EXPIRY_SECS,
      }, this.#xxSignature);
      const response = await hs.writeMessage(payload);
      return { hs, response, serverStaticPk };
    } catch (e) {
      hs.destroy(); // nobody else holds this handshake: wipe it now
      throw e;
    }
  }

  /** XX, step 2 (Rust `complete_responder_xx`): reads and verifies message 3. */
  async completeResponderXx(
    hs: HandshakeState,
    clientFinalMsg: Uint8Array,
    serverStaticPk: Uint8Array,
  ): Promise<ClientHello> {
    this.#checkSize(clientFinalMsg);
    const own = hs.localStatic;
    if (
      own === null || own.length !== serverStaticPk.length ||
      own.some((b, i) => b !== serverStaticPk[i])
    ) {
      throw new NoiseError(NoiseErrorCode.Other, "server static key does not match the handshake");
    }
    const payload = await hs.readMessage(clientFinalMsg);
    const identity = await this.#verifyClient(hs, payload);
    return { hs, identity };
  }

  /** NN (Rust `build_responder_nn`): reads message 1, writes message 2. */
  async buildResponderNn(
    firstMsg: Uint8Array,
  ): Promise<{ hs: HandshakeState; response: Uint8Array }> {
    this.#checkSize(firstMsg);
    const hs = new HandshakeState({
      suite: await this.#suite(),
      pattern: NN,
      initiator: false,
      prologue: PROLOGUE,
    });
    await hs.readMessage(firstMsg);
    return { hs, response: await hs.writeMessage(new Uint8Array(0)) };
  }

  /** Redacted. */
  toString(): string {
    return `NoiseServer(${this.kid})`;
  }
  /** Redacted. */
  toJSON(): { kid: string } {
    return { kid: this.kid };
  }
}
