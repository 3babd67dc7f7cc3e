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

/** IK step 1 on the client: message 1 to a pinned server. */
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

/** IK step 2 on the server: verifies message 1, answers with message 2 (48 bytes, empty payload). */
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

/** IK step 3 on the client: reads message 2 (any payload is ignored, as in the crate). */
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

/** IK step 3 on the server. */
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

/** XX step 1 on the client: message 1 (first contact). */
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

/** XX step 2 on the server: message 2 with the server's identity; keep `serverStaticPk` for step 4. */
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

/** What {@linkcode clientCompleteXx} returns (Rust `XxClientCompleteResult` and message 3). */
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

/** XX step 3 on the client: verifies the server, answers with message 3, and is done. */
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

/** XX step 4 on the server: verifies message 3. */
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

/** NN step 1 on the client. */
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

/** NN step 2 on the server. */
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

/** NN step 3 on the client. */
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

/** NN step 3 on the server. */
export function serverCompleteNn(hs: HandshakeState): NoiseLink {
  return completeLink(hs);
}
