/**
 * {@linkcode MemoryStorage}: one owner's storage space in memory, as both an
 * {@linkcode OutboxStorage} and a {@linkcode PublicStorageReader}, with a fault hook for tests.
 *
 * @module
 */
import { abortError, raceSignal } from "./retry.ts";
import { parseLocation } from "./paths.ts";
import { type OutboxStorage, type PublicStorageReader, StorageError } from "./types.ts";

/**
 * One storage operation, as seen by a {@linkcode MemoryFaultHook}.
 *
 * @example
 * ```ts
 * import { MemoryStorage, type MemoryStorageEvent } from "@pubky/noise/storage";
 * const seen: MemoryStorageEvent[] = [];
 * const store = new MemoryStorage({ faults: (event) => void seen.push(event) }); // a spy
 * await store.put("/pub/app/x", new Uint8Array([1]));
 * await store.get("/pub/app/x");
 * console.log(seen.map((e) => `${e.op}:${e.phase}`)); // [ "put:before", "put:after", "get:before", "get:after" ]
 * ```
 */
export interface MemoryStorageEvent {
  /** The operation. */
  op: "put" | "get" | "delete";
  /** Its path (for a `pubky://` read: the path part). */
  path: string;
  /** `"before"` the store changes or is read, `"after"` it did (the result not yet returned). */
  phase: "before" | "after";
  /** The bytes of a `put` (a copy). */
  bytes?: Uint8Array;
  /** The attempt's signal: a hook that hangs should settle when it aborts. */
  signal?: AbortSignal;
}

/**
 * Called twice per operation (`before` and `after`); throwing fails the operation at that
 * point (a throw `after` a `put` is the "stored, but reported as failed" case); returning a
 * promise delays it (a promise that never settles hangs until the attempt's signal aborts).
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteNn, clientStartNn, DummyRing, NoiseClient, NoiseServer, serverAcceptNn,
 *   serverCompleteNn,
 * } from "@pubky/noise";
 * import { type MemoryFaultHook, MemoryStorage, StorageBackedMessaging, StorageError } from "@pubky/noise/storage";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const c = await clientStartNn(client);
 * const s = await serverAcceptNn(new NoiseServer("kid", "server-device-0001", ring), c.firstMsg);
 * const aliceLink = await clientCompleteNn(client, c.hs, s.response);
 * const bobLink = serverCompleteNn(s.hs);
 * let failures = 2;
 * const flaky: MemoryFaultHook = (e) => { // two failed writes, then the server recovers
 *   if (e.op === "put" && e.phase === "before" && failures-- > 0) throw new StorageError("503", 503);
 * };
 * const aliceStore = new MemoryStorage({ faults: flaky });
 * const alice = new StorageBackedMessaging(aliceLink, aliceStore, new MemoryStorage(), "/pub/a", "/pub/b", {
 *   retry: { maxRetries: 3, initialBackoffMs: 1 },
 * });
 * console.log(await alice.sendMessage(new Uint8Array([42])), aliceStore.paths()); // 0 [ "/pub/a/msg_0" ]
 * ```
 */
export type MemoryFaultHook = (event: MemoryStorageEvent) => void | Promise<void>;

/**
 * Options of {@linkcode MemoryStorage}.
 *
 * @example
 * ```ts
 * import { MemoryStorage, type MemoryStorageOptions } from "@pubky/noise/storage";
 * const owner = "o".repeat(52); // the owner's z-base-32 key
 * const options: MemoryStorageOptions = { owner };
 * const store = new MemoryStorage(options);
 * await store.put("/pub/app/hello", new TextEncoder().encode("hi"));
 * const bytes = await store.get(`pubky://${owner}/pub/app/hello`); // as a peer reads it
 * console.log(new TextDecoder().decode(bytes!)); // hi
 * ```
 */
export interface MemoryStorageOptions {
  /** The owner's z-base-32 key: `pubky://<owner>/...` reads are served, others refused. */
  owner?: string;
  /** The fault hook (settable later through {@linkcode MemoryStorage.faults}). */
  faults?: MemoryFaultHook | null;
}

function hang(signal: AbortSignal | undefined): Promise<never> {
  return new Promise<never>((_, reject) => {
    signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

/**
 * One owner's storage in memory: `put`/`get`/`delete` on paths, with copies in and out.
 *
 * @example
 * ```ts
 * import { MemoryStorage } from "@pubky/noise/storage";
 * const store = new MemoryStorage();
 * await store.put("/pub/app/x", new Uint8Array([1, 2]));
 * console.log(await store.get("/pub/app/x"), await store.get("/pub/app/y")); // Uint8Array(2) [1, 2] null
 * ```
 */
export class MemoryStorage implements OutboxStorage, PublicStorageReader {
  readonly #objects = new Map<string, Uint8Array>();
  readonly #owner: string | null;
  /** The fault hook, or `null`. */
  faults: MemoryFaultHook | null;

  /** An empty store. */
  constructor(options: MemoryStorageOptions = {}) {
    this.#owner = options.owner ?? null;
    this.faults = options.faults ?? null;
  }

  /** A promise that never settles unless `signal` aborts: for hooks that simulate a hang. */
  static hang(signal: AbortSignal | undefined): Promise<never> {
    return hang(signal);
  }

  /** The owner key given at construction, or `null`. */
  get owner(): string | null {
    return this.#owner;
  }

  async #run<T>(
    op: MemoryStorageEvent["op"],
    path: string,
    bytes: Uint8Array | undefined,
    signal: AbortSignal | undefined,
    action: () => T,
  ): Promise<T> {
    const step = async (phase: "before" | "after") => {
      if (signal?.aborted) throw abortError(signal, `${op} ${path}`);
      const hook = this.faults;
      if (!hook) return;
      const event: MemoryStorageEvent = { op, path, phase, signal };
      if (bytes) event.bytes = bytes.slice();
      const pending = Promise.resolve().then(() => hook(event));
      await (signal
        ? raceSignal(pending, signal, () => abortError(signal, `${op} ${path}`))
        : pending);
    };
    await step("before");
    const result = action();
    await step("after");
    return result;
  }

  /** Stores a copy of `bytes` at `path`. */
  put(path: string, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
    if (!(bytes instanceof Uint8Array)) {
      return Promise.reject(new StorageError("put needs a Uint8Array body", 400));
    }
    const copy = bytes.slice();
    return this.#run("put", path, copy, signal, () => void this.#objects.set(path, copy));
  }

  /** A copy of the object at `location` (a path or `pubky://<owner>/path`), or `null`. */
  get(location: string, signal?: AbortSignal): Promise<Uint8Array | null> {
    let path = location;
    if (typeof location === "string" && location.startsWith("pubky://")) {
      let parsed;
      try {
        parsed = parseLocation(location);
      } catch (e) {
        return Promise.reject(e);
      }
      if (parsed.owner !== this.#owner) {
        return Promise.reject(
          new StorageError(`this MemoryStorage does not hold the storage of ${parsed.owner}`, 404),
        );
      }
      path = parsed.path;
    }
    return this.#run(
      "get",
      path,
      undefined,
      signal,
      () => this.#objects.get(path)?.slice() ?? null,
    );
  }

  /** Removes `path` (no error if missing). */
  delete(path: string, signal?: AbortSignal): Promise<void> {
    return this.#run("delete", path, undefined, signal, () => void this.#objects.delete(path));
  }

  /** Whether `path` holds an object (no fault hook involved). */
  has(path: string): boolean {
    return this.#objects.has(path);
  }

  /** A copy of the object at `path`, bypassing the fault hook (for assertions). */
  peek(path: string): Uint8Array | null {
    return this.#objects.get(path)?.slice() ?? null;
  }

  /** The stored paths, in insertion order. */
  paths(): string[] {
    return [...this.#objects.keys()];
  }
}
