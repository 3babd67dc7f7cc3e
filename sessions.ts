/**
 * # @pubky/noise/sessions
 *
 * Sessions and their lifecycle — the Rust crate's `session_manager`,
 * `mobile_manager` and `rate_limiter`, with what the crate only names made real.
 * Not loaded by the default entry (it builds on `@pubky/noise/streams`).
 *
 * - **Managers**: {@linkcode NoiseSessionManager} (a map of links by
 *   {@linkcode SessionId}) and {@linkcode ThreadSafeSessionManager} (the same under
 *   per-session promise-chain locks: concurrent tasks never reuse a nonce and their
 *   ciphertexts leave in call order).
 * - **Lifecycle**: {@linkcode NoiseManager} with {@linkcode MobileConfig} and the
 *   crate's presets: handshakes step by step (IK, and XX for first contact), a
 *   {@linkcode ConnectionStatus} per session, {@linkcode SessionState} metadata in
 *   the crate's serde JSON, encrypt/decrypt by id.
 * - **Reconnect**: {@linkcode ReconnectingSession} reconnects a dropped client over
 *   the stream layer, with exponential backoff and full jitter, bounded attempts.
 * - **Save and restore that really resume**: {@linkcode ResumableSession} and
 *   {@linkcode NoiseManager.snapshot} seal keys and nonces under a non-extractable
 *   AES-GCM key; a generation counter kept by the holder makes a snapshot
 *   restorable once, and never after a newer one (see the rules in
 *   {@linkcode ResumableSession}'s module).
 * - **Policy**: {@linkcode ServerPolicyEnforcer} enforces `ServerPolicy`
 *   (handshakes per address → `RateLimited` 6001 with `retryAfterMs`; sessions per
 *   Ed25519 identity → `MaxSessionsExceeded` 6002) with the crate's
 *   {@linkcode RateLimiter} and its four configurations.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseServer } from "@pubky/noise";
 * import { generateSnapshotKey, NoiseManager } from "@pubky/noise/sessions";
 *
 * const ring = await DummyRing.create(crypto.getRandomValues(new Uint8Array(32)), "kid");
 * const server = NoiseManager.newServer(
 *   new NoiseServer("kid", "server-device-0001", ring, { policy: { maxSessionsPerEd25519: 4 } }),
 * );
 * const client = NoiseManager.newClient(new NoiseClient("kid", "client-device-0001", ring));
 * const pinned = await server.server!.staticPublicKey();
 *
 * const hello = await client.initiateConnection(pinned);
 * const accepted = await server.acceptConnection(hello.firstMessage, { address: "192.0.2.1" });
 * const { sessionId } = await client.completeConnection(hello.sessionId, accepted.response);
 *
 * // Seal the server's side, drop it, and resume it: the client notices nothing.
 * const key = await generateSnapshotKey();
 * const snap = await server.snapshot(sessionId, key); // store bytes + generation atomically
 * server.removeSession(sessionId)?.destroy();
 * await server.restore(key, snap.bytes, {
 *   generation: snap.generation,
 *   commit: (next) => console.assert(next === snap.generation + 1n), // store `next` durably
 * });
 * const ct = await client.encrypt(sessionId, new TextEncoder().encode("still here"));
 * console.log(new TextDecoder().decode(await server.decrypt(sessionId, ct))); // still here
 * ```
 *
 * @module
 */

export {
  batterySaverConfig,
  ConnectionStatus,
  defaultConfig,
  type MobileConfig,
  mobileConfig,
  performanceConfig,
  SessionState,
  type SessionStateJson,
  storageRetryConfig,
} from "./lib/session/config.ts";
export {
  type NoiseRole,
  NoiseSessionManager,
  ThreadSafeSessionManager,
} from "./lib/session/session_manager.ts";
export {
  type AcceptedConnection,
  type CompletedConnection,
  type InitiatedConnection,
  type ManagerPattern,
  type ManagerRestoreOptions,
  NoiseManager,
  type NoiseManagerOptions,
  type SessionHandle,
} from "./lib/session/noise_manager.ts";
export {
  ReconnectingSession,
  type ReconnectOptions,
  type StatusEvent,
} from "./lib/session/reconnect.ts";
export {
  generateSnapshotKey,
  importSnapshotKey,
  peekSnapshot,
  type RestoreOptions,
  type ResumableOptions,
  ResumableSession,
  type SessionSnapshot,
  type SnapshotHeader,
} from "./lib/session/snapshot.ts";
export {
  defaultRateLimiterConfig,
  disabledRateLimiterConfig,
  lenientRateLimiterConfig,
  RateLimiter,
  type RateLimiterConfig,
  type RateLimiterOptions,
  type RateLimitReason,
  type RateLimitResult,
  strictRateLimiterConfig,
  UNLIMITED,
} from "./lib/session/rate_limiter.ts";
export { type PolicyEnforcerOptions, ServerPolicyEnforcer } from "./lib/session/policy.ts";
