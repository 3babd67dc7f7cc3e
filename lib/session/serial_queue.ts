/**
 * A promise-chain mutex: tasks run one at a time, in the order they were queued,
 * each to its end (awaits included) before the next starts. What the session
 * managers put in front of each direction of a session, so that async work done
 * under the lock (a carrier write after an encryption) keeps nonce order.
 *
 * @module
 */

function noop(): void {}

/** One settled promise shared by every idle queue (no allocation per queue). */
const SETTLED: Promise<void> = Promise.resolve();

/** Runs queued tasks one after the other, in call order. */
export class SerialQueue {
  #tail: Promise<void> = SETTLED;
  #pending = 0;

  /**
   * Queues `task`; resolves or rejects with its result. A failing task does not
   * stop the queue.
   */
  run<T>(task: () => T | Promise<T>): Promise<T> {
    this.#pending++;
    const result = this.#tail.then(task);
    this.#tail = result.then(noop, noop).then(() => {
      this.#pending--;
    });
    return result;
  }

  /** Tasks queued or running. */
  get pending(): number {
    return this.#pending;
  }
}

/** Runs `task` while holding both queues (taken in a fixed order: `a`, then `b`). */
export function runBoth<T>(a: SerialQueue, b: SerialQueue, task: () => T | Promise<T>): Promise<T> {
  return a.run(() => b.run(task));
}
