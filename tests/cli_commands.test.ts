/**
 * `noisecat keygen`, `pubkey`, `demo`, `--help` and usage errors, as processes started with the
 * runtime running this file.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { DummyRing } from "../lib/ring.ts";
import { NoiseServer } from "../lib/server.ts";
import { fromHex, toHex } from "../lib/bytes.ts";
import kat from "./vectors/pubky-kat.json" with { type: "json" };

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TIMEOUT_MS = 20_000;

/** `noisecat` on the runtime running this file. */
function cliCommand(): [string, string[]] {
  const g = globalThis as { Deno?: { execPath(): string } };
  if (g.Deno) return [g.Deno.execPath(), ["run", "-A", "main.ts"]];
  if ("Bun" in globalThis) return [process.execPath, ["main.ts"]];
  return [process.execPath, ["--import", "tsx", "main.ts"]];
}

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `noisecat ARGS` with an empty stdin; kills it after the timeout. */
function run(args: string[], env: Record<string, string> = {}): Promise<Exit> {
  const [cmd, pre] = cliCommand();
  const base = { ...process.env };
  delete base.NOISECAT_SEED;
  const child = spawn(cmd, [...pre, ...args], {
    cwd: ROOT,
    env: { ...base, NO_COLOR: "1", ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  child.stdin!.end();
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Uint8Array) => stdout += new TextDecoder().decode(d));
  child.stderr!.on("data", (d: Uint8Array) => stderr += new TextDecoder().decode(d));
  const timer = setTimeout(() => child.kill("SIGKILL"), TIMEOUT_MS);
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code: number | null) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "noisecat-test-"));
}

const SERVER_KAT = kat.x25519_kdf[2]; // seed 02×32, dev-server-00000000
const SERVER_ED25519 = kat.ed25519_from_seed[1];

describe("noisecat keygen and pubkey", () => {
  test(
    "pubkey prints the KAT keys of seed 02×32 and device dev-server-00000000, from a seed file or from $NOISECAT_SEED",
    {
      timeout: 30_000,
    },
    async () => {
      assert.equal(SERVER_KAT.seed, "02".repeat(32));
      assert.equal(SERVER_ED25519.seed, SERVER_KAT.seed);
      const dir = tempDir();
      const seedPath = path.join(dir, "server.seed");
      fs.writeFileSync(seedPath, `${SERVER_KAT.seed}\n`, { mode: 0o600 });
      const [fromFile, fromEnv] = await Promise.all([
        run(["pubkey", "--seed-file", seedPath, "--device", SERVER_KAT.device_id]),
        run(["pubkey", "--static", "--device", SERVER_KAT.device_id], {
          NOISECAT_SEED: SERVER_KAT.seed,
        }),
      ]);
      assert.equal(fromFile.code, 0, fromFile.stderr);
      assert.equal(
        fromFile.stdout,
        `device: ${SERVER_KAT.device_id}\nstatic: ${SERVER_KAT.x25519_pk}\n` +
          `ed25519: ${SERVER_ED25519.ed25519_pub}\n`,
      );
      assert.equal(SERVER_KAT.x25519_pk.slice(0, 8), "4a53098a");
      assert.equal(fromFile.stderr, "");
      assert.equal(fromEnv.code, 0, fromEnv.stderr);
      assert.equal(fromEnv.stdout, `${SERVER_KAT.x25519_pk}\n`);
      for (const out of [fromFile.stdout + fromFile.stderr, fromEnv.stdout + fromEnv.stderr]) {
        assert.ok(!out.includes(SERVER_KAT.seed), "the seed is never printed");
      }
    },
  );

  test(
    "keygen writes a fresh 64-hex-digit seed with mode 0600, prints the keys it derives, and refuses to overwrite it",
    {
      timeout: 30_000,
    },
    async () => {
      const dir = tempDir();
      const seedPath = path.join(dir, "new.seed");
      const made = await run(["keygen", seedPath]);
      assert.equal(made.code, 0, made.stderr);
      const text = fs.readFileSync(seedPath, "utf8");
      assert.match(text, /^[0-9a-f]{64}\n$/);
      if (process.platform !== "win32") assert.equal(fs.statSync(seedPath).mode & 0o777, 0o600);
      // The printed keys are those of the written seed, for the default device.
      const ring = await DummyRing.create(fromHex(text.trim()), "kid");
      const staticKey = await new NoiseServer("kid", "noisecat-device-0", ring).staticPublicKey();
      assert.equal(
        made.stdout,
        `device: noisecat-device-0\nstatic: ${toHex(staticKey)}\n` +
          `ed25519: ${toHex(await ring.ed25519PublicKey("kid"))}\n`,
      );
      assert.ok(!made.stdout.includes(text.trim()) && !made.stderr.includes(text.trim()));
      assert.match(made.stderr, /wrote a new seed to .*new\.seed \(mode 0600\)/);

      const again = await run(["keygen", seedPath]);
      assert.equal(again.code, 1);
      assert.equal(
        again.stderr.trim(),
        `noisecat: cannot write the seed file ${seedPath}: it already exists (code 99999)`,
      );
      assert.equal(fs.readFileSync(seedPath, "utf8"), text, "the seed is untouched");
    },
  );
});

describe("noisecat demo", () => {
  test(
    "demo --bytes 4MiB: XX then IK on loopback, equal session ids on both sides, the server's checksum matches, a throughput",
    {
      timeout: 30_000,
    },
    async () => {
      const r = await run(["demo", "--bytes", "4MiB"]);
      assert.equal(r.code, 0, r.stderr);
      const clients = [...r.stdout.matchAll(/^ {3}client session ([0-9a-f]{64})$/gm)].map((m) =>
        m[1]
      );
      const servers = [...r.stdout.matchAll(/^ {3}server session ([0-9a-f]{64})$/gm)].map((m) =>
        m[1]
      );
      assert.equal(clients.length, 2, r.stdout);
      assert.deepEqual(servers, clients, "each session id is the same on both sides");
      assert.notEqual(clients[0], clients[1], "XX and IK are two sessions");
      assert.match(r.stdout, new RegExp(`^ {3}XX  ${clients[0]}$`, "m"));
      assert.match(r.stdout, new RegExp(`^ {3}IK  ${clients[1]}$`, "m"));
      const learnt = /learnt its static key ([0-9a-f]{64}): pinned/.exec(r.stdout)?.[1];
      assert.match(
        r.stdout,
        new RegExp(`static key ${learnt}$`, "m"),
        "the pinned key is the server's",
      );
      assert.match(r.stdout, /server → client: echo: hello, server/);
      assert.match(r.stdout, /server → client: received 4194304 bytes, sha256 [0-9a-f]{64}\n/);
      assert.match(r.stdout, /the SHA-256 matches what the client sent/);
      assert.match(r.stdout, /4\.0 MiB in \d+\.\d\d s: \d+(\.\d)? MB\/s/);
      // stderr is not a terminal here: progress as percentage lines.
      assert.deepEqual(
        [...r.stderr.matchAll(/^ {3}(\d+)% \(/gm)].map((m) => m[1]),
        ["25", "50", "75", "100"],
      );
    },
  );
});

describe("noisecat --help and usage errors", () => {
  test(
    "--help (or -h, or help COMMAND) prints the usage on stdout and exits 0",
    { timeout: 30_000 },
    async () => {
      const [top, ...each] = await Promise.all([
        run(["--help"]),
        run(["serve", "--help"]),
        run(["connect", "-h"]),
        run(["help", "peer"]),
      ]);
      const commands = ["serve", "connect", "peer"];
      assert.equal(top.code, 0);
      assert.match(top.stdout, /^noisecat: encrypted, authenticated pipes/);
      for (const c of ["serve", "connect", "keygen", "pubkey", "demo", "peer"]) {
        assert.ok(top.stdout.includes(`\n  ${c} `), c);
      }
      each.forEach((r, i) => {
        assert.equal(r.code, 0, `${commands[i]}: ${r.stderr}`);
        assert.match(r.stdout, new RegExp(`^Usage: noisecat ${commands[i]} `), commands[i]);
      });
    },
  );

  test("bad command lines exit 2 with the reason and a pointer to --help on stderr", {
    timeout: 30_000,
  }, async () => {
    const cases: [string[], string, string][] = [
      [[], "", ""],
      [["frobnicate"], `noisecat: unknown command "frobnicate"`, "noisecat"],
      [
        ["serve", "4433"],
        "noisecat: serve needs a seed: --seed-file PATH or $NOISECAT_SEED (make one with 'noisecat keygen PATH')",
        "noisecat serve",
      ],
      [
        ["serve", "--seed-file", "x", "70000"],
        `noisecat: "70000" is not a port number`,
        "noisecat serve",
      ],
      [
        ["connect", "--pin", "abcd", "127.0.0.1:1"],
        "noisecat: --pin must be 32 bytes of hex (64 hex digits)",
        "noisecat connect",
      ],
      [
        ["connect", "--device", "too-short", "127.0.0.1:1"],
        `noisecat: --device must be at least 16 bytes of UTF-8, got 9 ("too-short")`,
        "noisecat connect",
      ],
      [
        ["demo", "--bytes", "lots"],
        `noisecat: --bytes must be a byte count such as 4MiB, 512KiB or 1048576, got "lots"`,
        "noisecat demo",
      ],
    ];
    const results = await Promise.all(cases.map(([args]) => run(args)));
    results.forEach((r, i) => {
      const [args, message, help] = cases[i];
      assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
      assert.equal(r.stdout, "", args.join(" "));
      if (message === "") {
        assert.match(r.stderr, /^noisecat: encrypted, authenticated pipes/, "no command: the help");
      } else {
        assert.deepEqual(
          r.stderr.trim().split("\n"),
          [message, `Run '${help} --help' for usage.`],
          args.join(" "),
        );
      }
    });
  });
});
