/**
 * `RateLimiter` (the crate's sliding window, cooldown, bounded tracking and four
 * configurations) and the enforcement of `ServerPolicy` by `ServerPolicyEnforcer`
 * and `NoiseManager`: RateLimited (6001) with `retryAfterMs`, MaxSessionsExceeded
 * (6002), slots freed on removal. Every clock here is a fake one.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { NoiseErrorCode } from "../lib/errors.ts";
import { SessionId } from "../lib/session_id.ts";
import { NoiseServer } from "../lib/server.ts";
import { NoiseClient } from "../lib/client.ts";
import {
  canonicalAddress,
  defaultRateLimiterConfig,
  disabledRateLimiterConfig,
  lenientRateLimiterConfig,
  RateLimiter,
  strictRateLimiterConfig,
  UNLIMITED,
} from "../lib/session/rate_limiter.ts";
import { ServerPolicyEnforcer } from "../lib/session/policy.ts";
import { NoiseManager } from "../lib/session/noise_manager.ts";
import { expectNoiseError, peers, ring, SERVER_DEVICE } from "./streams_helpers.ts";

/** A clock that moves only when told to. */
function fakeClock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

const IP = "203.0.113.5";

describe("RateLimiter", () => {
  test("the four configurations are the crate's", () => {
    assert.deepEqual(defaultRateLimiterConfig(), {
      maxHandshakesPerIp: 10,
      windowSecs: 60,
      handshakeCooldownMs: 100,
      maxTrackedIps: 10_000,
      cleanupIntervalSecs: 60,
      enabled: true,
    });
    assert.deepEqual(strictRateLimiterConfig(), {
      maxHandshakesPerIp: 3,
      windowSecs: 60,
      handshakeCooldownMs: 500,
      maxTrackedIps: 5_000,
      cleanupIntervalSecs: 30,
      enabled: true,
    });
    assert.deepEqual(lenientRateLimiterConfig(), {
      maxHandshakesPerIp: 100,
      windowSecs: 60,
      handshakeCooldownMs: 10,
      maxTrackedIps: 50_000,
      cleanupIntervalSecs: 120,
      enabled: true,
    });
    assert.deepEqual(disabledRateLimiterConfig(), {
      ...defaultRateLimiterConfig(),
      enabled: false,
    });
    assert.deepEqual(new RateLimiter().config, defaultRateLimiterConfig());
  });

  test("allows max attempts per window per address, then refuses; other addresses are separate", () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ maxHandshakesPerIp: 3, handshakeCooldownMs: 0 }, clock);
    assert.deepEqual([1, 2, 3, 4].map(() => limiter.checkAndRecord(IP)), [true, true, true, false]);
    assert.equal(limiter.checkAndRecord("203.0.113.6"), true);
    assert.equal(limiter.remainingAttempts(IP), 0);
    assert.equal(limiter.remainingAttempts("198.51.100.1"), 3);
    // The window slides: 60 s after the first attempt, one slot comes back.
    clock.advance(59_999);
    assert.equal(limiter.checkHandshake(IP), false);
    clock.advance(1);
    assert.equal(limiter.remainingAttempts(IP), 3);
    assert.equal(limiter.checkAndRecord(IP), true);
  });

  test("the window slides attempt by attempt", () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ maxHandshakesPerIp: 2, handshakeCooldownMs: 0 }, clock);
    limiter.recordHandshake(IP); // t = 0
    clock.advance(30_000);
    limiter.recordHandshake(IP); // t = 30 s
    assert.equal(limiter.checkHandshake(IP), false);
    clock.advance(30_000); // the first one leaves the window
    assert.equal(limiter.checkAndRecord(IP), true);
    assert.equal(limiter.checkHandshake(IP), false);
  });

  test("cooldown: a second attempt too soon is refused, then allowed", () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ maxHandshakesPerIp: 10, handshakeCooldownMs: 50 }, clock);
    assert.equal(limiter.checkAndRecord(IP), true);
    assert.equal(limiter.checkHandshake(IP), false);
    const detail = limiter.checkHandshakeDetailed(IP);
    assert.deepEqual(detail, {
      allowed: false,
      remaining: 0,
      retryAfterMs: 50,
      reason: "CooldownActive",
    });
    clock.advance(49);
    assert.equal(limiter.checkHandshakeDetailed(IP).retryAfterMs, 1);
    clock.advance(1);
    assert.equal(limiter.checkAndRecord(IP), true);
  });

  test("detailed results count down and say when to retry (the crate's test, with a clock)", () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ maxHandshakesPerIp: 2, handshakeCooldownMs: 0 }, clock);
    assert.deepEqual(limiter.checkHandshakeDetailed(IP), {
      allowed: true,
      remaining: 2,
      retryAfterMs: null,
      reason: null,
    });
    limiter.recordHandshake(IP);
    assert.equal(limiter.checkHandshakeDetailed(IP).remaining, 1);
    clock.advance(10_000);
    limiter.recordHandshake(IP);
    clock.advance(5_000);
    assert.deepEqual(limiter.checkHandshakeDetailed(IP), {
      allowed: false,
      remaining: 0,
      retryAfterMs: 45_000, // the oldest attempt leaves the window in 45 s
      reason: "TooManyAttempts",
    });
  });

  test("disabled: everything allowed, nothing tracked, remaining is u32::MAX", () => {
    const limiter = new RateLimiter(disabledRateLimiterConfig());
    for (let i = 0; i < 100; i++) assert.equal(limiter.checkAndRecord(IP), true);
    assert.equal(limiter.trackedIpCount, 0);
    assert.equal(limiter.remainingAttempts(IP), UNLIMITED);
    assert.equal(UNLIMITED, 2 ** 32 - 1);
  });

  test("tracking is bounded: a new address evicts the one whose last attempt is oldest", () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(
      { maxTrackedIps: 3, maxHandshakesPerIp: 1, handshakeCooldownMs: 0 },
      clock,
    );
    for (const ip of ["192.0.2.1", "192.0.2.2", "192.0.2.3"]) {
      limiter.recordHandshake(ip);
      clock.advance(1);
    }
    limiter.recordHandshake("192.0.2.1"); // now the most recent
    clock.advance(1);
    limiter.recordHandshake("192.0.2.4");
    assert.equal(limiter.trackedIpCount, 3);
    // 192.0.2.2 was evicted (fresh again); the others are still at their limit.
    assert.equal(limiter.checkHandshake("192.0.2.2"), true);
    assert.equal(limiter.checkHandshake("192.0.2.1"), false);
    assert.equal(limiter.checkHandshake("192.0.2.3"), false);
    assert.equal(limiter.checkHandshake("192.0.2.4"), false);
  });

  test("cleanup drops addresses with nothing left in the window, by hand or every interval", () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(
      { windowSecs: 1, cleanupIntervalSecs: 10, handshakeCooldownMs: 0 },
      clock,
    );
    limiter.recordHandshake(IP);
    assert.equal(limiter.trackedIpCount, 1);
    clock.advance(1_100);
    limiter.cleanup();
    assert.equal(limiter.trackedIpCount, 0);
    limiter.recordHandshake(IP);
    clock.advance(5_000);
    limiter.checkHandshake("192.0.2.1"); // before the interval: no cleanup
    assert.equal(limiter.trackedIpCount, 1);
    clock.advance(6_000);
    limiter.checkHandshake("192.0.2.1"); // 11 s since the last cleanup
    assert.equal(limiter.trackedIpCount, 0);
    limiter.recordHandshake(IP);
    limiter.clear();
    assert.equal(limiter.trackedIpCount, 0);
  });

  test("spellings of one address count as one client; anything else is refused with Other", () => {
    const limiter = new RateLimiter({ maxHandshakesPerIp: 3, handshakeCooldownMs: 0 });
    for (const a of ["::ffff:192.0.2.1", "::FFFF:c000:201", "192.0.2.1"]) {
      assert.equal(limiter.checkAndRecord(a), true);
    }
    assert.equal(limiter.checkAndRecord("192.0.2.1"), false);
    for (const a of ["2001:DB8::1", "2001:db8:0:0:0:0:0:1", "2001:0db8::0001%eth0"]) {
      assert.equal(limiter.checkAndRecord(a), true);
    }
    assert.equal(limiter.checkAndRecord("2001:db8::1"), false);
    assert.equal(canonicalAddress("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
    assert.equal(canonicalAddress("1:2:3:4:5:6:7::"), "1:2:3:4:5:6:7:0");
    for (
      const bad of ["192.0.2.1:443", "[::1]", "example.com", "01.2.3.4", "1::2::3", "", "256.0.0.1"]
    ) {
      assert.throws(() => limiter.checkAndRecord(bad), { code: NoiseErrorCode.Other }, bad);
    }
  });

  test("admit throws RateLimited with retryAfterMs; bad configs are refused", () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ maxHandshakesPerIp: 1, handshakeCooldownMs: 0 }, clock);
    limiter.admit(IP);
    clock.advance(20_000);
    assert.throws(() => limiter.admit(IP), (e: unknown) => {
      const err = e as { code: number; retryAfterMs: number; message: string };
      assert.equal(err.code, NoiseErrorCode.RateLimited);
      assert.equal(err.retryAfterMs, 40_000);
      assert.equal(
        err.message,
        "rate limited: too many handshakes from this address (max 1 per 60 s)",
      );
      return true;
    });
    for (const bad of [{ maxHandshakesPerIp: -1 }, { windowSecs: 0.5 }, { maxTrackedIps: 0 }]) {
      assert.throws(() => new RateLimiter(bad), { code: NoiseErrorCode.Other });
    }
  });
});

describe("ServerPolicyEnforcer", () => {
  test("sessions per identity: admit up to the limit, then MaxSessionsExceeded; release frees a slot", () => {
    const policy = new ServerPolicyEnforcer({ maxSessionsPerEd25519: 2 });
    const alice = new Uint8Array(32).fill(1);
    const bob = new Uint8Array(32).fill(2);
    const id = (n: number) => new SessionId(new Uint8Array(32).fill(n));
    policy.admitSession(id(1), alice);
    policy.admitSession(id(2), alice);
    policy.admitSession(id(2), alice); // the same session again: no new slot
    assert.equal(policy.sessionCount(alice), 2);
    assert.throws(() => policy.admitSession(id(3), alice), {
      code: NoiseErrorCode.MaxSessionsExceeded,
      message: "maximum sessions exceeded for this identity",
    });
    policy.admitSession(id(3), bob);
    assert.equal(policy.releaseSession(id(1)), true);
    assert.equal(policy.releaseSession(id(1)), false);
    policy.admitSession(id(4), alice);
    assert.equal(policy.sessionCount(alice), 2);
    assert.equal(policy.rateLimiter, null);
    policy.checkHandshake(undefined); // no address limit: nothing to check
  });

  test("the policy's handshake limit overrides a limiter config; a limiter instance is used as is", () => {
    const clock = fakeClock();
    const p = new ServerPolicyEnforcer(
      { maxHandshakesPerIp: 2 },
      { rateLimiter: { maxHandshakesPerIp: 50, handshakeCooldownMs: 0 }, now: clock.now },
    );
    assert.equal(p.rateLimiter!.config.maxHandshakesPerIp, 2);
    p.checkHandshake(IP);
    p.checkHandshake(IP);
    assert.throws(() => p.checkHandshake(IP), { code: NoiseErrorCode.RateLimited });
    const own = new RateLimiter({ maxHandshakesPerIp: 1, handshakeCooldownMs: 0 });
    const q = new ServerPolicyEnforcer({ maxHandshakesPerIp: 5 }, { rateLimiter: own });
    assert.equal(q.rateLimiter, own);
    assert.throws(() => new ServerPolicyEnforcer({ maxSessionsPerEd25519: -2 }), {
      code: NoiseErrorCode.Other,
    });
  });
});

describe("NoiseManager enforces ServerPolicy", () => {
  async function policed(policy: { maxHandshakesPerIp?: number; maxSessionsPerEd25519?: number }) {
    const { client, server } = await peers();
    const clock = fakeClock();
    const policedServer = new NoiseServer("kid", SERVER_DEVICE, server.ring, { policy });
    const servers = NoiseManager.newServer(policedServer, { now: clock.now });
    const clients = NoiseManager.newClient(client);
    const pinned = await server.staticPublicKey();
    return { servers, clients, pinned, clock, client };
  }

  test("handshakes per address: the third from one address is RateLimited with retryAfterMs", async () => {
    const { servers, clients, pinned, clock } = await policed({ maxHandshakesPerIp: 2 });
    for (let i = 0; i < 2; i++) {
      const hello = await clients.initiateConnection(pinned);
      await servers.acceptConnection(hello.firstMessage, { address: IP });
      clock.advance(1_000);
    }
    const hello = await clients.initiateConnection(pinned);
    const err = await expectNoiseError(
      servers.acceptConnection(hello.firstMessage, { address: "::ffff:203.0.113.5" }),
      NoiseErrorCode.RateLimited,
    );
    assert.equal(err.retryAfterMs, 58_000);
    assert.equal(err.isRetryable, true);
    assert.equal(servers.listSessions().length, 2);
    // Another address is not affected; failed handshakes count too.
    const ok = await servers.acceptConnection(hello.firstMessage, { address: "203.0.113.9" });
    assert.equal(ok.established, true);
    clock.advance(1_000); // past the default 100 ms cooldown
    await expectNoiseError(
      servers.acceptConnection(crypto.getRandomValues(new Uint8Array(100)), {
        address: "203.0.113.9",
      }),
      NoiseErrorCode.Snow,
    );
    clock.advance(1_000);
    await expectNoiseError(
      servers.acceptConnection(hello.firstMessage, { address: "203.0.113.9" }),
      NoiseErrorCode.RateLimited,
    );
    // Once the window has passed, the first address may connect again.
    clock.advance(60_000);
    const later = await clients.initiateConnection(pinned);
    assert.equal(
      (await servers.acceptConnection(later.firstMessage, { address: IP })).established,
      true,
    );
  });

  test("while handshakes are limited, a missing address is refused with Policy before any work", async () => {
    const { servers, clients, pinned } = await policed({ maxHandshakesPerIp: 5 });
    const hello = await clients.initiateConnection(pinned);
    await expectNoiseError(
      servers.acceptConnection(hello.firstMessage),
      NoiseErrorCode.Policy,
      "policy violation: the client address is required: handshakes are limited per address",
    );
    await expectNoiseError(
      servers.acceptConnection(hello.firstMessage, { address: "localhost" }),
      NoiseErrorCode.Other,
    );
    assert.equal(servers.listSessions().length, 0);
  });

  test("sessions per identity, IK: the second is refused with no response; removal frees the slot", async () => {
    const { servers, clients, pinned } = await policed({ maxSessionsPerEd25519: 1 });
    const first = await clients.initiateConnection(pinned);
    const a = await servers.acceptConnection(first.firstMessage);
    const second = await clients.initiateConnection(pinned);
    await expectNoiseError(
      servers.acceptConnection(second.firstMessage),
      NoiseErrorCode.MaxSessionsExceeded,
    );
    assert.equal(servers.listSessions().length, 1);
    // Another identity is not affected.
    const other = NoiseManager.newClient(
      new NoiseClient("kid", "dev-other-000000000", await ring(7)),
    );
    const theirs = await other.initiateConnection(pinned);
    assert.equal((await servers.acceptConnection(theirs.firstMessage)).established, true);
    servers.removeSession(a.sessionId)?.destroy();
    const third = await clients.initiateConnection(pinned);
    const c = await servers.acceptConnection(third.firstMessage);
    assert.equal(c.established, true);
    assert.equal(servers.listSessions().length, 2);
  });

  test("sessions per identity, XX: refused when message 3 reveals the identity", async () => {
    const { servers, clients, pinned } = await policed({ maxSessionsPerEd25519: 1 });
    const ik = await clients.initiateConnection(pinned);
    await servers.acceptConnection(ik.firstMessage);
    const xx = await clients.initiateXxConnection();
    const step = await servers.acceptConnection(xx.firstMessage);
    const done = await clients.completeConnection(xx.sessionId, step.response);
    await expectNoiseError(
      servers.completeAcceptConnection(step.sessionId, done.finalMessage!),
      NoiseErrorCode.MaxSessionsExceeded,
    );
    assert.equal(servers.listSessions().length, 1);
    assert.equal(
      servers.policy!.sessionCount(servers.getPeerIdentity(servers.listSessions()[0])!.ed25519Pub),
      1,
    );
  });

  test("without limits nothing is refused and no address is needed", async () => {
    const { servers, clients, pinned } = await policed({});
    for (let i = 0; i < 3; i++) {
      const hello = await clients.initiateConnection(pinned);
      assert.equal((await servers.acceptConnection(hello.firstMessage)).established, true);
    }
    assert.equal(servers.policy!.rateLimiter, null);
  });
});
