/**
 * `NoiseLink`: the tiny data-link adapter of an established session, with
 * `encrypt` and `decrypt` of one Noise transport message each (as the Rust
 * crate's `NoiseLink`). Ciphertext = plaintext + 16-byte tag, no framing.
 *
 * @module
 */
import { SessionId } from "./session_id.ts";
import type { TransportState } from "./noise/transport_state.ts";
import type { HandshakeTracer, LinkTracer } from "./trace.ts";
import { inspectAsString } from "./redacted.ts";

/**
 * An established session.
 *
 * @example
 * ```ts
 * import { clientCompleteNn, clientStartNn, DummyRing, NoiseClient, NoiseServer, serverAcceptNn, serverCompleteNn } from "@pubky/noise";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * const c = await clientStartNn(client);
 * const s = await serverAcceptNn(server, c.firstMsg);
 * const clientLink = await clientCompleteNn(client, c.hs, s.response);
 * const serverLink = serverCompleteNn(s.hs);
 * const ct = clientLink.encrypt(new TextEncoder().encode("hello"));
 * console.log(new TextDecoder().decode(serverLink.decrypt(ct))); // hello
 * ```
 */
export class NoiseLink {
  readonly #transport: TransportState;
  readonly #sessionId: SessionId;
  readonly #trace: LinkTracer | undefined;

  /** @internal Made by the handshake functions (with the handshake's tracer, if any). */
  constructor(transport: TransportState, tracer?: HandshakeTracer) {
    this.#transport = transport;
    this.#sessionId = new SessionId(transport.handshakeHash);
    this.#trace = tracer?.complete(transport, this.#sessionId.toString());
  }

  /** The session id (the handshake hash), equal on both sides. */
  get sessionId(): SessionId {
    return this.#sessionId;
  }

  /** The peer's static public key, authenticated by the handshake (`null` for NN). */
  get remoteStatic(): Uint8Array | null {
    return this.#transport.remoteStatic;
  }

  /** The session tag to bind app messages to this channel (the handshake hash, 32 bytes). */
  exportSessionTag(): Uint8Array {
    return this.#sessionId.toBytes();
  }

  /**
   * Seals `plaintext` (at most 65519 bytes) into one transport message. With `output`, exactly
   * `plaintext.length + 16` bytes (e.g. a view into a frame buffer), the message is written
   * there instead of a new array, and `output` returned.
   */
  encrypt(plaintext: Uint8Array, output?: Uint8Array): Uint8Array {
    if (this.#trace === undefined) return this.#transport.writeMessage(plaintext, output);
    return this.#trace.encrypt(plaintext, output);
  }

  /** Opens the next transport message; refused, with nothing changed, unless it authenticates. */
  decrypt(ciphertext: Uint8Array): Uint8Array {
    if (this.#trace === undefined) return this.#transport.readMessage(ciphertext);
    return this.#trace.decrypt(ciphertext);
  }

  /**
   * {@linkcode NoiseLink.encrypt}, asynchronous. Where the runtime's fastest ChaCha20-Poly1305
   * for large messages is WebCrypto's (Bun: several times noble's), large messages are sealed
   * there; elsewhere this is `encrypt`. The nonce is taken at the call: calls may overlap, and
   * the messages keep the call order. Should WebCrypto fail, the call rejects with `Other` and
   * the sending side closes, since a spent nonce would leave the peer unable to read on.
   */
  encryptAsync(plaintext: Uint8Array): Promise<Uint8Array> {
    if (this.#trace === undefined) return this.#transport.writeMessageAsync(plaintext);
    return this.#trace.encryptAsync(plaintext);
  }

  /**
   * {@linkcode NoiseLink.decrypt}, asynchronous (see {@linkcode NoiseLink.encryptAsync}).
   * Messages are opened one after the other, in call order; one that does not authenticate
   * rejects and changes nothing. While one is pending, `decrypt` refuses with `Other`.
   */
  decryptAsync(ciphertext: Uint8Array): Promise<Uint8Array> {
    if (this.#trace === undefined) return this.#transport.readMessageAsync(ciphertext);
    return this.#trace.decryptAsync(ciphertext);
  }

  /** The Noise transport underneath (nonces, rekey). */
  get transport(): TransportState {
    return this.#transport;
  }

  /** Wipes the keys; the link cannot be used afterwards. */
  destroy(): void {
    this.#transport.destroy();
    this.#trace?.close();
  }

  /** Redacted. */
  toString(): string {
    return `NoiseLink(${this.#sessionId})`;
  }
  /** Redacted. */
  toJSON(): { sessionId: string } {
    return { sessionId: this.#sessionId.toString() };
  }
}
inspectAsString(NoiseLink);
