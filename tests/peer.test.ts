/**
 * The interop peer (`noisecat peer`, cli/peer.ts): two peer processes, started with the
 * runtime running this file, talk to each other through pipes relayed by this process (which
 * can flip a bit in a chosen frame on the way).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import process from "node:process";
import type { Readable, Writable } from "node:stream";
import { x25519 } from "@noble/curves/ed25519.js";
import { concat, fromHex, toHex } from "../lib/bytes.ts";
import cacophony from "./vectors/cacophony-subset.json" with { type: "json" };
import kat from "./vectors/pubky-kat.json" with { type: "json" };

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TIMEOUT_MS = 10_000;

/** The same runtime as this test: Deno, Bun, or Node with tsx. */
function peerCommand(): [string, string[]] {
  const g = globalThis as { Deno?: { execPath(): string } };
  if ("Deno" in globalThis && g.Deno) {
    return [g.Deno.execPath(), ["run", "-A", "main.ts", "peer"]];
  }
  if ("Bun" in globalThis) return [process.execPath, ["main.ts", "peer"]];
  return [process.execPath, ["--import", "tsx", "main.ts", "peer"]];
}

interface Outcome {
  code: number | null;
  /** stderr, line by line. */
  lines: string[];
  /** stdout bytes, when not relayed to the other peer. */
  stdout: Uint8Array;
}

interface Running {
  child: ChildProcess;
  stdin: Writable;
  stdout: Readable;
  done: Promise<Outcome>;
}

function start(args: string[], collectStdout: boolean): Running {
  const [cmd, pre] = peerCommand();
  const child = spawn(cmd, [...pre, ...args], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
  const stdin = child.stdin!, stdout = child.stdout!;
  stdin.on("error", () => {}); // EPIPE once the peer has exited: expected in failure cases
  let err = "";
  const out: Uint8Array[] = [];
  child.stderr!.on("data", (d: Uint8Array) => err += new TextDecoder().decode(d));
  if (collectStdout) stdout.on("data", (d: Uint8Array) => out.push(new Uint8Array(d)));
  const done = new Promise<Outcome>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code: number | null) => {
      const lines = err.split("\n").filter((l) => l !== "");
      resolve({ code, lines, stdout: concat(...out) });
    });
  });
  return { child, stdin, stdout, done };
}

/** Awaits `done`, killing `children` (and failing) if they run longer than the timeout. */
async function within<T>(children: ChildProcess[], done: Promise<T>, what: string): Promise<T> {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    for (const c of children) c.kill("SIGKILL");
  }, TIMEOUT_MS);
  try {
    const result = await done;
    if (timedOut) assert.fail(`${what}: still running after ${TIMEOUT_MS} ms (hang)`);
    return result;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Forwards frames from `from` to `to`, letting `edit` change frame `index`; records the lengths.
 * The framing (2-byte big-endian length) is parsed here independently of cli/frames.ts.
 */
function relay(
  from: Readable,
  to: Writable,
  edit: (index: number, body: Uint8Array) => Uint8Array,
): number[] {
  let buf = new Uint8Array(0);
  const lengths: number[] = [];
  from.on("data", (chunk: Uint8Array) => {
    const next = new Uint8Array(buf.length + chunk.length);
    next.set(buf);
    next.set(chunk, buf.length);
    buf = next;
    while (buf.length >= 2 && buf.length >= 2 + buf[0] * 256 + buf[1]) {
      const len = buf[0] * 256 + buf[1];
      const body = edit(lengths.length, buf.slice(2, 2 + len));
      to.write(new Uint8Array([len >> 8, len & 0xff, ...body]));
      lengths.push(len);
      buf = buf.slice(2 + len);
    }
  });
  from.on("end", () => {
    if (buf.length > 0) to.write(buf);
    to.end();
  });
  return lengths;
}

/** A copy of `body` with the lowest bit of its last byte flipped (inside the AEAD tag). */
function flipLastBit(body: Uint8Array): Uint8Array {
  const out = body.slice();
  out[out.length - 1] ^= 0x01;
  return out;
}

interface PairRun {
  a: Outcome;
  b: Outcome;
  /** Frame lengths A → B and B → A, as relayed. */
  aToB: number[];
  bToA: number[];
}

/** Runs peer A (initiator/client) against peer B; `tamper` flips a bit of one frame. */
async function runPair(
  argsA: string[],
  argsB: string[],
  tamper?: { direction: "aToB" | "bToA"; index: number },
): Promise<PairRun> {
  const a = start(argsA, false), b = start(argsB, false);
  const edit = (direction: "aToB" | "bToA") => (index: number, body: Uint8Array) =>
    tamper?.direction === direction && tamper.index === index ? flipLastBit(body) : body;
  const aToB = relay(a.stdout, b.stdin, edit("aToB"));
  const bToA = relay(b.stdout, a.stdin, edit("bToA"));
  const [ra, rb] = await within(
    [a.child, b.child],
    Promise.all([a.done, b.done]),
    `peers ${argsA.join(" ").slice(0, 80)}`,
  );
  return { a: ra, b: rb, aToB, bToA };
}

/** Runs one peer with `input` on stdin (then end of stream). */
async function runOne(args: string[], input: Uint8Array = new Uint8Array(0)): Promise<Outcome> {
  const p = start(args, true);
  p.stdin.end(input);
  return await within([p.child], p.done, `peer ${args.join(" ")}`);
}

/** The value of the one stderr line `key=value`. */
function value(o: Outcome, key: string): string {
  const found = o.lines.filter((l) => l.startsWith(key + "="));
  assert.equal(found.length, 1, `expected one ${key}= line in:\n${o.lines.join("\n")}`);
  return found[0].slice(key.length + 1);
}

function assertSuccess(o: Outcome, last: string): void {
  assert.equal(o.code, 0, `exit ${o.code}, stderr:\n${o.lines.join("\n")}`);
  assert.ok(!o.lines.some((l) => l.startsWith("error=")), o.lines.join("\n"));
  assert.equal(o.lines.at(-1), last);
}

const pub = (secretHex: string) => toHex(x25519.getPublicKey(fromHex(secretHex)));
const STATIC_I = "11".repeat(32);
const STATIC_R = "22".repeat(32);
/** The largest plaintext of one transport message: its frame is exactly 65535 bytes. */
const MAX_PLAINTEXT_HEX = "a5".repeat(65519);

describe("peer: raw Noise between two processes", () => {
  test("XX: both sides learn each other's statics, read the handshake payloads and agree on hh; messages echo, the largest in a 65535-byte frame", async () => {
    const r = await runPair(
      [
        ...["--pattern", "XX", "--role", "initiator", "--static", STATIC_I, "--payload", "_,abcd"],
        ...["--send", `00ff,_,${MAX_PLAINTEXT_HEX}`],
      ],
      ["--pattern", "XX", "--role", "responder", "--static", STATIC_R, "--payload", "1234"],
    );
    assertSuccess(r.a, "echo=ok count=3");
    assertSuccess(r.b, "echoed=3");
    assert.equal(value(r.a, "static_pub"), pub(STATIC_I));
    assert.equal(value(r.b, "static_pub"), pub(STATIC_R));
    assert.equal(value(r.a, "remote_static"), pub(STATIC_R));
    assert.equal(value(r.b, "remote_static"), pub(STATIC_I));
    assert.equal(value(r.a, "payload_1"), "1234");
    assert.equal(value(r.b, "payload_0"), "");
    assert.equal(value(r.b, "payload_2"), "abcd");
    assert.match(value(r.a, "hh"), /^[0-9a-f]{64}$/);
    assert.equal(value(r.a, "hh"), value(r.b, "hh"));
    // -> e (32) | <- e, ee, s, es + "1234" (32+48+2+16) | -> s, se + "abcd" (48+2+16);
    // then 2, 0 and 65519 bytes + 16 each way.
    assert.deepEqual(r.aToB, [32, 66, 18, 16, 65535]);
    assert.deepEqual(r.bToA, [98, 18, 16, 65535]);
  });

  test("IK: the initiator reaches the responder's static given by --remote; same hh, echo works", async () => {
    const r = await runPair(
      [
        ...["--pattern", "IK", "--role", "initiator", "--static", STATIC_I],
        ...["--remote", pub(STATIC_R), "--send", "01,0203"],
      ],
      ["--pattern", "IK", "--role", "responder", "--static", STATIC_R],
    );
    assertSuccess(r.a, "echo=ok count=2");
    assertSuccess(r.b, "echoed=2");
    assert.equal(value(r.a, "static_pub"), pub(STATIC_I));
    assert.equal(value(r.b, "static_pub"), pub(STATIC_R));
    assert.equal(value(r.a, "remote_static"), pub(STATIC_R));
    assert.equal(value(r.b, "remote_static"), pub(STATIC_I));
    assert.equal(value(r.b, "payload_0"), "");
    assert.equal(value(r.a, "payload_1"), "");
    assert.equal(value(r.a, "hh"), value(r.b, "hh"));
    // -> e, es, s, ss (32+48+16) | <- e, ee, se (32+16); then 1+16, 2+16 each way
    assert.deepEqual(r.aToB, [96, 17, 18]);
    assert.deepEqual(r.bToA, [48, 17, 18]);
  });

  test("NN: no static keys (empty static_pub, no remote_static); same hh, an empty message echoes", async () => {
    const r = await runPair(
      ["--pattern", "NN", "--role", "initiator", "--send", "_", "--prologue", "0102"],
      ["--pattern", "NN", "--role", "responder", "--prologue", "0102"],
    );
    assertSuccess(r.a, "echo=ok count=1");
    assertSuccess(r.b, "echoed=1");
    assert.equal(value(r.a, "static_pub"), "");
    assert.equal(value(r.b, "static_pub"), "");
    assert.ok(!r.a.lines.some((l) => l.startsWith("remote_static=")));
    assert.equal(value(r.a, "hh"), value(r.b, "hh"));
    assert.deepEqual(r.aToB, [32, 16]);
    assert.deepEqual(r.bToA, [48, 16]);
  });

  test("IK with the keys, prologue and payloads of cacophony vector 0: each side reads the vector's payloads", async () => {
    const v = cacophony[0] as {
      protocol_name: string;
      init_prologue: string;
      init_static: string;
      init_remote_static: string;
      resp_prologue: string;
      resp_static: string;
      messages: { payload: string; ciphertext: string }[];
    };
    assert.equal(v.protocol_name, "Noise_IK_25519_ChaChaPoly_BLAKE2s");
    const transport = v.messages.slice(2).map((m) => m.payload);
    const r = await runPair(
      [
        ...["--pattern", "IK", "--role", "initiator", "--static", v.init_static],
        ...["--remote", v.init_remote_static, "--prologue", v.init_prologue],
        ...["--payload", v.messages[0].payload, "--send", transport.join(",")],
      ],
      [
        ...["--pattern", "IK", "--role", "responder", "--static", v.resp_static],
        ...["--prologue", v.resp_prologue, "--payload", v.messages[1].payload],
      ],
    );
    assertSuccess(r.a, `echo=ok count=${transport.length}`);
    assertSuccess(r.b, `echoed=${transport.length}`);
    assert.equal(value(r.b, "payload_0"), v.messages[0].payload);
    assert.equal(value(r.a, "payload_1"), v.messages[1].payload);
    assert.equal(value(r.b, "static_pub"), v.init_remote_static);
    assert.equal(value(r.a, "remote_static"), v.init_remote_static);
    assert.equal(value(r.a, "hh"), value(r.b, "hh"));
    // Same sizes as the vector's handshake ciphertexts (the ephemerals differ, not the lengths).
    assert.deepEqual(
      [r.aToB[0], r.bToA[0]],
      [0, 1].map((i) => v.messages[i].ciphertext.length / 2),
    );
  });
});

describe("peer: Pubky mode between two processes", () => {
  const [clientKey, serverKey] = [kat.x25519_kdf[1], kat.x25519_kdf[2]];
  const [clientEd, serverEd] = [kat.ed25519_from_seed[0], kat.ed25519_from_seed[1]];
  const client = [
    "--pubky",
    "--role",
    "client",
    "--seed",
    clientKey.seed,
    "--device",
    clientKey.device_id,
  ];
  const server = [
    "--pubky",
    "--role",
    "server",
    "--seed",
    serverKey.seed,
    "--device",
    serverKey.device_id,
  ];

  test("XX first contact, then IK to the learnt server static: each run agrees on hh, and the identities are the KAT's", async () => {
    assert.equal(clientEd.seed, clientKey.seed);
    assert.equal(serverEd.seed, serverKey.seed);
    const xx = await runPair(
      [...client, "--pattern", "XX", "--send", "68656c6c6f,_"],
      [...server, "--pattern", "XX"],
    );
    assertSuccess(xx.a, "echo=ok count=2");
    assertSuccess(xx.b, "echoed=2");
    assert.equal(value(xx.a, "hh"), value(xx.b, "hh"));
    assert.equal(value(xx.a, "static_pub"), clientKey.x25519_pk);
    assert.equal(value(xx.b, "static_pub"), serverKey.x25519_pk);
    assert.equal(value(xx.a, "server_static"), serverKey.x25519_pk);
    assert.equal(value(xx.a, "server_ed25519"), serverEd.ed25519_pub);
    assert.equal(value(xx.b, "client_static"), clientKey.x25519_pk);
    assert.equal(value(xx.b, "client_ed25519"), clientEd.ed25519_pub);

    const pinned = value(xx.a, "server_static");
    const ik = await runPair(
      [...client, "--pattern", "IK", "--remote", pinned, "--hint", "peer-test", "--send", "00"],
      [...server, "--pattern", "IK"],
    );
    assertSuccess(ik.a, "echo=ok count=1");
    assertSuccess(ik.b, "echoed=1");
    assert.equal(value(ik.a, "hh"), value(ik.b, "hh"));
    assert.notEqual(value(ik.a, "hh"), value(xx.a, "hh"));
    assert.equal(value(ik.b, "client_ed25519"), clientEd.ed25519_pub);
    assert.equal(value(ik.b, "client_static"), clientKey.x25519_pk);
    assert.equal(ik.bToA[0], 48, "IK message 2 of a Pubky server has an empty payload");
  });

  test("a client bit-flipped in IK message 1 is refused by the server with 3000, and the client ends with an error", async () => {
    const r = await runPair(
      [...client, "--pattern", "IK", "--remote", serverKey.x25519_pk, "--send", "00"],
      [...server, "--pattern", "IK"],
      { direction: "aToB", index: 0 },
    );
    assert.equal(r.b.code, 1);
    assert.equal(r.b.lines.at(-1), "error=3000 snow error: decrypt error");
    assert.ok(!r.b.lines.some((l) => l.startsWith("client_ed25519=")));
    assert.equal(r.a.code, 1);
    assert.equal(
      r.a.lines.at(-1),
      "error=8002 connection reset: connection closed before handshake message 1",
    );
  });
});

describe("peer: failures end both processes", () => {
  test("a transport frame bit-flipped on the way is refused by the responder with 3000; the initiator, waiting for its echo, fails too", async () => {
    const r = await runPair(
      [
        ...["--pattern", "XX", "--role", "initiator", "--static", STATIC_I],
        ...["--send", "01,02,03"],
      ],
      ["--pattern", "XX", "--role", "responder", "--static", STATIC_R],
      { direction: "aToB", index: 3 }, // msg 0, msg 2, transport 0, transport 1
    );
    assert.equal(r.b.code, 1);
    assert.equal(r.b.lines.at(-1), "error=3000 snow error: decrypt error");
    assert.ok(!r.b.lines.some((l) => l.startsWith("echoed=")));
    assert.equal(r.a.code, 1);
    assert.equal(
      r.a.lines.at(-1),
      "error=8002 connection reset: connection closed before the echo of message 1",
    );
    assert.deepEqual(r.bToA, [96, 17], "only the first message was echoed");
  });

  test("input that ends inside a frame is an error (exit 1), not a hang", async () => {
    const o = await runOne(
      ["--pattern", "XX", "--role", "responder", "--static", STATIC_R],
      new Uint8Array([0x00, 0x20, 1, 2, 3]),
    );
    assert.equal(o.code, 1);
    assert.equal(
      o.lines.at(-1),
      "error=8002 connection reset: connection closed mid-frame (3 of 32 bytes)",
    );
    assert.equal(o.stdout.length, 0);
  });

  test("an empty frame reaches the state machine, which refuses it (3000 input error)", async () => {
    const o = await runOne(["--pattern", "NN", "--role", "responder"], new Uint8Array([0, 0]));
    assert.equal(o.code, 1);
    assert.equal(o.lines.at(-1), "error=3000 snow error: input error");
  });

  test("bad usage exits 2 with a usage message on stderr and nothing on stdout", async () => {
    const cases: [string[], string][] = [
      [["--pattern", "XX", "--role", "initiator", "--bogus"], "unknown option --bogus"],
      [
        ["--pattern", "IK", "--role", "initiator", "--static", STATIC_I],
        "--remote (the responder's static public key) is required for an IK initiator",
      ],
      [
        ["--pattern", "NN", "--role", "initiator", "--static", STATIC_I],
        "--static is not used by NN (it has no static keys)",
      ],
      [
        ["--pattern", "IK", "--role", "responder", "--static", STATIC_R, "--payload", "00,01"],
        "--payload has 2 items, but the IK responder writes 1 handshake message(s)",
      ],
    ];
    const outcomes = await Promise.all(cases.map(([args]) => runOne(args)));
    outcomes.forEach((o, i) => {
      assert.equal(o.code, 2, `${cases[i][0].join(" ")}: exit ${o.code}`);
      assert.equal(o.lines[0], `error=usage: ${cases[i][1]}`);
      assert.ok(o.lines.some((l) => l.startsWith("Usage: noisecat peer")));
      assert.equal(o.stdout.length, 0);
    });
  });

  test("--help prints the usage on stdout and exits 0", async () => {
    const o = await runOne(["--help"]);
    assert.equal(o.code, 0);
    const text = new TextDecoder().decode(o.stdout);
    assert.match(text, /^Usage: noisecat peer/);
    for (const option of ["--pubky", "--static", "--remote", "--payload", "--send", "--seed"]) {
      assert.ok(text.includes(option), option);
    }
  });
});
