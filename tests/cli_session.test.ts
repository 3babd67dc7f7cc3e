/**
 * `noisecat serve` and `noisecat connect` as processes (started with the runtime running this
 * file): data both ways over loopback TCP, first contact with XX and `--save-pin`, then IK from
 * the pin file after a server restart, a changed key and a wrong `--pin` refused while the
 * server keeps listening, a killed server, and WebSocket (Deno and Bun; Node gets a clear
 * refusal).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { assertBytes } from "./_assert_bytes.ts";
import { concat } from "../lib/bytes.ts";
import { Buffer } from "node:buffer";
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import kat from "./vectors/pubky-kat.json" with { type: "json" };

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TIMEOUT_MS = 15_000;
const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";

/** `noisecat` on the runtime running this file. */
function cliCommand(): [string, string[]] {
  const g = globalThis as { Deno?: { execPath(): string } };
  if (g.Deno) return [g.Deno.execPath(), ["run", "-A", "main.ts"]];
  if (runtime === "bun") return [process.execPath, ["main.ts"]];
  return [process.execPath, ["--import", "tsx", "main.ts"]];
}

interface Exit {
  code: number | null;
  stdout: Uint8Array;
  stderr: string;
}

/** A running `noisecat`: its stdin, and waits on its stderr and exit. */
class Cli {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  stderr = "";
  readonly #stdout: Uint8Array[] = [];
  readonly #waiters: (() => void)[] = [];
  readonly #timer: ReturnType<typeof setTimeout>;

  constructor(args: string[], env: Record<string, string> = {}) {
    const [cmd, pre] = cliCommand();
    const base = { ...process.env };
    delete base.NOISECAT_SEED;
    this.child = spawn(cmd, [...pre, ...args], {
      cwd: ROOT,
      env: { ...base, NO_COLOR: "1", ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.child.stdin!.on("error", () => {}); // EPIPE once the process has exited
    this.child.stdout!.on("data", (d: Uint8Array) => this.#stdout.push(new Uint8Array(d)));
    this.child.stderr!.on("data", (d: Uint8Array) => {
      this.stderr += new TextDecoder().decode(d);
      for (const w of this.#waiters.splice(0)) w();
    });
    this.#timer = setTimeout(() => this.child.kill("SIGKILL"), TIMEOUT_MS);
    this.exited = new Promise<Exit>((resolve, reject) => {
      this.child.on("error", reject);
      this.child.on("close", (code: number | null) => {
        clearTimeout(this.#timer);
        for (const w of this.#waiters.splice(0)) w();
        resolve({ code, stdout: concat(...this.#stdout), stderr: this.stderr });
      });
    });
  }

  /** Writes `data` to stdin, then ends it unless `keepOpen`. */
  input(data: Uint8Array, keepOpen = false): this {
    if (keepOpen) this.child.stdin!.write(data);
    else this.child.stdin!.end(data);
    return this;
  }

  /** The first match of `pattern` in stderr, waiting for it (fails if the process exits first). */
  async waitFor(pattern: RegExp): Promise<RegExpMatchArray> {
    for (;;) {
      const m = pattern.exec(this.stderr);
      if (m) return m;
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        assert.fail(`exited before ${pattern} appeared; stderr:\n${this.stderr}`);
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Waits for the exit (killed after the timeout). */
  async exit(): Promise<Exit> {
    const e = await this.exited;
    assert.notEqual(e.code, null, `killed after ${TIMEOUT_MS} ms (hang); stderr:\n${e.stderr}`);
    return e;
  }
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) {
    crypto.getRandomValues(out.subarray(off, Math.min(n, off + 65536)));
  }
  return out;
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "noisecat-test-"));
}

/** A seed file of `byte`×32 (mode 0600) in `dir`. */
function seedFile(dir: string, byte: number): string {
  const file = path.join(dir, `seed-${byte}`);
  fs.writeFileSync(file, Buffer.alloc(32, byte).toString("hex") + "\n", { mode: 0o600 });
  return file;
}

const SERVER_KAT = kat.x25519_kdf[2]; // seed 02×32, dev-server-00000000 → 4a53098a…
const SERVER_ED25519 = kat.ed25519_from_seed[1].ed25519_pub;
const CLIENT_ED25519 = kat.ed25519_from_seed[0].ed25519_pub; // seed 01×32
const LISTENING = /listening on 127\.0\.0\.1:(\d+) \((tcp|WebSocket)\), static key ([0-9a-f]{64})/;
const SERVER_SESSION =
  /session with \S+ \((XX|IK)\), client ed25519 ([0-9a-f]{64}), session ([0-9a-f]{64})/;
const CLIENT_SESSION =
  /connected to \S+ \((XX|IK)[^)]*\), server static key ([0-9a-f]{64}).*session ([0-9a-f]{64})/;

/** `serve` on the KAT server key (or the seed file given), on `port` (0: any). */
function serve(dir: string, port: number | string, extra: string[] = [], seed?: string): Cli {
  const seedPath = seed ?? seedFile(dir, 2);
  return new Cli([
    "serve",
    ...["--seed-file", seedPath, "--device", SERVER_KAT.device_id],
    ...extra,
    String(port),
  ]);
}

describe("noisecat serve + connect over loopback TCP", () => {
  test(
    "first contact (XX, --save-pin), then IK from the pin file after a server restart: data both ways arrives intact",
    { timeout: 30_000 },
    async () => {
      const dir = tempDir();
      const knownHosts = path.join(dir, "known_hosts");
      const clientSeed = seedFile(dir, 1);
      const up = randomBytes(1 << 20);
      const down = randomBytes(300_000);

      // XX: the client has no pin, learns the server's key and saves it.
      const server1 = serve(dir, 0).input(down);
      const [, port, , key] = await server1.waitFor(LISTENING);
      assert.equal(key, SERVER_KAT.x25519_pk);
      const client1 = new Cli([
        "connect",
        ...["--seed-file", clientSeed, "--known-hosts", knownHosts, "--save-pin"],
        `127.0.0.1:${port}`,
      ]).input(up);
      const [c1, s1] = await Promise.all([client1.exit(), server1.exit()]);
      assert.equal(c1.code, 0, c1.stderr);
      assert.equal(s1.code, 0, s1.stderr);
      assertBytes(s1.stdout, up, "client → server (1 MiB)");
      assertBytes(c1.stdout, down, "server → client");
      const [, cPattern, learnt, cSession] = CLIENT_SESSION.exec(c1.stderr)!;
      const [, sPattern, clientEd, sSession] = SERVER_SESSION.exec(s1.stderr)!;
      assert.deepEqual([cPattern, sPattern], ["XX", "XX"]);
      assert.equal(learnt, SERVER_KAT.x25519_pk);
      assert.ok(c1.stderr.includes(`ed25519 ${SERVER_ED25519}`), c1.stderr);
      assert.equal(clientEd, CLIENT_ED25519);
      assert.equal(cSession, sSession);
      assert.equal(
        fs.readFileSync(knownHosts, "utf8"),
        `# noisecat pins: HOST:PORT STATIC_KEY_HEX\n127.0.0.1:${port} ${SERVER_KAT.x25519_pk}\n`,
      );
      assert.match(c1.stderr, new RegExp(`pinned 127\\.0\\.0\\.1:${port} in `));

      // The server comes back on the same port: the client finds the pin and uses IK.
      const server2 = serve(dir, port).input(down.subarray(0, 1000));
      await server2.waitFor(LISTENING);
      const client2 = new Cli([
        "connect",
        ...["--seed-file", clientSeed, "--known-hosts", knownHosts],
        `127.0.0.1:${port}`,
      ]).input(up.subarray(0, 5000));
      const [c2, s2] = await Promise.all([client2.exit(), server2.exit()]);
      assert.equal(c2.code, 0, c2.stderr);
      assert.equal(s2.code, 0, s2.stderr);
      assertBytes(s2.stdout, up.subarray(0, 5000), "client → server over IK");
      assertBytes(c2.stdout, down.subarray(0, 1000), "server → client over IK");
      const [, pattern2, , session2] = CLIENT_SESSION.exec(c2.stderr)!;
      assert.equal(pattern2, "IK");
      assert.match(c2.stderr, new RegExp(`IK to the key of pinned in .*known_hosts:2`));
      assert.equal(SERVER_SESSION.exec(s2.stderr)![3], session2);
      assert.notEqual(session2, cSession);
    },
  );

  test(
    "a changed server key and a wrong --pin are refused (exit 1, code 7000), a client --allow does not list is dropped, while the server keeps listening for a good client",
    { timeout: 30_000 },
    async () => {
      const dir = tempDir();
      const knownHosts = path.join(dir, "known_hosts");
      const newSeed = seedFile(dir, 0x2a);
      const server = serve(dir, 0, ["--allow", CLIENT_ED25519], newSeed)
        .input(new TextEncoder().encode("from the server"));
      const [, port, , actual] = await server.waitFor(LISTENING);
      // The pin file holds the KAT key for this address; the server now has another one.
      fs.writeFileSync(knownHosts, `127.0.0.1:${port} ${SERVER_KAT.x25519_pk}\n`);

      const changed = await new Cli(["connect", "--known-hosts", knownHosts, `127.0.0.1:${port}`])
        .input(new TextEncoder().encode("must not arrive"))
        .exit();
      assert.equal(changed.code, 1, changed.stderr);
      assert.equal(
        changed.stderr.trim().split("\n").at(-1),
        `noisecat: REMOTE STATIC KEY CHANGED for 127.0.0.1:${port}: ${knownHosts}:1 pins ` +
          `${SERVER_KAT.x25519_pk}, but the server now presents ${actual}. Someone may be ` +
          `intercepting the connection, or the server's key was replaced. Refusing to connect; if ` +
          `the change is expected, delete line 1 of ${knownHosts} (code 7000)`,
      );
      assert.equal(changed.stdout.length, 0);
      assert.equal(
        fs.readFileSync(knownHosts, "utf8"),
        `127.0.0.1:${port} ${SERVER_KAT.x25519_pk}\n`,
        "the pin is never replaced silently",
      );

      const wrong = "11".repeat(32);
      const wrongPin = await new Cli(["connect", "--pin", wrong, `127.0.0.1:${port}`])
        .input(new Uint8Array(0))
        .exit();
      assert.equal(wrongPin.code, 1, wrongPin.stderr);
      assert.equal(
        wrongPin.stderr.trim().split("\n").at(-1),
        `noisecat: wrong pin for 127.0.0.1:${port}: the server's static key is ${actual}, ` +
          `not ${wrong} (code 7000)`,
      );

      // Still listening: each refused client left failed handshakes, no session.
      assert.doesNotMatch(server.stderr, SERVER_SESSION);
      assert.match(
        server.stderr,
        /handshake with 127\.0\.0\.1:\d+ failed: snow error: decrypt error \(code 3000\)/,
      );
      // The right key, but an identity --allow does not list: the session is dropped at once.
      const stranger = await new Cli(["connect", "-q", "--pin", actual, `127.0.0.1:${port}`])
        .input(new TextEncoder().encode("must not arrive"))
        .exit();
      assert.equal(stranger.code, 1, stranger.stderr);
      assert.match(stranger.stderr, /^noisecat: the server closed the connection/);
      assert.match(
        server.stderr,
        /refused 127\.0\.0\.1:\d+: client ed25519 [0-9a-f]{64} is not allowed \(--allow\)/,
      );
      const good = await new Cli([
        "connect",
        ...["-q", "--seed-file", seedFile(dir, 1), "--pin", actual],
        `127.0.0.1:${port}`,
      ]).input(new TextEncoder().encode("from the client")).exit();
      const s = await server.exit();
      assert.equal(good.code, 0, good.stderr);
      assert.equal(good.stderr, "", "-q: no status lines");
      assert.equal(new TextDecoder().decode(good.stdout), "from the server");
      assert.equal(s.code, 0, s.stderr);
      assert.equal(new TextDecoder().decode(s.stdout), "from the client");
      assert.equal(SERVER_SESSION.exec(s.stderr)![1], "IK");
    },
  );

  test(
    "a server killed in the middle of the session: the client exits 1 with a clear connection-reset message",
    { timeout: 30_000 },
    async () => {
      const dir = tempDir();
      const server = serve(dir, 0).input(new TextEncoder().encode("partial "), true);
      const [, port] = await server.waitFor(LISTENING);
      const client = new Cli(["connect", "--pin", SERVER_KAT.x25519_pk, `127.0.0.1:${port}`])
        .input(new TextEncoder().encode("hello"), true);
      await server.waitFor(SERVER_SESSION);
      await client.waitFor(CLIENT_SESSION);
      // Let the first bytes reach the client, then kill the server.
      await new Promise((r) => setTimeout(r, 300));
      server.child.kill("SIGKILL");
      const c = await client.exit();
      assert.equal(c.code, 1);
      assert.equal(new TextDecoder().decode(c.stdout), "partial ");
      assert.equal(
        c.stderr.trim().split("\n").at(-1),
        "noisecat: the server closed the connection before the end of its stream " +
          "(connection reset: stream ended inside a message) (code 8002)",
      );
      await server.exited;
    },
  );

  test("connecting to a port nobody listens on fails with code 8000 and exit 1", {
    timeout: 30_000,
  }, async () => {
    const c = await new Cli(["connect", "-q", "127.0.0.1:9"]).input(new Uint8Array(0)).exit();
    assert.equal(c.code, 1);
    assert.equal(
      c.stderr.trim(),
      "noisecat: cannot connect to 127.0.0.1:9: connection refused (code 8000)",
    );
  });
});

describe("noisecat serve --ws + connect ws://", () => {
  test(
    "Node 20 says clearly that WebSocket serve needs Deno or Bun, and that dialing needs --experimental-websocket (exit 1)",
    { skip: runtime !== "node", timeout: 30_000 },
    async () => {
      const dir = tempDir();
      const [s, c] = await Promise.all([
        serve(dir, 0, ["--ws"]).input(new Uint8Array(0)).exit(),
        new Cli(["connect", "-q", "ws://127.0.0.1:9/"]).input(new Uint8Array(0)).exit(),
      ]);
      assert.equal(s.code, 1);
      assert.match(
        s.stderr,
        /^noisecat: WebSocket serve needs Deno or Bun \(this is Node [\d.]+\); serve TCP instead/m,
      );
      assert.equal(c.code, 1);
      assert.match(
        c.stderr,
        /^noisecat: connect --ws needs a global WebSocket: Node [\d.]+ has one only with --experimental-websocket/m,
      );
    },
  );

  test(
    "an oversized first message is refused (code 6000) and the server keeps listening; then a session over WebSocket carries data both ways",
    { skip: runtime === "node", timeout: 30_000 },
    async () => {
      const dir = tempDir();
      const down = randomBytes(200_000);
      const up = randomBytes(1 << 20);
      const server = serve(dir, 0, ["--ws"]).input(down);
      const [, port, kind] = await server.waitFor(LISTENING);
      assert.equal(kind, "WebSocket");

      // A raw WebSocket client sends a 70,000-byte first message.
      const raw = new WebSocket(`ws://127.0.0.1:${port}/`);
      await new Promise((resolve, reject) => {
        raw.onopen = resolve;
        raw.onerror = reject;
      });
      raw.send(new Uint8Array(70_000));
      await server.waitFor(
        /handshake with \S+ failed: policy violation: Handshake message too large: 70000 bytes \(max 65536\) \(code 6000\)/,
      );
      raw.close();

      const client = new Cli([
        "connect",
        ...["--known-hosts", path.join(dir, "known_hosts"), "--save-pin"],
        `ws://127.0.0.1:${port}/`,
      ]).input(up);
      const [c, s] = await Promise.all([client.exit(), server.exit()]);
      assert.equal(c.code, 0, c.stderr);
      assert.equal(s.code, 0, s.stderr);
      assertBytes(s.stdout, up, "client → server over WebSocket");
      assertBytes(c.stdout, down, "server → client over WebSocket");
      assert.equal(CLIENT_SESSION.exec(c.stderr)![3], SERVER_SESSION.exec(s.stderr)![3]);
      assert.equal(
        fs.readFileSync(path.join(dir, "known_hosts"), "utf8").split("\n")[1],
        `ws://127.0.0.1:${port}/ ${SERVER_KAT.x25519_pk}`,
      );
    },
  );
});
