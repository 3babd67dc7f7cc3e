/**
 * Carriers of `noisecat`: TCP through `node:net` (every runtime) with
 * `framed(nodeSocketCarrier(socket))`, and WebSocket through `webSocketCarrier`:
 * `Deno.serve` + `Deno.upgradeWebSocket` under Deno, `Bun.serve` under Bun, the
 * global `WebSocket` to dial.
 *
 * @module
 */
import net from "node:net";
import process from "node:process";
import { NoiseError, NoiseErrorCode } from "../lib/errors.ts";
import type { MessageCarrier } from "../lib/streams/carrier.ts";
import { framed } from "../lib/streams/framing.ts";
import { nodeSocketCarrier } from "../lib/streams/node_socket.ts";
import { webSocketCarrier, type WebSocketLike } from "../lib/streams/websocket.ts";
import { CliError, UsageError } from "./args.ts";

/** Where to listen or dial. */
export interface Address {
  /** TCP, or WebSocket. */
  kind: "tcp" | "ws";
  /** Host name or IP address (IPv6 without brackets). */
  host: string;
  /** Port number (0 to listen on any free port). */
  port: number;
  /** WebSocket URL (dialing only). */
  url: string;
  /** How the address prints, and its key in the pin file: `HOST:PORT` or the URL. */
  name: string;
}

function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function portOf(text: string, command: string, allowZero: boolean): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535 || (!allowZero && port === 0)) {
    throw new UsageError(`${JSON.stringify(text)} is not a port number`, command);
  }
  return port;
}

/** Splits `HOST:PORT`, `[V6]:PORT`, `:PORT` or `PORT`; `host` is `defaultHost` when absent. */
function splitHostPort(
  text: string,
  defaultHost: string | null,
  command: string,
  allowZero: boolean,
): { host: string; port: number } {
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(text);
  if (v6) return { host: v6[1], port: portOf(v6[2], command, allowZero) };
  const colon = text.lastIndexOf(":");
  if (colon < 0) {
    if (defaultHost === null) {
      throw new UsageError(`${JSON.stringify(text)} needs a port: HOST:PORT`, command);
    }
    return { host: defaultHost, port: portOf(text, command, allowZero) };
  }
  const host = text.slice(0, colon);
  if (host === "" && defaultHost === null) {
    throw new UsageError(`${JSON.stringify(text)} needs a host: HOST:PORT`, command);
  }
  if (host.includes(":")) {
    throw new UsageError(`write an IPv6 address in brackets: [${host}]:PORT`, command);
  }
  return { host: host || defaultHost!, port: portOf(text.slice(colon + 1), command, allowZero) };
}

/** The address `serve` listens on: `PORT`, `:PORT`, `HOST:PORT` (default host 127.0.0.1). */
export function listenAddress(text: string, ws: boolean): Address {
  const { host, port } = splitHostPort(text, "127.0.0.1", "serve", true);
  const name = hostPort(host, port);
  return { kind: ws ? "ws" : "tcp", host, port, url: ws ? `ws://${name}/` : "", name };
}

/** The address `connect` dials: `HOST:PORT` (TCP, or WebSocket with `ws`) or a `ws(s)://` URL. */
export function dialAddress(text: string, ws: boolean): Address {
  if (/^wss?:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new UsageError(`${JSON.stringify(text)} is not a WebSocket URL`, "connect");
    }
    const port = url.port === "" ? (url.protocol === "wss:" ? 443 : 80) : Number(url.port);
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    return { kind: "ws", host, port, url: url.href, name: url.href };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    throw new UsageError(
      `${JSON.stringify(text)}: only ws:// and wss:// URLs are known`,
      "connect",
    );
  }
  const { host, port } = splitHostPort(text, null, "connect", false);
  const name = hostPort(host, port);
  if (ws) return { kind: "ws", host, port, url: `ws://${name}/`, name: `ws://${name}/` };
  return { kind: "tcp", host, port, url: "", name };
}

/** A connection that reached the server, before its handshake. */
export interface Incoming {
  carrier: MessageCarrier;
  /** The client's address, for status lines. */
  remote: string;
  /** Drops the connection. */
  drop(): void;
}

/** A listening server. */
export interface Listener {
  /** The address it listens on, with the real port. */
  name: string;
  port: number;
  /** Stops accepting connections (open ones go on). */
  stop(): void;
}

function netReason(e: unknown): string {
  const code = (e as { code?: string })?.code;
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NONAME":
      return "host not found";
    case "EADDRINUSE":
      return "address already in use";
    case "EADDRNOTAVAIL":
      return "address not available";
    case "EACCES":
      return "permission denied";
    case "ECONNRESET":
      return "connection reset";
    case "ETIMEDOUT":
      return "timed out";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "unreachable";
    default:
      return code ?? (e instanceof Error ? e.message : String(e));
  }
}

function tcpCarrier(socket: net.Socket): MessageCarrier {
  socket.setNoDelay(true);
  return framed(nodeSocketCarrier(socket));
}

/** Listens on `address`; `onConnection` gets each connection. */
export function listen(address: Address, onConnection: (c: Incoming) => void): Promise<Listener> {
  return address.kind === "tcp"
    ? listenTcp(address, onConnection)
    : listenWebSocket(address, onConnection);
}

function listenTcp(address: Address, onConnection: (c: Incoming) => void): Promise<Listener> {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on("error", () => {}); // reported by the carrier
    onConnection({
      carrier: tcpCarrier(socket),
      remote: hostPort(socket.remoteAddress ?? "?", socket.remotePort ?? 0),
      drop: () => socket.destroy(),
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", (e) => {
      reject(
        new CliError(`cannot listen on ${address.name}: ${netReason(e)}`, NoiseErrorCode.Network),
      );
    });
    server.listen(address.port, address.host, () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({ name: hostPort(address.host, port), port, stop: () => server.close() });
    });
  });
}

/** Dials `address`; a connection not made within `timeoutMs` fails with Timeout (8001). */
export function dial(address: Address, timeoutMs: number): Promise<MessageCarrier> {
  return address.kind === "tcp" ? dialTcp(address, timeoutMs) : dialWebSocket(address, timeoutMs);
}

function dialTcp(address: Address, timeoutMs: number): Promise<MessageCarrier> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address.host, port: address.port, allowHalfOpen: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new CliError(
          `cannot connect to ${address.name}: no answer after ${timeoutMs / 1000} s`,
          NoiseErrorCode.Timeout,
        ),
      );
    }, timeoutMs);
    socket.once("error", (e) => {
      clearTimeout(timer);
      reject(
        new CliError(`cannot connect to ${address.name}: ${netReason(e)}`, NoiseErrorCode.Network),
      );
    });
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.on("error", () => {}); // reported by the carrier
      resolve(tcpCarrier(socket));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// WebSocket

/** What the CLI uses of `Deno`. */
interface DenoServe {
  serve(
    options: {
      hostname: string;
      port: number;
      onListen(addr: { port: number }): void;
      onError?(e: unknown): Response;
    },
    handler: (req: Request, info: { remoteAddr: { hostname: string; port: number } }) => Response,
  ): unknown;
  upgradeWebSocket(req: Request): { socket: WebSocketLike; response: Response };
}

/** What the CLI uses of a Bun server-side WebSocket. */
interface BunServerWebSocket {
  readonly readyState: number;
  binaryType: string;
  data: { socket?: BunSocket; remote: string };
  send(data: Uint8Array): number;
  close(code?: number, reason?: string): void;
  getBufferedAmount(): number;
}

/** What the CLI uses of `Bun`. */
interface BunServe {
  serve(options: {
    hostname: string;
    port: number;
    fetch(
      req: Request,
      server: {
        upgrade(req: Request, options: { data: { remote: string } }): boolean;
        requestIP(req: Request): { address: string; port: number } | null;
      },
    ): Response | undefined;
    websocket: {
      open(ws: BunServerWebSocket): void;
      message(ws: BunServerWebSocket, message: string | Uint8Array): void;
      close(ws: BunServerWebSocket): void;
      drain(ws: BunServerWebSocket): void;
    };
  }): { port: number; stop(force?: boolean): void };
}

type Listener1 = (event: { data?: unknown }) => void;

/** A Bun `ServerWebSocket` seen as a WHATWG `WebSocket` (its events come from the server). */
class BunSocket implements WebSocketLike {
  readonly #ws: BunServerWebSocket;
  readonly #listeners = new Map<string, Set<Listener1>>();
  #closed = false;

  constructor(ws: BunServerWebSocket) {
    this.#ws = ws;
  }
  get readyState(): number {
    return this.#closed ? 3 : this.#ws.readyState;
  }
  get bufferedAmount(): number {
    return this.#ws.getBufferedAmount();
  }
  get binaryType(): string {
    return this.#ws.binaryType;
  }
  set binaryType(type: string) {
    this.#ws.binaryType = type;
  }
  send(data: Uint8Array): void {
    this.#ws.send(data);
  }
  close(code?: number, reason?: string): void {
    this.#ws.close(code, reason);
  }
  addEventListener(type: string, listener: Listener1): void {
    if (!this.#listeners.has(type)) this.#listeners.set(type, new Set());
    this.#listeners.get(type)!.add(listener);
  }
  removeEventListener(type: string, listener: Listener1): void {
    this.#listeners.get(type)?.delete(listener);
  }
  /** Delivers an event from the server's handlers. */
  dispatch(type: string, event: { data?: unknown } = {}): void {
    if (type === "close") this.#closed = true;
    for (const l of [...(this.#listeners.get(type) ?? [])]) l(event);
  }
}

function runtimeGlobals(): { Deno?: DenoServe; Bun?: BunServe } {
  return globalThis as unknown as { Deno?: DenoServe; Bun?: BunServe };
}

async function listenWebSocket(
  address: Address,
  onConnection: (c: Incoming) => void,
): Promise<Listener> {
  const { Deno, Bun } = runtimeGlobals();
  const accepted = (socket: WebSocketLike, remote: string) => {
    webSocketCarrier(socket).then(
      (carrier) => onConnection({ carrier, remote, drop: () => socket.close(1000, "") }),
      () => {}, // closed before it opened: nothing to serve
    );
  };
  const notWebSocket = () =>
    new Response("noisecat: a WebSocket endpoint\n", {
      status: 426,
      headers: { upgrade: "websocket" },
    });
  if (Deno) {
    let resolvePort!: (port: number) => void;
    const ready = new Promise<number>((resolve) => resolvePort = resolve);
    // Deno's shutdown() also ends upgraded WebSockets: a stopped server refuses instead.
    let stopped = false;
    try {
      Deno.serve({
        hostname: address.host,
        port: address.port,
        onListen: ({ port }) => resolvePort(port),
      }, (req, info) => {
        if (stopped) return new Response("noisecat: busy\n", { status: 503 });
        if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") return notWebSocket();
        const remote = hostPort(info.remoteAddr.hostname, info.remoteAddr.port); // before the upgrade
        const { socket, response } = Deno.upgradeWebSocket(req);
        accepted(socket, remote);
        return response;
      });
    } catch (e) {
      throw new CliError(
        `cannot listen on ${address.name}: ${(e as Error)?.name ?? String(e)}`,
        NoiseErrorCode.Network,
      );
    }
    const port = await ready;
    return {
      name: hostPort(address.host, port),
      port,
      stop: () => {
        stopped = true;
      },
    };
  }
  if (Bun) {
    let server: { port: number; stop(force?: boolean): void };
    try {
      server = Bun.serve({
        hostname: address.host,
        port: address.port,
        fetch(req, srv) {
          const ip = srv.requestIP(req);
          const remote = ip ? hostPort(ip.address, ip.port) : "?";
          if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") return notWebSocket();
          return srv.upgrade(req, { data: { remote } }) ? undefined : notWebSocket();
        },
        websocket: {
          open(ws) {
            const socket = new BunSocket(ws);
            ws.data.socket = socket;
            accepted(socket, ws.data.remote);
          },
          message(ws, message) {
            ws.data.socket?.dispatch("message", { data: message });
          },
          close(ws) {
            ws.data.socket?.dispatch("close");
          },
          drain() {},
        },
      });
    } catch (e) {
      throw new CliError(
        `cannot listen on ${address.name}: ${(e as { code?: string })?.code ?? String(e)}`,
        NoiseErrorCode.Network,
      );
    }
    return {
      name: hostPort(address.host, server.port),
      port: server.port,
      stop: () => server.stop(),
    };
  }
  throw new CliError(
    `WebSocket serve needs Deno or Bun (this is Node ${process.versions.node}); ` +
      `serve TCP instead, or run: deno run -A main.ts serve --ws …`,
    NoiseErrorCode.Other,
  );
}

async function dialWebSocket(address: Address, timeoutMs: number): Promise<MessageCarrier> {
  const WS = (globalThis as { WebSocket?: new (url: string) => WebSocketLike }).WebSocket;
  if (WS === undefined) {
    throw new CliError(
      `connect --ws needs a global WebSocket: Node ${process.versions.node} has one only with ` +
        `--experimental-websocket (node --experimental-websocket --import tsx main.ts …); ` +
        `Node 22+, Deno and Bun have it`,
      NoiseErrorCode.Other,
    );
  }
  let ws: WebSocketLike;
  try {
    ws = new WS(address.url);
  } catch (e) {
    throw new CliError(
      `cannot connect to ${address.name}: ${(e as Error)?.message}`,
      NoiseErrorCode.Network,
    );
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      try {
        ws.close();
      } catch {
        // not open yet
      }
      reject(
        new CliError(
          `cannot connect to ${address.name}: no answer after ${timeoutMs / 1000} s`,
          NoiseErrorCode.Timeout,
        ),
      );
    }, timeoutMs);
  });
  try {
    return await Promise.race([webSocketCarrier(ws), late]);
  } catch (e) {
    if (e instanceof NoiseError) {
      throw new CliError(
        `cannot connect to ${address.name}: the WebSocket did not open`,
        NoiseErrorCode.Network,
      );
    }
    throw e;
  } finally {
    clearTimeout(timer);
  }
}
