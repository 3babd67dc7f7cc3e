/**
 * Exactly-once, in-order delivery through storage under faults at every step: server errors,
 * network errors, hangs (time-outs), writes that were stored but reported as failed, reads
 * whose answer was lost, crashes between a successful operation and saving its counter, and
 * restarts of either side from the saved counters (same session, new messaging objects).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { NoiseError, NoiseErrorCode } from "../lib/errors.ts";
import { equalBytes } from "../lib/bytes.ts";
import type { NoiseLink } from "../lib/link.ts";
import {
  MemoryStorage,
  type MemoryStorageEvent,
  StorageBackedMessaging,
  StorageError,
} from "../storage.ts";
import { prng, sessionPair, text, utf8 } from "./_storage_helpers.ts";

const RETRY = { maxRetries: 1, initialBackoffMs: 1, maxBackoffMs: 3, operationTimeoutMs: 15 };
const TRANSIENT = new Set<number>([
  NoiseErrorCode.Storage,
  NoiseErrorCode.Network,
  NoiseErrorCode.Timeout,
]);

/** What each side persists, atomically, after each completed operation. */
interface Saved {
  write: number;
  read: number;
  delivered: string[];
}

interface Party {
  name: string;
  link: NoiseLink;
  store: MemoryStorage;
  peer: Party | null;
  outgoing: string[];
  saved: Saved;
  messaging: StorageBackedMessaging;
}

interface Stats {
  faults: Record<string, number>;
  crashes: number;
  restarts: number;
  pendingResends: number;
  errors: Record<number, number>;
  idempotencyViolations: string[];
}

function faultHook(store: MemoryStorage, rand: () => number, stats: Stats) {
  const firstWrite = new Map<string, Uint8Array>();
  return async (e: MemoryStorageEvent) => {
    if (e.op === "put" && e.phase === "before") {
      const first = firstWrite.get(e.path);
      if (first === undefined) firstWrite.set(e.path, e.bytes!);
      else if (!equalBytes(first, e.bytes!)) stats.idempotencyViolations.push(e.path);
    }
    const r = rand();
    const hit = (kind: string) => void (stats.faults[kind] = (stats.faults[kind] ?? 0) + 1);
    if (e.phase === "before") {
      if (r < 0.08) {
        hit("503");
        throw new StorageError(`${e.op} ${e.path} answered HTTP 503`, 503);
      }
      if (r < 0.12) {
        hit("network");
        throw new NoiseError(NoiseErrorCode.Network, "connection refused");
      }
      if (r < 0.15) {
        hit("hang");
        await MemoryStorage.hang(e.signal);
      }
    } else if (e.op === "put" && r < 0.12) {
      hit("stored-but-500");
      throw new StorageError(`${e.op} ${e.path} answered HTTP 500`, 500);
    } else if (e.op === "get" && r < 0.05) {
      hit("answer-lost");
      throw new NoiseError(NoiseErrorCode.Network, "connection reset while reading");
    }
    void store;
  };
}

function open(p: Party, rand: () => number): StorageBackedMessaging {
  return new StorageBackedMessaging(
    p.link,
    p.store,
    p.peer!.store,
    `/pub/chat/${p.name}`,
    `/pub/chat/${p.peer!.name}`,
    { retry: RETRY, random: rand },
  ).withCounters(p.saved.write, p.saved.read);
}

function countError(stats: Stats, e: unknown): void {
  assert.ok(e instanceof NoiseError, `unexpected ${String(e)}`);
  assert.ok(TRANSIENT.has(e.code), `only transient errors may surface, got ${e.message}`);
  stats.errors[e.code] = (stats.errors[e.code] ?? 0) + 1;
}

async function step(p: Party, rand: () => number, stats: Stats): Promise<void> {
  assert.deepEqual(p.messaging.counters, { write: p.saved.write, read: p.saved.read });
  const r = rand();
  if (r < 0.08) {
    stats.restarts++;
    p.messaging = open(p, rand); // restart: a new object from the saved counters, same session
    return;
  }
  if (r < 0.5 && p.saved.write < p.outgoing.length) {
    if (p.messaging.pendingCounter !== null) stats.pendingResends++;
    try {
      const counter = await p.messaging.sendMessage(utf8(p.outgoing[p.saved.write]));
      assert.equal(counter, p.saved.write);
    } catch (e) {
      countError(stats, e);
      return; // the app sends the same message again at its next step
    }
    if (rand() < 0.15) {
      stats.crashes++; // crash after the write, before the counter was saved
      p.messaging = open(p, rand);
    } else {
      p.saved.write = p.messaging.writeCounter;
    }
    return;
  }
  let got: Uint8Array[];
  try {
    got = await p.messaging.receiveMessages(1 + Math.floor(rand() * 4));
  } catch (e) {
    countError(stats, e);
    return;
  }
  if (got.length > 0 && rand() < 0.15) {
    stats.crashes++; // crash after reading, before the messages and the counter were saved
    p.messaging = open(p, rand);
    return;
  }
  p.saved.delivered.push(...got.map(text)); // saved together with the counter
  p.saved.read = p.messaging.readCounter;
}

async function run(seed: number, count: number): Promise<Stats> {
  const rand = prng(seed);
  const stats: Stats = {
    faults: {},
    crashes: 0,
    restarts: 0,
    pendingResends: 0,
    errors: {},
    idempotencyViolations: [],
  };
  const [aliceLink, bobLink] = await sessionPair();
  const mk = (name: string, link: NoiseLink): Party => ({
    name,
    link,
    store: new MemoryStorage(),
    peer: null,
    outgoing: Array.from({ length: count }, (_, i) => `${name}→${i} ${"·".repeat(i % 5)}`),
    saved: { write: 0, read: 0, delivered: [] },
    messaging: null as unknown as StorageBackedMessaging,
  });
  const alice = mk("alice", aliceLink);
  const bob = mk("bob", bobLink);
  alice.peer = bob;
  bob.peer = alice;
  for (const p of [alice, bob]) {
    p.store.faults = faultHook(p.store, rand, stats);
    p.messaging = open(p, rand);
  }
  for (let steps = 0; steps < 20000; steps++) {
    if (alice.saved.delivered.length === count && bob.saved.delivered.length === count) break;
    await step(rand() < 0.5 ? alice : bob, rand, stats);
  }
  assert.deepEqual(bob.saved.delivered, alice.outgoing, "bob got alice's messages once, in order");
  assert.deepEqual(alice.saved.delivered, bob.outgoing, "alice got bob's messages once, in order");
  assert.deepEqual(stats.idempotencyViolations, [], "a path was never written with other bytes");
  for (const p of [alice, bob]) {
    assert.deepEqual(
      p.store.paths().sort(),
      Array.from({ length: count }, (_, i) => `/pub/chat/${p.name}/msg_${i}`).sort(),
    );
  }
  return stats;
}

describe("storage messaging under injected faults", () => {
  for (const seed of [1, 2, 3]) {
    test(`seed ${seed}: 30 messages each way arrive exactly once, in order, through every kind of fault`, async () => {
      const stats = await run(seed, 30);
      for (const kind of ["503", "network", "hang", "stored-but-500", "answer-lost"]) {
        assert.ok((stats.faults[kind] ?? 0) > 0, `fault ${kind} was exercised`);
      }
      assert.ok(stats.crashes > 0 && stats.restarts > 0, "crashes and restarts were exercised");
      assert.ok(stats.pendingResends > 0, "failed sends were sent again from their pending state");
    });
  }
});
