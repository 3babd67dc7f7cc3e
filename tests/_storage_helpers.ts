/**
 * Shared fixtures of the storage tests: established sessions, a seeded PRNG, error assertions.
 * Not a test file itself.
 *
 * @module
 */
import assert from "node:assert/strict";
import { NoiseError } from "../lib/errors.ts";
import { DummyRing } from "../lib/ring.ts";
import { NoiseClient } from "../lib/client.ts";
import { NoiseServer } from "../lib/server.ts";
import {
  clientCompleteNn,
  clientStartNn,
  serverAcceptNn,
  serverCompleteNn,
} from "../lib/datalink_adapter.ts";
import type { NoiseLink } from "../lib/link.ts";

/** The KAT-style device ids (19 bytes). */
export const CLIENT_DEVICE = "dev-client-00000000";
export const SERVER_DEVICE = "dev-server-00000000";

/** A client and a server on seeds 01×32 and 02×32. */
export async function peers(): Promise<{ client: NoiseClient; server: NoiseServer }> {
  const [cr, sr] = await Promise.all([
    DummyRing.create(new Uint8Array(32).fill(1), "kid"),
    DummyRing.create(new Uint8Array(32).fill(2), "kid"),
  ]);
  return {
    client: new NoiseClient("kid", CLIENT_DEVICE, cr),
    server: new NoiseServer("kid", SERVER_DEVICE, sr),
  };
}

/** A fresh NN session: [initiator's link, responder's link]. */
export async function sessionPair(): Promise<[NoiseLink, NoiseLink]> {
  const { client, server } = await peers();
  const c = await clientStartNn(client);
  const s = await serverAcceptNn(server, c.firstMsg);
  return [await clientCompleteNn(client, c.hs, s.response), serverCompleteNn(s.hs)];
}

/** mulberry32: a small seeded PRNG in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** UTF-8 bytes. */
export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** UTF-8 text. */
export function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/** Asserts that `p` rejects with a `NoiseError` of `code` (and a message matching `pattern`). */
export async function rejectsWith(
  p: Promise<unknown> | (() => Promise<unknown>),
  code: number,
  pattern?: RegExp,
): Promise<NoiseError> {
  let caught: unknown = null;
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof NoiseError, `expected a NoiseError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, `wrong code: ${caught.message}`);
  if (pattern) assert.match(caught.message, pattern);
  return caught;
}

/** Asserts that `fn` throws a `NoiseError` of `code` synchronously. */
export function throwsWith(fn: () => unknown, code: number, pattern?: RegExp): NoiseError {
  let caught: unknown = null;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof NoiseError, `expected a NoiseError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, `wrong code: ${caught.message}`);
  if (pattern) assert.match(caught.message, pattern);
  return caught;
}

/** Fast retries for tests: 2 retries, backoff ≤ 4 ms, 1 s per attempt. */
export const FAST_RETRY = {
  maxRetries: 2,
  initialBackoffMs: 1,
  maxBackoffMs: 4,
  operationTimeoutMs: 1000,
};
