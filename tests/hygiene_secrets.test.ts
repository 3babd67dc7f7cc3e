/**
 * Secret hygiene (the Rust crate's `secure-mem` feature, as far as JavaScript
 * allows): every buffer that held a secret is zeroed once it is no longer
 * needed, and no object a session leaves behind shows a secret.
 *
 * Sessions run on a recording suite and ring (`hygiene_recorder.ts`), which
 * record every DH output, HKDF output (chaining keys, handshake cipher keys,
 * split keys), every key handed to the AEAD, every rekey block, every device
 * static and seed, and follow their copies (`slice`, `set`).
 *
 * Exception, by design: the two keys of a live link stay in its CipherStates
 * until `link.destroy()`. Statics on the WebCrypto backend live on as
 * non-extractable `CryptoKey`s (not bytes) for the life of the client or server.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { NoiseError, NoiseErrorCode } from "../lib/errors.ts";
import { utf8 } from "../lib/bytes.ts";
import { type CryptoSuite, loadCryptoSuite, nobleCryptoSuite } from "../lib/crypto/suite.ts";
import { noiseHashOver } from "../lib/crypto/blake2s.ts";
import { blake2s } from "@noble/hashes/blake2.js";
import { DummyRing } from "../lib/ring.ts";
import { CipherState } from "../lib/noise/cipher_state.ts";
import { ed25519Backends } from "../lib/crypto/ed25519.ts";
import { NoiseClient } from "../lib/client.ts";
import { NoiseServer } from "../lib/server.ts";
import type { NoiseLink } from "../lib/link.ts";
import {
  clientCompleteIk,
  clientCompleteNn,
  clientCompleteXx,
  clientStartIkDirect,
  clientStartNn,
  clientStartXxTofu,
  serverAcceptIk,
  serverAcceptNn,
  serverAcceptXx,
  serverCompleteIk,
  serverCompleteNn,
  serverCompleteXx,
} from "../lib/datalink_adapter.ts";
import { StreamingNoiseLink } from "../lib/streams/streaming_link.ts";
import { memoryCarrierPair } from "../lib/streams/carrier.ts";
import { accept, connect } from "../lib/streams/handshake.ts";
import { recordTrace } from "../lib/trace.ts";
import { findLeaks, SecretRecorder } from "./hygiene_recorder.ts";

const PLAINTEXTS = [
  utf8("attack at dawn, hygiene test plaintext #1"),
  new Uint8Array(300).fill(0xa7),
];

/** What a run of every pattern leaves behind. */
interface Run {
  recorder: SecretRecorder;
  links: NoiseLink[];
  objects: Record<string, unknown>;
  seeds: Uint8Array[];
}

function flip(bytes: Uint8Array, index: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[index] ^= 1;
  return out;
}

async function expectCode(p: Promise<unknown> | (() => unknown), code: number): Promise<unknown> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    assert.ok(e instanceof NoiseError, `expected NoiseError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected NoiseError ${code}, but it succeeded`);
}

/** Messages both ways, a rekey of both directions, and messages again. */
function exchange(a: NoiseLink, b: NoiseLink): void {
  for (const pt of PLAINTEXTS) {
    assert.deepEqual(b.decrypt(a.encrypt(pt)), pt);
    assert.deepEqual(a.decrypt(b.encrypt(pt)), pt);
  }
  a.transport.rekeySend();
  b.transport.rekeyReceive();
  b.transport.rekeySend();
  a.transport.rekeyReceive();
  for (const pt of PLAINTEXTS) {
    assert.deepEqual(b.decrypt(a.encrypt(pt)), pt);
    assert.deepEqual(a.decrypt(b.encrypt(pt)), pt);
  }
}

/** XX (with a rejected forged message 2 first), IK (with rejected inputs), NN, streams. */
async function runSessions(base: CryptoSuite): Promise<Run> {
  const recorder = new SecretRecorder();
  recorder.install();
  try {
    const suite = recorder.suite(base);
    const seeds = [
      crypto.getRandomValues(new Uint8Array(32)),
      crypto.getRandomValues(new Uint8Array(32)),
    ];
    for (const s of seeds) recorder.track(s, "seed");
    const clientRing = await DummyRing.create(seeds[0], "client");
    const serverRing = await DummyRing.create(seeds[1], "server");
    for (const s of seeds) s.fill(0); // the caller's part: the rings keep no copy
    const events = recordTrace(10_000);
    const client = new NoiseClient("client", "client-device-000001", recorder.ring(clientRing), {
      suite,
      trace: events.logger,
    });
    const server = new NoiseServer("server", "server-device-000001", recorder.ring(serverRing), {
      suite,
      trace: events.logger,
    });
    const errors: unknown[] = [];

    // XX: a forged message 2 is rejected (and rolled back), then the genuine one goes through.
    const c1 = await clientStartXxTofu(client);
    const s1 = await serverAcceptXx(server, c1.firstMsg);
    errors.push(await expectCode(clientCompleteXx(client, c1.hs, flip(s1.response, 40)), 3000));
    const c2 = await clientCompleteXx(client, c1.hs, s1.response);
    errors.push(
      await expectCode(
        serverCompleteXx(server, s1.hs, flip(c2.finalMsg, 60), s1.serverStaticPk),
        3000,
      ),
    );
    const s2 = await serverCompleteXx(server, s1.hs, c2.finalMsg, s1.serverStaticPk);
    exchange(c2.link, s2.link);
    errors.push(
      await expectCode(() => s2.link.decrypt(flip(c2.link.encrypt(PLAINTEXTS[0]), 3)), 3000),
    );

    // IK: tampered message 1, a wrong pinned key, then a good session.
    const bad = await clientStartIkDirect(client, c2.serverStaticPk);
    errors.push(await expectCode(serverAcceptIk(server, flip(bad.firstMsg, 50)), 3000));
    bad.hs.destroy();
    const wrongPin = await clientStartIkDirect(client, s2.clientStaticPk);
    errors.push(await expectCode(serverAcceptIk(server, wrongPin.firstMsg), 3000));
    wrongPin.hs.destroy();
    const ik = await clientStartIkDirect(client, c2.serverStaticPk, "hint");
    const accepted = await serverAcceptIk(server, ik.firstMsg);
    errors.push(await expectCode(clientCompleteIk(ik.hs, flip(accepted.response, 33)), 3000));
    const ikClient = await clientCompleteIk(ik.hs, accepted.response);
    const ikServer = serverCompleteIk(accepted.hs);
    exchange(ikClient, ikServer);

    // NN.
    const n1 = await clientStartNn(client);
    const n2 = await serverAcceptNn(server, n1.firstMsg);
    const nnClient = await clientCompleteNn(client, n1.hs, n2.response);
    const nnServer = serverCompleteNn(n2.hs);
    exchange(nnClient, nnServer);
    const streaming = new StreamingNoiseLink(nnClient, 100);
    assert.deepEqual(
      new StreamingNoiseLink(nnServer, 100).decryptStreaming(
        streaming.encryptStreaming(PLAINTEXTS[1]),
      ),
      PLAINTEXTS[1],
    );

    // Streams: one good XX session, one that fails (the server does not accept XX).
    const [a, b] = memoryCarrierPair();
    const [cc, sc] = await Promise.all([
      connect(a, client, { pattern: "XX" }),
      accept(b, server),
    ]);
    const w = cc.writable.getWriter();
    await w.write(PLAINTEXTS[0]);
    const got = await sc.readable.getReader().read();
    assert.deepEqual(got.value, PLAINTEXTS[0]);
    await w.close();
    const [x, y] = memoryCarrierPair();
    const failed = await Promise.allSettled([
      connect(x, client, { pattern: "XX", timeoutMs: 2000 }),
      accept(y, server, { patterns: ["IK"] }),
    ]);
    for (const r of failed) {
      assert.equal(r.status, "rejected");
      errors.push(r.reason);
    }

    const links = [c2.link, s2.link, ikClient, ikServer, nnClient, nnServer, cc.link, sc.link];
    return {
      recorder,
      links,
      seeds,
      objects: {
        client,
        server,
        clientRing,
        serverRing,
        c1,
        s1,
        c2,
        s2,
        ik,
        accepted,
        n1,
        n2,
        links,
        transports: links.map((l) => l.transport),
        sessionIds: links.map((l) => l.sessionId),
        streaming,
        clientChannel: cc,
        serverChannel: sc,
        errors,
        traceEvents: events.events,
      },
    };
  } finally {
    recorder.uninstall();
  }
}

for (
  const [name, suite] of [["fastest", () => loadCryptoSuite()], [
    "noble",
    () => Promise.resolve(nobleCryptoSuite()),
  ]] as const
) {
  describe(`secret hygiene on the ${name} suite`, () => {
    let run: Run;

    test("sessions record secrets (the recorder works)", async () => {
      run = await runSessions(await suite());
      const labels = run.recorder.labels;
      for (
        const label of [
          "seed",
          "DH output",
          "HKDF output",
          "cipher key",
          "rekey block",
          "device static secret",
        ]
      ) {
        assert.ok(labels.has(label), `nothing recorded as ${label}`);
      }
      assert.ok(run.recorder.values.length > 50, `only ${run.recorder.values.length} secrets`);
    });

    test("DH outputs, HKDF outputs, device statics, seeds and rekey blocks are zero once used", () => {
      const live = run.recorder.nonZero();
      // Only keys of live CipherStates remain: two per link, 32 bytes each.
      assert.ok(live.length <= 2 * run.links.length, JSON.stringify(live));
      for (const { label, length } of live) {
        assert.equal(length, 32, label);
        assert.ok(/^(cipher key|HKDF output \(copy\)|rekey block \(copy\))$/.test(label), label);
      }
    });

    test("no object of a live session shows a secret", () => {
      const leaks = findLeaks(run.objects, run.recorder.values);
      assert.deepEqual(leaks, []);
    });
    test("after link.destroy() every buffer that held a secret is zero", () => {
      for (const link of run.links) link.destroy();
      assert.deepEqual(run.recorder.nonZero(), []);
      for (const seed of run.seeds) assert.ok(seed.every((b) => b === 0));
    });

    test("nor does any once the links are destroyed", () => {
      assert.deepEqual(findLeaks(run.objects, run.recorder.values), []);
    });
  });
}

describe("the leak detector", () => {
  test("finds a secret planted in JSON, String, inspect output and reachable bytes", () => {
    const recorder = new SecretRecorder();
    const secret = crypto.getRandomValues(new Uint8Array(32));
    recorder.track(secret, "planted");
    const hexOf = Array.from(secret, (b) => b.toString(16).padStart(2, "0")).join("");
    const leaky = {
      json: { toJSON: () => ({ key: hexOf }) },
      text: { toString: () => `key=${hexOf.toUpperCase()}` },
      inspected: {
        [Symbol.for("nodejs.util.inspect.custom")]: () => `K ${Array.from(secret).join(", ")}`,
      },
      nested: { deeper: { keys: [new Uint8Array([1, 2, ...secret, 3])] } },
    };
    const leaks = findLeaks(leaky, recorder.values);
    for (const name of ["json", "text", "nested"]) {
      assert.ok(leaks.some((l) => l.startsWith(`${name}:`)), `${name} not found in ${leaks}`);
    }
    // inspect is a Node/Bun rendering; Deno's own inspect ignores the Node symbol.
    assert.ok(leaks.some((l) => l.startsWith("inspected:")), `inspected not found in ${leaks}`);
    assert.deepEqual(findLeaks({ clean: { key: "nothing here" } }, recorder.values), []);
  });

  test("follows copies made with slice and set while installed, and only then", () => {
    const recorder = new SecretRecorder();
    const secret = new Uint8Array(32).fill(5);
    recorder.track(secret, "s");
    recorder.install();
    let copy: Uint8Array;
    const into = new Uint8Array(48);
    try {
      copy = secret.slice(0, 32);
      into.set(secret, 16);
    } finally {
      recorder.uninstall();
    }
    const untracked = secret.slice();
    assert.deepEqual(recorder.nonZero().map((x) => x.label).sort(), [
      "s",
      "s (copy)",
      "s (written into a buffer)",
    ]);
    copy.fill(0);
    into.fill(0);
    secret.fill(0);
    assert.deepEqual(recorder.nonZero(), []);
    assert.ok(untracked.every((b) => b === 5));
  });
});

describe("hash residue", () => {
  test("after an HKDF the hash state holds none of its outputs (the last block hashed is zeros)", () => {
    const digests: Uint8Array[] = [];
    const updates: Uint8Array[] = [];
    let state = blake2s.create();
    const hash = noiseHashOver("recording", {
      init() {
        state = blake2s.create();
      },
      update(data) {
        updates.push(Uint8Array.from(data));
        state.update(data);
      },
      digest() {
        const d = state.digest();
        digests.push(Uint8Array.from(d));
        return d;
      },
    });
    const outputs = hash.hkdf(new Uint8Array(32).fill(1), new Uint8Array(32).fill(2), 2);
    const last = digests[digests.length - 1];
    for (const o of outputs) assert.notDeepEqual(Array.from(last), Array.from(o));
    assert.ok(updates[updates.length - 1].every((b) => b === 0), "the last update is not zeros");
    assert.equal(updates[updates.length - 1].length, 64);
  });
});

describe("errors show no secret", () => {
  test("a ring refusing a device id shows neither the seed nor a derived key", async () => {
    const seed = new Uint8Array(32).fill(0x42);
    const ring = await DummyRing.create(seed, "kid");
    const e = await expectCode(
      ring.withDeviceX25519("kid", utf8("short"), 0, () => 0),
      NoiseErrorCode.Ring,
    );
    const recorder = new SecretRecorder();
    recorder.track(seed, "seed");
    assert.deepEqual(findLeaks({ e, ring }, recorder.values), []);
  });
});

describe("console.log of objects that hold secrets", () => {
  test("shows each one's redacted toString, on Node, Bun and Deno alike", async () => {
    const suite = await loadCryptoSuite();
    const ring = await DummyRing.create(new Uint8Array(32).fill(9), "kid");
    const client = new NoiseClient("kid", "client-device-0001", ring);
    const server = new NoiseServer("kid", "server-device-0001", ring);
    const c1 = await clientStartNn(client);
    const s1 = await serverAcceptNn(server, c1.firstMsg);
    const link = await clientCompleteNn(client, c1.hs, s1.response);
    const objects: Record<string, unknown> = {
      ring,
      handshake: (await clientStartNn(client)).hs,
      link,
      transport: link.transport,
      cipherState: new CipherState(suite.cipher),
      webCryptoKeyPair: await suite.dh.importSecretKey(new Uint8Array(32).fill(3)),
      nobleKeyPair: await nobleCryptoSuite().dh.importSecretKey(new Uint8Array(32).fill(3)),
      webCryptoSigner: await ed25519Backends.webcrypto.importSeed(new Uint8Array(32).fill(4)),
      nobleSigner: await ed25519Backends.noble.importSeed(new Uint8Array(32).fill(4)),
    };
    const deno = (globalThis as { Deno?: { inspect(v: unknown): string } }).Deno;
    for (const [what, object] of Object.entries(objects)) {
      const text = String(object);
      assert.ok(!text.startsWith("[object"), `${what} has its own toString: ${text}`);
      assert.equal(inspect(object), text, `util.inspect of ${what}`);
      if (deno) assert.equal(deno.inspect(object), text, `Deno.inspect of ${what}`);
    }
    link.destroy();
  });
});
