/**
 * Every backend of every primitive against known answers and against the others
 * on the same inputs: the fast paths must never change a byte.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { x25519 as nobleX25519 } from "@noble/curves/ed25519.js";
import { blake2s } from "@noble/hashes/blake2.js";
import { hmac } from "@noble/hashes/hmac.js";
import { fromHex, toHex } from "../lib/bytes.ts";
import { NoiseError, NoiseErrorCode } from "../lib/errors.ts";
import {
  detectX25519,
  nobleX25519Backend,
  nodeX25519,
  webCryptoX25519Backend,
  type X25519,
} from "../lib/crypto/x25519.ts";
import { type ChaChaPoly, detectChaChaPoly, nobleChaChaPoly } from "../lib/crypto/chachapoly.ts";
import { detectBlake2s, hashWasmBlake2s, nobleBlake2s } from "../lib/crypto/blake2s.ts";
import wireguard from "./vectors/wireguard-hkdf-blake2s.json" with { type: "json" };

const rand = (n: number) => crypto.getRandomValues(new Uint8Array(n));

/** Low-order points of Curve25519 (and non-canonical encodings of them): X25519 with any of them is all zero. */
const LOW_ORDER_POINTS = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
  "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
];

async function x25519Backends(): Promise<X25519[]> {
  const list: X25519[] = [nobleX25519Backend, webCryptoX25519Backend];
  const node = await nodeX25519();
  if (node) list.push(node);
  return list;
}

describe("X25519", () => {
  test("node+webcrypto is the detected backend in Deno, Bun and Node", async () => {
    assert.equal((await detectX25519()).name, "node+webcrypto");
  });

  for (const name of ["noble", "webcrypto", "node+webcrypto"]) {
    test(`${name}: RFC 7748 §6.1 keys and shared secret`, async () => {
      const dh = (await x25519Backends()).find((b) => b.name === name);
      assert.ok(dh, `${name} backend available`);
      const alice = await dh.importSecretKey(
        fromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
      );
      const bob = await dh.importSecretKey(
        fromHex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"),
      );
      assert.equal(
        toHex(alice.publicKey),
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
      );
      assert.equal(
        toHex(bob.publicKey),
        "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
      );
      const shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
      assert.equal(toHex(await dh.dh(alice, bob.publicKey)), shared);
      assert.equal(toHex(await dh.dh(bob, alice.publicKey)), shared);
    });

    test(`${name}: every low-order point gives NoiseError 7000, not a runtime error`, async () => {
      const dh = (await x25519Backends()).find((b) => b.name === name)!;
      for (const me of [await dh.generateKeyPair(), await dh.importSecretKey(rand(32))]) {
        for (const hex of LOW_ORDER_POINTS) {
          await assert.rejects(dh.dh(me, fromHex(hex)), (e: unknown) => {
            assert.ok(e instanceof NoiseError, `${me.backend} ${hex}: ${e}`);
            assert.equal(e.code, NoiseErrorCode.InvalidPeerKey);
            return true;
          });
        }
      }
    });

    test(`${name}: fresh (ephemeral) key pairs agree with noble`, async () => {
      const dh = (await x25519Backends()).find((b) => b.name === name)!;
      for (let i = 0; i < 10; i++) {
        const mine = await dh.generateKeyPair();
        const theirs = rand(32);
        const theirsPub = nobleX25519.getPublicKey(theirs);
        const high = theirsPub.slice();
        high[31] |= 0x80; // the top bit is masked, as RFC 7748 says
        const expected = toHex(nobleX25519.getSharedSecret(theirs, mine.publicKey));
        assert.equal(toHex(await dh.dh(mine, theirsPub)), expected, `${mine.backend}`);
        assert.equal(toHex(await dh.dh(mine, high)), expected, `${mine.backend} top bit`);
      }
    });

    test(`${name}: a public key of the wrong length is refused with 7000`, async () => {
      const dh = (await x25519Backends()).find((b) => b.name === name)!;
      const me = await dh.generateKeyPair();
      for (const len of [0, 31, 33]) {
        await assert.rejects(dh.dh(me, new Uint8Array(len).fill(9)), { code: 7000 });
      }
    });
  }

  test("both backends agree on random keys, and with noble's reference", async () => {
    for (let i = 0; i < 20; i++) {
      const a = rand(32);
      const b = rand(32);
      const bPub = nobleX25519.getPublicKey(b);
      const expected = toHex(nobleX25519.getSharedSecret(a, bPub));
      for (const dh of await x25519Backends()) {
        const kp = await dh.importSecretKey(a);
        assert.equal(toHex(kp.publicKey), toHex(nobleX25519.getPublicKey(a)), dh.name);
        assert.equal(toHex(await dh.dh(kp, bPub)), expected, dh.name);
      }
    }
  });

  test("a public key with the top bit set is masked as RFC 7748 says, on both backends", async () => {
    const sk = rand(32);
    const pub = nobleX25519.getPublicKey(rand(32));
    const high = pub.slice();
    high[31] |= 0x80;
    const results = new Set<string>();
    for (const dh of await x25519Backends()) {
      const kp = await dh.importSecretKey(sk);
      results.add(toHex(await dh.dh(kp, high)));
      results.add(toHex(await dh.dh(kp, pub)));
    }
    assert.equal(results.size, 1);
  });

  test("a key pair hides its secret from JSON, String and inspection, and cannot be used once destroyed", async () => {
    const { inspect } = await import("node:util");
    const sk = rand(32);
    for (const dh of await x25519Backends()) {
      const kp = await dh.importSecretKey(sk);
      const shown = JSON.stringify(kp) + String(kp) + inspect(kp);
      assert.ok(!shown.includes(toHex(sk)), dh.name);
      assert.ok(shown.includes("redacted") || shown.includes(toHex(kp.publicKey)));
      kp.destroy();
      await assert.rejects(dh.dh(kp, kp.publicKey), { code: NoiseErrorCode.Other });
    }
  });
});

describe("ChaCha20-Poly1305", () => {
  async function backends(): Promise<ChaChaPoly[]> {
    const best = await detectChaChaPoly();
    return best === nobleChaChaPoly ? [nobleChaChaPoly] : [nobleChaChaPoly, best];
  }

  test("RFC 8439 §2.8.2 AEAD test vector (nonce 07000000 ‖ 4041424344454647)", async () => {
    // The RFC's nonce is not of Noise's form (4 zero bytes ‖ counter), so check noble's
    // primitive directly, and our nonce layout separately.
    const { chacha20poly1305 } = await import("@noble/ciphers/chacha.js");
    const key = fromHex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
    const nonce = fromHex("070000004041424344454647");
    const ad = fromHex("50515253c0c1c2c3c4c5c6c7");
    const pt = new TextEncoder().encode(
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
    );
    const ct = chacha20poly1305(key, nonce, ad).encrypt(pt);
    assert.equal(toHex(ct.subarray(pt.length)), "1ae10b594f09e26a7e902ecbd0600691");
  });

  test("the Noise nonce is 4 zero bytes then the counter little-endian", async () => {
    const { nonceBytes } = await import("../lib/crypto/chachapoly.ts");
    assert.equal(toHex(nonceBytes(0x0102030405060708n)), "000000000807060504030201");
    assert.equal(toHex(nonceBytes((1n << 64n) - 1n)), "00000000ffffffffffffffff");
  });

  test("the native backend agrees with noble at every size up to 65519, and both refuse forgeries", async () => {
    const list = await backends();
    for (const len of [0, 1, 15, 16, 63, 64, 65, 1024, 16384, 65519]) {
      const key = rand(32);
      const ad = rand(len % 40);
      const pt = rand(len);
      const n = BigInt(len) * 7919n;
      const outputs = list.map((b) => toHex(b.encrypt(key, n, ad, pt)));
      assert.equal(new Set(outputs).size, 1, `size ${len}`);
      const ct = fromHex(outputs[0]);
      for (const b of list) {
        assert.deepEqual(b.decrypt(key, n, ad, ct), pt, `${b.name} opens ${len}`);
        const bad = ct.slice();
        bad[len % ct.length] ^= 0x40;
        assert.equal(b.decrypt(key, n, ad, bad), null, `${b.name} refuses a flipped bit at ${len}`);
        assert.equal(b.decrypt(key, n + 1n, ad, ct), null, `${b.name} refuses the wrong nonce`);
        assert.equal(
          b.decrypt(key, n, ad, ct.subarray(0, 15)),
          null,
          `${b.name} refuses < 16 bytes`,
        );
      }
    }
  });
});

describe("BLAKE2s, HMAC-BLAKE2s and the Noise HKDF", () => {
  async function hashes() {
    const list = [nobleBlake2s()];
    try {
      list.push(await hashWasmBlake2s());
    } catch {
      // no wasm here; the detection test below says which runtime that is.
    }
    return list;
  }

  test("hash-wasm is the detected backend where wasm compiles", async () => {
    assert.equal((await detectBlake2s()).name, "hash-wasm");
  });

  test("BLAKE2s-256('abc') matches RFC 7693 on every backend", async () => {
    for (const h of await hashes()) {
      assert.equal(
        toHex(h.hash(new TextEncoder().encode("abc"))),
        "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982",
        h.name,
      );
    }
  });

  test("HMAC agrees with @noble/hashes hmac(blake2s) for keys shorter, equal and longer than a block", async () => {
    for (const h of await hashes()) {
      for (const keyLen of [0, 8, 32, 64, 65, 200]) {
        const key = rand(keyLen);
        const msg = rand(keyLen * 3 + 1);
        assert.equal(
          toHex(h.hmac(key, msg)),
          toHex(hmac(blake2s, key, msg)),
          `${h.name} ${keyLen}`,
        );
        // parts are concatenated
        assert.equal(
          toHex(h.hmac(key, msg.subarray(0, 5), msg.subarray(5))),
          toHex(hmac(blake2s, key, msg)),
        );
      }
    }
  });

  test("HKDF gives WireGuard's KDF1/KDF2/KDF3 answers on every backend", async () => {
    for (const h of await hashes()) {
      for (const v of wireguard.vectors) {
        const [o1, o2, o3] = h.hkdf(fromHex(v.chaining_key), fromHex(v.input_key_material), 3);
        assert.equal(toHex(o1), v.output1, h.name);
        assert.equal(toHex(o2), v.output2, h.name);
        assert.equal(toHex(o3), v.output3, h.name);
        const two = h.hkdf(fromHex(v.chaining_key), fromHex(v.input_key_material), 2);
        assert.deepEqual(two.map(toHex), [v.output1, v.output2]);
      }
    }
  });

  test("digests do not alias the backend's memory", async () => {
    for (const h of await hashes()) {
      const a = h.hash(new Uint8Array([1]));
      const copy = toHex(a);
      h.hash(new Uint8Array([2]));
      assert.equal(toHex(a), copy, h.name);
    }
  });
});
