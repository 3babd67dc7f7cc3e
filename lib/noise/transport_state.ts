/**
 * The transport phase (Noise spec §5.3 after `Split()`, §11.3 rekey): one
 * CipherState per direction and the handshake hash that names the session.
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";
import { TAGLEN } from "../crypto/chachapoly.ts";
import { CipherState } from "./cipher_state.ts";
import type { ChaChaPoly } from "../crypto/chachapoly.ts";
import { copyBytes } from "../bytes.ts";
import { inspectAsString } from "../redacted.ts";

/** The largest transport message (spec §3). */
export const MAX_TRANSPORT_MESSAGE_LEN = 65535;
/**
 * The largest plaintext of one transport message: 65535 − 16.
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteNn, clientStartNn, DummyRing, MAX_PLAINTEXT_LEN, NoiseClient, NoiseServer, serverAcceptNn,
 *   serverCompleteNn, type NoiseError,
 * } from "@pubky/noise";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const c = await clientStartNn(client);
 * const s = await serverAcceptNn(new NoiseServer("kid", "server-device-0001", ring), c.firstMsg);
 * const [alice, bob] = [await clientCompleteNn(client, c.hs, s.response), serverCompleteNn(s.hs)];
 * console.log(alice.encrypt(new Uint8Array(MAX_PLAINTEXT_LEN)).length); // 65535: plaintext + 16-byte tag
 * try {
 *   alice.encrypt(new Uint8Array(MAX_PLAINTEXT_LEN + 1)); // split larger data (StreamingNoiseLink)
 * } catch (e) {
 *   console.log((e as NoiseError).message); // snow error: input error
 * }
 * ```
 */
export const MAX_PLAINTEXT_LEN = MAX_TRANSPORT_MESSAGE_LEN - TAGLEN;

const EMPTY = new Uint8Array(0);

/**
 * @internal What a sealed session snapshot carries: both keys and nonces, the
 * handshake hash and the peer's static key. Secret: the holder wipes the keys.
 */
export interface TransportSecrets {
  /** Key of the sending CipherState (32 bytes). */
  sendKey: Uint8Array;
  /** Nonce of the next message to write. */
  sendNonce: bigint;
  /** Key of the receiving CipherState (32 bytes). */
  recvKey: Uint8Array;
  /** Nonce of the next message to read. */
  recvNonce: bigint;
  /** The handshake hash (32 bytes): the session id. */
  handshakeHash: Uint8Array;
  /** The peer's static key (32 bytes), or `null` (NN). */
  remoteStatic: Uint8Array | null;
}

/**
 * A pair of CipherStates after the handshake: `writeMessage` seals with the
 * sending one, `readMessage` opens with the receiving one. Messages must be read
 * in the order they were written; a replayed, reordered or forged message is
 * refused and changes nothing.
 *
 * @example
 * ```ts
 * import { HandshakeState, loadCryptoSuite, NN } from "@pubky/noise";
 * const suite = await loadCryptoSuite();
 * const a = new HandshakeState({ suite, pattern: NN, initiator: true });
 * const b = new HandshakeState({ suite, pattern: NN, initiator: false });
 * await b.readMessage(await a.writeMessage());
 * await a.readMessage(await b.writeMessage());
 * const [ta, tb] = [a.split(), b.split()];
 * const sealed = ta.writeMessage(new Uint8Array([1, 2, 3]));
 * console.log(sealed.length, tb.readMessage(sealed)); // 19 Uint8Array(3) [1, 2, 3]
 * ```
 */
export class TransportState {
  readonly #send: CipherState;
  readonly #receive: CipherState;
  readonly #handshakeHash: Uint8Array;
  readonly #remoteStatic: Uint8Array | null;

  /** @internal Made by `HandshakeState.split()`. */
  constructor(
    send: CipherState,
    receive: CipherState,
    handshakeHash: Uint8Array,
    remoteStatic: Uint8Array | null = null,
  ) {
    this.#send = send;
    this.#receive = receive;
    this.#handshakeHash = handshakeHash;
    this.#remoteStatic = remoteStatic ? copyBytes(remoteStatic) : null;
  }

  /** The handshake hash `h` of the finished handshake (a copy). */
  get handshakeHash(): Uint8Array {
    return copyBytes(this.#handshakeHash);
  }

  /** The peer's static public key authenticated by the handshake (a copy), if the pattern has one. */
  get remoteStatic(): Uint8Array | null {
    return this.#remoteStatic ? copyBytes(this.#remoteStatic) : null;
  }

  /** Nonce of the next message to write. */
  get sendNonce(): bigint {
    return this.#send.nonce;
  }

  /** Nonce of the next message to read. */
  get receiveNonce(): bigint {
    return this.#receive.nonce;
  }

  /**
   * Seals `plaintext` (at most 65519 bytes) into the next transport message. With `output`, a
   * buffer of exactly `plaintext.length + 16` bytes (a view into a larger one is fine, and it
   * may overlap `plaintext`), the message is written there and `output` returned; another
   * length is refused with `Other` before the nonce moves.
   */
  writeMessage(plaintext: Uint8Array, output?: Uint8Array): Uint8Array {
    if (!(plaintext instanceof Uint8Array) || plaintext.length > MAX_PLAINTEXT_LEN) {
      throw new NoiseError(NoiseErrorCode.Snow, "input error");
    }
    if (
      output !== undefined &&
      (!(output instanceof Uint8Array) || output.length !== plaintext.length + TAGLEN)
    ) {
      throw new NoiseError(
        NoiseErrorCode.Other,
        `output must be a Uint8Array of plaintext.length + ${TAGLEN} bytes`,
      );
    }
    return this.#send.encryptWithAd(EMPTY, plaintext, output);
  }

  /** Opens the next transport message; refused (nothing changes) unless it authenticates. */
  readMessage(message: Uint8Array): Uint8Array {
    if (!(message instanceof Uint8Array) || message.length > MAX_TRANSPORT_MESSAGE_LEN) {
      throw new NoiseError(NoiseErrorCode.Snow, "input error");
    }
    if (message.length < TAGLEN) throw new NoiseError(NoiseErrorCode.Snow, "decrypt error");
    return this.#receive.decryptWithAd(EMPTY, message);
  }

  /**
   * `writeMessage`, asynchronous: on runtimes whose fastest ChaCha20-Poly1305 for large messages
   * is WebCrypto's (Bun), a large message is sealed there; elsewhere it is `writeMessage`. The
   * nonce is taken at the call, so calls may overlap and keep their order.
   */
  writeMessageAsync(plaintext: Uint8Array): Promise<Uint8Array> {
    if (!(plaintext instanceof Uint8Array) || plaintext.length > MAX_PLAINTEXT_LEN) {
      return Promise.reject(new NoiseError(NoiseErrorCode.Snow, "input error"));
    }
    return this.#send.encryptWithAdAsync(EMPTY, plaintext);
  }

  /**
   * `readMessage`, asynchronous (see {@linkcode TransportState.writeMessageAsync}). Calls are
   * opened one after the other in call order; a message that does not authenticate rejects and
   * changes nothing. While one is pending, `readMessage` refuses with `Other`.
   */
  readMessageAsync(message: Uint8Array): Promise<Uint8Array> {
    if (!(message instanceof Uint8Array) || message.length > MAX_TRANSPORT_MESSAGE_LEN) {
      return Promise.reject(new NoiseError(NoiseErrorCode.Snow, "input error"));
    }
    if (message.length < TAGLEN) {
      return Promise.reject(new NoiseError(NoiseErrorCode.Snow, "decrypt error"));
    }
    return this.#receive.decryptWithAdAsync(EMPTY, message);
  }

  /**
   * The plaintext length from which `writeMessageAsync`/`readMessageAsync` are faster than the
   * synchronous calls on this runtime (8192 on Bun); `Infinity` where they never are.
   */
  get asyncFromBytes(): number {
    return this.#send.asyncFromBytes;
  }

  /** Rekeys the sending direction (spec §11.3); the peer must rekey its receiving one. */
  rekeySend(): void {
    this.#send.rekey();
  }

  /** Rekeys the receiving direction (spec §11.3). */
  rekeyReceive(): void {
    this.#receive.rekey();
  }

  /** @internal Sets the nonces, for restoring a saved session and for tests. */
  setNonces(send: bigint, receive: bigint): void {
    this.#send.setNonce(send);
    this.#receive.setNonce(receive);
  }

  /**
   * @internal For sealed session snapshots only (`lib/session/snapshot.ts`): copies
   * of both keys and nonces. Throws `NoiseError` Other once the transport is
   * destroyed. The caller must wipe `sendKey` and `recvKey`.
   */
  exportSecretsForSnapshot(): TransportSecrets {
    const sendKey = this.#send.exportKeyForSnapshot();
    const recvKey = this.#receive.exportKeyForSnapshot();
    if (sendKey === null || recvKey === null) {
      sendKey?.fill(0);
      recvKey?.fill(0);
      throw new NoiseError(NoiseErrorCode.Other, "transport has no keys (destroyed)");
    }
    return {
      sendKey,
      sendNonce: this.#send.nonce,
      recvKey,
      recvNonce: this.#receive.nonce,
      handshakeHash: copyBytes(this.#handshakeHash),
      remoteStatic: this.remoteStatic,
    };
  }

  /**
   * @internal The transport of a sealed session snapshot (`lib/session/snapshot.ts`):
   * the keys are copied (the caller wipes its own), the nonces set. Throws
   * `NoiseError` Other on keys or hashes of the wrong length.
   */
  static fromSnapshot(cipher: ChaChaPoly, secrets: TransportSecrets): TransportState {
    const ok32 = (b: Uint8Array | null) => b instanceof Uint8Array && b.length === 32;
    if (
      !ok32(secrets.sendKey) || !ok32(secrets.recvKey) || !ok32(secrets.handshakeHash) ||
      (secrets.remoteStatic !== null && !ok32(secrets.remoteStatic))
    ) {
      throw new NoiseError(NoiseErrorCode.Other, "snapshot keys must be 32 bytes");
    }
    const send = new CipherState(cipher);
    const receive = new CipherState(cipher);
    send.initializeKey(secrets.sendKey);
    receive.initializeKey(secrets.recvKey);
    send.setNonce(secrets.sendNonce);
    receive.setNonce(secrets.recvNonce);
    return new TransportState(
      send,
      receive,
      copyBytes(secrets.handshakeHash),
      secrets.remoteStatic,
    );
  }

  /** Wipes both keys; the transport cannot be used afterwards. */
  destroy(): void {
    this.#send.destroy();
    this.#receive.destroy();
  }

  /** Redacted. */
  toString(): string {
    return "TransportState { keys: [redacted] }";
  }
  /** Redacted. */
  toJSON(): { sendNonce: string; receiveNonce: string } {
    return { sendNonce: this.sendNonce.toString(), receiveNonce: this.receiveNonce.toString() };
  }
}
inspectAsString(TransportState);
