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
 * Speed: a DH with our static key (WebCrypto, asynchronous) starts as soon as both its keys are
 * known, possibly while the previous message is still being read, and runs while the rest is
 * processed; results are mixed in pattern order, so messages, keys and errors are the spec's.
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
import { inspectAsString } from "../redacted.ts";

/**
 * The largest Noise message, handshake or transport (spec §3).
 *
 * @example
 * ```ts
 * import { HandshakeState, loadCryptoSuite, MAX_MESSAGE_LEN, NN, NoiseError } from "@pubky/noise";
 * const hs = new HandshakeState({ suite: await loadCryptoSuite(), pattern: NN, initiator: true });
 * await hs.writeMessage(new Uint8Array(MAX_MESSAGE_LEN)) // 32 + 65535 bytes: over the cap
 *   .catch((e: NoiseError) => console.log(e.message)); // snow error: input error
 * console.log(MAX_MESSAGE_LEN, hs.messageIndex); // 65535 0: the refused write changed nothing
 * ```
 */
export const MAX_MESSAGE_LEN = 65535;

/**
 * Options of {@linkcode HandshakeState}: the spec's `Initialize(...)` arguments.
 *
 * @example
 * ```ts
 * import { HandshakeState, type HandshakeStateOptions, loadCryptoSuite, PROLOGUE, XX } from "@pubky/noise";
 * const suite = await loadCryptoSuite();
 * const options: HandshakeStateOptions = {
 *   suite,
 *   pattern: XX,
 *   initiator: false,
 *   prologue: PROLOGUE, // both sides must use the same prologue
 *   s: await suite.dh.generateKeyPair(), // a static key of our own, outside any ring
 *   ownsStatic: true, // wiped at split()
 * };
 * const responder = new HandshakeState(options);
 * console.log(responder.protocolName, responder.isMyTurn); // Noise_XX_25519_ChaChaPoly_BLAKE2s false
 * ```
 */
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

/** A DH token of a message pattern. */
type DhToken = "ee" | "es" | "se" | "ss";

function ignore(): void {}

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
  /**
   * DHs with our static key, started as soon as both keys are known (they are the slow,
   * asynchronous ones on WebCrypto: starting them early lets them run while the rest of the
   * message is processed). Each is consumed, in pattern order, by its token; `call` is the
   * write/read call that started it, so that a rejected message drops what it started.
   */
  #early = new Map<DhToken, { result: Promise<Uint8Array>; call: number }>();
  #calls = 0;

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
    this.#calls++;
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
    this.#dropEarly(this.#calls);
  }

  /** The local key pair and the remote public key of a DH token (spec §5.3). */
  #keysOf(token: DhToken): [DhKeyPair | null, Uint8Array | null] {
    // es: initiator's e with responder's s; se: initiator's s with responder's e.
    if (token === "ee") return [this.#e, this.#re];
    if (token === "ss") return [this.#s, this.#rs];
    return (token === "es") === this.#initiator ? [this.#e, this.#rs] : [this.#s, this.#re];
  }

  /**
   * Starts the static-key DHs of this message (from token `from` on) and of the next one whose
   * keys are now known. The results wait in `#early`; an error waits too, and is thrown where
   * its token is processed, in pattern order, exactly as without the early start.
   */
  #startEarly(from: number): void {
    if (this.#s === null) return;
    const messages = this.#pattern.messages;
    for (let m = this.#index; m < Math.min(this.#index + 2, messages.length); m++) {
      const tokens = messages[m];
      for (let t = m === this.#index ? from : 0; t < tokens.length; t++) {
        const token = tokens[t];
        if (token === "e" || token === "s" || this.#early.has(token)) continue;
        const [local, remote] = this.#keysOf(token);
        if (local !== this.#s || remote === null) continue;
        const result = this.#suite.dh.dh(local, remote);
        result.catch(ignore); // observed when the token is processed (or dropped)
        this.#early.set(token, { result, call: this.#calls });
      }
    }
  }

  /** Drops early DHs (all, or those started by call `call`); their results are wiped. */
  #dropEarly(call?: number): void {
    for (const [token, { result, call: c }] of this.#early) {
      if (call !== undefined && c !== call) continue;
      this.#early.delete(token);
      result.then((shared) => wipe(shared), ignore);
    }
  }

  async #dh(token: DhToken): Promise<Uint8Array> {
    const early = this.#early.get(token);
    if (early !== undefined) {
      this.#early.delete(token);
      return await early.result;
    }
    const [local, remote] = this.#keysOf(token);
    if (!local || !remote) throw stateError("MissingKeyMaterial");
    return await this.#suite.dh.dh(local, remote);
  }

  async #mixDh(token: DhToken): Promise<void> {
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
      this.#startEarly(0);
      for (let t = 0; t < tokens.length; t++) {
        const token = tokens[t];
        switch (token) {
          case "e": {
            this.#e = this.#fixedEphemeral ?? await this.#suite.dh.generateKeyPair();
            this.#fixedEphemeral = undefined;
            parts.push(this.#e.publicKey);
            this.#symmetric.mixHash(this.#e.publicKey);
            this.#startEarly(t + 1);
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
      this.#startEarly(0);
      for (let t = 0; t < tokens.length; t++) {
        const token = tokens[t];
        switch (token) {
          case "e": {
            this.#re = copyBytes(message, off, off + DHLEN);
            off += DHLEN;
            this.#symmetric.mixHash(this.#re);
            this.#startEarly(t + 1);
            break;
          }
          case "s": {
            const len = DHLEN + (this.#symmetric.cipherState.hasKey() ? TAGLEN : 0);
            this.#rs = this.#symmetric.decryptAndHash(message.subarray(off, off + len));
            off += len;
            this.#startEarly(t + 1);
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
    this.#dropEarly();
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
}
inspectAsString(HandshakeState);

/** Any failure as a NoiseError: our own pass through, anything else becomes `Other`. */
function asNoiseError(e: unknown): NoiseError {
  if (e instanceof NoiseError) return e;
  return new NoiseError(NoiseErrorCode.Other, "unexpected failure in the handshake");
}
