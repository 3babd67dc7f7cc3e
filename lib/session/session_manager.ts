/**
 * Session managers (Rust `session_manager`): a map of established
 * {@linkcode NoiseLink}s by {@linkcode SessionId}, for a client or a server.
 *
 * - {@linkcode NoiseSessionManager}: the plain map (add, get, remove, list).
 * - {@linkcode ThreadSafeSessionManager}: the same, safe under concurrent async
 *   use. JavaScript runs one task at a time, but tasks interleave at every
 *   `await`: two tasks that each encrypt and then await a carrier write can put
 *   their ciphertexts on the wire in the other order, and the peer — which must
 *   decrypt in nonce order — fails. Every operation here runs under a
 *   per-session, per-direction promise-chain lock, to its end (the write
 *   included), in call order: ciphertexts leave in nonce order and in the order
 *   the calls were made, nonces are never repeated, and the two directions do
 *   not wait for each other. The locks are not reentrant: do not call the
 *   manager for the same session from inside `withSession`, `send` or `receive`.
 *
 * The manager's key is the session id (the final handshake hash), equal on both
 * sides. Objects are not shared across Workers or threads: "thread-safe" here
 * means safe under async interleaving, the only concurrency a JS isolate has.
 *
 * @example
 * ```ts
 * import { clientCompleteNn, clientStartNn, DummyRing, NoiseClient, NoiseServer, serverAcceptNn, serverCompleteNn } from "@pubky/noise";
 * import { ThreadSafeSessionManager } from "@pubky/noise/sessions";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(4), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * const c = await clientStartNn(client);
 * const s = await serverAcceptNn(server, c.firstMsg);
 * const clientLink = await clientCompleteNn(client, c.hs, s.response);
 * const serverLink = serverCompleteNn(s.hs);
 *
 * const clients = ThreadSafeSessionManager.newClient(client);
 * const servers = ThreadSafeSessionManager.newServer(server);
 * clients.addSession(clientLink.sessionId, clientLink);
 * servers.addSession(serverLink.sessionId, serverLink);
 * const wire: Uint8Array[] = [];
 * await Promise.all([1, 2, 3].map((n) =>
 *   clients.send(clientLink.sessionId, new Uint8Array([n]), async (ct) => {
 *     await new Promise((r) => setTimeout(r, 3 - n)); // a slow carrier
 *     wire.push(ct);
 *   })
 * ));
 * for (const ct of wire) console.log((await servers.decrypt(serverLink.sessionId, ct))[0]); // 1 2 3
 * ```
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";
import { NoiseLink } from "../link.ts";
import { SessionId } from "../session_id.ts";
import type { NoiseClient } from "../client.ts";
import type { NoiseServer } from "../server.ts";
import { runBoth, SerialQueue } from "./serial_queue.ts";

/**
 * The side a manager is on (Rust `NoiseRole`).
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseServer } from "@pubky/noise";
 * import { NoiseSessionManager, type NoiseRole } from "@pubky/noise/sessions";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const role: NoiseRole = { kind: "server", server: new NoiseServer("kid", "server-device-0001", ring) };
 * const sessions = new NoiseSessionManager(role); // as NoiseSessionManager.newServer(server)
 * console.log(sessions.server?.toString(), sessions.client); // NoiseServer(kid) null
 * ```
 */
export type NoiseRole =
  | { kind: "client"; client: NoiseClient }
  | { kind: "server"; server: NoiseServer };

/** @internal The error of an unknown or removed session (the crate's text). */
export function sessionNotFound(): NoiseError {
  return new NoiseError(NoiseErrorCode.Other, "Session not found");
}

/** @internal Throws `NoiseError` Other unless `id` is a `SessionId`. */
export function checkId(id: SessionId): string {
  if (!(id instanceof SessionId)) {
    throw new NoiseError(NoiseErrorCode.Other, "expected a SessionId");
  }
  return id.toString();
}

function checkLink(link: NoiseLink): void {
  if (!(link instanceof NoiseLink)) {
    throw new NoiseError(NoiseErrorCode.Other, "expected a NoiseLink");
  }
}

function checkRole(role: NoiseRole): NoiseRole {
  if (
    role === null || typeof role !== "object" ||
    !(role.kind === "client" && role.client) && !(role.kind === "server" && role.server)
  ) {
    throw new NoiseError(NoiseErrorCode.Other, "role must be { kind: client|server, … }");
  }
  return role;
}

/**
 * @internal One session under its two locks (send, receive). Used by
 * {@linkcode ThreadSafeSessionManager} and `NoiseManager`.
 */
export class SessionSlot {
  readonly id: SessionId;
  readonly link: NoiseLink;
  readonly sendQueue: SerialQueue = new SerialQueue();
  readonly recvQueue: SerialQueue = new SerialQueue();
  removed = false;
  #writeFailed = false;

  constructor(id: SessionId, link: NoiseLink) {
    this.id = id;
    this.link = link;
  }

  #live(): void {
    if (this.removed) throw sessionNotFound();
  }

  #sendable(): void {
    this.#live();
    if (this.#writeFailed) {
      throw new NoiseError(
        NoiseErrorCode.ConnectionReset,
        "an earlier write of this session failed: the peer cannot decrypt what follows",
      );
    }
  }

  encrypt(plaintext: Uint8Array): Promise<Uint8Array> {
    return this.sendQueue.run(() => {
      this.#sendable();
      return this.link.encrypt(plaintext);
    });
  }

  decrypt(ciphertext: Uint8Array): Promise<Uint8Array> {
    return this.recvQueue.run(() => {
      this.#live();
      return this.link.decrypt(ciphertext);
    });
  }

  send(
    plaintext: Uint8Array,
    write: (ciphertext: Uint8Array) => void | Promise<void>,
  ): Promise<void> {
    return this.sendQueue.run(async () => {
      this.#sendable();
      if (typeof write !== "function") {
        throw new NoiseError(NoiseErrorCode.Other, "send needs a write function");
      }
      const ciphertext = this.link.encrypt(plaintext);
      try {
        await write(ciphertext);
      } catch (e) {
        // The nonce is spent but the peer never got the message: every later
        // message would fail at the peer, so refuse them here, loudly.
        this.#writeFailed = true;
        throw e instanceof NoiseError
          ? e
          : new NoiseError(NoiseErrorCode.Network, "write of an encrypted message failed");
      }
    });
  }

  receive(read: () => Uint8Array | Promise<Uint8Array>): Promise<Uint8Array> {
    return this.recvQueue.run(async () => {
      this.#live();
      if (typeof read !== "function") {
        throw new NoiseError(NoiseErrorCode.Other, "receive needs a read function");
      }
      let ciphertext: Uint8Array;
      try {
        ciphertext = await read();
      } catch (e) {
        throw e instanceof NoiseError
          ? e
          : new NoiseError(NoiseErrorCode.Network, "read of an encrypted message failed");
      }
      return this.link.decrypt(ciphertext);
    });
  }

  exclusive<T>(task: () => T | Promise<T>): Promise<T> {
    return runBoth(this.sendQueue, this.recvQueue, () => {
      this.#live();
      return task();
    });
  }
}

/**
 * A map of established sessions for one client or server (Rust
 * `NoiseSessionManager`). Not guarded: see {@linkcode ThreadSafeSessionManager}.
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteNn, clientStartNn, DummyRing, NoiseClient, NoiseServer, serverAcceptNn,
 *   serverCompleteNn,
 * } from "@pubky/noise";
 * import { NoiseSessionManager } from "@pubky/noise/sessions";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * const c = await clientStartNn(client);
 * const s = await serverAcceptNn(server, c.firstMsg);
 * const clientLink = await clientCompleteNn(client, c.hs, s.response);
 * const serverLink = serverCompleteNn(s.hs);
 * const sessions = NoiseSessionManager.newServer(server);
 * sessions.addSession(serverLink.sessionId, serverLink);
 * const ct = clientLink.encrypt(new TextEncoder().encode("hi"));
 * const link = sessions.getSession(clientLink.sessionId); // the same id on both sides
 * console.log(new TextDecoder().decode(link!.decrypt(ct)), sessions.size); // hi 1
 * sessions.removeSession(serverLink.sessionId)?.destroy();
 * ```
 */
export class NoiseSessionManager {
  readonly #role: NoiseRole;
  readonly #sessions = new Map<string, { id: SessionId; link: NoiseLink }>();

  /** A manager for `role`. */
  constructor(role: NoiseRole) {
    this.#role = checkRole(role);
  }

  /** Rust `NoiseSessionManager::new_client`. */
  static newClient(client: NoiseClient): NoiseSessionManager {
    return new NoiseSessionManager({ kind: "client", client });
  }

  /** Rust `NoiseSessionManager::new_server`. */
  static newServer(server: NoiseServer): NoiseSessionManager {
    return new NoiseSessionManager({ kind: "server", server });
  }

  /** The client, on a client manager. */
  get client(): NoiseClient | null {
    return this.#role.kind === "client" ? this.#role.client : null;
  }

  /** The server, on a server manager. */
  get server(): NoiseServer | null {
    return this.#role.kind === "server" ? this.#role.server : null;
  }

  /** Adds `link` under `id`; returns the link it replaces, if any. */
  addSession(id: SessionId, link: NoiseLink): NoiseLink | undefined {
    const key = checkId(id);
    checkLink(link);
    const old = this.#sessions.get(key);
    this.#sessions.set(key, { id, link });
    return old?.link;
  }

  /** The link of `id`. */
  getSession(id: SessionId): NoiseLink | undefined {
    return this.#sessions.get(checkId(id))?.link;
  }

  /** Whether `id` is held. */
  hasSession(id: SessionId): boolean {
    return this.#sessions.has(checkId(id));
  }

  /** Removes `id` and returns its link (not destroyed: call `destroy()` when done). */
  removeSession(id: SessionId): NoiseLink | undefined {
    const key = checkId(id);
    const old = this.#sessions.get(key);
    this.#sessions.delete(key);
    return old?.link;
  }

  /** The ids held, in insertion order. */
  listSessions(): SessionId[] {
    return Array.from(this.#sessions.values(), (s) => s.id);
  }

  /** How many sessions are held. */
  get size(): number {
    return this.#sessions.size;
  }
}

/**
 * {@linkcode NoiseSessionManager} safe under concurrent async use (Rust
 * `ThreadSafeSessionManager`): see the module documentation. Unknown ids give
 * `NoiseError` Other `Session not found`, as in the crate.
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteNn, clientStartNn, DummyRing, NoiseClient, NoiseServer, serverAcceptNn,
 *   serverCompleteNn,
 * } from "@pubky/noise";
 * import { ThreadSafeSessionManager } from "@pubky/noise/sessions";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * const c = await clientStartNn(client);
 * const s = await serverAcceptNn(server, c.firstMsg);
 * const clientLink = await clientCompleteNn(client, c.hs, s.response);
 * const serverLink = serverCompleteNn(s.hs);
 * const sessions = ThreadSafeSessionManager.newClient(client);
 * sessions.addSession(clientLink.sessionId, clientLink);
 * const id = clientLink.sessionId;
 * // Concurrent tasks: encryptions are queued per session, so nonces are used in call order.
 * const cts = await Promise.all(["a", "b", "c"].map((m) => sessions.encrypt(id, new TextEncoder().encode(m))));
 * console.log(cts.map((ct) => new TextDecoder().decode(serverLink.decrypt(ct))).join("")); // abc
 * ```
 */
export class ThreadSafeSessionManager {
  readonly #role: NoiseRole;
  readonly #slots = new Map<string, SessionSlot>();

  /** A manager for `role`. */
  constructor(role: NoiseRole) {
    this.#role = checkRole(role);
  }

  /** Rust `ThreadSafeSessionManager::new_client`. */
  static newClient(client: NoiseClient): ThreadSafeSessionManager {
    return new ThreadSafeSessionManager({ kind: "client", client });
  }

  /** Rust `ThreadSafeSessionManager::new_server`. */
  static newServer(server: NoiseServer): ThreadSafeSessionManager {
    return new ThreadSafeSessionManager({ kind: "server", server });
  }

  /** The client, on a client manager. */
  get client(): NoiseClient | null {
    return this.#role.kind === "client" ? this.#role.client : null;
  }

  /** The server, on a server manager. */
  get server(): NoiseServer | null {
    return this.#role.kind === "server" ? this.#role.server : null;
  }

  #slot(id: SessionId): SessionSlot {
    const slot = this.#slots.get(checkId(id));
    if (!slot) throw sessionNotFound();
    return slot;
  }

  /**
   * Adds `link` under `id`; returns the link it replaces, if any. Operations
   * already queued on the replaced session fail with `Session not found`.
   */
  addSession(id: SessionId, link: NoiseLink): NoiseLink | undefined {
    const key = checkId(id);
    checkLink(link);
    const old = this.#slots.get(key);
    if (old) old.removed = true;
    this.#slots.set(key, new SessionSlot(id, link));
    return old?.link;
  }

  /** Whether `id` is held. */
  hasSession(id: SessionId): boolean {
    return this.#slots.has(checkId(id));
  }

  /**
   * Removes `id` and returns its link (not destroyed). An operation already
   * running finishes; those still queued fail with `Session not found`.
   */
  removeSession(id: SessionId): NoiseLink | undefined {
    const key = checkId(id);
    const slot = this.#slots.get(key);
    if (!slot) return undefined;
    slot.removed = true;
    this.#slots.delete(key);
    return slot.link;
  }

  /** The ids held, in insertion order. */
  listSessions(): SessionId[] {
    return Array.from(this.#slots.values(), (s) => s.id);
  }

  /** How many sessions are held. */
  get size(): number {
    return this.#slots.size;
  }

  /**
   * Runs `fn` with the link while holding both of its locks (Rust `with_session`
   * / `with_session_mut`); `undefined` if there is no such session.
   */
  withSession<T>(id: SessionId, fn: (link: NoiseLink) => T | Promise<T>): Promise<T | undefined> {
    let slot: SessionSlot | undefined;
    try {
      slot = this.#slots.get(checkId(id));
    } catch (e) {
      return Promise.reject(e);
    }
    if (!slot) return Promise.resolve(undefined);
    const s = slot;
    return s.exclusive(() => fn(s.link));
  }

  /** Encrypts one message, after every earlier call on this session's sending side. */
  encrypt(id: SessionId, plaintext: Uint8Array): Promise<Uint8Array> {
    try {
      return this.#slot(id).encrypt(plaintext);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Decrypts the next message, after every earlier call on this session's receiving side. */
  decrypt(id: SessionId, ciphertext: Uint8Array): Promise<Uint8Array> {
    try {
      return this.#slot(id).decrypt(ciphertext);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Encrypts `plaintext` and awaits `write(ciphertext)` under the sending lock:
   * ciphertexts reach `write` one at a time, in nonce order = call order. If
   * `write` fails, the session refuses every later send (ConnectionReset 8002),
   * since the peer would fail on the missing nonce; a non-`NoiseError` failure
   * becomes Network (8000).
   */
  send(
    id: SessionId,
    plaintext: Uint8Array,
    write: (ciphertext: Uint8Array) => void | Promise<void>,
  ): Promise<void> {
    try {
      return this.#slot(id).send(plaintext, write);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Awaits `read()` and decrypts what it returns, under the receiving lock, so
   * that concurrent receivers take messages in order.
   */
  receive(id: SessionId, read: () => Uint8Array | Promise<Uint8Array>): Promise<Uint8Array> {
    try {
      return this.#slot(id).receive(read);
    } catch (e) {
      return Promise.reject(e);
    }
  }
}
