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
 * @module
 */
import type { HandshakeState } from "./noise/handshake_state.ts";
import type { IdentityPayload } from "./identity_payload.ts";
import type { NoiseClient, XxInitResult } from "./client.ts";
import type { NoiseServer } from "./server.ts";
import { NoiseLink } from "./link.ts";

/** IK step 1 on the client: message 1 to a pinned server. */
export function clientStartIkDirect(
  client: NoiseClient,
  serverStaticPub: Uint8Array,
  hint: string | null = null,
): Promise<{ hs: HandshakeState; firstMsg: Uint8Array }> {
  return client.buildInitiatorIkDirect(serverStaticPub, hint);
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
  const { hs, identity } = await server.buildResponderReadIk(firstMsg);
  const response = await hs.writeMessage(new Uint8Array(0));
  return { hs, clientIdentity: identity, clientStaticPk: hs.remoteStatic!, response };
}

/** IK step 3 on the client: reads message 2 (any payload is ignored, as in the crate). */
export async function clientCompleteIk(
  hs: HandshakeState,
  response: Uint8Array,
): Promise<NoiseLink> {
  await hs.readMessage(response);
  return new NoiseLink(hs.split());
}

/** IK step 3 on the server. */
export function serverCompleteIk(hs: HandshakeState): NoiseLink {
  return new NoiseLink(hs.split());
}

/** XX step 1 on the client: message 1 (first contact). */
export function clientStartXxTofu(
  client: NoiseClient,
  serverHint: string | null = null,
): Promise<XxInitResult> {
  return client.buildInitiatorXxTofu(serverHint);
}

/** XX step 2 on the server: message 2 with the server's identity; keep `serverStaticPk` for step 4. */
export function serverAcceptXx(
  server: NoiseServer,
  firstMsg: Uint8Array,
): Promise<{ hs: HandshakeState; response: Uint8Array; serverStaticPk: Uint8Array }> {
  return server.buildResponderXx(firstMsg);
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
  const step = await client.completeInitiatorXx(hs, serverResponse, serverHint);
  return {
    link: new NoiseLink(step.hs.split()),
    serverIdentity: step.serverIdentity,
    serverStaticPk: step.serverStaticPk,
    finalMsg: step.finalMsg,
  };
}

/** XX step 4 on the server: verifies message 3. */
export async function serverCompleteXx(
  server: NoiseServer,
  hs: HandshakeState,
  clientFinalMsg: Uint8Array,
  serverStaticPk: Uint8Array,
): Promise<{ link: NoiseLink; clientIdentity: IdentityPayload; clientStaticPk: Uint8Array }> {
  const { identity } = await server.completeResponderXx(hs, clientFinalMsg, serverStaticPk);
  const clientStaticPk = hs.remoteStatic!;
  return { link: new NoiseLink(hs.split()), clientIdentity: identity, clientStaticPk };
}

/** NN step 1 on the client. */
export function clientStartNn(
  client: NoiseClient,
): Promise<{ hs: HandshakeState; firstMsg: Uint8Array }> {
  return client.buildInitiatorNn();
}

/** NN step 2 on the server. */
export function serverAcceptNn(
  server: NoiseServer,
  firstMsg: Uint8Array,
): Promise<{ hs: HandshakeState; response: Uint8Array }> {
  return server.buildResponderNn(firstMsg);
}

/** NN step 3 on the client. */
export async function clientCompleteNn(
  client: NoiseClient,
  hs: HandshakeState,
  serverResponse: Uint8Array,
): Promise<NoiseLink> {
  return new NoiseLink((await client.completeInitiatorNn(hs, serverResponse)).split());
}

/** NN step 3 on the server. */
export function serverCompleteNn(hs: HandshakeState): NoiseLink {
  return new NoiseLink(hs.split());
}
