/**
 * HandshakeState (Noise spec §5.3): the local and remote keys plus a
 * SymmetricState, driven through a handshake pattern by `writeMessage` and
 * `readMessage`, and split into a transport once the pattern is done.
 *
 * Differences from a literal reading of the spec, all on the safe side:
 * - a message that is rejected (bad length, bad tag, low-order key) leaves the
 *   state exactly as it was, so the peer's next, genuine message still works;
 * - every DH (ee, es, se, ss) refuses an all-zero result (code 7000);
 * - messages are capped at 65535 bytes (spec §3) on both the write and read side;
 * - ephemeral keys are always fresh, except through the explicitly test-only option.
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";
import { concat, copyBytes, wipe } from "../bytes.ts";
import { type DhKeyPair, DHLEN } from "../crypto/x25519.ts";
import { TAGLEN } from "../crypto/chachapoly.ts";
import type { CryptoSuite } from "../crypto/suite.ts";
import { type HandshakePattern, protocolName, type Token } from "./patterns.ts";
import { type SymmetricSnapshot, SymmetricState, wipeSnapshot } from "./symmetric_state.ts";
import { TransportState } from "./transport_state.ts";

/** The largest Noise message, handshake or transport (spec §3). */
export const MAX_MESSAGE_LEN = 65535;

/** Options of {@linkcode HandshakeState}: the spec's `Initialize(...)` arguments. */
export interface HandshakeStateOptions {
  /** The primitives. */
  suite: CryptoSuite;
  /** The handshake pattern (`XX`, `IK`, `NN`). */
  pattern: HandshakePattern;
  /** Whether this side is the initiator. */
  initiator: boolean;
  /** Prologue bytes both sides must agree on (default empty). */
  prologue?: Uint8Array;
  /** The local static key pair, where the pattern has one. */
  s?: DhKeyPair | null;
  /** Whether the state owns `s` and wipes it at `split()` (default false: the caller keeps it). */
  ownsStatic?: boolean;
  /** The remote static public key, where it is known in advance (IK initiator). */
  rs?: Uint8Array | null;
  /**
   * TEST ONLY. A fixed ephemeral key pair, to replay published test vectors.
   * Reusing an ephemeral key destroys the security of Noise: never set this in
   * an application.
   */
  testOnlyFixedEphemeral?: DhKeyPair;
}

function stateError(problem: string): NoiseError {
  return new NoiseError(NoiseErrorCode.Snow, `state error: ${problem}`);
}

function inputError(): NoiseError {
  return new NoiseError(NoiseErrorCode.Snow, "input error");
}

/** What a rejected message must not change: the whole state, copied. */
interface Snapshot {
  symmetric: SymmetricSnapshot;
  e: DhKeyPair | null;
  re: Uint8Array | null;
  rs: Uint8Array | null;
}

/**
 * A Noise HandshakeState.
 *
 * @example
 * ```ts
 * import { HandshakeState, loadCryptoSuite, NN } from "@pubky/noise";
 * const suite = await loadCryptoSuite();
 * const alice = new HandshakeState({ suite, pattern: NN, initiator: true });
 * const bob = new HandshakeState({ suite, pattern: NN, initiator: false });
 * await bob.readMessage(await alice.writeMessage(new Uint8Array()));
 * await alice.readMessage(await bob.writeMessage(new Uint8Array()));
 * const a = alice.split(), b = bob.split();
 * console.log(new TextDecoder().decode(b.readMessage(a.writeMessage(new TextEncoder().encode("hi")))));
 * ```
 */
export class HandshakeState {
  readonly #suite: CryptoSuite;
  readonly #pattern: HandshakePattern;
  readonly #initiator: boolean;
  readonly #symmetric: SymmetricState;
  readonly #s: DhKeyPair | null;
  readonly #ownsStatic: boolean;
  #e: DhKeyPair | null = null;
  #rs: Uint8Array | null;
  #re: Uint8Array | null = null;
  #fixedEphemeral: DhKeyPair | undefined;
  #index = 0;
  #busy = false;
  #split = false;

  /** `Initialize(handshake_pattern, initiator, prologue, s, e, rs, re)`. */
  constructor(options: HandshakeStateOptions) {
    this.#suite = options.suite;
    this.#pattern = options.pattern;
    this.#initiator = options.initiator;
    this.#s = options.s ?? null;
    this.#ownsStatic = options.ownsStatic ?? false;
    this.#rs = options.rs ? copyBytes(options.rs) : null;
    this.#fixedEphemeral = options.testOnlyFixedEphemeral;
    if (this.#rs !== null && this.#rs.length !== DHLEN) {
      throw new NoiseError(NoiseErrorCode.InvalidPeerKey);
    }
    this.#symmetric = new SymmetricState(this.#suite, protocolName(this.#pattern));
    this.#symmetric.mixHash(options.prologue ?? new Uint8Array(0));
    this.#mixPreMessage(this.#pattern.initiatorPreMessage, this.#initiator);
    this.#mixPreMessage(this.#pattern.responderPreMessage, !this.#initiator);
    this.#checkRequiredKeys();
  }

  #mixPreMessage(keys: readonly ("e" | "s")[], ours: boolean): void {
    for (const key of keys) {
      if (key === "e") throw stateError("PreMessageEphemeralUnsupported");
      const pub = ours ? this.#s?.publicKey : this.#rs;
      if (!pub) throw new NoiseError(NoiseErrorCode.Other, "missing pre-message static key");
      this.#symmetric.mixHash(pub);
    }
  }

  /** Whether the pattern sends our static key: then we must have one. */
  #checkRequiredKeys(): void {
    this.#pattern.messages.forEach((tokens, i) => {
      const ours = (i % 2 === 0) === this.#initiator;
      if (ours && tokens.includes("s") && this.#s === null) {
        throw new NoiseError(NoiseErrorCode.Other, "the pattern needs a local static key");
      }
    });
  }

  /** The protocol name, e.g. `Noise_IK_25519_ChaChaPoly_BLAKE2s`. */
  get protocolName(): string {
    return protocolName(this.#pattern);
  }

  /** Whether this side is the initiator. */
  get isInitiator(): boolean {
    return this.#initiator;
  }

  /** Whether every message of the pattern has been written or read. */
  get isComplete(): boolean {
    return this.#index >= this.#pattern.messages.length;
  }

  /** Whether the next message is ours to write (false once complete). */
  get isMyTurn(): boolean {
    return !this.isComplete && (this.#index % 2 === 0) === this.#initiator;
  }

  /** How many handshake messages have been written or read. */
  get messageIndex(): number {
    return this.#index;
  }

  /** The remote static public key, once known (a copy). */
  get remoteStatic(): Uint8Array | null {
    return this.#rs ? copyBytes(this.#rs) : null;
  }

  /** The remote ephemeral public key, once known (a copy). */
  get remoteEphemeral(): Uint8Array | null {
    return this.#re ? copyBytes(this.#re) : null;
  }

  /** The local static public key, if any. */
  get localStatic(): Uint8Array | null {
    return this.#s ? copyBytes(this.#s.publicKey) : null;
  }

  /** `GetHandshakeHash()`: `h` now (the session id once the handshake is complete). */
  get handshakeHash(): Uint8Array {
    return this.#symmetric.getHandshakeHash();
  }

  #enter(mine: boolean): void {
    if (this.#busy) throw stateError("ConcurrentUse");
    if (this.#split) throw stateError("HandshakeFinished");
    if (this.isComplete) throw stateError("HandshakeFinished");
    if (mine && !this.isMyTurn) throw stateError("NotTurnToWrite");
    if (!mine && this.isMyTurn) throw stateError("NotTurnToRead");
    this.#busy = true;
  }

  #snapshot(): Snapshot {
    return {
      symmetric: this.#symmetric.snapshot(),
      e: this.#e,
      re: this.#re,
      rs: this.#rs,
    };
  }

  #rollback(snap: Snapshot): void {
    this.#symmetric.restore(snap.symmetric);
    wipeSnapshot(snap.symmetric); // restore() copied it: the copy's keys are not needed
    if (this.#e !== snap.e) this.#e?.destroy();
    this.#e = snap.e;
    this.#re = snap.re;
    this.#rs = snap.rs;
  }

  async #dh(token: "ee" | "es" | "se" | "ss"): Promise<Uint8Array> {
    const i = this.#initiator;
    // es: initiator's e with responder's s; se: initiator's s with responder's e (spec §5.3).
    const [local, remote] = token === "ee"
      ? [this.#e, this.#re]
      : token === "ss"
      ? [this.#s, this.#rs]
      : (token === "es") === i
      ? [this.#e, this.#rs]
      : [this.#s, this.#re];
    if (!local || !remote) throw stateError("MissingKeyMaterial");
    return await this.#suite.dh.dh(local, remote);
  }

  async #mixDh(token: "ee" | "es" | "se" | "ss"): Promise<void> {
    const shared = await this.#dh(token);
    this.#symmetric.mixKey(shared);
    wipe(shared);
  }

  /** `WriteMessage(payload, message_buffer)`: the next handshake message, carrying `payload`. */
  async writeMessage(payload: Uint8Array = new Uint8Array(0)): Promise<Uint8Array> {
    this.#enter(true);
    const snap = this.#snapshot();
    try {
      const tokens = this.#pattern.messages[this.#index];
      if (this.#overhead(tokens, true) + payload.length > MAX_MESSAGE_LEN) throw inputError();
      const parts: Uint8Array[] = [];
      for (const token of tokens) {
        switch (token) {
          case "e": {
            this.#e = this.#fixedEphemeral ?? await this.#suite.dh.generateKeyPair();
            this.#fixedEphemeral = undefined;
            parts.push(this.#e.publicKey);
            this.#symmetric.mixHash(this.#e.publicKey);
            break;
          }
          case "s":
            parts.push(this.#symmetric.encryptAndHash(this.#s!.publicKey));
            break;
          default:
            await this.#mixDh(token);
        }
      }
      parts.push(this.#symmetric.encryptAndHash(payload));
      this.#index++;
      wipeSnapshot(snap.symmetric);
      return concat(...parts);
    } catch (e) {
      this.#rollback(snap);
      throw asNoiseError(e);
    } finally {
      this.#busy = false;
    }
  }

  /**
   * Bytes a message of `tokens` adds to its payload, with the keys we will have
   * by then; the payload's own tag only if `withPayloadTag` (a reader lets a short
   * payload fail as "decrypt error", as snow does).
   */
  #overhead(tokens: readonly Token[], withPayloadTag: boolean): number {
    let keyed = this.#symmetric.cipherState.hasKey();
    let n = 0;
    for (const t of tokens) {
      if (t === "e") n += DHLEN;
      else if (t === "s") n += DHLEN + (keyed ? TAGLEN : 0);
      else keyed = true;
    }
    return n + (keyed && withPayloadTag ? TAGLEN : 0);
  }

  /** `ReadMessage(message, payload_buffer)`: the payload of the peer's next handshake message. */
  async readMessage(message: Uint8Array): Promise<Uint8Array> {
    this.#enter(false);
    const snap = this.#snapshot();
    try {
      const tokens = this.#pattern.messages[this.#index];
      if (!(message instanceof Uint8Array)) throw inputError();
      if (message.length > MAX_MESSAGE_LEN || message.length < this.#overhead(tokens, false)) {
        throw inputError();
      }
      let off = 0;
      for (const token of tokens) {
        switch (token) {
          case "e": {
            this.#re = copyBytes(message, off, off + DHLEN);
            off += DHLEN;
            this.#symmetric.mixHash(this.#re);
            break;
          }
          case "s": {
            const len = DHLEN + (this.#symmetric.cipherState.hasKey() ? TAGLEN : 0);
            this.#rs = this.#symmetric.decryptAndHash(message.subarray(off, off + len));
            off += len;
            break;
          }
          default:
            await this.#mixDh(token);
        }
      }
      const payload = this.#symmetric.decryptAndHash(message.subarray(off));
      this.#index++;
      wipeSnapshot(snap.symmetric);
      return payload;
    } catch (e) {
      this.#rollback(snap);
      throw asNoiseError(e);
    } finally {
      this.#busy = false;
    }
  }

  /**
   * `Split()`: the transport, once the handshake is complete. The handshake
   * state is wiped and can no longer be used.
   */
  split(): TransportState {
    if (!this.isComplete) throw stateError("HandshakeNotFinished");
    if (this.#split) throw stateError("HandshakeFinished");
    this.#split = true;
    const hash = this.#symmetric.getHandshakeHash();
    const [c1, c2] = this.#symmetric.split();
    const rs = this.#rs;
    this.destroy();
    return this.#initiator
      ? new TransportState(c1, c2, hash, rs)
      : new TransportState(c2, c1, hash, rs);
  }

  /**
   * Wipes the handshake's secrets (chaining key, cipher key, ephemeral key, and the
   * static key where the state owns it); for an abandoned handshake. The state
   * cannot be used afterwards. `split()` calls it.
   */
  destroy(): void {
    this.#split = true;
    this.#symmetric.destroy();
    this.#e?.destroy();
    if (this.#ownsStatic) this.#s?.destroy();
  }

  /** Redacted. */
  toString(): string {
    return `HandshakeState { ${this.protocolName}, message ${this.#index} }`;
  }
  /** Redacted. */
  toJSON(): { protocol: string; initiator: boolean; messageIndex: number } {
    return { protocol: this.protocolName, initiator: this.#initiator, messageIndex: this.#index };
  }
  /** Redacted. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
  /** Redacted. */
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }
}

/** Any failure as a NoiseError: our own pass through, anything else becomes `Other`. */
function asNoiseError(e: unknown): NoiseError {
  if (e instanceof NoiseError) return e;
  return new NoiseError(NoiseErrorCode.Other, "unexpected failure in the handshake");
}
