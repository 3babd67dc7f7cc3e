/**
 * The few Cloudflare Workers APIs the guide's Worker examples use, declared for
 * `tools/check_docs.ts` (Deno's checker has no `@cloudflare/workers-types`). In a
 * Workers project, `@cloudflare/workers-types` provides the real ones.
 */

/** A Workers WebSocket: the standard one plus `accept()` and hibernation attachments. */
interface WorkerWebSocket extends WebSocket {
  accept(): void;
  serializeAttachment(value: unknown): void;
  deserializeAttachment(): unknown;
}

declare const WebSocketPair: new () => { 0: WorkerWebSocket; 1: WorkerWebSocket };

/** Durable Object storage (transactional key-value). */
interface DurableObjectStorage {
  get<T = unknown>(key: string): Promise<T | undefined>;
  put<T>(key: string, value: T): Promise<void>;
  put<T>(entries: Record<string, T>): Promise<void>;
  delete(key: string): Promise<boolean>;
  transaction<T>(closure: (txn: DurableObjectStorage) => Promise<T>): Promise<T>;
}

/** The state of a Durable Object. */
interface DurableObjectState {
  readonly storage: DurableObjectStorage;
  acceptWebSocket(ws: WorkerWebSocket, tags?: string[]): void;
  getWebSockets(tag?: string): WorkerWebSocket[];
  blockConcurrencyWhile<T>(callback: () => Promise<T>): Promise<T>;
}

/** A Durable Object namespace binding. */
interface DurableObjectNamespace {
  idFromName(name: string): DurableObjectId;
  get(id: DurableObjectId): { fetch(request: Request): Promise<Response> };
}
interface DurableObjectId {
  toString(): string;
}

/** `ResponseInit` of a WebSocket upgrade. */
interface WorkerResponseInit extends ResponseInit {
  webSocket?: WorkerWebSocket;
}
