/**
 * `RateLimiter` (Rust `rate_limiter`): handshake attempts per client address in a
 * sliding window, a cooldown between attempts, and a bounded number of tracked
 * addresses, with the crate's four configurations.
 *
 * - An attempt is allowed when the address has fewer than `maxHandshakesPerIp`
 *   attempts in the last `windowSecs`, and — if it has any — the last one is at
 *   least `handshakeCooldownMs` old.
 * - At most `maxTrackedIps` addresses are tracked; a new one evicts the address
 *   whose last attempt is oldest (in O(1): the tracker map is kept in order of
 *   last attempt, where the crate scans every entry). Every `cleanupIntervalSecs`
 *   a check also drops addresses with no attempt left in the window.
 * - Addresses are IPv4 or IPv6 text, canonicalized ({@linkcode canonicalAddress}):
 *   `::FFFF:1.2.3.4`, `::ffff:0102:0304` and `1.2.3.4` are one client, and so are
 *   every spelling of one IPv6 address. Anything else (a port, a host name) is
 *   refused with `NoiseError` Other, so that a caller cannot split one client
 *   into many keys by accident.
 * - The clock is injectable (`now`, milliseconds, monotonic by default).
 *
 * Difference from the crate: the detailed check applies the cooldown only when
 * the address has attempts in the window, like the plain check (the crate's
 * detailed check applies it regardless), and when both limits apply it reports
 * `TooManyAttempts` with the later of the two retry times.
 *
 * @example
 * ```ts
 * import { RateLimiter, strictRateLimiterConfig } from "@pubky/noise/sessions";
 * const limiter = new RateLimiter({ ...strictRateLimiterConfig(), handshakeCooldownMs: 0 });
 * console.log([1, 2, 3, 4].map(() => limiter.checkAndRecord("203.0.113.7"))); // [true, true, true, false]
 * console.log(limiter.checkHandshakeDetailed("203.0.113.7").reason); // "TooManyAttempts"
 * ```
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";

/**
 * Settings of a {@linkcode RateLimiter} (Rust `RateLimiterConfig`).
 *
 * @example
 * ```ts
 * import { RateLimiter, type RateLimiterConfig } from "@pubky/noise/sessions";
 * const config: RateLimiterConfig = {
 *   maxHandshakesPerIp: 5,
 *   windowSecs: 60,
 *   handshakeCooldownMs: 0,
 *   maxTrackedIps: 10_000,
 *   cleanupIntervalSecs: 60,
 *   enabled: true,
 * };
 * const limiter = new RateLimiter(config);
 * for (let i = 0; i < 5; i++) limiter.recordHandshake("192.0.2.7");
 * console.log(limiter.checkHandshake("192.0.2.7"), limiter.checkHandshake("192.0.2.8")); // false true
 * ```
 */
export interface RateLimiterConfig {
  /** Most attempts per address within the window. */
  maxHandshakesPerIp: number;
  /** The sliding window, in seconds. */
  windowSecs: number;
  /** Least time between two attempts of one address, in milliseconds. */
  handshakeCooldownMs: number;
  /** Most addresses tracked at once. */
  maxTrackedIps: number;
  /** How often a check drops expired addresses, in seconds. */
  cleanupIntervalSecs: number;
  /** `false`: everything is allowed and nothing tracked. */
  enabled: boolean;
}

/**
 * Rust `RateLimiterConfig::default()`: 10 per 60 s, 100 ms cooldown, 10 000 addresses.
 *
 * @example
 * ```ts
 * import { defaultRateLimiterConfig, RateLimiter } from "@pubky/noise/sessions";
 * const limiter = new RateLimiter({ ...defaultRateLimiterConfig(), windowSecs: 300 });
 * console.log(limiter.config.maxHandshakesPerIp, limiter.config.windowSecs); // 10 300
 * ```
 */
export function defaultRateLimiterConfig(): RateLimiterConfig {
  return {
    maxHandshakesPerIp: 10,
    windowSecs: 60,
    handshakeCooldownMs: 100,
    maxTrackedIps: 10_000,
    cleanupIntervalSecs: 60,
    enabled: true,
  };
}

/**
 * Rust `RateLimiterConfig::strict()`: 3 per 60 s, 500 ms cooldown, 5 000 addresses.
 *
 * @example
 * ```ts
 * import { RateLimiter, strictRateLimiterConfig } from "@pubky/noise/sessions";
 * const limiter = new RateLimiter(strictRateLimiterConfig());
 * limiter.recordHandshake("192.0.2.7");
 * console.log(limiter.checkHandshakeDetailed("192.0.2.7").reason); // CooldownActive: 500 ms between attempts
 * ```
 */
export function strictRateLimiterConfig(): RateLimiterConfig {
  return {
    maxHandshakesPerIp: 3,
    windowSecs: 60,
    handshakeCooldownMs: 500,
    maxTrackedIps: 5_000,
    cleanupIntervalSecs: 30,
    enabled: true,
  };
}

/**
 * Rust `RateLimiterConfig::lenient()`: 100 per 60 s, 10 ms cooldown, 50 000 addresses.
 *
 * @example
 * ```ts
 * import { lenientRateLimiterConfig, RateLimiter } from "@pubky/noise/sessions";
 * const limiter = new RateLimiter(lenientRateLimiterConfig()); // e.g. behind a NAT shared by many users
 * console.log(limiter.remainingAttempts("192.0.2.7")); // 100
 * ```
 */
export function lenientRateLimiterConfig(): RateLimiterConfig {
  return {
    maxHandshakesPerIp: 100,
    windowSecs: 60,
    handshakeCooldownMs: 10,
    maxTrackedIps: 50_000,
    cleanupIntervalSecs: 120,
    enabled: true,
  };
}

/**
 * Rust `RateLimiterConfig::disabled()`: the default with `enabled: false`.
 *
 * @example
 * ```ts
 * import { disabledRateLimiterConfig, RateLimiter } from "@pubky/noise/sessions";
 * const limiter = new RateLimiter(disabledRateLimiterConfig()); // e.g. in tests
 * console.log(limiter.checkAndRecord("192.0.2.7"), limiter.trackedIpCount); // true 0
 * ```
 */
export function disabledRateLimiterConfig(): RateLimiterConfig {
  return { ...defaultRateLimiterConfig(), enabled: false };
}

/**
 * Why an attempt was refused (Rust `RateLimitReason`).
 *
 * @example
 * ```ts
 * import { RateLimiter, type RateLimitReason } from "@pubky/noise/sessions";
 * const limiter = new RateLimiter({ maxHandshakesPerIp: 1, handshakeCooldownMs: 0 });
 * limiter.recordHandshake("192.0.2.7");
 * const reason: RateLimitReason | null = limiter.checkHandshakeDetailed("192.0.2.7").reason;
 * console.log(reason === "TooManyAttempts" ? "429: try later" : "ok"); // 429: try later
 * ```
 */
export type RateLimitReason = "TooManyAttempts" | "CooldownActive";

/**
 * The outcome of {@linkcode RateLimiter.checkHandshakeDetailed} (Rust `RateLimitResult`).
 *
 * @example
 * ```ts
 * import { RateLimiter, type RateLimitResult } from "@pubky/noise/sessions";
 * let now = 0;
 * const limiter = new RateLimiter({ maxHandshakesPerIp: 2, windowSecs: 60 }, { now: () => now });
 * limiter.recordHandshake("192.0.2.7");
 * now += 1000;
 * limiter.recordHandshake("192.0.2.7");
 * const result: RateLimitResult = limiter.checkHandshakeDetailed("192.0.2.7");
 * console.log(result); // { allowed: false, remaining: 0, retryAfterMs: 59000, reason: "TooManyAttempts" }
 * ```
 */
export interface RateLimitResult {
  /** Whether an attempt now would be allowed. */
  allowed: boolean;
  /** Attempts left in the window (0 when refused; 2^32 − 1 when disabled). */
  remaining: number;
  /** When refused: milliseconds until an attempt would be allowed. */
  retryAfterMs: number | null;
  /** When refused: why. */
  reason: RateLimitReason | null;
}

/**
 * `remaining` when limiting is disabled (Rust `u32::MAX`).
 *
 * @example
 * ```ts
 * import { disabledRateLimiterConfig, RateLimiter, UNLIMITED } from "@pubky/noise/sessions";
 * const limiter = new RateLimiter(disabledRateLimiterConfig());
 * console.log(limiter.remainingAttempts("192.0.2.7") === UNLIMITED, UNLIMITED); // true 4294967295
 * ```
 */
export const UNLIMITED = 4294967295;

interface Tracker {
  /** Times of the latest attempts in the window, oldest first (at most `maxHandshakesPerIp`). */
  attempts: number[];
  /** Time of the latest attempt. */
  last: number;
}

function ipv4Octets(text: string): number[] | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out.push(n);
  }
  return out;
}

function hexGroups(text: string): number[] | null {
  if (text === "") return [];
  const out: number[] = [];
  for (const g of text.split(":")) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    out.push(parseInt(g, 16));
  }
  return out;
}

function ipv6Groups(text: string): number[] | null {
  const zone = text.indexOf("%");
  if (zone >= 0) {
    if (zone === text.length - 1) return null;
    text = text.slice(0, zone);
  }
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(":");
  if (lastColon < 0) return null;
  const last = text.slice(lastColon + 1);
  if (last.includes(".")) {
    const v4 = ipv4Octets(last);
    if (!v4) return null;
    tail = [(v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]];
    text = text.slice(0, lastColon + 1);
    if (!text.endsWith("::")) text = text.slice(0, -1);
  }
  const wanted = 8 - tail.length;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  if (halves.length === 2) {
    const head = hexGroups(halves[0]);
    const rest = hexGroups(halves[1]);
    if (!head || !rest || head.length + rest.length > wanted - 1) return null;
    const zeros = new Array<number>(wanted - head.length - rest.length).fill(0);
    return [...head, ...zeros, ...rest, ...tail];
  }
  const groups = hexGroups(text);
  if (!groups || groups.length !== wanted) return null;
  return [...groups, ...tail];
}

function formatIpv6(groups: number[]): string {
  // RFC 5952: lowercase, no leading zeros, the longest run (≥ 2) of zero groups as "::".
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

/**
 * The canonical text of an IPv4 or IPv6 address: IPv4 as dotted decimal, IPv6 per
 * RFC 5952 (lowercase, shortest), an IPv4-mapped IPv6 address as its IPv4 form,
 * a zone id (`%eth0`) dropped. Throws `NoiseError` Other on anything else.
 *
 * @example
 * ```ts
 * import { canonicalAddress } from "./rate_limiter.ts";
 * console.log(canonicalAddress("2001:DB8:0:0:0:0:0:1")); // "2001:db8::1"
 * console.log(canonicalAddress("::ffff:192.0.2.1")); // "192.0.2.1"
 * ```
 */
export function canonicalAddress(address: string): string {
  if (typeof address !== "string" || address.length === 0 || address.length > 64) {
    throw new NoiseError(NoiseErrorCode.Other, "client address must be an IP address");
  }
  const v4 = ipv4Octets(address);
  if (v4) return v4.join(".");
  const groups = address.includes(":") ? ipv6Groups(address) : null;
  if (!groups) {
    throw new NoiseError(
      NoiseErrorCode.Other,
      `client address ${JSON.stringify(address.slice(0, 64))} is not an IP address`,
    );
  }
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6] >> 8, groups[6] & 255, groups[7] >> 8, groups[7] & 255].join(".");
  }
  return formatIpv6(groups);
}

function checkConfig(config: RateLimiterConfig): RateLimiterConfig {
  const c = { ...config };
  const ints: (keyof RateLimiterConfig)[] = [
    "maxHandshakesPerIp",
    "windowSecs",
    "handshakeCooldownMs",
    "maxTrackedIps",
    "cleanupIntervalSecs",
  ];
  for (const name of ints) {
    const v = c[name];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
      throw new NoiseError(
        NoiseErrorCode.Other,
        `RateLimiterConfig.${name} must be an integer ≥ 0`,
      );
    }
  }
  if (c.maxTrackedIps < 1) {
    throw new NoiseError(NoiseErrorCode.Other, "RateLimiterConfig.maxTrackedIps must be ≥ 1");
  }
  if (typeof c.enabled !== "boolean") {
    throw new NoiseError(NoiseErrorCode.Other, "RateLimiterConfig.enabled must be a boolean");
  }
  return c;
}

function defaultNow(): number {
  return performance.now();
}

/**
 * Options of {@linkcode RateLimiter}.
 *
 * @example
 * ```ts
 * import { RateLimiter, type RateLimiterOptions } from "@pubky/noise/sessions";
 * let now = 0; // a manual clock, in milliseconds
 * const options: RateLimiterOptions = { now: () => now };
 * const limiter = new RateLimiter({ maxHandshakesPerIp: 1, windowSecs: 10 }, options);
 * limiter.recordHandshake("192.0.2.7");
 * console.log(limiter.checkHandshake("192.0.2.7")); // false
 * now += 10_001;
 * console.log(limiter.checkHandshake("192.0.2.7")); // true: the window has passed
 * ```
 */
export interface RateLimiterOptions {
  /** The clock in milliseconds (default `performance.now()`). */
  now?: () => number;
}

/**
 * Handshake rate limiting per client address (Rust `RateLimiter`): see the module documentation.
 *
 * @example
 * ```ts
 * import { NoiseError } from "@pubky/noise";
 * import { RateLimiter } from "@pubky/noise/sessions";
 * const limiter = new RateLimiter({ maxHandshakesPerIp: 2, handshakeCooldownMs: 0 });
 * function onConnection(address: string): void {
 *   limiter.admit(address); // throws RateLimited (6001) with retryAfterMs when refused
 *   // … accept the handshake
 * }
 * for (const address of ["192.0.2.7", "::ffff:192.0.2.7", "192.0.2.7"]) { // one client, two spellings
 *   try {
 *     onConnection(address);
 *     console.log("accepted", address);
 *   } catch (e) {
 *     console.log((e as NoiseError).codeName, (e as NoiseError).retryAfterMs); // RateLimited 60000
 *   }
 * }
 * ```
 */
export class RateLimiter {
  readonly #config: RateLimiterConfig;
  readonly #now: () => number;
  /** Kept in order of last attempt, oldest first. */
  readonly #trackers = new Map<string, Tracker>();
  #lastCleanup: number;

  /** A limiter with `config` (default: {@linkcode defaultRateLimiterConfig}); `NoiseError` Other on a bad field. */
  constructor(config: Partial<RateLimiterConfig> = {}, options: RateLimiterOptions = {}) {
    this.#config = checkConfig({ ...defaultRateLimiterConfig(), ...config });
    this.#now = options.now ?? defaultNow;
    this.#lastCleanup = this.#now();
  }

  /** The configuration (a copy). */
  get config(): RateLimiterConfig {
    return { ...this.#config };
  }

  /** Addresses tracked now. */
  get trackedIpCount(): number {
    return this.#trackers.size;
  }

  #windowMs(): number {
    return this.#config.windowSecs * 1000;
  }

  #prune(t: Tracker, now: number): void {
    const cutoff = now - this.#windowMs();
    let i = 0;
    while (i < t.attempts.length && t.attempts[i] <= cutoff) i++;
    if (i > 0) t.attempts.splice(0, i);
  }

  #maybeCleanup(now: number): void {
    if (now - this.#lastCleanup >= this.#config.cleanupIntervalSecs * 1000) this.cleanup();
  }

  #evaluate(t: Tracker | undefined, now: number): RateLimitResult {
    const max = this.#config.maxHandshakesPerIp;
    if (!t) return { allowed: max > 0, remaining: max, retryAfterMs: null, reason: null };
    this.#prune(t, now);
    const remaining = Math.max(0, max - t.attempts.length);
    const cooldownLeft = t.attempts.length > 0
      ? Math.max(0, this.#config.handshakeCooldownMs - (now - t.last))
      : 0;
    if (remaining === 0) {
      const windowLeft = t.attempts.length > 0
        ? Math.max(0, t.attempts[0] + this.#windowMs() - now)
        : this.#windowMs();
      return {
        allowed: false,
        remaining: 0,
        retryAfterMs: Math.ceil(Math.max(windowLeft, cooldownLeft)),
        reason: "TooManyAttempts",
      };
    }
    if (cooldownLeft > 0) {
      return {
        allowed: false,
        remaining: 0,
        retryAfterMs: Math.ceil(cooldownLeft),
        reason: "CooldownActive",
      };
    }
    return { allowed: true, remaining, retryAfterMs: null, reason: null };
  }

  #record(key: string, now: number): void {
    let t = this.#trackers.get(key);
    if (t) {
      this.#trackers.delete(key); // re-inserted last: the map stays in order of last attempt
    } else {
      if (this.#trackers.size >= this.#config.maxTrackedIps) {
        const oldest = this.#trackers.keys().next().value;
        if (oldest !== undefined) this.#trackers.delete(oldest);
      }
      t = { attempts: [], last: now };
    }
    t.attempts.push(now);
    const max = Math.max(1, this.#config.maxHandshakesPerIp);
    if (t.attempts.length > max) t.attempts.splice(0, t.attempts.length - max);
    t.last = now;
    this.#trackers.set(key, t);
  }

  /** Whether an attempt from `address` is allowed now (nothing recorded). */
  checkHandshake(address: string): boolean {
    return this.checkHandshakeDetailed(address).allowed;
  }

  /** Records an attempt from `address`, allowed or not (evicting the stalest address when full). */
  recordHandshake(address: string): void {
    const key = canonicalAddress(address);
    if (!this.#config.enabled) return;
    this.#record(key, this.#now());
  }

  /** Checks and, if allowed, records, in one step; `false` (nothing recorded) when refused. */
  checkAndRecord(address: string): boolean {
    return this.admitDetailed(address).allowed;
  }

  /** {@linkcode RateLimiter.checkAndRecord} with the detailed result. */
  admitDetailed(address: string): RateLimitResult {
    const key = canonicalAddress(address);
    if (!this.#config.enabled) {
      return { allowed: true, remaining: UNLIMITED, retryAfterMs: null, reason: null };
    }
    const now = this.#now();
    this.#maybeCleanup(now);
    const result = this.#evaluate(this.#trackers.get(key), now);
    if (result.allowed) {
      this.#record(key, now);
      result.remaining -= 1;
    }
    return result;
  }

  /**
   * Checks and records, throwing `NoiseError` RateLimited (6001) with
   * `retryAfterMs` when refused.
   */
  admit(address: string): void {
    const result = this.admitDetailed(address);
    if (!result.allowed) {
      throw new NoiseError(
        NoiseErrorCode.RateLimited,
        result.reason === "CooldownActive"
          ? "handshake cooldown active for this address"
          : `too many handshakes from this address (max ${this.#config.maxHandshakesPerIp} per ${this.#config.windowSecs} s)`,
        { retryAfterMs: result.retryAfterMs ?? undefined },
      );
    }
  }

  /** Attempts `address` has left in the window (2^32 − 1 when disabled). */
  remainingAttempts(address: string): number {
    const key = canonicalAddress(address);
    if (!this.#config.enabled) return UNLIMITED;
    const t = this.#trackers.get(key);
    if (!t) return this.#config.maxHandshakesPerIp;
    this.#prune(t, this.#now());
    return Math.max(0, this.#config.maxHandshakesPerIp - t.attempts.length);
  }

  /** Whether an attempt from `address` is allowed now, with the details (nothing recorded). */
  checkHandshakeDetailed(address: string): RateLimitResult {
    const key = canonicalAddress(address);
    if (!this.#config.enabled) {
      return { allowed: true, remaining: UNLIMITED, retryAfterMs: null, reason: null };
    }
    const now = this.#now();
    this.#maybeCleanup(now);
    return this.#evaluate(this.#trackers.get(key), now);
  }

  /** Forgets every address. */
  clear(): void {
    this.#trackers.clear();
  }

  /** Drops the addresses with no attempt left in the window. */
  cleanup(): void {
    const now = this.#now();
    for (const [key, t] of this.#trackers) {
      this.#prune(t, now);
      if (t.attempts.length === 0) this.#trackers.delete(key);
    }
    this.#lastCleanup = now;
  }
}
