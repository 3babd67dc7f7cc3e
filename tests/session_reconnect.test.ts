/**
 * `ReconnectingSession` (`lib/session/reconnect.ts`): a client over the stream
 * layer whose dropped connection comes back by itself — IK to the pinned key,
 * exponential backoff with full jitter, bounded attempts — with the status going
 * Connected → Reconnecting → Connected, or to Error / Disconnected.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { NoiseError, NoiseErrorCode } from "../lib/errors.ts";
import { NoiseServer } from "../lib/server.ts";
import { memoryCarrierPair, type MessageCarrier } from "../lib/streams/carrier.ts";
import { accept } from "../lib/streams/handshake.ts";
import { ConnectionStatus } from "../lib/session/config.ts";
import {
  backoffDelay,
  MAX_RECONNECT_DELAY_MS,
  ReconnectingSession,
  type ReconnectOptions,
} from "../lib/session/reconnect.ts";
import { NoiseManager } from "../lib/session/noise_manager.ts";
import { expectNoiseError, peers, ring, SERVER_DEVICE, until, within } from "./streams_helpers.ts";

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));

/** A client-side carrier that the test can cut: both directions fail at once, as a network would. */
function cuttable(carrier: MessageCarrier): { carrier: MessageCarrier; cut(): void } {
  let inbound!: TransformStreamDefaultController<Uint8Array>;
  let outbound!: TransformStreamDefaultController<Uint8Array>;
  const inStream = new TransformStream<Uint8Array, Uint8Array>({
    start: (c) => void (inbound = c),
  });
  const outStream = new TransformStream<Uint8Array, Uint8Array>({
    start: (c) => void (outbound = c),
  });
  carrier.readable.pipeTo(inStream.writable).catch(() => {});
  outStream.readable.pipeTo(carrier.writable).catch(() => {});
  return {
    carrier: { readable: inStream.readable, writable: outStream.writable },
    cut() {
      const reason = new Error("network cut");
      inbound.error(reason);
      outbound.error(reason);
    },
  };
}

/**
 * A server endpoint: every carrier from `factory` is accepted by `server` and
 * echoed back as `echo:<data>`; `down` makes the factory fail; `lengths` records
 * the plaintext length of each message the server got.
 */
function endpoint(server: NoiseServer) {
  const state = {
    calls: 0,
    down: false,
    lengths: [] as number[],
    cuts: [] as (() => void)[],
    serverFor: null as NoiseServer | null,
  };
  const factory = () => {
    state.calls++;
    if (state.down) throw new NoiseError(NoiseErrorCode.Network, "connection refused");
    const [mine, theirs] = memoryCarrierPair();
    const c = cuttable(mine);
    state.cuts.push(c.cut);
    accept(theirs, state.serverFor ?? server, { timeoutMs: 5000 }).then(async (channel) => {
      const reader = channel.readable.getReader();
      const writer = channel.writable.getWriter();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        state.lengths.push(value.length);
        await writer.write(new Uint8Array([...utf8("echo:"), ...value]));
      }
    }).catch(() => {});
    return c.carrier;
  };
  return { state, factory, cutCurrent: () => state.cuts[state.cuts.length - 1]() };
}

async function start(options: Partial<ReconnectOptions> = {}) {
  const { client, server } = await peers();
  const ep = endpoint(server);
  const statuses: ConnectionStatus[] = [];
  const session = await ReconnectingSession.connect({
    client,
    serverStaticPub: await server.staticPublicKey(),
    carrierFactory: ep.factory,
    random: () => 0,
    onStatusChange: (s) => statuses.push(s),
    ...options,
  });
  return { session, ep, statuses, client, server };
}

describe("ReconnectingSession", () => {
  test("a dropped connection reconnects by itself: Connected → Reconnecting → Connected, new session", async () => {
    const { session, ep, statuses } = await start();
    await session.send(utf8("one"));
    assert.equal(text(await within(session.receive(), 3000, "echo one")), "echo:one");
    const first = session.sessionId!;
    ep.cutCurrent();
    await until(() => session.reconnectCount === 1, 5000, "reconnection");
    assert.deepEqual(statuses, ["Connected", "Reconnecting", "Connected"]);
    assert.equal(session.status, ConnectionStatus.Connected);
    assert.equal(session.sessionId!.equals(first), false, "a reconnection is a new session");
    assert.equal(session.lastError?.code, NoiseErrorCode.Network);
    await session.send(utf8("two"));
    assert.equal(text(await within(session.receive(), 3000, "echo two")), "echo:two");
    assert.equal(ep.state.calls, 2);
    await session.close();
    assert.equal(session.status, "Disconnected");
    assert.equal(await session.receive(), null);
  });

  test("backoff: full jitter over exponential delays, bounded attempts, then Error for good", async () => {
    const delays: number[] = [];
    const { session, ep, statuses } = await start({
      config: { maxReconnectAttempts: 4, reconnectDelayMs: 100 },
      maxDelayMs: 500,
      random: () => 0.5,
      sleep: (ms) => {
        delays.push(ms);
        return Promise.resolve();
      },
    });
    ep.state.down = true;
    ep.cutCurrent();
    await until(() => session.status === "Error", 5000, "giving up");
    assert.deepEqual(delays, [50, 100, 200, 250]); // 0.5 × min(500, 100 × 2^(n−1))
    assert.equal(ep.state.calls, 1 + 4);
    assert.deepEqual(statuses, ["Connected", "Reconnecting", "Error"]);
    assert.equal(session.lastError?.code, NoiseErrorCode.Network);
    assert.equal(session.lastError?.message, "network error: connection refused");
    await expectNoiseError(session.send(utf8("x")), NoiseErrorCode.ConnectionReset);
    assert.equal(await session.receive(), null);
    await session.close();
  });

  test("a reconnection only ever goes to the pinned key: a different server fails the attempts", async () => {
    const { session, ep } = await start({
      config: { maxReconnectAttempts: 2, reconnectDelayMs: 1 },
      handshakeTimeoutMs: 3000,
    });
    ep.state.serverFor = new NoiseServer("kid", SERVER_DEVICE, await ring(9)); // another static key
    ep.cutCurrent();
    await until(() => session.status === "Error", 8000, "giving up");
    assert.equal(ep.state.calls, 3);
    // The other server cannot read message 1 (it is sealed to the pinned key) and drops the carrier.
    assert.equal(session.lastError?.code, NoiseErrorCode.ConnectionReset);
    assert.equal(session.lastError?.message, "connection reset: handshake failed");
    await session.close();
  });

  test("with autoReconnect off, a drop ends in Disconnected and nothing is attempted", async () => {
    const { session, ep, statuses } = await start({ config: { autoReconnect: false } });
    ep.cutCurrent();
    await until(() => session.status === "Disconnected", 3000, "disconnect");
    assert.deepEqual(statuses, ["Connected", "Disconnected"]);
    assert.equal(ep.state.calls, 1);
    assert.equal(await session.receive(), null);
    await expectNoiseError(session.send(utf8("x")), NoiseErrorCode.ConnectionReset);
  });

  test("a send made while reconnecting waits and goes out on the new connection", async () => {
    const { session, ep } = await start({
      sleep: (ms) => new Promise((r) => setTimeout(r, ms + 20)),
    });
    ep.cutCurrent();
    await until(() => session.status === "Reconnecting", 3000, "drop noticed");
    const sent = session.send(utf8("during"));
    await within(sent, 5000, "send during reconnection");
    assert.equal(session.reconnectCount, 1);
    assert.equal(text(await within(session.receive(), 3000, "echo")), "echo:during");
    await session.close();
  });

  test("close() during a backoff delay stops reconnecting at once", async () => {
    const { session, ep } = await start({
      config: { reconnectDelayMs: 10_000 },
      random: () => 0.99,
    });
    ep.cutCurrent();
    await until(() => session.status === "Reconnecting", 3000, "drop noticed");
    const t0 = performance.now();
    await within(session.close(), 2000, "close");
    assert.ok(performance.now() - t0 < 1000);
    assert.equal(session.status, "Disconnected");
    assert.equal(ep.state.calls, 1);
  });

  test("send cuts data into Noise messages of at most chunkSize bytes", async () => {
    const { session, ep } = await start({ config: { chunkSize: 16384 } });
    await session.send(new Uint8Array(40000));
    for (let i = 0; i < 3; i++) await within(session.receive(), 3000, "echo");
    assert.deepEqual(ep.state.lengths, [16384, 16384, 7232]);
    await session.send(new Uint8Array(0));
    await expectNoiseError(session.send("text" as never), NoiseErrorCode.Other);
    await session.close();
  });

  test("the first connection is not retried: connect rejects with its error", async () => {
    const { client, server } = await peers();
    await expectNoiseError(
      ReconnectingSession.connect({
        client,
        serverStaticPub: await server.staticPublicKey(),
        carrierFactory: () => {
          throw new NoiseError(NoiseErrorCode.Network, "no route");
        },
      }),
      NoiseErrorCode.Network,
      "network error: no route",
    );
    await expectNoiseError(
      ReconnectingSession.connect({
        client,
        serverStaticPub: new Uint8Array(31),
        carrierFactory: () => memoryCarrierPair()[0],
      }),
      NoiseErrorCode.InvalidPeerKey,
    );
  });

  test("NoiseManager.connect runs a reconnecting session under the manager's config", async () => {
    const { client, server } = await peers();
    const ep = endpoint(server);
    const manager = NoiseManager.newClient(client, { config: { chunkSize: 100_000 } });
    const session = await manager.connect(ep.factory, await server.staticPublicKey());
    assert.equal(session.config.chunkSize, 65519);
    await session.send(utf8("hi"));
    assert.equal(text(await within(session.receive(), 3000, "echo")), "echo:hi");
    await session.close();
    await expectNoiseError(
      NoiseManager.newServer(server).connect(ep.factory, new Uint8Array(32)),
      NoiseErrorCode.Other,
      "other: Not in client mode",
    );
  });
});

describe("backoffDelay", () => {
  test("exponential from the base, capped, scaled by the jitter", () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7].map((n) =>
        backoffDelay(n, 1000, MAX_RECONNECT_DELAY_MS, () => 0.999999)
      ),
      [999, 1999, 3999, 7999, 15999, 29999, 29999],
    );
    assert.equal(backoffDelay(3, 100, 30000, () => 0), 0);
    assert.equal(backoffDelay(1000, 100, 30000, () => 0.5), 15000);
    assert.equal(backoffDelay(2, 100, 30000, () => Number.NaN), 0);
    assert.equal(backoffDelay(2, 100, 30000, () => 7), 200);
  });
});
