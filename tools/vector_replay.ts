/**
 * Replays cacophony-format Noise test vectors (the format of cacophony, snow and
 * noise-c) through our HandshakeState: every handshake and transport message
 * must come out byte for byte, every payload must decrypt, and the handshake
 * hash must match where the vector gives one.
 *
 * @module
 */
import { equalBytes, fromHex, toHex } from "../lib/bytes.ts";
import type { CryptoSuite } from "../lib/crypto/suite.ts";
import { HandshakeState } from "../lib/noise/handshake_state.ts";
import { PATTERNS, SUITE_NAME } from "../lib/noise/patterns.ts";
import type { TransportState } from "../lib/noise/transport_state.ts";

/** One vector as found in the JSON files (cacophony or the older noise-c field set). */
export interface NoiseVector {
  protocol_name?: string;
  name?: string;
  fallback?: boolean;
  init_psks?: string[];
  resp_psks?: string[];
  init_prologue?: string;
  init_static?: string;
  init_ephemeral: string;
  init_remote_static?: string;
  resp_prologue?: string;
  resp_static?: string;
  resp_ephemeral?: string;
  resp_remote_static?: string;
  handshake_hash?: string;
  messages: { payload: string; ciphertext: string }[];
}

/** The outcome of one vector. */
export type VectorResult =
  | { status: "passed"; protocol: string }
  | { status: "skipped"; protocol: string; reason: string }
  | { status: "failed"; protocol: string; reason: string };

/** The vectors of a parsed JSON file: an array, or `{ "vectors": [...] }`. */
export function vectorsOf(json: unknown): NoiseVector[] {
  if (Array.isArray(json)) return json as NoiseVector[];
  if (json && typeof json === "object" && Array.isArray((json as { vectors?: unknown }).vectors)) {
    return (json as { vectors: NoiseVector[] }).vectors;
  }
  throw new Error('not a vector file: expected an array or {"vectors": [...]}');
}

/** Why we cannot run `v`, or `null` when we can. */
function unsupported(v: NoiseVector, protocol: string): string | null {
  if (!Array.isArray(v.messages)) return "not a handshake vector (no messages)";
  if (v.fallback) return "fallback patterns are not supported";
  if ((v.init_psks?.length ?? 0) > 0 || (v.resp_psks?.length ?? 0) > 0) return "PSK";
  const m = /^Noise_([A-Za-z0-9]+)_(.+)$/.exec(protocol);
  if (!m) return "unparsable protocol name";
  if (!(m[1] in PATTERNS)) return `pattern ${m[1]} is not supported`;
  if (m[2] !== SUITE_NAME) return `suite ${m[2]} is not supported`;
  return null;
}

/** Replays `v` with `suite`; never throws. */
export async function replayVector(v: NoiseVector, suite: CryptoSuite): Promise<VectorResult> {
  const protocol = v.protocol_name ?? v.name ?? "(unnamed)";
  const why = unsupported(v, protocol);
  if (why) return { status: "skipped", protocol, reason: why };
  const pattern = PATTERNS[/^Noise_([A-Za-z0-9]+)_/.exec(protocol)![1]];
  try {
    const key = (hex?: string) => hex ? suite.dh.importSecretKey(fromHex(hex)) : undefined;
    const init = new HandshakeState({
      suite,
      pattern,
      initiator: true,
      prologue: fromHex(v.init_prologue ?? ""),
      s: await key(v.init_static),
      rs: v.init_remote_static ? fromHex(v.init_remote_static) : null,
      testOnlyFixedEphemeral: await key(v.init_ephemeral),
    });
    const resp = new HandshakeState({
      suite,
      pattern,
      initiator: false,
      prologue: fromHex(v.resp_prologue ?? ""),
      s: await key(v.resp_static),
      rs: v.resp_remote_static ? fromHex(v.resp_remote_static) : null,
      testOnlyFixedEphemeral: await key(v.resp_ephemeral),
    });
    let transports: [TransportState, TransportState] | null = null;
    for (let i = 0; i < v.messages.length; i++) {
      const { payload, ciphertext } = v.messages[i];
      const fromInit = i % 2 === 0;
      let written: Uint8Array;
      let read: Uint8Array;
      if (transports === null) {
        const [w, r] = fromInit ? [init, resp] : [resp, init];
        written = await w.writeMessage(fromHex(payload));
        if (!equalBytes(written, fromHex(ciphertext))) {
          return { status: "failed", protocol, reason: `message ${i}: ciphertext differs` };
        }
        read = await r.readMessage(written);
        if (init.isComplete && resp.isComplete) {
          if (v.handshake_hash && toHex(init.handshakeHash) !== v.handshake_hash.toLowerCase()) {
            return { status: "failed", protocol, reason: "handshake hash differs" };
          }
          if (!equalBytes(init.handshakeHash, resp.handshakeHash)) {
            return { status: "failed", protocol, reason: "the two sides' handshake hashes differ" };
          }
          transports = [init.split(), resp.split()];
        }
      } else {
        const [w, r] = fromInit ? transports : [transports[1], transports[0]];
        written = w.writeMessage(fromHex(payload));
        if (!equalBytes(written, fromHex(ciphertext))) {
          return { status: "failed", protocol, reason: `message ${i}: ciphertext differs` };
        }
        read = r.readMessage(written);
      }
      if (!equalBytes(read, fromHex(payload))) {
        return { status: "failed", protocol, reason: `message ${i}: payload differs` };
      }
    }
    if (transports === null) return { status: "failed", protocol, reason: "handshake incomplete" };
    return { status: "passed", protocol };
  } catch (e) {
    return { status: "failed", protocol, reason: e instanceof Error ? e.message : String(e) };
  }
}
