/**
 * Sealed session snapshots that really resume: the transport keys and both nonces
 * of an established session, sealed with AES-GCM under a caller-supplied,
 * non-extractable WebCrypto key, so that a process restarted from the snapshot
 * continues the same Noise session — same session id, same keys, next nonces —
 * without a new handshake, and the peer notices nothing.
 *
 * ## Format (version 1)
 *
 * ```text
 * offset  size  field
 *      0     4  magic "PNS1"
 *      4     1  version = 1
 *      5     8  generation, u64 big-endian (≥ 1)
 *     13    32  session id (the handshake hash)
 *     45    12  AES-GCM IV (random)
 *     57     …  AES-GCM ciphertext of the body ‖ 16-byte tag;  AAD = bytes 0‥44
 *
 * body:   role u8 (0 Client, 1 Server) ‖ flags u8 (bit 0: remote static, bit 1: remote identity)
 *         ‖ send key 32 ‖ send nonce u64 BE ‖ receive key 32 ‖ receive nonce u64 BE
 *         ‖ [remote static 32] ‖ [identity length u16 BE ‖ identity payload JSON]
 * ```
 *
 * The header is readable without the key ({@linkcode peekSnapshot}) and
 * authenticated by the tag. Refusals, checked in this order:
 * - not a snapshot (too short, wrong magic), unknown version: `NoiseError` Serde (4000);
 * - anything that does not authenticate — a changed byte anywhere (header
 *   included), a truncated snapshot, a snapshot sealed under another key:
 *   Decryption (10000); also an authentic snapshot of another session than the
 *   one asked for (`sessionId` option);
 * - an authentic body out of shape (a sealer bug, never seen in practice): Serde;
 * - a generation other than the holder's counter (restored already, or superseded
 *   by a newer snapshot): SessionExpired (6003).
 *
 * ## Threat model: nonce reuse
 *
 * ChaCha20-Poly1305 under one key must never seal two messages at one nonce: that
 * leaks the XOR of the plaintexts and lets an attacker forge messages. A
 * snapshot holds a send nonce `N`; resuming it twice, or resuming it after the
 * session had already sent at `N` or later, reuses nonces. Restoring an old
 * *receive* nonce is harmless to the keys, but the peer will not resend what was
 * read, so the session stalls instead. Whoever can make this process resume an
 * old snapshot — a crash followed by a retry, two replicas reading the same
 * row, a backup put back, an attacker with write access to the store — could
 * cause this. The key alone cannot stop it: an old snapshot is perfectly
 * authentic. So every snapshot carries a **generation**, and the holder keeps a
 * **counter** in durable storage:
 *
 * 1. Each generation names at most one snapshot, and the counter only grows.
 *    {@linkcode ResumableSession.snapshot} seals at `generation + 1` and returns
 *    `{ bytes, generation, previousGeneration }`: **store the bytes and the counter
 *    (= `generation`) in one atomic write**. Where two processes may hold the same
 *    session, make that write a compare-and-set on `previousGeneration`.
 * 2. {@linkcode ResumableSession.restore} accepts a snapshot only if its generation
 *    **equals** the counter read with it, then **consumes** it: it calls your
 *    `commit(next = generation + 1, current)` and waits for it **before** handing
 *    out the session. The old snapshot is then stale forever: a second restore of
 *    the same bytes, or of any older snapshot, is refused (SessionExpired), and so
 *    is a snapshot a crashed process never superseded.
 * 3. **Durable before visible**: a resumed session is exactly as fresh as the last
 *    snapshot stored. To resume after a crash without losing or repeating
 *    anything, store a new snapshot after each message you encrypt **before** the
 *    ciphertext leaves the process, and after each message you decrypt before you
 *    act on it. Then the worst a crash can do is lose a ciphertext that nobody
 *    has seen; its nonce is reused for a message nobody else saw either. If you
 *    only snapshot now and then (e.g. on suspend), a crash in between makes the
 *    old snapshot stale by rule 2 — the session is lost (new handshake), never
 *    reused.
 *
 * What this does not protect against: a holder that breaks the rules (writes the
 * bytes without the counter, or lets a restored session send before `commit`
 * has stored the new counter), and anyone who holds the snapshot key *and* can
 * run code in the holder.
 *
 * The AES-GCM IV is random: rotate the snapshot key well before 2^32 snapshots.
 *
 * @example
 * ```ts
 * import { clientCompleteNn, clientStartNn, DummyRing, NoiseClient, NoiseServer, serverAcceptNn, serverCompleteNn } from "@pubky/noise";
 * import { generateSnapshotKey, ResumableSession } from "@pubky/noise/sessions";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(3), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const c = await clientStartNn(client);
 * const s = await serverAcceptNn(new NoiseServer("kid", "server-device-0001", ring), c.firstMsg);
 * const clientLink = await clientCompleteNn(client, c.hs, s.response);
 * const key = await generateSnapshotKey();
 * const store = new Map<string, unknown>(); // stands for durable storage
 *
 * const live = ResumableSession.create(key, serverCompleteNn(s.hs), { role: "Server" });
 * const snap = await live.snapshot();
 * store.set("session", { bytes: snap.bytes, generation: snap.generation }); // one atomic write
 *
 * // … the process is gone; a new one resumes:
 * const saved = store.get("session") as { bytes: Uint8Array; generation: bigint };
 * const resumed = await ResumableSession.restore(key, saved.bytes, {
 *   generation: saved.generation,
 *   commit: (next) => void store.set("session", { ...saved, generation: next }),
 * });
 * const hello = clientLink.encrypt(new TextEncoder().encode("hello"));
 * console.log(new TextDecoder().decode(resumed.link.decrypt(hello))); // hello
 * ```
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "../errors.ts";
import { concat, copyBytes, equalBytes, wipe } from "../bytes.ts";
import { NoiseLink } from "../link.ts";
import { SessionId } from "../session_id.ts";
import { type TransportSecrets, TransportState } from "../noise/transport_state.ts";
import { MAX_NONCE } from "../noise/cipher_state.ts";
import { type CryptoSuite, loadCryptoSuite } from "../crypto/suite.ts";
import {
  decodeIdentityPayload,
  encodeIdentityPayload,
  type IdentityPayload,
  type Role,
} from "../identity_payload.ts";
import { inspectAsString } from "../redacted.ts";

/** The first four bytes of every snapshot: ASCII `PNS1`. */
export const SNAPSHOT_MAGIC: Uint8Array = new Uint8Array([0x50, 0x4e, 0x53, 0x31]);
/** The format version this library writes and reads. */
export const SNAPSHOT_VERSION = 1;

const HEADER_LEN = 4 + 1 + 8 + 32;
const IV_LEN = 12;
const GCM_TAG_LEN = 16;
const KEY_LEN = 32;
const FIXED_BODY_LEN = 1 + 1 + KEY_LEN + 8 + KEY_LEN + 8;
/** Shortest possible snapshot. */
const MIN_SNAPSHOT_LEN = HEADER_LEN + IV_LEN + FIXED_BODY_LEN + GCM_TAG_LEN;
const FLAG_REMOTE_STATIC = 1;
const FLAG_REMOTE_IDENTITY = 2;
const MAX_GENERATION = (1n << 64n) - 1n;

function serdeError(detail: string): NoiseError {
  return new NoiseError(NoiseErrorCode.Serde, `session snapshot: ${detail}`);
}

function otherError(detail: string): NoiseError {
  return new NoiseError(NoiseErrorCode.Other, detail);
}

/**
 * A new non-extractable AES-GCM-256 key for snapshots. It lives as long as this
 * process: to resume in another process, use {@linkcode importSnapshotKey} with a
 * secret from your environment.
 *
 * @example
 * ```ts
 * import { generateSnapshotKey } from "@pubky/noise/sessions";
 * const key = await generateSnapshotKey(); // keep it for this process (or in IndexedDB)
 * console.log(key.algorithm.name, key.extractable); // AES-GCM false
 * ```
 */
export function generateSnapshotKey(): Promise<CryptoKey> {
  return crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, [
    "encrypt",
    "decrypt",
  ]) as Promise<CryptoKey>;
}

/**
 * Imports 32 secret bytes (e.g. from a Worker secret) as a non-extractable
 * AES-GCM-256 snapshot key. The bytes are not wiped: do it when you are done.
 * Throws `NoiseError` Other unless `raw` is 32 bytes.
 *
 * @example
 * ```ts
 * import { fromHex } from "@pubky/noise";
 * import { importSnapshotKey } from "@pubky/noise/sessions";
 * const secret = fromHex("42".repeat(32)); // e.g. env.SNAPSHOT_KEY in a Worker, 64 hex digits
 * const key = await importSnapshotKey(secret);
 * secret.fill(0);
 * console.log(key.extractable, key.usages); // false [ "encrypt", "decrypt" ]
 * ```
 */
export function importSnapshotKey(raw: Uint8Array): Promise<CryptoKey> {
  if (!(raw instanceof Uint8Array) || raw.length !== 32) {
    return Promise.reject(otherError("a snapshot key must be 32 bytes"));
  }
  const copy = copyBytes(raw);
  return crypto.subtle.importKey("raw", copy, { name: "AES-GCM" }, false, ["encrypt", "decrypt"])
    .finally(() => wipe(copy));
}

/** Throws `NoiseError` Other unless `key` is a non-extractable AES-GCM key that may encrypt and decrypt. */
function checkKey(key: CryptoKey): void {
  const k = key as Partial<CryptoKey> | null;
  if (
    k === null || typeof k !== "object" || k.type !== "secret" ||
    k.algorithm?.name !== "AES-GCM" || !Array.isArray(k.usages) ||
    !k.usages.includes("encrypt") || !k.usages.includes("decrypt")
  ) {
    throw otherError("the snapshot key must be an AES-GCM CryptoKey for encrypt and decrypt");
  }
  if (k.extractable !== false) throw otherError("the snapshot key must be non-extractable");
}

function toGeneration(value: bigint | number, what: string): bigint {
  if (typeof value === "number" && Number.isSafeInteger(value)) value = BigInt(value);
  if (typeof value !== "bigint" || value < 0n || value > MAX_GENERATION) {
    throw otherError(`${what} must be an integer from 0 to 2^64 - 1`);
  }
  return value;
}

/**
 * What {@linkcode peekSnapshot} reads from a snapshot's header (not authenticated).
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteNn, clientStartNn, DummyRing, NoiseClient, NoiseServer, serverAcceptNn,
 *   serverCompleteNn,
 * } from "@pubky/noise";
 * import { generateSnapshotKey, peekSnapshot, ResumableSession, type SnapshotHeader } from "@pubky/noise/sessions";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * const c = await clientStartNn(client);
 * const s = await serverAcceptNn(server, c.firstMsg);
 * const clientLink = await clientCompleteNn(client, c.hs, s.response);
 * const serverLink = serverCompleteNn(s.hs);
 * const live = ResumableSession.create(await generateSnapshotKey(), serverLink, { role: "Server" });
 * await live.snapshot();
 * const header: SnapshotHeader = peekSnapshot((await live.snapshot()).bytes);
 * console.log(`session ${header.sessionId.toString().slice(0, 8)}…, generation ${header.generation}`); // generation 2
 * ```
 */
export interface SnapshotHeader {
  /** Format version. */
  version: number;
  /** Generation the snapshot was sealed at. */
  generation: bigint;
  /** The session it claims to hold. */
  sessionId: SessionId;
}

/**
 * The header of a snapshot, without the key: to index snapshots by session. It
 * is **not authenticated** until the snapshot is restored. Throws `NoiseError`
 * Serde on something that is not a version-1 snapshot.
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteNn, clientStartNn, DummyRing, NoiseClient, NoiseServer, serverAcceptNn,
 *   serverCompleteNn,
 * } from "@pubky/noise";
 * import { generateSnapshotKey, peekSnapshot, ResumableSession } from "@pubky/noise/sessions";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * const c = await clientStartNn(client);
 * const s = await serverAcceptNn(server, c.firstMsg);
 * const clientLink = await clientCompleteNn(client, c.hs, s.response);
 * const serverLink = serverCompleteNn(s.hs);
 * const live = ResumableSession.create(await generateSnapshotKey(), serverLink, { role: "Server" });
 * const { bytes } = await live.snapshot();
 * const header = peekSnapshot(bytes); // no key needed: index snapshots by session
 * console.log(header.version, header.generation, header.sessionId.equals(clientLink.sessionId)); // 1 1n true
 * ```
 */
export function peekSnapshot(bytes: Uint8Array): SnapshotHeader {
  if (!(bytes instanceof Uint8Array)) throw serdeError("expected a Uint8Array");
  if (bytes.length < 5 || !equalBytes(bytes.subarray(0, 4), SNAPSHOT_MAGIC)) {
    throw serdeError("not a session snapshot (bad magic)");
  }
  if (bytes[4] !== SNAPSHOT_VERSION) {
    throw serdeError(`unsupported version ${bytes[4]} (this library reads ${SNAPSHOT_VERSION})`);
  }
  if (bytes.length < MIN_SNAPSHOT_LEN) {
    throw serdeError(`truncated: ${bytes.length} bytes, at least ${MIN_SNAPSHOT_LEN} expected`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    version: bytes[4],
    generation: view.getBigUint64(5, false),
    sessionId: new SessionId(bytes.subarray(13, HEADER_LEN)),
  };
}

/** What a snapshot seals besides the transport. */
interface SealedContent {
  role: Role;
  remoteIdentity: IdentityPayload | null;
  secrets: TransportSecrets;
}

function encodeBody(content: SealedContent): Uint8Array {
  const { secrets, role, remoteIdentity } = content;
  const identity = remoteIdentity === null ? null : encodeIdentityPayload(remoteIdentity);
  if (identity !== null && identity.length > 0xffff) throw otherError("identity too large");
  const flags = (secrets.remoteStatic ? FLAG_REMOTE_STATIC : 0) |
    (identity ? FLAG_REMOTE_IDENTITY : 0);
  const len = FIXED_BODY_LEN + (secrets.remoteStatic ? 32 : 0) +
    (identity ? 2 + identity.length : 0);
  const body = new Uint8Array(len);
  const view = new DataView(body.buffer);
  body[0] = role === "Client" ? 0 : 1;
  body[1] = flags;
  let off = 2;
  body.set(secrets.sendKey, off);
  view.setBigUint64(off + 32, secrets.sendNonce, false);
  body.set(secrets.recvKey, off + 40);
  view.setBigUint64(off + 72, secrets.recvNonce, false);
  off += 80;
  if (secrets.remoteStatic) {
    body.set(secrets.remoteStatic, off);
    off += 32;
  }
  if (identity) {
    view.setUint16(off, identity.length, false);
    body.set(identity, off + 2);
  }
  return body;
}

function decodeBody(body: Uint8Array, handshakeHash: Uint8Array): SealedContent {
  if (body.length < FIXED_BODY_LEN) throw serdeError("body too short");
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (body[0] > 1) throw serdeError(`unknown role ${body[0]}`);
  const flags = body[1];
  if ((flags & ~(FLAG_REMOTE_STATIC | FLAG_REMOTE_IDENTITY)) !== 0) {
    throw serdeError(`unknown flags ${flags}`);
  }
  let off = 2;
  const secrets: TransportSecrets = {
    sendKey: copyBytes(body, off, off + 32),
    sendNonce: view.getBigUint64(off + 32, false),
    recvKey: copyBytes(body, off + 40, off + 72),
    recvNonce: view.getBigUint64(off + 72, false),
    handshakeHash,
    remoteStatic: null,
  };
  off += 80;
  try {
    if (secrets.sendNonce > MAX_NONCE || secrets.recvNonce > MAX_NONCE) {
      throw serdeError("nonce out of range");
    }
    if (flags & FLAG_REMOTE_STATIC) {
      if (body.length < off + 32) throw serdeError("body too short for the remote static key");
      secrets.remoteStatic = copyBytes(body, off, off + 32);
      off += 32;
    }
    let remoteIdentity: IdentityPayload | null = null;
    if (flags & FLAG_REMOTE_IDENTITY) {
      if (body.length < off + 2) throw serdeError("body too short for the identity");
      const n = view.getUint16(off, false);
      if (body.length < off + 2 + n) throw serdeError("body too short for the identity");
      remoteIdentity = decodeIdentityPayload(body.subarray(off + 2, off + 2 + n));
      off += 2 + n;
    }
    if (off !== body.length) throw serdeError(`${body.length - off} trailing bytes`);
    return { role: body[0] === 0 ? "Client" : "Server", remoteIdentity, secrets };
  } catch (e) {
    wipe(secrets.sendKey, secrets.recvKey);
    throw e instanceof NoiseError ? e : serdeError("malformed body");
  }
}

/** A snapshot ready to encrypt: header (the AAD) and body (secret). */
interface Prepared {
  header: Uint8Array;
  body: Uint8Array;
}

/**
 * @internal Reads `link`'s state synchronously into a header and a body for
 * `generation`. Throws `NoiseError` Other on a bad key, role, generation or a
 * destroyed link.
 */
export function prepareSnapshot(
  key: CryptoKey,
  link: NoiseLink,
  role: Role,
  remoteIdentity: IdentityPayload | null,
  generation: bigint,
): Prepared {
  checkKey(key);
  if (role !== "Client" && role !== "Server") throw otherError("role must be Client or Server");
  if (generation < 1n || generation > MAX_GENERATION) {
    throw otherError("generation must be from 1 to 2^64 - 1");
  }
  if (!(link instanceof NoiseLink)) throw otherError("expected a NoiseLink");
  const secrets = link.transport.exportSecretsForSnapshot();
  let body: Uint8Array;
  try {
    body = encodeBody({ role, remoteIdentity, secrets });
  } catch (e) {
    throw e instanceof NoiseError ? e : otherError("cannot encode this session");
  } finally {
    wipe(secrets.sendKey, secrets.recvKey);
  }
  const header = new Uint8Array(HEADER_LEN);
  header.set(SNAPSHOT_MAGIC, 0);
  header[4] = SNAPSHOT_VERSION;
  new DataView(header.buffer).setBigUint64(5, generation, false);
  header.set(secrets.handshakeHash, 13);
  return { header, body };
}

/** @internal Seals a prepared snapshot (the body is wiped). */
export async function sealPrepared(key: CryptoKey, prepared: Prepared): Promise<Uint8Array> {
  const { header, body } = prepared;
  const iv = crypto.getRandomValues(new Uint8Array(IV_LEN));
  try {
    const sealed = new Uint8Array(
      await crypto.subtle.encrypt(
        { name: "AES-GCM", iv, additionalData: header as Uint8Array<ArrayBuffer> },
        key,
        body as Uint8Array<ArrayBuffer>,
      ),
    );
    return concat(header, iv, sealed);
  } catch {
    throw otherError("the snapshot key refused to encrypt");
  } finally {
    wipe(body);
  }
}

/** An authentic snapshot, opened (the generation is not checked yet). */
interface Opened {
  link: NoiseLink;
  role: Role;
  remoteIdentity: IdentityPayload | null;
  generation: bigint;
}

/** @internal Authenticates and opens `bytes` (format and key checks; no generation rule). */
export async function openSnapshot(
  key: CryptoKey,
  bytes: Uint8Array,
  options: { sessionId?: SessionId; suite?: CryptoSuite } = {},
): Promise<Opened> {
  checkKey(key);
  const header = peekSnapshot(bytes);
  const cipher = (options.suite ?? await loadCryptoSuite()).cipher;
  const aad = copyBytes(bytes, 0, HEADER_LEN);
  let plain: Uint8Array;
  try {
    plain = new Uint8Array(
      await crypto.subtle.decrypt(
        {
          name: "AES-GCM",
          iv: copyBytes(bytes, HEADER_LEN, HEADER_LEN + IV_LEN),
          additionalData: aad,
        },
        key,
        copyBytes(bytes, HEADER_LEN + IV_LEN),
      ),
    );
  } catch {
    throw new NoiseError(
      NoiseErrorCode.Decryption,
      "session snapshot does not authenticate (changed, truncated, or sealed under another key)",
    );
  }
  try {
    if (options.sessionId !== undefined && !header.sessionId.equals(options.sessionId)) {
      throw new NoiseError(
        NoiseErrorCode.Decryption,
        `session snapshot is of session ${header.sessionId}, not ${options.sessionId}`,
      );
    }
    const content = decodeBody(plain, header.sessionId.toBytes());
    let transport: TransportState;
    try {
      transport = TransportState.fromSnapshot(cipher, content.secrets);
    } finally {
      wipe(content.secrets.sendKey, content.secrets.recvKey);
    }
    return {
      link: new NoiseLink(transport),
      role: content.role,
      remoteIdentity: content.remoteIdentity,
      generation: header.generation,
    };
  } finally {
    wipe(plain);
  }
}

/** @internal Refuses `generation` unless it equals the holder's `counter`. */
export function checkGeneration(generation: bigint, counter: bigint): void {
  if (generation !== counter) {
    throw new NoiseError(
      NoiseErrorCode.SessionExpired,
      generation < counter
        ? `snapshot generation ${generation} is stale (the holder's counter is ${counter}): ` +
          "it was restored already or a newer snapshot superseded it"
        : `snapshot generation ${generation} is ahead of the holder's counter ${counter}: ` +
          "the counter was not stored with the snapshot",
    );
  }
}

/**
 * @internal Calls the holder's `commit` and maps its failure: a `NoiseError` as
 * is, anything else to Storage (9000).
 */
export async function commitGeneration(
  commit: (next: bigint, current: bigint) => void | Promise<void>,
  next: bigint,
  current: bigint,
): Promise<void> {
  try {
    await commit(next, current);
  } catch (e) {
    throw e instanceof NoiseError
      ? e
      : new NoiseError(NoiseErrorCode.Storage, "could not store the snapshot generation");
  }
}

/**
 * A sealed snapshot and the counter values the holder must store with it.
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteNn, clientStartNn, DummyRing, NoiseClient, NoiseServer, serverAcceptNn,
 *   serverCompleteNn,
 * } from "@pubky/noise";
 * import { generateSnapshotKey, ResumableSession, type SessionSnapshot } from "@pubky/noise/sessions";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * const c = await clientStartNn(client);
 * const s = await serverAcceptNn(server, c.firstMsg);
 * const clientLink = await clientCompleteNn(client, c.hs, s.response);
 * const serverLink = serverCompleteNn(s.hs);
 * const live = ResumableSession.create(await generateSnapshotKey(), clientLink, { role: "Client" });
 * const snap: SessionSnapshot = await live.snapshot();
 * // Store bytes and generation in one atomic write (compare-and-set on previousGeneration).
 * console.log(snap.bytes.length, snap.generation, snap.previousGeneration); // 155 1n 0n
 * ```
 */
export interface SessionSnapshot {
  /** The sealed snapshot: store it… */
  bytes: Uint8Array;
  /** …together with this value of the counter, in one atomic write. */
  generation: bigint;
  /** The counter this snapshot supersedes: compare-and-set on it where two processes may write. */
  previousGeneration: bigint;
  /** The session it holds (also readable with {@linkcode peekSnapshot}). */
  sessionId: SessionId;
}

/**
 * Options of {@linkcode ResumableSession.restore}.
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteNn, clientStartNn, DummyRing, NoiseClient, NoiseServer, serverAcceptNn,
 *   serverCompleteNn,
 * } from "@pubky/noise";
 * import { generateSnapshotKey, ResumableSession, type RestoreOptions } from "@pubky/noise/sessions";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * const c = await clientStartNn(client);
 * const s = await serverAcceptNn(server, c.firstMsg);
 * const clientLink = await clientCompleteNn(client, c.hs, s.response);
 * const serverLink = serverCompleteNn(s.hs);
 * const key = await generateSnapshotKey();
 * const snap = await ResumableSession.create(key, serverLink, { role: "Server" }).snapshot();
 * let counter = snap.generation; // the holder's durable counter, stored with the bytes
 * const options: RestoreOptions = {
 *   generation: counter,
 *   commit: (next, current) => { // a compare-and-set in real storage
 *     if (counter !== current) throw new Error("someone else resumed it");
 *     counter = next;
 *   },
 *   sessionId: clientLink.sessionId, // refuse a snapshot of any other session
 * };
 * const resumed = await ResumableSession.restore(key, snap.bytes, options);
 * const again = await ResumableSession.restore(key, snap.bytes, { ...options, generation: counter }).catch((e) => e.codeName);
 * console.log(resumed.generation, again); // 2n SessionExpired: a snapshot resumes once
 * ```
 */
export interface RestoreOptions {
  /** The holder's counter, read together with the snapshot (a `number` must be a safe integer). */
  generation: bigint | number;
  /**
   * Stores the counter `next` (= `current` + 1) durably; awaited before the session
   * is handed out. Throw to refuse (e.g. a compare-and-set that found another
   * value than `current`); a non-`NoiseError` becomes Storage (9000).
   */
  commit: (next: bigint, current: bigint) => void | Promise<void>;
  /** Refuse a snapshot of any other session (Decryption 10000). */
  sessionId?: SessionId;
  /** Cipher backend of the restored link (default: this runtime's fastest). */
  suite?: CryptoSuite;
}

/**
 * Options of {@linkcode ResumableSession.create}.
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteNn, clientStartNn, DummyRing, NoiseClient, NoiseServer, serverAcceptNn,
 *   serverCompleteNn,
 * } from "@pubky/noise";
 * import { generateSnapshotKey, ResumableSession, type ResumableOptions } from "@pubky/noise/sessions";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * const c = await clientStartNn(client);
 * const s = await serverAcceptNn(server, c.firstMsg);
 * const clientLink = await clientCompleteNn(client, c.hs, s.response);
 * const serverLink = serverCompleteNn(s.hs);
 * const options: ResumableOptions = { role: "Client", remoteIdentity: null, generation: 41n }; // the stored counter
 * const live = ResumableSession.create(await generateSnapshotKey(), clientLink, options);
 * console.log((await live.snapshot()).generation); // 42n
 * ```
 */
export interface ResumableOptions {
  /** Our side of the session. */
  role: Role;
  /** The peer's verified identity, if known (kept in the snapshot). */
  remoteIdentity?: IdentityPayload | null;
  /** The holder's counter for this session (default 0: nothing stored yet). */
  generation?: bigint | number;
}

/**
 * A {@linkcode NoiseLink} that can be saved and resumed: see the module
 * documentation for the rules the holder must follow.
 *
 * @example
 * ```ts
 * import {
 *   clientCompleteNn, clientStartNn, DummyRing, NoiseClient, NoiseServer, serverAcceptNn,
 *   serverCompleteNn,
 * } from "@pubky/noise";
 * import { generateSnapshotKey, ResumableSession } from "@pubky/noise/sessions";
 * const ring = await DummyRing.create(new Uint8Array(32).fill(1), "kid");
 * const client = new NoiseClient("kid", "client-device-0001", ring);
 * const server = new NoiseServer("kid", "server-device-0001", ring);
 * const c = await clientStartNn(client);
 * const s = await serverAcceptNn(server, c.firstMsg);
 * const clientLink = await clientCompleteNn(client, c.hs, s.response);
 * const serverLink = serverCompleteNn(s.hs);
 * const key = await generateSnapshotKey();
 * const live = ResumableSession.create(key, serverLink, { role: "Server" });
 * console.log(new TextDecoder().decode(live.link.decrypt(clientLink.encrypt(new TextEncoder().encode("one")))));
 * const snap = await live.snapshot(); // on suspend: store bytes + generation, then drop the session
 * live.destroy();
 * const resumed = await ResumableSession.restore(key, snap.bytes, { generation: snap.generation, commit: () => {} });
 * console.log(new TextDecoder().decode(resumed.link.decrypt(clientLink.encrypt(new TextEncoder().encode("two")))));
 * // one, then two: same session, next nonce, no new handshake
 * ```
 */
export class ResumableSession {
  /** The link: encrypt and decrypt on it as usual. */
  readonly link: NoiseLink;
  /** Our side. */
  readonly role: Role;
  /** The peer's verified identity, if known. */
  readonly remoteIdentity: IdentityPayload | null;
  readonly #key: CryptoKey;
  #generation: bigint;

  private constructor(
    key: CryptoKey,
    link: NoiseLink,
    role: Role,
    remoteIdentity: IdentityPayload | null,
    generation: bigint,
  ) {
    this.#key = key;
    this.link = link;
    this.role = role;
    this.remoteIdentity = remoteIdentity;
    this.#generation = generation;
  }

  /**
   * Wraps a live link (fresh from a handshake). `key` must be a non-extractable
   * AES-GCM key (`NoiseError` Other otherwise).
   */
  static create(key: CryptoKey, link: NoiseLink, options: ResumableOptions): ResumableSession {
    checkKey(key);
    if (!(link instanceof NoiseLink)) throw otherError("expected a NoiseLink");
    if (options?.role !== "Client" && options?.role !== "Server") {
      throw otherError("role must be Client or Server");
    }
    return new ResumableSession(
      key,
      link,
      options.role,
      options.remoteIdentity ?? null,
      toGeneration(options.generation ?? 0n, "generation"),
    );
  }

  /**
   * Resumes a snapshot: authenticates it, checks that its generation equals the
   * holder's counter, awaits `commit(counter + 1)`, and returns the session,
   * ready to continue. Errors: see the module documentation; on any failure
   * nothing is returned and the restored keys are wiped.
   */
  static async restore(
    key: CryptoKey,
    bytes: Uint8Array,
    options: RestoreOptions,
  ): Promise<ResumableSession> {
    if (typeof options?.commit !== "function") {
      throw otherError("restore needs a commit function that stores the new generation");
    }
    const counter = toGeneration(options.generation, "generation");
    const opened = await openSnapshot(key, bytes, options);
    try {
      checkGeneration(opened.generation, counter);
      const next = counter + 1n;
      if (next > MAX_GENERATION) throw otherError("generation exhausted");
      await commitGeneration(options.commit, next, counter);
      return new ResumableSession(key, opened.link, opened.role, opened.remoteIdentity, next);
    } catch (e) {
      opened.link.destroy();
      throw e;
    }
  }

  /** The session id. */
  get sessionId(): SessionId {
    return this.link.sessionId;
  }

  /** The holder's counter as this session knows it (the generation of its last snapshot or restore). */
  get generation(): bigint {
    return this.#generation;
  }

  /**
   * Seals the current state (read synchronously at the call) at the next
   * generation. Store `bytes` and `generation` in one atomic write before any
   * ciphertext made after the previous snapshot leaves the process.
   */
  snapshot(): Promise<SessionSnapshot> {
    const previousGeneration = this.#generation;
    const generation = previousGeneration + 1n;
    let prepared: Prepared;
    try {
      prepared = prepareSnapshot(this.#key, this.link, this.role, this.remoteIdentity, generation);
    } catch (e) {
      return Promise.reject(e);
    }
    this.#generation = generation;
    return sealPrepared(this.#key, prepared).then((bytes) => ({
      bytes,
      generation,
      previousGeneration,
      sessionId: this.link.sessionId,
    }));
  }

  /** Wipes the keys. */
  destroy(): void {
    this.link.destroy();
  }

  /** Redacted. */
  toString(): string {
    return `ResumableSession(${this.link.sessionId}, generation ${this.#generation})`;
  }
  /** Redacted. */
  toJSON(): { sessionId: string; role: Role; generation: string } {
    return {
      sessionId: this.link.sessionId.toString(),
      role: this.role,
      generation: this.#generation.toString(),
    };
  }
}
inspectAsString(ResumableSession);
