/**
 * `NoiseManager` and `MobileConfig` (`lib/session/noise_manager.ts`,
 * `lib/session/config.ts`): IK and XX step by step, temporary and final ids,
 * status, the crate's `SessionState` JSON with live counters, what the server
 * records about the client, presets and chunk-size clamping.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { NoiseErrorCode } from "../lib/errors.ts";
import { toHex } from "../lib/bytes.ts";
import { SessionId } from "../lib/session_id.ts";
import { NoiseManager } from "../lib/session/noise_manager.ts";
import {
  batterySaverConfig,
  ConnectionStatus,
  defaultConfig,
  MAX_CHUNK_SIZE,
  mobileConfig,
  performanceConfig,
  SessionState,
  storageRetryConfig,
} from "../lib/session/config.ts";
import { StreamingNoiseLink } from "../lib/streams/streaming_link.ts";
import { CLIENT_STATIC_HEX, expectNoiseError, peers } from "./streams_helpers.ts";

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function setup() {
  const p = await peers();
  const clients = NoiseManager.newClient(p.client);
  const servers = NoiseManager.newServer(p.server);
  const pinned = await p.server.staticPublicKey();
  return { ...p, clients, servers, pinned };
}

async function ik(s: Awaited<ReturnType<typeof setup>>) {
  const hello = await s.clients.initiateConnection(s.pinned, "server.example");
  const accepted = await s.servers.acceptConnection(hello.firstMessage, { address: "192.0.2.7" });
  const done = await s.clients.completeConnection(hello.sessionId, accepted.response);
  return { hello, accepted, done, id: done.sessionId };
}

describe("NoiseManager, IK", () => {
  test("three steps give one session id on both sides; the temporary id is not it", async () => {
    const s = await setup();
    const { hello, accepted, done } = await ik(s);
    assert.equal(accepted.pattern, "IK");
    assert.equal(accepted.established, true);
    assert.equal(accepted.response.length, 48);
    assert.ok(done.sessionId.equals(accepted.sessionId));
    assert.equal(hello.sessionId.equals(done.sessionId), false);
    assert.equal(done.finalMessage, null);
    assert.equal(done.serverIdentity, null);
    assert.deepEqual(done.serverStaticPk, s.pinned);
    assert.equal(s.clients.pendingCount, 0);
    assert.deepEqual(s.clients.listSessions().map(String), [done.sessionId.toString()]);
    assert.deepEqual(s.servers.listSessions().map(String), [done.sessionId.toString()]);
    assert.equal(s.clients.getStatus(done.sessionId), ConnectionStatus.Connected);
    assert.equal(s.servers.getStatus(done.sessionId), "Connected");
  });

  test("the server records the client's static key and verified identity, not zeros", async () => {
    const s = await setup();
    const { id } = await ik(s);
    assert.equal(toHex(s.servers.getPeerStaticKey(id)!), CLIENT_STATIC_HEX);
    const identity = s.servers.getPeerIdentity(id)!;
    assert.deepEqual(identity.ed25519Pub, await s.clientRing.ed25519PublicKey("kid"));
    assert.equal(identity.role, "Client");
    assert.equal(identity.serverHint, "server.example");
    assert.deepEqual(s.clients.getPeerStaticKey(id), s.pinned);
    assert.equal(s.clients.getPeerIdentity(id), null);
  });

  test("saveState is the crate's serde JSON, with the live counters", async () => {
    const s = await setup();
    const { id } = await ik(s);
    for (let i = 0; i < 3; i++) await s.servers.decrypt(id, await s.clients.encrypt(id, utf8("m")));
    await s.clients.decrypt(id, await s.servers.encrypt(id, utf8("r")));
    const json = JSON.stringify(s.servers.saveState(id));
    const bytes = (b: Uint8Array) => `[${Array.from(b).join(",")}]`;
    assert.equal(
      json,
      `{"session_id":${bytes(id.toBytes())},"peer_static_pk":${
        bytes(s.servers.getPeerStaticKey(id)!)
      },"write_counter":1,"read_counter":3,"status":"Connected"}`,
    );
    const clientState = s.clients.saveState(id);
    assert.equal(clientState.writeCounter, 3);
    assert.equal(clientState.readCounter, 1);
    const back = SessionState.fromJSON(json);
    assert.ok(back.sessionId.equals(id));
    assert.equal(back.readCounter, 3);
    await expectNoiseError(
      () => s.servers.saveState(new SessionId(new Uint8Array(32))),
      NoiseErrorCode.Other,
      "other: Session not found",
    );
  });

  test("status per session: set, read, removed with the session", async () => {
    const s = await setup();
    const { id } = await ik(s);
    for (const status of ["Reconnecting", "Disconnected", "Error", "Connected"] as const) {
      s.clients.setStatus(id, status);
      assert.equal(s.clients.getStatus(id), status);
      assert.equal(s.clients.saveState(id).status, status);
    }
    assert.throws(() => s.clients.setStatus(id, "Sleeping" as never), {
      code: NoiseErrorCode.Other,
    });
    const unknown = new SessionId(new Uint8Array(32).fill(3));
    s.clients.setStatus(unknown, "Error"); // no-op, as in the crate
    assert.equal(s.clients.getStatus(unknown), undefined);
    const link = s.clients.removeSession(id)!;
    assert.ok(link.sessionId.equals(id));
    assert.equal(s.clients.getStatus(id), undefined);
    assert.deepEqual(s.clients.listSessions(), []);
    await expectNoiseError(s.clients.encrypt(id, utf8("x")), NoiseErrorCode.Other);
  });

  test("a failed completion drops the pending handshake; unknown temporary ids are refused", async () => {
    const s = await setup();
    const hello = await s.clients.initiateConnection(s.pinned);
    const accepted = await s.servers.acceptConnection(hello.firstMessage, { address: "192.0.2.7" });
    const bad = accepted.response.slice();
    bad[40] ^= 1;
    await expectNoiseError(s.clients.completeConnection(hello.sessionId, bad), NoiseErrorCode.Snow);
    await expectNoiseError(
      s.clients.completeConnection(hello.sessionId, accepted.response),
      NoiseErrorCode.Other,
      "other: No pending handshake found",
    );
    assert.equal(s.clients.pendingCount, 0);
    assert.deepEqual(s.clients.listSessions(), []);
  });

  test("roles are checked: Not in client mode / Not in server mode", async () => {
    const s = await setup();
    await expectNoiseError(
      s.servers.initiateConnection(s.pinned),
      NoiseErrorCode.Other,
      "other: Not in client mode",
    );
    await expectNoiseError(
      s.clients.acceptConnection(new Uint8Array(32)),
      NoiseErrorCode.Other,
      "other: Not in server mode",
    );
    await expectNoiseError(
      s.clients.initiateConnection(new Uint8Array(31)),
      NoiseErrorCode.InvalidPeerKey,
    );
  });

  test("a server refuses a pattern it does not accept (Policy) and garbage (Snow), keeping nothing", async () => {
    const s = await setup();
    const ikOnly = NoiseManager.newServer(s.server, { patterns: ["IK"] });
    const xx = await s.clients.initiateXxConnection();
    await expectNoiseError(ikOnly.acceptConnection(xx.firstMessage), NoiseErrorCode.Policy);
    await expectNoiseError(
      s.servers.acceptConnection(crypto.getRandomValues(new Uint8Array(120))),
      NoiseErrorCode.Snow,
    );
    assert.equal(s.servers.pendingCount, 0);
    assert.deepEqual(s.servers.listSessions(), []);
  });
});

describe("NoiseManager, XX for first contact", () => {
  test("XX establishes a session, the client pins the server's key, then IK works", async () => {
    const s = await setup();
    const hello = await s.clients.initiateXxConnection("first.example");
    assert.equal(hello.firstMessage.length, 32);
    const step = await s.servers.acceptConnection(hello.firstMessage, { address: "2001:db8::1" });
    assert.equal(step.pattern, "XX");
    assert.equal(step.established, false);
    assert.equal(s.servers.pendingCount, 1);
    const done = await s.clients.completeConnection(hello.sessionId, step.response);
    assert.equal(done.pattern, "XX");
    assert.ok(done.finalMessage instanceof Uint8Array);
    assert.deepEqual(done.serverStaticPk, s.pinned);
    assert.deepEqual(done.serverIdentity?.ed25519Pub, await s.serverRing.ed25519PublicKey("kid"));
    const serverId = await s.servers.completeAcceptConnection(step.sessionId, done.finalMessage!);
    assert.ok(serverId.equals(done.sessionId));
    assert.equal(step.sessionId.equals(serverId), false);
    assert.equal(toHex(s.servers.getPeerStaticKey(serverId)!), CLIENT_STATIC_HEX);
    assert.equal(s.servers.getPeerIdentity(serverId)?.serverHint, "first.example");
    assert.equal(
      text(await s.servers.decrypt(serverId, await s.clients.encrypt(serverId, utf8("hi")))),
      "hi",
    );
    // Next time: IK to the pinned key.
    const again = await s.clients.initiateConnection(done.serverStaticPk);
    const accepted = await s.servers.acceptConnection(again.firstMessage, {
      address: "2001:db8::1",
    });
    const ikDone = await s.clients.completeConnection(again.sessionId, accepted.response);
    assert.equal(s.clients.listSessions().length, 2);
    assert.ok(ikDone.sessionId.equals(accepted.sessionId));
  });

  test("a tampered message 3 is refused and the pending handshake is gone", async () => {
    const s = await setup();
    const hello = await s.clients.initiateXxConnection();
    const step = await s.servers.acceptConnection(hello.firstMessage);
    const done = await s.clients.completeConnection(hello.sessionId, step.response);
    const bad = done.finalMessage!.slice();
    bad[10] ^= 1;
    await expectNoiseError(
      s.servers.completeAcceptConnection(step.sessionId, bad),
      NoiseErrorCode.Snow,
    );
    await expectNoiseError(
      s.servers.completeAcceptConnection(step.sessionId, done.finalMessage!),
      NoiseErrorCode.Other,
      "other: No pending handshake found",
    );
    assert.deepEqual(s.servers.listSessions(), []);
  });

  test("pending handshakes are bounded: the oldest is dropped beyond maxPendingHandshakes", async () => {
    const s = await setup();
    const servers = NoiseManager.newServer(s.server, { maxPendingHandshakes: 2 });
    const temps = [];
    for (let i = 0; i < 3; i++) {
      const hello = await s.clients.initiateXxConnection();
      temps.push({ hello, step: await servers.acceptConnection(hello.firstMessage) });
    }
    assert.equal(servers.pendingCount, 2);
    assert.deepEqual(temps.map((t) => servers.hasPending(t.step.sessionId)), [false, true, true]);
    const first = temps[0];
    const done = await s.clients.completeConnection(first.hello.sessionId, first.step.response);
    await expectNoiseError(
      servers.completeAcceptConnection(first.step.sessionId, done.finalMessage!),
      NoiseErrorCode.Other,
      "other: No pending handshake found",
    );
    assert.equal(servers.cancelPending(temps[1].step.sessionId), true);
    assert.equal(servers.hasPending(temps[1].step.sessionId), false);
    assert.equal(servers.cancelPending(temps[1].step.sessionId), false);
    assert.equal(servers.pendingCount, 1);
    const last = temps[2];
    const lastDone = await s.clients.completeConnection(last.hello.sessionId, last.step.response);
    await servers.completeAcceptConnection(last.step.sessionId, lastDone.finalMessage!);
    assert.equal(servers.hasPending(last.step.sessionId), false, "completed: no longer pending");
    assert.equal(s.clients.hasPending(last.hello.sessionId), false);
  });
});

describe("NoiseManager, data", () => {
  test("encryptChunks cuts at the config's chunk size, as the crate's StreamingNoiseLink reads", async () => {
    const s = await setup();
    const clients = NoiseManager.newClient(s.client, { config: batterySaverConfig() });
    const hello = await clients.initiateConnection(s.pinned);
    const accepted = await s.servers.acceptConnection(hello.firstMessage, { address: "192.0.2.9" });
    const { sessionId: id } = await clients.completeConnection(hello.sessionId, accepted.response);
    const data = crypto.getRandomValues(new Uint8Array(40000));
    const chunks = await clients.encryptChunks(id, data);
    assert.deepEqual(chunks.map((c) => c.length), [16384 + 16, 16384 + 16, 7232 + 16]);
    const reader = new StreamingNoiseLink(s.servers.getSession(id)!, 16384);
    assert.deepEqual(reader.decryptStreaming(chunks), data);
    assert.deepEqual(await clients.encryptChunks(id, new Uint8Array(0)), []);
  });

  test("restoreState keeps metadata only: status and peer key, no keys to encrypt with", async () => {
    const s = await setup();
    const { id } = await ik(s);
    const state = s.clients.saveState(id);
    s.clients.removeSession(id)?.destroy();
    const fresh = NoiseManager.newClient(s.client);
    fresh.restoreState(SessionState.fromJSON(JSON.stringify(state)));
    assert.equal(fresh.getStatus(id), "Connected");
    assert.deepEqual(fresh.saveState(id).peerStaticPk, s.pinned);
    assert.deepEqual(fresh.listSessions(), []);
    await expectNoiseError(
      fresh.encrypt(id, utf8("x")),
      NoiseErrorCode.Other,
      "other: Session not found",
    );
    fresh.setStatus(id, "Disconnected");
    assert.equal(fresh.getStatus(id), "Disconnected");
    // On a held session, restoreState only takes the status.
    const live = await ik(s);
    const old = s.clients.saveState(live.id);
    await s.clients.encrypt(live.id, utf8("x"));
    s.clients.restoreState(new SessionState(old.sessionId, old.peerStaticPk, 0, 0, "Reconnecting"));
    assert.equal(s.clients.getStatus(live.id), "Reconnecting");
    assert.equal(s.clients.saveState(live.id).writeCounter, 1);
  });

  test("destroy wipes every session and pending handshake", async () => {
    const s = await setup();
    const { id } = await ik(s);
    const link = s.clients.getSession(id)!;
    await s.clients.initiateXxConnection();
    s.clients.destroy();
    assert.deepEqual(s.clients.listSessions(), []);
    assert.equal(s.clients.pendingCount, 0);
    // The keys are gone (nothing left to snapshot), and the manager refuses the id.
    assert.throws(() => link.transport.exportSecretsForSnapshot(), { code: NoiseErrorCode.Other });
    await expectNoiseError(s.clients.encrypt(id, utf8("x")), NoiseErrorCode.Other);
    assert.equal(String(s.servers), "NoiseManager(server, 1 sessions)");
  });
});

describe("MobileConfig", () => {
  test("the three presets are the crate's numbers, with 65536 clamped to 65519", () => {
    assert.deepEqual(defaultConfig(), {
      autoReconnect: true,
      maxReconnectAttempts: 5,
      reconnectDelayMs: 1000,
      batterySaver: false,
      chunkSize: 32768,
    });
    assert.deepEqual(batterySaverConfig(), {
      autoReconnect: false,
      maxReconnectAttempts: 2,
      reconnectDelayMs: 2000,
      batterySaver: true,
      chunkSize: 16384,
    });
    assert.deepEqual(performanceConfig(), {
      autoReconnect: true,
      maxReconnectAttempts: 10,
      reconnectDelayMs: 100,
      batterySaver: false,
      chunkSize: 65519,
    });
    assert.equal(MAX_CHUNK_SIZE, 65519);
  });

  test("mobileConfig clamps chunk sizes to what Noise allows and refuses nonsense", () => {
    assert.equal(mobileConfig({ chunkSize: 65536 }).chunkSize, 65519);
    assert.equal(mobileConfig({ chunkSize: 1 }).chunkSize, 1);
    assert.deepEqual(mobileConfig(), defaultConfig());
    for (
      const bad of [
        { chunkSize: 0 },
        { chunkSize: 1.5 },
        { maxReconnectAttempts: -1 },
        { reconnectDelayMs: Number.NaN },
        { autoReconnect: "yes" as unknown as boolean },
      ]
    ) {
      assert.throws(() => mobileConfig(bad), { code: NoiseErrorCode.Other });
    }
  });

  test("NoiseManager keeps a checked copy of its config; storage retries follow battery saver", async () => {
    const { client } = await peers();
    const m = NoiseManager.newClient(client, { config: { chunkSize: 70000 } });
    assert.equal(m.config.chunkSize, 65519);
    m.setConfig(batterySaverConfig());
    assert.equal(m.config.autoReconnect, false);
    assert.throws(() => m.setConfig({ chunkSize: 0 }), { code: NoiseErrorCode.Other });
    assert.deepEqual(storageRetryConfig(batterySaverConfig()), {
      maxRetries: 2,
      initialBackoffMs: 200,
      maxBackoffMs: 3000,
      operationTimeoutMs: 30000,
    });
    assert.equal(storageRetryConfig(defaultConfig()).maxRetries, 3);
    assert.equal(storageRetryConfig(defaultConfig()).maxBackoffMs, 5000);
  });
});

describe("SessionState", () => {
  test("fromJSON refuses shapes serde would refuse, with Serde", () => {
    const good = {
      session_id: Array(32).fill(1),
      peer_static_pk: Array(32).fill(2),
      write_counter: 5,
      read_counter: 6,
      status: "Error",
      extra: "ignored",
    };
    const parsed = SessionState.fromJSON(good);
    assert.equal(parsed.status, "Error");
    assert.equal(parsed.writeCounter, 5);
    const bads: unknown[] = [
      "not json",
      "[]",
      { ...good, session_id: Array(31).fill(1) },
      { ...good, peer_static_pk: Array(32).fill(256) },
      { ...good, write_counter: -1 },
      { ...good, read_counter: 2 ** 53 },
      { ...good, status: "connected" },
      (({ status: _, ...rest }) => rest)(good),
    ];
    for (const bad of bads) {
      assert.throws(() => SessionState.fromJSON(bad), { code: NoiseErrorCode.Serde }, String(bad));
    }
    assert.throws(() => SessionState.fromJSON(JSON.stringify({ ...good, status: 1 })), {
      code: NoiseErrorCode.Serde,
      message: 'serialization error: status: unknown variant "1"',
    });
  });
});
