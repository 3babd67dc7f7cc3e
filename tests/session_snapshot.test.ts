/**
 * Sealed session snapshots (`lib/session/snapshot.ts`, `NoiseManager.snapshot`):
 * a restored session continues the same Noise session unnoticed by the peer;
 * tampered, truncated, foreign or stale snapshots are refused with exact codes;
 * the generation counter rules out double restores; a session killed mid-stream
 * resumes with nothing lost and nothing duplicated.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { NoiseErrorCode } from "../lib/errors.ts";
import { toHex } from "../lib/bytes.ts";
import type { NoiseLink } from "../lib/link.ts";
import { SessionId } from "../lib/session_id.ts";
import type { IdentityPayload } from "../lib/identity_payload.ts";
import {
  clientCompleteIk,
  clientStartIkDirect,
  serverAcceptIk,
  serverCompleteIk,
} from "../lib/datalink_adapter.ts";
import { memoryCarrierPair, type MessageCarrier } from "../lib/streams/carrier.ts";
import {
  generateSnapshotKey,
  importSnapshotKey,
  peekSnapshot,
  ResumableSession,
  SNAPSHOT_VERSION,
} from "../lib/session/snapshot.ts";
import { NoiseManager } from "../lib/session/noise_manager.ts";
import { NoiseServer } from "../lib/server.ts";
import { CLIENT_STATIC_HEX, expectNoiseError, peers, within } from "./streams_helpers.ts";

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** An IK session made with the data-link adapter: both links and the client's identity. */
async function ikPair(): Promise<{
  clientLink: NoiseLink;
  serverLink: NoiseLink;
  clientIdentity: IdentityPayload;
}> {
  const { client, server } = await peers();
  const start = await clientStartIkDirect(client, await server.staticPublicKey());
  const accepted = await serverAcceptIk(server, start.firstMsg);
  return {
    clientLink: await clientCompleteIk(start.hs, accepted.response),
    serverLink: serverCompleteIk(accepted.hs),
    clientIdentity: accepted.clientIdentity,
  };
}

/** Durable storage as a holder would have it: one record, replaced atomically. */
class DurableCell<T> {
  #value: T | undefined;
  writes = 0;
  get(): T {
    assert.ok(this.#value !== undefined, "nothing stored");
    return structuredClone(this.#value);
  }
  put(value: T): void {
    this.#value = structuredClone(value);
    this.writes++;
  }
}

interface Saved {
  bytes: Uint8Array;
  generation: bigint;
}

/** The commit function of a holder that keeps `{ bytes, generation }` in `cell`. */
function committer(cell: DurableCell<Saved>) {
  return (next: bigint, current: bigint) => {
    const now = cell.get();
    assert.equal(now.generation, current, "compare-and-set");
    cell.put({ ...now, generation: next });
  };
}

describe("a restored session continues the same session", () => {
  test("the server resumes from its snapshot; the client's link notices nothing", async () => {
    const { clientLink, serverLink, clientIdentity } = await ikPair();
    const key = await generateSnapshotKey();
    for (let i = 0; i < 3; i++) {
      assert.equal(text(serverLink.decrypt(clientLink.encrypt(utf8(`c${i}`)))), `c${i}`);
    }
    assert.equal(text(clientLink.decrypt(serverLink.encrypt(utf8("s0")))), "s0");
    const live = ResumableSession.create(key, serverLink, {
      role: "Server",
      remoteIdentity: clientIdentity,
    });
    const snap = await live.snapshot();
    assert.equal(snap.generation, 1n);
    assert.equal(snap.previousGeneration, 0n);
    assert.ok(snap.sessionId.equals(clientLink.sessionId));
    live.destroy(); // the process is gone

    const cell = new DurableCell<Saved>();
    cell.put({ bytes: snap.bytes, generation: snap.generation });
    const saved = cell.get();
    const resumed = await ResumableSession.restore(key, saved.bytes, {
      generation: saved.generation,
      commit: committer(cell),
    });
    assert.ok(resumed.sessionId.equals(clientLink.sessionId));
    assert.equal(resumed.role, "Server");
    assert.equal(toHex(resumed.link.remoteStatic!), CLIENT_STATIC_HEX);
    assert.deepEqual(resumed.remoteIdentity, clientIdentity);
    assert.equal(resumed.link.transport.sendNonce, 1n);
    assert.equal(resumed.link.transport.receiveNonce, 3n);
    // Both directions carry on at the next nonces.
    assert.equal(text(resumed.link.decrypt(clientLink.encrypt(utf8("c3")))), "c3");
    assert.equal(text(clientLink.decrypt(resumed.link.encrypt(utf8("s1")))), "s1");
    assert.equal(resumed.generation, 2n);
    assert.equal(cell.get().generation, 2n);
  });

  test("the client side resumes too, and the identity-less IK client has none in its snapshot", async () => {
    const { clientLink, serverLink } = await ikPair();
    const key = await generateSnapshotKey();
    const serverStatic = clientLink.remoteStatic;
    const snap = await ResumableSession.create(key, clientLink, { role: "Client" }).snapshot();
    clientLink.destroy();
    const resumed = await ResumableSession.restore(key, snap.bytes, {
      generation: 1n,
      commit: () => {},
    });
    assert.equal(resumed.role, "Client");
    assert.equal(resumed.remoteIdentity, null);
    assert.equal(serverStatic?.length, 32);
    assert.deepEqual(resumed.link.remoteStatic, serverStatic);
    assert.equal(text(serverLink.decrypt(resumed.link.encrypt(utf8("after")))), "after");
  });

  test("the header tells version, generation and session without the key", async () => {
    const { serverLink } = await ikPair();
    const key = await generateSnapshotKey();
    const live = ResumableSession.create(key, serverLink, { role: "Server", generation: 41n });
    const snap = await live.snapshot();
    const header = peekSnapshot(snap.bytes);
    assert.equal(header.version, SNAPSHOT_VERSION);
    assert.equal(header.generation, 42n);
    assert.ok(header.sessionId.equals(serverLink.sessionId));
    assert.equal(text(snap.bytes.subarray(0, 4)), "PNS1");
  });

  test("the keys appear nowhere in clear: not in the bytes, toString, JSON or inspect", async () => {
    const { serverLink } = await ikPair();
    const key = await generateSnapshotKey();
    const secrets = serverLink.transport.exportSecretsForSnapshot();
    const live = ResumableSession.create(key, serverLink, { role: "Server" });
    const snap = await live.snapshot();
    const hex = toHex(snap.bytes);
    for (const k of [secrets.sendKey, secrets.recvKey]) {
      assert.equal(hex.includes(toHex(k)), false);
      const shown = [
        String(live),
        JSON.stringify(live),
        JSON.stringify(serverLink.transport),
        inspectText(live),
      ].join("\n");
      assert.equal(shown.includes(toHex(k)), false);
      assert.equal(shown.includes(String(Array.from(k))), false);
    }
    assert.match(String(live), /^ResumableSession\([0-9a-f]{64}, generation 1\)$/);
  });
});

/** What `console.log` would print for `value` (Node's util.inspect). */
function inspectText(value: unknown): string {
  const custom = (value as Record<symbol, () => string>)[Symbol.for("nodejs.util.inspect.custom")];
  return typeof custom === "function" ? custom.call(value) : String(value);
}

describe("the generation counter rules out nonce reuse", () => {
  test("restoring the same snapshot twice is refused (SessionExpired), the first copy keeps working", async () => {
    const { clientLink, serverLink } = await ikPair();
    const key = await generateSnapshotKey();
    const snap = await ResumableSession.create(key, serverLink, { role: "Server" }).snapshot();
    const cell = new DurableCell<Saved>();
    cell.put({ bytes: snap.bytes, generation: snap.generation });

    const first = await ResumableSession.restore(key, cell.get().bytes, {
      generation: cell.get().generation,
      commit: committer(cell),
    });
    let committed = 0;
    const err = await expectNoiseError(
      ResumableSession.restore(key, cell.get().bytes, {
        generation: cell.get().generation,
        commit: () => void committed++,
      }),
      NoiseErrorCode.SessionExpired,
    );
    assert.match(err.message, /generation 1 is stale \(the holder's counter is 2\)/);
    assert.equal(committed, 0);
    // Even a holder that lies about its counter cannot make the second copy send at
    // the same nonce as the first: the lie is its own bug, but the honest path holds.
    assert.equal(text(clientLink.decrypt(first.link.encrypt(utf8("only once")))), "only once");
  });

  test("an older snapshot is refused after a newer one was stored, and after it was restored", async () => {
    const { serverLink } = await ikPair();
    const key = await generateSnapshotKey();
    const live = ResumableSession.create(key, serverLink, { role: "Server" });
    const cell = new DurableCell<Saved>();
    const old = await live.snapshot();
    cell.put({ bytes: old.bytes, generation: old.generation });
    serverLink.encrypt(utf8("sent after the first snapshot"));
    const newer = await live.snapshot();
    cell.put({ bytes: newer.bytes, generation: newer.generation });
    assert.equal(newer.previousGeneration, old.generation);

    // The stale snapshot against the current counter (2): refused before any commit.
    await expectNoiseError(
      ResumableSession.restore(key, old.bytes, {
        generation: cell.get().generation,
        commit: () => assert.fail("must not commit"),
      }),
      NoiseErrorCode.SessionExpired,
    );
    const resumed = await ResumableSession.restore(key, cell.get().bytes, {
      generation: cell.get().generation,
      commit: committer(cell),
    });
    assert.equal(resumed.link.transport.sendNonce, 1n);
    for (const bytes of [old.bytes, newer.bytes]) {
      await expectNoiseError(
        ResumableSession.restore(key, bytes, {
          generation: cell.get().generation,
          commit: () => assert.fail("must not commit"),
        }),
        NoiseErrorCode.SessionExpired,
      );
    }
  });

  test("a snapshot ahead of the counter (counter not stored with it) is refused", async () => {
    const { serverLink } = await ikPair();
    const key = await generateSnapshotKey();
    const snap = await ResumableSession.create(key, serverLink, { role: "Server", generation: 5 })
      .snapshot();
    const err = await expectNoiseError(
      ResumableSession.restore(key, snap.bytes, { generation: 3, commit: () => {} }),
      NoiseErrorCode.SessionExpired,
    );
    assert.match(err.message, /ahead of the holder's counter 3/);
  });

  test("restore awaits commit before handing out the session; a failed commit gives nothing", async () => {
    const { clientLink, serverLink } = await ikPair();
    const key = await generateSnapshotKey();
    const snap = await ResumableSession.create(key, serverLink, { role: "Server" }).snapshot();
    await expectNoiseError(
      ResumableSession.restore(key, snap.bytes, {
        generation: 1n,
        commit: () => Promise.reject(new Error("disk full")),
      }),
      NoiseErrorCode.Storage,
      "storage error: could not store the snapshot generation",
    );
    // The counter was not stored: the snapshot is still the current one.
    let order = "";
    const resumed = ResumableSession.restore(key, snap.bytes, {
      generation: 1n,
      commit: async (next, current) => {
        assert.equal(next, 2n);
        assert.equal(current, 1n);
        await new Promise((r) => setTimeout(r, 5));
        order += "committed;";
      },
    }).then((s) => {
      order += "returned;";
      return s;
    });
    const session = await resumed;
    assert.equal(order, "committed;returned;");
    assert.equal(text(session.link.decrypt(clientLink.encrypt(utf8("ok")))), "ok");
  });

  test("each snapshot takes the next generation, even when taken concurrently", async () => {
    const { serverLink } = await ikPair();
    const key = await generateSnapshotKey();
    const live = ResumableSession.create(key, serverLink, { role: "Server" });
    const snaps = await Promise.all([live.snapshot(), live.snapshot(), live.snapshot()]);
    assert.deepEqual(snaps.map((s) => s.generation), [1n, 2n, 3n]);
    assert.deepEqual(snaps.map((s) => s.previousGeneration), [0n, 1n, 2n]);
    assert.deepEqual(snaps.map((s) => peekSnapshot(s.bytes).generation), [1n, 2n, 3n]);
    assert.equal(live.generation, 3n);
  });
});

describe("bad snapshots are refused with a clear error and change nothing", () => {
  async function sealed() {
    const { clientLink, serverLink, clientIdentity } = await ikPair();
    const key = await generateSnapshotKey();
    const snap = await ResumableSession.create(key, serverLink, {
      role: "Server",
      remoteIdentity: clientIdentity,
    }).snapshot();
    return { key, snap, clientLink };
  }

  test("a change to any byte: Serde for magic and version, Decryption for everything else", async () => {
    const { key, snap } = await sealed();
    let commits = 0;
    const counts = { serde: 0, decryption: 0 };
    for (let i = 0; i < snap.bytes.length; i++) {
      const bad = snap.bytes.slice();
      bad[i] ^= 0x01;
      const expected = i < 5 ? NoiseErrorCode.Serde : NoiseErrorCode.Decryption;
      await expectNoiseError(
        ResumableSession.restore(key, bad, { generation: 1n, commit: () => void commits++ }),
        expected,
      );
      if (expected === NoiseErrorCode.Serde) counts.serde++;
      else counts.decryption++;
    }
    assert.equal(commits, 0);
    assert.deepEqual(counts, { serde: 5, decryption: snap.bytes.length - 5 });
  });

  test("a changed generation in the header does not authenticate (Decryption, not SessionExpired)", async () => {
    const { key, snap } = await sealed();
    const bad = snap.bytes.slice();
    bad[12] = 2; // generation 1 → 2, matching the counter passed below
    await expectNoiseError(
      ResumableSession.restore(key, bad, { generation: 2n, commit: () => {} }),
      NoiseErrorCode.Decryption,
      "decryption error: session snapshot does not authenticate (changed, truncated, or sealed under another key)",
    );
  });

  test("every truncation and an extension are refused: Serde when too short to parse, else Decryption", async () => {
    const { key, snap } = await sealed();
    const minimum = 45 + 12 + 82 + 16;
    for (let len = 0; len < snap.bytes.length; len++) {
      const expected = len < minimum ? NoiseErrorCode.Serde : NoiseErrorCode.Decryption;
      await expectNoiseError(
        ResumableSession.restore(key, snap.bytes.slice(0, len), {
          generation: 1n,
          commit: () => assert.fail("must not commit"),
        }),
        expected,
      );
    }
    const longer = new Uint8Array(snap.bytes.length + 1);
    longer.set(snap.bytes);
    await expectNoiseError(
      ResumableSession.restore(key, longer, { generation: 1n, commit: () => {} }),
      NoiseErrorCode.Decryption,
    );
  });

  test("not a snapshot, or another version: Serde with the reason", async () => {
    const { key, snap } = await sealed();
    await expectNoiseError(
      ResumableSession.restore(key, utf8("hello, world, this is not it"), {
        generation: 1n,
        commit: () => {},
      }),
      NoiseErrorCode.Serde,
      "serialization error: session snapshot: not a session snapshot (bad magic)",
    );
    const v2 = snap.bytes.slice();
    v2[4] = 2;
    await expectNoiseError(
      ResumableSession.restore(key, v2, { generation: 1n, commit: () => {} }),
      NoiseErrorCode.Serde,
      "serialization error: session snapshot: unsupported version 2 (this library reads 1)",
    );
    assert.throws(() => peekSnapshot("PNS1" as unknown as Uint8Array), {
      code: NoiseErrorCode.Serde,
    });
  });

  test("a foreign snapshot: another key, or another session than asked for", async () => {
    const { snap } = await sealed();
    await expectNoiseError(
      ResumableSession.restore(await generateSnapshotKey(), snap.bytes, {
        generation: 1n,
        commit: () => {},
      }),
      NoiseErrorCode.Decryption,
    );
    const { key, snap: mine } = await sealed();
    const other = new SessionId(new Uint8Array(32).fill(9));
    const err = await expectNoiseError(
      ResumableSession.restore(key, mine.bytes, {
        generation: 1n,
        sessionId: other,
        commit: () => assert.fail("must not commit"),
      }),
      NoiseErrorCode.Decryption,
    );
    assert.match(err.message, /is of session [0-9a-f]{64}, not 0909/);
  });

  test("keys: must be non-extractable AES-GCM; a raw secret imports to the same key", async () => {
    const { serverLink } = await ikPair();
    const extractable = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, true, [
      "encrypt",
      "decrypt",
    ]) as CryptoKey;
    assert.throws(
      () => ResumableSession.create(extractable, serverLink, { role: "Server" }),
      { code: NoiseErrorCode.Other, message: "other: the snapshot key must be non-extractable" },
    );
    const hmac = await crypto.subtle.generateKey(
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    ) as CryptoKey;
    assert.throws(() => ResumableSession.create(hmac, serverLink, { role: "Server" }), {
      code: NoiseErrorCode.Other,
    });
    await expectNoiseError(importSnapshotKey(new Uint8Array(16)), NoiseErrorCode.Other);

    // Two "processes" importing the same secret can read each other's snapshots.
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const before = secret.slice();
    const k1 = await importSnapshotKey(secret);
    const k2 = await importSnapshotKey(secret);
    assert.deepEqual(secret, before, "the caller's bytes are left alone");
    assert.equal(k1.extractable, false);
    const snap = await ResumableSession.create(k1, serverLink, { role: "Server" }).snapshot();
    const back = await ResumableSession.restore(k2, snap.bytes, {
      generation: 1,
      commit: () => {},
    });
    assert.ok(back.sessionId.equals(serverLink.sessionId));
  });

  test("bad arguments: Other, never a raw error", async () => {
    const { serverLink } = await ikPair();
    const key = await generateSnapshotKey();
    assert.throws(
      () => ResumableSession.create(key, serverLink, { role: "Peer" as "Server" }),
      { code: NoiseErrorCode.Other },
    );
    assert.throws(
      () => ResumableSession.create(key, serverLink, { role: "Server", generation: -1 }),
      { code: NoiseErrorCode.Other },
    );
    const snap = await ResumableSession.create(key, serverLink, { role: "Server" }).snapshot();
    await expectNoiseError(
      ResumableSession.restore(key, snap.bytes, { generation: 1.5, commit: () => {} }),
      NoiseErrorCode.Other,
    );
    await expectNoiseError(
      ResumableSession.restore(key, snap.bytes, { generation: 1n } as never),
      NoiseErrorCode.Other,
    );
    serverLink.destroy();
    await expectNoiseError(
      ResumableSession.create(key, serverLink, { role: "Server" }).snapshot(),
      NoiseErrorCode.Other,
      "other: transport has no keys (destroyed)",
    );
  });
});

describe("crash safety", () => {
  test("a crash between encrypt and store reuses a nonce only for a ciphertext nobody saw", async () => {
    const { clientLink, serverLink } = await ikPair();
    const key = await generateSnapshotKey();
    const cell = new DurableCell<Saved>();
    const live = ResumableSession.create(key, serverLink, { role: "Server" });
    const s0 = await live.snapshot();
    cell.put({ bytes: s0.bytes, generation: s0.generation });
    // Encrypted, but the process dies before storing a snapshot and sending it.
    const lost = live.link.encrypt(utf8("draft that never left"));
    live.destroy();
    const again = await ResumableSession.restore(key, cell.get().bytes, {
      generation: cell.get().generation,
      commit: committer(cell),
    });
    const sent = again.link.encrypt(utf8("the real message"));
    assert.notDeepEqual(sent, lost);
    assert.equal(text(clientLink.decrypt(sent)), "the real message");
    // The draft, had it leaked, would now be refused as out of order.
    await expectNoiseError(() => clientLink.decrypt(lost), NoiseErrorCode.Snow);
  });
});

// ---------------------------------------------------------------------------
// Kill mid-stream: two "processes" that each keep only a durable record.

interface PeerRecord {
  bytes: Uint8Array;
  generation: bigint;
  /** Application state: what was received, in order. */
  log: string[];
  /** Next message number to send (client) or unused (server). */
  next: number;
}

/** One process of one side: a restored (or fresh) session and the carrier's ends. */
class PeerProcess {
  readonly session: ResumableSession;
  readonly #store: DurableCell<PeerRecord>;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly log: string[];
  next: number;

  constructor(session: ResumableSession, store: DurableCell<PeerRecord>, carrier: MessageCarrier) {
    this.session = session;
    this.#store = store;
    const record = store.get();
    this.log = record.log;
    this.next = record.next;
    this.#reader = carrier.readable.getReader();
    this.#writer = carrier.writable.getWriter();
  }

  static async resume(
    key: CryptoKey,
    store: DurableCell<PeerRecord>,
    carrier: MessageCarrier,
  ): Promise<PeerProcess> {
    const record = store.get();
    const session = await ResumableSession.restore(key, record.bytes, {
      generation: record.generation,
      commit: (next, current) => {
        const now = store.get();
        assert.equal(now.generation, current);
        store.put({ ...now, generation: next });
      },
    });
    return new PeerProcess(session, store, carrier);
  }

  /** Durable before visible: snapshot + application state in one write. */
  async #persist(): Promise<void> {
    const snap = await this.session.snapshot();
    assert.equal(this.#store.get().generation, snap.previousGeneration, "compare-and-set");
    this.#store.put({
      bytes: snap.bytes,
      generation: snap.generation,
      log: [...this.log],
      next: this.next,
    });
  }

  async send(message: string): Promise<void> {
    const ct = this.session.link.encrypt(utf8(message));
    this.next++;
    await this.#persist();
    await this.#writer.write(ct);
  }

  async receive(): Promise<string> {
    const { value, done } = await within(this.#reader.read(), 5000, "carrier read");
    assert.equal(done, false);
    const message = text(this.session.link.decrypt(value!));
    this.log.push(message);
    await this.#persist();
    return message;
  }

  /** The process dies: its memory is gone, only the store and the carrier remain. */
  kill(): void {
    this.#reader.releaseLock();
    this.#writer.releaseLock();
    this.session.destroy();
  }
}

describe("kill mid-stream", () => {
  test("both sides are killed mid-stream and resumed from snapshots: nothing lost, nothing duplicated", async () => {
    const { clientLink, serverLink, clientIdentity } = await ikPair();
    const sessionId = clientLink.sessionId;
    const key = await generateSnapshotKey();
    const [clientEnd, serverEnd] = memoryCarrierPair({ highWaterMark: 4 });
    const clientStore = new DurableCell<PeerRecord>();
    const serverStore = new DurableCell<PeerRecord>();
    const total = 120;
    const killServerAfter = [40, 41, 77];
    const killClientAfterSending = [60, 100];

    async function initial(
      link: NoiseLink,
      role: "Client" | "Server",
      store: DurableCell<PeerRecord>,
      carrier: MessageCarrier,
    ) {
      const session = ResumableSession.create(key, link, {
        role,
        remoteIdentity: role === "Server" ? clientIdentity : null,
      });
      const snap = await session.snapshot();
      store.put({ bytes: snap.bytes, generation: snap.generation, log: [], next: 1 });
      return new PeerProcess(session, store, carrier);
    }

    let server = await initial(serverLink, "Server", serverStore, serverEnd);
    let client = await initial(clientLink, "Client", clientStore, clientEnd);
    const restarts = { server: 0, client: 0 };

    const serverLoop = (async () => {
      for (let handled = 0; handled < total;) {
        const message = await server.receive();
        await server.send(`ack ${message}`);
        handled++;
        if (killServerAfter.includes(handled)) {
          server.kill();
          // The client keeps sending into the carrier while the server is down.
          await new Promise((r) => setTimeout(r, 2));
          server = await PeerProcess.resume(key, serverStore, serverEnd);
          restarts.server++;
        }
      }
    })();

    const clientLoop = (async () => {
      while (client.next <= total) {
        const n = client.next;
        await client.send(`message ${n} ${"x".repeat(n % 17)}`);
        if (killClientAfterSending.includes(n)) {
          client.kill(); // its ack arrives while it is down
          client = await PeerProcess.resume(key, clientStore, clientEnd);
          restarts.client++;
        }
        const ack = await client.receive();
        assert.equal(ack, `ack message ${n} ${"x".repeat(n % 17)}`);
      }
    })();

    await within(Promise.all([serverLoop, clientLoop]), 15000, "the exchange");
    assert.deepEqual(restarts, { server: 3, client: 2 });
    const expected = Array.from(
      { length: total },
      (_, i) => `message ${i + 1} ${"x".repeat((i + 1) % 17)}`,
    );
    // The durable application state of each side: every message exactly once, in order.
    assert.deepEqual(serverStore.get().log, expected);
    assert.deepEqual(clientStore.get().log, expected.map((m) => `ack ${m}`));
    // Still the one Noise session of the handshake, at the nonces it should be.
    assert.ok(server.session.sessionId.equals(sessionId));
    assert.ok(client.session.sessionId.equals(sessionId));
    assert.equal(server.session.link.transport.receiveNonce, BigInt(total));
    assert.equal(client.session.link.transport.sendNonce, BigInt(total));
    // Every restore consumed a generation: the stored counter is past every snapshot taken.
    assert.ok(serverStore.get().generation > BigInt(2 * total));
  });
});

describe("NoiseManager.snapshot and restore", () => {
  async function connected(policy = {}) {
    const { client, server, clientRing } = await peers();
    const policyServer = new NoiseServer("kid", "dev-server-00000000", server.ring, { policy });
    const clients = NoiseManager.newClient(client);
    const servers = NoiseManager.newServer(policyServer);
    const hello = await clients.initiateConnection(await server.staticPublicKey());
    const accepted = await servers.acceptConnection(hello.firstMessage, { address: "192.0.2.1" });
    const done = await clients.completeConnection(hello.sessionId, accepted.response);
    return { clients, servers, id: done.sessionId, clientRing, policyServer };
  }

  test("a server manager resumes a session with the client's key and identity; counters carry on", async () => {
    const { clients, servers, id, clientRing } = await connected();
    const key = await generateSnapshotKey();
    await servers.decrypt(id, await clients.encrypt(id, utf8("one")));
    await clients.decrypt(id, await servers.encrypt(id, utf8("two")));
    const snap = await servers.snapshot(id, key);
    const before = JSON.stringify(servers.saveState(id));
    servers.destroy();

    const { policyServer } = await connected();
    const fresh = NoiseManager.newServer(policyServer);
    const restoredId = await fresh.restore(key, snap.bytes, {
      generation: snap.generation,
      commit: () => {},
    });
    assert.ok(restoredId.equals(id));
    assert.equal(JSON.stringify(fresh.saveState(id)), before);
    assert.equal(toHex(fresh.getPeerStaticKey(id)!), CLIENT_STATIC_HEX);
    assert.deepEqual(
      fresh.getPeerIdentity(id)?.ed25519Pub,
      await clientRing.ed25519PublicKey("kid"),
    );
    assert.equal(fresh.getStatus(id), "Connected");
    assert.equal(text(await fresh.decrypt(id, await clients.encrypt(id, utf8("three")))), "three");
  });

  test("refused: a snapshot of the other side, one already held, a stale one", async () => {
    const { clients, servers, id } = await connected();
    const key = await generateSnapshotKey();
    const serverSnap = await servers.snapshot(id, key);
    await expectNoiseError(
      clients.restore(key, serverSnap.bytes, { generation: 1n, commit: () => {} }),
      NoiseErrorCode.Other,
      "other: snapshot is of a Server session; this manager is a Client",
    );
    let commits = 0;
    const err = await expectNoiseError(
      servers.restore(key, serverSnap.bytes, { generation: 1n, commit: () => void commits++ }),
      NoiseErrorCode.Other,
    );
    assert.match(err.message, /already held by this manager/);
    servers.removeSession(id)?.destroy();
    await servers.restore(key, serverSnap.bytes, { generation: 1n, commit: () => void commits++ });
    servers.removeSession(id)?.destroy();
    await expectNoiseError(
      servers.restore(key, serverSnap.bytes, { generation: 2n, commit: () => void commits++ }),
      NoiseErrorCode.SessionExpired,
    );
    assert.equal(commits, 1);
  });

  test("a restored server session takes its identity's slot: MaxSessionsExceeded when none is left", async () => {
    const { servers, id, policyServer } = await connected({ maxSessionsPerEd25519: 1 });
    const key = await generateSnapshotKey();
    const snap = await servers.snapshot(id, key);
    // Another manager already holds a session of the same client identity.
    const other = await connected({ maxSessionsPerEd25519: 1 });
    const fresh = NoiseManager.newServer(policyServer);
    const keep = await other.servers.snapshot(other.id, key);
    await fresh.restore(key, keep.bytes, { generation: 1n, commit: () => {} });
    let commits = 0;
    await expectNoiseError(
      fresh.restore(key, snap.bytes, { generation: 1n, commit: () => void commits++ }),
      NoiseErrorCode.MaxSessionsExceeded,
    );
    assert.equal(commits, 0, "refused before the snapshot was consumed");
    fresh.removeSession(other.id);
    await fresh.restore(key, snap.bytes, { generation: 1n, commit: () => void commits++ });
    assert.equal(commits, 1);
  });

  test("withSession: encrypt, snapshot and store inside one lock", async () => {
    const { clients, servers, id } = await connected();
    const key = await generateSnapshotKey();
    const store: Saved[] = [];
    const ct = await servers.withSession(id, async (s) => {
      const out = s.link.encrypt(utf8("durable first"));
      const snap = await s.snapshot(key);
      store.push({ bytes: snap.bytes, generation: snap.generation });
      return out;
    });
    assert.equal(store.length, 1);
    assert.equal(peekSnapshot(store[0].bytes).generation, 1n);
    assert.equal(text(await clients.decrypt(id, ct)), "durable first");
    const next = await servers.snapshot(id, key);
    assert.equal(next.generation, 2n);
    assert.equal(next.previousGeneration, 1n);
  });
});
