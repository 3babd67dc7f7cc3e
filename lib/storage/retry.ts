/**
 * Retries of storage operations: the crate's `RetryConfig` with one meaning for `maxRetries`
 * (retries **after** the first attempt), exponential backoff with full jitter, and a time-out
 * on every attempt through an `AbortSignal`.
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";

/**
 * Retry behaviour of storage operations (the crate's `RetryConfig`, camelCased).
 *
 * - `maxRetries`: how many times a failed attempt is **retried**; an operation makes at most
 *   `maxRetries + 1` attempts. (The crate used the number as the total for writes and as the
 *   number of retries for reads; here it has this one meaning everywhere.)
 * - `initialBackoffMs`, `maxBackoffMs`: the wait before retry `n` (1, 2, …) is drawn uniformly
 *   from `[0, min(maxBackoffMs, initialBackoffMs · 2^(n−1))]` ("full jitter").
 * - `operationTimeoutMs`: limit of each single attempt; the attempt's `AbortSignal` fires then
 *   (adapters pass it to `fetch`), and the attempt counts as failed with `Timeout` (8001).
 *
 * Only retryable errors are retried ({@linkcode NoiseError.isRetryable}: server errors,
 * network errors, time-outs); an error such as a refused authentication fails at once.
 *
 * @example
 * ```ts
 * import { DEFAULT_RETRY_CONFIG, type RetryConfig } from "@pubky/noise/storage";
 * const config: RetryConfig = { ...DEFAULT_RETRY_CONFIG, maxRetries: 5 };
 * console.log(config.maxRetries + 1); // 6 attempts at most
 * ```
 */
export interface RetryConfig {
  /** Retries after the first attempt (default 3, so 4 attempts). */
  maxRetries: number;
  /** Upper bound of the first backoff, in ms (default 100). */
  initialBackoffMs: number;
  /** Cap of the backoff bound, in ms (default 5000). */
  maxBackoffMs: number;
  /** Limit of one attempt, in ms (default 30 000). */
  operationTimeoutMs: number;
}

/**
 * The crate's defaults: 3 retries, 100 ms initial backoff, 5 s cap, 30 s per attempt.
 *
 * @example
 * ```ts
 * import { DEFAULT_RETRY_CONFIG, type RetryConfig } from "@pubky/noise/storage";
 * console.log(DEFAULT_RETRY_CONFIG); // { maxRetries: 3, initialBackoffMs: 100, maxBackoffMs: 5000, operationTimeoutMs: 30000 }
 * const patient: RetryConfig = { ...DEFAULT_RETRY_CONFIG, maxRetries: 6, operationTimeoutMs: 10_000 };
 * console.log(patient.maxRetries); // 6
 * ```
 */
export const DEFAULT_RETRY_CONFIG: Readonly<RetryConfig> = Object.freeze({
  maxRetries: 3,
  initialBackoffMs: 100,
  maxBackoffMs: 5000,
  operationTimeoutMs: 30000,
});

/** Largest `maxRetries` accepted. */
const MAX_RETRIES_LIMIT = 1000;

function configError(detail: string): NoiseError {
  return new NoiseError(NoiseErrorCode.Storage, `invalid RetryConfig: ${detail}`);
}

/**
 * `partial` over the defaults, checked: integers, `maxRetries` in 0..=1000, backoffs ≥ 0,
 * `operationTimeoutMs` ≥ 1. Throws `NoiseError` (Storage) otherwise.
 */
export function resolveRetryConfig(partial: Partial<RetryConfig> = {}): RetryConfig {
  if (partial === null || typeof partial !== "object") throw configError("must be an object");
  const config: RetryConfig = { ...DEFAULT_RETRY_CONFIG };
  for (const key of Object.keys(DEFAULT_RETRY_CONFIG) as (keyof RetryConfig)[]) {
    if (partial[key] !== undefined) config[key] = partial[key];
  }
  const { maxRetries, initialBackoffMs, maxBackoffMs, operationTimeoutMs } = config;
  if (!Number.isInteger(maxRetries) || maxRetries < 0 || maxRetries > MAX_RETRIES_LIMIT) {
    throw configError(`maxRetries must be an integer in 0..=${MAX_RETRIES_LIMIT}`);
  }
  for (
    const [name, value] of [["initialBackoffMs", initialBackoffMs], [
      "maxBackoffMs",
      maxBackoffMs,
    ]] as const
  ) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw configError(`${name} must be a non-negative integer`);
    }
  }
  if (!Number.isSafeInteger(operationTimeoutMs) || operationTimeoutMs < 1) {
    throw configError("operationTimeoutMs must be a positive integer");
  }
  return config;
}

/**
 * The wait before retry number `retry` (1-based): uniform in
 * `[0, min(maxBackoffMs, initialBackoffMs · 2^(retry−1))]` given `random()` in `[0, 1)`.
 *
 * @example
 * ```ts
 * import { backoffDelay, DEFAULT_RETRY_CONFIG } from "./retry.ts";
 * console.log(backoffDelay(3, DEFAULT_RETRY_CONFIG, () => 0.5)); // 200 (half of 400)
 * ```
 */
export function backoffDelay(retry: number, config: RetryConfig, random: () => number): number {
  const exponent = Math.min(Math.max(retry - 1, 0), 52);
  const bound = Math.min(config.maxBackoffMs, config.initialBackoffMs * 2 ** exponent);
  const r = random();
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
  return Math.floor(unit * bound);
}

/**
 * The error an aborted caller signal stands for: its reason if that is a `NoiseError`, a
 * `Timeout` for a `TimeoutError` reason, else `Other` ("aborted").
 */
export function abortError(signal: AbortSignal, what: string): NoiseError {
  const reason: unknown = signal.reason;
  if (reason instanceof NoiseError) return reason;
  if (reason instanceof Error && reason.name === "TimeoutError") {
    return new NoiseError(NoiseErrorCode.Timeout, `${what} aborted by its signal (time-out)`);
  }
  return new NoiseError(NoiseErrorCode.Other, `${what} aborted`);
}

/**
 * `p`, unless `signal` aborts first (then the abort error). Removes its listener when done, so
 * nothing lingers.
 */
export function raceSignal<T>(
  p: Promise<T>,
  signal: AbortSignal,
  onAbort: () => Error,
): Promise<T> {
  if (signal.aborted) {
    p.catch(() => {});
    return Promise.reject(onAbort());
  }
  return new Promise<T>((resolve, reject) => {
    const listener = () => reject(onAbort());
    signal.addEventListener("abort", listener, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", listener);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", listener);
        reject(e);
      },
    );
  });
}

/** Waits `ms`, or rejects as soon as `signal` aborts; leaves no timer behind. */
export function sleep(ms: number, signal?: AbortSignal, what = "wait"): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError(signal, what));
  if (ms <= 0) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal!, what));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Maps anything thrown by a storage adapter to a `NoiseError` (unknown errors: Storage). */
export function toStorageError(e: unknown, what: string): NoiseError {
  if (e instanceof NoiseError) return e;
  const text = e instanceof Error ? e.message : String(e);
  return new NoiseError(NoiseErrorCode.Storage, `${what} failed: ${text}`);
}

/**
 * Runs one attempt of `op` with its own `AbortSignal` that fires after `timeoutMs` or when
 * `outer` aborts. A time-out gives `NoiseError` Timeout (8001) even if `op` ignores its signal.
 */
export async function attempt<T>(
  op: (signal: AbortSignal) => Promise<T>,
  timeoutMs: number,
  what: string,
  outer?: AbortSignal,
): Promise<T> {
  if (outer?.aborted) throw abortError(outer, what);
  const controller = new AbortController();
  const timedOut = new NoiseError(NoiseErrorCode.Timeout, `${what} timed out after ${timeoutMs}ms`);
  const timer = setTimeout(() => controller.abort(timedOut), timeoutMs);
  const onOuterAbort = () => controller.abort(abortError(outer!, what));
  outer?.addEventListener("abort", onOuterAbort, { once: true });
  try {
    let running: Promise<T>;
    try {
      running = Promise.resolve(op(controller.signal));
    } catch (e) {
      running = Promise.reject(e);
    }
    return await raceSignal(running, controller.signal, () => controller.signal.reason as Error);
  } catch (e) {
    // Whatever the adapter threw after our signal fired, the cause is the signal.
    if (controller.signal.aborted) throw controller.signal.reason as NoiseError;
    throw toStorageError(e, what);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener("abort", onOuterAbort);
  }
}

/** Options of {@linkcode withRetry}. */
export interface RetryRunOptions {
  /** Aborts the whole operation, including a backoff wait. */
  signal?: AbortSignal;
  /** Source of jitter, in `[0, 1)` (default `Math.random`). */
  random?: () => number;
  /** Called before each retry with its number and the error that caused it (for logs, tests). */
  onRetry?: (retry: number, error: NoiseError, delayMs: number) => void;
}

/**
 * Runs `op` with up to `config.maxRetries` retries of retryable failures, each attempt limited
 * to `config.operationTimeoutMs`. The final error keeps the code of the last failure (Storage
 * 9000, Network 8000 or Timeout 8001) and says how many attempts were made.
 */
export async function withRetry<T>(
  op: (signal: AbortSignal) => Promise<T>,
  config: RetryConfig,
  what: string,
  options: RetryRunOptions = {},
): Promise<T> {
  const random = options.random ?? Math.random;
  for (let n = 1;; n++) {
    try {
      return await attempt(op, config.operationTimeoutMs, what, options.signal);
    } catch (e) {
      const error = e as NoiseError;
      if (options.signal?.aborted) throw abortError(options.signal, what);
      if (!error.isRetryable || n > config.maxRetries) {
        if (n === 1) throw error;
        throw new NoiseError(
          error.code,
          `${what} failed after ${n} attempts: ${error.detail || error.message}`,
        );
      }
      const delay = backoffDelay(n, config, random);
      options.onRetry?.(n, error, delay);
      await sleep(delay, options.signal, what);
    }
  }
}
