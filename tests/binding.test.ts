import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { ed25519 } from "@noble/curves/ed25519.js";
import kat from "./vectors/pubky-kat.json" with { type: "json" };
import { NoiseError, NoiseErrorCode } from "../lib/errors.ts";
import { fromHex, toHex, utf8 } from "../lib/bytes.ts";
import { blake3, blake3BackendName, preloadBlake3 } from "../lib/crypto/blake3.ts";
import { blake3 as nobleBlake3 } from "@noble/hashes/blake3.js";
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
import { SPECCHECK } from "./_speccheck.ts";

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
const BACKENDS: Ed25519Backend[] = [
  ed25519Backends.webcrypto,
  ed25519Backends.noble,
  ed25519Backends.node,
];

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

  test("runs on hash-wasm in Deno, Bun and Node once loaded, and equals noble at any length", async () => {
    assert.equal(await preloadBlake3(), true);
    assert.equal(blake3BackendName(), "hash-wasm");
    const lengths = [0, 1, 31, 32, 33, 63, 64, 65, 150, 1023, 1024, 1025, 2048, 2049, 5000];
    for (const length of lengths) {
      const data = crypto.getRandomValues(new Uint8Array(length));
      assert.equal(toHex(blake3(data)), toHex(nobleBlake3(data)), `length ${length}`);
      // A view into a larger buffer hashes only its own bytes.
      const big = new Uint8Array(length + 8);
      big.set(data, 5);
      assert.equal(toHex(blake3(big.subarray(5, 5 + length))), toHex(nobleBlake3(data)));
    }
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
  test("Deno, Bun and Node sign on WebCrypto and verify on node:crypto", async () => {
    assert.equal(await ed25519BackendName(), "webcrypto");
    assert.equal(await ed25519BackendName("sign"), "webcrypto");
    assert.equal(await ed25519BackendName("verify"), "node");
    assert.equal(ed25519Backends.node.importSeed, importEd25519SeedWebCrypto);
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
      assert.deepEqual(sigs, BACKENDS.map(() => v.sig));
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
      assert.equal(await ed25519Backends.node.verify(noble.publicKey, msg, sigNoble), true);
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

  test("the node:crypto path gives the same answers as verifyEd25519", async () => {
    assert.deepEqual(await accepted(ed25519Backends.node.verify), [5, 6]);
  });

  test("the noble path additionally rejects mixed-order keys, nothing else", async () => {
    assert.deepEqual(await accepted(ed25519Backends.noble.verify), []);
  });
});
