import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { ed25519 } from "@noble/curves/ed25519.js";
import kat from "./vectors/pubky-kat.json" with { type: "json" };
import { NoiseError, NoiseErrorCode } from "../lib/errors.ts";
import { fromHex, toHex, utf8 } from "../lib/bytes.ts";
import { blake3 } from "../lib/crypto/blake3.ts";
import {
  type Ed25519Backend,
  ed25519BackendName,
  ed25519Backends,
  importEd25519Seed,
  importEd25519SeedNoble,
  importEd25519SeedWebCrypto,
  verifyEd25519,
} from "../lib/crypto/ed25519.ts";
import {
  BINDING_PREFIX,
  bindingInput,
  type BindingParams,
  makeBindingMessage,
  signIdentityBinding,
  verifyIdentityBinding,
} from "../lib/binding.ts";
import { DummyRing } from "../lib/ring.ts";

type Role = BindingParams["role"];

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  out[bit >> 3] ^= 1 << (bit & 7);
  return out;
}

function paramsOf(v: (typeof kat.bindings)[number]): BindingParams {
  return {
    ed25519Pub: fromHex(v.ed25519_pub),
    localNoisePub: fromHex(v.local_noise_pub),
    role: v.role as Role,
    remoteNoisePub: v.remote_noise_pub === null ? null : fromHex(v.remote_noise_pub),
  };
}

function throwsNoise(fn: () => unknown, code: number): void {
  assert.throws(fn, (err: unknown) => err instanceof NoiseError && err.code === code);
}

const SIGNED = kat.bindings.filter((v) => "signer_seed" in v && "sig" in v) as Array<
  (typeof kat.bindings)[number] & { signer_seed: string; sig: string }
>;
const BACKENDS: Ed25519Backend[] = [ed25519Backends.webcrypto, ed25519Backends.noble];

describe("blake3", () => {
  test("official BLAKE3 test vectors", () => {
    assert.equal(
      toHex(blake3(new Uint8Array(0))),
      "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
    );
    assert.equal(
      toHex(blake3(utf8("abc"))),
      "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85",
    );
  });

  test("rejects non-bytes with NoiseError", () => {
    throwsNoise(() => blake3("abc" as unknown as Uint8Array), NoiseErrorCode.Other);
  });
});

describe("binding message", () => {
  test("prefix constant", () => {
    assert.equal(BINDING_PREFIX, kat.constants.binding_prefix);
    assert.equal(utf8(BINDING_PREFIX).length, 22);
  });

  for (const v of kat.bindings) {
    test(`KAT: ${v.description}`, () => {
      const params = paramsOf(v);
      assert.equal(toHex(bindingInput(params)), v.binding_input);
      assert.equal(toHex(makeBindingMessage(params)), v.binding);
    });
  }

  test("an absent remote (undefined) equals null; roles separate", () => {
    const v = kat.bindings[1]; // Server, no remote
    const { remoteNoisePub: _, ...noRemote } = paramsOf(v);
    assert.equal(toHex(makeBindingMessage(noRemote)), v.binding);
    const asClient = makeBindingMessage({ ...noRemote, role: "Client" });
    assert.notEqual(toHex(asClient), v.binding);
    const input = bindingInput({ ...noRemote, role: "Client" });
    assert.equal(input[input.length - 1], kat.constants.role_byte_client);
    assert.equal(bindingInput(noRemote).at(-1), kat.constants.role_byte_server);
  });

  test("invalid lengths and roles throw NoiseError (Other)", () => {
    const good = paramsOf(kat.bindings[0]);
    for (const len of [0, 31, 33]) {
      const bad = new Uint8Array(len);
      throwsNoise(() => makeBindingMessage({ ...good, ed25519Pub: bad }), NoiseErrorCode.Other);
      throwsNoise(() => makeBindingMessage({ ...good, localNoisePub: bad }), NoiseErrorCode.Other);
      throwsNoise(() => makeBindingMessage({ ...good, remoteNoisePub: bad }), NoiseErrorCode.Other);
    }
    for (const role of ["client", "server", "", undefined, 0]) {
      throwsNoise(
        () => makeBindingMessage({ ...good, role: role as unknown as Role }),
        NoiseErrorCode.Other,
      );
    }
    assert.throws(
      () => makeBindingMessage({ ...good, ed25519Pub: new Uint8Array(31) }),
      { message: "other: ed25519_pub must be 32 bytes, got 31 bytes" },
    );
  });
});

describe("identity binding signatures", () => {
  for (const v of SIGNED) {
    test(`KAT: ${v.description}`, async () => {
      const binding = fromHex(v.binding);
      const signer = await importEd25519Seed(fromHex(v.signer_seed));
      assert.equal(toHex(await signer.sign(binding)), v.sig);

      const ring = await DummyRing.create(fromHex(v.signer_seed), "kid");
      const sig = await signIdentityBinding(ring, "kid", binding);
      assert.equal(toHex(sig), v.sig);
      const pub = await ring.ed25519PublicKey("kid");
      assert.equal(await verifyIdentityBinding(pub, binding, sig), true);
    });
  }

  test("verify is false for a flipped bit in the signature, the message or the key", async () => {
    for (const v of SIGNED) {
      const pub = ed25519.getPublicKey(fromHex(v.signer_seed));
      const binding = fromHex(v.binding);
      const sig = fromHex(v.sig);
      assert.equal(await verifyIdentityBinding(pub, binding, sig), true);
      for (const bit of [0, 1, 7, 100, 255, 256, 300, 511]) {
        assert.equal(
          await verifyIdentityBinding(pub, binding, flipBit(sig, bit)),
          false,
          `sig ${bit}`,
        );
      }
      for (const bit of [0, 9, 128, 255]) {
        assert.equal(
          await verifyIdentityBinding(pub, flipBit(binding, bit), sig),
          false,
          `msg ${bit}`,
        );
        assert.equal(
          await verifyIdentityBinding(flipBit(pub, bit), binding, sig),
          false,
          `key ${bit}`,
        );
      }
    }
  });

  test("wrong-length or non-byte inputs give false, never throw", async () => {
    const v = SIGNED[0];
    const pub = ed25519.getPublicKey(fromHex(v.signer_seed));
    const binding = fromHex(v.binding);
    const sig = fromHex(v.sig);
    const cases: Array<[unknown, unknown, unknown]> = [
      [pub.subarray(1), binding, sig],
      [new Uint8Array([...pub, 0]), binding, sig],
      [pub, binding.subarray(1), sig],
      [pub, new Uint8Array([...binding, 0]), sig],
      [pub, binding, sig.subarray(1)],
      [pub, binding, new Uint8Array([...sig, 0])],
      [new Uint8Array(0), new Uint8Array(0), new Uint8Array(0)],
      [null, binding, sig],
      [pub, undefined, sig],
      [pub, binding, "sig"],
      [[...pub], binding, sig],
      [pub, binding, [...sig]],
    ];
    for (const [i, [p, m, s]] of cases.entries()) {
      const args = [p, m, s] as [Uint8Array, Uint8Array, Uint8Array];
      assert.equal(await verifyIdentityBinding(...args), false, `binding case ${i}`);
      assert.equal(await verifyEd25519(...args), false, `ed25519 case ${i}`);
      for (const backend of BACKENDS) {
        assert.equal(await backend.verify(...args), false, `${backend.name} case ${i}`);
      }
    }
  });

  test("a valid signature over a message that is not 32 bytes is not a binding", async () => {
    const signer = await importEd25519Seed(new Uint8Array(32).fill(0x2a));
    for (const len of [0, 31, 33, 64]) {
      const msg = new Uint8Array(len).fill(7);
      const sig = await signer.sign(msg);
      assert.equal(await verifyEd25519(signer.publicKey, msg, sig), true);
      assert.equal(await verifyIdentityBinding(signer.publicKey, msg, sig), false, `len ${len}`);
    }
  });

  test("signIdentityBinding rejects a binding that is not 32 bytes", async () => {
    const ring = await DummyRing.create(new Uint8Array(32).fill(0x2a), "kid");
    await assert.rejects(
      signIdentityBinding(ring, "kid", new Uint8Array(31)),
      (err: unknown) => err instanceof NoiseError && err.code === NoiseErrorCode.Other,
    );
  });
});

describe("Ed25519 backends", () => {
  test("WebCrypto is the active backend on Deno, Bun and Node", async () => {
    assert.equal(await ed25519BackendName(), "webcrypto");
    assert.equal(await ed25519BackendName("sign"), "webcrypto");
    assert.equal(await ed25519BackendName("verify"), "webcrypto");
    assert.equal(ed25519Backends.webcrypto.importSeed, importEd25519SeedWebCrypto);
    assert.equal(ed25519Backends.noble.importSeed, importEd25519SeedNoble);
  });

  test("public keys match ed25519_from_seed on both backends", async () => {
    for (const v of kat.ed25519_from_seed) {
      for (const backend of BACKENDS) {
        const signer = await backend.importSeed(fromHex(v.seed));
        assert.equal(toHex(signer.publicKey), v.ed25519_pub, `${backend.name} ${v.description}`);
      }
    }
  });

  test("both backends sign the KAT identically and verify each other", async () => {
    for (const v of SIGNED) {
      const binding = fromHex(v.binding);
      const sigs: string[] = [];
      for (const backend of BACKENDS) {
        const signer = await backend.importSeed(fromHex(v.signer_seed));
        sigs.push(toHex(await signer.sign(binding)));
      }
      assert.deepEqual(sigs, [v.sig, v.sig]);
      const pub = ed25519.getPublicKey(fromHex(v.signer_seed));
      for (const backend of BACKENDS) {
        assert.equal(await backend.verify(pub, binding, fromHex(v.sig)), true, backend.name);
      }
    }
  });

  test("both backends agree on random seeds and messages", async () => {
    for (let i = 0; i < 16; i++) {
      const seed = crypto.getRandomValues(new Uint8Array(32));
      const msg = crypto.getRandomValues(new Uint8Array(i * 7));
      const web = await ed25519Backends.webcrypto.importSeed(seed);
      const noble = await ed25519Backends.noble.importSeed(seed);
      assert.equal(toHex(web.publicKey), toHex(noble.publicKey));
      assert.equal(toHex(web.publicKey), toHex(ed25519.getPublicKey(seed)));
      const sigWeb = await web.sign(msg);
      const sigNoble = await noble.sign(msg);
      assert.equal(toHex(sigWeb), toHex(sigNoble), `case ${i}`);
      assert.equal(await ed25519Backends.noble.verify(web.publicKey, msg, sigWeb), true);
      assert.equal(await ed25519Backends.webcrypto.verify(noble.publicKey, msg, sigNoble), true);
      assert.equal(await verifyEd25519(noble.publicKey, msg, sigWeb), true);
      const bad = flipBit(sigWeb, i * 31);
      for (const backend of BACKENDS) {
        assert.equal(await backend.verify(web.publicKey, msg, bad), false, backend.name);
      }
    }
  });

  test("the caller may wipe the seed once the import resolves", async () => {
    const v = SIGNED[0];
    for (
      const importSeed of [importEd25519Seed, importEd25519SeedWebCrypto, importEd25519SeedNoble]
    ) {
      const seed = fromHex(v.signer_seed);
      const pending = importSeed(seed);
      seed.fill(0); // even before it resolves: the import copies synchronously
      const signer = await pending;
      assert.equal(toHex(await signer.sign(fromHex(v.binding))), v.sig);
    }
  });

  test("seeds that are not 32 bytes are rejected with Ring", async () => {
    for (
      const importSeed of [importEd25519Seed, importEd25519SeedWebCrypto, importEd25519SeedNoble]
    ) {
      for (const seed of [new Uint8Array(31), new Uint8Array(33), [1, 2, 3]]) {
        await assert.rejects(
          importSeed(seed as Uint8Array),
          (err: unknown) => err instanceof NoiseError && err.code === NoiseErrorCode.Ring,
        );
      }
    }
  });

  test("the public key property is a copy; signers reveal no secret", async () => {
    const seedHex = kat.ed25519_from_seed[2].seed;
    for (const backend of BACKENDS) {
      const signer = await backend.importSeed(fromHex(seedHex));
      signer.publicKey.fill(0);
      assert.equal(toHex(signer.publicKey), kat.ed25519_from_seed[2].ed25519_pub);
      const outputs = [JSON.stringify(signer), String(signer), inspect(signer), inspect([signer])];
      const deno = (globalThis as { Deno?: { inspect(v: unknown): string } }).Deno;
      if (deno) outputs.push(deno.inspect(signer));
      for (const out of outputs) {
        assert.ok(!out.includes(seedHex.slice(0, 16)), `seed leaked: ${out}`);
        assert.match(out, /redacted/);
      }
      assert.deepEqual(Object.keys(signer), []);
    }
  });
});

/**
 * The 15 edge-case vectors of "Taming the many EdDSAs" (Chalkias, Garillot, Nikolaenko 2020),
 * from novifinancial/ed25519-speccheck `cases.json`: [message, public key, signature].
 */
const SPECCHECK: Array<[string, string, string]> = [
  [
    "2a66241a42a9ee12994d8068dcf1bb7dfc6637b45450acd43711f637fa5080fc",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a0000000000000000000000000000000000000000000000000000000000000000",
  ],
  [
    "8c93255d71dcab10e8f379c26200f3c7bd5f09d9bc3068d3ef4edeb4853022b6",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a0000000000000000000000000000000000000000000000000000000000000000",
  ],
  [
    "9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43a5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04",
  ],
  [
    "9bd9f44f4dcc75bd531b56b2cd280b0bb38fc1cd6d1230e14861d861de092e79",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43a5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04",
  ],
  [
    "9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41",
    "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa182ef1a5b928da07fec769cc8a12db6bcf70dab3f3227fa315e9d5e3e01a3405",
  ],
  [
    "aebf3f2601a0c8c5d39cc7d8911642f740b78168218da8471772b35f9d35b9ab",
    "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa8c4bd45aecaca5b24fb97bc10ac27ac8751a7dfe1baff8b953ec9f5833ca260e",
  ],
  [
    "9bd9f44f4dcc75bd531b56b2cd280b0bb38fc1cd6d1230e14861d861de092e79",
    "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
    "9046a64750444938de19f227bb80485e92b83fdb4b6506c160484c016cc1852f87909e14428a7a1d62e9f22f3d3ad7802db02eb2e688b6c52fcd6648a98bd009",
  ],
  [
    "e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec4011eaccd55b53f56c",
    "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
    "160a1cb0dc9c0258cd0a7d23e94d8fa878bcb1925f2c64246b2dee1796bed5125ec6bc982a269b723e0668e540911a9a6a58921d6925e434ab10aa7940551a09",
  ],
  [
    "e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec4011eaccd55b53f56c",
    "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
    "21122a84e0b5fca4052f5b1235c80a537878b38f3142356b2c2384ebad4668b7e40bc836dac0f71076f9abe3a53f9c03c1ceeeddb658d0030494ace586687405",
  ],
  [
    "85e241a07d148b41e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec40",
    "442aad9f089ad9e14647b1ef9099a1ff4798d78589e66f28eca69c11f582a623",
    "e96f66be976d82e60150baecff9906684aebb1ef181f67a7189ac78ea23b6c0e547f7690a0e2ddcd04d87dbc3490dc19b3b3052f7ff0538cb68afb369ba3a514",
  ],
  [
    "85e241a07d148b41e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec40",
    "442aad9f089ad9e14647b1ef9099a1ff4798d78589e66f28eca69c11f582a623",
    "8ce5b96c8f26d0ab6c47958c9e68b937104cd36e13c33566acd2fe8d38aa19427e71f98a473474f2f13f06f97c20d58cc3f54b8bd0d272f42b695dd7e89a8c22",
  ],
  [
    "9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41",
    "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff03be9678ac102edcd92b0210bb34d7428d12ffc5df5f37e359941266a4e35f0f",
  ],
  [
    "9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41",
    "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffca8c5b64cd208982aa38d4936621a4775aa233aa0505711d8fdcfdaa943d4908",
  ],
  [
    "e96b7021eb39c1a163b6da4e3093dcd3f21387da4cc4572be588fafae23c155b",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "a9d55260f765261eb9b84e106f665e00b867287a761990d7135963ee0a7d59dca5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04",
  ],
  [
    "39a591f5321bbe07fd5a23dc2f39d025d74526615746727ceefd6e82ae65c06f",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "a9d55260f765261eb9b84e106f665e00b867287a761990d7135963ee0a7d59dca5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04",
  ],
];

/** Indices ed25519-dalek 2 `verify` accepts (speccheck table; #10 has a non-canonical `s`). */
const DALEK_ACCEPTS = [1, 3, 5, 6, 14];

async function accepted(
  verify: (pub: Uint8Array, msg: Uint8Array, sig: Uint8Array) => Promise<boolean>,
): Promise<number[]> {
  const out: number[] = [];
  for (const [i, [msg, pub, sig]] of SPECCHECK.entries()) {
    if (await verify(fromHex(pub), fromHex(msg), fromHex(sig))) out.push(i);
  }
  return out;
}

describe("Ed25519 verification edge cases (ed25519-speccheck)", () => {
  test("verifyEd25519 accepts only what both dalek and noble (zip215: false) accept", async () => {
    const ours = await accepted(verifyEd25519);
    const noble = await accepted((p, m, s) =>
      Promise.resolve(ed25519.verify(s, m, p, { zip215: false }))
    );
    assert.deepEqual(noble, [4, 5, 6, 7, 8]); // cofactored, rejects small/non-canonical keys
    assert.deepEqual(ours, DALEK_ACCEPTS.filter((i) => noble.includes(i)));
    assert.deepEqual(ours, [5, 6]);
  });

  test("the webcrypto path gives the same answers as verifyEd25519", async () => {
    assert.deepEqual(await accepted(ed25519Backends.webcrypto.verify), [5, 6]);
  });

  test("the noble path additionally rejects mixed-order keys, nothing else", async () => {
    assert.deepEqual(await accepted(ed25519Backends.noble.verify), []);
  });
});
