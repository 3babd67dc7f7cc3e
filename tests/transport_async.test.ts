/**
 * The asynchronous transport calls (`NoiseLink.encryptAsync` / `decryptAsync`): the same bytes as
 * the synchronous ones on every suite, including one whose large messages go through WebCrypto's
 * ChaCha20-Poly1305 (Bun and Deno have it; Bun's default suite uses it); nonces in call order;
 * nothing changes on a forged message; and WebCrypto's AEAD itself against noble.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { assertBytes } from "./_assert_bytes.ts";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { NoiseError, NoiseErrorCode } from "../lib/errors.ts";
import {
  type BulkAead,
  detectChaChaPoly,
  detectWebCryptoBulk,
  nobleChaChaPoly,
  nonceBytes,
} from "../lib/crypto/chachapoly.ts";
import { type CryptoSuite, loadCryptoSuite, nobleCryptoSuite } from "../lib/crypto/suite.ts";
import { HandshakeState } from "../lib/noise/handshake_state.ts";
import { NN } from "../lib/noise/patterns.ts";
import { NoiseLink } from "../lib/link.ts";
import { decryptStream, encryptStream, linkStreams } from "../lib/streams/link_streams.ts";
import { framed } from "../lib/streams/framing.ts";
import { chunksOf, concat } from "./streams_helpers.ts";

const g = globalThis as { Deno?: unknown; Bun?: unknown };
const rand = (n: number) => {
  const out = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) {
    crypto.getRandomValues(out.subarray(off, Math.min(n, off + 65536)));
  }
  return out;
};

/** An NN session with fixed ephemerals: the same keys every time, so two sessions are twins. */
async function session(suite: CryptoSuite): Promise<{ alice: NoiseLink; bob: NoiseLink }> {
  const base = { suite, pattern: NN, prologue: new Uint8Array(0) };
  const i = new HandshakeState({
    ...base,
    initiator: true,
    testOnlyFixedEphemeral: await suite.dh.importSecretKey(new Uint8Array(32).fill(3)),
  });
  const r = new HandshakeState({
    ...base,
    initiator: false,
    testOnlyFixedEphemeral: await suite.dh.importSecretKey(new Uint8Array(32).fill(4)),
  });
  await r.readMessage(await i.writeMessage());
  await i.readMessage(await r.writeMessage());
  return { alice: new NoiseLink(i.split()), bob: new NoiseLink(r.split()) };
}

const bulk: BulkAead | null = await detectWebCryptoBulk();
/** Noble with WebCrypto's bulk path, where this runtime has one: the async path on any runtime. */
const bulkSuite: CryptoSuite | null = bulk === null ? null : {
  ...nobleCryptoSuite(),
  cipher: { ...nobleChaChaPoly, name: "noble+webcrypto", bulk },
};
type SuiteEntry = [string, () => Promise<CryptoSuite> | CryptoSuite];
const SUITES: SuiteEntry[] = [["default", loadCryptoSuite], ["noble", nobleCryptoSuite]];
if (bulkSuite !== null) SUITES.push(["noble+webcrypto", () => bulkSuite]);
const SIZES = [0, 1, 64, 8191, 8192, 65519];

describe("WebCrypto ChaCha20-Poly1305 (the bulk path)", () => {
  test("exists in Bun and Deno, and Bun's default suite uses it for large messages", async () => {
    if (g.Bun || g.Deno) assert.ok(bulk, "WebCrypto has ChaCha20-Poly1305 here");
    const cipher = await detectChaChaPoly();
    if (g.Bun) assert.equal(cipher.name, "noble+webcrypto");
    else assert.equal(cipher.bulk, undefined, "node:crypto is faster: no bulk path");
  });

  test("seals what noble seals and opens only what authenticates", async (t) => {
    if (bulk === null) return t.skip("no WebCrypto ChaCha20-Poly1305 in this runtime");
    for (const size of [0, 1, 100, 8192, 65519]) {
      const raw = rand(32);
      const key = await bulk.importKey(raw);
      const ad = rand(size % 7);
      const plaintext = rand(size);
      const sealed = await bulk.encrypt(key, 9n, ad, plaintext);
      assertBytes(sealed, chacha20poly1305(raw, nonceBytes(9n), ad).encrypt(plaintext), `${size}`);
      assertBytes((await bulk.decrypt(key, 9n, ad, sealed))!, plaintext, `open ${size}`);
      const tampered = sealed.slice();
      tampered[tampered.length - 1] ^= 1;
      assert.equal(await bulk.decrypt(key, 9n, ad, tampered), null);
      assert.equal(await bulk.decrypt(key, 10n, ad, sealed), null, "another nonce");
      assert.equal(await bulk.decrypt(key, 9n, ad, sealed.subarray(0, 15)), null, "no tag");
    }
  });
});

for (const [name, suite] of SUITES) {
  describe(`asynchronous transport calls, ${name} suite`, () => {
    test("encryptAsync puts the same bytes on the wire as encrypt, at every size", async () => {
      const a = await session(await suite());
      const b = await session(await suite());
      for (const size of SIZES) {
        const plaintext = rand(size);
        assertBytes(await a.alice.encryptAsync(plaintext), b.alice.encrypt(plaintext), `${size}`);
      }
    });

    test("messages sealed by encryptAsync open with decrypt, and the other way round", async () => {
      const { alice, bob } = await session(await suite());
      for (const size of SIZES) {
        const plaintext = rand(size);
        assertBytes(bob.decrypt(await alice.encryptAsync(plaintext)), plaintext, `${size}`);
        assertBytes(await bob.decryptAsync(alice.encrypt(plaintext)), plaintext, `${size} back`);
      }
    });

    test("calls started together keep their call order, in both directions", async () => {
      const { alice, bob } = await session(await suite());
      const plaintexts = [rand(65519), rand(10), rand(9000), rand(0), rand(40000)];
      const sealed = await Promise.all(plaintexts.map((p) => alice.encryptAsync(p)));
      const opened = await Promise.all(sealed.map((m) => bob.decryptAsync(m)));
      plaintexts.forEach((p, i) => assertBytes(opened[i], p, `message ${i}`));
      assert.equal(alice.transport.sendNonce, 5n);
      assert.equal(bob.transport.receiveNonce, 5n);
    });

    test("a forged message rejects with decrypt error and changes nothing", async () => {
      const { alice, bob } = await session(await suite());
      for (const size of [10, 65519]) {
        const message = await alice.encryptAsync(rand(size));
        const forged = message.slice();
        forged[size >> 1] ^= 1;
        const before = bob.transport.receiveNonce;
        await assert.rejects(
          bob.decryptAsync(forged),
          (e) => e instanceof NoiseError && e.code === NoiseErrorCode.Snow,
        );
        assert.equal(bob.transport.receiveNonce, before);
        assert.equal((await bob.decryptAsync(message)).length, size);
      }
    });

    test("a forged message in a queue fails alone; the queue goes on in order", async () => {
      const { alice, bob } = await session(await suite());
      const [m0, m1] = [await alice.encryptAsync(rand(9000)), await alice.encryptAsync(rand(20))];
      const forged = m0.slice();
      forged[0] ^= 1;
      const results = await Promise.allSettled([
        bob.decryptAsync(forged),
        bob.decryptAsync(m0),
        bob.decryptAsync(m1),
      ]);
      assert.deepEqual(results.map((r) => r.status), ["rejected", "fulfilled", "fulfilled"]);
    });

    test("while a decryption is pending, decrypt and rekey refuse with Other", async () => {
      const { alice, bob } = await session(await suite());
      const first = alice.encrypt(rand(9000));
      const second = alice.encrypt(rand(5));
      const pending = bob.decryptAsync(first);
      for (const call of [() => bob.decrypt(second), () => bob.transport.rekeyReceive()]) {
        assert.throws(call, (e) => e instanceof NoiseError && e.code === NoiseErrorCode.Other);
      }
      assert.equal((await pending).length, 9000);
      assert.equal(bob.decrypt(second).length, 5);
    });

    test("input errors reject like the synchronous calls throw, and move no nonce", async () => {
      const { alice, bob } = await session(await suite());
      await assert.rejects(alice.encryptAsync(new Uint8Array(65520)), /input error/);
      await assert.rejects(alice.encryptAsync("x" as unknown as Uint8Array), /input error/);
      await assert.rejects(bob.decryptAsync(new Uint8Array(65536)), /input error/);
      await assert.rejects(bob.decryptAsync(new Uint8Array(15)), /decrypt error/);
      assert.equal(alice.transport.sendNonce, 0n);
      assert.equal(bob.transport.receiveNonce, 0n);
    });

    test("a destroyed link refuses; a seal still pending on WebCrypto is dropped", async () => {
      const { alice, bob } = await session(await suite());
      const pending = alice.encryptAsync(rand(65519));
      alice.destroy();
      if (alice.transport.asyncFromBytes <= 65519) await assert.rejects(pending, /Destroyed/);
      else assert.equal((await pending).length, 65535, "sealed at the call, before destroy()");
      await assert.rejects(alice.encryptAsync(rand(3)), /Destroyed/);
      bob.destroy();
      await assert.rejects(bob.decryptAsync(new Uint8Array(40)), /Destroyed/);
    });
  });
}

describe("link streams on the bulk path", () => {
  const CHUNKS = [10, 0, 65519, 65520, 200_000, 9000, 1, 8192];

  test("encryptStream and decryptStream carry the same messages as on the synchronous path", async (t) => {
    if (bulkSuite === null) return t.skip("no WebCrypto ChaCha20-Poly1305 in this runtime");
    const fast = await session(bulkSuite);
    const portable = await session(nobleCryptoSuite());
    assert.equal(fast.alice.transport.asyncFromBytes, 8192);
    assert.equal(portable.alice.transport.asyncFromBytes, Infinity);
    const chunks = CHUNKS.map(rand);
    const [a, b] = await Promise.all([
      chunksOf(ReadableStream.from(chunks).pipeThrough(encryptStream(fast.alice))),
      chunksOf(ReadableStream.from(chunks).pipeThrough(encryptStream(portable.alice))),
    ]);
    assert.equal(a.length, b.length);
    a.forEach((m, i) => assertBytes(m, b[i], `message ${i}`));
    const plain = await chunksOf(ReadableStream.from(a).pipeThrough(decryptStream(fast.bob)));
    assertBytes(concat(plain), concat(chunks), "plaintext");
  });

  test("a framed carrier gets the same bytes from the bulk path", async (t) => {
    if (bulkSuite === null) return t.skip("no WebCrypto ChaCha20-Poly1305 in this runtime");
    const wireOf = async (link: NoiseLink) => {
      const wire = new TransformStream<Uint8Array, Uint8Array>();
      const bytes = chunksOf(wire.readable);
      const w = linkStreams(
        link,
        framed({ readable: new ReadableStream(), writable: wire.writable }),
      )
        .writable.getWriter();
      for (const size of CHUNKS) await w.write(new Uint8Array(size).fill(size & 0xff));
      await w.close();
      return concat(await bytes);
    };
    const fast = await wireOf((await session(bulkSuite)).alice);
    const portable = await wireOf((await session(nobleCryptoSuite())).alice);
    assertBytes(fast, portable, "wire bytes");
  });

  test("a forged large message errors decryptStream with decrypt error", async (t) => {
    if (bulkSuite === null) return t.skip("no WebCrypto ChaCha20-Poly1305 in this runtime");
    const { alice, bob } = await session(bulkSuite);
    const good = alice.encrypt(rand(20000));
    const forged = alice.encrypt(rand(20000));
    forged[100] ^= 1;
    const reader = ReadableStream.from([good, forged]).pipeThrough(decryptStream(bob)).getReader();
    assert.equal((await reader.read()).value?.length, 20000);
    await assert.rejects(
      reader.read(),
      (e) => e instanceof NoiseError && e.code === NoiseErrorCode.Snow,
    );
  });
});

describe("a bulk backend that fails", () => {
  /** Noble, with a bulk path whose every call rejects (from 1 byte on). */
  function failingSuite(): CryptoSuite {
    const failing: BulkAead = {
      name: "failing",
      threshold: 1,
      importKey: () => Promise.reject(new Error("no key for you")),
      encrypt: () => Promise.reject(new Error("boom")),
      decrypt: () => Promise.reject(new Error("boom")),
    };
    return {
      ...nobleCryptoSuite(),
      cipher: { ...nobleChaChaPoly, name: "failing", bulk: failing },
    };
  }

  test("a failed seal rejects with Other and closes the sending side: no message skips a nonce", async () => {
    const { alice } = await session(failingSuite());
    await assert.rejects(
      alice.encryptAsync(rand(100)),
      (e) => e instanceof NoiseError && e.code === NoiseErrorCode.Other,
    );
    assert.throws(() => alice.encrypt(rand(1)), /Destroyed/);
    await assert.rejects(alice.encryptAsync(rand(100)), /Destroyed/);
  });

  test("a failed open rejects with Other and keeps the nonce: the synchronous path still reads", async () => {
    const good = await session(nobleCryptoSuite());
    const failing = await session(failingSuite());
    const message = good.alice.encrypt(rand(100)); // the same keys: twin sessions
    await assert.rejects(
      failing.bob.decryptAsync(message),
      (e) => e instanceof NoiseError && e.code === NoiseErrorCode.Other,
    );
    assert.equal(failing.bob.transport.receiveNonce, 0n);
    assert.equal(failing.bob.decrypt(message).length, 100);
  });
});
