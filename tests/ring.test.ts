import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { x25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256, sha512 } from "@noble/hashes/sha2.js";
import kat from "./vectors/pubky-kat.json" with { type: "json" };
import { NoiseError, NoiseErrorCode } from "../lib/errors.ts";
import { fromHex, isAllZero, toHex, utf8 } from "../lib/bytes.ts";
import {
  deriveNoiseSeed,
  deriveX25519ForDeviceEpoch,
  importHkdfSeed,
  KDF_SALT,
  MIN_DEVICE_ID_LEN,
  NOISE_SEED_SALT,
} from "../lib/crypto/hkdf_sha512.ts";
import { DummyRing } from "../lib/ring.ts";
import { loadCryptoSuite } from "../lib/crypto/suite.ts";
import { ed25519Backends, importEd25519Seed } from "../lib/crypto/ed25519.ts";

function clamp(bytes: Uint8Array): Uint8Array {
  const sk = bytes.slice();
  sk[0] &= 248;
  sk[31] &= 127;
  sk[31] |= 64;
  return sk;
}

function info(deviceId: Uint8Array, epoch: number): Uint8Array {
  const out = new Uint8Array(deviceId.length + 4);
  out.set(deviceId);
  new DataView(out.buffer).setUint32(deviceId.length, epoch, true);
  return out;
}

/** Asserts that `promise` rejects with a NoiseError of `code` (and `message`, if given). */
async function rejectsNoise(
  promise: Promise<unknown>,
  code: number,
  message?: string,
): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof NoiseError, `expected NoiseError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (message !== undefined) assert.equal(err.message, message);
    return true;
  });
}

const SEED1 = new Uint8Array(32).fill(1);
const CLIENT = kat.x25519_kdf[1];

describe("constants", () => {
  test("match the KAT file and the Rust crate", () => {
    assert.equal(KDF_SALT, kat.constants.kdf_salt);
    assert.equal(MIN_DEVICE_ID_LEN, kat.constants.min_device_id_len);
    assert.equal(NOISE_SEED_SALT, "paykit-noise-seed-v1");
  });
});

describe("deriveX25519ForDeviceEpoch (HKDF-SHA512 + clamp)", () => {
  for (const v of kat.x25519_kdf) {
    test(`KAT: ${v.description}`, async () => {
      const seed = fromHex(v.seed);
      const deviceId = fromHex(v.device_id_hex);
      assert.equal(toHex(utf8(v.device_id)), v.device_id_hex);
      // The reference HKDF (noble) gives the KAT's raw output; clamping it gives the KAT's key.
      const raw = hkdf(sha512, seed, utf8(KDF_SALT), info(deviceId, v.epoch), 32);
      assert.equal(toHex(raw), v.hkdf_output);
      assert.equal(toHex(clamp(raw)), v.x25519_sk);
      const sk = await deriveX25519ForDeviceEpoch(await importHkdfSeed(seed), deviceId, v.epoch);
      assert.equal(toHex(sk), v.x25519_sk);
      assert.equal(toHex(x25519.getPublicKey(sk)), v.x25519_pk);
    });
  }

  test("agrees with noble HKDF-SHA512 on random inputs, including the largest epoch", async () => {
    const epochs = [0, 1, 255, 256, 65_536, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff];
    for (let i = 0; i < 24; i++) {
      const seed = crypto.getRandomValues(new Uint8Array(32));
      const deviceId = crypto.getRandomValues(new Uint8Array(16 + (i % 40)));
      const epoch = epochs[i % epochs.length];
      const expected = clamp(hkdf(sha512, seed, utf8(KDF_SALT), info(deviceId, epoch), 32));
      const sk = await deriveX25519ForDeviceEpoch(await importHkdfSeed(seed), deviceId, epoch);
      assert.equal(toHex(sk), toHex(expected), `case ${i}`);
    }
  });

  test("epoch is encoded little-endian and separates keys", async () => {
    const key = await importHkdfSeed(SEED1);
    const deviceId = utf8(CLIENT.device_id);
    const a = await deriveX25519ForDeviceEpoch(key, deviceId, 1);
    const b = await deriveX25519ForDeviceEpoch(key, deviceId, 0x0100_0000);
    const le1 = clamp(hkdf(sha512, SEED1, utf8(KDF_SALT), info(deviceId, 1), 32));
    assert.equal(toHex(a), toHex(le1));
    assert.notEqual(toHex(a), toHex(b));
  });

  test("a 15-byte device id is rejected with Ring and the Rust message", async () => {
    const key = await importHkdfSeed(SEED1);
    await rejectsNoise(
      deriveX25519ForDeviceEpoch(key, new Uint8Array(15), 0),
      NoiseErrorCode.Ring,
      "ring error: device_id too short: 15 bytes (minimum 16 bytes required)",
    );
    await rejectsNoise(
      deriveX25519ForDeviceEpoch(key, new Uint8Array(0), 0),
      1000,
      "ring error: device_id too short: 0 bytes (minimum 16 bytes required)",
    );
  });

  test("a 16-byte device id is accepted", async () => {
    const key = await importHkdfSeed(SEED1);
    const deviceId = utf8("exactly-16-bytes");
    assert.equal(deviceId.length, 16);
    const sk = await deriveX25519ForDeviceEpoch(key, deviceId, 0);
    const expected = clamp(hkdf(sha512, SEED1, utf8(KDF_SALT), info(deviceId, 0), 32));
    assert.equal(toHex(sk), toHex(expected));
  });

  test("epochs outside 0..2^32-1 or not integers are rejected with Ring", async () => {
    const key = await importHkdfSeed(SEED1);
    const deviceId = utf8(CLIENT.device_id);
    for (const epoch of [-1, 2 ** 32, 1.5, Number.NaN, Infinity]) {
      await rejectsNoise(deriveX25519ForDeviceEpoch(key, deviceId, epoch), NoiseErrorCode.Ring);
    }
    await rejectsNoise(
      deriveX25519ForDeviceEpoch(key, deviceId, "0" as unknown as number),
      NoiseErrorCode.Ring,
    );
  });

  test("a key that is not an HKDF key is rejected with Ring", async () => {
    const hmac = await crypto.subtle.importKey(
      "raw",
      new Uint8Array(32),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    await rejectsNoise(
      deriveX25519ForDeviceEpoch(hmac, utf8(CLIENT.device_id), 0),
      NoiseErrorCode.Ring,
    );
  });
});

describe("importHkdfSeed", () => {
  test("makes a non-extractable HKDF key", async () => {
    const key = await importHkdfSeed(SEED1);
    assert.equal(key.extractable, false);
    assert.equal(key.algorithm.name, "HKDF");
    assert.deepEqual([...key.usages], ["deriveBits"]);
  });

  test("rejects seeds that are not 32 bytes", async () => {
    for (const len of [0, 16, 31, 33, 64]) {
      await rejectsNoise(
        importHkdfSeed(new Uint8Array(len)),
        NoiseErrorCode.Ring,
        "ring error: Seed must be 32 bytes",
      );
    }
    await rejectsNoise(
      importHkdfSeed([...SEED1] as unknown as Uint8Array),
      NoiseErrorCode.Ring,
      "ring error: Seed must be 32 bytes",
    );
  });

  test("the caller may wipe the seed after import", async () => {
    const seed = fromHex(CLIENT.seed);
    const key = await importHkdfSeed(seed);
    seed.fill(0);
    const sk = await deriveX25519ForDeviceEpoch(key, fromHex(CLIENT.device_id_hex), 0);
    assert.equal(toHex(sk), CLIENT.x25519_sk);
  });
});

describe("deriveNoiseSeed (HKDF-SHA256)", () => {
  for (const v of kat.derive_noise_seed) {
    test(`KAT: ${v.description}`, async () => {
      const out = await deriveNoiseSeed(fromHex(v.ed25519_secret), fromHex(v.device_id_hex));
      assert.equal(toHex(out), v.noise_seed);
    });
  }

  test("agrees with noble HKDF-SHA256, any device id length", async () => {
    for (let i = 0; i < 12; i++) {
      const secret = crypto.getRandomValues(new Uint8Array(32));
      const deviceId = crypto.getRandomValues(new Uint8Array(i * 3)); // 0..33 bytes
      const expected = hkdf(sha256, secret, utf8(NOISE_SEED_SALT), deviceId, 32);
      assert.equal(toHex(await deriveNoiseSeed(secret, deviceId)), toHex(expected), `case ${i}`);
    }
  });

  test("rejects a secret that is not 32 bytes", async () => {
    await rejectsNoise(
      deriveNoiseSeed(new Uint8Array(31), utf8(CLIENT.device_id)),
      NoiseErrorCode.Ring,
    );
  });
});

describe("DummyRing", () => {
  test("Ed25519 public keys match ed25519_from_seed", async () => {
    for (const v of kat.ed25519_from_seed) {
      const ring = await DummyRing.create(fromHex(v.seed), "kid");
      assert.equal(toHex(await ring.ed25519PublicKey("kid")), v.ed25519_pub, v.description);
    }
  });

  test("withDeviceX25519 gives the KAT keys for every x25519_kdf entry", async () => {
    for (const v of kat.x25519_kdf) {
      const ring = await DummyRing.create(fromHex(v.seed), "kid");
      const [sk, pk] = await ring.withDeviceX25519(
        "kid",
        fromHex(v.device_id_hex),
        v.epoch,
        (secret) => [toHex(secret), toHex(x25519.getPublicKey(secret))],
      );
      assert.equal(sk, v.x25519_sk, v.description);
      assert.equal(pk, v.x25519_pk, v.description);
    }
  });

  test("defaults and getters (deviceId is a copy)", async () => {
    const ring = await DummyRing.create(SEED1, "my-kid");
    assert.equal(ring.kid, "my-kid");
    assert.equal(toHex(ring.deviceId), toHex(utf8("default")));
    assert.equal(ring.epoch, 0);
    ring.deviceId.fill(0);
    assert.equal(toHex(ring.deviceId), toHex(utf8("default")));

    const deviceId = utf8("dev-server-00000000");
    const custom = await DummyRing.create(SEED1, "k2", { deviceId, epoch: 7 });
    deviceId.fill(0);
    assert.equal(toHex(custom.deviceId), toHex(utf8("dev-server-00000000")));
    assert.equal(custom.epoch, 7);
  });

  test("ignores the kid argument and its stored device id / epoch (as Rust)", async () => {
    const v = kat.x25519_kdf[3]; // epoch 1
    const ring = await DummyRing.create(fromHex(v.seed), "stored-kid", {
      deviceId: utf8("some-other-device-id"),
      epoch: 9,
    });
    const sk = await ring.withDeviceX25519(
      "unrelated-kid",
      fromHex(v.device_id_hex),
      v.epoch,
      toHex,
    );
    assert.equal(sk, v.x25519_sk);
    const pub1 = await ring.ed25519PublicKey("a");
    const pub2 = await ring.ed25519PublicKey("b");
    assert.equal(toHex(pub1), toHex(pub2));
    assert.equal(
      toHex(await ring.signEd25519("a", new Uint8Array(3))),
      toHex(await ring.signEd25519("b", new Uint8Array(3))),
    );
  });

  test("rejects a stored epoch or seed that is invalid", async () => {
    await rejectsNoise(DummyRing.create(SEED1, "k", { epoch: -1 }), NoiseErrorCode.Ring);
    await rejectsNoise(DummyRing.create(SEED1, "k", { epoch: 2 ** 32 }), NoiseErrorCode.Ring);
    await rejectsNoise(
      DummyRing.create(new Uint8Array(31), "k"),
      NoiseErrorCode.Ring,
      "ring error: Seed must be 32 bytes",
    );
  });

  test("the caller may wipe the seed after create resolves", async () => {
    const seed = fromHex(CLIENT.seed);
    const ring = await DummyRing.create(seed, "kid");
    seed.fill(0);
    const pk = await ring.withDeviceX25519(
      "kid",
      fromHex(CLIENT.device_id_hex),
      0,
      (sk) => toHex(x25519.getPublicKey(sk)),
    );
    assert.equal(pk, CLIENT.x25519_pk);
    const expectedSigner = await ed25519Backends.noble.importSeed(fromHex(CLIENT.seed));
    const msg = utf8("after wipe");
    assert.equal(
      toHex(await ring.signEd25519("kid", msg)),
      toHex(await expectedSigner.sign(msg)),
    );
  });

  test("withDeviceX25519 wipes the secret after fn returns", async () => {
    const ring = await DummyRing.create(SEED1, "kid");
    let seen: Uint8Array | undefined;
    let copy = "";
    const result = await ring.withDeviceX25519("kid", utf8(CLIENT.device_id), 0, (sk) => {
      seen = sk;
      copy = toHex(sk);
      return 42;
    });
    assert.equal(result, 42);
    assert.equal(copy, CLIENT.x25519_sk);
    assert.ok(seen !== undefined && seen.length === 32);
    assert.ok(isAllZero(seen), "secret not wiped after return");
  });

  test("withDeviceX25519 wipes the secret after fn throws and propagates the error", async () => {
    const ring = await DummyRing.create(SEED1, "kid");
    let seen: Uint8Array | undefined;
    const boom = new Error("boom");
    await assert.rejects(
      ring.withDeviceX25519("kid", utf8(CLIENT.device_id), 0, (sk) => {
        seen = sk;
        assert.equal(toHex(sk), CLIENT.x25519_sk);
        throw boom;
      }),
      (err) => err === boom,
    );
    assert.ok(seen !== undefined && seen.length === 32);
    assert.ok(isAllZero(seen), "secret not wiped after throw");
  });

  test("withDeviceX25519 keeps the secret for an async fn until it settles", async () => {
    const ring = await DummyRing.create(SEED1, "kid");
    let seen: Uint8Array | undefined;
    const result = await ring.withDeviceX25519("kid", utf8(CLIENT.device_id), 0, async (sk) => {
      seen = sk;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return toHex(x25519.getPublicKey(sk)); // still intact after an await
    });
    assert.equal(result, CLIENT.x25519_pk);
    assert.ok(seen !== undefined && isAllZero(seen), "secret not wiped after async fn");

    let seen2: Uint8Array | undefined;
    const boom = new Error("async boom");
    await assert.rejects(
      ring.withDeviceX25519("kid", utf8(CLIENT.device_id), 0, async (sk) => {
        seen2 = sk;
        await Promise.resolve();
        throw boom;
      }),
      (err) => err === boom,
    );
    assert.ok(seen2 !== undefined && isAllZero(seen2), "secret not wiped after async reject");
  });

  test("withDeviceX25519 rejects short device ids without calling fn", async () => {
    const ring = await DummyRing.create(SEED1, "kid");
    let called = false;
    await rejectsNoise(
      ring.withDeviceX25519("kid", new Uint8Array(15), 0, () => {
        called = true;
      }),
      NoiseErrorCode.Ring,
      "ring error: device_id too short: 15 bytes (minimum 16 bytes required)",
    );
    assert.equal(called, false);
    await rejectsNoise(
      ring.withDeviceX25519("kid", utf8(CLIENT.device_id), 1.5, () => {
        called = true;
      }),
      NoiseErrorCode.Ring,
    );
    assert.equal(called, false);
  });

  test("signEd25519 is the deterministic RFC 8032 signature of the seed", async () => {
    const ring = await DummyRing.create(SEED1, "kid");
    const noble = await ed25519Backends.noble.importSeed(SEED1);
    for (const msg of [new Uint8Array(0), new Uint8Array(32).fill(9), utf8("hello")]) {
      assert.equal(toHex(await ring.signEd25519("kid", msg)), toHex(await noble.sign(msg)));
    }
  });

  test("no secret in JSON, String or inspect output", async () => {
    for (const v of kat.ed25519_from_seed) {
      const seedHex = v.seed;
      const ring = await DummyRing.create(fromHex(seedHex), "kid-redaction");
      const outputs = [
        JSON.stringify(ring),
        String(ring),
        `${ring}`,
        inspect(ring),
        inspect({ nested: ring }, { depth: 5 }),
        inspect(ring, { showHidden: true }),
      ];
      const deno = (globalThis as { Deno?: { inspect(v: unknown): string } }).Deno;
      if (deno) outputs.push(deno.inspect(ring));
      for (const out of outputs) {
        assert.ok(!out.includes(seedHex), `seed leaked: ${out}`);
        assert.ok(!out.toLowerCase().includes(seedHex.slice(0, 16)), `seed prefix leaked: ${out}`);
        assert.ok(out.includes("kid-redaction"), `unexpected output: ${out}`);
      }
      // The custom inspectors are in effect (not the default object dump).
      assert.match(inspect(ring), /\[redacted\]/);
      assert.match(String(ring), /\[redacted\]/);
      assert.deepEqual(JSON.parse(JSON.stringify(ring)), {
        kid: "kid-redaction",
        deviceId: toHex(utf8("default")),
        epoch: 0,
        ed25519PublicKey: v.ed25519_pub,
      });
    }
  });

  test("holds only non-extractable or private key material", async () => {
    const ring = await DummyRing.create(SEED1, "kid");
    assert.deepEqual(Object.keys(ring), []);
    assert.deepEqual(Object.getOwnPropertyNames(ring), []);
    const signer = await importEd25519Seed(SEED1);
    assert.deepEqual(Object.keys(signer), []);
  });
});

describe("Node Buffers as input", () => {
  test("a Buffer seed gives the KAT identity and the caller's Buffer is left as it was", async () => {
    const { Buffer } = await import("node:buffer");
    const seed = Buffer.from("02".repeat(32), "hex");
    const ring = await DummyRing.create(seed, "kid");
    assert.equal(
      toHex(await ring.ed25519PublicKey("kid")),
      "8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394",
    );
    assert.equal(seed.toString("hex"), "02".repeat(32));
    const deviceId = Buffer.from("dev-server-00000000");
    const pub = await ring.withDeviceX25519("kid", deviceId, 0, async (sk) => {
      const suite = await loadCryptoSuite();
      return (await suite.dh.importSecretKey(sk)).publicKey;
    });
    assert.equal(toHex(pub), "4a53098aee6095d53781d1a827036f85540cbadad9ea72c91a976f6e7274ed48");
    assert.equal(deviceId.toString(), "dev-server-00000000");
  });
});
