/**
 * HandshakeQueue: XX and IK handshakes exchanged through storage between a client and a server
 * that poll each other's space, the switch to messaging, polling through transient errors,
 * time-outs (8001), index and path checks, and cleanup.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { NoiseErrorCode } from "../lib/errors.ts";
import {
  clientCompleteIk,
  clientCompleteXx,
  clientStartIkDirect,
  clientStartXxTofu,
  serverAcceptIk,
  serverAcceptXx,
  serverCompleteIk,
  serverCompleteXx,
} from "../lib/datalink_adapter.ts";
import { toHex } from "../lib/bytes.ts";
import { HandshakeQueue, MemoryStorage, StorageError } from "../storage.ts";
import { FAST_RETRY, peers, rejectsWith, text, throwsWith, utf8 } from "./_storage_helpers.ts";

const POLL = { pollIntervalMs: 5, retry: FAST_RETRY };

function queues(path: string) {
  const clientStore = new MemoryStorage();
  const serverStore = new MemoryStorage();
  return {
    clientStore,
    serverStore,
    cq: new HandshakeQueue(clientStore, serverStore, path, POLL),
    sq: new HandshakeQueue(serverStore, clientStore, path, POLL),
  };
}

describe("HandshakeQueue", () => {
  test("XX through storage: both sides poll, agree on the session, then message through storage", async () => {
    const { client, server } = await peers();
    const { cq, sq, clientStore, serverStore } = queues("/pub/noise/hs/xx-1");

    const clientSide = (async () => {
      const init = await clientStartXxTofu(client);
      await cq.sendHandshakeMsg(0, init.firstMsg);
      const done = await clientCompleteXx(client, init.hs, await cq.awaitHandshakeMsg(1, 5000));
      await cq.sendHandshakeMsg(2, done.finalMsg);
      return done;
    })();
    const serverSide = (async () => {
      const accepted = await serverAcceptXx(server, await sq.awaitHandshakeMsg(0, 5000));
      await sq.sendHandshakeMsg(1, accepted.response);
      const last = await sq.awaitHandshakeMsg(2, 5000);
      return await serverCompleteXx(server, accepted.hs, last, accepted.serverStaticPk);
    })();
    const [c, s] = await Promise.all([clientSide, serverSide]);
    assert.equal(c.link.sessionId.toString(), s.link.sessionId.toString());
    assert.equal(toHex(c.serverStaticPk), toHex(await server.staticPublicKey()));
    assert.deepEqual(clientStore.paths(), ["/pub/noise/hs/xx-1/msg_0", "/pub/noise/hs/xx-1/msg_2"]);
    assert.deepEqual(serverStore.paths(), ["/pub/noise/hs/xx-1/msg_1"]);

    const cm = cq.completeToMessaging(c.link, "/pub/chat/c", "/pub/chat/s");
    const sm = sq.completeToMessaging(s.link, "/pub/chat/s", "/pub/chat/c");
    assert.deepEqual(cm.retryConfig, FAST_RETRY);
    await cm.sendMessage(utf8("over storage"));
    assert.deepEqual((await sm.receiveMessages()).map(text), ["over storage"]);

    assert.equal(await cq.cleanup(3), 3);
    assert.equal(await sq.cleanup(2), 2);
    assert.deepEqual(clientStore.paths(), ["/pub/chat/c/msg_0"]);
    assert.deepEqual(serverStore.paths(), []);
  });

  test("IK through storage to a pinned key, with the server coming online later", async () => {
    const { client, server } = await peers();
    const { cq, sq } = queues("/pub/noise/hs/ik-1");
    const ik = await clientStartIkDirect(client, await server.staticPublicKey());
    await cq.sendHandshakeMsg(0, ik.firstMsg);
    const waiting = cq.awaitHandshakeMsg(1, 5000);
    await new Promise((r) => setTimeout(r, 30)); // the client polls a few times meanwhile
    const accepted = await serverAcceptIk(server, (await sq.pollHandshakeMsg(0))!);
    assert.equal(
      toHex(accepted.clientIdentity.ed25519Pub),
      toHex(await client.ring.ed25519PublicKey("kid")),
    );
    await sq.sendHandshakeMsg(1, accepted.response);
    const clientLink = await clientCompleteIk(ik.hs, await waiting);
    const serverLink = serverCompleteIk(accepted.hs);
    assert.equal(text(serverLink.decrypt(clientLink.encrypt(utf8("ik")))), "ik");
  });

  test("nothing arrives: Timeout (8001) after the time-out, having polled at the interval", async () => {
    const { cq, serverStore } = queues("/pub/noise/hs/none");
    let polls = 0;
    serverStore.faults = (e) => void (e.phase === "before" && e.op === "get" && polls++);
    const started = Date.now();
    await rejectsWith(
      cq.awaitHandshakeMsg(1, 60),
      NoiseErrorCode.Timeout,
      /Handshake message 1 not received within 60ms/,
    );
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 55 && elapsed < 2000, `elapsed ${elapsed}`);
    assert.ok(polls >= 3, `polled ${polls} times`);
  });

  test("transient read errors are polled through; a refused read fails at once", async () => {
    const { cq, sq, serverStore } = queues("/pub/noise/hs/flaky");
    let failures = 3;
    serverStore.faults = (e) => {
      if (e.op === "get" && e.phase === "before" && failures-- > 0) {
        throw new StorageError("busy", 503);
      }
    };
    await sq.sendHandshakeMsg(1, utf8("response"));
    assert.equal(text(await cq.awaitHandshakeMsg(1, 5000)), "response");
    serverStore.faults = (e) => {
      if (e.op === "get") throw new StorageError("forbidden", 403);
    };
    await rejectsWith(cq.awaitHandshakeMsg(1, 5000), NoiseErrorCode.Storage, /forbidden/);
    serverStore.faults = (e) => {
      if (e.op === "get") throw new StorageError("busy", 503);
    };
    await rejectsWith(cq.awaitHandshakeMsg(1, 30), NoiseErrorCode.Timeout, /last error: .*busy/);
  });

  test("a write that keeps failing gives the last error after the retries", async () => {
    const { cq, clientStore } = queues("/pub/noise/hs/w");
    let puts = 0;
    clientStore.faults = (e) => {
      if (e.op === "put" && e.phase === "before") {
        puts++;
        throw new StorageError("down", 502);
      }
    };
    await rejectsWith(
      cq.sendHandshakeMsg(0, utf8("m")),
      NoiseErrorCode.Storage,
      /after 3 attempts/,
    );
    assert.equal(puts, 3);
  });

  test("bad indexes, paths and options are Storage errors", async () => {
    const store = new MemoryStorage();
    throwsWith(
      () => new HandshakeQueue(store, store, "/pub/hs//x"),
      NoiseErrorCode.Storage,
      /\/\//,
    );
    throwsWith(
      () => new HandshakeQueue(store, store, "/pub/hs", { pollIntervalMs: 0 }),
      NoiseErrorCode.Storage,
      /pollIntervalMs/,
    );
    const q = new HandshakeQueue(store, store, "/pub/hs/", {
      peerPath: `pubky://${"y".repeat(52)}/pub/hs/`,
    });
    assert.equal(q.handshakePath, "/pub/hs");
    assert.equal(q.peerPath, `pubky://${"y".repeat(52)}/pub/hs`);
    await rejectsWith(q.sendHandshakeMsg(256, utf8("m")), NoiseErrorCode.Storage, /0\.\.=255/);
    await rejectsWith(q.pollHandshakeMsg(-1), NoiseErrorCode.Storage, /0\.\.=255/);
    await rejectsWith(q.awaitHandshakeMsg(0, -5), NoiseErrorCode.Storage, /timeoutMs/);
  });
});
