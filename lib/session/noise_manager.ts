/**
 * `NoiseManager` (Rust `mobile_manager::NoiseManager`): the lifecycle manager of a
 * client or a server — handshakes step by step, sessions by id with a status,
 * metadata and sealed snapshots, server policy, encrypt and decrypt by id.
 *
 * Client, IK to a pinned key (the crate's three steps):
 * `initiateConnection(serverStaticPk)` → send `firstMessage` → `completeConnection(tempId, response)`.
 * Client, XX for first contact: `initiateXxConnection()` → send → `completeConnection(tempId,
 * response)` → send its `finalMessage`; pin `serverStaticPk` for IK next time.
 * Server: `acceptConnection(firstMessage, { address })` tells IK from XX by the
 * first message (32 bytes: XX) and returns the response; IK is then established,
 * XX needs `completeAcceptConnection(tempId, finalMessage)`.
 *
 * **Session ids.** The id of an established session is the final handshake hash,
 * equal on both sides. `initiateConnection`, `initiateXxConnection` and an XX
 * `acceptConnection` return a *temporary* id instead — the handshake hash after
 * the message just written, as the crate does — which only names the pending
 * handshake; it is not the session's id. At most `maxPendingHandshakes` (default
 * 1024) handshakes wait at once; beyond that the oldest is dropped.
 *
 * Differences from the crate, all fixing its bugs, none touching the wire:
 * - The server records the client's static key and verified identity (the
 *   crate stores zeros and drops the identity); XX is supported, not only IK.
 * - `saveState` counters are the live send and receive nonces.
 * - `snapshot` / `restore` really resume a session (keys and nonces, sealed:
 *   see `snapshot.ts` for the rules); `restoreState` of the metadata alone, as
 *   in the crate, restores no keys.
 * - `server.policy` is enforced: handshakes per client address
 *   (`RateLimited`, 6001) and sessions per Ed25519 identity
 *   (`MaxSessionsExceeded`, 6002); removing a session frees its slot.
 * - `encrypt`/`decrypt` are guarded as in {@linkcode ThreadSafeSessionManager}.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseServer } from "@pubky/noise";
 * import { NoiseManager } from "@pubky/noise/sessions";
 * const ring = await DummyRing.create(crypto.getRandomValues(new Uint8Array(32)), "kid");
 * const server = NoiseManager.newServer(new NoiseServer("kid", "server-device-0001", ring));
 * const client = NoiseManager.newClient(new NoiseClient("kid", "client-device-0001", ring));
 *
 * const { sessionId: tempId, firstMessage } = await client.initiateConnection(
 *   await server.server!.staticPublicKey(),
 * );
 * const accepted = await server.acceptConnection(firstMessage, { address: "192.0.2.10" });
 * const { sessionId } = await client.completeConnection(tempId, accepted.response);
 * console.log(sessionId.equals(accepted.sessionId)); // true
 * const ct = await client.encrypt(sessionId, new TextEncoder().encode("hi"));
 * console.log(new TextDecoder().decode(await server.decrypt(sessionId, ct))); // hi
 * console.log(JSON.stringify(server.saveState(sessionId)).includes('"read_counter":1')); // true
 * ```
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";
import { copyBytes, expectLength } from "../bytes.ts";
import type { NoiseLink } from "../link.ts";
import { SessionId } from "../session_id.ts";
import type { NoiseClient } from "../client.ts";
import type { NoiseServer, ServerPolicy } from "../server.ts";
import type { HandshakeState } from "../noise/handshake_state.ts";
import type { IdentityPayload, Role } from "../identity_payload.ts";
import {
  clientCompleteIk,
  clientCompleteXx,
  clientStartIkDirect,
  clientStartXxTofu,
  serverAcceptIk,
  serverAcceptXx,
  serverCompleteIk,
  serverCompleteXx,
} from "../datalink_adapter.ts";
import {
  ConnectionStatus,
  isConnectionStatus,
  type MobileConfig,
  mobileConfig,
  SessionState,
} from "./config.ts";
import { checkId, type NoiseRole, sessionNotFound, SessionSlot } from "./session_manager.ts";
import { ServerPolicyEnforcer } from "./policy.ts";
import type { RateLimiter, RateLimiterConfig } from "./rate_limiter.ts";
import { ReconnectingSession, type ReconnectOptions } from "./reconnect.ts";
import type { MessageCarrier } from "../streams/carrier.ts";
import {
  checkGeneration,
  commitGeneration,
  openSnapshot,
  prepareSnapshot,
  type RestoreOptions,
  sealPrepared,
  type SessionSnapshot,
} from "./snapshot.ts";

/** Default of {@linkcode NoiseManagerOptions.maxPendingHandshakes}. */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 1024;

/**
 * A handshake pattern the manager runs.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseServer } from "@pubky/noise";
 * import { type ManagerPattern, NoiseManager } from "@pubky/noise/sessions";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const ikOnly: ManagerPattern[] = ["IK"]; // clients must know the key already (e.g. from PKARR)
 * const server = NoiseManager.newServer(new NoiseServer("kid", "server-device-0001", ring), { patterns: ikOnly });
 * console.log(server.toJSON()); // { role: "server", sessions: 0, pending: 0 }
 * ```
 */
export type ManagerPattern = "IK" | "XX";

/**
 * Options of {@linkcode NoiseManager}.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseServer } from "@pubky/noise";
 * import { NoiseManager, type NoiseManagerOptions } from "@pubky/noise/sessions";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const options: NoiseManagerOptions = {
 *   config: { chunkSize: 16_384 },
 *   policy: { maxHandshakesPerIp: 20, maxSessionsPerEd25519: 3 },
 *   rateLimiter: { windowSecs: 60, handshakeCooldownMs: 50 },
 *   maxPendingHandshakes: 256,
 * };
 * const server = NoiseManager.newServer(new NoiseServer("kid", "server-device-0001", ring), options);
 * console.log(server.config.chunkSize, server.policy?.policy); // 16384 { maxHandshakesPerIp: 20, maxSessionsPerEd25519: 3 }
 * ```
 */
export interface NoiseManagerOptions {
  /** The mobile config (default {@linkcode defaultConfig}). */
  config?: Partial<MobileConfig>;
  /** Server: the policy to enforce (default: `server.policy`). */
  policy?: Partial<ServerPolicy>;
  /** Server: the address limiter or its settings (see `ServerPolicyEnforcer`). */
  rateLimiter?: RateLimiter | Partial<RateLimiterConfig>;
  /** Server: the limiter's clock, in milliseconds. */
  now?: () => number;
  /** Server: patterns `acceptConnection` takes (default both). */
  patterns?: ManagerPattern[];
  /** Handshakes that may wait for their next message at once (default 1024). */
  maxPendingHandshakes?: number;
}

/**
 * What a client's first step returns.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseServer } from "@pubky/noise";
 * import { type InitiatedConnection, NoiseManager } from "@pubky/noise/sessions";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = NoiseManager.newClient(new NoiseClient("kid", "client-device-0001", ring));
 * const server = NoiseManager.newServer(new NoiseServer("kid", "server-device-0001", ring));
 * const hello: InitiatedConnection = await client.initiateConnection(await server.server!.staticPublicKey());
 * console.log(hello.firstMessage.length, client.pendingCount); // 495 1: send firstMessage, keep sessionId
 * ```
 */
export interface InitiatedConnection {
  /** The temporary id of the pending handshake (not the session id). */
  sessionId: SessionId;
  /** Message 1, to send to the server. */
  firstMessage: Uint8Array;
}

/**
 * What {@linkcode NoiseManager.completeConnection} returns.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseServer } from "@pubky/noise";
 * import { type CompletedConnection, NoiseManager } from "@pubky/noise/sessions";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = NoiseManager.newClient(new NoiseClient("kid", "client-device-0001", ring));
 * const server = NoiseManager.newServer(new NoiseServer("kid", "server-device-0001", ring));
 * const hello = await client.initiateXxConnection(); // first contact
 * const accepted = await server.acceptConnection(hello.firstMessage, { address: "192.0.2.1" });
 * const done: CompletedConnection = await client.completeConnection(hello.sessionId, accepted.response);
 * await server.completeAcceptConnection(accepted.sessionId, done.finalMessage!);
 * console.log(done.pattern, done.serverIdentity?.role, done.serverStaticPk.length); // XX Server 32: pin the key
 * ```
 */
export interface CompletedConnection {
  /** The session id (final handshake hash). */
  sessionId: SessionId;
  /** XX: message 3, to send to the server; IK: `null`. */
  finalMessage: Uint8Array | null;
  /** The server's static key (pin it after XX). */
  serverStaticPk: Uint8Array;
  /** XX: the server's verified identity; IK: `null` (the pinned key is its identity). */
  serverIdentity: IdentityPayload | null;
  /** The pattern. */
  pattern: ManagerPattern;
}

/**
 * What {@linkcode NoiseManager.acceptConnection} returns.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseServer } from "@pubky/noise";
 * import { type AcceptedConnection, NoiseManager } from "@pubky/noise/sessions";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = NoiseManager.newClient(new NoiseClient("kid", "client-device-0001", ring));
 * const server = NoiseManager.newServer(new NoiseServer("kid", "server-device-0001", ring));
 * const hello = await client.initiateConnection(await server.server!.staticPublicKey());
 * const accepted: AcceptedConnection = await server.acceptConnection(hello.firstMessage, { address: "192.0.2.1" });
 * console.log(accepted.pattern, accepted.established, accepted.response.length); // IK true 48
 * ```
 */
export interface AcceptedConnection {
  /** IK: the session id; XX: the temporary id to pass to `completeAcceptConnection`. */
  sessionId: SessionId;
  /** The response, to send to the client. */
  response: Uint8Array;
  /** The pattern, told from the first message. */
  pattern: ManagerPattern;
  /** Whether the session is established (IK) or waits for message 3 (XX). */
  established: boolean;
}

/**
 * What {@linkcode NoiseManager.withSession} hands to its function.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseServer } from "@pubky/noise";
 * import { generateSnapshotKey, NoiseManager, type SessionHandle } from "@pubky/noise/sessions";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = NoiseManager.newClient(new NoiseClient("kid", "client-device-0001", ring));
 * const server = NoiseManager.newServer(new NoiseServer("kid", "server-device-0001", ring));
 * const hello = await client.initiateConnection(await server.server!.staticPublicKey());
 * const accepted = await server.acceptConnection(hello.firstMessage, { address: "192.0.2.1" });
 * const { sessionId } = await client.completeConnection(hello.sessionId, accepted.response);
 * const key = await generateSnapshotKey();
 * // Encrypt, then seal, in one step: no other send can slip in between.
 * const { ct, snap } = await client.withSession(sessionId, async (session: SessionHandle) => {
 *   const ct = session.link.encrypt(new TextEncoder().encode("paid"));
 *   return { ct, snap: await session.snapshot(key) }; // store snap before ct leaves
 * });
 * console.log(snap.generation, new TextDecoder().decode(await server.decrypt(sessionId, ct))); // 1n paid
 * ```
 */
export interface SessionHandle {
  /** The link (hold no reference beyond the function). */
  link: NoiseLink;
  /** The session id. */
  sessionId: SessionId;
  /** Seals a snapshot now, inside the lock (see {@linkcode NoiseManager.snapshot}). */
  snapshot(key: CryptoKey): Promise<SessionSnapshot>;
}

/**
 * Options of {@linkcode NoiseManager.restore}.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseServer } from "@pubky/noise";
 * import { generateSnapshotKey, type ManagerRestoreOptions, NoiseManager } from "@pubky/noise/sessions";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = NoiseManager.newClient(new NoiseClient("kid", "client-device-0001", ring));
 * const server = NoiseManager.newServer(new NoiseServer("kid", "server-device-0001", ring));
 * const hello = await client.initiateConnection(await server.server!.staticPublicKey());
 * const accepted = await server.acceptConnection(hello.firstMessage, { address: "192.0.2.1" });
 * const key = await generateSnapshotKey();
 * const snap = await server.snapshot(accepted.sessionId, key);
 * server.removeSession(accepted.sessionId)?.destroy();
 * let stored = snap.generation; // the durable counter
 * const options: ManagerRestoreOptions = { generation: stored, commit: (next) => void (stored = next) };
 * console.log((await server.restore(key, snap.bytes, options)).equals(accepted.sessionId), stored); // true 2n
 * ```
 */
export type ManagerRestoreOptions = RestoreOptions;

interface Managed {
  slot: SessionSlot;
  role: Role;
  remoteIdentity: IdentityPayload | null;
  status: ConnectionStatus;
  generation: bigint;
}

type Pending =
  | { kind: "ik-client"; hs: HandshakeState; serverStaticPk: Uint8Array }
  | { kind: "xx-client"; hs: HandshakeState; hint: string | null }
  | { kind: "xx-server"; hs: HandshakeState; serverStaticPk: Uint8Array };

function otherError(detail: string): NoiseError {
  return new NoiseError(NoiseErrorCode.Other, detail);
}

/** Length of XX message 1: one ephemeral key, empty payload. */
const XX_FIRST_LEN = 32;

/**
 * The lifecycle manager of a client or a server: see the module documentation.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseServer } from "@pubky/noise";
 * import { NoiseManager } from "@pubky/noise/sessions";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = NoiseManager.newClient(new NoiseClient("kid", "client-device-0001", ring));
 * const server = NoiseManager.newServer(new NoiseServer("kid", "server-device-0001", ring));
 * // First contact with XX; the client pins the server's key for IK later.
 * const hello = await client.initiateXxConnection();
 * const accepted = await server.acceptConnection(hello.firstMessage, { address: "192.0.2.1" });
 * const done = await client.completeConnection(hello.sessionId, accepted.response);
 * const sessionId = await server.completeAcceptConnection(accepted.sessionId, done.finalMessage!);
 * const ct = await client.encrypt(sessionId, new TextEncoder().encode("hi"));
 * console.log(new TextDecoder().decode(await server.decrypt(sessionId, ct)), server.getStatus(sessionId)); // hi Connected
 * console.log(server.getPeerIdentity(sessionId)?.role, client.listSessions().length); // Client 1
 * client.destroy();
 * server.destroy();
 * ```
 */
export class NoiseManager {
  readonly #role: NoiseRole;
  #config: MobileConfig;
  readonly #sessions = new Map<string, Managed>();
  readonly #metadataOnly = new Map<string, SessionState>();
  readonly #pending = new Map<string, Pending>();
  readonly #maxPending: number;
  readonly #patterns: ManagerPattern[];
  readonly #policy: ServerPolicyEnforcer | null;

  private constructor(role: NoiseRole, options: NoiseManagerOptions) {
    this.#role = role;
    this.#config = mobileConfig(options.config);
    const maxPending = options.maxPendingHandshakes ?? DEFAULT_MAX_PENDING_HANDSHAKES;
    if (!Number.isSafeInteger(maxPending) || maxPending < 1) {
      throw otherError("maxPendingHandshakes must be a positive integer");
    }
    this.#maxPending = maxPending;
    const patterns = options.patterns ?? ["IK", "XX"];
    if (
      !Array.isArray(patterns) || patterns.length === 0 ||
      !patterns.every((p) => p === "IK" || p === "XX")
    ) {
      throw otherError("patterns must be a non-empty list of IK, XX");
    }
    this.#patterns = [...patterns];
    this.#policy = role.kind === "server"
      ? new ServerPolicyEnforcer(options.policy ?? role.server.policy, {
        rateLimiter: options.rateLimiter,
        now: options.now,
      })
      : null;
  }

  /** Rust `NoiseManager::new_client(client, config)`. */
  static newClient(client: NoiseClient, options: NoiseManagerOptions = {}): NoiseManager {
    if (!client) throw otherError("a client is required");
    return new NoiseManager({ kind: "client", client }, options);
  }

  /** Rust `NoiseManager::new_server(server, config)`; enforces `server.policy`. */
  static newServer(server: NoiseServer, options: NoiseManagerOptions = {}): NoiseManager {
    if (!server) throw otherError("a server is required");
    return new NoiseManager({ kind: "server", server }, options);
  }

  /** The client, on a client manager. */
  get client(): NoiseClient | null {
    return this.#role.kind === "client" ? this.#role.client : null;
  }

  /** The server, on a server manager. */
  get server(): NoiseServer | null {
    return this.#role.kind === "server" ? this.#role.server : null;
  }

  /** The policy enforcer (server managers). */
  get policy(): ServerPolicyEnforcer | null {
    return this.#policy;
  }

  /** The config (a copy). */
  get config(): MobileConfig {
    return { ...this.#config };
  }

  /** Replaces the config (checked and clamped as {@linkcode mobileConfig}). */
  setConfig(config: Partial<MobileConfig>): void {
    this.#config = mobileConfig(config);
  }

  /** Handshakes waiting for their next message. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  #client(): NoiseClient {
    if (this.#role.kind !== "client") throw otherError("Not in client mode");
    return this.#role.client;
  }

  #server(): NoiseServer {
    if (this.#role.kind !== "server") throw otherError("Not in server mode");
    return this.#role.server;
  }

  #addPending(hs: HandshakeState, entry: Pending): SessionId {
    const id = new SessionId(hs.handshakeHash);
    const key = id.toString();
    this.#pending.get(key)?.hs.destroy();
    this.#pending.delete(key);
    while (this.#pending.size >= this.#maxPending) {
      const [oldest, p] = this.#pending.entries().next().value!;
      p.hs.destroy();
      this.#pending.delete(oldest);
    }
    this.#pending.set(key, entry);
    return id;
  }

  #takePending(tempId: SessionId): Pending {
    const key = checkId(tempId);
    const p = this.#pending.get(key);
    if (!p) throw otherError("No pending handshake found");
    this.#pending.delete(key);
    return p;
  }

  /**
   * Whether `tempId` names a handshake still waiting for its next message (one that was not
   * completed, cancelled or evicted by `maxPendingHandshakes`): check before completing it to
   * tell a late or unknown reply from a bad one.
   */
  hasPending(tempId: SessionId): boolean {
    return this.#pending.has(checkId(tempId));
  }

  /** Drops a pending handshake (wiping it); whether there was one. */
  cancelPending(tempId: SessionId): boolean {
    const key = checkId(tempId);
    const p = this.#pending.get(key);
    p?.hs.destroy();
    return this.#pending.delete(key);
  }

  /** Registers an IK or XX link (its remote static is the peer's authenticated key). */
  #register(
    link: NoiseLink,
    role: Role,
    remoteIdentity: IdentityPayload | null,
    generation = 0n,
  ): SessionId {
    const id = link.sessionId;
    const key = id.toString();
    this.#metadataOnly.delete(key);
    this.#sessions.set(key, {
      slot: new SessionSlot(id, link),
      role,
      remoteIdentity,
      status: ConnectionStatus.Connected,
      generation,
    });
    return id;
  }

  /**
   * IK, step 1 (Rust `initiate_connection`): message 1 to a server whose static
   * key is pinned. Returns the temporary id (the handshake hash after message 1).
   */
  async initiateConnection(
    serverStaticPk: Uint8Array,
    hint: string | null = null,
  ): Promise<InitiatedConnection> {
    const client = this.#client();
    expectLength(serverStaticPk, 32, "server static key", NoiseErrorCode.InvalidPeerKey);
    const { hs, firstMsg } = await clientStartIkDirect(client, serverStaticPk, hint);
    const sessionId = this.#addPending(hs, {
      kind: "ik-client",
      hs,
      serverStaticPk: copyBytes(serverStaticPk),
    });
    return { sessionId, firstMessage: firstMsg };
  }

  /** XX, step 1 (first contact): message 1 and the temporary id. */
  async initiateXxConnection(hint: string | null = null): Promise<InitiatedConnection> {
    const client = this.#client();
    const { hs, firstMsg } = await clientStartXxTofu(client, hint);
    const sessionId = this.#addPending(hs, { kind: "xx-client", hs, hint });
    return { sessionId, firstMessage: firstMsg };
  }

  /**
   * Last client step (Rust `complete_connection`): reads the server's response
   * and establishes the session (status `Connected`). For XX, send
   * `finalMessage`. The pending handshake is dropped even if this fails.
   */
  async completeConnection(tempId: SessionId, response: Uint8Array): Promise<CompletedConnection> {
    const client = this.#client();
    const p = this.#takePending(tempId);
    try {
      if (p.kind === "ik-client") {
        const link = await clientCompleteIk(p.hs, response);
        const sessionId = this.#register(link, "Client", null);
        return {
          sessionId,
          finalMessage: null,
          serverStaticPk: copyBytes(p.serverStaticPk),
          serverIdentity: null,
          pattern: "IK",
        };
      }
      if (p.kind === "xx-client") {
        const done = await clientCompleteXx(client, p.hs, response, p.hint);
        const sessionId = this.#register(done.link, "Client", done.serverIdentity);
        return {
          sessionId,
          finalMessage: done.finalMsg,
          serverStaticPk: done.serverStaticPk,
          serverIdentity: done.serverIdentity,
          pattern: "XX",
        };
      }
      throw otherError("No pending handshake found");
    } catch (e) {
      p.hs.destroy();
      throw e;
    }
  }

  /**
   * Server step (Rust `accept_connection`): reads a client's first message and
   * returns the response. Order: the address limit (RateLimited, or Policy
   * without an address), the pattern (Policy if not accepted), the handshake's
   * own checks, then for IK the identity's session limit (MaxSessionsExceeded;
   * nothing is answered). XX then waits for `completeAcceptConnection`.
   */
  async acceptConnection(
    firstMessage: Uint8Array,
    options: { address?: string | null } = {},
  ): Promise<AcceptedConnection> {
    const server = this.#server();
    this.#policy!.checkHandshake(options?.address);
    if (!(firstMessage instanceof Uint8Array)) {
      throw new NoiseError(NoiseErrorCode.Policy, "Handshake message must be bytes");
    }
    const pattern: ManagerPattern = firstMessage.length === XX_FIRST_LEN ? "XX" : "IK";
    if (!this.#patterns.includes(pattern)) {
      throw new NoiseError(
        NoiseErrorCode.Policy,
        `first handshake message (${firstMessage.length} bytes) is not of an accepted pattern (${
          this.#patterns.join(", ")
        })`,
      );
    }
    if (pattern === "XX") {
      const step = await serverAcceptXx(server, firstMessage);
      const sessionId = this.#addPending(step.hs, {
        kind: "xx-server",
        hs: step.hs,
        serverStaticPk: step.serverStaticPk,
      });
      return { sessionId, response: step.response, pattern, established: false };
    }
    const step = await serverAcceptIk(server, firstMessage);
    // No await from here on: the slot check and the registration are one step.
    if (!this.#policy!.canAdmit(step.clientIdentity.ed25519Pub)) {
      step.hs.destroy();
      throw new NoiseError(NoiseErrorCode.MaxSessionsExceeded);
    }
    const link = serverCompleteIk(step.hs);
    this.#policy!.admitSession(link.sessionId, step.clientIdentity.ed25519Pub);
    const sessionId = this.#register(link, "Server", step.clientIdentity);
    return { sessionId, response: step.response, pattern, established: true };
  }

  /**
   * XX, last server step: reads message 3, verifies the client's identity and
   * establishes the session (MaxSessionsExceeded if its identity has no slot
   * left). The pending handshake is dropped even if this fails.
   */
  async completeAcceptConnection(tempId: SessionId, finalMessage: Uint8Array): Promise<SessionId> {
    const server = this.#server();
    const p = this.#takePending(tempId);
    if (p.kind !== "xx-server") {
      p.hs.destroy();
      throw otherError("No pending handshake found");
    }
    let done: Awaited<ReturnType<typeof serverCompleteXx>>;
    try {
      done = await serverCompleteXx(server, p.hs, finalMessage, p.serverStaticPk);
    } catch (e) {
      p.hs.destroy();
      throw e;
    }
    if (!this.#policy!.canAdmit(done.clientIdentity.ed25519Pub)) {
      done.link.destroy();
      throw new NoiseError(NoiseErrorCode.MaxSessionsExceeded);
    }
    this.#policy!.admitSession(done.link.sessionId, done.clientIdentity.ed25519Pub);
    return this.#register(done.link, "Server", done.clientIdentity);
  }

  #managed(id: SessionId): Managed {
    const m = this.#sessions.get(checkId(id));
    if (!m) throw sessionNotFound();
    return m;
  }

  /** The link of `id` (unguarded: prefer `encrypt`/`decrypt`/`withSession`). */
  getSession(id: SessionId): NoiseLink | undefined {
    return this.#sessions.get(checkId(id))?.slot.link;
  }

  /** The peer's verified identity (`null` for an IK client: the server sends none). */
  getPeerIdentity(id: SessionId): IdentityPayload | null | undefined {
    return this.#sessions.get(checkId(id))?.remoteIdentity;
  }

  /** The peer's static key (the server's on a client, the client's on a server). */
  getPeerStaticKey(id: SessionId): Uint8Array | undefined {
    return this.#sessions.get(checkId(id))?.slot.link.remoteStatic ?? undefined;
  }

  /**
   * Removes a session (and its metadata) and returns its link, not destroyed;
   * frees its policy slot. Operations still queued on it fail with `Session not found`.
   */
  removeSession(id: SessionId): NoiseLink | undefined {
    const key = checkId(id);
    this.#metadataOnly.delete(key);
    const m = this.#sessions.get(key);
    if (!m) return undefined;
    m.slot.removed = true;
    this.#sessions.delete(key);
    this.#policy?.releaseSession(id);
    return m.slot.link;
  }

  /** The ids of established sessions (with keys), in insertion order. */
  listSessions(): SessionId[] {
    return Array.from(this.#sessions.values(), (m) => m.slot.id);
  }

  /** The status of `id` (also of a metadata-only session). */
  getStatus(id: SessionId): ConnectionStatus | undefined {
    const key = checkId(id);
    return this.#sessions.get(key)?.status ?? this.#metadataOnly.get(key)?.status;
  }

  /** Sets the status of `id`; does nothing for an unknown id (as the crate). */
  setStatus(id: SessionId, status: ConnectionStatus): void {
    const key = checkId(id);
    if (!isConnectionStatus(status)) throw otherError(`unknown status ${String(status)}`);
    const m = this.#sessions.get(key);
    if (m) {
      m.status = status;
      return;
    }
    const meta = this.#metadataOnly.get(key);
    if (meta) {
      this.#metadataOnly.set(
        key,
        new SessionState(
          meta.sessionId,
          meta.peerStaticPk,
          meta.writeCounter,
          meta.readCounter,
          status,
        ),
      );
    }
  }

  /**
   * The session's metadata (Rust `save_state`) with the live counters;
   * `JSON.stringify` gives the crate's serde JSON. No keys: see `snapshot`.
   * Unknown id: `NoiseError` Other `Session not found`.
   */
  saveState(id: SessionId): SessionState {
    const key = checkId(id);
    const m = this.#sessions.get(key);
    if (!m) {
      const meta = this.#metadataOnly.get(key);
      if (meta) return meta;
      throw sessionNotFound();
    }
    const t = m.slot.link.transport;
    return new SessionState(
      m.slot.id,
      m.slot.link.remoteStatic ?? new Uint8Array(32),
      Number(t.sendNonce),
      Number(t.receiveNonce),
      m.status,
    );
  }

  /**
   * Rust `restore_state`: metadata only. For a held session only the status is
   * taken; otherwise the metadata is kept (status, peer key — e.g. to reconnect
   * with IK), but there are no keys: `encrypt`/`decrypt` on it fail with
   * `Session not found` until a snapshot is restored or a new handshake is made.
   */
  restoreState(state: SessionState): void {
    if (!(state instanceof SessionState)) state = SessionState.fromJSON(state);
    const key = state.sessionId.toString();
    const m = this.#sessions.get(key);
    if (m) {
      m.status = state.status;
      return;
    }
    this.#metadataOnly.set(key, state);
  }

  /** Encrypts on `id`, in call order with every other send on it. */
  encrypt(id: SessionId, plaintext: Uint8Array): Promise<Uint8Array> {
    try {
      return this.#managed(id).slot.encrypt(plaintext);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Decrypts the next message of `id`, in call order with every other receive on it. */
  decrypt(id: SessionId, ciphertext: Uint8Array): Promise<Uint8Array> {
    try {
      return this.#managed(id).slot.decrypt(ciphertext);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Encrypts and awaits `write` under the sending lock (see
   * `ThreadSafeSessionManager.send`); a failed write sets the status to `Error`.
   */
  send(
    id: SessionId,
    plaintext: Uint8Array,
    write: (ciphertext: Uint8Array) => void | Promise<void>,
  ): Promise<void> {
    let m: Managed;
    try {
      m = this.#managed(id);
    } catch (e) {
      return Promise.reject(e);
    }
    return m.slot.send(plaintext, write).catch((e) => {
      if (e instanceof NoiseError && e.code !== NoiseErrorCode.Other) m.status = "Error";
      throw e;
    });
  }

  /** Awaits `read` and decrypts, under the receiving lock. */
  receive(id: SessionId, read: () => Uint8Array | Promise<Uint8Array>): Promise<Uint8Array> {
    try {
      return this.#managed(id).slot.receive(read);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * `data` as ciphertexts of at most `config.chunkSize` plaintext bytes each, in
   * one go under the sending lock (the crate's `StreamingNoiseLink` format: no
   * framing; empty data gives no chunk).
   */
  encryptChunks(id: SessionId, data: Uint8Array): Promise<Uint8Array[]> {
    let m: Managed;
    try {
      m = this.#managed(id);
      if (!(data instanceof Uint8Array)) throw otherError("data must be a Uint8Array");
    } catch (e) {
      return Promise.reject(e);
    }
    const size = this.#config.chunkSize;
    return m.slot.sendQueue.run(() => {
      if (m.slot.removed) throw sessionNotFound();
      const out: Uint8Array[] = [];
      for (let off = 0; off < data.length; off += size) {
        out.push(m.slot.link.encrypt(data.subarray(off, off + size)));
      }
      return out;
    });
  }

  /**
   * Runs `fn` while holding both locks of `id`, with a handle whose `snapshot`
   * seals inside the lock — for "encrypt, snapshot, store, then send".
   */
  withSession<T>(id: SessionId, fn: (session: SessionHandle) => T | Promise<T>): Promise<T> {
    let m: Managed;
    try {
      m = this.#managed(id);
    } catch (e) {
      return Promise.reject(e);
    }
    return m.slot.exclusive(() =>
      fn({
        link: m.slot.link,
        sessionId: m.slot.id,
        snapshot: (key) => this.#seal(m, key),
      })
    );
  }

  #seal(m: Managed, key: CryptoKey): Promise<SessionSnapshot> {
    const previousGeneration = m.generation;
    const generation = previousGeneration + 1n;
    let prepared;
    try {
      if (m.slot.removed) throw sessionNotFound();
      prepared = prepareSnapshot(key, m.slot.link, m.role, m.remoteIdentity, generation);
    } catch (e) {
      return Promise.reject(e);
    }
    m.generation = generation;
    return sealPrepared(key, prepared).then((bytes) => ({
      bytes,
      generation,
      previousGeneration,
      sessionId: m.slot.id,
    }));
  }

  /**
   * Seals session `id` (keys, nonces, role, peer identity) under `key` at the next
   * generation, after every operation already queued on it. Store `bytes` and
   * `generation` together, atomically (rules: `snapshot.ts`).
   */
  snapshot(id: SessionId, key: CryptoKey): Promise<SessionSnapshot> {
    let m: Managed;
    try {
      m = this.#managed(id);
    } catch (e) {
      return Promise.reject(e);
    }
    let sealed!: Promise<SessionSnapshot>;
    return m.slot.exclusive(() => {
      sealed = this.#seal(m, key);
    }).then(() => sealed);
  }

  /**
   * Resumes a sealed session into this manager (status `Connected`): checks the
   * snapshot (Serde, Decryption), its role (Other unless it is this manager's
   * side) and that the id is not held here already (Other: two live copies
   * would reuse nonces), its generation against `options.generation`
   * (SessionExpired), on a server the identity's session limit
   * (MaxSessionsExceeded), then awaits `options.commit(generation + 1)` and
   * registers the session. Returns its id.
   */
  async restore(
    key: CryptoKey,
    bytes: Uint8Array,
    options: ManagerRestoreOptions,
  ): Promise<SessionId> {
    if (typeof options?.commit !== "function") {
      throw otherError("restore needs a commit function that stores the new generation");
    }
    const counterInput = options.generation;
    if (
      !(typeof counterInput === "bigint" && counterInput >= 0n) &&
      !(typeof counterInput === "number" && Number.isSafeInteger(counterInput) && counterInput >= 0)
    ) {
      throw otherError("generation must be a non-negative integer");
    }
    const counter = BigInt(counterInput);
    const opened = await openSnapshot(key, bytes, {
      sessionId: options.sessionId,
      suite: options.suite,
    });
    const link = opened.link;
    const id = link.sessionId;
    let admitted = false;
    try {
      const mine: Role = this.#role.kind === "client" ? "Client" : "Server";
      if (opened.role !== mine) {
        throw otherError(`snapshot is of a ${opened.role} session; this manager is a ${mine}`);
      }
      if (this.#sessions.has(id.toString())) {
        throw otherError(`session ${id} is already held by this manager`);
      }
      checkGeneration(opened.generation, counter);
      if (link.remoteStatic === null) throw otherError("snapshot has no peer static key");
      if (this.#policy && opened.remoteIdentity) {
        this.#policy.admitSession(id, opened.remoteIdentity.ed25519Pub);
        admitted = true;
      }
      await commitGeneration(options.commit, counter + 1n, counter);
      if (this.#sessions.has(id.toString())) {
        throw otherError(`session ${id} is already held by this manager`);
      }
      return this.#register(link, opened.role, opened.remoteIdentity, counter + 1n);
    } catch (e) {
      if (admitted) this.#policy!.releaseSession(id);
      link.destroy();
      throw e;
    }
  }

  /**
   * A {@linkcode ReconnectingSession} of this client to `serverStaticPk` over
   * carriers from `carrierFactory`, under this manager's config. It lives over
   * the stream layer, outside this manager's map (its id changes at each
   * reconnection): follow it with its own `status`.
   */
  connect(
    carrierFactory: () => MessageCarrier | Promise<MessageCarrier>,
    serverStaticPk: Uint8Array,
    options: Omit<ReconnectOptions, "client" | "config" | "carrierFactory" | "serverStaticPub"> =
      {},
  ): Promise<ReconnectingSession> {
    let client: NoiseClient;
    try {
      client = this.#client();
    } catch (e) {
      return Promise.reject(e);
    }
    return ReconnectingSession.connect({
      ...options,
      client,
      config: this.#config,
      carrierFactory,
      serverStaticPub: serverStaticPk,
    });
  }

  /** Wipes every session and pending handshake (the crate's `Drop`). */
  destroy(): void {
    for (const m of this.#sessions.values()) {
      m.slot.removed = true;
      m.slot.link.destroy();
      this.#policy?.releaseSession(m.slot.id);
    }
    for (const p of this.#pending.values()) p.hs.destroy();
    this.#sessions.clear();
    this.#pending.clear();
    this.#metadataOnly.clear();
  }

  /** Redacted. */
  toString(): string {
    return `NoiseManager(${this.#role.kind}, ${this.#sessions.size} sessions)`;
  }
  /** Redacted. */
  toJSON(): { role: string; sessions: number; pending: number } {
    return { role: this.#role.kind, sessions: this.#sessions.size, pending: this.#pending.size };
  }
}
