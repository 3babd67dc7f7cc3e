/**
 * Publishing and resolving `_noise` records through PKARR relays on loopback — the npm `pkarr`
 * package's relay (which checks signatures itself) and a scripted hostile relay — and an IK
 * handshake to the resolved key. Bad records (wrong signature, expired, wrong key length,
 * oversized, unknown version, future or rolled-back timestamps) are `Pkarr` (2000).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPair, SignedPacket as NpmSignedPacket } from "pkarr";
import { NoiseErrorCode } from "../lib/errors.ts";
import { encodeBase64Url, toHex } from "../lib/bytes.ts";
import { DummyRing } from "../lib/ring.ts";
import { NoiseClient } from "../lib/client.ts";
import { NoiseServer } from "../lib/server.ts";
import {
  clientCompleteIk,
  clientStartIkDirect,
  serverAcceptIk,
  serverCompleteIk,
} from "../lib/datalink_adapter.ts";
import { importEd25519Seed } from "../lib/crypto/ed25519.ts";
import { IK_SUITE } from "../lib/client.ts";
import {
  encodeZ32,
  formatNoiseTxt,
  noiseRecordName,
  PaykitNoiseJsonResolver,
  publishNoiseRecord,
  RelayResolver,
  requireAuthenticated,
} from "../pkarr.ts";
import { encodePacket } from "../lib/pkarr/record.ts";
import { encodeRelayPayload, signPacket } from "../lib/pkarr/signed_packet.ts";
import { HomeserverPublicReader, MemoryStorage } from "../storage.ts";
import {
  type HostileRelay,
  type NpmRelay,
  startHostileRelay,
  startNpmRelay,
} from "./_loopback_pkarr_relay.ts";
import { LoopbackHomeserver } from "./_loopback_homeserver.ts";
import { rejectsWith, text, utf8 } from "./_storage_helpers.ts";

const PKARR = NoiseErrorCode.Pkarr;
const NOW = 1_800_000_000; // a fixed clock, Unix seconds
const clock = () => NOW;
const DAY = 86400;

let npm: NpmRelay;
let hostile: HostileRelay;

before(async () => {
  [npm, hostile] = await Promise.all([startNpmRelay(), startHostileRelay()]);
});
after(async () => {
  await Promise.all([npm.close(), hostile.close()]);
});

/** A server identity (ring on `seedByte`×32) and its Noise server. */
async function serverIdentity(seedByte: number) {
  const seed = new Uint8Array(32).fill(seedByte);
  const ring = await DummyRing.create(seed, "server");
  const server = new NoiseServer("server", "dev-server-00000000", ring, { clock });
  const ed25519 = await ring.ed25519PublicKey("server");
  return {
    seed,
    ring,
    server,
    ed25519,
    z32: encodeZ32(ed25519),
    signer: await importEd25519Seed(seed),
  };
}

/** A signed relay payload with arbitrary TXT text at `_noise`. */
async function rawPayload(
  seed: Uint8Array,
  txt: string | Uint8Array,
  micros = BigInt(NOW) * 1_000_000n,
) {
  const signer = await importEd25519Seed(seed);
  const origin = encodeZ32(signer.publicKey);
  const packet = encodePacket([
    { name: noiseRecordName(origin), type: "TXT", class: "IN", ttl: 300, data: [txt] },
  ]);
  return encodeRelayPayload(await signPacket(signer, packet, micros));
}

describe("publish and resolve through the npm pkarr relay", () => {
  test("round trip: the resolved key is the server's, and an IK handshake to it succeeds", async () => {
    const id = await serverIdentity(0x11);
    const staticKey = await id.server.staticPublicKey();
    const published = await publishNoiseRecord(npm.url, { ring: id.ring, kid: "server" }, {
      staticKey,
      epoch: 0,
      expiresAt: NOW + DAY,
    }, { now: clock });
    assert.deepEqual(published.accepted, [npm.url]);
    assert.equal(published.publicKey, id.z32);
    assert.equal(published.timestampMicros, BigInt(NOW) * 1_000_000n);

    const resolver = new RelayResolver([npm.url], { now: clock });
    const found = await resolver.resolveNoiseRecord(id.z32);
    assert.equal(toHex(found.staticKey), toHex(staticKey));
    assert.deepEqual(
      {
        epoch: found.epoch,
        suite: found.suite,
        expiresAt: found.expiresAt,
        auth: found.authenticated,
      },
      { epoch: 0, suite: IK_SUITE, expiresAt: NOW + DAY, auth: true },
    );
    assert.equal(toHex(found.ed25519), toHex(id.ed25519));
    assert.equal(requireAuthenticated(found), found);

    const client = new NoiseClient(
      "kid",
      "dev-client-00000000",
      await DummyRing.create(new Uint8Array(32).fill(1), "kid"),
    );
    const ik = await clientStartIkDirect(client, found.staticKey);
    const accepted = await serverAcceptIk(id.server, ik.firstMsg);
    const clientLink = await clientCompleteIk(ik.hs, accepted.response);
    const serverLink = serverCompleteIk(accepted.hs);
    assert.equal(text(serverLink.decrypt(clientLink.encrypt(utf8("via pkarr")))), "via pkarr");
  });

  test("an Ed25519Signer publishes too; the resolver accepts `pk:` ids and 32-byte keys", async () => {
    const id = await serverIdentity(0x12);
    await publishNoiseRecord([npm.url], id.signer, {
      staticKey: await id.server.staticPublicKey(),
      epoch: 7,
      expiresAt: NOW + DAY,
    }, { now: clock, label: "phone" });
    const resolver = new RelayResolver(npm.url, { now: clock });
    assert.equal((await resolver.resolveNoiseRecord(`pk:${id.z32}`, { label: "phone" })).epoch, 7);
    assert.equal((await resolver.resolveNoiseRecord(id.ed25519, { label: "phone" })).epoch, 7);
    await rejectsWith(resolver.resolveNoiseRecord(id.z32), PKARR, /no _noise\.\S+ TXT record/);
  });

  test("a re-publish keeps the key's other records and is newer than the current packet", async () => {
    const id = await serverIdentity(0x13);
    const keyPair = generateKeyPair(id.seed); // the same identity, through npm pkarr
    const other = NpmSignedPacket.fromPacket(keyPair, {
      id: 0,
      type: "response",
      flags: 0,
      answers: [{ name: "www", type: "A", class: "IN", ttl: 60, data: "10.1.2.3" }],
    } as never, { timestamp: (NOW + 5) * 1_000_000 as unknown as object });
    assert.equal(
      (await fetch(`${npm.url}/${id.z32}`, { method: "PUT", body: new Uint8Array(other.bytes()) }))
        .status,
      200,
    );

    const staticKey = await id.server.staticPublicKey();
    const result = await publishNoiseRecord(
      npm.url,
      id.signer,
      { staticKey, expiresAt: NOW + DAY },
      { now: clock },
    );
    assert.equal(result.timestampMicros, BigInt(NOW + 5) * 1_000_000n + 1n);
    const stored = await (await fetch(`${npm.url}/${id.z32}`)).arrayBuffer();
    const theirs = NpmSignedPacket.fromBytes(id.ed25519, new Uint8Array(stored));
    assert.deepEqual(
      theirs.packet().answers!.map((a: { name: string; type: string }) => `${a.name} ${a.type}`),
      [`www.${id.z32} A`, `_noise.${id.z32} TXT`],
    );
    const found = await new RelayResolver(npm.url, { now: clock }).resolveNoiseRecord(id.z32);
    assert.equal(toHex(found.staticKey), toHex(staticKey));
  });

  test("the npm relay itself refuses a payload whose signature is wrong", async () => {
    const id = await serverIdentity(0x14);
    const payload = await rawPayload(
      id.seed,
      formatNoiseTxt({
        staticKey: new Uint8Array(32).fill(5),
        epoch: 0,
        suite: IK_SUITE,
        expiresAt: NOW + DAY,
      }),
    );
    payload[10] ^= 1;
    const response = await fetch(`${npm.url}/${id.z32}`, {
      method: "PUT",
      body: new Uint8Array(payload),
    });
    await response.body?.cancel();
    assert.equal(response.status, 400);
  });
});

describe("bad records are Pkarr (2000)", () => {
  const good = (key: Uint8Array) => ({
    staticKey: key,
    epoch: 0,
    suite: IK_SUITE,
    expiresAt: NOW + DAY,
  });

  test("wrong signature: a relay serving a forged packet is not believed", async () => {
    const id = await serverIdentity(0x21);
    const payload = await rawPayload(id.seed, formatNoiseTxt(good(new Uint8Array(32).fill(9))));
    payload[100] ^= 0x20;
    hostile.serve(id.z32, payload);
    const resolver = new RelayResolver(hostile.url, { now: clock });
    await rejectsWith(resolver.resolveNoiseRecord(id.z32), PKARR, /invalid signature/);
    // A packet signed by another key, served under this key, is just as invalid.
    const other = await serverIdentity(0x22);
    hostile.serve(
      id.z32,
      await rawPayload(other.seed, formatNoiseTxt(good(new Uint8Array(32).fill(9)))),
    );
    await rejectsWith(resolver.resolveNoiseRecord(id.z32), PKARR, /invalid signature/);
  });

  test("expired: a genuine record past its exp is refused", async () => {
    const id = await serverIdentity(0x23);
    await publishNoiseRecord(npm.url, id.signer, {
      staticKey: await id.server.staticPublicKey(),
      expiresAt: NOW - 1,
    }, { now: clock });
    await rejectsWith(
      new RelayResolver(npm.url, { now: clock }).resolveNoiseRecord(id.z32),
      PKARR,
      new RegExp(`record expired at ${NOW - 1} \\(now ${NOW}\\)`),
    );
    // exp itself is still valid (void once now > exp).
    await publishNoiseRecord(npm.url, id.signer, {
      staticKey: await id.server.staticPublicKey(),
      expiresAt: NOW,
    }, { now: clock, timestampMicros: BigInt(NOW) * 1_000_000n + 7n });
    assert.equal(
      (await new RelayResolver(npm.url, { now: clock }).resolveNoiseRecord(id.z32)).expiresAt,
      NOW,
    );
  });

  test("wrong key length and unknown version, validly signed, are refused", async () => {
    const id = await serverIdentity(0x24);
    const put = async (txt: string, n: number) => {
      const payload = await rawPayload(id.seed, txt, BigInt(NOW) * 1_000_000n + BigInt(n));
      const r = await fetch(`${npm.url}/${id.z32}`, {
        method: "PUT",
        body: new Uint8Array(payload),
      });
      await r.body?.cancel();
      assert.equal(r.status, 200);
    };
    const resolver = new RelayResolver(npm.url, { now: clock });
    await put(
      `v=1;suite=${IK_SUITE};k=${encodeBase64Url(new Uint8Array(31).fill(3))};e=0;exp=${NOW + DAY}`,
      1,
    );
    await rejectsWith(
      resolver.resolveNoiseRecord(id.z32),
      PKARR,
      /static key must be 32 bytes, got 31/,
    );
    await put(
      `v=2;suite=${IK_SUITE};k=${encodeBase64Url(new Uint8Array(32).fill(3))};e=0;exp=${NOW + DAY}`,
      2,
    );
    await rejectsWith(
      resolver.resolveNoiseRecord(id.z32),
      PKARR,
      /unsupported _noise record version "2"/,
    );
  });

  test("oversized: more than 1000 bytes of DNS packet is refused, even if signed", async () => {
    const id = await serverIdentity(0x25);
    const signer = id.signer;
    const packet = new Uint8Array(1001);
    const signed = await signPacket(signer, new Uint8Array(0), 1n);
    const payload = encodeRelayPayload({ ...signed, packet });
    hostile.serve(id.z32, payload);
    await rejectsWith(
      new RelayResolver(hostile.url, { now: clock }).resolveNoiseRecord(id.z32),
      PKARR,
      /oversized/,
    );
    // And a relay that streams far more than any packet is cut off.
    hostile.serve(id.z32, new Uint8Array(100_000));
    await rejectsWith(
      new RelayResolver(hostile.url, { now: clock }).resolveNoiseRecord(id.z32),
      PKARR,
      /oversized/,
    );
  });

  test("a packet dated in the future, or older than one already seen, is refused", async () => {
    const id = await serverIdentity(0x26);
    const txt = formatNoiseTxt(good(new Uint8Array(32).fill(4)));
    const micros = (s: number) => BigInt(s) * 1_000_000n;
    hostile.serve(id.z32, await rawPayload(id.seed, txt, micros(NOW + 3600)));
    const resolver = new RelayResolver(hostile.url, { now: clock });
    await rejectsWith(resolver.resolveNoiseRecord(id.z32), PKARR, /in the future/);
    hostile.serve(id.z32, await rawPayload(id.seed, txt, micros(NOW - 10)));
    assert.equal((await resolver.resolveNoiseRecord(id.z32)).epoch, 0);
    hostile.serve(id.z32, await rawPayload(id.seed, txt, micros(NOW - 20)));
    await rejectsWith(resolver.resolveNoiseRecord(id.z32), PKARR, /possible rollback/);
  });

  test("no record anywhere, or no relay reachable, or a relay that hangs", async () => {
    const id = await serverIdentity(0x27);
    await rejectsWith(
      new RelayResolver([npm.url, hostile.url], { now: clock }).resolveNoiseRecord(id.z32),
      PKARR,
      /no PKARR record published for/,
    );
    await rejectsWith(
      new RelayResolver("http://127.0.0.1:1", { now: clock }).resolveNoiseRecord(id.z32),
      NoiseErrorCode.Network,
    );
    hostile.hang(id.z32);
    await rejectsWith(
      new RelayResolver(hostile.url, { now: clock, timeoutMs: 100 }).resolveNoiseRecord(id.z32),
      NoiseErrorCode.Timeout,
      /timed out after 100ms/,
    );
    await rejectsWith(
      new RelayResolver([npm.url]).resolveNoiseRecord("not-a-key"),
      PKARR,
      /52 z-base-32/,
    );
  });
});

describe("several relays", () => {
  test("the freshest valid packet wins; forged and stale copies elsewhere are ignored", async () => {
    const id = await serverIdentity(0x31);
    const fresh = await publishNoiseRecord(npm.url, id.signer, {
      staticKey: await id.server.staticPublicKey(),
      epoch: 2,
      expiresAt: NOW + DAY,
    }, { now: clock, merge: false });
    const stale = await rawPayload(
      id.seed,
      formatNoiseTxt({
        staticKey: new Uint8Array(32).fill(8),
        epoch: 1,
        suite: IK_SUITE,
        expiresAt: NOW + DAY,
      }),
      fresh.timestampMicros - 1n,
    );
    hostile.serve(id.z32, stale);
    const resolver = new RelayResolver([hostile.url, npm.url], { now: clock });
    assert.equal((await resolver.resolveNoiseRecord(id.z32)).epoch, 2);
    const forged = fresh.payload.slice();
    forged[80] ^= 1;
    hostile.serve(id.z32, forged);
    assert.equal((await resolver.resolveNoiseRecord(id.z32)).epoch, 2);
  });

  test("publishing succeeds if one relay accepts; a relay that refuses is reported", async () => {
    const id = await serverIdentity(0x32);
    hostile.putStatus = 409;
    try {
      const result = await publishNoiseRecord([hostile.url, npm.url], id.signer, {
        staticKey: await id.server.staticPublicKey(),
        expiresAt: NOW + DAY,
      }, { now: clock, merge: false });
      assert.deepEqual(result.accepted, [npm.url]);
      assert.equal(result.failed.length, 1);
      assert.equal(result.failed[0].error.code, PKARR);
      assert.equal(hostile.puts.get(id.z32)?.length, 1);
      await rejectsWith(
        publishNoiseRecord(hostile.url, id.signer, {
          staticKey: await id.server.staticPublicKey(),
          expiresAt: NOW + DAY,
        }, { now: clock, merge: false }),
        PKARR,
        /no relay accepted the record: .*HTTP 409/,
      );
    } finally {
      hostile.putStatus = 204;
    }
  });

  test("merge refuses to overwrite a packet it could not read; merge: false replaces", async () => {
    const id = await serverIdentity(0x33);
    const record = { staticKey: await id.server.staticPublicKey(), expiresAt: NOW + DAY };
    await rejectsWith(
      publishNoiseRecord(["http://127.0.0.1:1", npm.url], id.signer, record, { now: clock }),
      NoiseErrorCode.Network,
      /pass merge: false/,
    );
    assert.equal(npm.items.has(toHex(id.ed25519)), false, "nothing was published");
    const result = await publishNoiseRecord(npm.url, id.signer, record, {
      now: clock,
      merge: false,
    });
    assert.deepEqual(result.accepted, [npm.url]);
    assert.equal(npm.items.has(toHex(id.ed25519)), true);
  });

  test("a signer whose signatures do not match its public key is refused before sending", async () => {
    const id = await serverIdentity(0x34);
    const other = await importEd25519Seed(new Uint8Array(32).fill(0x35));
    const liar = { publicKey: id.signer.publicKey, sign: (m: Uint8Array) => other.sign(m) };
    await rejectsWith(
      publishNoiseRecord(hostile.url, liar, {
        staticKey: await id.server.staticPublicKey(),
        expiresAt: NOW + DAY,
      }, { now: clock, merge: false }),
      PKARR,
      /signature does not verify/,
    );
    assert.equal(hostile.puts.get(id.z32), undefined);
  });
});

describe("Paykit's unsigned endpoint JSON", () => {
  const endpoint = (pubkey: string) =>
    utf8(JSON.stringify({ host: "pay.example", port: 9735, pubkey, metadata: { v: 1 } }));

  test("is read through a PublicStorageReader and flagged as unauthenticated", async () => {
    const id = await serverIdentity(0x41);
    const staticKey = await id.server.staticPublicKey();
    const hs = await LoopbackHomeserver.start({});
    try {
      hs.set(id.z32, "/pub/paykit.app/v0/noise", endpoint(toHex(staticKey).toUpperCase()));
      const resolver = new PaykitNoiseJsonResolver(
        new HomeserverPublicReader({ resolveHomeserver: () => hs.url }),
      );
      const found = await resolver.resolveNoiseRecord(id.z32);
      assert.equal(toHex(found.staticKey), toHex(staticKey));
      assert.deepEqual(
        {
          auth: found.authenticated,
          source: found.source,
          endpoint: found.endpoint,
          meta: found.metadata,
          epoch: found.epoch,
          exp: found.expiresAt,
        },
        {
          auth: false,
          source: "paykit",
          endpoint: { host: "pay.example", port: 9735 },
          meta: { v: 1 },
          epoch: null,
          exp: null,
        },
      );
      assert.throws(
        () => requireAuthenticated(found),
        (e: unknown) => (e as { code: number }).code === PKARR,
      );
      assert.deepEqual(hs.requests.map((r) => `${r.method} ${r.path} ${r.owner}`), [
        `GET /pub/paykit.app/v0/noise ${id.z32}`,
      ]);
    } finally {
      await hs.close();
    }
  });

  test("missing, malformed, wrong-length and oversized endpoint files are Pkarr (2000)", async () => {
    const id = await serverIdentity(0x42);
    const store = new MemoryStorage({ owner: id.z32 });
    const resolver = new PaykitNoiseJsonResolver(store);
    const path = "/pub/paykit.app/v0/noise";
    await rejectsWith(
      resolver.resolveNoiseRecord(id.z32),
      PKARR,
      /no Paykit noise endpoint published/,
    );
    const cases: [Uint8Array, RegExp][] = [
      [utf8("{not json"), /not valid JSON/],
      [utf8("[]"), /must be a JSON object/],
      [endpoint("ab".repeat(31)), /static key must be 32 bytes, got 31/],
      [endpoint("zz".repeat(32)), /pubkey must be hex/],
      [utf8(JSON.stringify({ host: "", port: 1, pubkey: "ab".repeat(32) })), /host/],
      [utf8(JSON.stringify({ host: "h", port: 70000, pubkey: "ab".repeat(32) })), /port/],
      [
        utf8(
          JSON.stringify({ host: "h", port: 1, pubkey: "ab".repeat(32), pad: "x".repeat(5000) }),
        ),
        /oversized/,
      ],
    ];
    for (const [bytes, pattern] of cases) {
      await store.put(path, bytes);
      await rejectsWith(resolver.resolveNoiseRecord(id.z32), PKARR, pattern);
    }
  });
});
