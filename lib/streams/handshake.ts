/**
 * The Pubky Noise handshake as a step over any {@linkcode MessageCarrier}:
 * {@linkcode connect} on the client, {@linkcode accept} on the server. Each
 * resolves with a {@linkcode SecureChannel}: plaintext streams over the same
 * carrier, plus the session id and what was learnt about the peer.
 *
 * - Every handshake message is one carrier message (a WebSocket message, or a
 *   frame on a byte stream through {@linkcode framed}); the wire is exactly the
 *   data-link adapter's, so a Rust `pubky-noise` peer on the same carrier
 *   interoperates.
 * - The server tells the pattern from the first message, with no change to the
 *   wire: XX and NN message 1 is exactly 32 bytes (an ephemeral key, empty
 *   payload), IK message 1 is longer (≥ 96 bytes). `accept` takes XX and IK by
 *   default; **when both XX and NN are accepted, a 32-byte first message is taken
 *   as XX**, so a server that allows NN should not also allow XX on the same
 *   endpoint. A first message of a pattern that is not accepted is refused with
 *   `NoiseError` Policy (6000).
 * - The handshake reads with a reader and writes with a writer, and releases both:
 *   messages the peer sends right after the handshake stay in the carrier and
 *   come out of the channel's readable.
 * - Failure: the carrier is cancelled and aborted (both directions) and the
 *   promise rejects with a `NoiseError`: the handshake's own error (Snow,
 *   IdentityVerify, …), ConnectionReset (8002) when the carrier ends
 *   mid-handshake, Network (8000) when it errors with a non-Noise error, Timeout
 *   (8001) after `timeoutMs` (default 30 s), and the signal's reason (a
 *   `NoiseError`, else Timeout for a `TimeoutError`, else Other) on abort.
 * - The side that sends the last handshake message (the XX client, the IK and NN
 *   server) resolves once it is sent: if the peer then refuses it (an XX server
 *   that rejects the client's identity), that shows as the channel's readable
 *   erroring, not as a rejected handshake.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseServer } from "@pubky/noise";
 * import { accept, connect, memoryCarrierPair } from "@pubky/noise/streams";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(9), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * const [clientSide, serverSide] = memoryCarrierPair();
 * const [c, s] = await Promise.all([
 *   connect(clientSide, client, { pattern: "XX" }),
 *   accept(serverSide, server),
 * ]);
 * console.log(c.sessionId.equals(s.sessionId), s.pattern); // true "XX"
 * const writer = c.writable.getWriter();
 * await writer.write(new TextEncoder().encode("hello"));
 * const { value } = await s.readable.getReader().read();
 * console.log(new TextDecoder().decode(value)); // hello
 * await writer.close();
 * ```
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";
import type { NoiseLink } from "../link.ts";
import type { SessionId } from "../session_id.ts";
import type { NoiseClient } from "../client.ts";
import type { NoiseServer } from "../server.ts";
import type { IdentityPayload } from "../identity_payload.ts";
import type { HandshakeState } from "../noise/handshake_state.ts";
import {
  clientCompleteIk,
  clientCompleteNn,
  clientCompleteXx,
  clientStartIkDirect,
  clientStartNn,
  clientStartXxTofu,
  serverAcceptIk,
  serverAcceptNn,
  serverAcceptXx,
  serverCompleteIk,
  serverCompleteNn,
  serverCompleteXx,
} from "../datalink_adapter.ts";
import { asNoiseError, ignore, type MessageCarrier } from "./carrier.ts";
import {
  traceHandshakeError,
  type TraceLogger,
  type TracePattern,
  type TraceRole,
} from "../trace.ts";
import { linkStreams } from "./link_streams.ts";

/**
 * A handshake pattern of the Pubky layer.
 *
 * @example
 * ```ts
 * import type { PatternName } from "@pubky/noise/streams";
 * const pinned: Uint8Array | null = null; // the server key, once an XX handshake gave it
 * const pattern: PatternName = pinned ? "IK" : "XX";
 * console.log(pattern); // XX
 * ```
 */
export type PatternName = "XX" | "IK" | "NN";

/** Default limit of a whole handshake, in milliseconds. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 30_000;

/** Length of XX and NN message 1 (one ephemeral key, empty payload). */
const EPHEMERAL_ONLY_LEN = 32;

/**
 * An established session over a carrier.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseServer, toHex } from "@pubky/noise";
 * import { accept, connect, memoryCarrierPair, type SecureChannel } from "@pubky/noise/streams";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * const [a, b] = memoryCarrierPair();
 * const [c, s]: SecureChannel[] = await Promise.all([connect(a, client, { pattern: "XX" }), accept(b, server)]);
 * console.log(c.pattern, toHex(c.remoteIdentity!.ed25519Pub).slice(0, 16), c.remoteStatic!.length); // XX 8a88e3dd7409f195 32
 * console.log(s.sessionId.equals(c.sessionId)); // true
 * await c.writable.close();
 * ```
 */
export interface SecureChannel {
  /** Decrypted data from the peer (the carrier's readable through a `decryptStream`). */
  readable: ReadableStream<Uint8Array>;
  /** Plaintext to the peer (an `encryptStream` piped to the carrier's writable). */
  writable: WritableStream<Uint8Array>;
  /** The session id (the handshake hash), equal on both sides. */
  sessionId: SessionId;
  /**
   * The peer's Noise static key: the server's for XX and IK clients (pin it), the
   * client's on XX and IK servers; `null` for NN.
   */
  remoteStatic: Uint8Array | null;
  /**
   * The peer's verified identity payload: the server's for XX clients, the
   * client's on XX and IK servers; `null` for IK clients (the server sends none:
   * the pinned key is its identity) and for NN.
   */
  remoteIdentity: IdentityPayload | null;
  /** The link under the streams (already driven by them: do not encrypt or decrypt on it). */
  link: NoiseLink;
  /** The pattern of the handshake. */
  pattern: PatternName;
}

/**
 * Options shared by {@linkcode connect} and {@linkcode accept}.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseError, NoiseServer } from "@pubky/noise";
 * import { accept, type HandshakeStepOptions, memoryCarrierPair } from "@pubky/noise/streams";
 * const server = new NoiseServer("kid", "server-device-0001", await DummyRing.create(new Uint8Array(32).fill(2), "kid"));
 * const options: HandshakeStepOptions = { timeoutMs: 50 }; // honest clients answer within a round trip
 * const [, serverSide] = memoryCarrierPair(); // a client that never says anything
 * await accept(serverSide, server, options).catch((e: NoiseError) => console.log(e.codeName)); // Timeout
 * ```
 */
export interface HandshakeStepOptions {
  /** Aborts the handshake (the carrier is cancelled, the promise rejects). */
  signal?: AbortSignal;
  /** Limit of the whole handshake in ms (default 30 000; `Infinity`: none). */
  timeoutMs?: number;
}

/**
 * Options of {@linkcode connect}.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseServer } from "@pubky/noise";
 * import { accept, connect, type ConnectOptions, memoryCarrierPair } from "@pubky/noise/streams";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * const options: ConnectOptions = {
 *   pattern: "IK",
 *   serverStaticPub: await server.staticPublicKey(), // pinned
 *   serverHint: "chat.example",
 *   timeoutMs: 10_000,
 * };
 * const [a, b] = memoryCarrierPair();
 * const [, s] = await Promise.all([connect(a, client, options), accept(b, server)]);
 * console.log(s.pattern, s.remoteIdentity?.serverHint); // IK chat.example
 * await s.writable.close();
 * ```
 */
export interface ConnectOptions extends HandshakeStepOptions {
  /** `"XX"` for first contact, `"IK"` to a pinned server key, `"NN"` without identities. */
  pattern: PatternName;
  /** The server's pinned static key (32 bytes): required for IK. */
  serverStaticPub?: Uint8Array;
  /** The routing hint signed into our identity payload (XX, IK). */
  serverHint?: string;
}

/**
 * Options of {@linkcode accept}.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseError, NoiseServer } from "@pubky/noise";
 * import { accept, type AcceptOptions, connect, memoryCarrierPair } from "@pubky/noise/streams";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * const ikOnly: AcceptOptions = { patterns: ["IK"], timeoutMs: 5_000 }; // no first contact here
 * const [a, b] = memoryCarrierPair();
 * const [, refused] = await Promise.allSettled([
 *   connect(a, client, { pattern: "XX" }),
 *   accept(b, server, ikOnly),
 * ]);
 * console.log(refused.status === "rejected" && (refused.reason as NoiseError).codeName); // Policy
 * ```
 */
export interface AcceptOptions extends HandshakeStepOptions {
  /** Patterns this server accepts (default `["XX", "IK"]`). */
  patterns?: PatternName[];
}

const PATTERNS: readonly PatternName[] = ["XX", "IK", "NN"];

function abortError(signal: AbortSignal): NoiseError {
  const reason: unknown = signal.reason;
  if (reason instanceof NoiseError) return reason;
  if (reason instanceof Error && reason.name === "TimeoutError") {
    return new NoiseError(NoiseErrorCode.Timeout, "handshake aborted by its signal");
  }
  return new NoiseError(NoiseErrorCode.Other, "handshake aborted");
}

/** The carrier's reader and writer for the length of one handshake, with its deadline. */
class HandshakeIo {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #stopped: Promise<never>;
  #stop: (e: NoiseError) => void = ignore;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #signal: AbortSignal | undefined;
  #onAbort: () => void = ignore;
  #state: HandshakeState | null = null;

  constructor(carrier: MessageCarrier, options: HandshakeStepOptions) {
    const timeoutMs = options.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    if (typeof timeoutMs !== "number" || !(timeoutMs > 0)) {
      throw new NoiseError(
        NoiseErrorCode.Other,
        `timeoutMs must be a positive number, got ${timeoutMs}`,
      );
    }
    if (options.signal?.aborted) throw abortError(options.signal);
    this.#reader = carrier.readable.getReader();
    try {
      this.#writer = carrier.writable.getWriter();
    } catch (e) {
      this.#reader.releaseLock();
      throw e;
    }
    this.#stopped = new Promise<never>((_, reject) => {
      this.#stop = reject;
    });
    this.#stopped.catch(ignore);
    if (timeoutMs !== Infinity) {
      this.#timer = setTimeout(
        () =>
          this.#stop(
            new NoiseError(NoiseErrorCode.Timeout, `handshake not done after ${timeoutMs} ms`),
          ),
        timeoutMs,
      );
    }
    const signal = options.signal;
    if (signal) {
      this.#signal = signal;
      this.#onAbort = () => this.#stop(abortError(signal));
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  /** The handshake under way, wiped if the handshake fails or is abandoned. */
  track(state: HandshakeState): void {
    this.#state = state;
  }

  /** `p`, unless the deadline or the signal comes first. */
  run<T>(p: Promise<T>): Promise<T> {
    p.catch(ignore);
    return Promise.race([p, this.#stopped]);
  }

  /** The next message from the peer. */
  async read(): Promise<Uint8Array> {
    let result: ReadableStreamReadResult<Uint8Array>;
    try {
      result = await this.run(this.#reader.read());
    } catch (e) {
      throw asNoiseError(e, NoiseErrorCode.Network, "carrier failed during the handshake");
    }
    if (result.done) {
      throw new NoiseError(NoiseErrorCode.ConnectionReset, "carrier closed during the handshake");
    }
    if (!(result.value instanceof Uint8Array)) {
      throw new NoiseError(NoiseErrorCode.Other, "carrier delivered a chunk that is not bytes");
    }
    return result.value;
  }

  /** Sends one message to the peer. */
  async write(message: Uint8Array): Promise<void> {
    try {
      await this.run(this.#writer.write(message));
    } catch (e) {
      throw asNoiseError(e, NoiseErrorCode.Network, "carrier failed during the handshake");
    }
  }

  #clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#signal?.removeEventListener("abort", this.#onAbort);
  }

  /** Success: the carrier is free for the transport streams. */
  release(): void {
    this.#clear();
    this.#reader.releaseLock();
    this.#writer.releaseLock();
  }

  /** Failure: both directions of the carrier are shut and the handshake's secrets wiped. */
  fail(): void {
    this.#clear();
    this.#state?.destroy();
    const reason = new NoiseError(NoiseErrorCode.ConnectionReset, "handshake failed");
    this.#reader.cancel(reason).catch(ignore);
    this.#writer.abort(reason).catch(ignore);
  }
}

/** What one side learnt from a finished handshake. */
interface Outcome {
  link: NoiseLink;
  remoteStatic: Uint8Array | null;
  remoteIdentity: IdentityPayload | null;
  pattern: PatternName;
}

/** Where a traced handshake over a carrier reports the failures the adapter did not see. */
interface CarrierTrace {
  log: TraceLogger;
  role: TraceRole;
  pattern: TracePattern | undefined;
}

async function handshake(
  carrier: MessageCarrier,
  options: HandshakeStepOptions,
  steps: (io: HandshakeIo) => Promise<Outcome>,
  trace?: CarrierTrace,
): Promise<SecureChannel> {
  let io: HandshakeIo;
  try {
    io = new HandshakeIo(carrier, options);
  } catch (e) {
    const error = asNoiseError(e, NoiseErrorCode.Other, "the carrier's streams are locked");
    if (trace) traceHandshakeError(trace.log, trace.role, trace.pattern, error);
    throw error;
  }
  let outcome: Outcome;
  try {
    outcome = await io.run(steps(io));
  } catch (e) {
    io.fail();
    const error = asNoiseError(e, NoiseErrorCode.Other, "unexpected failure in the handshake");
    if (trace) traceHandshakeError(trace.log, trace.role, trace.pattern, error);
    throw error;
  }
  io.release();
  const { readable, writable } = linkStreams(outcome.link, carrier);
  return {
    readable,
    writable,
    sessionId: outcome.link.sessionId,
    remoteStatic: outcome.remoteStatic,
    remoteIdentity: outcome.remoteIdentity,
    link: outcome.link,
    pattern: outcome.pattern,
  };
}

/**
 * Runs the client side of a handshake over `carrier` and returns the secure
 * channel. See the module documentation for the errors.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseServer } from "@pubky/noise";
 * import { accept, connect, memoryCarrierPair } from "@pubky/noise/streams";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * const [clientSide, serverSide] = memoryCarrierPair(); // or framed(conn), await webSocketCarrier(ws)
 * accept(serverSide, server);
 * const channel = await connect(clientSide, client, { pattern: "IK", serverStaticPub: await server.staticPublicKey() });
 * console.log(channel.pattern, channel.remoteIdentity); // IK null: the pinned key is the server's identity
 * await channel.writable.close();
 * ```
 */
export function connect(
  carrier: MessageCarrier,
  client: NoiseClient,
  options: ConnectOptions,
): Promise<SecureChannel> {
  const pattern = options?.pattern;
  if (!PATTERNS.includes(pattern)) {
    return Promise.reject(
      new NoiseError(NoiseErrorCode.Other, `unknown handshake pattern ${String(pattern)}`),
    );
  }
  const hint = options.serverHint ?? null;
  const pinned = options.serverStaticPub;
  if (pattern === "IK" && !(pinned instanceof Uint8Array && pinned.length === 32)) {
    return Promise.reject(
      new NoiseError(NoiseErrorCode.InvalidPeerKey, "IK needs the server's 32-byte static key"),
    );
  }
  const trace = client?.trace && { log: client.trace, role: "client" as const, pattern };
  return handshake(carrier, options, async (io): Promise<Outcome> => {
    switch (pattern) {
      case "XX": {
        const start = await clientStartXxTofu(client, hint);
        io.track(start.hs);
        await io.write(start.firstMsg);
        const done = await clientCompleteXx(client, start.hs, await io.read(), hint);
        await io.write(done.finalMsg);
        return {
          link: done.link,
          remoteStatic: done.serverStaticPk,
          remoteIdentity: done.serverIdentity,
          pattern,
        };
      }
      case "IK": {
        const start = await clientStartIkDirect(client, pinned!, hint);
        io.track(start.hs);
        await io.write(start.firstMsg);
        const link = await clientCompleteIk(start.hs, await io.read());
        return { link, remoteStatic: pinned!.slice(), remoteIdentity: null, pattern };
      }
      default: {
        const start = await clientStartNn(client);
        io.track(start.hs);
        await io.write(start.firstMsg);
        const link = await clientCompleteNn(client, start.hs, await io.read());
        return { link, remoteStatic: null, remoteIdentity: null, pattern };
      }
    }
  }, trace);
}

/**
 * Runs the server side of a handshake over `carrier`, telling the pattern from
 * the first message, and returns the secure channel. See the module
 * documentation for the pattern rule and the errors.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseServer, toHex } from "@pubky/noise";
 * import { accept, connect, memoryCarrierPair } from "@pubky/noise/streams";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * const [clientSide, serverSide] = memoryCarrierPair();
 * connect(clientSide, client, { pattern: "XX" });
 * const channel = await accept(serverSide, server, { timeoutMs: 5_000 }); // XX or IK, from message 1
 * console.log(channel.pattern, toHex(channel.remoteIdentity!.ed25519Pub).slice(0, 16)); // XX 8a88e3dd7409f195
 * await channel.writable.close();
 * ```
 */
export function accept(
  carrier: MessageCarrier,
  server: NoiseServer,
  options: AcceptOptions = {},
): Promise<SecureChannel> {
  const patterns = options.patterns ?? ["XX", "IK"];
  if (
    !Array.isArray(patterns) || patterns.length === 0 ||
    !patterns.every((p) => PATTERNS.includes(p))
  ) {
    return Promise.reject(
      new NoiseError(NoiseErrorCode.Other, "patterns must be a non-empty list of XX, IK, NN"),
    );
  }
  const trace: CarrierTrace | undefined = server?.trace &&
    { log: server.trace, role: "server", pattern: undefined };
  return handshake(carrier, options, async (io): Promise<Outcome> => {
    const first = await io.read();
    const pattern: PatternName | null = first.length === EPHEMERAL_ONLY_LEN
      ? (patterns.includes("XX") ? "XX" : patterns.includes("NN") ? "NN" : null)
      : (patterns.includes("IK") ? "IK" : null);
    if (trace && pattern) trace.pattern = pattern;
    switch (pattern) {
      case null:
        throw new NoiseError(
          NoiseErrorCode.Policy,
          `first handshake message (${first.length} bytes) is not of an accepted pattern (${
            patterns.join(", ")
          })`,
        );
      case "XX": {
        const step = await serverAcceptXx(server, first);
        io.track(step.hs);
        await io.write(step.response);
        const done = await serverCompleteXx(server, step.hs, await io.read(), step.serverStaticPk);
        return {
          link: done.link,
          remoteStatic: done.clientStaticPk,
          remoteIdentity: done.clientIdentity,
          pattern,
        };
      }
      case "IK": {
        const step = await serverAcceptIk(server, first);
        io.track(step.hs);
        await io.write(step.response);
        return {
          link: serverCompleteIk(step.hs),
          remoteStatic: step.clientStaticPk,
          remoteIdentity: step.clientIdentity,
          pattern,
        };
      }
      default: {
        const step = await serverAcceptNn(server, first);
        io.track(step.hs);
        await io.write(step.response);
        return {
          link: serverCompleteNn(step.hs),
          remoteStatic: null,
          remoteIdentity: null,
          pattern,
        };
      }
    }
  }, trace);
}
