/**
 * `PubkyRingProvider` (`@pubky/noise/pubky-sdk`): a ring on a keypair of the npm
 * `@synonymdev/pubky` SDK, checked against `DummyRing` on the same secret, in
 * handshakes, and on malformed keypairs.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { inspect } from "node:util";
import { ed25519 } from "@noble/curves/ed25519.js";
import { Keypair } from "@synonymdev/pubky";
import { NoiseErrorCode } from "../lib/errors.ts";
import { toHex, utf8 } from "../lib/bytes.ts";
import { DummyRing } from "../lib/ring.ts";
import { NoiseClient } from "../lib/client.ts";
import { NoiseServer } from "../lib/server.ts";
import { verifyEd25519 } from "../lib/crypto/ed25519.ts";
import {
  clientCompleteIk,
  clientCompleteXx,
  clientStartIkDirect,
  clientStartXxTofu,
  serverAcceptIk,
  serverAcceptXx,
  serverCompleteIk,
  serverCompleteXx,
} from "../lib/datalink_adapter.ts";
import { type PubkyKeypairLike, PubkyRingProvider } from "../pubky-sdk.ts";
import { CLIENT_ED25519_PUB, expectNoiseError, KAT_CLIENT } from "./_pubky_fixtures.ts";

const SECRET = new Uint8Array(32).fill(1); // the KAT client seed
const DEVICE = utf8(KAT_CLIENT.device_id);

/** The SDK's Keypair is a PubkyKeypairLike as it is (checked by the type checker). */
function sdkKeypair(secret: Uint8Array = SECRET): Keypair & PubkyKeypairLike {
  const keypair: PubkyKeypairLike = Keypair.fromSecret(secret);
  return keypair as Keypair & PubkyKeypairLike;
}

/** The device static of `ring` for `deviceId`/`epoch`, copied out of the closure. */
function staticOf(
  ring: { withDeviceX25519: DummyRing["withDeviceX25519"] },
  deviceId: Uint8Array,
  epoch: number,
): Promise<string> {
  return ring.withDeviceX25519("kid", deviceId, epoch, (sk) => toHex(sk));
}

describe("PubkyRingProvider against DummyRing with the same secret", () => {
  test("derives the same device statics for every device id and epoch", async () => {
    const keypair = sdkKeypair();
    const pubky = await PubkyRingProvider.fromKeypair(keypair, "kid");
    const dummy = await DummyRing.create(SECRET, "kid");
    assert.equal(await staticOf(pubky, DEVICE, 0), KAT_CLIENT.x25519_sk);
    for (const [deviceId, epoch] of [[DEVICE, 0], [DEVICE, 7], [utf8("another-device-0001"), 1]]) {
      assert.equal(
        await staticOf(pubky, deviceId as Uint8Array, epoch as number),
        await staticOf(dummy, deviceId as Uint8Array, epoch as number),
      );
    }
    keypair.free();
  });

  test("has the SDK keypair's public key and signs exactly as DummyRing", async () => {
    const keypair = sdkKeypair();
    const sdkPublicKey = keypair.publicKey.toUint8Array();
    const pubky = await PubkyRingProvider.fromKeypair(keypair, "kid");
    const dummy = await DummyRing.create(SECRET, "kid");
    assert.equal(toHex(await pubky.ed25519PublicKey("kid")), toHex(sdkPublicKey));
    assert.equal(toHex(sdkPublicKey), CLIENT_ED25519_PUB);
    for (const message of [new Uint8Array(0), utf8("binding"), new Uint8Array(32).fill(0xab)]) {
      const sig = await pubky.signEd25519("kid", message);
      assert.equal(toHex(sig), toHex(await dummy.signEd25519("kid", message)));
      assert.ok(await verifyEd25519(sdkPublicKey, message, sig));
    }
    assert.equal(pubky.signsThroughKeypair, false); // the SDK's Keypair has no sign()
    keypair.free();
  });

  test("a random SDK keypair gives a working ring (the ring outlives keypair.free())", async () => {
    const keypair = Keypair.random();
    const publicKey = keypair.publicKey.toUint8Array();
    const ring = await PubkyRingProvider.fromKeypair(keypair, "kid");
    keypair.free();
    const msg = utf8("after free");
    assert.ok(await verifyEd25519(publicKey, msg, await ring.signEd25519("kid", msg)));
  });
});

describe("PubkyRingProvider in handshakes", () => {
  test("an XX client on an SDK keypair is verified by the server under the SDK public key", async () => {
    const keypair = sdkKeypair(new Uint8Array(32).fill(9));
    const sdkPublicKey = toHex(keypair.publicKey.toUint8Array());
    const client = new NoiseClient(
      "kid",
      "phone-device-000001",
      await PubkyRingProvider.fromKeypair(keypair, "kid"),
    );
    keypair.free();
    const server = new NoiseServer(
      "kid",
      "server-device-00001",
      await DummyRing.create(new Uint8Array(32).fill(2), "kid"),
    );
    const c1 = await clientStartXxTofu(client);
    const s1 = await serverAcceptXx(server, c1.firstMsg);
    const c2 = await clientCompleteXx(client, c1.hs, s1.response);
    const s2 = await serverCompleteXx(server, s1.hs, c2.finalMsg, s1.serverStaticPk);
    assert.equal(toHex(s2.clientIdentity.ed25519Pub), sdkPublicKey);
    assert.equal(toHex(s2.link.decrypt(c2.link.encrypt(utf8("hi")))), toHex(utf8("hi")));

    // IK to the pinned server: the same statics, so the same client static key.
    const ik = await clientStartIkDirect(client, c2.serverStaticPk);
    const accepted = await serverAcceptIk(server, ik.firstMsg);
    const link = await clientCompleteIk(ik.hs, accepted.response);
    assert.ok(link.sessionId.equals(serverCompleteIk(accepted.hs).sessionId));
    assert.equal(toHex(accepted.clientStaticPk), toHex(s2.clientStaticPk));
    assert.equal(toHex(accepted.clientIdentity.ed25519Pub), sdkPublicKey);
  });

  test("a server on an SDK keypair has the same static key as DummyRing on that secret", async () => {
    const keypair = sdkKeypair(new Uint8Array(32).fill(2));
    const ringA = await PubkyRingProvider.fromKeypair(keypair, "kid");
    keypair.free();
    const a = new NoiseServer("kid", "server-device-00001", ringA);
    const b = new NoiseServer(
      "kid",
      "server-device-00001",
      await DummyRing.create(new Uint8Array(32).fill(2), "kid"),
    );
    assert.equal(toHex(await a.staticPublicKey()), toHex(await b.staticPublicKey()));
  });
});

describe("PubkyRingProvider: keypair shapes", () => {
  test("wipes the copy of the secret it read", async () => {
    let handedOut: Uint8Array | null = null;
    const sdk = sdkKeypair();
    const fake: PubkyKeypairLike = {
      secret: () => (handedOut = SECRET.slice()),
      publicKey: { toUint8Array: () => sdk.publicKey.toUint8Array() },
    };
    await PubkyRingProvider.fromKeypair(fake, "kid");
    assert.ok(handedOut !== null);
    assert.deepEqual(Array.from(handedOut!), new Array(32).fill(0));
    sdk.free();
  });

  test("takes the older SDK shape: secretKey() and a publicKey() method", async () => {
    const sdk = sdkKeypair();
    const z = sdk.publicKey.z32();
    const old: PubkyKeypairLike = {
      secretKey: () => SECRET.slice(),
      publicKey: () => ({ z32: () => z }),
    };
    const ring = await PubkyRingProvider.fromKeypair(old, "kid");
    assert.equal(toHex(await ring.ed25519PublicKey("kid")), CLIENT_ED25519_PUB);
    sdk.free();
  });

  test("checks a z32-only public key against the SDK's z32 form", async () => {
    const other = sdkKeypair(new Uint8Array(32).fill(3));
    const wrong: PubkyKeypairLike = {
      secret: () => SECRET.slice(),
      publicKey: { z32: () => other.publicKey.z32() },
    };
    await expectNoiseError(
      PubkyRingProvider.fromKeypair(wrong, "kid"),
      NoiseErrorCode.Ring,
      "ring error: keypair public key is not the public key of its secret key",
    );
    other.free();
  });

  test("refuses a keypair whose public key is not its secret's", async () => {
    const other = sdkKeypair(new Uint8Array(32).fill(3));
    const mismatched: PubkyKeypairLike = {
      secret: () => SECRET.slice(),
      publicKey: other.publicKey,
    };
    await expectNoiseError(
      PubkyRingProvider.fromKeypair(mismatched, "kid"),
      NoiseErrorCode.Ring,
      "ring error: keypair public key is not the public key of its secret key",
    );
    other.free();
  });

  test("refuses malformed keypairs with Ring, never a raw error", async () => {
    const pk = { toUint8Array: () => new Uint8Array(32) };
    const cases: [string, unknown, string][] = [
      ["null", null, "ring error: keypair must be a Pubky SDK Keypair"],
      [
        "no secret method",
        { publicKey: pk },
        "ring error: keypair has neither secret() nor secretKey()",
      ],
      [
        "31-byte secret",
        { secret: () => new Uint8Array(31), publicKey: pk },
        "ring error: Seed must be 32 bytes",
      ],
      [
        "string secret",
        { secret: () => "00".repeat(32), publicKey: pk },
        "ring error: Seed must be 32 bytes",
      ],
      ["throwing secret()", {
        secret: () => {
          throw new Error("null pointer passed to rust");
        },
        publicKey: pk,
      }, "ring error: keypair secret key could not be read"],
      [
        "public key without a form",
        { secret: () => SECRET.slice(), publicKey: {} },
        "ring error: keypair public key has neither toUint8Array() nor z32()",
      ],
    ];
    for (const [label, keypair, message] of cases) {
      await expectNoiseError(
        PubkyRingProvider.fromKeypair(keypair as PubkyKeypairLike, "kid"),
        NoiseErrorCode.Ring,
        message,
        label,
      );
    }
    const keypair = sdkKeypair();
    await expectNoiseError(
      PubkyRingProvider.fromKeypair(keypair, "kid", { epoch: -1 }),
      NoiseErrorCode.Ring,
      undefined,
      "epoch",
    );
    const ring = await PubkyRingProvider.fromKeypair(keypair, "kid");
    await expectNoiseError(
      ring.withDeviceX25519("kid", utf8("short"), 0, () => 1),
      NoiseErrorCode.Ring,
      "ring error: device_id too short: 5 bytes (minimum 16 bytes required)",
    );
    keypair.free();
  });

  test("a freed SDK keypair is refused with Ring", async () => {
    const keypair = Keypair.random();
    keypair.free();
    await expectNoiseError(
      PubkyRingProvider.fromKeypair(keypair, "kid"),
      NoiseErrorCode.Ring,
      "ring error: keypair secret key could not be read",
    );
  });

  test("signs through the keypair's own sign() when it has one", async () => {
    let calls = 0;
    const signing: PubkyKeypairLike = {
      secret: () => SECRET.slice(),
      publicKey: { toUint8Array: () => ed25519.getPublicKey(SECRET) },
      sign: (message) => {
        calls++;
        return ed25519.sign(message, SECRET);
      },
    };
    const ring = await PubkyRingProvider.fromKeypair(signing, "kid");
    assert.equal(ring.signsThroughKeypair, true);
    const dummy = await DummyRing.create(SECRET, "kid");
    const msg = utf8("through the keypair");
    assert.equal(
      toHex(await ring.signEd25519("kid", msg)),
      toHex(await dummy.signEd25519("kid", msg)),
    );
    assert.equal(calls, 1);

    const short = await PubkyRingProvider.fromKeypair(
      { ...signing, sign: () => new Uint8Array(63) },
      "kid",
    );
    await expectNoiseError(
      short.signEd25519("kid", msg),
      NoiseErrorCode.Ring,
      "ring error: keypair signature must be 64 bytes",
    );
  });
});

describe("PubkyRingProvider: secrets and loading", () => {
  test("shows no secret in JSON, String or inspect", async () => {
    const keypair = sdkKeypair();
    const ring = await PubkyRingProvider.fromKeypair(keypair, "kid", { epoch: 3 });
    keypair.free();
    const shown = [
      JSON.stringify(ring),
      String(ring),
      inspect(ring, { depth: 10, showHidden: true }),
      inspect({ nested: ring }, { depth: 10 }),
    ];
    const deno = (globalThis as { Deno?: { inspect(v: unknown): string } }).Deno;
    if (deno) shown.push(deno.inspect(ring));
    const secretHex = toHex(SECRET);
    for (const text of shown) {
      assert.ok(!text.includes(secretHex), text);
      assert.ok(!text.includes(SECRET.join(", ")), text);
      assert.ok(!text.includes(KAT_CLIENT.x25519_sk), text);
    }
    assert.match(inspect(ring), /secret: \[redacted\]/);
    assert.deepEqual(JSON.parse(JSON.stringify(ring)), {
      kid: "kid",
      deviceId: toHex(utf8("default")),
      epoch: 3,
      ed25519PublicKey: CLIENT_ED25519_PUB,
    });
  });

  test("the pubky-sdk entry imports nothing from the SDK, and the default entry not the ring", () => {
    const read = (path: string) => readFileSync(new URL(path, import.meta.url), "utf8");
    const specifiers = (source: string) =>
      [...source.matchAll(/^\s*(?:import|export)[^;]*?from\s+"([^"]+)"/gms)].map((m) => m[1]);
    const entry = specifiers(read("../pubky-sdk.ts"));
    const ring = specifiers(read("../lib/pubky_sdk_ring.ts"));
    assert.deepEqual(entry, ["./lib/pubky_sdk_ring.ts"]);
    assert.ok(ring.length > 0);
    for (const s of ring) assert.ok(s.startsWith("./"), `unexpected import ${s}`);
    assert.ok(!specifiers(read("../mod.ts")).some((s) => s.includes("pubky_sdk")));
  });
});
