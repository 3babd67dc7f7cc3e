/**
 * Pubky homeserver adapters over plain `fetch` (no SDK needed):
 *
 * - {@linkcode HomeserverStorage}: the own space. `PUT`/`DELETE`/`GET`
 *   `<homeserver>/pub/...` with the `pubky-host: <owner>` header and the app's authentication
 *   (a session cookie or bearer token, from a headers provider the app supplies).
 * - {@linkcode HomeserverPublicReader}: public reads of `pubky://<key>/pub/...`, sent to the
 *   homeserver of `<key>` that an app-supplied resolver names, with `pubky-host: <key>`.
 *
 * Statuses: 2xx succeeds; 404 on `GET` is "missing" (`null`) and on `DELETE` is fine; 5xx, 408
 * and 429 are retryable `Storage` errors; other statuses are `Storage` errors that are not
 * retried. A failed connection is `Network` (8000); the attempt's time-out (the signal passed
 * to `fetch`) is `Timeout` (8001). Bodies are read up to a size limit.
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";
import { parseLocation } from "./paths.ts";
import { type OutboxStorage, type PublicStorageReader, StorageError } from "./types.ts";

/** Largest object read by default: one Noise message (65535 bytes). */
export const DEFAULT_MAX_OBJECT_BYTES = 65535;

/**
 * Headers, or a function giving them for each request (to refresh a session).
 *
 * @example
 * ```ts
 * import { type HeadersSource, HomeserverStorage } from "@pubky/noise/storage";
 * const owner = "o".repeat(52);
 * let session = "session-1";
 * const headers: HeadersSource = () => ({ cookie: `${owner}=${session}` }); // asked before each request
 * const sent: string[] = [];
 * const outbox = new HomeserverStorage({
 *   homeserver: "https://homeserver.example",
 *   owner,
 *   headers,
 *   fetch: (_url, init) => (sent.push(new Headers(init?.headers).get("cookie")!), Promise.resolve(new Response(null))),
 * });
 * await outbox.put("/pub/app/msg_0", new Uint8Array(1));
 * session = "session-2"; // refreshed by the app
 * await outbox.put("/pub/app/msg_1", new Uint8Array(1));
 * console.log(sent.map((c) => c.split("=")[1])); // [ "session-1", "session-2" ]
 * ```
 */
export type HeadersSource = HeadersInit | (() => HeadersInit | Promise<HeadersInit>);

/**
 * A `fetch`-compatible function.
 *
 * @example
 * ```ts
 * import { type FetchFunction, HomeserverPublicReader } from "@pubky/noise/storage";
 * const logged: FetchFunction = (input, init) => {
 *   console.log(init?.method ?? "GET", String(input)); // GET https://homeserver.example/pub/app/msg_0
 *   return Promise.resolve(new Response(null, { status: 404 })); // or: fetch(input, init)
 * };
 * const reader = new HomeserverPublicReader({ resolveHomeserver: () => "https://homeserver.example", fetch: logged });
 * console.log(await reader.get(`pubky://${"p".repeat(52)}/pub/app/msg_0`)); // null: not there yet
 * ```
 */
export type FetchFunction = (
  input: string | URL | Request,
  init?: RequestInit,
) => Promise<Response>;

/**
 * Options of {@linkcode HomeserverStorage}.
 *
 * @example
 * ```ts
 * import { HomeserverStorage, type HomeserverStorageOptions } from "@pubky/noise/storage";
 * const owner = "o".repeat(52); // your z-base-32 public key
 * const options: HomeserverStorageOptions = {
 *   homeserver: "https://homeserver.example",
 *   owner,
 *   headers: { cookie: `${owner}=<session secret from sign-in>` },
 *   maxObjectBytes: 4096,
 * };
 * const outbox = new HomeserverStorage(options);
 * console.log(outbox.owner === owner, outbox.urlOf("/pub/chat/msg_0")); // true https://homeserver.example/pub/chat/msg_0
 * ```
 */
export interface HomeserverStorageOptions {
  /** Base URL of the owner's homeserver, e.g. `https://homeserver.example`. */
  homeserver: string | URL;
  /** The owner's z-base-32 public key, sent as `pubky-host`. */
  owner: string;
  /** Authentication headers (e.g. `{ cookie: "<owner>=<session>" }`) or a provider of them. */
  headers?: HeadersSource;
  /** The `fetch` to use (default: the global one). */
  fetch?: FetchFunction;
  /** Largest object `get` reads (default 65535 bytes). */
  maxObjectBytes?: number;
}

/**
 * Options of {@linkcode HomeserverPublicReader}.
 *
 * @example
 * ```ts
 * import { HomeserverPublicReader, type HomeserverPublicReaderOptions } from "@pubky/noise/storage";
 * const homeservers = new Map([["p".repeat(52), "https://hs1.example"]]); // e.g. from PKARR `_pubky` records
 * const options: HomeserverPublicReaderOptions = {
 *   resolveHomeserver: (owner) => homeservers.get(owner) ?? "https://default-homeserver.example",
 *   defaultOwner: "p".repeat(52), // plain `/pub/...` paths are this key's
 * };
 * const reader = new HomeserverPublicReader(options);
 * console.log(await reader.urlOf("/pub/chat/msg_3")); // https://hs1.example/pub/chat/msg_3
 * ```
 */
export interface HomeserverPublicReaderOptions {
  /** The homeserver base URL of a key (from PKARR `_pubky` records, a directory, or config). */
  resolveHomeserver: (owner: string) => string | URL | Promise<string | URL>;
  /** Owner of plain paths (`/pub/...` without `pubky://`); plain paths are refused without it. */
  defaultOwner?: string;
  /** Extra headers for every read. */
  headers?: HeadersSource;
  /** The `fetch` to use (default: the global one). */
  fetch?: FetchFunction;
  /** Largest object read (default 65535 bytes). */
  maxObjectBytes?: number;
}

function baseUrl(homeserver: string | URL): string {
  let url: URL;
  try {
    url = new URL(String(homeserver));
  } catch {
    throw new StorageError(`invalid homeserver URL: ${String(homeserver)}`, 400);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new StorageError(`homeserver URL must be http(s), got ${url.protocol}`, 400);
  }
  return url.origin + url.pathname.replace(/\/+$/, "");
}

function objectUrl(base: string, path: string): string {
  return base + path.split("/").map(encodeURIComponent).join("/");
}

async function resolveHeaders(source: HeadersSource | undefined): Promise<Headers> {
  const init = typeof source === "function" ? await source() : source;
  return new Headers(init);
}

function checkLimit(limit: number | undefined): number {
  const value = limit ?? DEFAULT_MAX_OBJECT_BYTES;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new StorageError("maxObjectBytes must be a non-negative integer", 400);
  }
  return value;
}

/** Releases a response body we do not read. */
function discard(response: Response): void {
  response.body?.cancel().catch(() => {});
}

/** The body of `response`, refusing (and cancelling) it beyond `limit` bytes. */
async function readBody(response: Response, limit: number, what: string): Promise<Uint8Array> {
  const tooLarge = () => new StorageError(`${what}: object larger than ${limit} bytes`, 413);
  const declared = Number(response.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > limit) {
    discard(response);
    throw tooLarge();
  }
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > limit) {
        reader.cancel().catch(() => {});
        throw tooLarge();
      }
      chunks.push(value);
    }
  } catch (e) {
    if (e instanceof NoiseError) throw e;
    throw new NoiseError(NoiseErrorCode.Network, `${what}: reading the body failed: ${message(e)}`);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function send(
  fetchFn: FetchFunction,
  url: string,
  init: RequestInit,
  what: string,
): Promise<Response> {
  try {
    return await fetchFn(url, init);
  } catch (e) {
    if (init.signal?.aborted) throw init.signal.reason;
    throw new NoiseError(NoiseErrorCode.Network, `${what}: ${message(e)}`);
  }
}

function statusError(response: Response, what: string): StorageError {
  discard(response);
  return new StorageError(`${what} answered HTTP ${response.status}`, response.status);
}

async function getObject(
  fetchFn: FetchFunction,
  url: string,
  headers: Headers,
  limit: number,
  what: string,
  signal: AbortSignal | undefined,
): Promise<Uint8Array | null> {
  const response = await send(fetchFn, url, { method: "GET", headers, signal }, what);
  if (response.status === 404) {
    discard(response);
    return null;
  }
  if (response.status !== 200) throw statusError(response, what);
  return await readBody(response, limit, what);
}

/**
 * The owner's own space on a Pubky homeserver: authenticated `PUT`/`DELETE`, and `GET` of own
 * objects.
 *
 * @example
 * ```ts
 * import { HomeserverStorage } from "@pubky/noise/storage";
 * const owner = "o".repeat(52);
 * const outbox = new HomeserverStorage({
 *   homeserver: "https://homeserver.example",
 *   owner,
 *   headers: () => ({ cookie: `${owner}=session-secret` }),
 * });
 * console.log(outbox.urlOf("/pub/app/outbox/msg_0"));
 * // https://homeserver.example/pub/app/outbox/msg_0
 * ```
 */
export class HomeserverStorage implements OutboxStorage {
  readonly #base: string;
  readonly #owner: string;
  readonly #headers: HeadersSource | undefined;
  readonly #fetch: FetchFunction;
  readonly #limit: number;

  /** An adapter for `options.owner`'s space on `options.homeserver`. */
  constructor(options: HomeserverStorageOptions) {
    this.#base = baseUrl(options.homeserver);
    if (typeof options.owner !== "string" || options.owner.length === 0) {
      throw new StorageError("owner must be the z-base-32 key of the storage owner", 400);
    }
    this.#owner = options.owner;
    this.#headers = options.headers;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#limit = checkLimit(options.maxObjectBytes);
  }

  /** The owner key. */
  get owner(): string {
    return this.#owner;
  }

  /** The HTTP URL of `path` on the homeserver. */
  urlOf(path: string): string {
    return objectUrl(this.#base, path);
  }

  async #headersFor(): Promise<Headers> {
    const headers = await resolveHeaders(this.#headers);
    headers.set("pubky-host", this.#owner);
    return headers;
  }

  /** `PUT` of `bytes` at `path`. */
  async put(path: string, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
    if (!(bytes instanceof Uint8Array)) throw new StorageError("put needs a Uint8Array body", 400);
    const headers = await this.#headersFor();
    headers.set("content-type", "application/octet-stream");
    const what = `PUT ${path}`;
    const body = new Uint8Array(bytes);
    const response = await send(
      this.#fetch,
      this.urlOf(path),
      { method: "PUT", headers, body, signal },
      what,
    );
    if (response.status < 200 || response.status > 299) throw statusError(response, what);
    discard(response);
  }

  /** `DELETE` of `path`; 404 counts as done. */
  async delete(path: string, signal?: AbortSignal): Promise<void> {
    const what = `DELETE ${path}`;
    const response = await send(
      this.#fetch,
      this.urlOf(path),
      { method: "DELETE", headers: await this.#headersFor(), signal },
      what,
    );
    if (response.status !== 404 && (response.status < 200 || response.status > 299)) {
      throw statusError(response, what);
    }
    discard(response);
  }

  /** `GET` of an own object; `null` on 404. */
  async get(path: string, signal?: AbortSignal): Promise<Uint8Array | null> {
    return await getObject(
      this.#fetch,
      this.urlOf(path),
      await this.#headersFor(),
      this.#limit,
      `GET ${path}`,
      signal,
    );
  }
}

/**
 * Public reads from Pubky homeservers: `pubky://<key>/pub/...` is fetched from the homeserver
 * that `resolveHomeserver(key)` names, with `pubky-host: <key>`.
 *
 * @example
 * ```ts
 * import { HomeserverPublicReader } from "@pubky/noise/storage";
 * const reader = new HomeserverPublicReader({
 *   resolveHomeserver: () => "https://homeserver.example",
 * });
 * const peer = "p".repeat(52);
 * console.log(await reader.urlOf(`pubky://${peer}/pub/app/outbox/msg_0`));
 * // https://homeserver.example/pub/app/outbox/msg_0
 * ```
 */
export class HomeserverPublicReader implements PublicStorageReader {
  readonly #resolve: (owner: string) => string | URL | Promise<string | URL>;
  readonly #defaultOwner: string | null;
  readonly #headers: HeadersSource | undefined;
  readonly #fetch: FetchFunction;
  readonly #limit: number;

  /** A reader that asks `options.resolveHomeserver` where each key's storage lives. */
  constructor(options: HomeserverPublicReaderOptions) {
    if (typeof options.resolveHomeserver !== "function") {
      throw new StorageError("resolveHomeserver must be a function", 400);
    }
    this.#resolve = options.resolveHomeserver;
    this.#defaultOwner = options.defaultOwner ?? null;
    this.#headers = options.headers;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#limit = checkLimit(options.maxObjectBytes);
  }

  async #target(location: string): Promise<{ url: string; owner: string; path: string }> {
    const parsed = parseLocation(location);
    const owner = parsed.owner ?? this.#defaultOwner;
    if (owner === null) {
      throw new StorageError(`a plain path needs defaultOwner: ${location}`, 400);
    }
    let base: string;
    try {
      base = baseUrl(await this.#resolve(owner));
    } catch (e) {
      if (e instanceof NoiseError) throw e;
      throw new StorageError(`no homeserver for ${owner}: ${message(e)}`);
    }
    return { url: objectUrl(base, parsed.path), owner, path: parsed.path };
  }

  /** The HTTP URL a read of `location` goes to. */
  async urlOf(location: string): Promise<string> {
    return (await this.#target(location)).url;
  }

  /** The object at `location`, or `null` on 404. */
  async get(location: string, signal?: AbortSignal): Promise<Uint8Array | null> {
    const { url, owner, path } = await this.#target(location);
    const headers = await resolveHeaders(this.#headers);
    headers.set("pubky-host", owner);
    return await getObject(this.#fetch, url, headers, this.#limit, `GET ${path}`, signal);
  }
}
