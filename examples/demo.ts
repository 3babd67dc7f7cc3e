/**
 * The whole life of a Pubky Noise session with the message-level API, in one
 * process and with no network: first contact over XX (the client learns and
 * pins the server's static key), then a fresh IK session to the pinned key,
 * messages both ways, and the session ids.
 *
 * Run: `deno run -A examples/demo.ts`. The main-job demo over real TCP sockets
 * and the streams layer (`deno task demo`) is `noisecat demo`, in cli/demo.ts.
 *
 * @module
 */
import {
  clientCompleteIk,
  clientCompleteXx,
  clientStartIkDirect,
  clientStartXxTofu,
  DummyRing,
  loadCryptoSuite,
  NoiseClient,
  NoiseServer,
  serverAcceptIk,
  serverAcceptXx,
  serverCompleteIk,
  serverCompleteXx,
  suiteBackends,
  toHex,
} from "../mod.ts";

const text = new TextEncoder();
const read = new TextDecoder();

const clientRing = await DummyRing.create(crypto.getRandomValues(new Uint8Array(32)), "client");
const serverRing = await DummyRing.create(crypto.getRandomValues(new Uint8Array(32)), "server");
const client = new NoiseClient("client", "demo-client-device", clientRing)
  .withNowUnix(Math.floor(Date.now() / 1000));
const server = new NoiseServer("server", "demo-server-device", serverRing);

console.log("backends:", JSON.stringify(suiteBackends(await loadCryptoSuite())));

// 1. First contact: XX, trust on first use.
const xx1 = await clientStartXxTofu(client);
const xx2 = await serverAcceptXx(server, xx1.firstMsg);
const xx3 = await clientCompleteXx(client, xx1.hs, xx2.response, "demo.example");
const xx4 = await serverCompleteXx(server, xx2.hs, xx3.finalMsg, xx2.serverStaticPk);
const pinned = xx3.serverStaticPk;
console.log(`XX  session ${xx3.link.sessionId} (server ${xx4.link.sessionId})`);
console.log(`    pinned server static ${toHex(pinned)}`);
console.log(`    server identity      ${toHex(xx3.serverIdentity.ed25519Pub)}`);
console.log(`    client identity      ${toHex(xx4.clientIdentity.ed25519Pub)}`);

// 2. Later: IK to the pinned key (2 messages instead of 3).
const ik1 = await clientStartIkDirect(client, pinned, "demo.example");
const ik2 = await serverAcceptIk(server, ik1.firstMsg);
const clientLink = await clientCompleteIk(ik1.hs, ik2.response);
const serverLink = serverCompleteIk(ik2.hs);
console.log(`IK  session ${clientLink.sessionId} (server ${serverLink.sessionId})`);
console.log(`    message sizes: ${ik1.firstMsg.length} + ${ik2.response.length} bytes`);

// 3. Messages both ways.
for (const line of ["hello, server", "how is the weather in Noise land?"]) {
  const sealed = clientLink.encrypt(text.encode(line));
  const got = read.decode(serverLink.decrypt(sealed));
  const reply = serverLink.encrypt(text.encode(`echo: ${got}`));
  console.log(`    client → server (${sealed.length} B): ${got}`);
  console.log(`    server → client: ${read.decode(clientLink.decrypt(reply))}`);
}
if (!clientLink.sessionId.equals(serverLink.sessionId)) throw new Error("session ids differ");
console.log(`session id: ${clientLink.sessionId}`);
