/**
 * A loopback HTTP server that behaves as a Pubky homeserver's storage API does, for the storage
 * tests: `PUT`/`GET`/`DELETE` on `/pub/...` of the user named by the `pubky-host` header, 404
 * for a missing object, an authentication check on writes (the session cookie
 * `<owner>=<token>`), and scripted faults: 503, a hang until the client gives up, a dropped
 * connection, and a write that is stored but answered with 500.
 *
 * `node:http` on 127.0.0.1 only; works under Deno, Bun and Node. Not a test file itself.
 *
 * @module
 */
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** A fault the server plays instead of (or after) the normal handling. */
export type HomeserverFault = "503" | "hang" | "drop" | "write-then-500";

/** Which requests a fault applies to, and how often. */
export interface FaultRule {
  /** HTTP method (default: any). */
  method?: string;
  /** Exact path or pattern (default: any). */
  path?: string | RegExp;
  /** What to do. */
  fault: HomeserverFault;
  /** How many matching requests it applies to (default 1). */
  times?: number;
}

/** One handled request, for assertions. */
export interface RequestRecord {
  method: string;
  path: string;
  owner: string | null;
  status: number | "hang" | "drop";
}

const MAX_BODY = 1 << 20;

/** The loopback homeserver. */
export class LoopbackHomeserver {
  readonly #server: http.Server;
  readonly #sockets = new Set<Socket>();
  readonly #store = new Map<string, Map<string, Uint8Array>>();
  readonly #sessions: Map<string, string>;
  readonly #rules: Required<FaultRule>[] = [];
  /** Every request, in order. */
  readonly requests: RequestRecord[] = [];
  #url = "";

  private constructor(sessions: Record<string, string>) {
    this.#sessions = new Map(Object.entries(sessions));
    this.#server = http.createServer((req, res) => this.#handle(req, res));
    this.#server.on("connection", (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
  }

  /** Starts a server on 127.0.0.1 with the session tokens of its users (`owner → token`). */
  static async start(sessions: Record<string, string>): Promise<LoopbackHomeserver> {
    const hs = new LoopbackHomeserver(sessions);
    await new Promise<void>((resolve) => hs.#server.listen(0, "127.0.0.1", resolve));
    const { port } = hs.#server.address() as AddressInfo;
    hs.#url = `http://127.0.0.1:${port}`;
    return hs;
  }

  /** Base URL, e.g. `http://127.0.0.1:43210`. */
  get url(): string {
    return this.#url;
  }

  /** Adds a fault rule (rules are matched in order). */
  inject(rule: FaultRule): void {
    this.#rules.push({ method: "", path: "", times: 1, ...rule });
  }

  /** Removes every fault rule. */
  clearFaults(): void {
    this.#rules.length = 0;
  }

  /** The stored object of `owner` at `path`, or null. */
  peek(owner: string, path: string): Uint8Array | null {
    return this.#store.get(owner)?.get(path)?.slice() ?? null;
  }

  /** Stores an object directly (as if written earlier). */
  set(owner: string, path: string, bytes: Uint8Array): void {
    this.#space(owner).set(path, bytes.slice());
  }

  /** The paths stored for `owner`. */
  paths(owner: string): string[] {
    return [...(this.#store.get(owner)?.keys() ?? [])];
  }

  #space(owner: string): Map<string, Uint8Array> {
    let space = this.#store.get(owner);
    if (!space) {
      space = new Map();
      this.#store.set(owner, space);
    }
    return space;
  }

  #fault(method: string, path: string): HomeserverFault | null {
    for (const rule of this.#rules) {
      if (rule.times <= 0) continue;
      if (rule.method && rule.method !== method) continue;
      if (rule.path instanceof RegExp ? !rule.path.test(path) : rule.path && rule.path !== path) {
        continue;
      }
      rule.times--;
      return rule.fault;
    }
    return null;
  }

  #authorized(req: http.IncomingMessage, owner: string): boolean {
    const token = this.#sessions.get(owner);
    if (token === undefined) return false;
    const cookies = String(req.headers.cookie ?? "").split(";").map((c) => c.trim());
    return cookies.includes(`${owner}=${token}`);
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const method = req.method ?? "GET";
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    } catch {
      path = req.url ?? "/";
    }
    const ownerHeader = req.headers["pubky-host"];
    const owner = typeof ownerHeader === "string" ? ownerHeader : null;
    const record: RequestRecord = { method, path, owner, status: 0 };
    this.requests.push(record);
    const reply = (status: number, body?: Uint8Array) => {
      record.status = status;
      res.writeHead(status, { "content-type": "application/octet-stream" });
      res.end(body);
    };

    const fault = this.#fault(method, path);
    if (fault === "drop") {
      record.status = "drop";
      req.socket.destroy();
      return;
    }
    if (fault === "hang") {
      record.status = "hang";
      req.resume();
      return; // never answered; the socket is destroyed when the client gives up or on close()
    }
    if (fault === "503") {
      req.resume();
      reply(503);
      return;
    }

    const chunks: Uint8Array[] = [];
    let size = 0;
    req.on("data", (chunk: Uint8Array) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.on("end", () => {
      if (owner === null) return reply(400);
      if (method === "GET") {
        const found = this.#store.get(owner)?.get(path);
        return found ? reply(200, found) : reply(404);
      }
      if (method !== "PUT" && method !== "DELETE") return reply(405);
      if (!this.#authorized(req, owner)) return reply(401);
      if (!path.startsWith("/pub/")) return reply(403);
      if (method === "PUT") {
        if (size > MAX_BODY) return reply(413);
        const body = new Uint8Array(size);
        let offset = 0;
        for (const c of chunks) {
          body.set(c, offset);
          offset += c.length;
        }
        this.#space(owner).set(path, body);
        return reply(fault === "write-then-500" ? 500 : 201);
      }
      const existed = this.#store.get(owner)?.delete(path) ?? false;
      return reply(fault === "write-then-500" ? 500 : existed ? 204 : 404);
    });
  }

  /** Stops the server and drops every connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }
}
