/**
 * The other JavaScript Noise implementations of the comparison (`compare_scenarios.ts`), loaded
 * at run time so that a runtime where one of them cannot load still runs the rest:
 *
 * - `noise-handshake` 4.x (Holepunch): CommonJS on `sodium-universal`, which is `sodium-native`
 *   (a Node-API addon, libsodium) under Node, Deno and Bun. Its suite is fixed:
 *   `Noise_*_25519_ChaChaPoly_BLAKE2b`, so it hashes with BLAKE2b, not BLAKE2s.
 * - `@chainsafe/libp2p-noise` 17: `Noise_XX_25519_ChaChaPoly_SHA256`. Its "core" is the
 *   `XXHandshakeState` and `CipherState` of `dist/src/protocol.js` (not in its exports map, so
 *   loaded by file path), with its default crypto (`node:crypto` X25519, SHA-256 and, from 1200
 *   bytes, ChaCha20-Poly1305; its AssemblyScript ChaCha20-Poly1305 below that). Its "stream" is
 *   the public `noise()` encrypter: `secureOutbound`/`secureInbound` over a libp2p
 *   `MultiaddrConnection`, with libp2p's identity payload (an Ed25519 signature each way).
 *
 * Benchmark-only: these are devDependencies, never dependencies of the package.
 *
 * @module
 */
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

// ---------------------------------------------------------------------------------------------
// noise-handshake

/** A `noise-handshake` key pair (Buffers). */
export interface NhKeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

/** The `noise-handshake` handshake state (the parts the bench uses). */
export interface NhHandshake {
  initialise(prologue: Uint8Array, remoteStatic?: Uint8Array): void;
  send(payload?: Uint8Array): Uint8Array;
  recv(message: Uint8Array): Uint8Array;
  readonly complete: boolean;
  readonly tx: Uint8Array;
  readonly rx: Uint8Array;
  readonly hash: Uint8Array;
  readonly s: NhKeyPair;
}

/** The `noise-handshake` cipher state (transport). */
export interface NhCipher {
  encrypt(plaintext: Uint8Array, ad?: Uint8Array): Uint8Array;
  decrypt(ciphertext: Uint8Array, ad?: Uint8Array): Uint8Array;
}

/** `noise-handshake`, or why it does not load here. */
export interface NoiseHandshakeModule {
  Noise: new (pattern: string, initiator: boolean, staticKeyPair?: NhKeyPair) => NhHandshake;
  Cipher: new (key: Uint8Array) => NhCipher;
  generateKeyPair(): NhKeyPair;
  /** Which sodium it runs on (`sodium-native` or `sodium-javascript`). */
  sodium: string;
}

/** Loads `noise-handshake`; `{ error }` where it (or its native sodium) does not load. */
export function loadNoiseHandshake(): NoiseHandshakeModule | { error: string } {
  try {
    const Noise = require("noise-handshake");
    const Cipher = require("noise-handshake/cipher.js");
    const dh = require("noise-handshake/dh.js");
    let sodium = "sodium-javascript";
    try {
      const universal = require("sodium-universal");
      const native = require("sodium-native");
      if (universal.crypto_scalarmult === native.crypto_scalarmult) sodium = "sodium-native";
    } catch {
      // sodium-native does not load: sodium-universal fell back (or failed).
    }
    return { Noise, Cipher, generateKeyPair: dh.generateKeyPair, sodium };
  } catch (e) {
    return { error: e instanceof Error ? e.message.split("\n")[0] : String(e) };
  }
}

// ---------------------------------------------------------------------------------------------
// @chainsafe/libp2p-noise

/** A `Uint8ArrayList` (libp2p's list of byte arrays), the parts the bench uses. */
export interface ByteList {
  readonly byteLength: number;
  subarray(): Uint8Array;
}

/** libp2p-noise's `CipherState`. */
export interface LpCipherState {
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array | ByteList;
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array | ByteList;
}

/** libp2p-noise's `XXHandshakeState`. */
export interface LpXX {
  writeMessageA(payload: Uint8Array): Uint8Array | ByteList;
  writeMessageB(payload: Uint8Array): Uint8Array | ByteList;
  writeMessageC(payload: Uint8Array): Uint8Array | ByteList;
  readMessageA(message: ByteList): Uint8Array | ByteList;
  readMessageB(message: ByteList): Uint8Array | ByteList;
  readMessageC(message: ByteList): Uint8Array | ByteList;
  ss: { h: Uint8Array; split(): [LpCipherState, LpCipherState] };
}

/** A libp2p-noise X25519 key pair (raw bytes). */
export interface LpKeyPair {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

/** A libp2p `MessageStream` (the parts the bench uses). */
export interface LpMessageStream {
  send(data: Uint8Array): boolean;
  onDrain(): Promise<void>;
  addEventListener(type: "message", listener: (evt: { data: ByteList }) => void): void;
  removeEventListener(type: "message", listener: (evt: { data: ByteList }) => void): void;
  close(): Promise<void>;
  abort(err: Error): void;
}

/** The libp2p `noise()` encrypter of one peer. */
export interface LpEncrypter {
  secureOutbound(
    connection: unknown,
    options: { skipStreamMuxerNegotiation: boolean },
  ): Promise<{ connection: LpMessageStream; remotePeer: { toString(): string } }>;
  secureInbound(
    connection: unknown,
    options: { skipStreamMuxerNegotiation: boolean },
  ): Promise<{ connection: LpMessageStream; remotePeer: { toString(): string } }>;
}

/** A node `net.Socket`, the parts the libp2p adapter uses. */
export interface SocketLike {
  write(chunk: Uint8Array): boolean;
  end(): unknown;
  destroy(): unknown;
  pause(): unknown;
  resume(): unknown;
  on(event: string, listener: (...args: never[]) => void): unknown;
  once(event: string, listener: (...args: never[]) => void): unknown;
}

/** `@chainsafe/libp2p-noise` and the libp2p pieces its stream needs. */
export interface Libp2pNoiseModule {
  /** A new XX state with libp2p-noise's default crypto (SHA-256). */
  xx(initiator: boolean, s: LpKeyPair): LpXX;
  /** A static key pair of its default crypto. */
  generateKeyPair(): LpKeyPair;
  /** A byte array as the `Uint8ArrayList` its `readMessage*` take. */
  list(bytes: Uint8Array | ByteList): ByteList;
  /** An empty payload. */
  empty: Uint8Array;
  /** Where its default ChaCha20-Poly1305 did not work, what the bench used instead. */
  cipherNote: string;
  /** A `noise()` encrypter with a fresh Ed25519 libp2p identity. */
  encrypter(): Promise<LpEncrypter>;
  /** An in-memory `MultiaddrConnection` pair (libp2p's own mock, no delay). */
  memoryPair(): [unknown, unknown];
  /** A `MultiaddrConnection` over a connected `net.Socket`. */
  socketConnection(socket: SocketLike, outbound: boolean): unknown;
}

const LIBP2P_NOISE = "../node_modules/@chainsafe/libp2p-noise/dist/src/";

// deno-lint-ignore no-explicit-any
type Any = any;

/** Loads `@chainsafe/libp2p-noise`; `{ error }` where it does not load. */
export async function loadLibp2pNoise(): Promise<Libp2pNoiseModule | { error: string }> {
  // libp2p 3 needs Promise.withResolvers (Node ≥ 22); Node 20 gets the three-line polyfill.
  const P = Promise as unknown as { withResolvers?: unknown };
  P.withResolvers ??= () => {
    let resolve!: (v: unknown) => void, reject!: (e: unknown) => void;
    const promise = new Promise((res, rej) => [resolve, reject] = [res, rej]);
    return { promise, resolve, reject };
  };
  try {
    const url = (p: string) => new URL(LIBP2P_NOISE + p, import.meta.url).href;
    const protocol: Any = await import(url("protocol.js"));
    const cryptoMod: Any = await import(url("crypto.js"));
    const impls: Any = await import(url("crypto/index.js"));
    const index: Any = await import(url("index.js"));
    const { Uint8ArrayList }: Any = await import("uint8arraylist");
    const keys: Any = await import("@libp2p/crypto/keys");
    const peerId: Any = await import("@libp2p/peer-id");
    const logger: Any = await import("@libp2p/logger");
    const utils: Any = await import("@libp2p/utils");
    const { multiaddr }: Any = await import("@multiformats/multiaddr");

    // Its default crypto encrypts ≥ 1200 bytes with node:crypto chacha20-poly1305, which Bun
    // lacks: there, use its own AssemblyScript ChaCha20-Poly1305 for every size.
    let raw: Any = impls.defaultCrypto;
    let cipherNote = "";
    try {
      const k = new Uint8Array(32), n = new Uint8Array(12), pt = new Uint8Array(2000);
      const ct = raw.chaCha20Poly1305Encrypt(pt, n, new Uint8Array(0), k);
      raw.chaCha20Poly1305Decrypt(ct, n, new Uint8Array(0), k);
    } catch {
      raw = {
        ...impls.defaultCrypto,
        chaCha20Poly1305Encrypt: impls.asCrypto.chaCha20Poly1305Encrypt,
        chaCha20Poly1305Decrypt: impls.asCrypto.chaCha20Poly1305Decrypt,
      };
      cipherNote = "its default node:crypto ChaCha20-Poly1305 fails here; its AssemblyScript " +
        "ChaCha20-Poly1305 used for every size";
    }
    const crypto = cryptoMod.wrapCrypto(raw);
    const log = logger.defaultLogger();

    class SocketConnection extends utils.AbstractMultiaddrConnection {
      socket: SocketLike;
      constructor(socket: SocketLike, outbound: boolean) {
        super({
          remoteAddr: multiaddr("/ip4/127.0.0.1/tcp/1"),
          direction: outbound ? "outbound" : "inbound",
          log: log.forComponent("bench:socket"),
          inactivityTimeout: 0,
        });
        this.socket = socket;
        socket.on("data", (data: Uint8Array) => this.onData(data));
        socket.on("end", () => this.onRemoteCloseWrite());
        socket.on("close", () => this.onTransportClosed());
        socket.on("error", (e: Error) => this.abort(e));
        socket.on("drain", () => this.safeDispatchEvent("drain"));
      }
      sendData(data: Any) {
        let canSendMore = true;
        for (const buf of data) canSendMore = this.socket.write(buf);
        return { sentBytes: data.byteLength, canSendMore };
      }
      sendReset() {
        this.socket.destroy();
      }
      sendPause() {
        this.socket.pause();
      }
      sendResume() {
        this.socket.resume();
      }
      sendClose() {
        this.socket.end();
        return Promise.resolve();
      }
    }

    return {
      xx: (initiator, s) =>
        new protocol.XXHandshakeState({
          crypto,
          protocolName: "Noise_XX_25519_ChaChaPoly_SHA256",
          initiator,
          prologue: protocol.ZEROLEN,
          s,
        }),
      generateKeyPair: () => raw.generateX25519KeyPair(),
      list: (bytes) => new Uint8ArrayList(bytes),
      empty: protocol.ZEROLEN,
      cipherNote,
      async encrypter() {
        const privateKey = await keys.generateKeyPair("Ed25519");
        const factory = index.noise(raw === impls.defaultCrypto ? {} : { crypto: raw });
        return factory({
          privateKey,
          peerId: peerId.peerIdFromPrivateKey(privateKey),
          logger: log,
          upgrader: { getStreamMuxers: () => new Map() },
        });
      },
      memoryPair: () => utils.multiaddrConnectionPair(),
      socketConnection: (socket, outbound) => new SocketConnection(socket, outbound),
    };
  } catch (e) {
    return { error: e instanceof Error ? e.message.split("\n")[0] : String(e) };
  }
}
