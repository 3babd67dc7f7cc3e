/**
 * `StreamingNoiseLink`: the Rust crate's `StreamingNoiseLink` (`src/streaming.rs`),
 * wire-compatible: a large message is cut into chunks of at most `chunkSize`
 * bytes and each chunk is one ordinary {@linkcode NoiseLink} ciphertext (chunk +
 * 16-byte tag). There is no framing at all — no count, no end marker — so the
 * caller carries the list of chunks and its boundaries (use the message layer of
 * `messages.ts` when you need authenticated message boundaries).
 *
 * Difference from the Rust crate: the default chunk size is 65519 (the largest
 * Noise plaintext), not 65536, with which every full chunk fails in Rust; a
 * chunk size above 65519, below 1 or not an integer is refused at construction
 * (Rust accepts it and fails later, or panics for 0).
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteNn, clientStartNn, DummyRing, NoiseClient, NoiseServer, serverAcceptNn,
 *   serverCompleteNn, StreamingNoiseLink,
 * } from "@pubky/noise";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(3), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * const c = await clientStartNn(client);
 * const s = await serverAcceptNn(server, c.firstMsg);
 * const alice = new StreamingNoiseLink(await clientCompleteNn(client, c.hs, s.response));
 * const bob = new StreamingNoiseLink(serverCompleteNn(s.hs));
 * const chunks = alice.encryptStreaming(new Uint8Array(100_000));
 * console.log(chunks.map((c) => c.length)); // [65535, 34497]
 * console.log(bob.decryptStreaming(chunks).length); // 100000
 * ```
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";
import { concat } from "../bytes.ts";
import type { NoiseLink } from "../link.ts";
import { MAX_PLAINTEXT_LEN as MAX_CHUNK_PLAINTEXT } from "../noise/transport_state.ts";

function otherError(detail: string): NoiseError {
  return new NoiseError(NoiseErrorCode.Other, detail);
}

/**
 * A {@linkcode NoiseLink} that encrypts and decrypts messages of any size as chunks.
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteIk, clientStartIkDirect, DummyRing, NoiseClient, NoiseServer, serverAcceptIk,
 *   serverCompleteIk, StreamingNoiseLink,
 * } from "@pubky/noise";
 * const client = new NoiseClient("kid", "client-device-0001", await DummyRing.create(new Uint8Array(32).fill(1), "kid"));
 * const server = new NoiseServer("kid", "server-device-0001", await DummyRing.create(new Uint8Array(32).fill(2), "kid"));
 * const c = await clientStartIkDirect(client, await server.staticPublicKey());
 * const s = await serverAcceptIk(server, c.firstMsg);
 * const sender = new StreamingNoiseLink(await clientCompleteIk(c.hs, s.response), 16_384);
 * const receiver = new StreamingNoiseLink(serverCompleteIk(s.hs));
 * const chunks = sender.encryptStreaming(new Uint8Array(40_000)); // send each chunk as a message
 * console.log(chunks.length, receiver.decryptStreaming(chunks).length); // 3 40000
 * ```
 */
export class StreamingNoiseLink {
  /** The default (and largest) chunk size: the largest Noise plaintext, 65519 bytes. */
  static readonly DEFAULT_CHUNK_SIZE: number = MAX_CHUNK_PLAINTEXT;

  readonly #link: NoiseLink;
  readonly #chunkSize: number;

  /**
   * Rust `StreamingNoiseLink::new(link, chunk_size)`; without `chunkSize`, Rust
   * `new_with_default_chunk_size` (but 65519). Throws `NoiseError` Other for a
   * chunk size that is not an integer from 1 to 65519.
   */
  constructor(link: NoiseLink, chunkSize: number = StreamingNoiseLink.DEFAULT_CHUNK_SIZE) {
    if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_CHUNK_PLAINTEXT) {
      throw otherError(
        `Chunk size ${chunkSize} is not an integer from 1 to ${MAX_CHUNK_PLAINTEXT}`,
      );
    }
    this.#link = link;
    this.#chunkSize = chunkSize;
  }

  /** The chunk size in plaintext bytes. */
  get chunkSize(): number {
    return this.#chunkSize;
  }

  /** The link underneath (Rust `inner()` / `inner_mut()`). */
  get inner(): NoiseLink {
    return this.#link;
  }

  /**
   * `data` as ciphertext chunks, in order: `ceil(len / chunkSize)` of them, each
   * at most `chunkSize + 16` bytes; empty data gives no chunk (as in Rust).
   */
  encryptStreaming(data: Uint8Array): Uint8Array[] {
    if (!(data instanceof Uint8Array)) throw otherError("data must be a Uint8Array");
    const out: Uint8Array[] = [];
    for (let off = 0; off < data.length; off += this.#chunkSize) {
      out.push(this.#link.encrypt(data.subarray(off, off + this.#chunkSize)));
    }
    return out;
  }

  /**
   * The concatenated plaintext of `chunks`, decrypted in order. As in Rust, a
   * chunk that fails to decrypt throws (Snow 3000) after the chunks before it
   * have been consumed from the link.
   */
  decryptStreaming(chunks: readonly Uint8Array[]): Uint8Array {
    if (!Array.isArray(chunks)) throw otherError("chunks must be an array of Uint8Array");
    return concat(...chunks.map((c) => this.decryptChunk(c)));
  }

  /** One chunk (at most `chunkSize` bytes) as one ciphertext. */
  encryptChunk(chunk: Uint8Array): Uint8Array {
    if (!(chunk instanceof Uint8Array)) throw otherError("chunk must be a Uint8Array");
    if (chunk.length > this.#chunkSize) {
      throw otherError(`Chunk size ${chunk.length} exceeds limit ${this.#chunkSize}`);
    }
    return this.#link.encrypt(chunk);
  }

  /** One ciphertext chunk, decrypted (Snow 3000 unless it authenticates). */
  decryptChunk(ciphertext: Uint8Array): Uint8Array {
    return this.#link.decrypt(ciphertext);
  }
}
