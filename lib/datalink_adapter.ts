/**
 * The data-link adapter functions of the Rust crate (`datalink_adapter`): each
 * pattern as three or four calls that move bytes between a client and a
 * server, ending in a {@linkcode NoiseLink} on both sides.
 *
 * ```
 * IK:  clientStartIkDirect → serverAcceptIk → clientCompleteIk, serverCompleteIk
 * XX:  clientStartXxTofu → serverAcceptXx → clientCompleteXx → serverCompleteXx
 * NN:  clientStartNn → serverAcceptNn → clientCompleteNn, serverCompleteNn
 * ```
 *
 * With a `trace` logger on the client or server, each function emits
 * `handshake.*` events and the links they make emit `transport.*` events
 * (see `trace.ts`); without one they build no event at all.
 *
 * @module
 */
import type { HandshakeState } from "./noise/handshake_state.ts";
import type { IdentityPayload } from "./identity_payload.ts";
import type { NoiseClient, XxInitResult } from "./client.ts";
import type { NoiseServer } from "./server.ts";
import { NoiseLink } from "./link.ts";
import { HandshakeTracer } from "./trace.ts";

/**
 * IK step 1 on the client: message 1 to a pinned server.
 *
 * @example
 * ```ts
 * import { clientStartIkDirect, DummyRing, NoiseClient, NoiseServer } from "@pubky/noise";
 * const client = new NoiseClient("kid", "client-device-0001", await DummyRing.create(new Uint8Array(32).fill(1), "kid"));
 * const server = new NoiseServer("kid", "server-device-0001", await DummyRing.create(new Uint8Array(32).fill(2), "kid"));
 * const pinned = await server.staticPublicKey(); // from an earlier XX, PKARR, or configuration
 * const { hs, firstMsg } = await clientStartIkDirect(client, pinned, "chat.example");
 * console.log(firstMsg.length, hs.isComplete); // 494 false: send firstMsg, keep hs
 * ```
 */
export async function clientStartIkDirect(
  client: NoiseClient,
  serverStaticPub: Uint8Array,
  hint: string | null = null,
): Promise<{ hs: HandshakeState; firstMsg: Uint8Array }> {
  const trace = client.trace && new HandshakeTracer(client.trace, "client", "IK");
  try {
    const start = await client.buildInitiatorIkDirect(serverStaticPub, hint);
    trace?.attach(start.hs).sent(start.firstMsg);
    return start;
  } catch (e) {
    throw trace ? trace.fail(e) : e;
  }
}

/**
 * IK step 2 on the server: verifies message 1, answers with message 2 (48 bytes, empty payload).
 *
 * @example
 * ```ts
 * import { clientStartIkDirect, DummyRing, NoiseClient, NoiseServer, serverAcceptIk, toHex } from "@pubky/noise";
 * const client = new NoiseClient("kid", "client-device-0001", await DummyRing.create(new Uint8Array(32).fill(1), "kid"));
 * const server = new NoiseServer("kid", "server-device-0001", await DummyRing.create(new Uint8Array(32).fill(2), "kid"));
 * const { firstMsg } = await clientStartIkDirect(client, await server.staticPublicKey());
 * const { clientIdentity, response } = await serverAcceptIk(server, firstMsg);
 * console.log(clientIdentity.role, toHex(clientIdentity.ed25519Pub).slice(0, 16), response.length);
 * // Client 8a88e3dd7409f195 48
 * ```
 */
export async function serverAcceptIk(
  server: NoiseServer,
  firstMsg: Uint8Array,
): Promise<
  {
    hs: HandshakeState;
    clientIdentity: IdentityPayload;
    clientStaticPk: Uint8Array;
    response: Uint8Array;
  }
> {
  const trace = server.trace && new HandshakeTracer(server.trace, "server", "IK");
  try {
    trace?.received(firstMsg);
    const { hs, identity } = await server.buildResponderReadIk(firstMsg);
    const response = await hs.writeMessage(new Uint8Array(0));
    trace?.attach(hs).sent(response);
    return { hs, clientIdentity: identity, clientStaticPk: hs.remoteStatic!, response };
  } catch (e) {
    throw trace ? trace.fail(e) : e;
  }
}

/**
 * IK step 3 on the client: reads message 2 (any payload is ignored, as in the crate).
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteIk, clientStartIkDirect, DummyRing, NoiseClient, NoiseServer, serverAcceptIk,
 * } from "@pubky/noise";
 * const client = new NoiseClient("kid", "client-device-0001", await DummyRing.create(new Uint8Array(32).fill(1), "kid"));
 * const server = new NoiseServer("kid", "server-device-0001", await DummyRing.create(new Uint8Array(32).fill(2), "kid"));
 * const c = await clientStartIkDirect(client, await server.staticPublicKey());
 * const s = await serverAcceptIk(server, c.firstMsg);
 * const link = await clientCompleteIk(c.hs, s.response);
 * console.log(link.sessionId.toString().length, link.encrypt(new Uint8Array(3)).length); // 64 19
 * ```
 */
export async function clientCompleteIk(
  hs: HandshakeState,
  response: Uint8Array,
): Promise<NoiseLink> {
  const trace = HandshakeTracer.of(hs);
  try {
    trace?.received(response);
    await hs.readMessage(response);
    return new NoiseLink(hs.split(), trace);
  } catch (e) {
    throw trace ? trace.fail(e) : e;
  }
}

/**
 * IK step 3 on the server.
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteIk, clientStartIkDirect, DummyRing, NoiseClient, NoiseServer, serverAcceptIk,
 *   serverCompleteIk,
 * } from "@pubky/noise";
 * const client = new NoiseClient("kid", "client-device-0001", await DummyRing.create(new Uint8Array(32).fill(1), "kid"));
 * const server = new NoiseServer("kid", "server-device-0001", await DummyRing.create(new Uint8Array(32).fill(2), "kid"));
 * const c = await clientStartIkDirect(client, await server.staticPublicKey());
 * const s = await serverAcceptIk(server, c.firstMsg);
 * const serverLink = serverCompleteIk(s.hs); // the server can send right after its response
 * const clientLink = await clientCompleteIk(c.hs, s.response);
 * const hi = clientLink.decrypt(serverLink.encrypt(new TextEncoder().encode("welcome")));
 * console.log(new TextDecoder().decode(hi)); // welcome
 * ```
 */
export function serverCompleteIk(hs: HandshakeState): NoiseLink {
  return completeLink(hs);
}

/** The link of a complete handshake, traced if its handshake is. */
function completeLink(hs: HandshakeState): NoiseLink {
  const trace = HandshakeTracer.of(hs);
  try {
    return new NoiseLink(hs.split(), trace);
  } catch (e) {
    throw trace ? trace.fail(e) : e;
  }
}

/**
 * XX step 1 on the client: message 1 (first contact).
 *
 * @example
 * ```ts
 * import { clientStartXxTofu, DummyRing, NoiseClient } from "@pubky/noise";
 * const client = new NoiseClient("kid", "client-device-0001", await DummyRing.create(new Uint8Array(32).fill(1), "kid"));
 * const { hs, firstMsg } = await clientStartXxTofu(client); // no server key needed
 * console.log(firstMsg.length, hs.isComplete); // 32 false
 * ```
 */
export async function clientStartXxTofu(
  client: NoiseClient,
  serverHint: string | null = null,
): Promise<XxInitResult> {
  const trace = client.trace && new HandshakeTracer(client.trace, "client", "XX");
  try {
    const start = await client.buildInitiatorXxTofu(serverHint);
    trace?.attach(start.hs).sent(start.firstMsg);
    return start;
  } catch (e) {
    throw trace ? trace.fail(e) : e;
  }
}

/**
 * XX step 2 on the server: message 2 with the server's identity; keep `serverStaticPk` for step 4.
 *
 * @example
 * ```ts
 * import { clientStartXxTofu, DummyRing, NoiseClient, NoiseServer, serverAcceptXx } from "@pubky/noise";
 * const client = new NoiseClient("kid", "client-device-0001", await DummyRing.create(new Uint8Array(32).fill(1), "kid"));
 * const server = new NoiseServer("kid", "server-device-0001", await DummyRing.create(new Uint8Array(32).fill(2), "kid"));
 * const c = await clientStartXxTofu(client);
 * const { response, serverStaticPk } = await serverAcceptXx(server, c.firstMsg);
 * console.log(response.length > 32, serverStaticPk.length); // true 32
 * ```
 */
export async function serverAcceptXx(
  server: NoiseServer,
  firstMsg: Uint8Array,
): Promise<{ hs: HandshakeState; response: Uint8Array; serverStaticPk: Uint8Array }> {
  const trace = server.trace && new HandshakeTracer(server.trace, "server", "XX");
  try {
    trace?.received(firstMsg);
    const step = await server.buildResponderXx(firstMsg);
    trace?.attach(step.hs).sent(step.response);
    return step;
  } catch (e) {
    throw trace ? trace.fail(e) : e;
  }
}

/**
 * What {@linkcode clientCompleteXx} returns (Rust `XxClientCompleteResult` and message 3).
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteXx, clientStartXxTofu, DummyRing, NoiseClient, NoiseServer, serverAcceptXx, toHex,
 *   type XxClientComplete,
 * } from "@pubky/noise";
 * const client = new NoiseClient("kid", "client-device-0001", await DummyRing.create(new Uint8Array(32).fill(1), "kid"));
 * const server = new NoiseServer("kid", "server-device-0001", await DummyRing.create(new Uint8Array(32).fill(2), "kid"));
 * const c = await clientStartXxTofu(client);
 * const s = await serverAcceptXx(server, c.firstMsg);
 * const done: XxClientComplete = await clientCompleteXx(client, c.hs, s.response);
 * // Pin both: the identity to check, the static key for IK next time.
 * console.log(toHex(done.serverIdentity.ed25519Pub).slice(0, 16), done.serverStaticPk.length); // 8139770ea87d175f 32
 * ```
 */
export interface XxClientComplete {
  /** The established session. */
  link: NoiseLink;
  /** The server's verified identity. */
  serverIdentity: IdentityPayload;
  /** The server's static key: pin it for IK. */
  serverStaticPk: Uint8Array;
  /** Message 3, to send to the server. */
  finalMsg: Uint8Array;
}

/**
 * XX step 3 on the client: verifies the server, answers with message 3, and is done.
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteXx, clientStartXxTofu, DummyRing, NoiseClient, NoiseServer, serverAcceptXx, toHex,
 * } from "@pubky/noise";
 * const client = new NoiseClient("kid", "client-device-0001", await DummyRing.create(new Uint8Array(32).fill(1), "kid"));
 * const server = new NoiseServer("kid", "server-device-0001", await DummyRing.create(new Uint8Array(32).fill(2), "kid"));
 * const expected = "8139770ea87d175f"; // the server identity the app expects (prefix, for the example)
 * const c = await clientStartXxTofu(client);
 * const s = await serverAcceptXx(server, c.firstMsg);
 * const { link, serverIdentity, finalMsg } = await clientCompleteXx(client, c.hs, s.response);
 * if (!toHex(serverIdentity.ed25519Pub).startsWith(expected)) throw new Error("unexpected server");
 * console.log(finalMsg.length > 0, link.sessionId.toString().length); // true 64: send finalMsg
 * ```
 */
export async function clientCompleteXx(
  client: NoiseClient,
  hs: HandshakeState,
  serverResponse: Uint8Array,
  serverHint: string | null = null,
): Promise<XxClientComplete> {
  const trace = HandshakeTracer.of(hs);
  try {
    trace?.received(serverResponse);
    const step = await client.completeInitiatorXx(hs, serverResponse, serverHint);
    trace?.sent(step.finalMsg);
    return {
      link: new NoiseLink(step.hs.split(), trace),
      serverIdentity: step.serverIdentity,
      serverStaticPk: step.serverStaticPk,
      finalMsg: step.finalMsg,
    };
  } catch (e) {
    throw trace ? trace.fail(e) : e;
  }
}

/**
 * XX step 4 on the server: verifies message 3.
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteXx, clientStartXxTofu, DummyRing, NoiseClient, NoiseServer, serverAcceptXx,
 *   serverCompleteXx, toHex,
 * } from "@pubky/noise";
 * const client = new NoiseClient("kid", "client-device-0001", await DummyRing.create(new Uint8Array(32).fill(1), "kid"));
 * const server = new NoiseServer("kid", "server-device-0001", await DummyRing.create(new Uint8Array(32).fill(2), "kid"));
 * const c1 = await clientStartXxTofu(client);
 * const s1 = await serverAcceptXx(server, c1.firstMsg);
 * const c2 = await clientCompleteXx(client, c1.hs, s1.response);
 * const { link, clientIdentity } = await serverCompleteXx(server, s1.hs, c2.finalMsg, s1.serverStaticPk);
 * console.log(toHex(clientIdentity.ed25519Pub).slice(0, 16), link.sessionId.equals(c2.link.sessionId));
 * // 8a88e3dd7409f195 true
 * ```
 */
export async function serverCompleteXx(
  server: NoiseServer,
  hs: HandshakeState,
  clientFinalMsg: Uint8Array,
  serverStaticPk: Uint8Array,
): Promise<{ link: NoiseLink; clientIdentity: IdentityPayload; clientStaticPk: Uint8Array }> {
  const trace = HandshakeTracer.of(hs);
  try {
    trace?.received(clientFinalMsg);
    const { identity } = await server.completeResponderXx(hs, clientFinalMsg, serverStaticPk);
    const clientStaticPk = hs.remoteStatic!;
    return { link: new NoiseLink(hs.split(), trace), clientIdentity: identity, clientStaticPk };
  } catch (e) {
    throw trace ? trace.fail(e) : e;
  }
}

/**
 * NN step 1 on the client.
 *
 * @example
 * ```ts
 * import { clientStartNn, DummyRing, NoiseClient } from "@pubky/noise";
 * const client = new NoiseClient("kid", "client-device-0001", await DummyRing.create(new Uint8Array(32).fill(1), "kid"));
 * const { firstMsg } = await clientStartNn(client); // NN: no keys, no identities
 * console.log(firstMsg.length); // 32
 * ```
 */
export async function clientStartNn(
  client: NoiseClient,
): Promise<{ hs: HandshakeState; firstMsg: Uint8Array }> {
  const trace = client.trace && new HandshakeTracer(client.trace, "client", "NN");
  try {
    const start = await client.buildInitiatorNn();
    trace?.attach(start.hs).sent(start.firstMsg);
    return start;
  } catch (e) {
    throw trace ? trace.fail(e) : e;
  }
}

/**
 * NN step 2 on the server.
 *
 * @example
 * ```ts
 * import { clientStartNn, DummyRing, NoiseClient, NoiseServer, serverAcceptNn } from "@pubky/noise";
 * const client = new NoiseClient("kid", "client-device-0001", await DummyRing.create(new Uint8Array(32).fill(1), "kid"));
 * const server = new NoiseServer("kid", "server-device-0001", await DummyRing.create(new Uint8Array(32).fill(2), "kid"));
 * const c = await clientStartNn(client);
 * const { response } = await serverAcceptNn(server, c.firstMsg);
 * console.log(response.length); // 48
 * ```
 */
export async function serverAcceptNn(
  server: NoiseServer,
  firstMsg: Uint8Array,
): Promise<{ hs: HandshakeState; response: Uint8Array }> {
  const trace = server.trace && new HandshakeTracer(server.trace, "server", "NN");
  try {
    trace?.received(firstMsg);
    const step = await server.buildResponderNn(firstMsg);
    trace?.attach(step.hs).sent(step.response);
    return step;
  } catch (e) {
    throw trace ? trace.fail(e) : e;
  }
}

/**
 * NN step 3 on the client.
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteNn, clientStartNn, DummyRing, NoiseClient, NoiseServer, serverAcceptNn,
 * } from "@pubky/noise";
 * const client = new NoiseClient("kid", "client-device-0001", await DummyRing.create(new Uint8Array(32).fill(1), "kid"));
 * const server = new NoiseServer("kid", "server-device-0001", await DummyRing.create(new Uint8Array(32).fill(2), "kid"));
 * const c = await clientStartNn(client);
 * const s = await serverAcceptNn(server, c.firstMsg);
 * const link = await clientCompleteNn(client, c.hs, s.response);
 * console.log(link.remoteStatic); // null: NN authenticates nobody
 * ```
 */
export async function clientCompleteNn(
  client: NoiseClient,
  hs: HandshakeState,
  serverResponse: Uint8Array,
): Promise<NoiseLink> {
  const trace = HandshakeTracer.of(hs);
  try {
    trace?.received(serverResponse);
    return new NoiseLink((await client.completeInitiatorNn(hs, serverResponse)).split(), trace);
  } catch (e) {
    throw trace ? trace.fail(e) : e;
  }
}

/**
 * NN step 3 on the server.
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteNn, clientStartNn, DummyRing, NoiseClient, NoiseServer, serverAcceptNn,
 *   serverCompleteNn,
 * } from "@pubky/noise";
 * const client = new NoiseClient("kid", "client-device-0001", await DummyRing.create(new Uint8Array(32).fill(1), "kid"));
 * const server = new NoiseServer("kid", "server-device-0001", await DummyRing.create(new Uint8Array(32).fill(2), "kid"));
 * const c = await clientStartNn(client);
 * const s = await serverAcceptNn(server, c.firstMsg);
 * const serverLink = serverCompleteNn(s.hs);
 * const clientLink = await clientCompleteNn(client, c.hs, s.response);
 * console.log(new TextDecoder().decode(serverLink.decrypt(clientLink.encrypt(new TextEncoder().encode("ping"))))); // ping
 * ```
 */
export function serverCompleteNn(hs: HandshakeState): NoiseLink {
  return completeLink(hs);
}
