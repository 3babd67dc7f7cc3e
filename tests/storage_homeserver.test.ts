/**
 * The homeserver adapters against a real HTTP server on loopback that behaves as a Pubky
 * homeserver's storage API does (PUT, GET, DELETE, 404 for missing, authenticated writes), and
 * the messaging over it through server errors, hangs, dropped connections and writes that were
 * stored but answered with 500.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { NoiseErrorCode } from "../lib/errors.ts";
import {
  HomeserverPublicReader,
  HomeserverStorage,
  StorageBackedMessaging,
  StorageError,
} from "../storage.ts";
import { LoopbackHomeserver } from "./_loopback_homeserver.ts";
import { rejectsWith, sessionPair, text, utf8 } from "./_storage_helpers.ts";

const ALICE = "ybndrfg8ejkmcpqxot1uwisza345h769ybndrfg8ejkmcpqxot1u";
const BOB = "8ejkmcpqxot1uwisza345h769ybndrfg8ejkmcpqxot1uwisza34";
const FAST = { maxRetries: 2, initialBackoffMs: 1, maxBackoffMs: 4, operationTimeoutMs: 2000 };

let hs: LoopbackHomeserver;

before(async () => {
  hs = await LoopbackHomeserver.start({ [ALICE]: "alice-session", [BOB]: "bob-session" });
});
after(async () => {
  await hs.close();
});

function outboxOf(owner: string, token: string): HomeserverStorage {
  return new HomeserverStorage({
    homeserver: hs.url,
    owner,
    headers: () => ({ cookie: `${owner}=${token}` }),
  });
}

function reader(): HomeserverPublicReader {
  return new HomeserverPublicReader({ resolveHomeserver: () => hs.url });
}

function requestsSince(mark: number) {
  return hs.requests.slice(mark);
}

describe("HomeserverStorage and HomeserverPublicReader", () => {
  test("PUT, GET, DELETE of the own space; a missing object reads as null", async () => {
    const outbox = outboxOf(ALICE, "alice-session");
    const mark = hs.requests.length;
    await outbox.put("/pub/t1/obj", utf8("payload"));
    assert.equal(text(hs.peek(ALICE, "/pub/t1/obj")!), "payload");
    assert.equal(text((await outbox.get("/pub/t1/obj"))!), "payload");
    await outbox.delete("/pub/t1/obj");
    assert.equal(hs.peek(ALICE, "/pub/t1/obj"), null);
    assert.equal(await outbox.get("/pub/t1/obj"), null);
    await outbox.delete("/pub/t1/obj"); // 404 on delete is fine
    assert.deepEqual(
      requestsSince(mark).map((r) => `${r.method} ${r.path} ${r.owner} ${r.status}`),
      [
        `PUT /pub/t1/obj ${ALICE} 201`,
        `GET /pub/t1/obj ${ALICE} 200`,
        `DELETE /pub/t1/obj ${ALICE} 204`,
        `GET /pub/t1/obj ${ALICE} 404`,
        `DELETE /pub/t1/obj ${ALICE} 404`,
      ],
    );
  });

  test("public reads of pubky://<key>/pub/... go to that key's homeserver with pubky-host", async () => {
    hs.set(BOB, "/pub/t2/ünï", utf8("bob's"));
    const asked: string[] = [];
    const r = new HomeserverPublicReader({
      resolveHomeserver: (owner) => (asked.push(owner), hs.url),
    });
    assert.equal(text((await r.get(`pubky://${BOB}/pub/t2/ünï`))!), "bob's");
    assert.equal(await r.get(`pubky://${ALICE}/pub/t2/ünï`), null);
    assert.deepEqual(asked, [BOB, ALICE]);
    await rejectsWith(r.get("/pub/t2/x"), NoiseErrorCode.Storage, /needs defaultOwner/);
    const bound = new HomeserverPublicReader({
      resolveHomeserver: () => hs.url,
      defaultOwner: BOB,
    });
    assert.equal(text((await bound.get("/pub/t2/ünï"))!), "bob's");
    await rejectsWith(r.get(`pubky://${BOB}/pub/t2/../x`), NoiseErrorCode.Storage, /traversal/);
  });

  test("a write with a wrong session is refused (401) and not retried", async () => {
    const [link] = await sessionPair();
    const m = new StorageBackedMessaging(
      link,
      outboxOf(ALICE, "stolen-cookie"),
      reader(),
      "/pub/t3/out",
      `pubky://${BOB}/pub/t3/out`,
      { retry: FAST, verifyFirstWrite: false },
    );
    const mark = hs.requests.length;
    const e = await rejectsWith(m.sendMessage(utf8("x")), NoiseErrorCode.Storage, /HTTP 401/);
    assert.ok(e instanceof StorageError && e.status === 401 && !e.isRetryable);
    assert.equal(requestsSince(mark).length, 1);
    assert.equal(m.writeCounter, 0);
  });

  test("writes outside /pub are refused (403) at once", async () => {
    const mark = hs.requests.length;
    await rejectsWith(
      outboxOf(ALICE, "alice-session").put("/private/x", utf8("x")),
      NoiseErrorCode.Storage,
      /HTTP 403/,
    );
    assert.equal(requestsSince(mark).length, 1);
  });

  test("an object larger than maxObjectBytes is refused without reading it all", async () => {
    hs.set(BOB, "/pub/t4/big", new Uint8Array(5000));
    const small = new HomeserverPublicReader({
      resolveHomeserver: () => hs.url,
      maxObjectBytes: 4096,
    });
    const e = await rejectsWith(
      small.get(`pubky://${BOB}/pub/t4/big`),
      NoiseErrorCode.Storage,
      /larger than 4096 bytes/,
    );
    assert.equal(e.isRetryable, false);
    assert.equal((await reader().get(`pubky://${BOB}/pub/t4/big`))!.length, 5000);
  });

  test("bad adapter options are Storage errors", () => {
    assert.throws(
      () => new HomeserverStorage({ homeserver: "ftp://x", owner: ALICE }),
      (e: unknown) => e instanceof StorageError && /http\(s\)/.test(e.message),
    );
    assert.throws(
      () => new HomeserverStorage({ homeserver: "not a url", owner: ALICE }),
      (e: unknown) => e instanceof StorageError && /invalid homeserver URL/.test(e.message),
    );
  });
});

describe("StorageBackedMessaging over the homeserver, with faults", () => {
  async function chat(path: string, retry = FAST) {
    const [aliceLink, bobLink] = await sessionPair();
    const alice = new StorageBackedMessaging(
      aliceLink,
      outboxOf(ALICE, "alice-session"),
      reader(),
      `/pub/${path}/a`,
      `pubky://${BOB}/pub/${path}/b`,
      { retry },
    );
    const bob = new StorageBackedMessaging(
      bobLink,
      outboxOf(BOB, "bob-session"),
      reader(),
      `/pub/${path}/b`,
      `pubky://${ALICE}/pub/${path}/a`,
      { retry },
    );
    return { aliceLink, bobLink, alice, bob };
  }

  test("a 503 is retried; a write stored but answered 500 is retried with the same bytes", async () => {
    const { alice, bob } = await chat("f1");
    hs.inject({ method: "PUT", path: "/pub/f1/a/msg_0", fault: "503" });
    hs.inject({ method: "PUT", path: "/pub/f1/a/msg_1", fault: "write-then-500" });
    const mark = hs.requests.length;
    assert.equal(await alice.sendMessage(utf8("first")), 0);
    const stored = hs.peek(ALICE, "/pub/f1/a/msg_1");
    assert.equal(stored, null);
    assert.equal(await alice.sendMessage(utf8("second")), 1);
    const puts = requestsSince(mark).filter((r) => r.method === "PUT");
    assert.deepEqual(puts.map((r) => `${r.path} ${r.status}`), [
      "/pub/f1/a/msg_0 503",
      "/pub/f1/a/msg_0 201",
      "/pub/f1/a/msg_1 500",
      "/pub/f1/a/msg_1 201",
    ]);
    assert.deepEqual((await bob.receiveMessages()).map(text), ["first", "second"]);
    assert.deepEqual(hs.paths(ALICE).filter((p) => p.startsWith("/pub/f1/")).sort(), [
      "/pub/f1/a/msg_0",
      "/pub/f1/a/msg_1",
    ]);
  });

  test("a server that hangs gives Timeout (8001) after each attempt's time-out; the message stays pending", async () => {
    const { alice, bob } = await chat("f2", { ...FAST, maxRetries: 1, operationTimeoutMs: 150 });
    hs.inject({ method: "PUT", path: "/pub/f2/a/msg_0", fault: "hang", times: 2 });
    const started = Date.now();
    await rejectsWith(alice.sendMessage(utf8("late")), NoiseErrorCode.Timeout, /after 2 attempts/);
    assert.ok(Date.now() - started < 5000);
    assert.equal(alice.pendingCounter, 0);
    assert.equal(alice.writeCounter, 0);
    assert.equal(await alice.retryPending(), 0);
    assert.deepEqual((await bob.receiveMessages()).map(text), ["late"]);
  });

  test("dropped connections are Network errors (8000), retried; reads survive them too", async () => {
    const { alice, bob } = await chat("f3", { ...FAST, maxRetries: 1 });
    // Some HTTP clients transparently resend a request once when a pooled connection drops:
    // drop every PUT of this object until the rule is cleared.
    hs.inject({ method: "PUT", path: "/pub/f3/a/msg_0", fault: "drop", times: 100 });
    await rejectsWith(
      alice.sendMessage(utf8("dropped")),
      NoiseErrorCode.Network,
      /after 2 attempts/,
    );
    assert.equal(alice.pendingCounter, 0);
    hs.clearFaults();
    hs.inject({ method: "PUT", path: "/pub/f3/a/msg_0", fault: "drop", times: 1 });
    assert.equal(await alice.sendMessage(utf8("dropped")), 0);
    hs.inject({ method: "GET", path: "/pub/f3/a/msg_0", fault: "drop", times: 1 });
    hs.inject({ method: "GET", path: "/pub/f3/a/msg_1", fault: "503", times: 1 });
    assert.deepEqual((await bob.receiveMessages()).map(text), ["dropped"]);
    assert.equal(bob.readCounter, 1);
  });

  test("crash after a stored write: the restarted sender reads the object back and does not write it again", async () => {
    const { aliceLink, alice, bob } = await chat("f4");
    await alice.sendMessage(utf8("only once"));
    const restarted = new StorageBackedMessaging(
      aliceLink,
      outboxOf(ALICE, "alice-session"),
      reader(),
      "/pub/f4/a",
      `pubky://${BOB}/pub/f4/b`,
      { retry: FAST },
    ).withCounters(0, 0);
    const mark = hs.requests.length;
    assert.equal(await restarted.sendMessage(utf8("only once")), 0);
    assert.deepEqual(requestsSince(mark).map((r) => `${r.method} ${r.status}`), ["GET 200"]);
    assert.equal(await restarted.sendMessage(utf8("then this")), 1);
    assert.deepEqual((await bob.receiveMessages()).map(text), ["only once", "then this"]);
  });

  test("ten messages each way through scripted faults at every message arrive once, in order", async () => {
    const { alice, bob } = await chat("f5", { ...FAST, maxRetries: 3, operationTimeoutMs: 200 });
    const faults = ["503", "write-then-500", "drop", "hang"] as const;
    for (let i = 0; i < 10; i++) {
      hs.inject({ method: "PUT", path: `/pub/f5/a/msg_${i}`, fault: faults[i % 4] });
      hs.inject({ method: "PUT", path: `/pub/f5/b/msg_${i}`, fault: faults[(i + 1) % 4] });
      hs.inject({
        method: "GET",
        path: `/pub/f5/a/msg_${i}`,
        fault: faults[(i + 2) % 4] === "write-then-500" ? "503" : faults[(i + 2) % 4],
      });
    }
    const sent = { a: [] as string[], b: [] as string[] };
    const got = { a: [] as string[], b: [] as string[] };
    for (let i = 0; i < 10; i++) {
      sent.a.push(`a${i}`);
      sent.b.push(`b${i}`);
      await alice.sendMessage(utf8(`a${i}`));
      await bob.sendMessage(utf8(`b${i}`));
      if (i % 3 === 2) got.b.push(...(await bob.receiveMessages()).map(text));
      if (i % 4 === 3) got.a.push(...(await alice.receiveMessages()).map(text));
    }
    got.b.push(...(await bob.receiveMessages()).map(text));
    got.a.push(...(await alice.receiveMessages()).map(text));
    assert.deepEqual(got.b, sent.a);
    assert.deepEqual(got.a, sent.b);
    assert.deepEqual({ ...alice.counters }, { write: 10, read: 10 });
    assert.deepEqual({ ...bob.counters }, { write: 10, read: 10 });
  });
});
