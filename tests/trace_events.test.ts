/**
 * Trace logging: which events the data-link adapter, the links and the streams
 * handshake emit, with which sizes, ids and codes; that no key, seed, shared
 * secret or plaintext ever reaches the logger, on success and on every error;
 * that a logger cannot break a session; and that without a logger nothing is
 * traced at all.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { NoiseError, NoiseErrorCode } from "../lib/errors.ts";
import { loadCryptoSuite } from "../lib/crypto/suite.ts";
import { DummyRing } from "../lib/ring.ts";
import { NoiseClient } from "../lib/client.ts";
import { NoiseServer } from "../lib/server.ts";
import type { NoiseLink } from "../lib/link.ts";
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
} from "../lib/datalink_adapter.ts";
import { memoryCarrierPair } from "../lib/streams/carrier.ts";
import { accept, connect } from "../lib/streams/handshake.ts";
import {
  consoleTraceLogger,
  HandshakeTracer,
  jsonLinesTraceLogger,
  recordTrace,
  type TraceEvent,
} from "../lib/trace.ts";
import {
  clientStaticFromRing,
  craftPayload,
  flipBit,
  KAT_SERVER,
  makeServer,
  ORDER8_POINT,
  rawIkMsg1,
  ring,
  SERVER_DEVICE,
  utf8,
} from "./_pubky_fixtures.ts";
import { findLeaks, SecretRecorder } from "./hygiene_recorder.ts";
import { fromHex } from "../lib/bytes.ts";

const ALLOWED_KEYS = new Set([
  "event",
  "role",
  "pattern",
  "sessionId",
  "direction",
  "index",
  "bytes",
  "nonce",
  "operation",
  "code",
  "codeName",
  "message",
]);

/** Every event is flat: known keys, and only strings and numbers as values. */
function assertPlain(events: readonly TraceEvent[]): void {
  for (const e of events) {
    for (const [k, v] of Object.entries(e)) {
      assert.ok(ALLOWED_KEYS.has(k), `unexpected key ${k}`);
      assert.ok(typeof v === "string" || typeof v === "number", `${k} is ${typeof v}`);
    }
  }
}

/** The events of `role`, each as `event direction index bytes` (the stable part). */
function steps(events: readonly TraceEvent[], role: "client" | "server"): string[] {
  return events.filter((e) => e.role === role).map((e) =>
    [e.event, e.pattern, e.direction, e.index, e.bytes, e.nonce, e.code]
      .filter((x) => x !== undefined).join(" ")
  );
}

async function peers(seed = 1) {
  const log = recordTrace(10_000);
  const client = new NoiseClient(
    "kid",
    "client-device-000001",
    await DummyRing.create(new Uint8Array(32).fill(seed), "kid"),
    { trace: log.logger },
  );
  const server = new NoiseServer(
    "kid",
    "server-device-000001",
    await DummyRing.create(new Uint8Array(32).fill(seed + 1), "kid"),
    { trace: log.logger },
  );
  return { log, client, server };
}

async function expectCode(
  p: Promise<unknown> | (() => unknown),
  code: number,
): Promise<NoiseError> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    assert.ok(e instanceof NoiseError, `expected NoiseError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected NoiseError ${code}, but it succeeded`);
}

describe("handshake and transport events", () => {
  test("XX: start, every message with its size, completion with the session id, then transport", async () => {
    const { log, client, server } = await peers();
    const c1 = await clientStartXxTofu(client);
    const s1 = await serverAcceptXx(server, c1.firstMsg);
    const c2 = await clientCompleteXx(client, c1.hs, s1.response);
    const s2 = await serverCompleteXx(server, s1.hs, c2.finalMsg, s1.serverStaticPk);
    const ct = c2.link.encrypt(utf8("hello"));
    s2.link.decrypt(ct);
    s2.link.decrypt(c2.link.encrypt(new Uint8Array(100)));
    c2.link.destroy();
    const [m2, m3] = [s1.response.length, c2.finalMsg.length];
    assert.deepEqual(steps(log.events, "client"), [
      "handshake.start XX",
      "handshake.message XX sent 0 32",
      `handshake.message XX received 1 ${m2}`,
      `handshake.message XX sent 2 ${m3}`,
      "handshake.complete XX",
      "transport.encrypt XX 21 0",
      "transport.encrypt XX 116 1",
      "transport.close XX",
    ]);
    assert.deepEqual(steps(log.events, "server"), [
      "handshake.start XX",
      "handshake.message XX received 0 32",
      `handshake.message XX sent 1 ${m2}`,
      `handshake.message XX received 2 ${m3}`,
      "handshake.complete XX",
      "transport.decrypt XX 21 0",
      "transport.decrypt XX 116 1",
    ]);
    const id = c2.link.sessionId.toString();
    const withId = log.events.filter((e) => e.sessionId !== undefined);
    assert.equal(withId.length, 7);
    for (const e of withId) assert.equal(e.sessionId, id);
    assertPlain(log.events);
  });

  test("IK and NN: the same shape, with their message sizes", async () => {
    const { log, client, server } = await peers(5);
    const pinned = await server.staticPublicKey();
    const ik = await clientStartIkDirect(client, pinned);
    const accepted = await serverAcceptIk(server, ik.firstMsg);
    const link = await clientCompleteIk(ik.hs, accepted.response);
    serverCompleteIk(accepted.hs);
    assert.deepEqual(steps(log.events, "client"), [
      "handshake.start IK",
      `handshake.message IK sent 0 ${ik.firstMsg.length}`,
      "handshake.message IK received 1 48",
      "handshake.complete IK",
    ]);
    assert.deepEqual(steps(log.events, "server"), [
      "handshake.start IK",
      `handshake.message IK received 0 ${ik.firstMsg.length}`,
      "handshake.message IK sent 1 48",
      "handshake.complete IK",
    ]);
    assert.equal(log.events.at(-1)!.sessionId, link.sessionId.toString());

    const nn = await peers(7);
    const n1 = await clientStartNn(nn.client);
    const n2 = await serverAcceptNn(nn.server, n1.firstMsg);
    await clientCompleteNn(nn.client, n1.hs, n2.response);
    serverCompleteNn(n2.hs);
    assert.deepEqual(steps(nn.log.events, "client"), [
      "handshake.start NN",
      "handshake.message NN sent 0 32",
      "handshake.message NN received 1 48",
      "handshake.complete NN",
    ]);
    assert.deepEqual(steps(nn.log.events, "server"), [
      "handshake.start NN",
      "handshake.message NN received 0 32",
      "handshake.message NN sent 1 48",
      "handshake.complete NN",
    ]);
  });

  test("transport errors name the operation, nonce, size and code; the nonce does not move", async () => {
    const { log, client, server } = await peers();
    const c1 = await clientStartNn(client);
    const s1 = await serverAcceptNn(server, c1.firstMsg);
    const a = await clientCompleteNn(client, c1.hs, s1.response);
    const b = serverCompleteNn(s1.hs);
    const ct = a.encrypt(utf8("x"));
    await expectCode(() => b.decrypt(flipBit(ct, 0)), 3000);
    b.decrypt(ct);
    await expectCode(() => a.encrypt(new Uint8Array(65520)), 3000);
    const errors = log.events.filter((e) => e.event === "transport.error");
    assert.deepEqual(errors.map((e) => ({ ...e, sessionId: undefined })), [
      {
        event: "transport.error",
        role: "server",
        pattern: "NN",
        sessionId: undefined,
        nonce: 0,
        bytes: 17,
        operation: "decrypt",
        code: 3000,
        codeName: "Snow",
        message: "snow error: decrypt error",
      },
      {
        event: "transport.error",
        role: "client",
        pattern: "NN",
        sessionId: undefined,
        nonce: 1,
        bytes: 65520,
        operation: "encrypt",
        code: 3000,
        codeName: "Snow",
        message: "snow error: input error",
      },
    ]);
  });
});

describe("asynchronous transport events", () => {
  test("encryptAsync and decryptAsync trace each message with the nonce it took; opens in call order", async () => {
    const { log, client, server } = await peers();
    const c1 = await clientStartNn(client);
    const s1 = await serverAcceptNn(server, c1.firstMsg);
    const a = await clientCompleteNn(client, c1.hs, s1.response);
    const b = serverCompleteNn(s1.hs);
    const sealed = await Promise.all([
      a.encryptAsync(new Uint8Array(70_000 - 65536)), // 4464 bytes
      a.encryptAsync(new Uint8Array(20_000)),
      a.encryptAsync(new Uint8Array(3)),
    ]);
    const forged = flipBit(sealed[1], 7);
    const results = await Promise.allSettled([
      b.decryptAsync(sealed[0]),
      b.decryptAsync(forged),
      b.decryptAsync(sealed[1]),
      b.decryptAsync(sealed[2]),
    ]);
    assert.deepEqual(results.map((r) => r.status), [
      "fulfilled",
      "rejected",
      "fulfilled",
      "fulfilled",
    ]);
    // Each event comes when its call completes: overlapping seals may finish out of call order
    // (on Bun a large one waits for WebCrypto), but every event carries the nonce it took.
    const sealedEvents = log.events.filter((e) =>
      e.role === "client" && e.event.startsWith("transport")
    );
    assert.deepEqual(steps(sealedEvents.sort((x, y) => x.nonce! - y.nonce!), "client"), [
      "transport.encrypt NN 4480 0",
      "transport.encrypt NN 20016 1",
      "transport.encrypt NN 19 2",
    ]);
    const opened = log.events.filter((e) => e.role === "server" && e.event.startsWith("transport"));
    assert.deepEqual(opened.map((e) => [e.event, e.nonce, e.bytes]), [
      ["transport.decrypt", 0, 4480],
      ["transport.error", 1, 20016],
      ["transport.decrypt", 1, 20016],
      ["transport.decrypt", 2, 19],
    ]);
    assertPlain(log.events);
  });
});

describe("handshake errors", () => {
  test("each failing step reports its code and message once", async () => {
    const log = recordTrace();
    const server = await makeServer({ trace: log.logger, clock: () => 2_000_000_000 });
    const client = new NoiseClient("kid", "client-device-000001", await ring(1), {
      trace: log.logger,
      nowUnix: 1_000,
    });
    const serverStatic = fromHex(KAT_SERVER.x25519_pk);

    // Tampered IK message 1: Snow, on the server.
    const ik = await clientStartIkDirect(client, serverStatic);
    await expectCode(serverAcceptIk(server, flipBit(ik.firstMsg, 40)), 3000);
    // Expired hint: SessionExpired.
    await expectCode(serverAcceptIk(server, ik.firstMsg), 6003);
    // Too big: Policy.
    await expectCode(serverAcceptXx(server, new Uint8Array(65537)), 6000);
    // Low-order pinned key: InvalidPeerKey, on the client.
    await expectCode(clientStartIkDirect(client, ORDER8_POINT), 7000);
    // Bad signature: IdentityVerify.
    const s = await clientStaticFromRing();
    const forged = await craftPayload({
      signer: await ring(1),
      role: "Client",
      local: s.publicKey,
      remote: serverStatic,
      sig: new Uint8Array(64),
    });
    await expectCode(serverAcceptIk(server, await rawIkMsg1(forged, s)), 5000);

    const errors = log.events.filter((e) => e.event === "handshake.error");
    assert.deepEqual(errors.map((e) => [e.role, e.pattern, e.code, e.codeName]), [
      ["server", "IK", 3000, "Snow"],
      ["server", "IK", 6003, "SessionExpired"],
      ["server", "XX", 6000, "Policy"],
      ["client", "IK", 7000, "InvalidPeerKey"],
      ["server", "IK", 5000, "IdentityVerify"],
    ]);
    assert.equal(errors[0].message, "snow error: decrypt error");
    assert.equal(
      errors[2].message,
      "policy violation: Handshake message too large: 65537 bytes (max 65536)",
    );
    assert.equal(errors[3].message, "invalid peer static or shared secret");
    assertPlain(log.events);
  });

  test("a Serde error is reported without its detail, which quotes the peer's payload", async () => {
    const log = recordTrace();
    const server = await makeServer({ trace: log.logger });
    const marker = "Kingpin-7731";
    const payload = utf8(`{"ed25519_pub":[${new Array(32).fill(1)}],"role":"${marker}"}`);
    const e = await expectCode(serverAcceptIk(server, await rawIkMsg1(payload)), 4000);
    assert.ok(e.message.includes(marker), "the error itself keeps serde's detail");
    const [event] = log.events.filter((x) => x.event === "handshake.error");
    assert.equal(event.code, 4000);
    assert.equal(event.message, "serialization error");
    assert.ok(!JSON.stringify(log.events).includes(marker));
  });

  test("streams: refused patterns, timeouts and failed steps are traced once each", async () => {
    const { log, client, server } = await peers();
    const [a, b] = memoryCarrierPair();
    const [c, s] = await Promise.allSettled([
      connect(a, client, { pattern: "XX" }),
      accept(b, server, { patterns: ["IK"] }),
    ]);
    assert.equal(c.status, "rejected");
    assert.equal(s.status, "rejected");
    const [x] = memoryCarrierPair();
    await expectCode(accept(x, server, { timeoutMs: 30 }), NoiseErrorCode.Timeout);
    // A step of the adapter fails inside accept: reported by the adapter, not again by accept.
    const [p, q] = memoryCarrierPair();
    const wrongPin = new Uint8Array(32).fill(9);
    await Promise.allSettled([
      connect(p, client, { pattern: "IK", serverStaticPub: wrongPin }),
      accept(q, server),
    ]);
    const errors = log.events.filter((e) => e.event === "handshake.error");
    assert.deepEqual(errors.map((e) => [e.role, e.pattern, e.code]), [
      ["server", undefined, 6000],
      ["client", "XX", 8002],
      ["server", undefined, 8001],
      ["server", "IK", 3000],
      ["client", "IK", 8002],
    ]);
  });

  test("streams: a good session traces the adapter's events once, on both sides", async () => {
    const { log, client, server } = await peers();
    const [a, b] = memoryCarrierPair();
    const [c, s] = await Promise.all([connect(a, client, { pattern: "XX" }), accept(b, server)]);
    const w = c.writable.getWriter();
    await w.write(utf8("over streams"));
    await s.readable.getReader().read();
    assert.deepEqual(
      steps(log.events, "client").slice(0, 5).map((x) => x.split(" ").slice(0, 3).join(" ")),
      [
        "handshake.start XX",
        "handshake.message XX sent",
        "handshake.message XX received",
        "handshake.message XX sent",
        "handshake.complete XX",
      ],
    );
    assert.ok(steps(log.events, "client").includes("transport.encrypt XX 28 0"));
    assert.ok(steps(log.events, "server").includes("transport.decrypt XX 28 0"));
    await w.close();
  });
});

describe("nothing secret reaches the logger", () => {
  test("on success and on every error path, events hold no key, seed, shared secret or plaintext", async () => {
    const recorder = new SecretRecorder();
    const log = recordTrace(10_000);
    const plaintexts = [
      utf8("the plaintext must never be logged, not even once"),
      new Uint8Array(64).fill(0x5e),
    ];
    recorder.install();
    try {
      const suite = recorder.suite(await loadCryptoSuite());
      const seeds = [new Uint8Array(32).fill(0x11), new Uint8Array(32).fill(0x22)];
      for (const s of seeds) recorder.track(s, "seed");
      for (const p of plaintexts) recorder.track(p, "plaintext");
      const client = new NoiseClient(
        "kid",
        "client-device-000001",
        recorder.ring(await DummyRing.create(seeds[0], "kid")),
        { suite, trace: log.logger },
      );
      const server = new NoiseServer(
        "kid",
        "server-device-000001",
        recorder.ring(await DummyRing.create(seeds[1], "kid")),
        { suite, trace: log.logger },
      );
      const links: NoiseLink[] = [];
      const c1 = await clientStartXxTofu(client, "a hint");
      const s1 = await serverAcceptXx(server, c1.firstMsg);
      await expectCode(clientCompleteXx(client, c1.hs, flipBit(s1.response, 50)), 3000);
      const c2 = await clientCompleteXx(client, c1.hs, s1.response);
      await expectCode(
        serverCompleteXx(server, s1.hs, flipBit(c2.finalMsg, 70), s1.serverStaticPk),
        3000,
      );
      const s2 = await serverCompleteXx(server, s1.hs, c2.finalMsg, s1.serverStaticPk);
      links.push(c2.link, s2.link);
      const ik = await clientStartIkDirect(client, c2.serverStaticPk);
      await expectCode(serverAcceptIk(server, flipBit(ik.firstMsg, 90)), 3000);
      const accepted = await serverAcceptIk(server, ik.firstMsg);
      links.push(await clientCompleteIk(ik.hs, accepted.response), serverCompleteIk(accepted.hs));
      await expectCode(clientStartIkDirect(client, ORDER8_POINT), 7000);
      await expectCode(serverAcceptNn(server, new Uint8Array(5)), 3000);
      for (const [a, b] of [[links[0], links[1]], [links[2], links[3]]]) {
        for (const p of plaintexts) {
          assert.deepEqual(b.decrypt(a.encrypt(p)), p);
          await expectCode(() => a.decrypt(flipBit(b.encrypt(p), 7)), 3000);
        }
        a.transport.rekeySend();
        b.transport.rekeyReceive();
        assert.deepEqual(b.decrypt(a.encrypt(plaintexts[0])), plaintexts[0]);
      }
      const [x, y] = memoryCarrierPair();
      const [cc, sc] = await Promise.all([
        connect(x, client, { pattern: "IK", serverStaticPub: c2.serverStaticPk }),
        accept(y, server),
      ]);
      const w = cc.writable.getWriter();
      await w.write(plaintexts[0]);
      await sc.readable.getReader().read();
      await w.close();
      for (const link of links) link.destroy();
    } finally {
      recorder.uninstall();
    }
    const kinds = new Set(log.events.map((e) => e.event));
    for (
      const kind of [
        "handshake.start",
        "handshake.message",
        "handshake.complete",
        "handshake.error",
        "transport.encrypt",
        "transport.decrypt",
        "transport.error",
        "transport.close",
      ]
    ) assert.ok(kinds.has(kind as TraceEvent["event"]), `no ${kind} event`);
    assert.ok(recorder.labels.has("DH output") && recorder.labels.has("HKDF output"));
    assertPlain(log.events);
    assert.deepEqual(findLeaks({ events: log.events }, recorder.values), []);
  });
});

describe("loggers", () => {
  test("a logger that throws changes nothing: the session still works", async () => {
    let calls = 0;
    const trace = () => {
      calls++;
      throw new Error("logger down");
    };
    const client = new NoiseClient("kid", "client-device-000001", await ring(1), { trace });
    const server = new NoiseServer("kid", SERVER_DEVICE, await ring(2), { trace });
    const c1 = await clientStartXxTofu(client);
    const s1 = await serverAcceptXx(server, c1.firstMsg);
    const c2 = await clientCompleteXx(client, c1.hs, s1.response);
    const s2 = await serverCompleteXx(server, s1.hs, c2.finalMsg, s1.serverStaticPk);
    assert.deepEqual(s2.link.decrypt(c2.link.encrypt(utf8("ok"))), utf8("ok"));
    await expectCode(() => s2.link.decrypt(new Uint8Array(20)), 3000);
    assert.equal(calls, 13);
  });

  test("without a logger no tracer is made or attached", async () => {
    const client = new NoiseClient("kid", "client-device-000001", await ring(1));
    const server = new NoiseServer("kid", SERVER_DEVICE, await ring(2));
    assert.equal(client.trace, undefined);
    const c1 = await clientStartXxTofu(client);
    const s1 = await serverAcceptXx(server, c1.firstMsg);
    assert.equal(HandshakeTracer.of(c1.hs), undefined);
    assert.equal(HandshakeTracer.of(s1.hs), undefined);
    const traced = await peers();
    const t1 = await clientStartXxTofu(traced.client);
    assert.ok(HandshakeTracer.of(t1.hs) instanceof HandshakeTracer);
  });

  test("recordTrace keeps the last events; jsonLines writes JSON; console prints with a prefix", () => {
    const rec = recordTrace(2);
    for (const index of [0, 1, 2]) {
      rec.logger({ event: "handshake.message", role: "client", pattern: "XX", index });
    }
    assert.deepEqual(rec.events.map((e) => e.index), [1, 2]);
    assert.throws(() => recordTrace(0), (e) => e instanceof NoiseError && e.code === 99999);

    const lines: string[] = [];
    jsonLinesTraceLogger((l) => lines.push(l))({ event: "transport.close", role: "server" });
    assert.deepEqual(lines, ['{"event":"transport.close","role":"server"}']);

    const printed: unknown[][] = [];
    const original = console.debug;
    console.debug = (...args: unknown[]) => void printed.push(args);
    try {
      consoleTraceLogger("[app]")({ event: "handshake.start", role: "client", pattern: "NN" });
    } finally {
      console.debug = original;
    }
    assert.deepEqual(printed, [[
      "[app]",
      '{"event":"handshake.start","role":"client","pattern":"NN"}',
    ]]);
  });
});
