/**
 * Bad input to the Pubky layer: every rejection is a `NoiseError` with the crate's code
 * (and, where the crate defines it, its message), and leaves the receiving state usable, so
 * that the genuine message still works afterwards wherever that makes sense.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
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
import { NoiseClient } from "../lib/client.ts";
import type { RingKeyProvider } from "../lib/ring.ts";
import type { NoiseServer } from "../lib/server.ts";
import type { NoiseLink } from "../lib/link.ts";
import { NoiseError, NoiseErrorCode } from "../lib/errors.ts";
import { nobleCryptoSuite } from "../lib/crypto/suite.ts";
import { DhKeyPair } from "../lib/crypto/x25519.ts";
import {
  append,
  assertLinked,
  CLIENT_DEVICE,
  CLIENT_ED25519_PUB,
  type CraftedPayload,
  craftPayload,
  expectNoiseError,
  flipBit,
  fromHex,
  KAT_CLIENT,
  KAT_NOW,
  KAT_PAYLOADS,
  KAT_SERVER,
  KAT_SERVER_EPOCH1,
  KID,
  makeClient,
  makeServer,
  ORDER8_POINT,
  rawIkInitiator,
  rawIkMsg1,
  rawXxInitiator,
  rawXxResponder,
  ring,
  toHex,
  utf8,
} from "./_pubky_fixtures.ts";

const SNOW = NoiseErrorCode.Snow;
const INPUT_ERROR = "snow error: input error";
const DECRYPT_ERROR = "snow error: decrypt error";
const INVALID_PEER_KEY = "invalid peer static or shared secret";
/** The codes a tampered or forged handshake message may produce. */
const HANDSHAKE_CODES: readonly number[] = [3000, 4000, 5000, 6000, 7000];

const CLIENT_PK = fromHex(KAT_CLIENT.x25519_pk);
const SERVER_PK = fromHex(KAT_SERVER.x25519_pk);
const ZERO_KEY = new Uint8Array(32);

/** A server IK message 1 from the real client, and the peers. */
async function genuineIk(client?: NoiseClient, server?: NoiseServer) {
  const c = client ?? await makeClient();
  const s = server ?? await makeServer();
  const c1 = await clientStartIkDirect(c, await s.staticPublicKey());
  return { client: c, server: s, c1 };
}

/** Completes IK on `server` with `firstMsg` from `c1` and checks the two links. */
async function finishIk(
  server: NoiseServer,
  c1: Awaited<ReturnType<typeof clientStartIkDirect>>,
  label: string,
): Promise<void> {
  const s1 = await serverAcceptIk(server, c1.firstMsg);
  assertLinked(await clientCompleteIk(c1.hs, s1.response), serverCompleteIk(s1.hs), label);
}

/** Runs a complete, honest IK between fresh handshakes of `client` and `server`. */
async function honestIk(client: NoiseClient, server: NoiseServer, label: string): Promise<void> {
  const c1 = await clientStartIkDirect(client, await server.staticPublicKey());
  await finishIk(server, c1, label);
}

/**
 * One receiver of a handshake message: `feed` gives it bytes (reusing its state where the
 * API has a state), `finish` then completes the handshake with the genuine message.
 */
interface Receiver {
  genuine: Uint8Array;
  /** Bytes of the tokens in front of the payload (`e`, encrypted `s`). */
  tokenBytes: number;
  /** Smallest well-formed length: tokens plus the payload's tag. */
  overhead: number;
  feed(bytes: Uint8Array): Promise<unknown>;
  finish(): Promise<void>;
}

type ReceiverName =
  | "IK message 1"
  | "IK message 2"
  | "XX message 2"
  | "XX message 3"
  | "NN message 2";

const RECEIVERS: Record<ReceiverName, () => Promise<Receiver>> = {
  async "IK message 1"() {
    const { server, c1 } = await genuineIk();
    return {
      genuine: c1.firstMsg,
      tokenBytes: 80,
      overhead: 96,
      feed: (bytes) => server.buildResponderReadIk(bytes),
      finish: () => finishIk(server, c1, "IK after tampering"),
    };
  },
  async "IK message 2"() {
    const { server, c1 } = await genuineIk();
    const s1 = await serverAcceptIk(server, c1.firstMsg);
    return {
      genuine: s1.response,
      tokenBytes: 32,
      overhead: 48,
      feed: (bytes) => clientCompleteIk(c1.hs, bytes),
      finish: async () => {
        const clientLink = await clientCompleteIk(c1.hs, s1.response);
        assertLinked(clientLink, serverCompleteIk(s1.hs), "IK after tampering");
      },
    };
  },
  async "XX message 2"() {
    const client = await makeClient();
    const server = await makeServer();
    const c1 = await clientStartXxTofu(client);
    const s1 = await serverAcceptXx(server, c1.firstMsg);
    return {
      genuine: s1.response,
      tokenBytes: 80,
      overhead: 96,
      feed: (bytes) => clientCompleteXx(client, c1.hs, bytes),
      finish: async () => {
        const c2 = await clientCompleteXx(client, c1.hs, s1.response);
        const s2 = await serverCompleteXx(server, s1.hs, c2.finalMsg, s1.serverStaticPk);
        assertLinked(c2.link, s2.link, "XX after tampering");
      },
    };
  },
  async "XX message 3"() {
    const client = await makeClient();
    const server = await makeServer();
    const c1 = await clientStartXxTofu(client);
    const s1 = await serverAcceptXx(server, c1.firstMsg);
    const c2 = await clientCompleteXx(client, c1.hs, s1.response);
    return {
      genuine: c2.finalMsg,
      tokenBytes: 48,
      overhead: 64,
      feed: (bytes) => serverCompleteXx(server, s1.hs, bytes, s1.serverStaticPk),
      finish: async () => {
        const s2 = await serverCompleteXx(server, s1.hs, c2.finalMsg, s1.serverStaticPk);
        assert.equal(toHex(s2.clientIdentity.ed25519Pub), CLIENT_ED25519_PUB);
        assertLinked(c2.link, s2.link, "XX after tampering");
      },
    };
  },
  async "NN message 2"() {
    const client = await makeClient();
    const server = await makeServer();
    const c1 = await clientStartNn(client);
    const s1 = await serverAcceptNn(server, c1.firstMsg);
    return {
      genuine: s1.response,
      tokenBytes: 32,
      overhead: 48,
      feed: (bytes) => clientCompleteNn(client, c1.hs, bytes),
      finish: async () => {
        const link = await clientCompleteNn(client, c1.hs, s1.response);
        assertLinked(link, serverCompleteNn(s1.hs), "NN after tampering");
      },
    };
  },
};

/**
 * XX or NN message 1: nothing in it is authenticated, so the server takes any 32 bytes and
 * more; a tampered message 1 is caught by the client, which cannot read the server's reply.
 */
async function firstMessageFlow(pattern: "XX" | "NN") {
  const client = await makeClient();
  const server = await makeServer();
  if (pattern === "XX") {
    const c1 = await clientStartXxTofu(client);
    return {
      genuine: c1.firstMsg,
      serverReads: async (bytes: Uint8Array) => (await serverAcceptXx(server, bytes)).response,
      clientReads: (reply: Uint8Array) => clientCompleteXx(client, c1.hs, reply),
      finish: async () => {
        const s1 = await serverAcceptXx(server, c1.firstMsg);
        const c2 = await clientCompleteXx(client, c1.hs, s1.response);
        const s2 = await serverCompleteXx(server, s1.hs, c2.finalMsg, s1.serverStaticPk);
        assertLinked(c2.link, s2.link, "XX after tampering");
      },
    };
  }
  const c1 = await clientStartNn(client);
  return {
    genuine: c1.firstMsg,
    serverReads: async (bytes: Uint8Array) => (await serverAcceptNn(server, bytes)).response,
    clientReads: (reply: Uint8Array) => clientCompleteNn(client, c1.hs, reply),
    finish: async () => {
      const s1 = await serverAcceptNn(server, c1.firstMsg);
      const link = await clientCompleteNn(client, c1.hs, s1.response);
      assertLinked(link, serverCompleteNn(s1.hs), "NN after tampering");
    },
  };
}

describe("tampered handshake messages", () => {
  for (const name of Object.keys(RECEIVERS) as ReceiverName[]) {
    test(`${name} truncated at every length is refused with Snow (3000), then the genuine one works`, async () => {
      const r = await RECEIVERS[name]();
      for (let len = 0; len < r.genuine.length; len++) {
        const err = await expectNoiseError(
          r.feed(r.genuine.slice(0, len)),
          SNOW,
          undefined,
          `len ${len}`,
        );
        // As snow: missing key bytes are an input error; once the keys are complete, a
        // payload shorter than its tag fails to authenticate (decrypt error).
        assert.equal(err.message, len < r.tokenBytes ? INPUT_ERROR : DECRYPT_ERROR, `len ${len}`);
      }
      await r.finish();
    });

    test(`${name} with bytes appended is refused with decrypt error, then the genuine one works`, async () => {
      const r = await RECEIVERS[name]();
      for (const extra of [new Uint8Array(1), new Uint8Array(16).fill(0xaa), new Uint8Array(100)]) {
        await expectNoiseError(
          r.feed(append(r.genuine, extra)),
          SNOW,
          DECRYPT_ERROR,
          `+${extra.length}`,
        );
      }
      await r.finish();
    });

    test(`${name} with one bit flipped at any position is refused with decrypt error`, async () => {
      const r = await RECEIVERS[name]();
      const len = r.genuine.length;
      // Short messages: every byte. Long ones: every key byte and a stride through the payload.
      const positions = new Set<number>();
      for (let i = 0; i < len; i += i < r.overhead || len <= 96 ? 1 : 7) positions.add(i);
      positions.add(len - 1);
      for (const i of positions) {
        await expectNoiseError(
          r.feed(flipBit(r.genuine, i, i % 8)),
          SNOW,
          DECRYPT_ERROR,
          `byte ${i} bit ${i % 8}`,
        );
      }
      // The top bit of the ephemeral key is ignored by X25519, but it is hashed.
      await expectNoiseError(r.feed(flipBit(r.genuine, 31, 7)), SNOW, DECRYPT_ERROR, "bit 255");
      await r.finish();
    });
  }

  for (const pattern of ["XX", "NN"] as const) {
    test(`${pattern} message 1 shorter than 32 bytes is refused by the server with input error`, async () => {
      const flow = await firstMessageFlow(pattern);
      for (let len = 0; len < 32; len++) {
        await expectNoiseError(
          flow.serverReads(flow.genuine.slice(0, len)),
          SNOW,
          INPUT_ERROR,
          `len ${len}`,
        );
      }
      await flow.finish();
    });

    test(`${pattern} message 1 with a flipped bit or extra bytes passes the server, but the client refuses the reply`, async () => {
      const flow = await firstMessageFlow(pattern);
      const tampered = [
        ...Array.from({ length: 32 }, (_, i) => flipBit(flow.genuine, i, (i * 3) % 8)),
        flipBit(flow.genuine, 31, 7),
        append(flow.genuine, utf8("extra payload")),
      ];
      for (const [i, bytes] of tampered.entries()) {
        const reply = await flow.serverReads(bytes);
        await expectNoiseError(flow.clientReads(reply), SNOW, DECRYPT_ERROR, `variant ${i}`);
      }
      await flow.finish();
    });
  }
});

describe("handshake message size limits", () => {
  const tooLarge = new Uint8Array(65537);
  const noiseMax = new Uint8Array(65536);
  const POLICY_MSG = "policy violation: Handshake message too large: 65537 bytes (max 65536)";

  test("every server entry point refuses 65537 bytes with Policy (6000), before anything else", async () => {
    const server = await makeServer();
    const xxState = await serverAcceptXx(server, await (await rawXxInitiator()).writeMessage());
    const entryPoints: [string, () => Promise<unknown>][] = [
      ["buildResponderReadIk", () => server.buildResponderReadIk(tooLarge)],
      ["serverAcceptIk", () => serverAcceptIk(server, tooLarge)],
      ["buildResponderXx", () => server.buildResponderXx(tooLarge)],
      ["buildResponderNn", () => server.buildResponderNn(tooLarge)],
      [
        "completeResponderXx",
        () => server.completeResponderXx(xxState.hs, tooLarge, xxState.serverStaticPk),
      ],
    ];
    for (const [name, call] of entryPoints) {
      const err = await expectNoiseError(call(), NoiseErrorCode.Policy, POLICY_MSG, name);
      assert.equal(err.detail, "Handshake message too large: 65537 bytes (max 65536)");
    }
    // The size check comes before the device key: a server with a bad device id says 6000 too.
    const shortId = await makeServer({}, "dev-server-0000");
    await expectNoiseError(shortId.buildResponderReadIk(tooLarge), 6000, POLICY_MSG);
    await honestIk(await makeClient(), server, "after oversized input");
  });

  test("65536 bytes pass the policy but exceed the Noise limit: Snow input error", async () => {
    const server = await makeServer();
    await expectNoiseError(server.buildResponderReadIk(noiseMax), SNOW, INPUT_ERROR);
    await expectNoiseError(server.buildResponderXx(noiseMax), SNOW, INPUT_ERROR);
    await expectNoiseError(server.buildResponderNn(noiseMax), SNOW, INPUT_ERROR);
    const r = await RECEIVERS["XX message 3"]();
    await expectNoiseError(r.feed(noiseMax), SNOW, INPUT_ERROR);
    await r.finish();
  });

  test("clients have no policy limit: an oversized reply is a Snow input error, state kept", async () => {
    for (const name of ["IK message 2", "XX message 2", "NN message 2"] as const) {
      const r = await RECEIVERS[name]();
      await expectNoiseError(r.feed(tooLarge), SNOW, INPUT_ERROR, name);
      await r.finish();
    }
  });

  test("a handshake message that is not bytes is refused with Policy by the server", async () => {
    const server = await makeServer();
    for (const junk of ["text", null, [1, 2, 3], new ArrayBuffer(32)]) {
      await expectNoiseError(
        server.buildResponderReadIk(junk as unknown as Uint8Array),
        NoiseErrorCode.Policy,
        "policy violation: Handshake message must be bytes",
      );
    }
  });
});

/** Payloads that are not a valid identity JSON, with serde_json's message where it is certain. */
const MALFORMED: [string, Uint8Array, string | undefined][] = [
  ["empty", new Uint8Array(0), "serialization error: EOF while parsing a value at line 1 column 0"],
  ["not JSON", utf8("not json"), "serialization error: expected ident at line 1 column 2"],
  ["empty object", utf8("{}"), "serialization error: missing field `ed25519_pub`"],
  [
    "null",
    utf8("null"),
    "serialization error: invalid type: null, expected struct IdentityPayload",
  ],
  [
    "lower-case role",
    utf8(KAT_PAYLOADS[0].json.replace('"Client"', '"client"')),
    "serialization error: unknown variant `client`, expected `Client` or `Server`",
  ],
  ["31-byte ed25519_pub", utf8(KAT_PAYLOADS[0].json.replace("[138,", "[")), undefined],
  ["truncated JSON", utf8(KAT_PAYLOADS[0].json.slice(0, -1)), undefined],
  ["invalid UTF-8", Uint8Array.of(0x7b, 0xff, 0xfe, 0x7d), undefined],
];

describe("malformed identity JSON inside a valid Noise message: Serde (4000)", () => {
  test("IK message 1 from a raw initiator with the client's real static", async () => {
    const server = await makeServer();
    for (const [name, payload, message] of MALFORMED) {
      const err = await expectNoiseError(
        server.buildResponderReadIk(await rawIkMsg1(payload)),
        NoiseErrorCode.Serde,
        message,
        name,
      );
      assert.match(err.message, /^serialization error: /);
    }
    // Control: the raw initiator with the KAT payload bytes is accepted.
    const ok = await server.buildResponderReadIk(
      await rawIkMsg1(fromHex(KAT_PAYLOADS[0].json_hex)),
    );
    assert.equal(toHex(ok.identity.ed25519Pub), CLIENT_ED25519_PUB);
    await honestIk(await makeClient(), server, "after malformed payloads");
  });

  test("XX message 3 from a raw initiator", async () => {
    const server = await makeServer();
    for (const [name, payload, message] of MALFORMED) {
      await expectNoiseError(xxMsg3(server, payload), NoiseErrorCode.Serde, message, name);
    }
    const ok = await xxMsg3(server, fromHex(KAT_PAYLOADS[0].json_hex));
    assert.equal(ok.identity.role, "Client");
  });

  test("XX message 2 from a raw responder, read by the real client", async () => {
    const client = await makeClient();
    for (const [name, payload, message] of MALFORMED) {
      await expectNoiseError(xxMsg2(client, payload), NoiseErrorCode.Serde, message, name);
    }
    const ok = await xxMsg2(client, fromHex(KAT_PAYLOADS[2].json_hex));
    assert.equal(toHex(ok.serverStaticPk), KAT_SERVER.x25519_pk);
  });
});

/** XX message 3 with any payload, from a raw initiator (the KAT client static), to `server`. */
async function xxMsg3(server: NoiseServer, payload: Uint8Array, s?: DhKeyPair) {
  const initiator = await rawXxInitiator(s);
  const s1 = await serverAcceptXx(server, await initiator.writeMessage());
  await initiator.readMessage(s1.response);
  const msg3 = await initiator.writeMessage(payload);
  return server.completeResponderXx(s1.hs, msg3, s1.serverStaticPk);
}

/** XX message 2 with any payload, from a raw responder (the KAT server static), to `client`. */
async function xxMsg2(client: NoiseClient, payload: Uint8Array) {
  const responder = await rawXxResponder();
  const c1 = await clientStartXxTofu(client);
  await responder.readMessage(c1.firstMsg);
  return client.completeInitiatorXx(c1.hs, await responder.writeMessage(payload));
}

/** The y = 2 encoding: not a point of Edwards25519, in any Ed25519 implementation. */
const NOT_A_POINT = fromHex("02" + "00".repeat(31));
/** y = 2^255 - 1, not canonical: dalek reduces it mod p (y = 18, on the curve), so it decodes. */
const NON_CANONICAL_Y = fromHex("ff".repeat(32));
/** The identity point (y = 1): decodes, but no signature verifies under it. */
const IDENTITY_POINT = fromHex("01" + "00".repeat(31));

type Overrides = Partial<CraftedPayload> & { signerSeed?: number };

/** Forged client payloads (IK message 1, XX message 3): [name, overrides, code]. */
const FORGED_CLIENT: [string, Overrides, number][] = [
  [
    "signed by another Ed25519 key",
    { signerSeed: 3, ed25519Pub: fromHex(CLIENT_ED25519_PUB) },
    5000,
  ],
  ["binding with role Server", { bindingRole: "Server" }, 5000],
  ["role Server in a client payload (binding signed as Server)", { role: "Server" }, 5000],
  ["role Server in a client payload (binding signed as Client)", {
    role: "Server",
    bindingRole: "Client",
  }, 5000],
  ["binding without the remote static", { remote: null }, 5000],
  ["binding with another remote static", { remote: CLIENT_PK }, 5000],
  ["binding of another local static", { local: SERVER_PK }, 5000],
  ["all-zero signature", { sig: new Uint8Array(64) }, 5000],
  ["identity-point ed25519_pub", { ed25519Pub: IDENTITY_POINT }, 5000],
  [
    "non-canonical ed25519_pub that decodes as dalek decodes it",
    { ed25519Pub: NON_CANONICAL_Y },
    5000,
  ],
  ["ed25519_pub that is not a point", { ed25519Pub: NOT_A_POINT }, 99999],
];

/** A client payload (signed by the KAT client identity unless overridden). */
async function forgedClientPayload(o: Overrides): Promise<Uint8Array> {
  const { signerSeed = 1, ...fields } = o;
  return craftPayload({
    role: "Client",
    local: CLIENT_PK,
    remote: SERVER_PK,
    signer: await ring(signerSeed),
    ...fields,
  });
}

/** A server payload for XX message 2 (signed by the KAT server identity unless overridden). */
async function forgedServerPayload(o: Overrides): Promise<Uint8Array> {
  const { signerSeed = 2, ...fields } = o;
  return craftPayload({
    role: "Server",
    local: SERVER_PK,
    remote: null,
    hintExpiresAt: KAT_NOW + 300,
    signer: await ring(signerSeed),
    ...fields,
  });
}

function expectForgeryError(action: Promise<unknown>, code: number, label: string) {
  return expectNoiseError(
    action,
    code,
    code === 5000 ? "identity verification failed" : undefined,
    label,
  );
}

describe("identity binding", () => {
  test("the honest hand-made client payload is the KAT payload and is accepted (control)", async () => {
    const payload = await forgedClientPayload({});
    assert.equal(toHex(payload), KAT_PAYLOADS[0].json_hex);
    const server = await makeServer();
    assert.equal(
      (await server.buildResponderReadIk(await rawIkMsg1(payload))).identity.role,
      "Client",
    );
  });

  test("IK message 1: forged bindings give IdentityVerify (5000), bad keys Other (99999)", async () => {
    const server = await makeServer();
    for (const [name, overrides, code] of FORGED_CLIENT) {
      const msg = await rawIkMsg1(await forgedClientPayload(overrides));
      const err = await expectForgeryError(server.buildResponderReadIk(msg), code, name);
      if (code === 99999) assert.match(err.message, /^other: /);
    }
    await honestIk(await makeClient(), server, "after forgeries");
  });

  test("XX message 3: forged bindings give IdentityVerify (5000), bad keys Other (99999)", async () => {
    const server = await makeServer();
    for (const [name, overrides, code] of FORGED_CLIENT) {
      await expectForgeryError(xxMsg3(server, await forgedClientPayload(overrides)), code, name);
    }
  });

  test("any Ed25519 identity that signs the binding is accepted: the server pins no client", async () => {
    const server = await makeServer();
    const other = await ring(3);
    const msg = await rawIkMsg1(await forgedClientPayload({ signerSeed: 3 }));
    const { identity } = await server.buildResponderReadIk(msg);
    assert.deepEqual(identity.ed25519Pub, await other.ed25519PublicKey("kid"));
  });

  test("XX message 2 at the client: forged server bindings are refused", async () => {
    const client = await makeClient();
    const cases: [string, Overrides, number][] = [
      ["honest (control)", {}, 0],
      ["signed by another Ed25519 key", {
        signerSeed: 3,
        ed25519Pub: fromHex(KAT_PAYLOADS[2].ed25519_pub),
      }, 5000],
      ["binding with the client's static as remote", { remote: CLIENT_PK }, 5000],
      ["binding with role Client", { bindingRole: "Client" }, 5000],
      ["role Client in a server payload", { role: "Client", bindingRole: "Server" }, 5000],
      ["binding of another local static", { local: CLIENT_PK }, 5000],
      ["ed25519_pub that is not a point", { ed25519Pub: NOT_A_POINT }, 99999],
    ];
    for (const [name, overrides, code] of cases) {
      const payload = await forgedServerPayload(overrides);
      if (code === 0) {
        assert.equal(toHex(payload), KAT_PAYLOADS[2].json_hex);
        const ok = await xxMsg2(client, payload);
        assert.equal(ok.serverIdentity.role, "Server");
      } else {
        await expectForgeryError(xxMsg2(client, payload), code, name);
      }
    }
  });

  test("XX message 2: the client signs while it verifies, and reports the forgery, not the signing", async () => {
    const honest = await ring(1);
    const failingSigner: RingKeyProvider = {
      withDeviceX25519: (kid, deviceId, epoch, fn) =>
        honest.withDeviceX25519(kid, deviceId, epoch, fn),
      ed25519PublicKey: (kid) => honest.ed25519PublicKey(kid),
      signEd25519: () => Promise.reject(new NoiseError(NoiseErrorCode.Ring, "signer offline")),
    };
    const client = new NoiseClient(KID, CLIENT_DEVICE, failingSigner);
    const forged = await forgedServerPayload({ bindingRole: "Client" });
    await expectForgeryError(xxMsg2(client, forged), 5000, "forged server, failing signer");
    const genuine = await forgedServerPayload({});
    await expectForgeryError(xxMsg2(client, genuine), NoiseErrorCode.Ring, "genuine server");
  });

  test("the client does not check the server's hint_expires_at (only servers check expiry)", async () => {
    const client = (await makeClient()).withNowUnix(KAT_NOW);
    const server = await makeServer({ clock: () => 1 });
    const c1 = await clientStartXxTofu(client);
    const s1 = await serverAcceptXx(server, c1.firstMsg);
    const c2 = await clientCompleteXx(client, c1.hs, s1.response);
    assert.equal(c2.serverIdentity.hintExpiresAt, 301);
  });
});

describe("server_hint length (UTF-8 bytes, max 256)", () => {
  const HINT_258 = "é".repeat(129);
  const HINT_256 = "é".repeat(128);
  const TOO_LONG = "policy violation: server_hint too long: 258 chars (max 256)";

  test("the client refuses to send 258 bytes in IK (6000), and sends 256", async () => {
    const client = await makeClient();
    const server = await makeServer();
    await expectNoiseError(
      clientStartIkDirect(client, SERVER_PK, HINT_258),
      NoiseErrorCode.Policy,
      TOO_LONG,
    );
    await expectNoiseError(
      clientStartIkDirect(client, SERVER_PK, "a".repeat(257)),
      NoiseErrorCode.Policy,
      "policy violation: server_hint too long: 257 chars (max 256)",
    );
    const c1 = await clientStartIkDirect(client, SERVER_PK, HINT_256);
    const s1 = await serverAcceptIk(server, c1.firstMsg);
    assert.equal(s1.clientIdentity.serverHint, HINT_256);
  });

  test("the XX client refuses 258 bytes before reading message 2, and can go on with 256", async () => {
    const client = await makeClient();
    const server = await makeServer();
    const c1 = await clientStartXxTofu(client);
    const s1 = await serverAcceptXx(server, c1.firstMsg);
    await expectNoiseError(
      clientCompleteXx(client, c1.hs, s1.response, HINT_258),
      NoiseErrorCode.Policy,
      TOO_LONG,
    );
    const c2 = await clientCompleteXx(client, c1.hs, s1.response, HINT_256);
    const s2 = await serverCompleteXx(server, s1.hs, c2.finalMsg, s1.serverStaticPk);
    assert.equal(s2.clientIdentity.serverHint, HINT_256);
  });

  test("the server refuses a signed payload with a 258-byte hint (IK and XX), accepts 256", async () => {
    const server = await makeServer();
    const long = await forgedClientPayload({ serverHint: HINT_258 });
    await expectNoiseError(server.buildResponderReadIk(await rawIkMsg1(long)), 6000, TOO_LONG);
    await expectNoiseError(xxMsg3(server, long), 6000, TOO_LONG);
    const exact = await forgedClientPayload({ serverHint: HINT_256 });
    const ok = await server.buildResponderReadIk(await rawIkMsg1(exact));
    assert.equal(ok.identity.serverHint, HINT_256);
  });
});

describe("hint expiry (server clock, strict >)", () => {
  const EXPIRED = "session expired or not found: " +
    "Identity payload hint expired at 1300 (current time: 1301)";

  test("IK: expires at 1300, refused at 1301 with SessionExpired (6003), accepted at 1300", async () => {
    const client = (await makeClient()).withNowUnix(1000);
    assert.equal(client.expirySecs, 300);
    const late = await makeServer({ clock: () => 1301 });
    const c1 = await clientStartIkDirect(client, SERVER_PK);
    const err = await expectNoiseError(
      late.buildResponderReadIk(c1.firstMsg),
      NoiseErrorCode.SessionExpired,
      EXPIRED,
    );
    assert.equal(err.isUserFacing, true);
    const onTime = await makeServer({ clock: () => 1300 });
    await finishIk(onTime, c1, "on time");
  });

  test("XX: the same check on message 3", async () => {
    const client = (await makeClient()).withNowUnix(1000);
    for (const [now, ok] of [[1301, false], [1300, true]] as const) {
      const server = await makeServer({ clock: () => now });
      const c1 = await clientStartXxTofu(client);
      const s1 = await serverAcceptXx(server, c1.firstMsg);
      const c2 = await clientCompleteXx(client, c1.hs, s1.response);
      const done = serverCompleteXx(server, s1.hs, c2.finalMsg, s1.serverStaticPk);
      if (ok) assertLinked(c2.link, (await done).link, "XX at 1300");
      else await expectNoiseError(done, 6003, EXPIRED);
    }
  });

  test("a client without a clock sends no expiry, accepted at any server time", async () => {
    const client = await makeClient();
    const server = await makeServer({ clock: () => Number.MAX_SAFE_INTEGER });
    const c1 = await clientStartIkDirect(client, SERVER_PK);
    const s1 = await serverAcceptIk(server, c1.firstMsg);
    assert.equal(s1.clientIdentity.hintExpiresAt, null);
  });
});

describe("server check order (reference §2.3)", () => {
  test("hint length before expiry, expiry before the Ed25519 key, key before the signature", async () => {
    const server = await makeServer({ clock: () => 5000 });
    const send = async (o: Partial<CraftedPayload>) =>
      server.buildResponderReadIk(await rawIkMsg1(await forgedClientPayload(o)));
    await expectNoiseError(send({ serverHint: "h".repeat(300), hintExpiresAt: 1 }), 6000);
    await expectNoiseError(send({ hintExpiresAt: 1, ed25519Pub: NOT_A_POINT }), 6003);
    await expectNoiseError(send({ hintExpiresAt: 1, sig: new Uint8Array(64) }), 6003);
    await expectNoiseError(send({ ed25519Pub: NOT_A_POINT, sig: new Uint8Array(64) }), 99999);
  });
});

describe("peer keys", () => {
  test("IK to a key that is not the server's: the server cannot decrypt (Snow decrypt error)", async () => {
    const server = await makeServer();
    const client = await makeClient();
    for (const wrong of [CLIENT_PK, fromHex(KAT_SERVER_EPOCH1.x25519_pk)]) {
      const c1 = await clientStartIkDirect(client, wrong);
      await expectNoiseError(server.buildResponderReadIk(c1.firstMsg), SNOW, DECRYPT_ERROR);
    }
    await honestIk(client, server, "after wrong pins");
  });

  test("the epoch-1 server refuses IK to its epoch-0 key and accepts its epoch-1 key", async () => {
    const server = await makeServer({ epoch: 1 });
    const client = await makeClient();
    const c1 = await clientStartIkDirect(client, SERVER_PK);
    await expectNoiseError(server.buildResponderReadIk(c1.firstMsg), SNOW, DECRYPT_ERROR);
    await finishIk(
      server,
      await clientStartIkDirect(client, fromHex(KAT_SERVER_EPOCH1.x25519_pk)),
      "epoch 1",
    );
  });

  test("a low-order pinned key is refused by the client with InvalidPeerKey (7000)", async () => {
    for (const suite of [undefined, nobleCryptoSuite()]) {
      const client = await makeClient(suite ? { suite } : {});
      for (const key of [ZERO_KEY, ORDER8_POINT]) {
        const err = await expectNoiseError(
          clientStartIkDirect(client, key),
          NoiseErrorCode.InvalidPeerKey,
          INVALID_PEER_KEY,
          `${suite ? "noble" : "default"} ${toHex(key).slice(0, 8)}`,
        );
        assert.equal(err.codeName, "InvalidPeerKey");
      }
      await expectNoiseError(clientStartIkDirect(client, new Uint8Array(31)), 7000);
      await honestIk(client, await makeServer(), "after low-order pins");
    }
  });

  test("an XX or NN message 1 with a low-order ephemeral: the server's ee DH gives 7000", async () => {
    const server = await makeServer();
    for (const e of [ZERO_KEY, ORDER8_POINT]) {
      await expectNoiseError(server.buildResponderXx(e), 7000, INVALID_PEER_KEY);
      await expectNoiseError(server.buildResponderNn(e), 7000, INVALID_PEER_KEY);
    }
    await honestIk(await makeClient(), server, "after low-order ephemerals");
  });

  test("an IK message 1 with a low-order ephemeral: the server's es DH gives 7000", async () => {
    const { client, server, c1 } = await genuineIk();
    for (const e of [ZERO_KEY, ORDER8_POINT]) {
      const msg = c1.firstMsg.slice();
      msg.set(e, 0);
      await expectNoiseError(server.buildResponderReadIk(msg), 7000, INVALID_PEER_KEY);
    }
    await finishIk(server, c1, "genuine after");
    await honestIk(client, server, "fresh after");
  });

  test("a low-order client static (IK message 1, XX message 3): the server's DH gives 7000", async () => {
    const server = await makeServer();
    const suite = nobleCryptoSuite();
    for (const pub of [ZERO_KEY, ORDER8_POINT]) {
      // A key pair that announces a low-order public key but computes with a real secret.
      const fake = () => new DhKeyPair(pub.slice(), new Uint8Array(32).fill(0x42), "noble");
      const ik = await rawIkInitiator({ s: fake(), suite });
      const payload = await forgedClientPayload({ local: pub });
      await expectNoiseError(
        server.buildResponderReadIk(await ik.writeMessage(payload)),
        7000,
        INVALID_PEER_KEY,
      );
      const xxInit = await rawXxInitiator(fake(), suite);
      const s1 = await serverAcceptXx(server, await xxInit.writeMessage());
      await xxInit.readMessage(s1.response);
      await expectNoiseError(
        server.completeResponderXx(s1.hs, await xxInit.writeMessage(payload), s1.serverStaticPk),
        7000,
        INVALID_PEER_KEY,
      );
    }
  });

  for (const name of ["IK message 2", "XX message 2", "NN message 2"] as const) {
    test(`${name} with a low-order ephemeral is refused by the client (7000), state kept`, async () => {
      const r = await RECEIVERS[name]();
      for (const e of [ZERO_KEY, ORDER8_POINT]) {
        const msg = r.genuine.slice();
        msg.set(e, 0);
        await expectNoiseError(r.feed(msg), 7000, INVALID_PEER_KEY);
      }
      await r.finish();
    });
  }
});

describe("device ids (at least 16 bytes for XX and IK)", () => {
  const SHORT = "dev-client-0000"; // 15 bytes
  const RING_ERROR = "ring error: device_id too short: 15 bytes (minimum 16 bytes required)";

  test("a client with a 15-byte device id cannot start XX or IK (Ring, 1000)", async () => {
    const client = await makeClient({}, SHORT);
    assert.equal(client.deviceId.length, 15);
    await expectNoiseError(clientStartXxTofu(client), NoiseErrorCode.Ring, RING_ERROR);
    await expectNoiseError(clientStartIkDirect(client, SERVER_PK), 1000, RING_ERROR);
  });

  test("a server with a 15-byte device id cannot answer XX or IK (Ring, 1000)", async () => {
    const server = await makeServer({}, utf8("dev-server-0000"));
    const client = await makeClient();
    await expectNoiseError(server.staticPublicKey(), 1000, RING_ERROR);
    const ik = await clientStartIkDirect(client, SERVER_PK);
    await expectNoiseError(server.buildResponderReadIk(ik.firstMsg), 1000, RING_ERROR);
    await expectNoiseError(serverAcceptIk(server, ik.firstMsg), 1000, RING_ERROR);
    const xx = await clientStartXxTofu(client);
    await expectNoiseError(server.buildResponderXx(xx.firstMsg), 1000, RING_ERROR);
  });

  test("16 bytes is enough", async () => {
    const client = await makeClient({}, "dev-client-00000");
    const server = await makeServer({}, "dev-server-00000");
    await honestIk(client, server, "16-byte ids");
  });

  test("NN works with short (even empty) device ids: it touches no device key", async () => {
    for (const id of ["short", ""]) {
      const client = await makeClient({}, id);
      const server = await makeServer({}, id);
      const c1 = await clientStartNn(client);
      const s1 = await serverAcceptNn(server, c1.firstMsg);
      assertLinked(
        await clientCompleteNn(client, c1.hs, s1.response),
        serverCompleteNn(s1.hs),
        `NN "${id}"`,
      );
    }
  });
});

/** An established IK session. */
async function linkedPair(): Promise<{ clientLink: NoiseLink; serverLink: NoiseLink }> {
  const { server, c1 } = await genuineIk();
  const s1 = await serverAcceptIk(server, c1.firstMsg);
  return {
    clientLink: await clientCompleteIk(c1.hs, s1.response),
    serverLink: serverCompleteIk(s1.hs),
  };
}

/** Asserts that `link.decrypt(bytes)` fails with `message` and moves no nonce. */
async function expectRefused(link: NoiseLink, bytes: unknown, message: string, label = "") {
  const before = [link.transport.receiveNonce, link.transport.sendNonce];
  await expectNoiseError(() => link.decrypt(bytes as Uint8Array), SNOW, message, label);
  assert.deepEqual([link.transport.receiveNonce, link.transport.sendNonce], before, label);
}

describe("transport through NoiseLink", () => {
  test("a replayed message is refused and the receive nonce does not move", async () => {
    const { clientLink, serverLink } = await linkedPair();
    const m0 = clientLink.encrypt(utf8("once"));
    assert.deepEqual(serverLink.decrypt(m0), utf8("once"));
    assert.equal(serverLink.transport.receiveNonce, 1n);
    await expectRefused(serverLink, m0, DECRYPT_ERROR, "replay");
    assert.deepEqual(serverLink.decrypt(clientLink.encrypt(utf8("next"))), utf8("next"));
  });

  test("reordered messages are refused until the expected one arrives", async () => {
    const { clientLink, serverLink } = await linkedPair();
    const [m0, m1, m2] = ["zero", "one", "two"].map((t) => clientLink.encrypt(utf8(t)));
    await expectRefused(serverLink, m1, DECRYPT_ERROR, "m1 first");
    await expectRefused(serverLink, m2, DECRYPT_ERROR, "m2 first");
    assert.equal(serverLink.transport.receiveNonce, 0n);
    assert.deepEqual(serverLink.decrypt(m0), utf8("zero"));
    assert.deepEqual(serverLink.decrypt(m1), utf8("one"));
    assert.deepEqual(serverLink.decrypt(m2), utf8("two"));
  });

  test("a forged tag or ciphertext byte is refused; the genuine message then opens", async () => {
    const { clientLink, serverLink } = await linkedPair();
    const m = clientLink.encrypt(utf8("authentic"));
    for (let i = 0; i < m.length; i++) {
      await expectRefused(serverLink, flipBit(m, i, i % 8), DECRYPT_ERROR, `byte ${i}`);
    }
    await expectRefused(serverLink, m.slice(0, -1), DECRYPT_ERROR, "one byte short");
    await expectRefused(serverLink, append(m, new Uint8Array(1)), DECRYPT_ERROR, "one extra");
    assert.deepEqual(serverLink.decrypt(m), utf8("authentic"));
  });

  test("a message sealed for the other direction is refused", async () => {
    const { clientLink } = await linkedPair();
    await expectRefused(clientLink, clientLink.encrypt(utf8("mine")), DECRYPT_ERROR);
  });

  test("ciphertexts of 0 and 15 bytes are decrypt errors, 65536 bytes an input error", async () => {
    const { clientLink, serverLink } = await linkedPair();
    await expectRefused(serverLink, new Uint8Array(0), DECRYPT_ERROR, "0");
    await expectRefused(serverLink, new Uint8Array(15), DECRYPT_ERROR, "15");
    await expectRefused(serverLink, new Uint8Array(65536), INPUT_ERROR, "65536");
    await expectRefused(serverLink, "not bytes", INPUT_ERROR, "string");
    assert.deepEqual(serverLink.decrypt(clientLink.encrypt(new Uint8Array(0))), new Uint8Array(0));
  });

  test("a 65520-byte plaintext is refused with input error and the send nonce does not move", async () => {
    const { clientLink, serverLink } = await linkedPair();
    await expectNoiseError(
      () => clientLink.encrypt(new Uint8Array(65520)),
      SNOW,
      INPUT_ERROR,
    );
    assert.equal(clientLink.transport.sendNonce, 0n);
    const max = clientLink.encrypt(new Uint8Array(65519).fill(7));
    assert.equal(max.length, 65535);
    assert.deepEqual(serverLink.decrypt(max), new Uint8Array(65519).fill(7));
  });
});

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

type Mutation =
  | { op: "flip"; index: number; bit: number }
  | { op: "truncate"; length: number }
  | { op: "append"; extra: Uint8Array };

/** A random mutation of a `len`-byte message (every variant changes the bytes). */
function mutationArb(len: number): fc.Arbitrary<Mutation> {
  return fc.oneof(
    fc.record({ op: fc.constant("flip" as const), index: fc.nat(len - 1), bit: fc.nat(7) }),
    fc.record({ op: fc.constant("truncate" as const), length: fc.nat(len - 1) }),
    fc.record({
      op: fc.constant("append" as const),
      extra: fc.uint8Array({ minLength: 1, maxLength: 48, size: "max" }),
    }),
  );
}

function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
  if (m.op === "flip") return flipBit(bytes, m.index, m.bit);
  if (m.op === "truncate") return bytes.slice(0, m.length);
  return append(bytes, m.extra);
}

/** Asserts that `action` rejects with a NoiseError whose code is one of `codes`. */
async function expectRejectedWithin(
  action: Promise<unknown>,
  codes: readonly number[],
  label: string,
) {
  let error: unknown = null;
  try {
    await action;
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof NoiseError, `${label}: expected a NoiseError, got ${String(error)}`);
  assert.ok(codes.includes(error.code), `${label}: unexpected ${error.code} ${error.message}`);
  return error;
}

describe("properties (fast-check)", () => {
  for (const name of Object.keys(RECEIVERS) as ReceiverName[]) {
    test(`any mutation of ${name} is refused with a handshake code; the genuine one then works`, async () => {
      const r = await RECEIVERS[name]();
      await fc.assert(
        fc.asyncProperty(mutationArb(r.genuine.length), async (m) => {
          await expectRejectedWithin(
            r.feed(mutate(r.genuine, m)),
            HANDSHAKE_CODES,
            JSON.stringify(m),
          );
        }),
        { numRuns: 100 },
      );
      await r.finish();
    });
  }

  for (const pattern of ["XX", "NN"] as const) {
    test(`any mutation of ${pattern} message 1 is refused by the server or, later, by the client`, async () => {
      const flow = await firstMessageFlow(pattern);
      await fc.assert(
        fc.asyncProperty(mutationArb(flow.genuine.length), async (m) => {
          const bytes = mutate(flow.genuine, m);
          let reply: Uint8Array;
          try {
            reply = await flow.serverReads(bytes);
          } catch (e) {
            await expectRejectedWithin(Promise.reject(e), HANDSHAKE_CODES, "server");
            assert.ok(bytes.length < 32, "the server only refuses a short message 1");
            return;
          }
          await expectRejectedWithin(flow.clientReads(reply), HANDSHAKE_CODES, "client");
        }),
        { numRuns: 60 },
      );
      await flow.finish();
    });
  }

  test("random bytes to every server entry point give a NoiseError, never another error", async () => {
    const server = await makeServer();
    const xxRest = await RECEIVERS["XX message 3"]();
    const bytesArb = fc.oneof(
      fc.uint8Array({ maxLength: 40, size: "max" }),
      fc.uint8Array({ minLength: 40, maxLength: 700, size: "max" }),
    );
    await fc.assert(
      fc.asyncProperty(bytesArb, async (bytes) => {
        const label = `${bytes.length} bytes`;
        const short = bytes.length < 32;
        for (
          const call of [
            () => server.buildResponderReadIk(bytes),
            () => serverAcceptIk(server, bytes),
          ]
        ) {
          const err = await expectRejectedWithin(call(), [3000, 7000], `IK ${label}`);
          if (short) assert.equal(err.message, INPUT_ERROR);
        }
        await expectRejectedWithin(xxRest.feed(bytes), [3000, 7000], `XX3 ${label}`);
        // XX and NN message 1 are unauthenticated: any 32 bytes or more may be accepted.
        for (
          const call of [() => server.buildResponderXx(bytes), () => server.buildResponderNn(bytes)]
        ) {
          try {
            await call();
            assert.ok(!short, `${label}: accepted a message 1 shorter than 32 bytes`);
          } catch (e) {
            await expectRejectedWithin(Promise.reject(e), [3000, 7000], `XX/NN ${label}`);
          }
        }
      }),
      { numRuns: 100 },
    );
    await xxRest.finish();
    await honestIk(await makeClient(), server, "after random input");
  });

  test("random bytes to NoiseLink.decrypt give Snow (3000) and leave the nonces alone", async () => {
    const { clientLink, serverLink } = await linkedPair();
    await fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200, size: "max" }), (bytes) => {
        const before = serverLink.transport.receiveNonce;
        assert.throws(() => serverLink.decrypt(bytes), (e: unknown) => {
          assert.ok(e instanceof NoiseError, String(e));
          assert.equal(e.code, 3000);
          assert.equal(e.message, DECRYPT_ERROR);
          return true;
        });
        assert.equal(serverLink.transport.receiveNonce, before);
      }),
      { numRuns: 200 },
    );
    assert.deepEqual(
      serverLink.decrypt(clientLink.encrypt(utf8("still here"))),
      utf8("still here"),
    );
    assert.equal(serverLink.transport.receiveNonce, 1n);
  });
});
