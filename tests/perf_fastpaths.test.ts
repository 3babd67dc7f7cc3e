/**
 * The fast paths of the performance work, each against the portable path on the same inputs:
 * X25519 through
 * `node:crypto` with JWK keys against `@noble/curves` (random keys, keys with the top bit set,
 * every low-order point); BLAKE2s with gathered inputs against noble; handshakes that start
 * their static-key DHs early against the all-noble suite (same bytes, same rollback on a bad
 * message); and link streams over a framed carrier against `encryptStream` + `frameEncoder`.
 * No timings here: `bench/compare_report.ts` measures.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { x25519 as nobleX25519 } from "@noble/curves/ed25519.js";
import { blake2s } from "@noble/hashes/blake2.js";
import { concat, fromHex, toHex } from "../lib/bytes.ts";
import { chunksOf } from "./streams_helpers.ts";
import { NoiseError, NoiseErrorCode } from "../lib/errors.ts";
import {
  detectX25519,
  type DhKeyPair,
  nobleX25519Backend,
  nodeX25519,
  type X25519,
} from "../lib/crypto/x25519.ts";
import { detectBlake2s, nobleBlake2s } from "../lib/crypto/blake2s.ts";
import { nobleChaChaPoly, sizeSplitChaChaPoly } from "../lib/crypto/chachapoly.ts";
import { type CryptoSuite, loadCryptoSuite, nobleCryptoSuite } from "../lib/crypto/suite.ts";
import { HandshakeState } from "../lib/noise/handshake_state.ts";
import { IK, XX } from "../lib/noise/patterns.ts";
import { NoiseLink } from "../lib/link.ts";
import { encryptStream, linkStreams } from "../lib/streams/link_streams.ts";
import { framed, frameEncoder } from "../lib/streams/framing.ts";

const rand = (n: number) => {
  const out = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) {
    crypto.getRandomValues(out.subarray(off, Math.min(n, off + 65536)));
  }
  return out;
};

/** The u-coordinates of small order on Curve25519 and its twist, canonical or not (libsodium's list). */
const LOW_ORDER_CANONICAL = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
  "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
];
/** The same with the top bit set, which X25519 ignores (RFC 7748 §5): low order too. */
const LOW_ORDER = [
  ...LOW_ORDER_CANONICAL,
  ...LOW_ORDER_CANONICAL.map((h) =>
    h.slice(0, 62) + (parseInt(h.slice(62), 16) | 0x80).toString(16)
  ),
];

describe("X25519 through node:crypto with JWK keys agrees with noble", () => {
  test("DH with 64 random peer keys, half with the top bit set, equals noble's", async () => {
    const maybe = await nodeX25519();
    assert.ok(maybe, "node+webcrypto backend available");
    const node: X25519 = maybe;
    const ours: DhKeyPair = await node.generateKeyPair();
    for (let i = 0; i < 64; i++) {
      const peerSecret = rand(32);
      const peerPub = nobleX25519.getPublicKey(peerSecret);
      if (i % 2 === 1) peerPub[31] |= 0x80; // RFC 7748: the top bit is ignored
      const a: Uint8Array = await node.dh(ours, peerPub);
      const b = nobleX25519.getSharedSecret(peerSecret, ours.publicKey);
      assert.equal(toHex(a), toHex(b), `key ${i}`);
    }
  });

  test("generated public keys are X25519(secret, 9): a peer computes the same secret", async () => {
    const node = (await nodeX25519())!;
    for (let i = 0; i < 16; i++) {
      const kp = await node.generateKeyPair();
      assert.equal(kp.publicKey.length, 32);
      const peer = rand(32);
      const mine = await node.dh(kp, nobleX25519.getPublicKey(peer));
      assert.equal(toHex(mine), toHex(nobleX25519.getSharedSecret(peer, kp.publicKey)));
    }
  });

  test("every low-order point is refused with InvalidPeerKey, as noble refuses it", async () => {
    const node = (await nodeX25519())!;
    const detected = await detectX25519();
    const fresh = await node.generateKeyPair();
    const statics = await detected.importSecretKey(rand(32));
    const nobleSecret = rand(32);
    const nobleKey = await nobleX25519Backend.importSecretKey(nobleSecret);
    for (const hex of LOW_ORDER) {
      const point = fromHex(hex);
      assert.throws(() => nobleX25519.getSharedSecret(nobleSecret, point), `noble on ${hex}`);
      for (
        const [what, kp, backend] of [
          ["node ephemeral", fresh, node],
          ["webcrypto static", statics, detected],
          ["noble", nobleKey, nobleX25519Backend],
        ] as const
      ) {
        await assert.rejects(
          backend.dh(kp, point),
          (e) => e instanceof NoiseError && e.code === NoiseErrorCode.InvalidPeerKey,
          `${what} on ${hex}`,
        );
      }
    }
  });
});

describe("BLAKE2s with gathered inputs agrees with noble", () => {
  test("HASH over parts of every split, below and above the gather buffer", async () => {
    const fast = await detectBlake2s();
    const noble = nobleBlake2s();
    for (const total of [0, 1, 64, 255, 256, 257, 1000]) {
      const data = rand(total);
      for (const cut of [0, total >> 2, total >> 1, total]) {
        const parts = [data.subarray(0, cut), data.subarray(cut)];
        assert.equal(
          toHex(fast.hash(...parts)),
          toHex(blake2s(data)),
          `${fast.name} ${total}/${cut}`,
        );
        assert.equal(toHex(noble.hash(...parts)), toHex(blake2s(data)), `noble ${total}/${cut}`);
      }
    }
  });

  test("HMAC and HKDF equal noble's for keys and inputs of many lengths", async () => {
    const fast = await detectBlake2s();
    const noble = nobleBlake2s();
    for (const len of [0, 32, 100, 200, 300]) {
      const key = rand(32);
      const ikm = rand(len);
      assert.equal(toHex(fast.hmac(key, ikm)), toHex(noble.hmac(key, ikm)), `hmac ${len}`);
      const a = fast.hkdf(key, ikm, 3).map(toHex);
      assert.deepEqual(a, noble.hkdf(key, ikm, 3).map(toHex), `hkdf ${len}`);
    }
  });
});

/** Fixed keys, so that two suites can run the same handshake byte for byte. */
async function fixedKeys(suite: CryptoSuite) {
  const k = (b: number) => suite.dh.importSecretKey(new Uint8Array(32).fill(b));
  return { si: await k(1), sr: await k(2), ei: await k(3), er: await k(4) };
}

async function transcript(suite: CryptoSuite, pattern: typeof XX) {
  const { si, sr, ei, er } = await fixedKeys(suite);
  const base = { suite, pattern, prologue: new Uint8Array([7]) };
  const i = new HandshakeState({
    ...base,
    initiator: true,
    s: si,
    rs: pattern === IK ? sr.publicKey : null,
    testOnlyFixedEphemeral: ei,
  });
  const r = new HandshakeState({ ...base, initiator: false, s: sr, testOnlyFixedEphemeral: er });
  const messages: string[] = [];
  let [writer, reader] = [i, r];
  while (!i.isComplete || !r.isComplete) {
    const m = await writer.writeMessage(new TextEncoder().encode(`payload ${messages.length}`));
    messages.push(toHex(m));
    await reader.readMessage(m);
    [writer, reader] = [reader, writer];
  }
  const [ti, tr] = [i.split(), r.split()];
  return {
    messages,
    hash: toHex(ti.handshakeHash),
    sealed: toHex(ti.writeMessage(new Uint8Array(5))),
    tr,
  };
}

describe("handshakes with early static-key DHs", () => {
  for (const pattern of [XX, IK]) {
    test(`${pattern.name}: the default suite writes the all-noble suite's messages byte for byte`, async () => {
      const ours = await transcript(await loadCryptoSuite(), pattern);
      const noble = await transcript(nobleCryptoSuite(), pattern);
      assert.deepEqual(ours.messages, noble.messages);
      assert.equal(ours.hash, noble.hash);
      assert.equal(ours.sealed, noble.sealed);
    });
  }

  test("XX initiator: a message 2 with a tampered static changes nothing; the genuine one completes", async () => {
    const suite = await loadCryptoSuite();
    const { si, sr } = await fixedKeys(suite);
    const i = new HandshakeState({ suite, pattern: XX, initiator: true, s: si });
    const r = new HandshakeState({ suite, pattern: XX, initiator: false, s: sr });
    await r.readMessage(await i.writeMessage());
    const m2 = await r.writeMessage();
    const bad = m2.slice();
    bad[40] ^= 1; // inside the encrypted static: decrypt error after the early `se` started
    await assert.rejects(
      i.readMessage(bad),
      (e) => e instanceof NoiseError && e.code === NoiseErrorCode.Snow,
    );
    assert.equal(i.messageIndex, 1);
    await i.readMessage(m2);
    await r.readMessage(await i.writeMessage());
    assert.equal(toHex(i.split().handshakeHash), toHex(r.split().handshakeHash));
  });

  test("XX initiator: a low-order ephemeral in message 2 is refused with 7000, then the genuine one works", async () => {
    const suite = await loadCryptoSuite();
    const { si, sr } = await fixedKeys(suite);
    const i = new HandshakeState({ suite, pattern: XX, initiator: true, s: si });
    const r = new HandshakeState({ suite, pattern: XX, initiator: false, s: sr });
    await r.readMessage(await i.writeMessage());
    const m2 = await r.writeMessage();
    for (const hex of LOW_ORDER) {
      const bad = m2.slice();
      bad.set(fromHex(hex), 0);
      await assert.rejects(
        i.readMessage(bad),
        (e) => e instanceof NoiseError && e.code === NoiseErrorCode.InvalidPeerKey,
        hex,
      );
    }
    await i.readMessage(m2);
    await r.readMessage(await i.writeMessage());
    assert.equal(toHex(i.split().handshakeHash), toHex(r.split().handshakeHash));
  });

  test("IK responder: a low-order ephemeral in message 1 (refused by the early `es`) is 7000 and changes nothing", async () => {
    const suite = await loadCryptoSuite();
    const { si, sr } = await fixedKeys(suite);
    const i = new HandshakeState({ suite, pattern: IK, initiator: true, s: si, rs: sr.publicKey });
    const r = new HandshakeState({ suite, pattern: IK, initiator: false, s: sr });
    const m1 = await i.writeMessage();
    const bad = m1.slice();
    bad.set(fromHex(LOW_ORDER[2]), 0);
    await assert.rejects(
      r.readMessage(bad),
      (e) => e instanceof NoiseError && e.code === NoiseErrorCode.InvalidPeerKey,
    );
    assert.equal(r.messageIndex, 0);
    await r.readMessage(m1);
    await i.readMessage(await r.writeMessage());
    assert.equal(toHex(i.split().handshakeHash), toHex(r.split().handshakeHash));
  });

  test("destroying a handshake with an early DH pending leaves it unusable, with no stray rejection", async () => {
    const suite = await loadCryptoSuite();
    const { si, sr } = await fixedKeys(suite);
    const i = new HandshakeState({ suite, pattern: XX, initiator: true, s: si });
    const r = new HandshakeState({ suite, pattern: XX, initiator: false, s: sr });
    await r.readMessage(await i.writeMessage()); // r started its `es` early
    r.destroy();
    await assert.rejects(
      r.writeMessage(),
      (e) => e instanceof NoiseError && e.code === NoiseErrorCode.Snow,
    );
  });
});

describe("link streams over a framed carrier", () => {
  /** Two identical initiator links (same keys), so that two paths can encrypt the same bytes. */
  async function twinLinks(): Promise<[NoiseLink, NoiseLink]> {
    const make = async () => {
      const t = await transcript(await loadCryptoSuite(), XX);
      return t;
    };
    const [a, b] = [await make(), await make()];
    assert.equal(a.hash, b.hash);
    return [new NoiseLink(a.tr), new NoiseLink(b.tr)];
  }

  async function collect(readable: ReadableStream<Uint8Array>): Promise<Uint8Array> {
    return concat(...await chunksOf(readable));
  }

  test("put the same bytes on the wire as encryptStream + frameEncoder", async () => {
    const [fast, portable] = await twinLinks();
    const chunks = [rand(10), rand(0), rand(65519), rand(65520), rand(200_000), rand(1)];
    const wire = new TransformStream<Uint8Array, Uint8Array>();
    const streams = linkStreams(
      fast,
      framed({ readable: new ReadableStream(), writable: wire.writable }),
    );
    const fastBytes = collect(wire.readable);
    const w = streams.writable.getWriter();
    for (const c of chunks) await w.write(c);
    await w.close();
    let i = 0;
    const portableBytes = collect(
      new ReadableStream<Uint8Array>({
        pull(c) {
          if (i === chunks.length) c.close();
          else c.enqueue(chunks[i++]);
        },
      }).pipeThrough(encryptStream(portable)).pipeThrough(frameEncoder()),
    );
    assert.equal(toHex(await fastBytes), toHex(await portableBytes));
  });

  test("a chunk that is not bytes errors the writable with Other and aborts the byte stream", async () => {
    const [link] = await twinLinks();
    let aborted: unknown = null;
    const bytes = new WritableStream<Uint8Array>({ abort: (r) => void (aborted = r) });
    const w = linkStreams(link, framed({ readable: new ReadableStream(), writable: bytes }))
      .writable
      .getWriter();
    await assert.rejects(
      w.write("text" as unknown as Uint8Array),
      (e) => e instanceof NoiseError && e.code === NoiseErrorCode.Other,
    );
    assert.ok(aborted instanceof NoiseError);
  });

  test("a destroyed link errors the writable with the link's error", async () => {
    const [link] = await twinLinks();
    link.destroy();
    const sink = new WritableStream<Uint8Array>();
    const w = linkStreams(link, framed({ readable: new ReadableStream(), writable: sink })).writable
      .getWriter();
    await assert.rejects(
      w.write(rand(5)),
      (e) => e instanceof NoiseError && e.code === NoiseErrorCode.Snow,
    );
  });
});

describe("sealing into the caller's buffer, and opening without a copy", () => {
  /** Two identical initiator links (same keys), so that two paths can encrypt the same bytes. */
  async function twins(suite: CryptoSuite): Promise<[NoiseLink, NoiseLink]> {
    const [a, b] = [await transcript(suite, XX), await transcript(suite, XX)];
    assert.equal(a.hash, b.hash);
    return [new NoiseLink(a.tr), new NoiseLink(b.tr)];
  }
  const SIZES = [0, 1, 64, 4095, 4096, 65519];

  for (
    const [name, suite] of [["default", loadCryptoSuite], ["noble", nobleCryptoSuite]] as const
  ) {
    test(`${name} suite: a message sealed into a view of a larger buffer is the same message`, async () => {
      const [a, b] = await twins(await suite());
      for (const size of SIZES) {
        const plaintext = rand(size);
        const big = new Uint8Array(size + 16 + 5).fill(0xee);
        const view = big.subarray(3, 3 + size + 16);
        const expected = a.encrypt(plaintext);
        assert.equal(b.encrypt(plaintext, view), view, "returns the view it was given");
        assert.equal(toHex(view), toHex(expected), `size ${size}`);
        assert.deepEqual([...big.subarray(0, 3), ...big.subarray(3 + size + 16)], [
          0xee,
          0xee,
          0xee,
          0xee,
          0xee,
        ]);
      }
    });

    test(`${name} suite: an output that holds the plaintext itself is sealed in place correctly`, async () => {
      const [a, b] = await twins(await suite());
      for (const size of SIZES) {
        const plaintext = rand(size);
        const expected = a.encrypt(plaintext);
        const buffer = new Uint8Array(size + 16);
        buffer.set(plaintext);
        b.encrypt(buffer.subarray(0, size), buffer);
        assert.equal(toHex(buffer), toHex(expected), `size ${size}`);
      }
    });

    test(`${name} suite: an output of the wrong length is refused with Other; the nonce stays`, async () => {
      const [a, b] = await twins(await suite());
      const plaintext = rand(10);
      for (const bad of [new Uint8Array(25), new Uint8Array(27), [] as unknown as Uint8Array]) {
        assert.throws(
          () => b.encrypt(plaintext, bad),
          (e) => e instanceof NoiseError && e.code === NoiseErrorCode.Other,
        );
      }
      assert.equal(b.transport.sendNonce, 0n);
      assert.equal(toHex(b.encrypt(plaintext)), toHex(a.encrypt(plaintext)));
    });
  }

  test("the default cipher agrees with noble with and without AD, into an output or not", async () => {
    const cipher = (await loadCryptoSuite()).cipher;
    const noble = nobleCryptoSuite().cipher;
    for (const adLength of [0, 1, 16, 100]) {
      for (const size of SIZES) {
        const key = rand(32);
        const ad = rand(adLength);
        const plaintext = rand(size);
        const expected = noble.encrypt(key, 7n, ad, plaintext);
        const output = new Uint8Array(size + 16);
        assert.equal(cipher.encrypt(key, 7n, ad, plaintext, output), output);
        assert.equal(toHex(output), toHex(expected), `${cipher.name} ad ${adLength} size ${size}`);
        assert.equal(toHex(cipher.encrypt(key, 7n, ad, plaintext)), toHex(expected));
        const opened = cipher.decrypt(key, 7n, ad, expected);
        assert.ok(opened !== null);
        assert.equal(toHex(opened), toHex(plaintext));
        if (size > 0) {
          const tampered = expected.slice();
          tampered[size - 1] ^= 1;
          assert.equal(cipher.decrypt(key, 7n, ad, tampered), null);
        }
        assert.equal(cipher.decrypt(key, 7n, rand(adLength + 1), expected), null, "other AD");
      }
    }
  });

  test("a cipher split by size (workerd: noble below 1 KiB) seals and opens as noble does", async () => {
    const cipher = sizeSplitChaChaPoly(nobleChaChaPoly, (await loadCryptoSuite()).cipher, 100);
    const noble = nobleChaChaPoly;
    const key = rand(32);
    for (const size of [0, 1, 99, 100, 101, 4096]) {
      const plaintext = rand(size);
      const expected = noble.encrypt(key, 3n, new Uint8Array(0), plaintext);
      assert.equal(toHex(cipher.encrypt(key, 3n, new Uint8Array(0), plaintext)), toHex(expected));
      const output = new Uint8Array(size + 16);
      cipher.encrypt(key, 3n, new Uint8Array(0), plaintext, output);
      assert.equal(toHex(output), toHex(expected), `into an output, size ${size}`);
      assert.equal(toHex(cipher.decrypt(key, 3n, new Uint8Array(0), expected)!), toHex(plaintext));
      const forged = expected.slice();
      forged[forged.length - 1] ^= 1;
      assert.equal(cipher.decrypt(key, 3n, new Uint8Array(0), forged), null, `size ${size}`);
    }
  });

  test("a decrypted message is a plain Uint8Array that owns all of its buffer", async () => {
    const cipher = (await loadCryptoSuite()).cipher;
    const key = rand(32);
    for (const size of [1, 64, 4095, 8191, 65519]) {
      const opened = cipher.decrypt(
        key,
        1n,
        new Uint8Array(0),
        cipher.encrypt(key, 1n, new Uint8Array(0), rand(size)),
      )!;
      // A pooled Buffer would expose other data through `.buffer`, and its `slice` is a view.
      assert.equal(Object.getPrototypeOf(opened), Uint8Array.prototype, `size ${size}`);
      assert.equal(opened.byteOffset, 0);
      assert.equal(opened.buffer.byteLength, size);
    }
  });
});
