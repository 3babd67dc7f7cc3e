/**
 * `blake2sFromWasmModule`: BLAKE2s from hash-wasm's module compiled ahead of time (what
 * workerd needs, where wasm cannot be compiled at run time). Here the module is compiled
 * by the test runtime itself, so these run under Deno, Bun and Node; `workerd.test.ts`
 * runs the same backend inside workerd.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { blake2sFromWasmModule } from "../../lib/crypto/blake2s_precompiled.ts";
import { nobleBlake2s } from "../../lib/crypto/blake2s.ts";
import { nobleCryptoSuite } from "../../lib/crypto/suite.ts";
import { fromHex, toHex } from "../../lib/bytes.ts";
import { NoiseError, NoiseErrorCode } from "../../lib/errors.ts";
import { replayVector, vectorsOf } from "../../tools/vector_replay.ts";
import { hashWasmModuleBytes } from "./_hash_wasm_modules.ts";
import wireguard from "../vectors/wireguard-hkdf-blake2s.json" with { type: "json" };
import cacophony from "../vectors/cacophony-subset.json" with { type: "json" };

const compile = async (name: string) => new WebAssembly.Module(await hashWasmModuleBytes(name));

async function expectOther(action: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(action, (e: unknown) => {
    assert.ok(e instanceof NoiseError, `expected NoiseError, got ${e}`);
    assert.equal(e.code, NoiseErrorCode.Other);
    assert.match(e.message, message);
    return true;
  });
}

describe("BLAKE2s from a precompiled wasm module", () => {
  test("hash-wasm's blake2s module gives BLAKE2s-256: RFC 7693 'abc' and noble on every length", async () => {
    const fast = await blake2sFromWasmModule(await compile("blake2s"));
    assert.equal(fast.name, "hash-wasm-precompiled");
    assert.equal(
      toHex(fast.hash(new TextEncoder().encode("abc"))),
      "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982",
    );
    const noble = nobleBlake2s();
    for (const len of [0, 1, 55, 64, 65, 128, 16383, 16384, 16385, 40000]) {
      const data = new Uint8Array(len).map((_, i) => (i * 131 + len) & 0xff);
      const key = new Uint8Array((len % 70) + 1).fill(len & 0xff); // some keys exceed a block
      assert.equal(toHex(fast.hash(data)), toHex(noble.hash(data)), `hash, ${len} bytes`);
      assert.equal(toHex(fast.hash(data, data)), toHex(noble.hash(data, data)), `2 parts, ${len}`);
      assert.equal(toHex(fast.hmac(key, data)), toHex(noble.hmac(key, data)), `hmac, ${len} bytes`);
    }
  });

  test("its HKDF gives the WireGuard KDF vectors (2 and 3 outputs)", async () => {
    const fast = await blake2sFromWasmModule(await compile("blake2s"));
    for (const v of wireguard.vectors) {
      const ck = fromHex(v.chaining_key);
      const ikm = fromHex(v.input_key_material);
      assert.deepEqual(fast.hkdf(ck, ikm, 3).map(toHex), [v.output1, v.output2, v.output3]);
      assert.deepEqual(fast.hkdf(ck, ikm, 2).map(toHex), [v.output1, v.output2]);
    }
  });

  test("as the hash of a suite, it replays the cacophony vectors byte for byte", async () => {
    const suite = {
      ...nobleCryptoSuite(),
      hash: await blake2sFromWasmModule(await compile("blake2s")),
    };
    for (const v of vectorsOf(cacophony)) {
      const r = await replayVector(v, suite);
      assert.equal(r.status, "passed", JSON.stringify(r));
    }
  });

  test("two instances from one module do not share state", async () => {
    const module = await compile("blake2s");
    const a = await blake2sFromWasmModule(module);
    const b = await blake2sFromWasmModule(module);
    const x = new Uint8Array(100).fill(1);
    const expected = toHex(nobleBlake2s().hmac(x.subarray(0, 32), x));
    assert.equal(toHex(a.hmac(x.subarray(0, 32), x)), expected);
    assert.equal(toHex(b.hmac(x.subarray(0, 32), x)), expected);
  });

  test("a module with the same exports but another hash (blake2b, sha256) is refused with Other", async () => {
    for (const name of ["blake2b", "sha256"]) {
      await expectOther(
        blake2sFromWasmModule(await compile(name)),
        /the wasm module does not compute BLAKE2s-256/,
      );
    }
  });

  test("a module without hash-wasm's exports is refused with Other, naming what is missing", async () => {
    const empty = new WebAssembly.Module(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
    await expectOther(
      blake2sFromWasmModule(empty),
      /missing exports memory, Hash_GetBuffer, Hash_Init, Hash_Update, Hash_Final/,
    );
  });

  test("anything but a WebAssembly.Module is refused with Other", async () => {
    const bytes = await hashWasmModuleBytes("blake2s");
    for (const bad of [bytes, null, undefined, {}, "blake2s"]) {
      await expectOther(
        blake2sFromWasmModule(bad as unknown as WebAssembly.Module),
        /needs a WebAssembly\.Module/,
      );
    }
  });
});
