/**
 * Handshake patterns (Noise spec §7), written as the spec writes them: pre-messages,
 * then message patterns of tokens. Only the three Pubky uses are defined; the state
 * machine in `handshake_state.ts` runs any pattern of this shape.
 *
 * @module
 */

/** A token of a message pattern (spec §7.1; no PSK). */
export type Token = "e" | "s" | "ee" | "es" | "se" | "ss";

/** A handshake pattern: `->` messages are the initiator's, `<-` the responder's. */
export interface HandshakePattern {
  /** The pattern's name in a protocol name, e.g. `"XX"`. */
  readonly name: string;
  /** Pre-message keys of the initiator (`->` before `...`). */
  readonly initiatorPreMessage: readonly ("e" | "s")[];
  /** Pre-message keys of the responder (`<-` before `...`). */
  readonly responderPreMessage: readonly ("e" | "s")[];
  /** The message patterns, alternating initiator, responder, initiator, ... */
  readonly messages: readonly (readonly Token[])[];
}

/**
 * `NN`: no static keys.
 * ```
 *   -> e
 *   <- e, ee
 * ```
 */
export const NN: HandshakePattern = {
  name: "NN",
  initiatorPreMessage: [],
  responderPreMessage: [],
  messages: [["e"], ["e", "ee"]],
};

/**
 * `XX`: both statics are transmitted (first contact, trust on first use).
 * ```
 *   -> e
 *   <- e, ee, s, es
 *   -> s, se
 * ```
 */
export const XX: HandshakePattern = {
  name: "XX",
  initiatorPreMessage: [],
  responderPreMessage: [],
  messages: [["e"], ["e", "ee", "s", "es"], ["s", "se"]],
};

/**
 * `IK`: the initiator knows the responder's static in advance (pinned).
 * ```
 *   <- s
 *   ...
 *   -> e, es, s, ss
 *   <- e, ee, se
 * ```
 */
export const IK: HandshakePattern = {
  name: "IK",
  initiatorPreMessage: [],
  responderPreMessage: ["s"],
  messages: [["e", "es", "s", "ss"], ["e", "ee", "se"]],
};

/** The patterns this library runs, by name. */
export const PATTERNS: Readonly<Record<string, HandshakePattern>> = { NN, XX, IK };

/** The only cipher suite of Pubky: DH, cipher and hash names in a protocol name. */
export const SUITE_NAME = "25519_ChaChaPoly_BLAKE2s";

/** The full protocol name of `pattern`, e.g. `Noise_XX_25519_ChaChaPoly_BLAKE2s`. */
export function protocolName(pattern: HandshakePattern): string {
  return `Noise_${pattern.name}_${SUITE_NAME}`;
}
