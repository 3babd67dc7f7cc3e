/**
 * A worker that times our rows inside workerd, for `workerd_report.ts`. `GET /?row=ID&n=N` runs
 * row `ID` N times and answers `{ row, n }`; the driver times the request from outside, since
 * workerd's clocks stand still while a request computes (they move only on I/O). The first
 * request of each row checks its result (session ids equal, a message gets through).
 *
 * Rows: `noop`, `raw-xx`, `raw-ik`, `pubky-xx`, `pubky-ik`, `t1-64`, `t1-1024`, `t1-16384`,
 * `t1-65519`.
 *
 * @module
 */
import {
  type CryptoSuite,
  type DhKeyPair,
  DummyRing,
  HandshakeState,
  IK,
  loadCryptoSuite,
  NoiseClient,
  NoiseServer,
  PROLOGUE,
  suiteBackends,
  type TransportState,
  XX,
} from "../mod.ts";
import { pubkyIk, pubkyXx } from "./pubky_flows.ts";

type Op = () => Promise<void> | void;

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`self-check failed: ${what}`);
}

async function raw(
  suite: CryptoSuite,
  [si, sr]: [DhKeyPair, DhKeyPair],
  ik: boolean,
): Promise<[TransportState, TransportState]> {
  const base = { suite, pattern: ik ? IK : XX, prologue: PROLOGUE };
  const i = new HandshakeState({ ...base, initiator: true, s: si, rs: ik ? sr.publicKey : null });
  const r = new HandshakeState({ ...base, initiator: false, s: sr });
  await r.readMessage(await i.writeMessage());
  await i.readMessage(await r.writeMessage());
  if (!ik) await r.readMessage(await i.writeMessage());
  return [i.split(), r.split()];
}

async function makeRows(): Promise<Map<string, Op>> {
  const suite = await loadCryptoSuite();
  const statics: [DhKeyPair, DhKeyPair] = [
    await suite.dh.importSecretKey(new Uint8Array(32).fill(0x33)),
    await suite.dh.importSecretKey(new Uint8Array(32).fill(0x44)),
  ];
  const client = new NoiseClient(
    "kid",
    "client-device-0001",
    await DummyRing.create(new Uint8Array(32).fill(1), "kid"),
  );
  const server = new NoiseServer(
    "kid",
    "server-device-0001",
    await DummyRing.create(new Uint8Array(32).fill(2), "kid"),
  );
  const peers = { client, server, pinned: await server.staticPublicKey() };
  const rows = new Map<string, Op>();
  rows.set("noop", () => {});
  for (const ik of [false, true]) {
    const [a, b] = await raw(suite, statics, ik);
    check(same(a.handshakeHash, b.handshakeHash), "raw handshake hashes");
    rows.set(ik ? "raw-ik" : "raw-xx", () => raw(suite, statics, ik).then());
  }
  for (const [id, flow] of [["pubky-xx", pubkyXx], ["pubky-ik", pubkyIk]] as const) {
    const run = () => flow(peers);
    const [c, s] = await run();
    const m = new TextEncoder().encode("ping");
    check(c.sessionId.equals(s.sessionId) && same(s.decrypt(c.encrypt(m)), m), id);
    rows.set(id, () => run().then());
  }
  for (const size of [64, 1024, 16384, 65519]) {
    const [a, b] = await raw(suite, statics, false);
    const pt = crypto.getRandomValues(new Uint8Array(size));
    check(same(b.readMessage(a.writeMessage(pt)), pt), `t1-${size}`);
    rows.set(`t1-${size}`, () => void b.readMessage(a.writeMessage(pt)));
  }
  return rows;
}

let rows: Promise<Map<string, Op>> | undefined;

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const all = await (rows ??= makeRows());
    if (url.searchParams.has("backends")) {
      return Response.json(suiteBackends(await loadCryptoSuite()));
    }
    const id = url.searchParams.get("row") ?? "noop";
    const n = Number(url.searchParams.get("n") ?? "1");
    const op = all.get(id);
    if (op === undefined) return new Response(`unknown row ${id}`, { status: 404 });
    for (let i = 0; i < n; i++) await op();
    return Response.json({ row: id, n });
  },
};
