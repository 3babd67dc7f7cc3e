/**
 * Real carriers: a `node:net` loopback socket through `nodeSocketCarrier` and
 * `framed` (every runtime), `Deno.listen`/`Deno.connect` and a `Deno.serve`
 * WebSocket pair (Deno only), a `Bun.serve` WebSocket relay (Bun only), and the
 * WebSocket adapter's rules on a scripted WebSocket (every runtime).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { accept, connect, type SecureChannel } from "../lib/streams/handshake.ts";
import { framed } from "../lib/streams/framing.ts";
import { nodeSocketCarrier } from "../lib/streams/node_socket.ts";
import { denoConnCarrier } from "../lib/streams/deno_conn.ts";
import {
  CLOSE_ABORTED,
  CLOSE_PROTOCOL,
  webSocketCarrier,
  type WebSocketLike,
} from "../lib/streams/websocket.ts";
import type { MessageCarrier } from "../lib/streams/carrier.ts";
import { messageReader, messageWriter } from "../lib/streams/messages.ts";
import { NoiseErrorCode } from "../lib/errors.ts";
import {
  chunksOf,
  expectNoiseError,
  peers,
  randomBytes,
  runtime,
  stillPending,
  tcpPair,
  until,
  within,
} from "./streams_helpers.ts";

/**
 * XX over the two carriers, then messages both ways (one small, one over a Noise
 * message); checks everything arrived. `duplex`: both sides send and close at once
 * (needs half-close, as TCP has); otherwise the client speaks, the server answers
 * and closes, then the client closes (WebSocket has no half-close).
 */
async function talk(
  clientCarrier: MessageCarrier,
  serverCarrier: MessageCarrier,
  duplex = true,
): Promise<void> {
  const { client, server } = await peers();
  const [c, s] = await within(
    Promise.all([connect(clientCarrier, client, { pattern: "XX" }), accept(serverCarrier, server)]),
    10_000,
    "handshake",
  );
  assert.ok(c.sessionId.equals(s.sessionId));
  assert.equal(s.pattern, "XX");
  await (duplex ? converse : takeTurns)(c, s);
}

const UP = [new TextEncoder().encode("ping"), randomBytes(150_000)];
const DOWN = [randomBytes(70_000), new Uint8Array(0)];

/** The client sends, the server answers and closes, then the client closes. */
async function takeTurns(c: SecureChannel, s: SecureChannel): Promise<void> {
  const cw = messageWriter(c);
  const cr = messageReader(c);
  const sw = messageWriter(s);
  const sr = messageReader(s);
  const server = (async () => {
    for (const m of UP) assert.deepEqual(await sr.readAll(1 << 20), m);
    for (const m of DOWN) await sw.send(m);
    await sw.close();
    assert.equal(await sr.next(), null);
  })();
  const client = (async () => {
    for (const m of UP) await cw.send(m);
    for (const m of DOWN) assert.deepEqual(await cr.readAll(1 << 20), m);
    assert.equal(await cr.next(), null);
    await cw.close();
  })();
  await within(Promise.all([server, client]), 10_000, "messages");
}

/** Both sides send their messages and close at the same time. */
async function converse(c: SecureChannel, s: SecureChannel): Promise<void> {
  const up = UP;
  const down = DOWN;
  const cw = messageWriter(c);
  const cr = messageReader(c);
  const sw = messageWriter(s);
  const sr = messageReader(s);
  const clientSends = (async () => {
    for (const m of up) await cw.send(m);
    await cw.close();
  })();
  const serverSends = (async () => {
    for (const m of down) await sw.send(m);
    await sw.close();
  })();
  const readAll = async (r: typeof cr) => {
    const out: Uint8Array[] = [];
    for (;;) {
      const m = await r.readAll(1 << 20);
      if (m === null) return out;
      out.push(m);
    }
  };
  const [atServer, atClient] = await within(
    Promise.all([readAll(sr), readAll(cr), clientSends, serverSends]),
    10_000,
    "messages",
  );
  assert.deepEqual(atServer, up);
  assert.deepEqual(atClient, down);
}

describe("over node:net loopback sockets", () => {
  test("XX handshake and messages both ways through framed(nodeSocketCarrier)", async () => {
    const tcp = await tcpPair({ allowHalfOpen: true });
    try {
      await talk(framed(nodeSocketCarrier(tcp.client)), framed(nodeSocketCarrier(tcp.server)));
    } finally {
      await tcp.close();
    }
  });

  test("IK handshake to the key pinned by XX on a second connection", async () => {
    const { client, server } = await peers();
    const first = await tcpPair();
    const second = await tcpPair({ allowHalfOpen: true });
    try {
      const [c1] = await Promise.all([
        connect(framed(nodeSocketCarrier(first.client)), client, { pattern: "XX" }),
        accept(framed(nodeSocketCarrier(first.server)), server),
      ]);
      const [c2, s2] = await within(
        Promise.all([
          connect(framed(nodeSocketCarrier(second.client)), client, {
            pattern: "IK",
            serverStaticPub: c1.remoteStatic!,
          }),
          accept(framed(nodeSocketCarrier(second.server)), server),
        ]),
        10_000,
        "IK",
      );
      assert.equal(s2.pattern, "IK");
      assert.ok(c2.sessionId.equals(s2.sessionId));
      await converse(c2, s2);
    } finally {
      await first.close();
      await second.close();
    }
  });

  test("the peer's end closes the readable; closing the writable ends the socket", async () => {
    const tcp = await tcpPair({ allowHalfOpen: true });
    try {
      const a = nodeSocketCarrier(tcp.client);
      const b = nodeSocketCarrier(tcp.server);
      const writer = a.writable.getWriter();
      const reading = chunksOf(b.readable);
      await writer.write(new Uint8Array([1, 2, 3]));
      await writer.close();
      const got = await within(reading, 5000, "end");
      assert.deepEqual(got.flatMap((c) => [...c]), [1, 2, 3]);
    } finally {
      await tcp.close();
    }
  });

  test("cancelling the readable destroys the socket; the peer's stream ends", async () => {
    const tcp = await tcpPair();
    try {
      const a = nodeSocketCarrier(tcp.client);
      const b = nodeSocketCarrier(tcp.server);
      await a.readable.cancel();
      assert.ok(tcp.client.destroyed);
      await within(chunksOf(b.readable).catch(() => []), 5000, "peer sees the close");
      // Writing to a destroyed socket fails with a NoiseError.
      await expectNoiseError(
        a.writable.getWriter().write(new Uint8Array(1)),
        NoiseErrorCode.ConnectionReset,
      );
    } finally {
      await tcp.close();
    }
  });

  test("refuses a bad highWaterMark with Other", async () => {
    const tcp = await tcpPair();
    try {
      await expectNoiseError(
        () => nodeSocketCarrier(tcp.client, { highWaterMark: -1 }),
        NoiseErrorCode.Other,
      );
    } finally {
      await tcp.close();
    }
  });
});

/** What the tests need of the Deno namespace (typed here so other runtimes type-check). */
describe("over Deno's own sockets", { skip: runtime !== "deno" }, () => {
  /** A connected pair of Deno TCP connections, and a `close()` that ends it all. */
  async function denoTcpPair() {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const accepting = listener.accept();
    const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    const server = await accepting;
    return {
      client,
      server,
      close() {
        for (const c of [client, server]) {
          try {
            c.close();
          } catch {
            // already closed by its streams
          }
        }
        listener.close();
      },
    };
  }

  test("XX handshake and messages both ways over Deno.connect with denoConnCarrier", async () => {
    const tcp = await denoTcpPair();
    try {
      await talk(framed(denoConnCarrier(tcp.client)), framed(denoConnCarrier(tcp.server)));
    } finally {
      tcp.close();
    }
  });

  test("XX handshake and transport over Deno.Conn's own streams", async () => {
    const tcp = await denoTcpPair();
    try {
      const { client, server } = await peers();
      const [c, s] = await within(
        Promise.all([
          connect(framed(tcp.client), client, { pattern: "XX" }),
          accept(framed(tcp.server), server),
        ]),
        10_000,
        "handshake",
      );
      const cw = messageWriter(c);
      const sr = messageReader(s);
      const sw = messageWriter(s);
      const cr = messageReader(c);
      const sent = cw.send(UP[1]);
      assert.deepEqual(await within(sr.readAll(1 << 20), 5000, "up"), UP[1]);
      await sent;
      const answered = sw.send(DOWN[0]);
      assert.deepEqual(await within(cr.readAll(1 << 20), 5000, "down"), DOWN[0]);
      await answered;
    } finally {
      tcp.close();
    }
  });

  test("denoConnCarrier keeps reading after its writable closes (half-close)", async () => {
    const tcp = await denoTcpPair();
    try {
      const a = denoConnCarrier(tcp.client);
      const b = denoConnCarrier(tcp.server);
      const aw = a.writable.getWriter();
      await aw.write(new Uint8Array([1, 2]));
      await aw.close();
      const bReader = b.readable.getReader();
      const got: number[] = [];
      for (;;) {
        const { done, value } = await within(bReader.read(), 5000, "read");
        if (done) break;
        got.push(...value);
      }
      assert.deepEqual(got, [1, 2]);
      // The side that closed its writable still reads the answer.
      const bw = b.writable.getWriter();
      await bw.write(new Uint8Array([3]));
      await bw.close();
      const back = await within(chunksOf(a.readable), 5000, "answer");
      assert.deepEqual(back.flatMap((c) => [...c]), [3]);
    } finally {
      tcp.close();
    }
  });

  test("XX handshake and messages over a Deno.serve WebSocket and new WebSocket", async () => {
    let serverSocket: (ws: WebSocket) => void = () => {};
    const upgraded = new Promise<WebSocket>((resolve) => {
      serverSocket = resolve;
    });
    const httpServer = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
      const { socket, response } = Deno.upgradeWebSocket(req);
      serverSocket(socket);
      return response;
    });
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${httpServer.addr.port}`);
      const closed = (s: WebSocket) =>
        new Promise<void>((resolve) => {
          if (s.readyState === WebSocket.CLOSED) resolve();
          else s.addEventListener("close", () => resolve());
        });
      const clientClosed = closed(ws);
      const [clientCarrier, serverCarrier] = await within(
        Promise.all([webSocketCarrier(ws), upgraded.then((s) => webSocketCarrier(s))]),
        5000,
        "WebSocket open",
      );
      const serverClosed = closed(await upgraded);
      await talk(clientCarrier, serverCarrier, false);
      await within(Promise.all([clientClosed, serverClosed]), 5000, "WebSocket close");
    } finally {
      await httpServer.shutdown();
    }
  });

  test("a text message on the WebSocket errors the readable with Policy", async () => {
    let serverSocket: (ws: WebSocket) => void = () => {};
    const upgraded = new Promise<WebSocket>((resolve) => {
      serverSocket = resolve;
    });
    const httpServer = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
      const { socket, response } = Deno.upgradeWebSocket(req);
      serverSocket(socket);
      return response;
    });
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${httpServer.addr.port}`);
      const clientClosed = new Promise((resolve) => ws.addEventListener("close", resolve));
      const carrier = await webSocketCarrier(ws);
      const server = await upgraded;
      await new Promise((resolve) =>
        server.readyState === WebSocket.OPEN
          ? resolve(null)
          : server.addEventListener("open", resolve)
      );
      server.send("hello");
      await expectNoiseError(
        within(carrier.readable.getReader().read(), 5000, "text"),
        NoiseErrorCode.Policy,
        "policy violation: text message on a binary channel",
      );
      const event = (await within(clientClosed, 5000, "close")) as CloseEvent;
      assert.equal(event.code, CLOSE_PROTOCOL);
    } finally {
      await httpServer.shutdown();
    }
  });

  test("a WebSocket that cannot connect rejects with Network", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener.addr.port;
    listener.close();
    await expectNoiseError(
      within(webSocketCarrier(new WebSocket(`ws://127.0.0.1:${port}`)), 5000, "refused"),
      NoiseErrorCode.Network,
      "network error: WebSocket did not open",
    );
  });
});

/** The part of Bun's API the relay uses. */
interface BunServerSocket {
  send(data: string | Uint8Array): unknown;
  close(): void;
}
interface BunLike {
  serve(options: {
    hostname: string;
    port: number;
    fetch(req: Request, server: { upgrade(req: Request): boolean }): Response | undefined;
    websocket: {
      open(ws: BunServerSocket): void;
      message(ws: BunServerSocket, message: string | Uint8Array): void;
      close(ws: BunServerSocket): void;
    };
  }): { port: number; stop(force?: boolean): unknown };
}

describe("over a Bun.serve WebSocket relay", { skip: runtime !== "bun" }, () => {
  test("XX handshake and messages between two new WebSocket clients", async () => {
    const Bun = (globalThis as unknown as { Bun: BunLike }).Bun;
    const sockets: BunServerSocket[] = [];
    const other = (ws: BunServerSocket) => sockets.find((s) => s !== ws);
    const relay = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req, server) {
        return server.upgrade(req) ? undefined : new Response("no", { status: 400 });
      },
      websocket: {
        open(ws) {
          sockets.push(ws);
        },
        message(ws, message) {
          other(ws)?.send(message);
        },
        close(ws) {
          other(ws)?.close();
        },
      },
    });
    try {
      const url = `ws://127.0.0.1:${relay.port}`;
      const a = new WebSocket(url);
      const clientCarrier = await webSocketCarrier(a);
      await until(() => sockets.length === 1, 5000, "first client");
      const b = new WebSocket(url);
      const serverCarrier = await webSocketCarrier(b);
      await until(() => sockets.length === 2, 5000, "second client");
      await talk(clientCarrier, serverCarrier, false);
    } finally {
      relay.stop(true);
    }
  });

  test("a WebSocket that cannot connect rejects with Network", async () => {
    await expectNoiseError(
      within(webSocketCarrier(new WebSocket("ws://127.0.0.1:9")), 5000, "refused"),
      NoiseErrorCode.Network,
    );
  });
});

/** A WebSocket driven by the test: it records what the adapter does. */
class ScriptedWebSocket implements WebSocketLike {
  readyState = 0;
  bufferedAmount = 0;
  binaryType = "blob";
  sent: Uint8Array[] = [];
  closedWith: { code?: number; reason?: string } | null = null;
  readonly #listeners = new Map<string, Set<(event: { data?: unknown }) => void>>();

  send(data: Uint8Array): void {
    if (this.readyState !== 1) throw new Error("InvalidStateError");
    this.sent.push(data.slice());
    this.bufferedAmount += data.length;
  }
  close(code?: number, reason?: string): void {
    this.closedWith ??= { code, reason };
    this.readyState = 2;
  }
  addEventListener(type: string, listener: (event: { data?: unknown }) => void): void {
    if (!this.#listeners.has(type)) this.#listeners.set(type, new Set());
    this.#listeners.get(type)!.add(listener);
  }
  removeEventListener(type: string, listener: (event: { data?: unknown }) => void): void {
    this.#listeners.get(type)?.delete(listener);
  }
  emit(type: string, event: { data?: unknown } = {}): void {
    if (type === "open") this.readyState = 1;
    if (type === "close") this.readyState = 3;
    for (const l of [...(this.#listeners.get(type) ?? [])]) l(event);
  }
}

async function openCarrier(
  options = {},
): Promise<{ ws: ScriptedWebSocket; carrier: MessageCarrier }> {
  const ws = new ScriptedWebSocket();
  const opening = webSocketCarrier(ws, options);
  ws.emit("open");
  return { ws, carrier: await opening };
}

describe("webSocketCarrier rules (scripted WebSocket)", () => {
  test("sets binaryType to arraybuffer and waits for the socket to open", async () => {
    const ws = new ScriptedWebSocket();
    const opening = webSocketCarrier(ws);
    assert.equal(ws.binaryType, "arraybuffer");
    assert.ok(await stillPending(opening, 20));
    ws.emit("open");
    const carrier = await within(opening, 1000, "open");
    assert.ok(carrier.readable instanceof ReadableStream);
  });

  test("rejects with Network when the socket fails or closes before opening", async () => {
    const ws = new ScriptedWebSocket();
    const opening = webSocketCarrier(ws);
    ws.emit("error");
    ws.emit("close");
    await expectNoiseError(
      opening,
      NoiseErrorCode.Network,
      "network error: WebSocket did not open",
    );
    const closed = new ScriptedWebSocket();
    closed.readyState = 3;
    await expectNoiseError(webSocketCarrier(closed), NoiseErrorCode.Network);
  });

  test("each binary message is one chunk; the close event ends the readable", async () => {
    const { ws, carrier } = await openCarrier();
    const reading = chunksOf(carrier.readable);
    ws.emit("message", { data: new Uint8Array([1, 2]).buffer });
    const view = new Uint8Array([0, 3, 4, 0]).subarray(1, 3);
    ws.emit("message", { data: view });
    ws.emit("close");
    assert.deepEqual(await within(reading, 1000, "close"), [
      new Uint8Array([1, 2]),
      new Uint8Array([3, 4]),
    ]);
  });

  test("a text message errors the readable with Policy and closes with 4002", async () => {
    const { ws, carrier } = await openCarrier();
    ws.emit("message", { data: "hello" });
    await expectNoiseError(carrier.readable.getReader().read(), NoiseErrorCode.Policy);
    assert.equal(ws.closedWith?.code, CLOSE_PROTOCOL);
  });

  test("an error event errors the readable with Network", async () => {
    const { ws, carrier } = await openCarrier();
    ws.emit("error");
    ws.emit("close");
    await expectNoiseError(
      carrier.readable.getReader().read(),
      NoiseErrorCode.Network,
      "network error: WebSocket error",
    );
  });

  test("unread messages beyond maxQueuedBytes error the readable with Policy", async () => {
    const { ws, carrier } = await openCarrier({ maxQueuedBytes: 100 });
    ws.emit("message", { data: new Uint8Array(60).buffer });
    assert.equal(ws.closedWith, null);
    ws.emit("message", { data: new Uint8Array(60).buffer });
    assert.equal((ws.closedWith as { code?: number } | null)?.code, CLOSE_PROTOCOL);
    const reader = carrier.readable.getReader();
    await expectNoiseError(reader.read(), NoiseErrorCode.Policy);
  });

  test("writes send one binary message each and wait while bufferedAmount is high", async () => {
    const { ws, carrier } = await openCarrier({ highWaterMark: 100, pollIntervalMs: 1 });
    const writer = carrier.writable.getWriter();
    await writer.write(new Uint8Array(50).fill(1));
    const second = writer.write(new Uint8Array(60).fill(2));
    // 110 bytes buffered > 100: the write holds.
    assert.ok(await stillPending(second, 30));
    assert.equal(ws.sent.length, 2);
    ws.bufferedAmount = 0;
    await within(second, 1000, "drained");
    assert.deepEqual(ws.sent.map((m) => m.length), [50, 60]);
    await writer.close();
    assert.equal(ws.closedWith?.code, 1000);
  });

  test("aborting the writable closes with 4001; cancelling the readable with 1000", async () => {
    const one = await openCarrier();
    await one.carrier.writable.abort();
    assert.equal(one.ws.closedWith?.code, CLOSE_ABORTED);
    const two = await openCarrier();
    await two.carrier.readable.cancel();
    assert.equal(two.ws.closedWith?.code, 1000);
  });

  test("writing to a socket that is no longer open fails with ConnectionReset", async () => {
    const { ws, carrier } = await openCarrier();
    ws.emit("close");
    await expectNoiseError(
      carrier.writable.getWriter().write(new Uint8Array(1)),
      NoiseErrorCode.ConnectionReset,
    );
  });

  test("refuses bad options with Other", async () => {
    await expectNoiseError(
      webSocketCarrier(new ScriptedWebSocket(), { highWaterMark: -1 }),
      NoiseErrorCode.Other,
    );
    await expectNoiseError(
      webSocketCarrier(new ScriptedWebSocket(), { pollIntervalMs: NaN }),
      NoiseErrorCode.Other,
    );
  });
});
