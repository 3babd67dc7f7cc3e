/**
 * StorageBackedMessaging on in-memory storage: the crate's object format, nonce = counter,
 * retries that never desynchronise, pending messages, restarts from saved counters, and the
 * receive rules (404 ends the poll, a forged object is a Decryption error that moves nothing).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { NoiseErrorCode } from "../lib/errors.ts";
import {
  MemoryStorage,
  type MemoryStorageEvent,
  StorageBackedMessaging,
  StorageError,
} from "../storage.ts";
import {
  FAST_RETRY,
  rejectsWith,
  sessionPair,
  text,
  throwsWith,
  utf8,
} from "./_storage_helpers.ts";

const A_OUT = "/pub/chat/a";
const B_OUT = "/pub/chat/b";

async function pair(options: { verifyFirstWrite?: boolean } = {}) {
  const [aliceLink, bobLink] = await sessionPair();
  const aliceStore = new MemoryStorage();
  const bobStore = new MemoryStorage();
  const opts = { retry: FAST_RETRY, ...options };
  return {
    aliceLink,
    bobLink,
    aliceStore,
    bobStore,
    alice: new StorageBackedMessaging(aliceLink, aliceStore, bobStore, A_OUT, B_OUT, opts),
    bob: new StorageBackedMessaging(bobLink, bobStore, aliceStore, B_OUT, A_OUT, opts),
  };
}

/** Counts puts per path and records every distinct body written there. */
function recordPuts(store: MemoryStorage) {
  const bodies = new Map<string, Uint8Array[]>();
  const previous = store.faults;
  store.faults = async (event: MemoryStorageEvent) => {
    if (event.op === "put" && event.phase === "before") {
      const list = bodies.get(event.path) ?? [];
      list.push(event.bytes!);
      bodies.set(event.path, list);
    }
    await previous?.(event);
  };
  return bodies;
}

describe("StorageBackedMessaging: format", () => {
  test("message N is one Noise transport message at {writePath}/msg_N, readable by a plain in-order link", async () => {
    const { alice, aliceStore, bobLink } = await pair();
    const sent = ["zero", "one", "two"];
    for (const [i, m] of sent.entries()) assert.equal(await alice.sendMessage(utf8(m)), i);
    assert.deepEqual(aliceStore.paths(), [
      "/pub/chat/a/msg_0",
      "/pub/chat/a/msg_1",
      "/pub/chat/a/msg_2",
    ]);
    // What the crate's receiver does: decrypt the objects in order with its NoiseLink.
    for (const [i, m] of sent.entries()) {
      const object = aliceStore.peek(`/pub/chat/a/msg_${i}`)!;
      assert.equal(object.length, utf8(m).length + 16);
      assert.equal(text(bobLink.decrypt(object)), m);
    }
  });

  test("a round trip in both directions; counters move one per message", async () => {
    const { alice, bob } = await pair();
    await alice.sendMessage(utf8("hi bob"));
    await bob.sendMessage(utf8("hi alice"));
    await alice.sendMessage(utf8("how are you?"));
    assert.deepEqual((await bob.receiveMessages()).map(text), ["hi bob", "how are you?"]);
    assert.deepEqual((await alice.receiveMessages()).map(text), ["hi alice"]);
    assert.deepEqual(alice.counters, { write: 2, read: 1 });
    assert.deepEqual(bob.counters, { write: 1, read: 2 });
    assert.deepEqual(await bob.receiveMessages(), []);
    assert.equal(await bob.peekMessageCount(), 0);
    await alice.sendMessage(utf8("still there?"));
    assert.equal(await bob.peekMessageCount(), 1);
    assert.equal(text((await bob.dequeue())!), "still there?");
    assert.equal(await bob.dequeue(), null);
  });

  test("paths are validated as the crate does, and trailing slashes are dropped", async () => {
    const [link] = await sessionPair();
    const store = new MemoryStorage();
    throwsWith(
      () => new StorageBackedMessaging(link, store, store, "pub/x", B_OUT),
      9000,
      /start with \//,
    );
    throwsWith(
      () => new StorageBackedMessaging(link, store, store, A_OUT, "/pub/../x"),
      9000,
      /traversal/,
    );
    throwsWith(
      () =>
        new StorageBackedMessaging(
          link,
          store,
          store,
          "pubky://" + "y".repeat(52) + "/pub/x",
          B_OUT,
        ),
      9000,
      /must start with \//,
    );
    const m = new StorageBackedMessaging(
      link,
      store,
      store,
      "/pub/x/",
      `pubky://${"y".repeat(52)}/pub/y/`,
    );
    assert.equal(m.writePath, "/pub/x");
    assert.equal(m.readPath, `pubky://${"y".repeat(52)}/pub/y`);
    throwsWith(() => m.withCounters(-1, 0), 9000, /write counter/);
    throwsWith(() => m.withCounters(0, Number.NaN), 9000, /read counter/);
  });
});

describe("StorageBackedMessaging: sending never desynchronises", () => {
  test("a write that was stored but reported as failed is retried with the very same bytes", async () => {
    const { alice, bob, aliceStore } = await pair();
    let failNext = true;
    aliceStore.faults = (e) => {
      if (e.op === "put" && e.phase === "after" && failNext) {
        failNext = false;
        throw new StorageError("stored, but the answer was lost", 500);
      }
    };
    const bodies = recordPuts(aliceStore);
    assert.equal(await alice.sendMessage(utf8("once")), 0);
    const puts = bodies.get("/pub/chat/a/msg_0")!;
    assert.equal(puts.length, 2);
    assert.deepEqual(puts[0], puts[1]);
    assert.equal(alice.writeCounter, 1);
    assert.deepEqual((await bob.receiveMessages()).map(text), ["once"]);
  });

  test("when every attempt fails, the counter stays and the message is pending; resending it writes the same ciphertext", async () => {
    const { alice, bob, aliceStore } = await pair();
    aliceStore.faults = (e) => {
      if (e.op === "put") throw new StorageError("down", 503);
    };
    const bodies = recordPuts(aliceStore);
    await rejectsWith(
      alice.sendMessage(utf8("first")),
      9000,
      /PUT \/pub\/chat\/a\/msg_0 failed after 3 attempts/,
    );
    assert.equal(alice.writeCounter, 0);
    assert.equal(alice.pendingCounter, 0);
    // A different message may not take nonce 0 now.
    await rejectsWith(alice.sendMessage(utf8("other")), 9000, /message 0 is still pending/);
    assert.equal(bodies.get("/pub/chat/a/msg_0")!.length, 3);
    // The store comes back; the same message is sent again.
    aliceStore.faults = null;
    const after = recordPuts(aliceStore);
    assert.equal(await alice.sendMessage(utf8("first")), 0);
    assert.deepEqual(after.get("/pub/chat/a/msg_0")![0], bodies.get("/pub/chat/a/msg_0")![0]);
    assert.equal(alice.pendingCounter, null);
    assert.equal(await alice.sendMessage(utf8("second")), 1);
    assert.deepEqual((await bob.receiveMessages()).map(text), ["first", "second"]);
  });

  test("retryPending writes the pending message without its plaintext", async () => {
    const { alice, bob, aliceStore } = await pair();
    assert.equal(await alice.retryPending(), null);
    aliceStore.faults = () => {
      throw new StorageError("down", 503);
    };
    await rejectsWith(alice.sendMessage(utf8("queued")), 9000);
    aliceStore.faults = null;
    assert.equal(await alice.retryPending(), 0);
    assert.equal(alice.writeCounter, 1);
    assert.deepEqual((await bob.receiveMessages()).map(text), ["queued"]);
  });

  test("crash after a successful write, before the counter was saved: the re-send is idempotent, no duplicate", async () => {
    const { aliceLink, alice, bob, aliceStore, bobStore } = await pair();
    const saved = alice.counters; // { write: 0, read: 0 }
    await alice.sendMessage(utf8("exactly once"));
    // crash: the new counter is lost. Restart from the saved counters, same session.
    const restarted = new StorageBackedMessaging(aliceLink, aliceStore, bobStore, A_OUT, B_OUT, {
      retry: FAST_RETRY,
    }).withCounters(saved.write, saved.read);
    const bodies = recordPuts(aliceStore);
    assert.equal(await restarted.sendMessage(utf8("exactly once")), 0);
    assert.equal(bodies.size, 0, "the object was already there: nothing rewritten");
    assert.equal(await restarted.sendMessage(utf8("next")), 1);
    assert.deepEqual((await bob.receiveMessages()).map(text), ["exactly once", "next"]);
  });

  test("without read-back the re-send after a crash rewrites identical bytes at the same path", async () => {
    const { aliceLink, alice, bob, aliceStore, bobStore } = await pair({ verifyFirstWrite: false });
    await alice.sendMessage(utf8("exactly once"));
    const first = aliceStore.peek("/pub/chat/a/msg_0")!;
    const restarted = new StorageBackedMessaging(aliceLink, aliceStore, bobStore, A_OUT, B_OUT, {
      retry: FAST_RETRY,
      verifyFirstWrite: false,
    }).withCounters(0, 0);
    const bodies = recordPuts(aliceStore);
    await restarted.sendMessage(utf8("exactly once"));
    assert.deepEqual(bodies.get("/pub/chat/a/msg_0"), [first]);
    assert.deepEqual((await bob.receiveMessages()).map(text), ["exactly once"]);
  });

  test("after a restart, a different message at a used counter is refused (no nonce reuse), nothing written", async () => {
    const { aliceLink, alice, aliceStore, bobStore } = await pair();
    await alice.sendMessage(utf8("original"));
    const before = aliceStore.peek("/pub/chat/a/msg_0")!;
    const restarted = new StorageBackedMessaging(aliceLink, aliceStore, bobStore, A_OUT, B_OUT, {
      retry: FAST_RETRY,
    }).withCounters(0, 0);
    await rejectsWith(
      restarted.sendMessage(utf8("something else")),
      9000,
      /already holds a different message: refusing to reuse nonce 0/,
    );
    assert.deepEqual(aliceStore.peek("/pub/chat/a/msg_0"), before);
    assert.equal(restarted.writeCounter, 0);
    assert.equal(restarted.pendingCounter, null);
  });

  test("concurrent sends are serialised: distinct counters, in call order", async () => {
    const { alice, bob } = await pair();
    const counters = await Promise.all(["a", "b", "c", "d"].map((m) => alice.sendMessage(utf8(m))));
    assert.deepEqual(counters, [0, 1, 2, 3]);
    assert.deepEqual((await bob.receiveMessages()).map(text), ["a", "b", "c", "d"]);
  });

  test("a plaintext over 65519 bytes is refused by Noise (3000) and nothing changes", async () => {
    const { alice, aliceStore } = await pair();
    await rejectsWith(alice.sendMessage(new Uint8Array(65520)), NoiseErrorCode.Snow, /input error/);
    assert.equal(alice.writeCounter, 0);
    assert.equal(alice.pendingCounter, null);
    assert.deepEqual(aliceStore.paths(), []);
  });

  test("counters cannot be changed while an operation runs", async () => {
    const { alice, aliceStore } = await pair();
    let release!: () => void;
    aliceStore.faults = (e) =>
      e.op === "put" && e.phase === "before" ? new Promise<void>((r) => release = r) : undefined;
    const sending = alice.sendMessage(utf8("slow"));
    await new Promise((r) => setTimeout(r, 10));
    throwsWith(() => alice.withCounters(5, 5), 9000, /while an operation is running/);
    release();
    assert.equal(await sending, 0);
    assert.deepEqual(alice.withCounters(5, 5).counters, { write: 5, read: 5 });
  });
});

describe("StorageBackedMessaging: receiving", () => {
  test("a missing object ends the poll without error; max limits one call", async () => {
    const { alice, bob } = await pair();
    assert.deepEqual(await bob.receiveMessages(), []);
    for (let i = 0; i < 5; i++) await alice.sendMessage(utf8(`m${i}`));
    assert.deepEqual((await bob.receiveMessages(2)).map(text), ["m0", "m1"]);
    assert.equal(bob.readCounter, 2);
    assert.deepEqual((await bob.receiveMessages()).map(text), ["m2", "m3", "m4"]);
    await rejectsWith(bob.receiveMessages(0), 9000, /max must be a positive integer/);
  });

  test("a forged object is a Decryption error (10000) and the read counter does not move", async () => {
    const { alice, bob, aliceStore } = await pair();
    await alice.sendMessage(utf8("genuine"));
    const genuine = aliceStore.peek("/pub/chat/a/msg_0")!;
    const forged = genuine.slice();
    forged[3] ^= 1;
    await aliceStore.put("/pub/chat/a/msg_0", forged);
    await rejectsWith(
      bob.receiveMessages(),
      NoiseErrorCode.Decryption,
      /Failed to decrypt message 0/,
    );
    assert.equal(bob.readCounter, 0);
    await aliceStore.put("/pub/chat/a/msg_0", genuine);
    assert.deepEqual((await bob.receiveMessages()).map(text), ["genuine"]);
    assert.equal(bob.readCounter, 1);
  });

  test("messages decrypted before a failure are returned; the failure comes on the next call", async () => {
    const { alice, bob, aliceStore } = await pair();
    await alice.sendMessage(utf8("good"));
    await alice.sendMessage(utf8("bad"));
    const bad = aliceStore.peek("/pub/chat/a/msg_1")!;
    bad[0] ^= 0xff;
    await aliceStore.put("/pub/chat/a/msg_1", bad);
    assert.deepEqual((await bob.receiveMessages()).map(text), ["good"]);
    assert.equal(bob.readCounter, 1);
    await rejectsWith(bob.receiveMessages(), NoiseErrorCode.Decryption);
    assert.equal(bob.readCounter, 1);
  });

  test("a replayed older message at the next path does not decrypt (nonce = counter)", async () => {
    const { alice, bob, aliceStore } = await pair();
    await alice.sendMessage(utf8("zero"));
    assert.deepEqual((await bob.receiveMessages()).map(text), ["zero"]);
    await aliceStore.put("/pub/chat/a/msg_1", aliceStore.peek("/pub/chat/a/msg_0")!);
    await rejectsWith(bob.receiveMessages(), NoiseErrorCode.Decryption);
    assert.equal(bob.readCounter, 1);
  });

  test("read errors are retried; a hang is a Timeout (8001) and the counter stays", async () => {
    const { alice, bob, aliceStore } = await pair();
    await alice.sendMessage(utf8("m"));
    let gets = 0;
    aliceStore.faults = (e) => {
      if (e.op !== "get" || e.phase !== "before") return;
      gets++;
      return MemoryStorage.hang(e.signal);
    };
    bob.withRetryConfig({ ...FAST_RETRY, maxRetries: 1, operationTimeoutMs: 25 });
    await rejectsWith(bob.receiveMessages(), NoiseErrorCode.Timeout, /timed out after 25ms/);
    assert.equal(gets, 2);
    assert.equal(bob.readCounter, 0);
    aliceStore.faults = null;
    assert.deepEqual((await bob.receiveMessages()).map(text), ["m"]);
  });

  test("the caller's signal aborts a receive without moving the counter", async () => {
    const { alice, bob, aliceStore } = await pair();
    await alice.sendMessage(utf8("m"));
    aliceStore.faults = (e) => e.op === "get" ? MemoryStorage.hang(e.signal) : undefined;
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 10);
    await rejectsWith(
      bob.receiveMessages(10, { signal: controller.signal }),
      NoiseErrorCode.Other,
      /aborted/,
    );
    assert.equal(bob.readCounter, 0);
  });
});
