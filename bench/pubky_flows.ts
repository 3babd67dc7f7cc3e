/**
 * The two full Pubky handshakes every bench times, both sides in one process, through the
 * data-link adapter: XX first contact and IK to the pinned server key. `scenarios.ts`,
 * `compare_scenarios.ts` and the workerd timing worker share them.
 *
 * @module
 */
import {
  clientCompleteIk,
  clientCompleteXx,
  clientStartIkDirect,
  clientStartXxTofu,
  type NoiseClient,
  type NoiseLink,
  type NoiseServer,
  serverAcceptIk,
  serverAcceptXx,
  serverCompleteIk,
  serverCompleteXx,
} from "../mod.ts";

/** A client, a server, and the server's static key as the client has it pinned. */
export interface PubkyPeers {
  client: NoiseClient;
  server: NoiseServer;
  pinned: Uint8Array;
}

/** Full XX TOFU: 3 messages, identity signed and verified on both sides, links on both sides. */
export async function pubkyXx(p: PubkyPeers): Promise<[NoiseLink, NoiseLink]> {
  const c1 = await clientStartXxTofu(p.client);
  const s1 = await serverAcceptXx(p.server, c1.firstMsg);
  const c2 = await clientCompleteXx(p.client, c1.hs, s1.response);
  const s2 = await serverCompleteXx(p.server, s1.hs, c2.finalMsg, s1.serverStaticPk);
  return [c2.link, s2.link];
}

/** Full IK to the pinned server key: 2 messages, client identity signed and verified. */
export async function pubkyIk(p: PubkyPeers): Promise<[NoiseLink, NoiseLink]> {
  const ik = await clientStartIkDirect(p.client, p.pinned);
  const accepted = await serverAcceptIk(p.server, ik.firstMsg);
  const clientLink = await clientCompleteIk(ik.hs, accepted.response);
  return [clientLink, serverCompleteIk(accepted.hs)];
}
