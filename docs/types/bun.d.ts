/**
 * The few Bun APIs the guide's Bun examples use, declared for `tools/check_docs.ts`
 * (Deno's checker has no `bun-types`). In a Bun project, `bun-types` provides the real ones.
 */

/** Bun's server-side WebSocket (`ServerWebSocket<T>`), as far as the guide uses it. */
interface BunServerWebSocket<T> {
  readonly data: T;
  readonly readyState: number;
  readonly remoteAddress: string;
  send(data: Uint8Array): number;
  close(code?: number, reason?: string): void;
}

/** The `server` argument of `fetch`. */
interface BunServer {
  upgrade<T>(request: Request, options: { data: T }): boolean;
  requestIP(request: Request): { address: string } | null;
  readonly port: number;
  stop(closeActiveConnections?: boolean): Promise<void>;
}

/** `Bun.serve` with WebSockets. */
declare const Bun: {
  serve<T>(options: {
    port?: number;
    hostname?: string;
    fetch(
      request: Request,
      server: BunServer,
    ): Response | undefined | Promise<Response | undefined>;
    websocket: {
      maxPayloadLength?: number;
      open?(ws: BunServerWebSocket<T>): void;
      message(ws: BunServerWebSocket<T>, message: string | Uint8Array): void;
      close?(ws: BunServerWebSocket<T>, code: number, reason: string): void;
    };
  }): BunServer;
};
