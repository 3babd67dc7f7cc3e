/**
 * The example servers of `examples/`, each started in-process on a free port and
 * driven by a real client of its runtime: XX first contact, then IK to the key
 * pinned by XX, messages echoed, and the session ids compared on both sides (the
 * server greets with its session id and logs it).
 *
 * - `examples/node_net_server.ts`: every runtime (Node through tsx, Deno and Bun
 *   all implement `node:net`), with a `node:net` client.
 * - `examples/deno_ws_server.ts`, `examples/deno_tcp_server.ts`: `deno test` only,
 *   with `new WebSocket` and `Deno.connect` clients.
 * - `examples/bun_ws_server.ts`: `bun test` only, with a `new WebSocket` client.
 *
 * The Cloudflare Worker example has its own test, under Node:
 * `tests/workerd/examples_worker.test.ts`.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { assertBytes } from "./_assert_bytes.ts";
import net from "node:net";
import { DummyRing, NoiseClient, NoiseErrorCode, toHex } from "../mod.ts";
import {
  connect,
  type ConnectOptions,
  denoConnCarrier,
  framed,
  type MessageCarrier,
  messageReader,
  messageWriter,
  nodeSocketCarrier,
  type SecureChannel,
  webSocketCarrier,
} from "../streams.ts";
import { expectNoiseError, randomBytes, runtime, within } from "./streams_helpers.ts";

/** What every example exports. */
interface RunningServer {
  port: number;
  staticKey: Uint8Array;
  close(): Promise<void>;
}
type Start = (options: {
  port: number;
  seed: Uint8Array;
  log: (line: string) => void;
}) => Promise<RunningServer>;

/** Opens a client carrier to the server on `port`, and closes whatever it left open. */
interface Dialer {
  dial(port: number): Promise<MessageCarrier>;
  closeAll(): void;
}

const SERVER_SEED = new Uint8Array(32).fill(0x51);
const CLIENT_SEED = new Uint8Array(32).fill(0x52);
const utf8 = new TextEncoder();
const text = new TextDecoder();
/** A small message, an empty one, and one larger than a Noise message (65535 bytes). */
const MESSAGES = [utf8.encode("hello, echo server"), new Uint8Array(0), randomBytes(100_000)];

async function makeClient(): Promise<{ client: NoiseClient; identity: string }> {
  const ring = await DummyRing.create(CLIENT_SEED, "client");
  return {
    client: new NoiseClient("client", "example-test-client-01", ring),
    identity: toHex(await ring.ed25519PublicKey("client")),
  };
}

/**
 * One client session: the handshake, the server's greeting (its session id),
 * every message of MESSAGES echoed, then the client closes and the server ends.
 */
async function echoSession(
  carrier: MessageCarrier,
  client: NoiseClient,
  options: ConnectOptions,
): Promise<SecureChannel> {
  const channel = await within(
    connect(carrier, client, { ...options, timeoutMs: 10_000 }),
    10_000,
    `${options.pattern} handshake`,
  );
  const reader = messageReader(channel);
  const writer = messageWriter(channel);
  const greeting = await within(reader.readAll(1024), 5000, "greeting");
  assert.ok(greeting, "the server greets before closing");
  assert.equal(text.decode(greeting), channel.sessionId.toString(), "server's session id");
  for (const message of MESSAGES) {
    await writer.send(message);
    assertBytes(await within(reader.readAll(1 << 20), 5000, "echo"), message, "echo");
  }
  await writer.close();
  assert.equal(await within(reader.next(), 5000, "end of the session"), null);
  return channel;
}

/**
 * The behaviour every example must show: XX, then IK to the pinned key, each with
 * the same session id on both sides; a wrong pinned key is refused and the server
 * keeps serving.
 */
function exampleTests(start: () => Promise<Start>, dialer: () => Dialer): void {
  test("XX then IK to the pinned key: equal session ids on both sides, messages echoed", async () => {
    const lines: string[] = [];
    const server = await (await start())({
      port: 0,
      seed: SERVER_SEED,
      log: (line) => lines.push(line),
    });
    const d = dialer();
    try {
      const { client, identity } = await makeClient();
      assert.ok(lines.includes(`static key ${toHex(server.staticKey)}`), "prints its static key");

      const xx = await echoSession(await d.dial(server.port), client, { pattern: "XX" });
      assert.deepEqual(xx.remoteStatic, server.staticKey, "XX learns the server's static key");
      assert.ok(
        lines.includes(`XX session ${xx.sessionId} with client ${identity}`),
        `the server logs the XX session id and the client's identity: ${lines.join("\n")}`,
      );

      const ik = await echoSession(await d.dial(server.port), client, {
        pattern: "IK",
        serverStaticPub: xx.remoteStatic!,
      });
      assert.ok(
        lines.includes(`IK session ${ik.sessionId} with client ${identity}`),
        `the server logs the IK session id: ${lines.join("\n")}`,
      );
      assert.notEqual(ik.sessionId.toString(), xx.sessionId.toString(), "a fresh session");
    } finally {
      d.closeAll();
      await server.close();
    }
  });

  test("IK to a wrong pinned key is refused (8002 at the client); the server goes on", async () => {
    const lines: string[] = [];
    const server = await (await start())({
      port: 0,
      seed: SERVER_SEED,
      log: (line) => lines.push(line),
    });
    const d = dialer();
    try {
      const { client, identity } = await makeClient();
      const wrong = server.staticKey.slice();
      wrong[0] ^= 1;
      await expectNoiseError(
        within(
          connect(await d.dial(server.port), client, { pattern: "IK", serverStaticPub: wrong }),
          10_000,
          "refused IK",
        ),
        NoiseErrorCode.ConnectionReset,
        "connection reset: carrier closed during the handshake",
      );
      assert.ok(lines.some((l) => l.startsWith("session failed: ")), lines.join("\n"));
      const ik = await echoSession(await d.dial(server.port), client, {
        pattern: "IK",
        serverStaticPub: server.staticKey,
      });
      assert.ok(lines.includes(`IK session ${ik.sessionId} with client ${identity}`));
    } finally {
      d.closeAll();
      await server.close();
    }
  });
}

/** `node:net` client sockets (half-open, as the server's). */
function nodeNetDialer(): Dialer {
  const sockets: net.Socket[] = [];
  return {
    async dial(port) {
      const socket = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
      sockets.push(socket);
      await new Promise<void>((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("error", reject);
      });
      return framed(nodeSocketCarrier(socket));
    },
    closeAll() {
      for (const s of sockets) s.destroy();
    },
  };
}

/** `new WebSocket` clients (Deno, Bun) to `/noise`. */
function webSocketDialer(): Dialer {
  const sockets: WebSocket[] = [];
  return {
    dial(port) {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/noise`);
      sockets.push(ws);
      return webSocketCarrier(ws);
    },
    closeAll() {
      for (const ws of sockets) ws.close();
    },
  };
}

/** `Deno.connect` clients, with half-close. */
function denoTcpDialer(): Dialer {
  const conns: Deno.Conn[] = [];
  return {
    async dial(port) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conns.push(conn);
      return framed(denoConnCarrier(conn));
    },
    closeAll() {
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // closed by denoConnCarrier once both directions were done
        }
      }
    },
  };
}

describe("examples/node_net_server.ts (node:net; every runtime)", () => {
  exampleTests(
    async () => (await import("../examples/node_net_server.ts")).start,
    nodeNetDialer,
  );
});

describe("examples/deno_ws_server.ts (Deno.serve WebSocket)", {
  skip: runtime === "deno" ? false : "Deno only: npx deno test -A tests/examples_servers.test.ts",
}, () => {
  exampleTests(async () => (await import("../examples/deno_ws_server.ts")).start, webSocketDialer);
});

describe("examples/deno_tcp_server.ts (Deno.listen)", {
  skip: runtime === "deno" ? false : "Deno only: npx deno test -A tests/examples_servers.test.ts",
}, () => {
  exampleTests(async () => (await import("../examples/deno_tcp_server.ts")).start, denoTcpDialer);
});

describe("examples/bun_ws_server.ts (Bun.serve WebSocket)", {
  skip: runtime === "bun" ? false : "Bun only: npx bun test tests/examples_servers.test.ts",
}, () => {
  exampleTests(async () => (await import("../examples/bun_ws_server.ts")).start, webSocketDialer);
});
