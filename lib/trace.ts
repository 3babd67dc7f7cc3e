/**
 * Trace logging (the Rust crate's `trace` feature): structured, non-sensitive
 * events of handshakes and transports, handed to a {@linkcode TraceLogger} the
 * app passes in (`trace` option of `NoiseClient` and `NoiseServer`).
 *
 * - **Opt-in and free when off**: without a logger, no event object is built;
 *   the hot path (`NoiseLink.encrypt`/`decrypt`) pays one `undefined` check.
 * - **Non-sensitive by construction**: events carry names, roles, patterns,
 *   session ids (the public handshake hash), message sizes, nonces and error
 *   codes — never keys, seeds, shared secrets, plaintext or payload bytes. An
 *   error's `message` is the `NoiseError` text (sizes, limits, states); the
 *   `Serde` (4000) detail is withheld because it can quote the peer's decrypted
 *   identity payload, and an error that is not a `NoiseError` is reported by
 *   code `Other` with a fixed text.
 * - **A logger that throws is ignored**: tracing never changes what the
 *   library does.
 *
 * What emits: the data-link adapter functions (`clientStartXxTofu` …
 * `serverCompleteNn`, hence `connect`/`accept` of the streams entry) emit
 * `handshake.*` events; a {@linkcode NoiseLink} made by them emits
 * `transport.*` events. The `NoiseClient`/`NoiseServer` step methods on their
 * own (the Rust `build_*` API) emit nothing, as in the crate.
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "./errors.ts";
import type { HandshakeState } from "./noise/handshake_state.ts";
import type { TransportState } from "./noise/transport_state.ts";

const noop = (): void => {};

/**
 * The name of a trace event.
 *
 * @example
 * ```ts
 * import type { TraceEventName, TraceLogger } from "@pubky/noise";
 * const counts: Partial<Record<TraceEventName, number>> = {};
 * const count: TraceLogger = (e) => void (counts[e.event] = (counts[e.event] ?? 0) + 1);
 * count({ event: "transport.encrypt", role: "client", pattern: "IK", nonce: 0, bytes: 21 });
 * count({ event: "transport.encrypt", role: "client", pattern: "IK", nonce: 1, bytes: 40 });
 * console.log(counts); // { "transport.encrypt": 2 }
 * ```
 */
export type TraceEventName =
  | "handshake.start"
  | "handshake.message"
  | "handshake.complete"
  | "handshake.error"
  | "transport.encrypt"
  | "transport.decrypt"
  | "transport.error"
  | "transport.close";

/**
 * The side that emits an event.
 *
 * @example
 * ```ts
 * import type { TraceLogger, TraceRole } from "@pubky/noise";
 * const completed: Record<TraceRole, number> = { client: 0, server: 0 };
 * const logger: TraceLogger = (e) => {
 *   if (e.event === "handshake.complete") completed[e.role]++;
 * };
 * logger({ event: "handshake.complete", role: "server", pattern: "IK" });
 * console.log(completed); // { client: 0, server: 1 }
 * ```
 */
export type TraceRole = "client" | "server";

/**
 * The handshake pattern of an event.
 *
 * @example
 * ```ts
 * import type { TraceLogger, TracePattern } from "@pubky/noise";
 * const completed: Record<TracePattern, number> = { XX: 0, IK: 0, NN: 0 };
 * const logger: TraceLogger = (e) => {
 *   if (e.event === "handshake.complete" && e.pattern) completed[e.pattern]++;
 * };
 * logger({ event: "handshake.complete", role: "client", pattern: "XX" });
 * console.log(completed); // { XX: 1, IK: 0, NN: 0 }
 * ```
 */
export type TracePattern = "XX" | "IK" | "NN";

/**
 * One trace event. Every field is a name, a size, a count, a public id or an
 * error code: nothing secret, no payload byte.
 *
 * | event                | fields besides `event`, `role`                        |
 * | -------------------- | ----------------------------------------------------- |
 * | `handshake.start`    | `pattern`                                             |
 * | `handshake.message`  | `pattern`, `direction`, `index`, `bytes`              |
 * | `handshake.complete` | `pattern`, `sessionId`                                |
 * | `handshake.error`    | `pattern` (if known), `code`, `codeName`, `message`   |
 * | `transport.encrypt`  | `pattern`, `sessionId`, `nonce`, `bytes`              |
 * | `transport.decrypt`  | `pattern`, `sessionId`, `nonce`, `bytes`              |
 * | `transport.error`    | `pattern`, `sessionId`, `operation`, `nonce`, `bytes`, `code`, `codeName`, `message` |
 * | `transport.close`    | `pattern`, `sessionId`                                |
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseServer, serverAcceptXx, type TraceEvent } from "@pubky/noise";
 * const events: TraceEvent[] = [];
 * const ring = await DummyRing.create(new Uint8Array(32).fill(2), "kid");
 * const server = new NoiseServer("kid", "server-device-0001", ring, { trace: (e) => events.push(e) });
 * await serverAcceptXx(server, new Uint8Array(7)).catch(() => {}); // not a handshake message
 * for (const e of events) console.log(e.event, e.bytes ?? e.message ?? "");
 * // handshake.start
 * // handshake.message 7
 * // handshake.error snow error: input error
 * ```
 */
export interface TraceEvent {
  /** What happened. */
  readonly event: TraceEventName;
  /** Which side. */
  readonly role: TraceRole;
  /** The handshake pattern (absent only for a server that failed before the first message). */
  readonly pattern?: TracePattern;
  /** The session id (64 hex digits of the handshake hash), once the handshake is complete. */
  readonly sessionId?: string;
  /** `handshake.message`: whether the message was sent or received. */
  readonly direction?: "sent" | "received";
  /** `handshake.message`: the message's position in the pattern (0, 1, 2). */
  readonly index?: number;
  /**
   * Size in bytes of the message on the wire (handshake message, transport ciphertext); for
   * `transport.error`, of the input (plaintext to encrypt, ciphertext to decrypt).
   */
  readonly bytes?: number;
  /** `transport.*`: the nonce (message counter) of the message. */
  readonly nonce?: number;
  /** `transport.error`: what failed. */
  readonly operation?: "encrypt" | "decrypt";
  /** Errors: the `NoiseErrorCode`. */
  readonly code?: NoiseErrorCode;
  /** Errors: the code's name (`"Snow"`, `"IdentityVerify"`, …). */
  readonly codeName?: string;
  /** Errors: the `NoiseError` message (without the `Serde` detail). */
  readonly message?: string;
}

/**
 * Receives trace events; it must not throw (if it does, the error is ignored).
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteNn, clientStartNn, DummyRing, NoiseClient, NoiseServer, serverAcceptNn,
 *   type TraceLogger,
 * } from "@pubky/noise";
 * const log: TraceLogger = (e) => console.log(e.role, e.event, e.sessionId?.slice(0, 8) ?? "");
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring, { trace: log });
 * const c = await clientStartNn(client);
 * const s = await serverAcceptNn(new NoiseServer("kid", "server-device-0001", ring), c.firstMsg);
 * const link = await clientCompleteNn(client, c.hs, s.response);
 * link.encrypt(new Uint8Array(5)); // client transport.encrypt <session id>
 * ```
 */
export type TraceLogger = (event: TraceEvent) => void;

const reported = new WeakSet<object>();

function emit(log: TraceLogger, event: TraceEvent): void {
  try {
    log(event);
  } catch {
    // A logger must never change what the library does.
  }
}

/** The error fields of an event: code, name and a message that holds nothing secret. */
function errorFields(e: unknown): { code: NoiseErrorCode; codeName: string; message: string } {
  if (!(e instanceof NoiseError)) {
    return { code: NoiseErrorCode.Other, codeName: "Other", message: "other: unexpected failure" };
  }
  // A Serde detail can quote the peer's decrypted identity payload: keep the prefix only.
  const message = e.code === NoiseErrorCode.Serde ? "serialization error" : e.message;
  return { code: e.code, codeName: e.codeName, message };
}

/**
 * @internal The trace of one side of one handshake, made by the data-link adapter
 * only when a logger is set, and found again from the handshake state.
 */
export class HandshakeTracer {
  static readonly #byState = new WeakMap<HandshakeState, HandshakeTracer>();
  readonly #log: TraceLogger;
  readonly #role: TraceRole;
  readonly #pattern: TracePattern;
  #index = 0;

  constructor(log: TraceLogger, role: TraceRole, pattern: TracePattern) {
    this.#log = log;
    this.#role = role;
    this.#pattern = pattern;
    emit(log, { event: "handshake.start", role, pattern });
  }

  /** The tracer of the handshake `hs`, if it has one. */
  static of(hs: HandshakeState): HandshakeTracer | undefined {
    return HandshakeTracer.#byState.get(hs);
  }

  /** Ties this tracer to `hs`, for the steps that only get the handshake state. */
  attach(hs: HandshakeState): this {
    HandshakeTracer.#byState.set(hs, this);
    return this;
  }

  #message(direction: "sent" | "received", message: Uint8Array): void {
    const bytes = message instanceof Uint8Array ? message.length : 0;
    emit(this.#log, {
      event: "handshake.message",
      role: this.#role,
      pattern: this.#pattern,
      direction,
      index: this.#index++,
      bytes,
    });
  }

  /** A handshake message was sent. */
  sent(message: Uint8Array): void {
    this.#message("sent", message);
  }

  /** A handshake message was received (logged before it is processed). */
  received(message: Uint8Array): void {
    this.#message("received", message);
  }

  /** The handshake is complete: the link's tracer. */
  complete(transport: TransportState, sessionId: string): LinkTracer {
    emit(this.#log, {
      event: "handshake.complete",
      role: this.#role,
      pattern: this.#pattern,
      sessionId,
    });
    return new LinkTracer(this.#log, this.#role, this.#pattern, sessionId, transport);
  }

  /** Reports `e` (once) and returns it, to be rethrown. */
  fail(e: unknown): unknown {
    traceHandshakeError(this.#log, this.#role, this.#pattern, e);
    return e;
  }
}

/**
 * @internal Reports a failed handshake, unless this error was already reported
 * (a step of the data-link adapter reports its own errors; the streams
 * handshake reports the rest: timeouts, closed carriers).
 */
export function traceHandshakeError(
  log: TraceLogger,
  role: TraceRole,
  pattern: TracePattern | undefined,
  e: unknown,
): void {
  if (typeof e === "object" && e !== null) {
    if (reported.has(e)) return;
    reported.add(e);
  }
  const event: TraceEvent = pattern === undefined
    ? { event: "handshake.error", role, ...errorFields(e) }
    : { event: "handshake.error", role, pattern, ...errorFields(e) };
  emit(log, event);
}

/** @internal The trace of a {@linkcode NoiseLink}: transport events. */
export class LinkTracer {
  readonly #log: TraceLogger;
  readonly #role: TraceRole;
  readonly #pattern: TracePattern;
  readonly #sessionId: string;
  readonly #transport: TransportState;
  /** The traced asynchronous decryptions, chained in call order. */
  #opening: Promise<unknown> = Promise.resolve();

  constructor(
    log: TraceLogger,
    role: TraceRole,
    pattern: TracePattern,
    sessionId: string,
    transport: TransportState,
  ) {
    this.#log = log;
    this.#role = role;
    this.#pattern = pattern;
    this.#sessionId = sessionId;
    this.#transport = transport;
  }

  #event(event: TraceEventName, nonce: bigint, bytes: number): TraceEvent {
    return {
      event,
      role: this.#role,
      pattern: this.#pattern,
      sessionId: this.#sessionId,
      nonce: Number(nonce),
      bytes,
    };
  }

  #error(operation: "encrypt" | "decrypt", nonce: bigint, input: unknown, e: unknown): unknown {
    const bytes = input instanceof Uint8Array ? input.length : 0;
    emit(this.#log, {
      ...this.#event("transport.error", nonce, bytes),
      operation,
      ...errorFields(e),
    });
    return e;
  }

  /** `TransportState.writeMessage`, traced. */
  encrypt(plaintext: Uint8Array, output?: Uint8Array): Uint8Array {
    const nonce = this.#transport.sendNonce;
    let out: Uint8Array;
    try {
      out = this.#transport.writeMessage(plaintext, output);
    } catch (e) {
      throw this.#error("encrypt", nonce, plaintext, e);
    }
    emit(this.#log, this.#event("transport.encrypt", nonce, out.length));
    return out;
  }

  /**
   * `TransportState.writeMessageAsync`, traced: the event comes when the call completes, with
   * the nonce it took at the call (overlapping calls may complete out of order).
   */
  async encryptAsync(plaintext: Uint8Array): Promise<Uint8Array> {
    const nonce = this.#transport.sendNonce;
    let out: Uint8Array;
    try {
      out = await this.#transport.writeMessageAsync(plaintext);
    } catch (e) {
      throw this.#error("encrypt", nonce, plaintext, e);
    }
    emit(this.#log, this.#event("transport.encrypt", nonce, out.length));
    return out;
  }

  /** `TransportState.readMessageAsync`, traced; in call order, so each knows its nonce. */
  decryptAsync(ciphertext: Uint8Array): Promise<Uint8Array> {
    const run = this.#opening.then(async () => {
      const nonce = this.#transport.receiveNonce;
      let out: Uint8Array;
      try {
        out = await this.#transport.readMessageAsync(ciphertext);
      } catch (e) {
        throw this.#error("decrypt", nonce, ciphertext, e);
      }
      emit(this.#log, this.#event("transport.decrypt", nonce, ciphertext.length));
      return out;
    });
    this.#opening = run.then(noop, noop);
    return run;
  }

  /** `TransportState.readMessage`, traced. */
  decrypt(ciphertext: Uint8Array): Uint8Array {
    const nonce = this.#transport.receiveNonce;
    let out: Uint8Array;
    try {
      out = this.#transport.readMessage(ciphertext);
    } catch (e) {
      throw this.#error("decrypt", nonce, ciphertext, e);
    }
    emit(this.#log, this.#event("transport.decrypt", nonce, ciphertext.length));
    return out;
  }

  /** The link was destroyed. */
  close(): void {
    emit(this.#log, {
      event: "transport.close",
      role: this.#role,
      pattern: this.#pattern,
      sessionId: this.#sessionId,
    });
  }
}

// ---------------------------------------------------------------------------
// Ready-made loggers (the `@pubky/noise/trace` entry)
// ---------------------------------------------------------------------------

/**
 * A logger that writes each event as one line of JSON through `write` (for
 * example `(line) => console.error(line)`, or a log shipper's `push`).
 *
 * @example
 * ```ts
 * import { jsonLinesTraceLogger } from "@pubky/noise/trace";
 * const lines: string[] = [];
 * const trace = jsonLinesTraceLogger((line) => lines.push(line));
 * trace({ event: "handshake.start", role: "client", pattern: "XX" });
 * console.log(lines[0]); // {"event":"handshake.start","role":"client","pattern":"XX"}
 * ```
 */
export function jsonLinesTraceLogger(write: (line: string) => void): TraceLogger {
  return (event) => write(JSON.stringify(event));
}

/**
 * A logger that prints each event with `console.debug`, prefixed (default
 * `"[pubky-noise]"`).
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseServer } from "@pubky/noise";
 * import { consoleTraceLogger } from "@pubky/noise/trace";
 * const ring = await DummyRing.create(crypto.getRandomValues(new Uint8Array(32)), "kid");
 * const server = new NoiseServer("kid", "server-device-0001", ring, { trace: consoleTraceLogger() });
 * console.log(typeof server.trace); // "function"
 * ```
 */
export function consoleTraceLogger(prefix = "[pubky-noise]"): TraceLogger {
  return (event) => console.debug(prefix, JSON.stringify(event));
}

/**
 * What {@linkcode recordTrace} returns.
 *
 * @example
 * ```ts
 * import { recordTrace, type TraceRecording } from "@pubky/noise/trace";
 * const recording: TraceRecording = recordTrace(2); // keep the last two events
 * for (const event of ["handshake.start", "handshake.message", "handshake.complete"] as const) {
 *   recording.logger({ event, role: "client", pattern: "NN" });
 * }
 * console.log(recording.events.map((e) => e.event)); // [ "handshake.message", "handshake.complete" ]
 * ```
 */
export interface TraceRecording {
  /** The logger to pass as `trace`. */
  readonly logger: TraceLogger;
  /** The events so far, oldest first (at most `limit`; older ones are dropped). */
  readonly events: readonly TraceEvent[];
}

/**
 * A logger that keeps the last `limit` events (default 1000) in memory: for
 * tests, and for attaching the recent history to a bug report.
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteNn, clientStartNn, DummyRing, NoiseClient, NoiseServer, serverAcceptNn,
 * } from "@pubky/noise";
 * import { recordTrace } from "@pubky/noise/trace";
 * const ring = await DummyRing.create(crypto.getRandomValues(new Uint8Array(32)), "kid");
 * const recording = recordTrace();
 * const client = new NoiseClient("kid", "client-device-0001", ring, { trace: recording.logger });
 * const c = await clientStartNn(client);
 * const s = await serverAcceptNn(new NoiseServer("kid", "server-device-0001", ring), c.firstMsg);
 * const link = await clientCompleteNn(client, c.hs, s.response);
 * console.log(recording.events.map((e) => e.event));
 * // ["handshake.start", "handshake.message", "handshake.message", "handshake.complete"]
 * link.destroy();
 * ```
 */
export function recordTrace(limit = 1000): TraceRecording {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new NoiseError(NoiseErrorCode.Other, `limit must be a positive integer, got ${limit}`);
  }
  const events: TraceEvent[] = [];
  return {
    logger: (event) => {
      if (events.push(event) > limit) events.shift();
    },
    events,
  };
}
