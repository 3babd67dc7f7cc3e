/**
 * Known answers and complete flows of the Pubky layer (client, server, data-link adapter,
 * NoiseLink, SessionId), on the keys of `vectors/pubky-kat.json`: the wire sizes and the
 * exact identity-payload bytes the Rust crate pubky-noise 1.2.0 produces for those keys.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
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
import { IK_SUITE, NN_SUITE, NoiseClient, PROLOGUE, XX_SUITE } from "../lib/client.ts";
import { DummyRing, type RingKeyProvider } from "../lib/ring.ts";
import { NoiseServer } from "../lib/server.ts";
import { SessionId } from "../lib/session_id.ts";
import { HandshakeState } from "../lib/noise/handshake_state.ts";
import { IK } from "../lib/noise/patterns.ts";
import { loadCryptoSuite, nobleCryptoSuite } from "../lib/crypto/suite.ts";
import { NoiseErrorCode } from "../lib/errors.ts";
import {
  assertLinked,
  CLIENT_ED25519_PUB,
  expectNoiseError,
  fromHex,
  KAT_CLIENT,
  KAT_NOW,
  KAT_PAYLOADS,
  KAT_SERVER,
  KAT_SERVER_EPOCH1,
  makeClient,
  makeServer,
  rawXxInitiator,
  rawXxResponder,
  SERVER_ED25519_PUB,
  toHex,
  utf8,
} from "./_pubky_fixtures.ts";

const [KAT_IK, KAT_IK_HINT, KAT_XX_SERVER] = KAT_PAYLOADS;

/** A raw IK responder holding the KAT server secret, imported as the crate's tests would. */
async function rawIkResponder(): Promise<HandshakeState> {
  const suite = await loadCryptoSuite();
  return new HandshakeState({
    suite,
    pattern: IK,
    initiator: false,
    prologue: PROLOGUE,
    s: await suite.dh.importSecretKey(fromHex(KAT_SERVER.x25519_sk)),
  });
}

/** XX, all four steps through the data-link adapter. */
async function xx(client: NoiseClient, server: NoiseServer, hint: string | null = null) {
  const c1 = await clientStartXxTofu(client, hint);
  const s1 = await serverAcceptXx(server, c1.firstMsg);
  const c2 = await clientCompleteXx(client, c1.hs, s1.response, hint);
  const s2 = await serverCompleteXx(server, s1.hs, c2.finalMsg, s1.serverStaticPk);
  return { c1, s1, c2, s2 };
}

/** IK, all steps through the data-link adapter. */
async function ik(
  client: NoiseClient,
  server: NoiseServer,
  pinned: Uint8Array,
  hint: string | null = null,
) {
  const c1 = await clientStartIkDirect(client, pinned, hint);
  const s1 = await serverAcceptIk(server, c1.firstMsg);
  const clientLink = await clientCompleteIk(c1.hs, s1.response);
  const serverLink = serverCompleteIk(s1.hs);
  return { c1, s1, clientLink, serverLink };
}

describe("protocol constants", () => {
  test("prologue and protocol names are those of the crate", () => {
    assert.equal(toHex(PROLOGUE), "7075626b792d6e6f6973652d7631");
    assert.equal(IK_SUITE, "Noise_IK_25519_ChaChaPoly_BLAKE2s");
    assert.equal(XX_SUITE, "Noise_XX_25519_ChaChaPoly_BLAKE2s");
    assert.equal(NN_SUITE, "Noise_NN_25519_ChaChaPoly_BLAKE2s");
  });
});

describe("KAT keys and wire sizes", () => {
  test("the server's static public key is the KAT x25519_pk of seed 02×32 / dev-server-00000000", async () => {
    const server = await makeServer();
    assert.equal(toHex(await server.staticPublicKey()), KAT_SERVER.x25519_pk);
  });

  test("a server with epoch 1 has the KAT epoch-1 static key", async () => {
    const server = await makeServer({ epoch: 1 });
    assert.equal(toHex(await server.staticPublicKey()), KAT_SERVER_EPOCH1.x25519_pk);
    assert.notEqual(KAT_SERVER_EPOCH1.x25519_pk, KAT_SERVER.x25519_pk);
  });

  test("IK message 1 without hint or expiry is 505 bytes (KAT noise_message_len), message 2 is 48", async () => {
    const client = await makeClient();
    const server = await makeServer();
    const c1 = await clientStartIkDirect(client, fromHex(KAT_SERVER.x25519_pk));
    assert.equal(c1.firstMsg.length, KAT_IK.noise_message_len);
    assert.equal(c1.firstMsg.length, 505);
    assert.equal(c1.firstMsg.length, KAT_IK.json_len + 96);
    const s1 = await serverAcceptIk(server, c1.firstMsg);
    assert.equal(s1.response.length, 48);
  });

  test("IK message 1 with hint server.example.com and now 1700000000 is 550 bytes", async () => {
    const client = (await makeClient()).withNowUnix(KAT_NOW);
    const c1 = await clientStartIkDirect(
      client,
      fromHex(KAT_SERVER.x25519_pk),
      "server.example.com",
    );
    assert.equal(c1.firstMsg.length, KAT_IK_HINT.noise_message_len);
    assert.equal(c1.firstMsg.length, 550);
  });

  test("XX messages are 32, 535 (server clock 1700000000) and client JSON + 64 bytes", async () => {
    const client = await makeClient();
    const server = await makeServer({ clock: () => KAT_NOW });
    const { c1, s1, c2 } = await xx(client, server);
    assert.equal(c1.firstMsg.length, 32);
    assert.equal(s1.response.length, KAT_XX_SERVER.noise_message_len);
    assert.equal(s1.response.length, 535);
    assert.equal(c2.finalMsg.length, KAT_IK.json_len + 64);
    assert.equal(c2.finalMsg.length, 473);
  });

  test("NN messages are 32 and 48 bytes", async () => {
    const client = await makeClient();
    const server = await makeServer();
    const c1 = await clientStartNn(client);
    const s1 = await serverAcceptNn(server, c1.firstMsg);
    assert.equal(c1.firstMsg.length, 32);
    assert.equal(s1.response.length, 48);
  });
});

describe("byte-exact identity payloads (KAT json_hex)", () => {
  test("IK message 1 without hint carries exactly the KAT client payload", async () => {
    const client = await makeClient();
    const c1 = await clientStartIkDirect(client, fromHex(KAT_SERVER.x25519_pk));
    const responder = await rawIkResponder();
    const payload = await responder.readMessage(c1.firstMsg);
    assert.equal(toHex(payload), KAT_IK.json_hex);
    assert.equal(new TextDecoder().decode(payload), KAT_IK.json);
    assert.equal(toHex(responder.remoteStatic!), KAT_CLIENT.x25519_pk);
  });

  test("IK message 1 with hint and now 1700000000 carries exactly the KAT payload (expiry +300)", async () => {
    const client = (await makeClient()).withNowUnix(KAT_NOW);
    const c1 = await clientStartIkDirect(
      client,
      fromHex(KAT_SERVER.x25519_pk),
      "server.example.com",
    );
    const payload = await (await rawIkResponder()).readMessage(c1.firstMsg);
    assert.equal(toHex(payload), KAT_IK_HINT.json_hex);
    assert.equal(KAT_IK_HINT.hint_expires_at, KAT_NOW + 300);
  });

  test("the expiry follows withExpirySecs: a 60 s client writes now + 60", async () => {
    const client = (await makeClient()).withNowUnix(KAT_NOW).withExpirySecs(60);
    const c1 = await clientStartIkDirect(client, fromHex(KAT_SERVER.x25519_pk));
    const payload = new TextDecoder().decode(
      await (await rawIkResponder()).readMessage(c1.firstMsg),
    );
    assert.match(payload, /"server_hint":null,"hint_expires_at":1700000060,"sig":/);
  });

  test("XX message 2 from a server with clock 1700000000 carries exactly the KAT server payload", async () => {
    const server = await makeServer({ clock: () => KAT_NOW });
    const initiator = await rawXxInitiator();
    const s1 = await serverAcceptXx(server, await initiator.writeMessage());
    const payload = await initiator.readMessage(s1.response);
    assert.equal(toHex(payload), KAT_XX_SERVER.json_hex);
    assert.equal(toHex(initiator.remoteStatic!), KAT_SERVER.x25519_pk);
    assert.equal(toHex(s1.serverStaticPk), KAT_SERVER.x25519_pk);
  });

  test("XX message 3 carries exactly the KAT client payload, in answer to the KAT server payload", async () => {
    const client = await makeClient();
    const responder = await rawXxResponder();
    const c1 = await clientStartXxTofu(client);
    assert.equal((await responder.readMessage(c1.firstMsg)).length, 0);
    // The raw responder sends the crate's own message-2 payload bytes.
    const msg2 = await responder.writeMessage(fromHex(KAT_XX_SERVER.json_hex));
    const c2 = await clientCompleteXx(client, c1.hs, msg2);
    assert.equal(toHex(c2.serverIdentity.ed25519Pub), SERVER_ED25519_PUB);
    assert.equal(c2.serverIdentity.hintExpiresAt, KAT_NOW + 300);
    assert.equal(toHex(await responder.readMessage(c2.finalMsg)), KAT_IK.json_hex);
    assert.ok(responder.isComplete);
    assert.equal(
      toHex(responder.handshakeHash),
      c2.link.sessionId.toString(),
      "the raw responder and the client agree on the session id",
    );
  });
});

describe("complete flows", () => {
  test("XX first contact, then IK to the pinned key: both sides agree and learn identities", async () => {
    const client = await makeClient();
    const server = await makeServer({ clock: () => KAT_NOW });

    const first = await xx(client, server);
    assert.equal(toHex(first.c2.serverStaticPk), KAT_SERVER.x25519_pk);
    assert.equal(toHex(first.c2.serverIdentity.ed25519Pub), SERVER_ED25519_PUB);
    assert.equal(first.c2.serverIdentity.role, "Server");
    assert.equal(first.c2.serverIdentity.serverHint, null);
    assert.equal(first.c2.serverIdentity.hintExpiresAt, KAT_NOW + 300);
    assert.equal(toHex(first.s2.clientIdentity.ed25519Pub), CLIENT_ED25519_PUB);
    assert.equal(first.s2.clientIdentity.role, "Client");
    assert.equal(first.s2.clientIdentity.serverHint, null);
    assert.equal(first.s2.clientIdentity.hintExpiresAt, null);
    assertLinked(first.c2.link, first.s2.link, "XX");
    assert.equal(toHex(first.s2.clientStaticPk), KAT_CLIENT.x25519_pk);
    assert.equal(toHex(first.s2.link.remoteStatic!), KAT_CLIENT.x25519_pk);
    assert.equal(toHex(first.c2.link.remoteStatic!), KAT_SERVER.x25519_pk);

    // Pin what XX delivered, then IK.
    const pinned = first.c2.serverStaticPk;
    const second = await ik(client, server, pinned);
    assert.equal(toHex(second.s1.clientIdentity.ed25519Pub), CLIENT_ED25519_PUB);
    assert.equal(second.s1.clientIdentity.role, "Client");
    assert.equal(toHex(second.s1.hs.remoteStatic!), KAT_CLIENT.x25519_pk);
    assert.equal(toHex(second.s1.clientStaticPk), KAT_CLIENT.x25519_pk);
    assertLinked(second.clientLink, second.serverLink, "IK");
    assert.equal(toHex(second.serverLink.remoteStatic!), KAT_CLIENT.x25519_pk);
    assert.equal(toHex(second.clientLink.remoteStatic!), KAT_SERVER.x25519_pk);

    assert.notEqual(
      first.c2.link.sessionId.toString(),
      second.clientLink.sessionId.toString(),
      "each session has its own id",
    );
  });

  test("the server learns the client's hint and expiry (XX message 3 and IK message 1)", async () => {
    const client = (await makeClient()).withNowUnix(KAT_NOW);
    const server = await makeServer({ clock: () => KAT_NOW });
    const viaXx = await xx(client, server, "pubky.example");
    assert.equal(viaXx.s2.clientIdentity.serverHint, "pubky.example");
    assert.equal(viaXx.s2.clientIdentity.hintExpiresAt, KAT_NOW + 300);
    const viaIk = await ik(client, server, viaXx.c2.serverStaticPk, "server.example.com");
    assert.equal(viaIk.s1.clientIdentity.serverHint, "server.example.com");
    assert.equal(viaIk.s1.clientIdentity.hintExpiresAt, KAT_NOW + 300);
    assert.equal(toHex(viaIk.s1.clientIdentity.sig), KAT_IK_HINT.sig);
  });

  test("XX returns the hint unchanged from step 1 and the server static from step 2", async () => {
    const client = await makeClient();
    const server = await makeServer();
    const c1 = await clientStartXxTofu(client, "hint-1");
    assert.equal(c1.serverHint, "hint-1");
    const s1 = await serverAcceptXx(server, c1.firstMsg);
    assert.equal(toHex(s1.serverStaticPk), KAT_SERVER.x25519_pk);
  });

  test("NN: no identities, equal session ids, messages both ways", async () => {
    const client = await makeClient();
    const server = await makeServer();
    const c1 = await clientStartNn(client);
    const s1 = await serverAcceptNn(server, c1.firstMsg);
    const clientLink = await clientCompleteNn(client, c1.hs, s1.response);
    const serverLink = serverCompleteNn(s1.hs);
    assertLinked(clientLink, serverLink, "NN");
  });

  test("sessions are fresh: two IK handshakes with the same keys get different ids", async () => {
    const client = await makeClient();
    const server = await makeServer();
    const pinned = await server.staticPublicKey();
    const a = await ik(client, server, pinned);
    const b = await ik(client, server, pinned);
    assert.notEqual(a.clientLink.sessionId.toString(), b.clientLink.sessionId.toString());
    // A link of one session cannot read the other's messages.
    await expectNoiseError(
      () => b.serverLink.decrypt(a.clientLink.encrypt(utf8("x"))),
      NoiseErrorCode.Snow,
      "snow error: decrypt error",
    );
  });

  test("the largest transport message (65519-byte plaintext) goes through a link", async () => {
    const client = await makeClient();
    const server = await makeServer();
    const { clientLink, serverLink } = await ik(client, server, await server.staticPublicKey());
    const big = new Uint8Array(65519).map((_, i) => i * 31);
    const sealed = clientLink.encrypt(big);
    assert.equal(sealed.length, 65535);
    assert.deepEqual(serverLink.decrypt(sealed), big);
    assert.deepEqual(clientLink.decrypt(serverLink.encrypt(new Uint8Array(0))), new Uint8Array(0));
  });
});

describe("interop across crypto suites", () => {
  for (
    const [name, clientNoble, serverNoble] of [
      ["noble client, default server", true, false],
      ["default client, noble server", false, true],
    ] as const
  ) {
    test(`${name}: XX, then IK to the pinned key`, async () => {
      const client = await makeClient(clientNoble ? { suite: nobleCryptoSuite() } : {});
      const server = await makeServer(serverNoble ? { suite: nobleCryptoSuite() } : {});
      const first = await xx(client, server);
      assert.equal(toHex(first.c2.serverStaticPk), KAT_SERVER.x25519_pk);
      assertLinked(first.c2.link, first.s2.link, `${name} XX`);
      const second = await ik(client, server, first.c2.serverStaticPk);
      assert.equal(toHex(second.s1.clientIdentity.ed25519Pub), CLIENT_ED25519_PUB);
      assertLinked(second.clientLink, second.serverLink, `${name} IK`);
    });
  }

  test("a noble-suite client writes the same KAT payload bytes in IK message 1", async () => {
    const client = await makeClient({ suite: nobleCryptoSuite() });
    const c1 = await clientStartIkDirect(client, fromHex(KAT_SERVER.x25519_pk));
    assert.equal(toHex(await (await rawIkResponder()).readMessage(c1.firstMsg)), KAT_IK.json_hex);
  });
});

describe("SessionId", () => {
  const HEX = "0123456789abcdef".repeat(4);

  test("parses upper case and prints 64 lowercase hex characters", () => {
    const id = SessionId.parse(HEX.toUpperCase());
    assert.equal(id.toString(), HEX);
    assert.equal(String(id), HEX);
    assert.ok(id.equals(SessionId.parse(HEX)));
  });

  for (const [chars, bytes] of [[16, 8], [68, 34], [62, 31], [66, 33]] as const) {
    test(`rejects ${chars} hex characters: Other "got ${bytes} bytes"`, async () => {
      await expectNoiseError(
        () => SessionId.parse("ab".repeat(chars / 2)),
        NoiseErrorCode.Other,
        `other: SessionId must be 32 bytes (64 hex chars), got ${bytes} bytes`,
      );
    });
  }

  test("rejects non-hex text with Other (Invalid hex)", async () => {
    const err = await expectNoiseError(() => SessionId.parse("zz".repeat(32)), 99999);
    assert.match(err.message, /^other: Invalid hex/);
  });

  test("round-trips through bytes, and copies them", () => {
    const bytes = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
    const id = SessionId.fromBytes(bytes);
    assert.deepEqual(id.toBytes(), bytes);
    bytes[0] = 0;
    assert.equal(id.toBytes()[0], 255, "the id keeps its own copy");
    id.toBytes()[1] = 0;
    assert.equal(id.toBytes()[1], 254, "toBytes returns a copy");
    assert.ok(SessionId.parse(id.toString()).equals(id));
    assert.deepEqual(id.toJSON(), Array.from(id.toBytes()));
  });

  test("fromBytes rejects 31 and 33 bytes with Other", async () => {
    for (const n of [31, 33]) {
      await expectNoiseError(
        () => SessionId.fromBytes(new Uint8Array(n)),
        NoiseErrorCode.Other,
        `other: SessionId must be 32 bytes (64 hex chars), got ${n} bytes`,
      );
    }
  });

  test("a link's session tag equals its session id bytes, the handshake hash on both sides", async () => {
    const client = await makeClient();
    const server = await makeServer();
    const c1 = await clientStartIkDirect(client, await server.staticPublicKey());
    const s1 = await serverAcceptIk(server, c1.firstMsg);
    const serverHash = s1.hs.handshakeHash;
    const clientLink = await clientCompleteIk(c1.hs, s1.response);
    const serverLink = serverCompleteIk(s1.hs);
    assert.deepEqual(clientLink.exportSessionTag(), clientLink.sessionId.toBytes());
    assert.deepEqual(serverLink.exportSessionTag(), clientLink.exportSessionTag());
    assert.deepEqual(serverLink.exportSessionTag(), serverHash);
    assert.equal(clientLink.exportSessionTag().length, 32);
    assert.equal(
      JSON.stringify(clientLink),
      JSON.stringify({ sessionId: clientLink.sessionId.toString() }),
    );
  });
});

describe("the device static key", () => {
  /** A ring that counts how often the device secret is derived. */
  async function countingRing(seed: number) {
    const ring = await DummyRing.create(new Uint8Array(32).fill(seed), "kid");
    let derivations = 0;
    const counting: RingKeyProvider = {
      withDeviceX25519(kid, deviceId, epoch, fn) {
        derivations++;
        return ring.withDeviceX25519(kid, deviceId, epoch, fn);
      },
      ed25519PublicKey: (kid) => ring.ed25519PublicKey(kid),
      signEd25519: (kid, m) => ring.signEd25519(kid, m),
    };
    return { counting, count: () => derivations };
  }

  test("is derived once per client while it can stay a non-extractable CryptoKey", async () => {
    const c = await countingRing(1);
    const client = new NoiseClient("kid", "dev-client-00000000", c.counting);
    const server = await makeServer();
    const pinned = await server.staticPublicKey();
    for (let i = 0; i < 3; i++) await ik(client, server, pinned);
    assert.equal(c.count(), 1);
  });

  test("is derived per handshake, and wiped after it, on the all-noble suite", async () => {
    const c = await countingRing(1);
    const client = new NoiseClient("kid", "dev-client-00000000", c.counting, {
      suite: nobleCryptoSuite(),
    });
    const server = await makeServer();
    const pinned = await server.staticPublicKey();
    for (let i = 0; i < 3; i++) await ik(client, server, pinned);
    assert.equal(c.count(), 3);
  });
});

describe("the server's XX signature", () => {
  /** A ring that counts signatures, and whose Ed25519 identity can be swapped for another. */
  async function swappableRing() {
    const device = await DummyRing.create(new Uint8Array(32).fill(2), "kid");
    let identity = device;
    let signatures = 0;
    const ring: RingKeyProvider = {
      withDeviceX25519: (kid, deviceId, epoch, fn) =>
        device.withDeviceX25519(kid, deviceId, epoch, fn),
      ed25519PublicKey: (kid) => identity.ed25519PublicKey(kid),
      signEd25519: (kid, m) => {
        signatures++;
        return identity.signEd25519(kid, m);
      },
    };
    return {
      ring,
      signatures: () => signatures,
      swapIdentity: async () => {
        identity = await DummyRing.create(new Uint8Array(32).fill(0x77), "kid");
      },
    };
  }

  test("is signed once for many XX handshakes; every message 2 still carries the KAT payload", async () => {
    const r = await swappableRing();
    const server = new NoiseServer("kid", KAT_SERVER.device_id, r.ring, { clock: () => KAT_NOW });
    for (let i = 0; i < 3; i++) {
      const initiator = await rawXxInitiator();
      const s1 = await serverAcceptXx(server, await initiator.writeMessage());
      assert.equal(toHex(await initiator.readMessage(s1.response)), KAT_XX_SERVER.json_hex);
    }
    assert.equal(r.signatures(), 1);
  });

  test("is signed again when the ring's Ed25519 identity changes, and clients see the new one", async () => {
    const r = await swappableRing();
    const server = new NoiseServer("kid", KAT_SERVER.device_id, r.ring);
    const client = await makeClient();
    const before = await xx(client, server);
    assert.equal(toHex(before.c2.serverIdentity.ed25519Pub), SERVER_ED25519_PUB);
    await r.swapIdentity();
    const after = await xx(client, server);
    const expected = await (await DummyRing.create(new Uint8Array(32).fill(0x77), "kid"))
      .ed25519PublicKey("kid");
    assert.equal(toHex(after.c2.serverIdentity.ed25519Pub), toHex(expected));
    assert.equal(r.signatures(), 2);
  });
});
