/**
 * PKARR relays on loopback for the pkarr tests:
 *
 * - {@linkcode startNpmRelay}: the relay of the npm `pkarr` package (its HTTP API, and its own
 *   libsodium signature checks on PUT and GET), on 127.0.0.1, with an in-memory stand-in for the
 *   Mainline DHT so that nothing leaves the machine. Its per-request `console.log` lines are
 *   filtered out while it runs.
 * - {@linkcode startHostileRelay}: a relay that serves whatever bytes a test gives it (forged,
 *   oversized, stale), to show that resolvers verify rather than trust relays.
 *
 * Not a test file itself.
 *
 * @module
 */
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { concat } from "../lib/bytes.ts";

/** BEP 44 arguments as the npm relay hands them to its DHT. */
interface Bep44Args {
  k: Uint8Array;
  seq: number;
  v: Uint8Array;
  sig: Uint8Array;
}

/** A running relay. */
export interface LoopbackRelay {
  /** Base URL, e.g. `http://127.0.0.1:40000`. */
  url: string;
  /** Stops it. */
  close(): Promise<void>;
}

/** The npm relay plus its in-memory DHT. */
export interface NpmRelay extends LoopbackRelay {
  /** Items stored through PUTs, keyed by hex public key. */
  items: Map<string, Bep44Args>;
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** BEP 44 semantics in memory: a put with a lower `seq` than the stored item is refused. */
class MemoryDht {
  readonly items = new Map<string, Bep44Args>();
  put(args: Bep44Args): Promise<void> {
    const id = hex(args.k);
    const current = this.items.get(id);
    if (current && current.seq > args.seq) {
      return Promise.reject(new Error("302 sequence number less than current"));
    }
    this.items.set(id, { ...args });
    return Promise.resolve();
  }
  get(key: Uint8Array): Promise<Bep44Args | null> {
    return Promise.resolve(this.items.get(hex(key)) ?? null);
  }
  destroy(): Promise<void> {
    return Promise.resolve();
  }
}

interface NpmRelayServer {
  listen(port?: number): Promise<unknown>;
  port: number;
  close(): Promise<unknown>;
  _server: http.Server;
}

let quieted = 0;
let originalLog: typeof console.log = console.log;
const RELAY_LOG = /^(success|bad request|Internal server error)$/;

function quiet(): void {
  if (quieted++ === 0) {
    originalLog = console.log;
    console.log = (...args: unknown[]) => {
      if (typeof args[0] === "string" && RELAY_LOG.test(args[0])) return;
      originalLog(...args);
    };
  }
}

function loud(): void {
  if (--quieted === 0) console.log = originalLog;
}

/** Starts the npm `pkarr` relay on 127.0.0.1 with an in-memory DHT. */
export async function startNpmRelay(): Promise<NpmRelay> {
  const mod = await import("pkarr/lib/relay.js") as unknown as {
    default: new (options: { dht: MemoryDht }) => NpmRelayServer;
  };
  const dht = new MemoryDht();
  const relay = new mod.default({ dht });
  const sockets = new Set<Socket>();
  relay._server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => relay._server.listen(0, "127.0.0.1", resolve));
  quiet();
  const { port } = relay._server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    items: dht.items,
    close: async () => {
      const closed = new Promise<void>((resolve) => relay._server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
      loud();
    },
  };
}

/** A relay serving scripted answers. */
export interface HostileRelay extends LoopbackRelay {
  /** Serves `bytes` (200) or a status for GET `/<z32>`. */
  serve(z32: string, answer: Uint8Array | number): void;
  /** Makes GETs hang until the client gives up. */
  hang(z32: string): void;
  /** Bodies of the PUTs received, per z32. */
  puts: Map<string, Uint8Array[]>;
  /** Status answered to PUTs (default 204). */
  putStatus: number;
}

/** Starts a scripted relay on 127.0.0.1. */
export async function startHostileRelay(): Promise<HostileRelay> {
  const answers = new Map<string, Uint8Array | number | "hang">();
  const puts = new Map<string, Uint8Array[]>();
  const sockets = new Set<Socket>();
  const state = { putStatus: 204 };
  const server = http.createServer((req, res) => {
    const z32 = (req.url ?? "/").slice(1);
    const chunks: Uint8Array[] = [];
    req.on("data", (c: Uint8Array) => chunks.push(c));
    req.on("end", () => {
      if (req.method === "PUT") {
        const list = puts.get(z32) ?? [];
        list.push(concat(...chunks));
        puts.set(z32, list);
        res.writeHead(state.putStatus);
        res.end();
        return;
      }
      const answer = answers.get(z32) ?? 404;
      if (answer === "hang") return;
      if (typeof answer === "number") {
        res.writeHead(answer);
        res.end();
      } else {
        res.writeHead(200, { "content-type": "application/pkarr.org-relays.v1+octet-stream" });
        res.end(answer);
      }
    });
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    serve: (z32, answer) => void answers.set(z32, answer),
    hang: (z32) => void answers.set(z32, "hang"),
    puts,
    get putStatus() {
      return state.putStatus;
    },
    set putStatus(s: number) {
      state.putStatus = s;
    },
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
