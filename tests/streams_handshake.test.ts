/**
 * The handshake as a stream step (`lib/streams/handshake.ts`): `connect` and
 * `accept` over an in-memory carrier pair for XX, IK and NN, pattern detection,
 * tampering, carriers that close or stall, and bad options.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { accept, connect, type SecureChannel } from "../lib/streams/handshake.ts";
import { memoryCarrierPair, type MessageCarrier } from "../lib/streams/carrier.ts";
import { NoiseError, NoiseErrorCode } from "../lib/errors.ts";
import { toHex } from "../lib/bytes.ts";
import { clientStartXxTofu } from "../lib/datalink_adapter.ts";
import {
  CLIENT_STATIC_HEX,
  expectNoiseError,
  peers,
  stillPending,
  within,
} from "./streams_helpers.ts";

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => new TextDecoder().decode(b);

/** Sends `message` on `from` and reads it on `to`. */
async function exchange(from: SecureChannel, to: SecureChannel, message: string): Promise<string> {
  const writer = from.writable.getWriter();
  const reader = to.readable.getReader();
  await writer.write(utf8(message));
  const { value } = await within(reader.read(), 2000, "transport message");
  writer.releaseLock();
  reader.releaseLock();
  return text(value);
}

/** A carrier whose incoming messages pass through `edit` (message index from 1). */
function tampered(
  carrier: MessageCarrier,
  edit: (message: Uint8Array, index: number) => Uint8Array,
): MessageCarrier {
  let index = 0;
  return {
    readable: carrier.readable.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(message, controller) {
          controller.enqueue(edit(message, ++index));
        },
      }),
    ),
    writable: carrier.writable,
  };
}

function flipByte(at: number, inMessage: number) {
  return (message: Uint8Array, index: number): Uint8Array => {
    if (index !== inMessage) return message;
    const copy = message.slice();
    copy[at < 0 ? copy.length + at : at] ^= 0x01;
    return copy;
  };
}

describe("connect and accept", () => {
  test("XX: both sides get the same session, the peer's static key and identity", async () => {
    const { client, server, clientRing, serverRing } = await peers();
    const [a, b] = memoryCarrierPair();
    const [c, s] = await within(
      Promise.all([connect(a, client, { pattern: "XX" }), accept(b, server)]),
      5000,
      "XX",
    );
    assert.ok(c.sessionId.equals(s.sessionId));
    assert.equal(c.pattern, "XX");
    assert.equal(s.pattern, "XX");
    assert.deepEqual(c.remoteStatic, await server.staticPublicKey());
    assert.equal(toHex(s.remoteStatic!), CLIENT_STATIC_HEX);
    assert.deepEqual(c.remoteIdentity?.ed25519Pub, await serverRing.ed25519PublicKey("kid"));
    assert.equal(c.remoteIdentity?.role, "Server");
    assert.deepEqual(s.remoteIdentity?.ed25519Pub, await clientRing.ed25519PublicKey("kid"));
    assert.equal(s.remoteIdentity?.role, "Client");
    assert.ok(c.link.sessionId.equals(c.sessionId));
    assert.equal(await exchange(c, s, "hello server"), "hello server");
    assert.equal(await exchange(s, c, "hello client"), "hello client");
  });

  test("IK: the server tells IK from the first message and learns the client", async () => {
    const { client, server, clientRing } = await peers();
    const pinned = await server.staticPublicKey();
    const [a, b] = memoryCarrierPair();
    const [c, s] = await within(
      Promise.all([
        connect(a, client, { pattern: "IK", serverStaticPub: pinned, serverHint: "node-7" }),
        accept(b, server),
      ]),
      5000,
      "IK",
    );
    assert.ok(c.sessionId.equals(s.sessionId));
    assert.equal(s.pattern, "IK");
    assert.deepEqual(c.remoteStatic, pinned);
    assert.equal(c.remoteIdentity, null);
    assert.equal(toHex(s.remoteStatic!), CLIENT_STATIC_HEX);
    assert.deepEqual(s.remoteIdentity?.ed25519Pub, await clientRing.ed25519PublicKey("kid"));
    assert.equal(s.remoteIdentity?.serverHint, "node-7");
    assert.equal(await exchange(c, s, "ik data"), "ik data");
    assert.equal(await exchange(s, c, "ik reply"), "ik reply");
  });

  test("the same server endpoint takes XX and then IK from the pinned key", async () => {
    const { client, server } = await peers();
    const [a1, b1] = memoryCarrierPair();
    const [c1, s1] = await Promise.all([
      connect(a1, client, { pattern: "XX" }),
      accept(b1, server),
    ]);
    assert.equal(s1.pattern, "XX");
    const [a2, b2] = memoryCarrierPair();
    const [c2, s2] = await Promise.all([
      connect(a2, client, { pattern: "IK", serverStaticPub: c1.remoteStatic! }),
      accept(b2, server),
    ]);
    assert.equal(s2.pattern, "IK");
    assert.ok(c2.sessionId.equals(s2.sessionId));
    assert.ok(!c2.sessionId.equals(c1.sessionId));
    assert.deepEqual(s2.remoteStatic, s1.remoteStatic);
  });

  test("NN: an NN server and client agree, with no keys or identities", async () => {
    const { client, server } = await peers();
    const [a, b] = memoryCarrierPair();
    const [c, s] = await within(
      Promise.all([connect(a, client, { pattern: "NN" }), accept(b, server, { patterns: ["NN"] })]),
      5000,
      "NN",
    );
    assert.ok(c.sessionId.equals(s.sessionId));
    assert.equal(s.pattern, "NN");
    assert.equal(c.remoteStatic, null);
    assert.equal(s.remoteStatic, null);
    assert.equal(c.remoteIdentity, null);
    assert.equal(s.remoteIdentity, null);
    assert.equal(await exchange(c, s, "nn"), "nn");
  });

  test("with XX and NN both accepted, a 32-byte first message is XX", async () => {
    const { client, server } = await peers();
    const [a, b] = memoryCarrierPair();
    const [c, s] = await Promise.all([
      connect(a, client, { pattern: "XX" }),
      accept(b, server, { patterns: ["NN", "XX"] }),
    ]);
    assert.equal(s.pattern, "XX");
    assert.ok(c.sessionId.equals(s.sessionId));
    // An NN client on that endpoint fails on both sides (the server answers as XX).
    const [a2, b2] = memoryCarrierPair();
    const results = await within(
      Promise.allSettled([
        connect(a2, client, { pattern: "NN" }),
        accept(b2, server, { patterns: ["NN", "XX"] }),
      ]),
      5000,
      "NN client on an XX endpoint",
    );
    for (const r of results) {
      assert.equal(r.status, "rejected");
      assert.ok((r as PromiseRejectedResult).reason instanceof NoiseError);
    }
  });

  test("a server that accepts only XX refuses an IK first message with Policy", async () => {
    const { client, server } = await peers();
    const [a, b] = memoryCarrierPair();
    const [c, s] = await within(
      Promise.allSettled([
        connect(a, client, { pattern: "IK", serverStaticPub: await server.staticPublicKey() }),
        accept(b, server, { patterns: ["XX"] }),
      ]),
      5000,
      "IK to an XX-only server",
    );
    await expectNoiseError(
      Promise.reject((s as PromiseRejectedResult).reason),
      NoiseErrorCode.Policy,
    );
    // The client sees its carrier shut by the server.
    await expectNoiseError(
      Promise.reject((c as PromiseRejectedResult).reason),
      NoiseErrorCode.ConnectionReset,
    );
  });

  test("a server that accepts only IK refuses a 32-byte first message with Policy", async () => {
    const { client, server } = await peers();
    const [a, b] = memoryCarrierPair();
    const [, s] = await within(
      Promise.allSettled([
        connect(a, client, { pattern: "XX" }),
        accept(b, server, { patterns: ["IK"] }),
      ]),
      5000,
      "XX to an IK-only server",
    );
    await expectNoiseError(
      Promise.reject((s as PromiseRejectedResult).reason),
      NoiseErrorCode.Policy,
      "policy violation: first handshake message (32 bytes) is not of an accepted pattern (IK)",
    );
  });

  test("transport messages sent right after the handshake are not lost", async () => {
    const { client, server } = await peers();
    // Room for several messages: message 3 and the data wait in the carrier together.
    const [a, b] = memoryCarrierPair({ highWaterMark: 8 });
    const clientSide = (async () => {
      const c = await connect(a, client, { pattern: "XX" });
      const writer = c.writable.getWriter();
      await writer.write(utf8("first"));
      await writer.write(utf8("second"));
      return c;
    })();
    const s = await accept(b, server);
    await clientSide;
    const reader = s.readable.getReader();
    assert.equal(text((await within(reader.read(), 2000, "first")).value), "first");
    assert.equal(text((await within(reader.read(), 2000, "second")).value), "second");
  });
});

describe("failed handshakes", () => {
  test("a tampered XX message 2 makes both sides reject, without hanging", async () => {
    const { client, server } = await peers();
    const [a, b] = memoryCarrierPair();
    const [c, s] = await within(
      Promise.allSettled([
        connect(tampered(a, flipByte(-1, 1)), client, { pattern: "XX" }),
        accept(b, server),
      ]),
      5000,
      "tampered message 2",
    );
    await expectNoiseError(
      Promise.reject((c as PromiseRejectedResult).reason),
      NoiseErrorCode.Snow,
      "snow error: decrypt error",
    );
    await expectNoiseError(
      Promise.reject((s as PromiseRejectedResult).reason),
      NoiseErrorCode.ConnectionReset,
    );
  });

  test("a tampered XX message 3 makes both sides reject, without hanging", async () => {
    const { client, server } = await peers();
    const [a, b] = memoryCarrierPair();
    const [c, s] = await within(
      Promise.allSettled([
        connect(a, client, { pattern: "XX" }),
        accept(tampered(b, flipByte(40, 2)), server),
      ]),
      5000,
      "tampered message 3",
    );
    await expectNoiseError(
      Promise.reject((s as PromiseRejectedResult).reason),
      NoiseErrorCode.Snow,
    );
    // The client finished its part; the server shut the carrier. Either the client had
    // already resolved (then its channel is dead) or it rejected with a NoiseError.
    if (c.status === "rejected") assert.ok(c.reason instanceof NoiseError);
    else {
      await expectNoiseError(
        within(c.value.readable.getReader().read(), 2000, "dead channel"),
        NoiseErrorCode.ConnectionReset,
      );
    }
  });

  test("a tampered IK message 1 makes the server reject with Snow and the client with 8002", async () => {
    const { client, server } = await peers();
    const [a, b] = memoryCarrierPair();
    const [c, s] = await within(
      Promise.allSettled([
        connect(a, client, { pattern: "IK", serverStaticPub: await server.staticPublicKey() }),
        accept(tampered(b, flipByte(40, 1)), server),
      ]),
      5000,
      "tampered IK message 1",
    );
    await expectNoiseError(
      Promise.reject((s as PromiseRejectedResult).reason),
      NoiseErrorCode.Snow,
    );
    await expectNoiseError(
      Promise.reject((c as PromiseRejectedResult).reason),
      NoiseErrorCode.ConnectionReset,
    );
  });

  test("IK to the wrong server key fails on both sides", async () => {
    const { client, server } = await peers();
    const [a, b] = memoryCarrierPair();
    const wrong = new Uint8Array(32).fill(9);
    const results = await within(
      Promise.allSettled([
        connect(a, client, { pattern: "IK", serverStaticPub: wrong }),
        accept(b, server),
      ]),
      5000,
      "wrong key",
    );
    await expectNoiseError(
      Promise.reject((results[1] as PromiseRejectedResult).reason),
      NoiseErrorCode.Snow,
    );
    assert.equal(results[0].status, "rejected");
  });

  test("the server rejects with 8002 when the carrier closes after message 1", async () => {
    const { client, server } = await peers();
    const [a, b] = memoryCarrierPair();
    const writer = a.writable.getWriter();
    const { firstMsg } = await clientStartXxTofu(client);
    const accepting = accept(b, server);
    await writer.write(firstMsg);
    await writer.close();
    await expectNoiseError(
      within(accepting, 5000, "closed carrier"),
      NoiseErrorCode.ConnectionReset,
      "connection reset: carrier closed during the handshake",
    );
  });

  test("the server rejects with 8002 when the carrier closes before any message", async () => {
    const { server } = await peers();
    const [a, b] = memoryCarrierPair();
    const accepting = accept(b, server);
    await a.writable.close();
    await expectNoiseError(within(accepting, 5000, "closed"), NoiseErrorCode.ConnectionReset);
  });

  test("the client rejects with 8002 when the carrier closes after message 1", async () => {
    const { client } = await peers();
    const [a, b] = memoryCarrierPair();
    const connecting = connect(a, client, { pattern: "XX" });
    const reader = b.readable.getReader();
    assert.equal((await reader.read()).value?.length, 32);
    await b.writable.close();
    await expectNoiseError(
      within(connecting, 5000, "closed"),
      NoiseErrorCode.ConnectionReset,
      "connection reset: carrier closed during the handshake",
    );
  });

  test("a silent peer makes the handshake time out with 8001 and shuts the carrier", async () => {
    const { server } = await peers();
    const [a, b] = memoryCarrierPair();
    const started = Date.now();
    await expectNoiseError(
      within(accept(b, server, { timeoutMs: 50 }), 5000, "timeout"),
      NoiseErrorCode.Timeout,
      "timeout: handshake not done after 50 ms",
    );
    assert.ok(Date.now() - started >= 45);
    // The other end of the carrier sees it shut.
    await assert.rejects(within(a.readable.getReader().read(), 2000, "shut carrier"));
  });

  test("a client whose server never answers times out with 8001", async () => {
    const { client } = await peers();
    const [a, b] = memoryCarrierPair();
    const reader = b.readable.getReader();
    const connecting = connect(a, client, { pattern: "XX", timeoutMs: 50 });
    await reader.read();
    await expectNoiseError(within(connecting, 5000, "timeout"), NoiseErrorCode.Timeout);
  });

  test("an abort signal stops the handshake with its NoiseError reason", async () => {
    const { server } = await peers();
    const [, b] = memoryCarrierPair();
    const controller = new AbortController();
    const accepting = accept(b, server, { signal: controller.signal });
    const reason = new NoiseError(NoiseErrorCode.Other, "shutting down");
    controller.abort(reason);
    assert.equal(await within(accepting.catch((e) => e), 2000, "abort"), reason);
  });

  test("an abort without a NoiseError reason rejects with Other", async () => {
    const { server } = await peers();
    const [, b] = memoryCarrierPair();
    const controller = new AbortController();
    const accepting = accept(b, server, { signal: controller.signal });
    controller.abort();
    await expectNoiseError(
      within(accepting, 2000, "abort"),
      NoiseErrorCode.Other,
      "other: handshake aborted",
    );
  });

  test("an already aborted signal rejects at once and leaves the carrier unlocked", async () => {
    const { client } = await peers();
    const [a] = memoryCarrierPair();
    await expectNoiseError(
      connect(a, client, { pattern: "XX", signal: AbortSignal.abort() }),
      NoiseErrorCode.Other,
    );
    assert.equal(a.readable.locked, false);
    assert.equal(a.writable.locked, false);
  });
});

describe("bad options", () => {
  test("IK without a 32-byte server key is refused with InvalidPeerKey, carrier untouched", async () => {
    const { client } = await peers();
    const [a] = memoryCarrierPair();
    await expectNoiseError(connect(a, client, { pattern: "IK" }), NoiseErrorCode.InvalidPeerKey);
    await expectNoiseError(
      connect(a, client, { pattern: "IK", serverStaticPub: new Uint8Array(31) }),
      NoiseErrorCode.InvalidPeerKey,
    );
    assert.equal(a.readable.locked, false);
  });

  test("an unknown pattern, an empty pattern list or a bad timeout is refused with Other", async () => {
    const { client, server } = await peers();
    const [a, b] = memoryCarrierPair();
    await expectNoiseError(
      connect(a, client, { pattern: "KK" as unknown as "XX" }),
      NoiseErrorCode.Other,
    );
    await expectNoiseError(accept(b, server, { patterns: [] }), NoiseErrorCode.Other);
    await expectNoiseError(
      accept(b, server, { patterns: ["XN" as unknown as "XX"] }),
      NoiseErrorCode.Other,
    );
    await expectNoiseError(accept(b, server, { timeoutMs: 0 }), NoiseErrorCode.Other);
    await expectNoiseError(accept(b, server, { timeoutMs: NaN }), NoiseErrorCode.Other);
    assert.equal(b.readable.locked, false);
  });

  test("a locked carrier is refused with Other", async () => {
    const { server } = await peers();
    const [, b] = memoryCarrierPair();
    const reader = b.readable.getReader();
    await expectNoiseError(accept(b, server), NoiseErrorCode.Other);
    reader.releaseLock();
    const writer = b.writable.getWriter();
    await expectNoiseError(accept(b, server), NoiseErrorCode.Other);
    // The failed attempt gave back the reader lock it had taken.
    assert.equal(b.readable.locked, false);
    writer.releaseLock();
  });

  test("a handshake is not finished while the peer has not answered", async () => {
    const { client, server } = await peers();
    const [a, b] = memoryCarrierPair();
    const controller = new AbortController();
    const connecting = connect(a, client, {
      pattern: "IK",
      serverStaticPub: await server.staticPublicKey(),
      signal: controller.signal,
    });
    await b.readable.getReader().read();
    assert.ok(await stillPending(connecting, 50));
    controller.abort();
    await expectNoiseError(connecting, NoiseErrorCode.Other);
  });
});
