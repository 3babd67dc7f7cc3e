/**
 * Storage paths (the crate's validation, messages and object names) and the retry machinery
 * (one meaning of `maxRetries`, capped exponential backoff with full jitter, per-attempt
 * time-outs through `AbortSignal`).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { NoiseError, NoiseErrorCode } from "../lib/errors.ts";
import { DEFAULT_RETRY_CONFIG, messagePath, StorageError, validatePath } from "../storage.ts";
import { normalizeBasePath, parseLocation } from "../lib/storage/paths.ts";
import { backoffDelay, resolveRetryConfig, withRetry } from "../lib/storage/retry.ts";
import { rejectsWith, throwsWith } from "./_storage_helpers.ts";

const STORAGE = NoiseErrorCode.Storage;
const OWNER = "ybndrfg8ejkmcpqxot1uwisza345h769ybndrfg8ejkmcpqxot1u";

describe("storage paths (crate rules)", () => {
  test("accepts the crate's valid examples, including Unicode letters and digits", () => {
    for (const p of ["/pub/noise/handshake/abc123", "/pub/noise/hs/peer-key-hex", "/a", "/"]) {
      validatePath(p);
    }
    validatePath("/pub/ünïcödé/日本/٣");
    validatePath("/pub/a_b-c.d");
  });

  test("each rule is refused with the crate's exact message, in the crate's order", () => {
    const cases: [string, string][] = [
      ["", "storage error: Path cannot be empty"],
      ["pub/noise/hs", "storage error: Path must start with /"],
      ["/" + "a".repeat(1024), "storage error: Path exceeds maximum length of 1024 characters"],
      ["/pub/../etc", "storage error: Path cannot contain .. sequences (path traversal)"],
      ["/pub//noise", "storage error: Path cannot contain // sequences"],
      ["/pub/noise?query", "storage error: Path contains invalid character: '?'"],
      ["/pub/noise#frag", "storage error: Path contains invalid character: '#'"],
      ["/pub/noise key", "storage error: Path contains invalid character: ' '"],
      ["/pub/a:b", "storage error: Path contains invalid character: ':'"],
      // length is checked before characters, traversal before double slashes
      ["/" + "?".repeat(1024), "storage error: Path exceeds maximum length of 1024 characters"],
      ["/..//", "storage error: Path cannot contain .. sequences (path traversal)"],
      // validation runs before normalisation: two trailing slashes are a "//"
      ["/pub/noise/hs//", "storage error: Path cannot contain // sequences"],
    ];
    for (const [path, message] of cases) {
      const e = throwsWith(() => validatePath(path), STORAGE);
      assert.equal(e.message, message, JSON.stringify(path));
    }
  });

  test("the length limit counts UTF-8 bytes, as Rust's str::len", () => {
    validatePath("/" + "é".repeat(511)); // 1 + 1022 bytes
    throwsWith(() => validatePath("/" + "é".repeat(512)), STORAGE, /maximum length/);
  });

  test("normalisation strips trailing slashes but keeps the root", () => {
    assert.equal(normalizeBasePath("/pub/noise/hs/"), "/pub/noise/hs");
    assert.equal(normalizeBasePath("/pub/noise/hs///"), "/pub/noise/hs");
    assert.equal(normalizeBasePath("/pub/noise/hs"), "/pub/noise/hs");
    assert.equal(normalizeBasePath("/"), "/");
  });

  test("message objects are {base}/msg_{decimal counter}, unpadded", () => {
    assert.equal(messagePath("/pub/app/out", 0), "/pub/app/out/msg_0");
    assert.equal(messagePath("/pub/app/out", 1234567), "/pub/app/out/msg_1234567");
    throwsWith(() => messagePath("/pub/app/out", -1), STORAGE, /non-negative safe integer/);
    throwsWith(() => messagePath("/pub/app/out", 1.5), STORAGE);
    throwsWith(() => messagePath("/pub/app/out", 2 ** 53), STORAGE);
  });

  test("a pubky:// location names a z-base-32 key and a path checked with the same rules", () => {
    assert.deepEqual(parseLocation(`pubky://${OWNER}/pub/app/out`), {
      owner: OWNER,
      path: "/pub/app/out",
    });
    assert.deepEqual(parseLocation("/pub/app/out"), { owner: null, path: "/pub/app/out" });
    throwsWith(() => parseLocation("pubky://short/pub/x"), STORAGE, /z-base-32/);
    throwsWith(() => parseLocation(`pubky://${OWNER.toUpperCase()}/pub/x`), STORAGE, /z-base-32/);
    throwsWith(() => parseLocation(`pubky://${OWNER}`), STORAGE, /cannot be empty/);
    throwsWith(() => parseLocation(`pubky://${OWNER}/pub/../x`), STORAGE, /traversal/);
  });
});

describe("RetryConfig", () => {
  test("defaults are the crate's", () => {
    assert.deepEqual({ ...DEFAULT_RETRY_CONFIG }, {
      maxRetries: 3,
      initialBackoffMs: 100,
      maxBackoffMs: 5000,
      operationTimeoutMs: 30000,
    });
    assert.deepEqual(resolveRetryConfig({ maxRetries: 0 }), {
      ...DEFAULT_RETRY_CONFIG,
      maxRetries: 0,
    });
  });

  test("invalid settings are refused with Storage", () => {
    for (
      const bad of [
        { maxRetries: -1 },
        { maxRetries: 1.5 },
        { maxRetries: 1001 },
        { initialBackoffMs: -1 },
        { maxBackoffMs: Number.NaN },
        { operationTimeoutMs: 0 },
        { operationTimeoutMs: Infinity },
      ]
    ) {
      throwsWith(() => resolveRetryConfig(bad), STORAGE, /invalid RetryConfig/);
    }
  });

  test("backoff doubles from initialBackoffMs, is capped at maxBackoffMs, and is fully jittered", () => {
    const config = { ...DEFAULT_RETRY_CONFIG, initialBackoffMs: 100, maxBackoffMs: 1000 };
    const top = () => 0.999999999;
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, config, top)),
      [99, 199, 399, 799, 999, 999],
    );
    assert.equal(backoffDelay(3, config, () => 0), 0);
    assert.equal(backoffDelay(3, config, () => 0.5), 200);
    assert.equal(backoffDelay(60, config, () => 0.5), 500); // no overflow for huge retry numbers
  });
});

describe("withRetry", () => {
  const fast = { maxRetries: 3, initialBackoffMs: 1, maxBackoffMs: 2, operationTimeoutMs: 200 };

  test("maxRetries counts retries after the first attempt: 3 retries = 4 attempts", async () => {
    let calls = 0;
    const e = await rejectsWith(
      withRetry(
        () => {
          calls++;
          return Promise.reject(new StorageError("boom", 503));
        },
        fast,
        "PUT /x",
      ),
      STORAGE,
      /PUT \/x failed after 4 attempts: .*boom/,
    );
    assert.equal(calls, 4);
    assert.ok(e instanceof NoiseError);
  });

  test("succeeds as soon as an attempt does, and reports each retry with its delay", async () => {
    let calls = 0;
    const retries: number[] = [];
    const value = await withRetry(
      () => ++calls < 3 ? Promise.reject(new StorageError("busy", 503)) : Promise.resolve("ok"),
      fast,
      "GET /x",
      { onRetry: (n, _e, delay) => retries.push(n) && assert.ok(delay <= 2) },
    );
    assert.equal(value, "ok");
    assert.equal(calls, 3);
    assert.deepEqual(retries, [1, 2]);
  });

  test("a non-retryable error (HTTP 401) fails at once, unchanged", async () => {
    let calls = 0;
    const e = await rejectsWith(
      withRetry(
        () => {
          calls++;
          return Promise.reject(new StorageError("PUT answered HTTP 401", 401));
        },
        fast,
        "PUT /x",
      ),
      STORAGE,
    );
    assert.equal(calls, 1);
    assert.ok(e instanceof StorageError && e.status === 401);
  });

  test("an attempt that never settles times out through its signal (Timeout), then is retried", async () => {
    let calls = 0;
    const aborted: boolean[] = [];
    const config = { ...fast, maxRetries: 1, operationTimeoutMs: 30 };
    const started = Date.now();
    await rejectsWith(
      withRetry(
        (signal) => {
          calls++;
          signal.addEventListener("abort", () => aborted.push(true));
          return new Promise(() => {}); // ignores its signal on purpose
        },
        config,
        "GET /slow",
      ),
      NoiseErrorCode.Timeout,
      /GET \/slow failed after 2 attempts: GET \/slow timed out after 30ms/,
    );
    assert.equal(calls, 2);
    assert.deepEqual(aborted, [true, true]);
    assert.ok(Date.now() - started < 2000);
  });

  test("raw errors of an adapter become retryable Storage errors; Network stays Network", async () => {
    let calls = 0;
    await rejectsWith(
      withRetry(
        () => {
          calls++;
          return Promise.reject(new TypeError("socket hang up"));
        },
        { ...fast, maxRetries: 1 },
        "PUT /x",
      ),
      STORAGE,
      /after 2 attempts: PUT \/x failed: socket hang up/,
    );
    assert.equal(calls, 2);
    await rejectsWith(
      withRetry(
        () => Promise.reject(new NoiseError(NoiseErrorCode.Network, "refused")),
        { ...fast, maxRetries: 0 },
        "GET /x",
      ),
      NoiseErrorCode.Network,
      /refused/,
    );
  });

  test("the caller's signal stops the retries and the backoff wait", async () => {
    const controller = new AbortController();
    let calls = 0;
    const p = withRetry(
      () => {
        calls++;
        if (calls === 2) controller.abort(new NoiseError(NoiseErrorCode.Other, "app shut down"));
        return Promise.reject(new StorageError("busy", 503));
      },
      { ...fast, maxRetries: 100, initialBackoffMs: 5 },
      "PUT /x",
      { signal: controller.signal },
    );
    await rejectsWith(p, NoiseErrorCode.Other, /app shut down/);
    assert.equal(calls, 2);
  });
});
