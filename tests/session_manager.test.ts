/**
 * The session managers (`lib/session/session_manager.ts`): the plain map, and the
 * thread-safe one whose per-session locks keep nonce order under 1,000 concurrent
 * async tasks.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { NoiseErrorCode } from "../lib/errors.ts";
import { SessionId } from "../lib/session_id.ts";
import { NoiseSessionManager, ThreadSafeSessionManager } from "../lib/session/session_manager.ts";
import { SerialQueue } from "../lib/session/serial_queue.ts";
import { expectNoiseError, linkPair, peers, sleep, within } from "./streams_helpers.ts";

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function managers() {
  const { client, server } = await peers();
  const [clientLink, serverLink] = await linkPair();
  const clients = ThreadSafeSessionManager.newClient(client);
  const servers = ThreadSafeSessionManager.newServer(server);
  const id = clientLink.sessionId;
  clients.addSession(id, clientLink);
  servers.addSession(serverLink.sessionId, serverLink);
  return { clients, servers, id, clientLink, serverLink, client, server };
}

describe("NoiseSessionManager", () => {
  test("adds, gets, lists and removes links by session id; add returns the link it replaces", async () => {
    const { client, server } = await peers();
    const [a, b] = await linkPair();
    const [c] = await linkPair();
    const m = NoiseSessionManager.newClient(client);
    assert.equal(m.client, client);
    assert.equal(m.server, null);
    assert.equal(NoiseSessionManager.newServer(server).server, server);
    assert.equal(m.addSession(a.sessionId, a), undefined);
    assert.equal(m.addSession(c.sessionId, c), undefined);
    assert.equal(m.getSession(a.sessionId), a);
    // An equal id made from the same bytes finds the same session.
    assert.equal(m.getSession(SessionId.parse(a.sessionId.toString())), a);
    assert.equal(m.addSession(a.sessionId, b), a);
    assert.deepEqual(m.listSessions().map(String), [a.sessionId, c.sessionId].map(String));
    assert.equal(m.size, 2);
    assert.equal(m.removeSession(a.sessionId), b);
    assert.equal(m.hasSession(a.sessionId), false);
    assert.equal(m.removeSession(a.sessionId), undefined);
    assert.equal(m.getSession(a.sessionId), undefined);
  });

  test("bad arguments give NoiseError Other", async () => {
    const { client } = await peers();
    const m = NoiseSessionManager.newClient(client);
    assert.throws(() => m.getSession("00" as unknown as SessionId), { code: NoiseErrorCode.Other });
    assert.throws(
      () => m.addSession(new SessionId(new Uint8Array(32)), {} as never),
      { code: NoiseErrorCode.Other, message: "other: expected a NoiseLink" },
    );
    assert.throws(() => new NoiseSessionManager({ kind: "peer" } as never), {
      code: NoiseErrorCode.Other,
    });
  });
});

describe("ThreadSafeSessionManager", () => {
  test("1,000 concurrent tasks: every message arrives once, in call order, nonces never repeat", async () => {
    const { clients, servers, id } = await managers();
    const wire: Uint8Array[] = [];
    const n = 1000;
    // Each task encrypts and then awaits a carrier write of random latency: a
    // microtask, a few, or a timer. Without the lock, later calls would overtake.
    const tasks = Array.from(
      { length: n },
      (_, i) =>
        clients.send(id, utf8(`task ${i}`), async (ct) => {
          const r = (i * 7919) % 10;
          if (r === 0) await sleep(0);
          else for (let k = 0; k < r; k++) await null;
          wire.push(ct);
        }),
    );
    // The peer decrypts concurrently, in the order the ciphertexts hit the wire.
    const received: Promise<Uint8Array>[] = [];
    let taken = 0;
    const reader = (async () => {
      while (taken < n) {
        if (taken < wire.length) received.push(servers.decrypt(id, wire[taken++]));
        else await sleep(0);
      }
    })();
    await within(Promise.all([...tasks, reader]), 15000, "1,000 tasks");
    const plain = (await Promise.all(received)).map(text);
    assert.deepEqual(plain, Array.from({ length: n }, (_, i) => `task ${i}`));
    assert.equal(new Set(wire.map((c) => c.join(","))).size, n, "no two ciphertexts alike");
    const sendNonce = await clients.withSession(id, (link) => link.transport.sendNonce);
    assert.equal(sendNonce, BigInt(n));
  });

  test("sends whose writes finish in reverse order still leave in call order", async () => {
    const { clients, servers, id } = await managers();
    const wire: Uint8Array[] = [];
    await Promise.all(
      [0, 1, 2, 3, 4].map((i) =>
        clients.send(id, new Uint8Array([i]), async (ct) => {
          await sleep(10 - 2 * i); // the first call has the slowest write
          wire.push(ct);
        })
      ),
    );
    const out = [];
    for (const ct of wire) out.push((await servers.decrypt(id, ct))[0]);
    assert.deepEqual(out, [0, 1, 2, 3, 4]);
  });

  test("concurrent receivers take messages in call order; the two directions do not wait on each other", async () => {
    const { clients, servers, id } = await managers();
    const queue = [0, 1, 2, 3].map((i) => clients.encrypt(id, new Uint8Array([i])));
    const cts = await Promise.all(queue);
    let next = 0;
    const got = await Promise.all([0, 1, 2, 3].map(() =>
      servers.receive(id, async () => {
        const ct = cts[next++];
        await sleep(next % 2); // uneven reads
        return ct;
      })
    ));
    assert.deepEqual(got.map((b) => b[0]), [0, 1, 2, 3]);

    // A send blocked on a slow write does not hold up a decrypt on the same session.
    let release!: () => void;
    const blocked = servers.send(id, utf8("slow"), () => new Promise<void>((r) => (release = r)));
    const fast = await within(
      servers.decrypt(id, await clients.encrypt(id, utf8("fast"))),
      2000,
      "decrypt during a pending send",
    );
    assert.equal(text(fast), "fast");
    release();
    await blocked;
  });

  test("a failed write makes every later send fail: the peer could not decrypt them", async () => {
    const { clients, id } = await managers();
    await expectNoiseError(
      clients.send(id, utf8("lost"), () => Promise.reject(new Error("socket closed"))),
      NoiseErrorCode.Network,
      "network error: write of an encrypted message failed",
    );
    await expectNoiseError(
      clients.send(id, utf8("after"), () => {}),
      NoiseErrorCode.ConnectionReset,
    );
    await expectNoiseError(clients.encrypt(id, utf8("after")), NoiseErrorCode.ConnectionReset);
  });

  test("withSession holds both locks; unknown ids: undefined there, Other elsewhere", async () => {
    const { clients, servers, id } = await managers();
    const order: string[] = [];
    const held = clients.withSession(id, async (link) => {
      order.push("with:start");
      await sleep(5);
      order.push("with:end");
      return link.sessionId.toString();
    });
    const enc = clients.encrypt(id, utf8("x")).then(() => order.push("encrypt"));
    const dec = clients.decrypt(id, await servers.encrypt(id, utf8("y"))).then(() =>
      order.push("decrypt")
    );
    assert.equal(await held, id.toString());
    await Promise.all([enc, dec]);
    assert.deepEqual(order.slice(0, 2), ["with:start", "with:end"]);
    const unknown = new SessionId(new Uint8Array(32).fill(0xee));
    assert.equal(await clients.withSession(unknown, () => 1), undefined);
    await expectNoiseError(
      clients.encrypt(unknown, utf8("x")),
      NoiseErrorCode.Other,
      "other: Session not found",
    );
    await expectNoiseError(
      clients.decrypt(unknown, utf8("x")),
      NoiseErrorCode.Other,
      "other: Session not found",
    );
    await expectNoiseError(clients.send(unknown, utf8("x"), () => {}), NoiseErrorCode.Other);
    await expectNoiseError(clients.encrypt("nope" as never, utf8("x")), NoiseErrorCode.Other);
  });

  test("removing a session fails the operations still queued on it, not the one running", async () => {
    const { clients, id, clientLink } = await managers();
    let release!: () => void;
    const running = clients.send(id, utf8("a"), () => new Promise<void>((r) => (release = r)));
    const queued = clients.encrypt(id, utf8("b"));
    await sleep(1);
    assert.equal(clients.removeSession(id), clientLink);
    assert.equal(clients.hasSession(id), false);
    release();
    await running;
    await expectNoiseError(queued, NoiseErrorCode.Other, "other: Session not found");
    assert.deepEqual(clients.listSessions(), []);
  });

  test("decrypt of a forged message is refused and changes nothing", async () => {
    const { clients, servers, id } = await managers();
    const ct = await clients.encrypt(id, utf8("real"));
    const forged = ct.slice();
    forged[0] ^= 1;
    await expectNoiseError(
      servers.decrypt(id, forged),
      NoiseErrorCode.Snow,
      "snow error: decrypt error",
    );
    assert.equal(text(await servers.decrypt(id, ct)), "real");
  });
});

describe("SerialQueue", () => {
  test("runs tasks one at a time in call order; a failure does not stop the queue", async () => {
    const q = new SerialQueue();
    const log: string[] = [];
    const a = q.run(async () => {
      log.push("a1");
      await sleep(5);
      log.push("a2");
    });
    const b = q.run(() => {
      log.push("b");
      throw new Error("b failed");
    });
    const c = q.run(async () => {
      log.push("c");
      return await Promise.resolve(3);
    });
    assert.equal(q.pending, 3);
    await a;
    await assert.rejects(b, /b failed/);
    assert.equal(await c, 3);
    assert.deepEqual(log, ["a1", "a2", "b", "c"]);
    await sleep(0);
    assert.equal(q.pending, 0);
  });
});
