/** The Noise state machine's rules (spec rev 34), beyond the published vectors. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { type CryptoSuite, loadCryptoSuite, nobleCryptoSuite } from "../lib/crypto/suite.ts";
import { HandshakeState } from "../lib/noise/handshake_state.ts";
import { IK, NN, XX } from "../lib/noise/patterns.ts";
import type { TransportState } from "../lib/noise/transport_state.ts";
import { MAX_NONCE } from "../lib/noise/cipher_state.ts";
import { NoiseError, NoiseErrorCode } from "../lib/errors.ts";
import { toHex } from "../lib/bytes.ts";

const bytes = (...xs: number[]) => new Uint8Array(xs);
const isSnow = (detail: string) => (e: unknown) => {
  assert.ok(e instanceof NoiseError, String(e));
  assert.equal(e.code, NoiseErrorCode.Snow);
  assert.equal(e.message, `snow error: ${detail}`);
  return true;
};

async function pair(suite: CryptoSuite, pattern = XX, prologue = bytes(1, 2, 3)) {
  const s1 = await suite.dh.generateKeyPair();
  const s2 = await suite.dh.generateKeyPair();
  const init = new HandshakeState({
    suite,
    pattern,
    initiator: true,
    prologue,
    s: pattern === NN ? null : s1,
    rs: pattern === IK ? s2.publicKey : null,
  });
  const resp = new HandshakeState({
    suite,
    pattern,
    initiator: false,
    prologue,
    s: pattern === NN ? null : s2,
  });
  return { init, resp, s1, s2 };
}

async function run(
  init: HandshakeState,
  resp: HandshakeState,
): Promise<[TransportState, TransportState]> {
  let [w, r] = [init, resp];
  while (!init.isComplete || !resp.isComplete) {
    await r.readMessage(await w.writeMessage(bytes(w.messageIndex)));
    [w, r] = [r, w];
  }
  return [init.split(), resp.split()];
}

describe("handshakes", () => {
  for (const pattern of [NN, XX, IK]) {
    test(`${pattern.name}: both sides agree on the handshake hash and learn the right statics`, async () => {
      const suite = await loadCryptoSuite();
      const { init, resp, s1, s2 } = await pair(suite, pattern);
      await run.call(null, init, resp).then(([a, b]) => {
        assert.equal(toHex(a.handshakeHash), toHex(b.handshakeHash));
        const msg = a.writeMessage(bytes(9, 9));
        assert.deepEqual(b.readMessage(msg), bytes(9, 9));
        assert.deepEqual(a.readMessage(b.writeMessage(bytes(7))), bytes(7));
      });
      if (pattern !== NN) {
        assert.equal(toHex(init.remoteStatic!), toHex(s2.publicKey));
        assert.equal(toHex(resp.remoteStatic!), toHex(s1.publicKey));
      }
    });
  }

  test("the fast suite and the all-noble suite interoperate", async () => {
    const fast = await loadCryptoSuite();
    const noble = nobleCryptoSuite();
    const s2 = await noble.dh.generateKeyPair();
    const init = new HandshakeState({
      suite: fast,
      pattern: IK,
      initiator: true,
      s: await fast.dh.generateKeyPair(),
      rs: s2.publicKey,
    });
    const resp = new HandshakeState({ suite: noble, pattern: IK, initiator: false, s: s2 });
    const [a, b] = await run(init, resp);
    assert.deepEqual(b.readMessage(a.writeMessage(bytes(1, 2))), bytes(1, 2));
  });

  test("different prologues make the handshake fail", async () => {
    const suite = await loadCryptoSuite();
    const s2 = await suite.dh.generateKeyPair();
    const init = new HandshakeState({
      suite,
      pattern: XX,
      initiator: true,
      prologue: bytes(1),
      s: await suite.dh.generateKeyPair(),
    });
    const resp = new HandshakeState({
      suite,
      pattern: XX,
      initiator: false,
      prologue: bytes(2),
      s: s2,
    });
    await resp.readMessage(await init.writeMessage()); // msg 1 has no key yet: it still reads
    await assert.rejects(init.readMessage(await resp.writeMessage()), isSnow("decrypt error"));
  });

  test("writing out of turn and reading out of turn are state errors", async () => {
    const suite = await loadCryptoSuite();
    const { init, resp } = await pair(suite);
    await assert.rejects(init.readMessage(bytes()), isSnow("state error: NotTurnToRead"));
    await assert.rejects(resp.writeMessage(), isSnow("state error: NotTurnToWrite"));
  });

  test("split before the end, twice, or use after split are refused", async () => {
    const suite = await loadCryptoSuite();
    const { init, resp } = await pair(suite, NN);
    assert.throws(() => init.split(), isSnow("state error: HandshakeNotFinished"));
    await run(init, resp).catch(() => {});
    assert.throws(() => init.split(), isSnow("state error: HandshakeFinished"));
    await assert.rejects(init.writeMessage(), isSnow("state error: HandshakeFinished"));
  });

  test("destroy() ends an abandoned handshake: it can neither go on nor split", async () => {
    const suite = await loadCryptoSuite();
    const { init, resp } = await pair(suite);
    await resp.readMessage(await init.writeMessage());
    resp.destroy();
    await assert.rejects(resp.writeMessage(), isSnow("state error: HandshakeFinished"));
    assert.throws(() => resp.split(), isSnow("state error: HandshakeNotFinished"));
  });

  test("the transport knows the peer static the handshake authenticated", async () => {
    const suite = await loadCryptoSuite();
    const { init, resp, s1, s2 } = await pair(suite, XX);
    const [a, b] = await run(init, resp);
    assert.equal(toHex(a.remoteStatic!), toHex(s2.publicKey));
    assert.equal(toHex(b.remoteStatic!), toHex(s1.publicKey));
  });

  test("a second operation while one is in flight is refused, not interleaved", async () => {
    const suite = await loadCryptoSuite();
    const { init } = await pair(suite);
    const first = init.writeMessage();
    await assert.rejects(init.writeMessage(), isSnow("state error: ConcurrentUse"));
    assert.equal((await first).length, 32);
  });

  test("an IK initiator with a low-order pinned responder key fails with 7000 and stays usable", async () => {
    const suite = await loadCryptoSuite();
    const init = new HandshakeState({
      suite,
      pattern: IK,
      initiator: true,
      s: await suite.dh.generateKeyPair(),
      rs: new Uint8Array(32),
    });
    await assert.rejects(init.writeMessage(), { code: NoiseErrorCode.InvalidPeerKey });
    assert.equal(init.messageIndex, 0);
  });

  test("an XX responder whose peer sends a low-order ephemeral fails with 7000 (ee), not a runtime error", async () => {
    const suite = await loadCryptoSuite();
    const { resp } = await pair(suite);
    await resp.readMessage(new Uint8Array(32)); // e = 0: only mixed into h so far
    await assert.rejects(resp.writeMessage(), { code: NoiseErrorCode.InvalidPeerKey });
    assert.equal(resp.messageIndex, 1);
  });
});

describe("a rejected handshake message changes nothing", () => {
  test("XX initiator: tampered, truncated and extended message 2 are refused, then the genuine one works", async () => {
    const suite = await loadCryptoSuite();
    const { init, resp } = await pair(suite);
    await resp.readMessage(await init.writeMessage());
    const msg2 = await resp.writeMessage(bytes(4, 5, 6));
    const hashBefore = toHex(init.handshakeHash);
    const bad = [
      msg2.slice(0, msg2.length - 1),
      msg2.slice(0, 40),
      new Uint8Array([...msg2, 0]),
      (() => {
        const t = msg2.slice();
        t[40] ^= 1; // inside the encrypted static
        return t;
      })(),
      (() => {
        const t = msg2.slice();
        t[3] ^= 1; // the ephemeral
        return t;
      })(),
    ];
    for (const m of bad) {
      await assert.rejects(
        init.readMessage(m),
        (e: unknown) => e instanceof NoiseError && e.code === NoiseErrorCode.Snow,
      );
      assert.equal(toHex(init.handshakeHash), hashBefore);
      assert.equal(init.messageIndex, 1);
      assert.equal(init.remoteStatic, null);
    }
    assert.deepEqual(await init.readMessage(msg2), bytes(4, 5, 6));
    const msg3 = await init.writeMessage();
    await resp.readMessage(msg3);
    const [a, b] = [init.split(), resp.split()];
    assert.deepEqual(b.readMessage(a.writeMessage(bytes(1))), bytes(1));
  });

  test("IK responder rejects a message whose static key was tampered with, then accepts the genuine one", async () => {
    const suite = await loadCryptoSuite();
    const { init, resp } = await pair(suite, IK);
    const msg1 = await init.writeMessage(bytes(1));
    const tampered = msg1.slice();
    tampered[32 + 5] ^= 0x80;
    await assert.rejects(resp.readMessage(tampered), isSnow("decrypt error"));
    assert.equal(resp.remoteStatic, null);
    assert.deepEqual(await resp.readMessage(msg1), bytes(1));
  });

  test("messages over 65535 bytes are refused on read, and payloads that would make one on write", async () => {
    const suite = await loadCryptoSuite();
    const { init, resp } = await pair(suite, NN);
    await assert.rejects(resp.readMessage(new Uint8Array(65536)), isSnow("input error"));
    await assert.rejects(init.writeMessage(new Uint8Array(65535 - 32 + 1)), isSnow("input error"));
    const ok = await init.writeMessage(new Uint8Array(65535 - 32));
    assert.equal(ok.length, 65535);
    assert.equal((await resp.readMessage(ok)).length, 65503);
  });
});

describe("transport", () => {
  async function transports() {
    const suite = await loadCryptoSuite();
    const { init, resp } = await pair(suite, NN);
    return await run(init, resp);
  }

  test("a message is plaintext + 16 bytes, and the largest plaintext is 65519 bytes", async () => {
    const [a, b] = await transports();
    const empty = a.writeMessage(new Uint8Array(0));
    assert.equal(empty.length, 16);
    const big = a.writeMessage(new Uint8Array(65519).fill(3));
    assert.equal(big.length, 65535);
    assert.deepEqual(b.readMessage(empty), new Uint8Array(0));
    // Not deepEqual: on a failure, node:assert's diff of 65519 elements takes minutes.
    const opened = b.readMessage(big);
    assert.equal(opened.length, 65519);
    assert.equal(opened.findIndex((x) => x !== 3), -1, "every byte is the one sealed");
    assert.throws(() => a.writeMessage(new Uint8Array(65520)), isSnow("input error"));
    assert.equal(a.sendNonce, 2n, "a refused write does not use a nonce");
  });

  test("a forged, replayed or reordered message is refused and the receive nonce does not move", async () => {
    const [a, b] = await transports();
    const m0 = a.writeMessage(bytes(0));
    const m1 = a.writeMessage(bytes(1));
    assert.throws(() => b.readMessage(m1), isSnow("decrypt error")); // reordered
    assert.equal(b.receiveNonce, 0n);
    const forged = m0.slice();
    forged[0] ^= 1;
    assert.throws(() => b.readMessage(forged), isSnow("decrypt error"));
    assert.throws(() => b.readMessage(m0.subarray(0, 15)), isSnow("decrypt error"));
    assert.throws(() => b.readMessage(new Uint8Array(65536)), isSnow("input error"));
    assert.equal(b.receiveNonce, 0n);
    assert.deepEqual(b.readMessage(m0), bytes(0));
    assert.throws(() => b.readMessage(m0), isSnow("decrypt error")); // replay
    assert.deepEqual(b.readMessage(m1), bytes(1));
    assert.equal(b.receiveNonce, 2n);
  });

  test("nonce 2^64−1 is never used: the state reports exhaustion on both sides", async () => {
    const [a, b] = await transports();
    a.setNonces(MAX_NONCE - 1n, 0n);
    b.setNonces(0n, MAX_NONCE - 1n);
    assert.deepEqual(b.readMessage(a.writeMessage(bytes(42))), bytes(42));
    assert.equal(a.sendNonce, MAX_NONCE);
    assert.throws(() => a.writeMessage(bytes(1)), isSnow("state error: Exhausted"));
    assert.throws(() => b.readMessage(new Uint8Array(17)), isSnow("state error: Exhausted"));
  });

  test("rekey (spec §11.3) changes the key on both sides in step, and only then do they agree", async () => {
    const [a, b] = await transports();
    assert.deepEqual(b.readMessage(a.writeMessage(bytes(1))), bytes(1));
    a.rekeySend();
    const m = a.writeMessage(bytes(2));
    assert.throws(() => b.readMessage(m), isSnow("decrypt error"));
    b.rekeyReceive();
    assert.deepEqual(b.readMessage(m), bytes(2));
    assert.equal(a.sendNonce, 2n, "rekey keeps the nonce");
  });

  test("a destroyed transport refuses to encrypt or decrypt (never passes data through)", async () => {
    const [a, b] = await transports();
    const m = a.writeMessage(bytes(1, 2, 3));
    a.destroy();
    b.destroy();
    assert.throws(() => a.writeMessage(bytes(1, 2, 3)), isSnow("state error: Destroyed"));
    assert.throws(() => b.readMessage(m), isSnow("state error: Destroyed"));
  });

  test("transports hide their keys from JSON, String and inspection", async () => {
    const { inspect } = await import("node:util");
    const [a] = await transports();
    const shown = JSON.stringify(a) + String(a) + inspect(a);
    assert.match(shown, /redacted/);
    assert.doesNotMatch(shown, /[0-9a-f]{64}/);
  });
});
