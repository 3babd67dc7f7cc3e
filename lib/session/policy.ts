/**
 * Enforcement of {@linkcode ServerPolicy} (the crate only declares it):
 *
 * - `maxHandshakesPerIp`: {@linkcode ServerPolicyEnforcer.checkHandshake} runs
 *   before a handshake message is read, and counts the attempt whatever its
 *   outcome; the limit applies per client address in a sliding window
 *   ({@linkcode RateLimiter}, default window 60 s and cooldown 100 ms, with the
 *   policy's number as `maxHandshakesPerIp`). Refusal: `NoiseError` RateLimited
 *   (6001) with `retryAfterMs`. While the limit is on, a missing address is
 *   refused with Policy (6000): a server that cannot tell clients apart cannot
 *   limit them.
 * - `maxSessionsPerEd25519`: {@linkcode ServerPolicyEnforcer.admitSession} runs
 *   once the client's Ed25519 identity is verified, before the server finishes
 *   the handshake; refusal: MaxSessionsExceeded (6002). Removing a session
 *   ({@linkcode ServerPolicyEnforcer.releaseSession}) frees its slot.
 *
 * `NoiseManager` on the server side does all of this itself from
 * `server.policy`; use the enforcer directly in front of the stream layer's
 * `accept`, for instance.
 *
 * @example
 * ```ts
 * import { SessionId } from "@pubky/noise";
 * import { ServerPolicyEnforcer } from "@pubky/noise/sessions";
 * const policy = new ServerPolicyEnforcer({ maxHandshakesPerIp: 2, maxSessionsPerEd25519: 1 });
 * policy.checkHandshake("198.51.100.4"); // before reading a handshake
 * const alice = new Uint8Array(32).fill(7); // her verified Ed25519 key
 * policy.admitSession(new SessionId(new Uint8Array(32).fill(1)), alice);
 * console.log(policy.canAdmit(alice)); // false: one session per identity
 * ```
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";
import { toHex } from "../bytes.ts";
import type { ServerPolicy } from "../server.ts";
import type { SessionId } from "../session_id.ts";
import { RateLimiter, type RateLimiterConfig, type RateLimiterOptions } from "./rate_limiter.ts";
import { checkId } from "./session_manager.ts";

/**
 * Options of {@linkcode ServerPolicyEnforcer}.
 *
 * @example
 * ```ts
 * import { type PolicyEnforcerOptions, ServerPolicyEnforcer } from "@pubky/noise/sessions";
 * const options: PolicyEnforcerOptions = { rateLimiter: { windowSecs: 10, handshakeCooldownMs: 0 } };
 * const policy = new ServerPolicyEnforcer({ maxHandshakesPerIp: 100 }, options);
 * console.log(policy.rateLimiter?.config.maxHandshakesPerIp, policy.rateLimiter?.config.windowSecs); // 100 10
 * ```
 */
export interface PolicyEnforcerOptions extends RateLimiterOptions {
  /**
   * The address limiter: a {@linkcode RateLimiter} used as it is (its own
   * `maxHandshakesPerIp` applies), or settings for one, whose
   * `maxHandshakesPerIp` the policy's replaces. Without it, the policy's number
   * alone turns on a default limiter.
   */
  rateLimiter?: RateLimiter | Partial<RateLimiterConfig>;
}

function limitValue(value: number | null | undefined, name: string): number | null {
  if (value === null || value === undefined) return null;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new NoiseError(NoiseErrorCode.Other, `ServerPolicy.${name} must be an integer ≥ 0`);
  }
  return value;
}

function identityKey(ed25519Pub: Uint8Array): string {
  if (!(ed25519Pub instanceof Uint8Array) || ed25519Pub.length !== 32) {
    throw new NoiseError(NoiseErrorCode.Other, "Ed25519 identity must be 32 bytes");
  }
  return toHex(ed25519Pub);
}

/**
 * Enforces a {@linkcode ServerPolicy}: see the module documentation.
 *
 * @example
 * ```ts
 * import { DummyRing, NoiseClient, NoiseError, NoiseServer } from "@pubky/noise";
 * import { accept, connect, memoryCarrierPair } from "@pubky/noise/streams";
 * import { ServerPolicyEnforcer } from "@pubky/noise/sessions";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * const policy = new ServerPolicyEnforcer({ maxHandshakesPerIp: 20, maxSessionsPerEd25519: 1 });
 * async function serve(address: string) {
 *   policy.checkHandshake(address); // RateLimited (6001) before any crypto work
 *   const [mine, theirs] = memoryCarrierPair(); // a socket or WebSocket in real life
 *   connect(theirs, client, { pattern: "XX" }).catch(() => {});
 *   const channel = await accept(mine, server);
 *   policy.admitSession(channel.sessionId, channel.remoteIdentity!.ed25519Pub); // MaxSessionsExceeded (6002)
 *   return channel;
 * }
 * const first = await serve("192.0.2.7");
 * await serve("192.0.2.7").catch((e: NoiseError) => console.log(e.codeName)); // MaxSessionsExceeded
 * policy.releaseSession(first.sessionId); // when the session ends
 * console.log(policy.sessionCount(first.remoteIdentity!.ed25519Pub)); // 0
 * ```
 */
export class ServerPolicyEnforcer {
  /** The policy (normalized). */
  readonly policy: ServerPolicy;
  /** The address limiter, or `null` when handshakes are not limited. */
  readonly rateLimiter: RateLimiter | null;
  /** identity hex → session ids */
  readonly #byIdentity = new Map<string, Set<string>>();
  /** session id → identity hex */
  readonly #bySession = new Map<string, string>();

  /** An enforcer of `policy`; `NoiseError` Other on a negative or fractional limit. */
  constructor(policy: Partial<ServerPolicy> = {}, options: PolicyEnforcerOptions = {}) {
    this.policy = {
      maxHandshakesPerIp: limitValue(policy?.maxHandshakesPerIp, "maxHandshakesPerIp"),
      maxSessionsPerEd25519: limitValue(policy?.maxSessionsPerEd25519, "maxSessionsPerEd25519"),
    };
    const given = options.rateLimiter;
    if (given instanceof RateLimiter) {
      this.rateLimiter = given;
    } else if (given !== undefined || this.policy.maxHandshakesPerIp !== null) {
      const config: Partial<RateLimiterConfig> = { ...given };
      if (this.policy.maxHandshakesPerIp !== null) {
        config.maxHandshakesPerIp = this.policy.maxHandshakesPerIp;
      }
      this.rateLimiter = new RateLimiter(config, { now: options.now });
    } else {
      this.rateLimiter = null;
    }
  }

  /**
   * Counts a handshake attempt from `address`; throws RateLimited (6001, with
   * `retryAfterMs`) over the limit, Policy (6000) without an address while a
   * limit is on, Other (99999) for text that is not an IP address.
   */
  checkHandshake(address: string | null | undefined): void {
    if (this.rateLimiter === null || !this.rateLimiter.config.enabled) return;
    if (address === null || address === undefined) {
      throw new NoiseError(
        NoiseErrorCode.Policy,
        "the client address is required: handshakes are limited per address",
      );
    }
    this.rateLimiter.admit(address);
  }

  /** Whether one more session of `ed25519Pub` fits. */
  canAdmit(ed25519Pub: Uint8Array): boolean {
    const max = this.policy.maxSessionsPerEd25519;
    return max === null || this.sessionCount(ed25519Pub) < max;
  }

  /**
   * Takes a slot for session `id` of identity `ed25519Pub`; throws
   * MaxSessionsExceeded (6002) when the identity has no slot left. Admitting an id
   * already admitted for the same identity does nothing.
   */
  admitSession(id: SessionId, ed25519Pub: Uint8Array): void {
    const sid = checkId(id);
    const who = identityKey(ed25519Pub);
    const held = this.#bySession.get(sid);
    if (held === who) return;
    if (held !== undefined) this.releaseSession(id);
    if (!this.canAdmit(ed25519Pub)) throw new NoiseError(NoiseErrorCode.MaxSessionsExceeded);
    let set = this.#byIdentity.get(who);
    if (!set) this.#byIdentity.set(who, set = new Set());
    set.add(sid);
    this.#bySession.set(sid, who);
  }

  /** Frees the slot of session `id`; whether it held one. */
  releaseSession(id: SessionId): boolean {
    const sid = checkId(id);
    const who = this.#bySession.get(sid);
    if (who === undefined) return false;
    this.#bySession.delete(sid);
    const set = this.#byIdentity.get(who);
    set?.delete(sid);
    if (set?.size === 0) this.#byIdentity.delete(who);
    return true;
  }

  /** Sessions `ed25519Pub` holds now. */
  sessionCount(ed25519Pub: Uint8Array): number {
    return this.#byIdentity.get(identityKey(ed25519Pub))?.size ?? 0;
  }
}
