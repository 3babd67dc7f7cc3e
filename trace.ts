/**
 * # @pubky/noise/trace
 *
 * Trace logging, the Rust crate's `trace` feature: structured, non-sensitive
 * events of handshakes and links, for a logger the app passes in as the `trace`
 * option of `NoiseClient` and `NoiseServer`. Off by default, and free when off.
 *
 * Events name the step (`handshake.start`, `handshake.message`,
 * `handshake.complete`, `handshake.error`, `transport.encrypt`,
 * `transport.decrypt`, `transport.error`, `transport.close`), the side, the
 * pattern, the session id, message sizes, nonces and error codes. They never
 * carry a key, a seed, a shared secret, plaintext or payload bytes.
 *
 * This entry adds ready-made loggers; the types are also in the default entry.
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteXx, clientStartXxTofu, DummyRing, NoiseClient, NoiseServer, serverAcceptXx,
 *   serverCompleteXx,
 * } from "@pubky/noise";
 * import { recordTrace } from "@pubky/noise/trace";
 *
 * const ring = await DummyRing.create(crypto.getRandomValues(new Uint8Array(32)), "kid");
 * const log = recordTrace();
 * const client = new NoiseClient("kid", "client-device-0001", ring, { trace: log.logger });
 * const server = new NoiseServer("kid", "server-device-0001", ring, { trace: log.logger });
 * const c1 = await clientStartXxTofu(client);
 * const s1 = await serverAcceptXx(server, c1.firstMsg);
 * const c2 = await clientCompleteXx(client, c1.hs, s1.response);
 * const s2 = await serverCompleteXx(server, s1.hs, c2.finalMsg, s1.serverStaticPk);
 * s2.link.decrypt(c2.link.encrypt(new TextEncoder().encode("hi")));
 * for (const e of log.events) console.log(e.role, e.event, e.bytes ?? "");
 * ```
 *
 * @module
 */

export {
  consoleTraceLogger,
  jsonLinesTraceLogger,
  recordTrace,
  type TraceEvent,
  type TraceEventName,
  type TraceLogger,
  type TracePattern,
  type TraceRecording,
  type TraceRole,
} from "./lib/trace.ts";
