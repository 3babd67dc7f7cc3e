/**
 * Handshake patterns (Noise spec §7), written as the spec writes them: pre-messages,
 * then message patterns of tokens. Only the three Pubky uses are defined; the state
 * machine in `handshake_state.ts` runs any pattern of this shape.
 *
 * @module
 */

/**
 * A token of a message pattern (spec §7.1; no PSK).
 *
 * @example
 * ```ts
 * import { IK, NN, type Token, XX } from "@pubky/noise";
 * const dhCount = (messages: readonly (readonly Token[])[]) =>
 *   messages.flat().filter((t) => t !== "e" && t !== "s").length;
 * console.log(dhCount(NN.messages), dhCount(XX.messages), dhCount(IK.messages)); // 1 3 4
 * ```
 */
export type Token = "e" | "s" | "ee" | "es" | "se" | "ss";

/**
 * A handshake pattern: `->` messages are the initiator's, `<-` the responder's.
 *
 * @example
 * ```ts
 * import { type HandshakePattern, IK } from "@pubky/noise";
 * const show = (p: HandshakePattern) => [
 *   ...p.responderPreMessage.map((t) => `<- ${t} (known in advance)`),
 *   ...p.messages.map((m, i) => `${i % 2 === 0 ? "->" : "<-"} ${m.join(", ")}`),
 * ];
 * console.log(show(IK)); // [ "<- s (known in advance)", "-> e, es, s, ss", "<- e, ee, se" ]
 * ```
 */
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
 *
 * @example
 * ```ts
 * import { HandshakeState, loadCryptoSuite, NN } from "@pubky/noise";
 * const suite = await loadCryptoSuite();
 * const a = new HandshakeState({ suite, pattern: NN, initiator: true });
 * const b = new HandshakeState({ suite, pattern: NN, initiator: false });
 * await b.readMessage(await a.writeMessage());
 * await a.readMessage(await b.writeMessage());
 * console.log(a.isComplete, a.remoteStatic); // true null: encrypted, but nobody is authenticated
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
 *
 * @example
 * ```ts
 * import { HandshakeState, loadCryptoSuite, toHex, XX } from "@pubky/noise";
 * const suite = await loadCryptoSuite();
 * const [is, rs] = await Promise.all([suite.dh.generateKeyPair(), suite.dh.generateKeyPair()]);
 * const i = new HandshakeState({ suite, pattern: XX, initiator: true, s: is });
 * const r = new HandshakeState({ suite, pattern: XX, initiator: false, s: rs });
 * await r.readMessage(await i.writeMessage());
 * await i.readMessage(await r.writeMessage());
 * await r.readMessage(await i.writeMessage());
 * console.log(toHex(i.remoteStatic!) === toHex(rs.publicKey), XX.messages.length); // true 3: learnt in-band
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
 *
 * @example
 * ```ts
 * import { HandshakeState, IK, loadCryptoSuite } from "@pubky/noise";
 * const suite = await loadCryptoSuite();
 * const [is, rs] = await Promise.all([suite.dh.generateKeyPair(), suite.dh.generateKeyPair()]);
 * const i = new HandshakeState({ suite, pattern: IK, initiator: true, s: is, rs: rs.publicKey }); // pinned
 * const r = new HandshakeState({ suite, pattern: IK, initiator: false, s: rs });
 * const early = await r.readMessage(await i.writeMessage(new TextEncoder().encode("hello"))); // encrypted already
 * await i.readMessage(await r.writeMessage());
 * console.log(new TextDecoder().decode(early), i.isComplete); // hello true: one round trip
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
