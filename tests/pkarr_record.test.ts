/**
 * The `_noise` PKARR record offline: z-base-32 and base64url, the strict TXT format, the
 * signed-packet encoding cross-checked against the npm `pkarr` package (libsodium), and DNS
 * packets (the record next to other records).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { dns as npmDns, generateKeyPair, SignedPacket as NpmSignedPacket } from "pkarr";
import { encodeSigData } from "pkarr/lib/tools.js";
import z32lib from "z32";
import { NoiseErrorCode } from "../lib/errors.ts";
import { toHex } from "../lib/bytes.ts";
import { importEd25519Seed } from "../lib/crypto/ed25519.ts";
import { IK_SUITE, XX_SUITE } from "../lib/client.ts";
import {
  decodeZ32Key,
  encodeZ32,
  formatNoiseTxt,
  MAX_DNS_PACKET_LEN,
  noiseRecordName,
  parseNoiseTxt,
} from "../pkarr.ts";
import { buildNoisePacket, decodePacket, findNoiseTxt } from "../lib/pkarr/record.ts";
import {
  encodeRelayPayload,
  signableMessage,
  signPacket,
  verifyRelayPayload,
} from "../lib/pkarr/signed_packet.ts";
import { decodeBase64Url, encodeBase64Url } from "../lib/bytes.ts";
import { prng, rejectsWith, throwsWith } from "./_storage_helpers.ts";

const PKARR = NoiseErrorCode.Pkarr;
const SEED = new Uint8Array(32).fill(0x42);
const STATIC = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
const RECORD = { staticKey: STATIC, epoch: 3, suite: IK_SUITE, expiresAt: 1800000000 };

describe("z-base-32 and base64url", () => {
  test("encodeZ32/decodeZ32Key agree with the z32 package on random keys", () => {
    const rand = prng(7);
    for (let i = 0; i < 50; i++) {
      const key = Uint8Array.from({ length: 32 }, () => Math.floor(rand() * 256));
      const ours = encodeZ32(key);
      assert.equal(ours, z32lib.encode(key));
      assert.equal(ours.length, 52);
      assert.deepEqual(decodeZ32Key(ours), key);
      assert.deepEqual(decodeZ32Key(`pk:${ours}`), key);
    }
  });

  test("decodeZ32Key is strict: length, alphabet, case, trailing bits", () => {
    const good = encodeZ32(new Uint8Array(32).fill(0xab));
    throwsWith(() => decodeZ32Key(good.slice(1)), PKARR, /52 z-base-32 characters, got 51/);
    throwsWith(() => decodeZ32Key(good.toUpperCase()), PKARR, /invalid z-base-32 character/);
    throwsWith(
      () => decodeZ32Key(good.slice(0, 51) + "0"),
      PKARR,
      /invalid z-base-32 character '0'/,
    );
    // The last character carries 1 data bit and 4 padding bits: "b" (= 0b00001) sets padding.
    const lastIsZero = encodeZ32(new Uint8Array(32));
    assert.equal(lastIsZero.at(-1), "y");
    throwsWith(() => decodeZ32Key(lastIsZero.slice(0, 51) + "b"), PKARR, /non-canonical/);
    // The z32 package accepts the non-canonical form; we do not.
    assert.equal(z32lib.decode(lastIsZero.slice(0, 51) + "b").length, 32);
  });

  test("base64url is unpadded and canonical", () => {
    assert.equal(encodeBase64Url(new Uint8Array([0xfb, 0xff])), "-_8");
    assert.deepEqual(decodeBase64Url("-_8"), new Uint8Array([0xfb, 0xff]));
    assert.equal(decodeBase64Url("-_8="), null);
    assert.equal(decodeBase64Url("-_9"), null); // trailing bits set
    assert.equal(decodeBase64Url("+/8"), null); // standard alphabet
    assert.equal(decodeBase64Url("A"), null);
    assert.equal(encodeBase64Url(STATIC).length, 43);
  });
});

describe("the _noise TXT record", () => {
  test("format and parse round-trip; the text is exactly the documented layout", () => {
    const text = formatNoiseTxt(RECORD);
    assert.equal(
      text,
      `v=1;suite=Noise_IK_25519_ChaChaPoly_BLAKE2s;k=${encodeBase64Url(STATIC)};e=3;exp=1800000000`,
    );
    assert.deepEqual(parseNoiseTxt(text), RECORD);
    const xx = formatNoiseTxt({ ...RECORD, suite: XX_SUITE, epoch: 0xffff_ffff });
    assert.equal(parseNoiseTxt(xx).epoch, 4294967295);
  });

  test("every deviation is a Pkarr error (2000) with a clear message", () => {
    const k = encodeBase64Url(STATIC);
    const cases: [string, RegExp][] = [
      [`v=2;suite=${IK_SUITE};k=${k};e=0;exp=1`, /unsupported _noise record version "2"/],
      [`v=01;suite=${IK_SUITE};k=${k};e=0;exp=1`, /unsupported _noise record version/],
      [`suite=${IK_SUITE};v=1;k=${k};e=0;exp=1`, /no version/],
      [`v=1;suite=${IK_SUITE};k=${k};e=0`, /expected exactly v, suite, k, e, exp/],
      [`v=1;suite=${IK_SUITE};k=${k};e=0;exp=1;x=y`, /expected exactly/],
      [`v=1;k=${k};suite=${IK_SUITE};e=0;exp=1`, /expected exactly/],
      [`v=1;suite=${IK_SUITE};k=${k};e=0;e=0`, /expected exactly/],
      [`v=1;suite=Noise_NN_25519_ChaChaPoly_BLAKE2s;k=${k};e=0;exp=1`, /unsupported suite/],
      [`v=1;suite=${IK_SUITE};k=${k}=;e=0;exp=1`, /not unpadded base64url/],
      [
        `v=1;suite=${IK_SUITE};k=${encodeBase64Url(STATIC.subarray(1))};e=0;exp=1`,
        /must be 32 bytes, got 31/,
      ],
      [
        `v=1;suite=${IK_SUITE};k=${encodeBase64Url(new Uint8Array(33))};e=0;exp=1`,
        /must be 32 bytes, got 33/,
      ],
      [`v=1;suite=${IK_SUITE};k=${encodeBase64Url(new Uint8Array(32))};e=0;exp=1`, /all zeros/],
      [`v=1;suite=${IK_SUITE};k=${k};e=007;exp=1`, /epoch must be a decimal integer/],
      [`v=1;suite=${IK_SUITE};k=${k};e=4294967296;exp=1`, /epoch/],
      [`v=1;suite=${IK_SUITE};k=${k};e=0;exp=-1`, /expiry/],
      [`v=1;suite=${IK_SUITE};k=${k};e=0;exp=1e9`, /expiry/],
    ];
    for (const [text, pattern] of cases) throwsWith(() => parseNoiseTxt(text), PKARR, pattern);
  });

  test("records that cannot be written are refused before signing", () => {
    throwsWith(
      () => formatNoiseTxt({ ...RECORD, staticKey: STATIC.subarray(1) }),
      PKARR,
      /32 bytes, got 31/,
    );
    throwsWith(
      () => formatNoiseTxt({ ...RECORD, suite: "Noise_IK_448" }),
      PKARR,
      /unsupported suite/,
    );
    throwsWith(() => formatNoiseTxt({ ...RECORD, epoch: -1 }), PKARR, /epoch/);
    throwsWith(() => formatNoiseTxt({ ...RECORD, expiresAt: 1.5 }), PKARR, /expiry/);
    throwsWith(() => noiseRecordName("x", "Bad_Label"), PKARR, /lowercase DNS label/);
  });
});

describe("signed packets (cross-checked with the npm pkarr package)", () => {
  test("the signed message is byte-identical to pkarr's bencode fragment", () => {
    const v = new Uint8Array([1, 2, 3, 250]);
    for (const seq of [0, 5, 1700000000123456]) {
      assert.equal(
        toHex(signableMessage(BigInt(seq), v)),
        toHex(new Uint8Array(encodeSigData({ seq, v }))),
      );
    }
  });

  test("a packet signed by npm pkarr (libsodium) verifies and its _noise record parses here", async () => {
    const keyPair = generateKeyPair(SEED);
    const origin = encodeZ32(keyPair.publicKey);
    const npm = NpmSignedPacket.fromPacket(keyPair, {
      id: 0,
      type: "response",
      flags: 0,
      answers: [
        { name: "_noise", type: "TXT", class: "IN", ttl: 300, data: formatNoiseTxt(RECORD) },
        { name: "www", type: "A", class: "IN", ttl: 300, data: "127.0.0.1" },
      ],
    } as never, { timestamp: 1700000000000000 as unknown as object });
    const verified = await verifyRelayPayload(keyPair.publicKey, new Uint8Array(npm.bytes()));
    assert.equal(verified.timestampMicros, 1700000000000000n);
    const answers = decodePacket(verified.packet);
    assert.deepEqual(parseNoiseTxt(findNoiseTxt(answers, noiseRecordName(origin))), RECORD);
  });

  test("a packet signed here verifies with npm pkarr (libsodium) and decodes there", async () => {
    const signer = await importEd25519Seed(SEED);
    assert.equal(toHex(signer.publicKey), toHex(generateKeyPair(SEED).publicKey));
    const origin = encodeZ32(signer.publicKey);
    const packet = buildNoisePacket(noiseRecordName(origin), RECORD);
    const payload = encodeRelayPayload(await signPacket(signer, packet, 1700000000000001n));
    const theirs = NpmSignedPacket.fromBytes(signer.publicKey, payload);
    assert.equal(theirs.timestamp(), 1700000000000001);
    const [txt] = theirs.resourceRecords("_noise");
    assert.equal(
      new TextDecoder().decode((txt as unknown as { data: Uint8Array[] }).data[0]),
      formatNoiseTxt(RECORD),
    );
    assert.equal(npmDns.decode(theirs.bytes().subarray(72)).answers!.length, 1);
  });

  test("a flipped bit anywhere is an invalid signature; size limits are enforced", async () => {
    const signer = await importEd25519Seed(SEED);
    const origin = encodeZ32(signer.publicKey);
    const payload = encodeRelayPayload(
      await signPacket(signer, buildNoisePacket(noiseRecordName(origin), RECORD), 1n),
    );
    for (const index of [0, 63, 64, 71, 72, payload.length - 1]) {
      const bad = payload.slice();
      bad[index] ^= 0x01;
      await rejectsWith(verifyRelayPayload(signer.publicKey, bad), PKARR, /invalid signature/);
    }
    const other = await importEd25519Seed(new Uint8Array(32).fill(1));
    await rejectsWith(verifyRelayPayload(other.publicKey, payload), PKARR, /invalid signature/);
    await rejectsWith(
      verifyRelayPayload(signer.publicKey, payload.subarray(0, 71)),
      PKARR,
      /at least 72 bytes/,
    );
    const big = new Uint8Array(72 + MAX_DNS_PACKET_LEN + 1);
    await rejectsWith(verifyRelayPayload(signer.publicKey, big), PKARR, /oversized: 1001 bytes/);
    await rejectsWith(signPacket(signer, new Uint8Array(1001), 1n), PKARR, /more than the 1000/);
  });
});

describe("DNS packets", () => {
  test("the record is added next to the key's other records, replacing an older _noise record", () => {
    const origin = encodeZ32(generateKeyPair(SEED).publicKey);
    const name = noiseRecordName(origin);
    const first = decodePacket(buildNoisePacket(name, { ...RECORD, epoch: 1 }, 300, [
      { name: `www.${origin}`, type: "A", class: "IN", ttl: 60, data: "10.0.0.1" },
      {
        name: `_pubky.${origin}`,
        type: "UNKNOWN_64",
        class: "IN",
        ttl: 60,
        data: new Uint8Array([0, 1, 0]),
      },
    ]));
    const second = decodePacket(buildNoisePacket(name, { ...RECORD, epoch: 2 }, 300, first));
    assert.deepEqual(second.map((a) => `${a.name} ${a.type}`), [
      `www.${origin} A`,
      `_pubky.${origin} UNKNOWN_64`,
      `${name} TXT`,
    ]);
    assert.equal(parseNoiseTxt(findNoiseTxt(second, name)).epoch, 2);
    assert.deepEqual(second[1].data, new Uint8Array([0, 1, 0]));
  });

  test("labels name separate records; names match case-insensitively, two records are ambiguous", () => {
    const origin = encodeZ32(generateKeyPair(SEED).publicKey);
    const labelled = noiseRecordName(origin, "device-2");
    assert.equal(labelled, `_noise.device-2.${origin}`);
    const answers = decodePacket(buildNoisePacket(labelled, RECORD));
    throwsWith(
      () => findNoiseTxt(answers, noiseRecordName(origin)),
      PKARR,
      /no _noise\..* TXT record/,
    );
    assert.equal(findNoiseTxt(answers, labelled.toUpperCase()), formatNoiseTxt(RECORD));
    const twice = [...answers, ...answers];
    throwsWith(() => findNoiseTxt(twice, labelled), PKARR, /more than one/);
  });

  test("garbage and oversized packets are Pkarr errors", () => {
    throwsWith(() => decodePacket(new Uint8Array([1, 2, 3])), PKARR, /malformed DNS packet/);
    throwsWith(() => decodePacket(new Uint8Array(1001)), PKARR, /oversized/);
    const origin = encodeZ32(generateKeyPair(SEED).publicKey);
    const many = Array.from({ length: 20 }, (_, i) => ({
      name: `host${i}.${origin}`,
      type: "A",
      class: "IN",
      ttl: 60,
      data: "10.0.0.1",
    }));
    throwsWith(
      () => buildNoisePacket(noiseRecordName(origin), RECORD, 300, many),
      PKARR,
      /more than the 1000/,
    );
  });
});
