/**
 * A conformance suite that runs inside workerd (Cloudflare Workers): bundled by
 * esbuild and started through miniflare by `workerd.test.ts`. `node:test` does not
 * exist in workerd, so the suite carries its own tiny harness and answers a fetch
 * with JSON: `{ runtime, backends, ed25519, nodeCrypto, timings, results }`, where
 * every result is `{ name, ok, error? }`.
 *
 * What it covers, on the backends workerd really gives (WebCrypto X25519, noble
 * BLAKE2s because wasm cannot be compiled at run time, noble or node:crypto
 * ChaCha20-Poly1305 depending on `nodejs_compat`):
 * the published Noise vectors with the detected and the all-noble suite, the Pubky
 * known answers (key derivation, Ed25519, bindings, identity payload bytes, wire
 * sizes), XX/IK/NN through the data-link adapter, NoiseLink tamper rejection, a
 * low-order peer key, the WireGuard HKDF vectors, the streams layer, and (when the
 * worker is given hash-wasm's BLAKE2s as a CompiledWasm module, `env.BLAKE2S_WASM`)
 * BLAKE2s from that precompiled module.
 *
 * A check also fails if a promise rejection goes unhandled while it runs.
 */
import {
  clientCompleteIk,
  clientCompleteNn,
  clientCompleteXx,
  clientStartIkDirect,
  clientStartNn,
  clientStartXxTofu,
  type CryptoSuite,
  DummyRing,
  ed25519BackendName,
  encodeIdentityPayload,
  fromHex,
  HandshakeState,
  type IdentityPayload,
  IK,
  loadCryptoSuite,
  makeBindingMessage,
  nobleCryptoSuite,
  NoiseClient,
  NoiseError,
  NoiseErrorCode,
  type NoiseLink,
  NoiseServer,
  PROLOGUE,
  type Role,
  serverAcceptIk,
  serverAcceptNn,
  serverAcceptXx,
  serverCompleteIk,
  serverCompleteNn,
  serverCompleteXx,
  suiteBackends,
  toHex,
  verifyEd25519,
  verifyIdentityBinding,
} from "../../mod.ts";
import { concat } from "../../lib/bytes.ts";
import { bindingInput } from "../../lib/binding.ts";
import { accept, connect, decryptStream, encryptStream, memoryCarrierPair } from "../../streams.ts";
import { replayVector, vectorsOf } from "../../tools/vector_replay.ts";
import { hashWasmBlake2s, type NoiseHash } from "../../lib/crypto/blake2s.ts";
import { blake2sFromWasmModule } from "../../lib/crypto/blake2s_precompiled.ts";
import cacophony from "../vectors/cacophony-subset.json" with { type: "json" };
import snow from "../vectors/snow-subset.json" with { type: "json" };
import noiseC from "../vectors/noise-c-subset.json" with { type: "json" };
import kat from "../vectors/pubky-kat.json" with { type: "json" };
import { SPECCHECK } from "../_speccheck.ts";
import wireguard from "../vectors/wireguard-hkdf-blake2s.json" with { type: "json" };

/** The bindings miniflare gives the worker. */
export interface Env {
  /** hash-wasm's BLAKE2s module, compiled by workerd at startup (a CompiledWasm module). */
  BLAKE2S_WASM?: WebAssembly.Module;
}

/** One check of the suite. */
export interface CheckResult {
  name: string;
  ok: boolean;
  error?: string;
}

/** The JSON the worker answers with. */
export interface ConformanceReport {
  runtime: string;
  backends: { dh: string; cipher: string; hash: string };
  ed25519: { sign: string; verify: string };
  /** `"available"`, or why `import("node:crypto")` failed. */
  nodeCrypto: string;
  /** Milliseconds, as workerd's local clock sees them (coarse in production). */
  timings: Record<string, number>;
  results: CheckResult[];
}

// ---------------------------------------------------------------------------
// The harness: checks never throw; each one records ok or the error's text.

class AssertionFailed extends Error {}

function fail(message: string): never {
  throw new AssertionFailed(message);
}

function equal<T>(actual: T, expected: T, what: string): void {
  if (actual !== expected) {
    fail(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

function truthy(value: unknown, what: string): void {
  if (!value) fail(`${what}: expected true, got ${String(value)}`);
}

function equalBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  equal(toHex(actual), toHex(expected), what);
}

/** `action` must fail with a `NoiseError` of `code`; returns the error. */
async function rejectsWith(
  action: () => unknown,
  code: number,
  what: string,
): Promise<NoiseError> {
  try {
    await action();
  } catch (e) {
    if (!(e instanceof NoiseError)) fail(`${what}: expected NoiseError ${code}, got ${e}`);
    equal(e.code, code, `${what}: NoiseError code (${e.message})`);
    return e;
  }
  return fail(`${what}: expected NoiseError ${code}, but it succeeded`);
}

function describeError(e: unknown): string {
  if (e instanceof AssertionFailed) return e.message;
  if (e instanceof Error) return `${e.name}: ${e.message}${e.stack ? `\n${e.stack}` : ""}`;
  return String(e);
}

// ---------------------------------------------------------------------------
// An unhandled rejection (backend detection included) fails the check that was running; the
// last check catches any that surface outside a check.

const unhandled: string[] = [];
globalThis.addEventListener?.("unhandledrejection", (event: Event) => {
  unhandled.push(describeError((event as PromiseRejectionEvent).reason));
});

class Checks {
  readonly results: CheckResult[] = [];
  /** Unhandled rejections already reported by a check. */
  attributed = 0;

  /** Runs `fn`; it fails if it throws, or if a promise rejection goes unhandled meanwhile. */
  async run(name: string, fn: () => unknown): Promise<void> {
    const before = unhandled.length;
    let error: string | undefined;
    try {
      await fn();
    } catch (e) {
      error = describeError(e);
    }
    await new Promise((r) => setTimeout(r, 0)); // let unhandledrejection events fire
    if (unhandled.length > before) {
      this.attributed += unhandled.length - before;
      const reasons = unhandled.slice(before).join("\n---\n");
      error = `${error ? `${error}\n` : ""}unhandled promise rejection(s):\n${reasons}`;
    }
    this.results.push(error === undefined ? { name, ok: true } : { name, ok: false, error });
  }
}

// ---------------------------------------------------------------------------
// Fixtures: the KAT keys of pubky-kat.json.

interface KatPayload {
  description: string;
  ed25519_pub: string;
  role: Role;
  server_hint: string | null;
  hint_expires_at: number | null;
  sig: string;
  json_hex: string;
  json_len: number;
  noise_message_len: number;
}

const KAT_PAYLOADS = (kat as unknown as { identity_payloads: KatPayload[] }).identity_payloads;
const [KAT_IK, , KAT_XX_SERVER] = KAT_PAYLOADS;
const KAT_CLIENT = kat.x25519_kdf[1];
const KAT_SERVER = kat.x25519_kdf[2];
const KAT_NOW = 1700000000;
const KID = "kid";
const utf8 = (s: string) => new TextEncoder().encode(s);
const ZERO_KEY = new Uint8Array(32);
const ORDER8_POINT = fromHex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800");

function ring(byte: number): Promise<DummyRing> {
  return DummyRing.create(new Uint8Array(32).fill(byte), KID);
}

async function makeClient(suite?: CryptoSuite): Promise<NoiseClient> {
  return new NoiseClient(KID, KAT_CLIENT.device_id, await ring(1), suite ? { suite } : {});
}

async function makeServer(suite?: CryptoSuite, clock?: () => number): Promise<NoiseServer> {
  return new NoiseServer(KID, KAT_SERVER.device_id, await ring(2), {
    ...(suite ? { suite } : {}),
    ...(clock ? { clock } : {}),
  });
}

/** Two links are one session: equal ids, and messages pass both ways in order. */
function assertLinked(a: NoiseLink, b: NoiseLink, label: string): void {
  truthy(a.sessionId.equals(b.sessionId), `${label}: session ids equal`);
  equal(a.sessionId.toString(), b.sessionId.toString(), `${label}: session id text`);
  truthy(/^[0-9a-f]{64}$/.test(a.sessionId.toString()), `${label}: session id is 64 hex`);
  for (let i = 0; i < 3; i++) {
    const there = utf8(`${label} a→b #${i}`);
    equalBytes(b.decrypt(a.encrypt(there)), there, `${label}: a→b #${i}`);
    const back = utf8(`${label} b→a #${i}`);
    equalBytes(a.decrypt(b.encrypt(back)), back, `${label}: b→a #${i}`);
  }
  equal(a.transport.sendNonce, 3n, `${label}: send nonce`);
  equal(b.transport.receiveNonce, 3n, `${label}: receive nonce`);
}

async function xx(client: NoiseClient, server: NoiseServer) {
  const c1 = await clientStartXxTofu(client);
  const s1 = await serverAcceptXx(server, c1.firstMsg);
  const c2 = await clientCompleteXx(client, c1.hs, s1.response);
  const s2 = await serverCompleteXx(server, s1.hs, c2.finalMsg, s1.serverStaticPk);
  return { c1, s1, c2, s2 };
}

async function ik(client: NoiseClient, server: NoiseServer, pinned: Uint8Array) {
  const c1 = await clientStartIkDirect(client, pinned);
  const s1 = await serverAcceptIk(server, c1.firstMsg);
  const clientLink = await clientCompleteIk(c1.hs, s1.response);
  const serverLink = serverCompleteIk(s1.hs);
  return { c1, s1, clientLink, serverLink };
}

async function nn(client: NoiseClient, server: NoiseServer) {
  const c1 = await clientStartNn(client);
  const s1 = await serverAcceptNn(server, c1.firstMsg);
  const clientLink = await clientCompleteNn(client, c1.hs, s1.response);
  const serverLink = serverCompleteNn(s1.hs);
  return { c1, s1, clientLink, serverLink };
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return chunks;
    chunks.push(value);
  }
}

// ---------------------------------------------------------------------------
// The suite.

async function environmentChecks(checks: Checks): Promise<string> {
  let nodeCrypto = "available";
  try {
    const nc = await import("node:crypto");
    truthy(typeof nc.createCipheriv === "function", "node:crypto has createCipheriv");
  } catch (e) {
    nodeCrypto = e instanceof Error ? e.message : String(e);
  }

  await checks.run(
    "environment: hash-wasm cannot compile its wasm here (rejects, no hang)",
    async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<string>((r) => {
        timer = setTimeout(() => r("pending after 2 s"), 2000);
      });
      const settled = await Promise.race([
        hashWasmBlake2s().then(() => "resolved", (e) => `rejected: ${e}`),
        timeout,
      ]);
      clearTimeout(timer);
      truthy(/^rejected: .*disallowed/i.test(settled), `hashWasmBlake2s() ${settled}`);
    },
  );

  await checks.run("environment: detected backends are consistent with the runtime", async () => {
    const b = suiteBackends(await loadCryptoSuite());
    equal(b.dh, "webcrypto", "X25519 backend");
    equal(b.hash, "noble", "BLAKE2s backend (wasm compilation is disallowed)");
    equal(
      b.cipher,
      nodeCrypto === "available" ? "node+noble" : "noble",
      "ChaCha20-Poly1305 backend",
    );
  });
  return nodeCrypto;
}

async function vectorChecks(checks: Checks, suites: [string, CryptoSuite][]): Promise<void> {
  const files = { cacophony, snow, "noise-c": noiseC };
  for (const [suiteName, suite] of suites) {
    for (const [file, json] of Object.entries(files)) {
      const vectors = vectorsOf(json);
      for (let i = 0; i < vectors.length; i++) {
        const v = vectors[i];
        const protocol = v.protocol_name ?? v.name ?? "(unnamed)";
        await checks.run(`vectors [${suiteName}] ${file} #${i} ${protocol}`, async () => {
          const r = await replayVector(v, suite);
          if (r.status === "skipped") {
            // Only noise-c's XXfallback entry may be skipped (not a basic pattern).
            truthy(/fallback/.test(r.reason), `skipped only for fallback, got "${r.reason}"`);
            return;
          }
          equal(JSON.stringify(r), JSON.stringify({ status: "passed", protocol }), "replay");
        });
      }
    }
    await checks.run(`vectors [${suiteName}] a flipped ciphertext bit is caught`, async () => {
      const v = structuredClone(vectorsOf(cacophony)[0]);
      const last = v.messages[v.messages.length - 1];
      last.ciphertext = (parseInt(last.ciphertext[0], 16) ^ 1).toString(16) +
        last.ciphertext.slice(1);
      equal((await replayVector(v, suite)).status, "failed", "replay of a corrupted vector");
    });
  }
}

async function katChecks(checks: Checks, suite: CryptoSuite): Promise<void> {
  await checks.run(
    "KAT x25519_kdf: DummyRing.withDeviceX25519 gives every secret and public key",
    async () => {
      for (const v of kat.x25519_kdf) {
        const r = await DummyRing.create(fromHex(v.seed), KID);
        const [sk, pk] = await r.withDeviceX25519(
          KID,
          fromHex(v.device_id_hex),
          v.epoch,
          async (
            secret,
          ) => [toHex(secret), toHex((await suite.dh.importSecretKey(secret)).publicKey)],
        );
        equal(sk, v.x25519_sk, `${v.description}: secret`);
        equal(pk, v.x25519_pk, `${v.description}: public key`);
      }
    },
  );

  await checks.run("KAT static_static_dh: X25519 of the KAT keys", async () => {
    for (const v of kat.static_static_dh) {
      const me = await suite.dh.importSecretKey(fromHex(v.local_sk));
      equal(toHex(await suite.dh.dh(me, fromHex(v.remote_pk))), v.shared_secret, v.description);
    }
  });

  await checks.run(
    "Ed25519 speccheck vectors: verifyEd25519 accepts exactly #5 and #6",
    async () => {
      const accepted: number[] = [];
      for (const [i, [msg, pub, sig]] of SPECCHECK.entries()) {
        if (await verifyEd25519(fromHex(pub), fromHex(msg), fromHex(sig))) accepted.push(i);
      }
      equal(accepted.join(","), "5,6", "accepted speccheck vectors");
    },
  );

  await checks.run("KAT ed25519_from_seed: ring public keys", async () => {
    for (const v of kat.ed25519_from_seed) {
      const r = await DummyRing.create(fromHex(v.seed), KID);
      equal(toHex(await r.ed25519PublicKey(KID)), v.ed25519_pub, v.description);
    }
  });

  await checks.run("KAT bindings: input, BLAKE3 digest, signature, verification", async () => {
    for (const v of kat.bindings) {
      const params = {
        ed25519Pub: fromHex(v.ed25519_pub),
        localNoisePub: fromHex(v.local_noise_pub),
        role: v.role as Role,
        remoteNoisePub: v.remote_noise_pub === null ? null : fromHex(v.remote_noise_pub),
      };
      equal(toHex(bindingInput(params)), v.binding_input, `${v.description}: input`);
      const binding = makeBindingMessage(params);
      equal(toHex(binding), v.binding, `${v.description}: binding`);
      if ("signer_seed" in v && "sig" in v) {
        const { signer_seed, sig } = v as { signer_seed: string; sig: string };
        const signer = await DummyRing.create(fromHex(signer_seed), KID);
        equal(toHex(await signer.signEd25519(KID, binding)), sig, `${v.description}: sig`);
        const pub = await signer.ed25519PublicKey(KID);
        equal(await verifyIdentityBinding(pub, binding, fromHex(sig)), true, "verify");
        const bad = fromHex(sig);
        bad[5] ^= 1;
        equal(await verifyIdentityBinding(pub, binding, bad), false, "verify a flipped sig");
      }
    }
  });

  await checks.run("KAT identity payloads: exact JSON bytes", () => {
    for (const p of KAT_PAYLOADS) {
      const payload: IdentityPayload = {
        ed25519Pub: fromHex(p.ed25519_pub),
        role: p.role,
        serverHint: p.server_hint,
        hintExpiresAt: p.hint_expires_at,
        sig: fromHex(p.sig),
      };
      const bytes = encodeIdentityPayload(payload);
      equal(toHex(bytes), p.json_hex, p.description);
      equal(bytes.length, p.json_len, `${p.description}: length`);
    }
  });

  await checks.run(
    "KAT IK message 1 is 505 bytes and carries the exact KAT client payload",
    async () => {
      const c1 = await clientStartIkDirect(await makeClient(suite), fromHex(KAT_SERVER.x25519_pk));
      equal(c1.firstMsg.length, 505, "IK message 1 length");
      equal(c1.firstMsg.length, KAT_IK.noise_message_len, "KAT noise_message_len");
      const responder = new HandshakeState({
        suite,
        pattern: IK,
        initiator: false,
        prologue: PROLOGUE,
        s: await suite.dh.importSecretKey(fromHex(KAT_SERVER.x25519_sk)),
      });
      equal(toHex(await responder.readMessage(c1.firstMsg)), KAT_IK.json_hex, "payload");
      equal(toHex(responder.remoteStatic!), KAT_CLIENT.x25519_pk, "client static");
    },
  );

  await checks.run(
    "KAT XX message 2 from a server with clock 1700000000 is 535 bytes",
    async () => {
      const server = await makeServer(suite, () => KAT_NOW);
      const { s1, c2 } = await xx(await makeClient(suite), server);
      equal(s1.response.length, 535, "XX message 2 length");
      equal(s1.response.length, KAT_XX_SERVER.noise_message_len, "KAT noise_message_len");
      equal(c2.finalMsg.length, KAT_IK.json_len + 64, "XX message 3 length");
      equal(toHex(c2.serverIdentity.ed25519Pub), KAT_XX_SERVER.ed25519_pub, "server identity");
      equal(toHex(c2.serverIdentity.sig), KAT_XX_SERVER.sig, "server signature (KAT)");
    },
  );
}

async function handshakeChecks(
  checks: Checks,
  label: string,
  clientSuite: CryptoSuite,
  serverSuite: CryptoSuite,
): Promise<void> {
  await checks.run(
    `handshake [${label}] XX then IK to the pinned key: equal session ids`,
    async () => {
      const client = await makeClient(clientSuite);
      const server = await makeServer(serverSuite);
      const first = await xx(client, server);
      equal(toHex(first.c2.serverStaticPk), KAT_SERVER.x25519_pk, "pinned key");
      equal(toHex(first.s2.clientIdentity.ed25519Pub), kat.ed25519_from_seed[0].ed25519_pub, "id");
      assertLinked(first.c2.link, first.s2.link, "XX");
      const second = await ik(client, server, first.c2.serverStaticPk);
      equal(toHex(second.s1.clientIdentity.ed25519Pub), kat.ed25519_from_seed[0].ed25519_pub, "id");
      assertLinked(second.clientLink, second.serverLink, "IK");
      truthy(!first.c2.link.sessionId.equals(second.clientLink.sessionId), "sessions differ");
    },
  );

  await checks.run(`handshake [${label}] NN: equal session ids, messages both ways`, async () => {
    const { clientLink, serverLink, c1, s1 } = await nn(
      await makeClient(clientSuite),
      await makeServer(serverSuite),
    );
    equal(c1.firstMsg.length, 32, "NN message 1");
    equal(s1.response.length, 48, "NN message 2");
    assertLinked(clientLink, serverLink, "NN");
  });
}

async function linkChecks(checks: Checks, suite: CryptoSuite): Promise<void> {
  await checks.run(
    "NoiseLink: a tampered message is refused with 3000, nonce unchanged",
    async () => {
      const server = await makeServer(suite);
      const { clientLink, serverLink } = await ik(
        await makeClient(suite),
        server,
        await server.staticPublicKey(),
      );
      const sealed = clientLink.encrypt(utf8("hello workerd"));
      equal(sealed.length, 13 + 16, "ciphertext length");
      for (const index of [0, sealed.length - 1]) {
        const tampered = sealed.slice();
        tampered[index] ^= 0x01;
        const err = await rejectsWith(
          () => serverLink.decrypt(tampered),
          NoiseErrorCode.Snow,
          `byte ${index}`,
        );
        equal(err.message, "snow error: decrypt error", "message");
        equal(serverLink.transport.receiveNonce, 0n, "receive nonce after a refused message");
      }
      equalBytes(serverLink.decrypt(sealed), utf8("hello workerd"), "the genuine message");
      equal(serverLink.transport.receiveNonce, 1n, "receive nonce after it");
    },
  );

  await checks.run(
    "NoiseLink: the largest message (65519-byte plaintext) goes through",
    async () => {
      const { clientLink, serverLink } = await nn(await makeClient(suite), await makeServer(suite));
      const big = new Uint8Array(65519).map((_, i) => i * 31);
      const sealed = clientLink.encrypt(big);
      equal(sealed.length, 65535, "sealed length");
      equalBytes(serverLink.decrypt(sealed), big, "plaintext");
    },
  );

  await checks.run("low-order peer keys are refused with InvalidPeerKey (7000)", async () => {
    const client = await makeClient(suite);
    const server = await makeServer(suite);
    for (const key of [ZERO_KEY, ORDER8_POINT]) {
      const label = toHex(key).slice(0, 8);
      await rejectsWith(
        () => clientStartIkDirect(client, key),
        NoiseErrorCode.InvalidPeerKey,
        `pinned ${label}`,
      );
      await rejectsWith(
        () => serverAcceptXx(server, key),
        NoiseErrorCode.InvalidPeerKey,
        `XX ephemeral ${label}`,
      );
      await rejectsWith(
        () => serverAcceptNn(server, key),
        NoiseErrorCode.InvalidPeerKey,
        `NN ephemeral ${label}`,
      );
      const me = await suite.dh.generateKeyPair();
      await rejectsWith(
        () => suite.dh.dh(me, key),
        NoiseErrorCode.InvalidPeerKey,
        `raw DH ${label}`,
      );
    }
    // The client and server still work afterwards.
    const again = await nn(client, server);
    assertLinked(again.clientLink, again.serverLink, "NN afterwards");
  });
}

async function hkdfChecks(checks: Checks, label: string, hash: NoiseHash): Promise<void> {
  await checks.run(`HKDF [${label}] WireGuard KDF vectors (HMAC-BLAKE2s chain)`, () => {
    for (const [i, v] of wireguard.vectors.entries()) {
      const ck = fromHex(v.chaining_key);
      const ikm = fromHex(v.input_key_material);
      const three = hash.hkdf(ck, ikm, 3).map(toHex);
      equal(three.join(), [v.output1, v.output2, v.output3].join(), `vector ${i}, 3 outputs`);
      equal(hash.hkdf(ck, ikm, 2).map(toHex).join(), [v.output1, v.output2].join(), `${i}, 2`);
    }
  });
}

async function streamChecks(checks: Checks, suite: CryptoSuite): Promise<void> {
  await checks.run(
    "streams: encryptStream → decryptStream round trip, large chunks split",
    async () => {
      const { clientLink, serverLink } = await nn(await makeClient(suite), await makeServer(suite));
      const parts = [utf8("hello "), new Uint8Array(0), new Uint8Array(70000).fill(7), utf8("end")];
      const source = new ReadableStream<Uint8Array>({
        start(controller) {
          for (const p of parts) controller.enqueue(p);
          controller.close();
        },
      });
      const sealed = await readAll(source.pipeThrough(encryptStream(clientLink)));
      equal(sealed.length, 4, "Noise messages (the 70000-byte chunk is split in two)");
      truthy(sealed.every((m) => m.length <= 65535), "every message fits Noise's limit");
      const plain = await readAll(
        new ReadableStream<Uint8Array>({
          start(controller) {
            for (const m of sealed) controller.enqueue(m);
            controller.close();
          },
        }).pipeThrough(decryptStream(serverLink)),
      );
      equalBytes(concat(...plain), concat(...parts), "plaintext");
    },
  );

  await checks.run("streams: a tampered message errors decryptStream with 3000", async () => {
    const { clientLink, serverLink } = await nn(await makeClient(suite), await makeServer(suite));
    const bad = clientLink.encrypt(utf8("x"));
    bad[0] ^= 1;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bad);
        controller.close();
      },
    }).pipeThrough(decryptStream(serverLink));
    await rejectsWith(() => readAll(stream), NoiseErrorCode.Snow, "reading the decrypted stream");
  });

  for (const pattern of ["XX", "IK", "NN"] as const) {
    await checks.run(`streams: connect/accept ${pattern} over an in-memory carrier`, async () => {
      const client = await makeClient(suite);
      const server = await makeServer(suite);
      const [clientSide, serverSide] = memoryCarrierPair();
      const [c, s] = await Promise.all([
        connect(clientSide, client, {
          pattern,
          ...(pattern === "IK" ? { serverStaticPub: await server.staticPublicKey() } : {}),
          timeoutMs: 5000,
        }),
        accept(serverSide, server, { patterns: [pattern], timeoutMs: 5000 }),
      ]);
      equal(s.pattern, pattern, "pattern seen by the server");
      truthy(c.sessionId.equals(s.sessionId), "session ids equal");
      if (pattern !== "NN") {
        equal(toHex(s.remoteIdentity!.ed25519Pub), kat.ed25519_from_seed[0].ed25519_pub, "client");
      }
      const writer = c.writable.getWriter();
      const received = readAll(s.readable);
      await writer.write(utf8("over the carrier"));
      await writer.close();
      equalBytes(concat(...await received), utf8("over the carrier"), "plaintext");
    });
  }
}

/**
 * Milliseconds per 1000 Noise HKDFs (two outputs) over `hash`: the best of 3 rounds of 3000
 * (workerd's clock ticks in whole milliseconds).
 */
function timeHkdf(hash: NoiseHash): number {
  const ck = new Uint8Array(32).fill(1);
  const ikm = new Uint8Array(32).fill(2);
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const start = performance.now();
    for (let i = 0; i < 3000; i++) hash.hkdf(ck, ikm, 2);
    best = Math.min(best, performance.now() - start);
  }
  return best / 3;
}

async function precompiledChecks(
  checks: Checks,
  module: WebAssembly.Module,
  timings: Record<string, number>,
): Promise<void> {
  let fast: NoiseHash | undefined;
  await checks.run(
    "precompiled BLAKE2s: hash-wasm's module loads and agrees with noble",
    async () => {
      fast = await blake2sFromWasmModule(module);
      equal(fast.name, "hash-wasm-precompiled", "name");
      const noble = nobleCryptoSuite().hash;
      equal(toHex(fast.hash(utf8("abc"))), toHex(noble.hash(utf8("abc"))), "BLAKE2s(abc)");
      equal(
        toHex(fast.hash(utf8("abc"))),
        "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982",
        "BLAKE2s-256(abc) (RFC 7693)",
      );
      for (const len of [0, 1, 63, 64, 65, 1000, 16384, 16385, 70000]) {
        const data = new Uint8Array(len).map((_, i) => i * 13 + len);
        const key = new Uint8Array(len % 80).fill(len & 0xff);
        equal(toHex(fast.hash(data)), toHex(noble.hash(data)), `hash of ${len} bytes`);
        equal(toHex(fast.hmac(key, data)), toHex(noble.hmac(key, data)), `hmac of ${len} bytes`);
      }
    },
  );
  if (!fast) return;
  await hkdfChecks(checks, "hash-wasm-precompiled", fast);
  const suite: CryptoSuite = { ...await loadCryptoSuite(), hash: fast };
  await vectorChecks(checks, [["precompiled wasm", suite]]);
  await handshakeChecks(checks, "precompiled wasm client, noble server", suite, nobleCryptoSuite());
  timings.hkdf1000_noble_ms = timeHkdf(nobleCryptoSuite().hash);
  timings.hkdf1000_precompiled_wasm_ms = timeHkdf(fast);
  const xxTime = async (s: CryptoSuite) => {
    const client = await makeClient(s);
    const server = await makeServer(s);
    await xx(client, server);
    const start = performance.now();
    for (let i = 0; i < 20; i++) await xx(client, server);
    return (performance.now() - start) / 20;
  };
  timings.xx_handshake_detected_suite_ms = await xxTime(await loadCryptoSuite());
  timings.xx_handshake_precompiled_wasm_ms = await xxTime(suite);
}

/** Runs the whole suite. */
export async function runConformance(env: Env): Promise<ConformanceReport> {
  const started = performance.now();
  const checks = new Checks();
  const timings: Record<string, number> = {};

  const nodeCrypto = await environmentChecks(checks);
  const detected = await loadCryptoSuite();
  const noble = nobleCryptoSuite();
  timings.detection_ms = performance.now() - started;

  await vectorChecks(checks, [["detected", detected], ["noble", noble]]);
  await katChecks(checks, detected);
  await handshakeChecks(checks, "detected", detected, detected);
  await handshakeChecks(checks, "noble client, detected server", noble, detected);
  await linkChecks(checks, detected);
  await hkdfChecks(checks, `detected: ${detected.hash.name}`, detected.hash);
  await hkdfChecks(checks, "noble", noble.hash);
  await streamChecks(checks, detected);
  if (env.BLAKE2S_WASM) await precompiledChecks(checks, env.BLAKE2S_WASM, timings);

  // Let pending rejections surface before judging.
  await new Promise((r) => setTimeout(r, 0));
  await checks.run("no unhandled promise rejection outside the checks", () => {
    const stray = unhandled.slice(checks.attributed);
    equal(stray.length, 0, `unhandled rejections (${stray.join("; ")})`);
  });
  timings.total_ms = performance.now() - started;
  for (const key of Object.keys(timings)) timings[key] = Math.round(timings[key] * 100) / 100;

  return {
    runtime: navigator.userAgent,
    backends: suiteBackends(detected),
    ed25519: { sign: await ed25519BackendName("sign"), verify: await ed25519BackendName("verify") },
    nodeCrypto,
    timings,
    results: checks.results,
  };
}

export default {
  async fetch(_request: Request, env: Env): Promise<Response> {
    try {
      return Response.json(await runConformance(env));
    } catch (e) {
      return new Response(describeError(e), { status: 500 });
    }
  },
};
