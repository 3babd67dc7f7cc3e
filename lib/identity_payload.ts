/**
 * The identity payload: the JSON document that each side of a pubky-noise handshake
 * carries inside an encrypted Noise handshake message, binding a long-term Ed25519
 * identity to the Noise session.
 *
 * On the wire it is exactly what the Rust crate
 * [`pubky-noise`](https://github.com/BitcoinErrorLog/pubky-noise) (1.2.0, `src/identity_payload.rs`)
 * produces with `serde_json::to_vec`: compact JSON, keys in declaration order, no whitespace.
 *
 * ```text
 * {"ed25519_pub":[138,136,…32 integers],"role":"Client","server_hint":null,"sig":[13,168,…64 integers]}
 * {"ed25519_pub":[…],"role":"Client","server_hint":"host","hint_expires_at":1700000300,"sig":[…]}
 * ```
 *
 * - `ed25519_pub`: array of 32 integers 0–255.
 * - `role`: `"Client"` or `"Server"` (exact case).
 * - `server_hint`: a string, or `null` (the key is always written).
 * - `hint_expires_at`: Unix seconds (u64); the key is omitted when there is no value.
 * - `sig`: array of 64 integers 0–255 (the Ed25519 signature of the binding message).
 *
 * Strings are escaped as serde_json does: `\"`, `\\`, `\b \f \n \r \t`, other control
 * characters as `\u00xx` (lowercase hex); everything else, `/`, DEL and non-ASCII included,
 * is written raw as UTF-8.
 *
 * Decoding follows serde_json + `#[derive(Deserialize)]`: any key order and JSON whitespace,
 * unknown fields ignored (so legacy payloads with `noise_x25519_pub`/`epoch` still parse),
 * missing `server_hint`/`hint_expires_at` read as `null`, duplicate known fields rejected,
 * strict JSON grammar. The parser is written here rather than using `JSON.parse`, which
 * accepts duplicate keys and rounds large integers. Every failure is a
 * {@linkcode NoiseError} with code `Serde` (4000) whose detail is serde_json's message;
 * syntax errors end with `at line L column C` (column counted in UTF-16 units), data errors
 * (`missing field`, `invalid type`, …) carry no position.
 *
 * Deliberate differences from serde_json, on inputs the Rust crate never writes itself: the
 * whole input must be valid UTF-8 and every string free of lone surrogate escapes (serde_json
 * does not check strings inside ignored fields); arrays and objects may nest at most 128
 * levels, counting the top-level object (serde_json skips unknown values without a limit);
 * `hint_expires_at` above 2^53 − 1 is rejected (a JavaScript number cannot hold it exactly);
 * the sequence form of the struct (`[ed25519_pub, role, …]`) and the map form of the role
 * (`{"Client":null}`) are rejected.
 *
 * @module
 */
import { NoiseError, NoiseErrorCode } from "./errors.ts";

/**
 * Which side of the handshake wrote the payload (Rust `enum Role`, serialized as the
 * variant name).
 *
 * @example
 * ```ts
 * import type { Role } from "@pubky/noise";
 * const role: Role = "Client";
 * console.log(role); // "Client"
 * ```
 */
export type Role = "Client" | "Server";

/**
 * The decoded identity payload (Rust `struct IdentityPayload`), with camel-case names.
 *
 * @example
 * ```ts
 * import type { IdentityPayload } from "@pubky/noise";
 * const payload: IdentityPayload = {
 *   ed25519Pub: new Uint8Array(32),
 *   role: "Server",
 *   serverHint: null,
 *   hintExpiresAt: 1700000300,
 *   sig: new Uint8Array(64),
 * };
 * console.log(payload.role); // "Server"
 * ```
 */
export interface IdentityPayload {
  /** The sender's Ed25519 public key (32 bytes), `ed25519_pub` on the wire. */
  ed25519Pub: Uint8Array;
  /** The sender's role, `role` on the wire. */
  role: Role;
  /** Free-form routing hint chosen by the client, or `null` (`server_hint`). */
  serverHint: string | null;
  /**
   * Expiry of the hint in Unix seconds, or `null` when absent (`hint_expires_at`).
   * An integer in [0, 2^53 − 1].
   */
  hintExpiresAt: number | null;
  /** Ed25519 signature of the binding message (64 bytes), `sig` on the wire. */
  sig: Uint8Array;
}

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

function serdeError(detail: string): NoiseError {
  return new NoiseError(NoiseErrorCode.Serde, detail);
}

/** The serde_json short escapes; other control characters become `\u00xx`. */
const SHORT_ESCAPES: Record<number, string> = {
  0x08: "\\b",
  0x09: "\\t",
  0x0a: "\\n",
  0x0c: "\\f",
  0x0d: "\\r",
  0x22: '\\"',
  0x5c: "\\\\",
};

/** A JSON string literal as serde_json writes it; throws on lone surrogates. */
function quote(text: string): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = text.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        i++; // a well-formed surrogate pair: written raw
        continue;
      }
      throw serdeError("server_hint is not valid Unicode: it contains a lone surrogate");
    }
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c) continue;
    out += text.slice(start, i) + (SHORT_ESCAPES[c] ?? "\\u00" + c.toString(16).padStart(2, "0"));
    start = i + 1;
  }
  return out + text.slice(start) + '"';
}

function byteArray(bytes: unknown, length: number, field: string): string {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    const got = bytes instanceof Uint8Array ? `${bytes.length} bytes` : typeof bytes;
    throw serdeError(`${field} must be ${length} bytes, got ${got}`);
  }
  return "[" + bytes.join(",") + "]";
}

/**
 * Serializes `payload` to the exact bytes of Rust `serde_json::to_vec(&IdentityPayload)`.
 *
 * @param payload the fields; `ed25519Pub` must be 32 bytes, `sig` 64 bytes, `serverHint`
 *   a well-formed string or `null`, `hintExpiresAt` an integer in [0, 2^53 − 1] or `null`
 * @returns compact UTF-8 JSON
 * @throws {NoiseError} `Serde` (4000) when a field has the wrong type, length or range
 *
 * @example
 * ```ts
 * import { encodeIdentityPayload } from "@pubky/noise";
 * const bytes = encodeIdentityPayload({
 *   ed25519Pub: new Uint8Array(32),
 *   role: "Client",
 *   serverHint: null,
 *   hintExpiresAt: null,
 *   sig: new Uint8Array(64),
 * });
 * console.log(new TextDecoder().decode(bytes).slice(0, 20)); // {"ed25519_pub":[0,0,
 * ```
 */
export function encodeIdentityPayload(payload: IdentityPayload): Uint8Array {
  if (typeof payload !== "object" || payload === null) {
    throw serdeError("identity payload must be an object");
  }
  const { role, serverHint, hintExpiresAt } = payload;
  let json = `{"ed25519_pub":${byteArray(payload.ed25519Pub, 32, "ed25519_pub")}`;
  if (role !== "Client" && role !== "Server") {
    throw serdeError(`role must be "Client" or "Server", got ${describeValue(role)}`);
  }
  json += `,"role":"${role}"`;
  if (serverHint === null) {
    json += ',"server_hint":null';
  } else if (typeof serverHint === "string") {
    json += `,"server_hint":${quote(serverHint)}`;
  } else {
    throw serdeError(`server_hint must be a string or null, got ${describeValue(serverHint)}`);
  }
  if (hintExpiresAt !== null) {
    if (!Number.isSafeInteger(hintExpiresAt) || hintExpiresAt < 0) {
      throw serdeError(
        `hint_expires_at must be an integer in [0, 2^53 - 1] or null, got ${
          describeValue(hintExpiresAt)
        }`,
      );
    }
    json += `,"hint_expires_at":${hintExpiresAt}`;
  }
  json += `,"sig":${byteArray(payload.sig, 64, "sig")}}`;
  return new TextEncoder().encode(json);
}

function describeValue(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : `${typeof value} ${String(value)}`;
}

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

/** Default cap on the encoded size accepted by `decodeIdentityPayload` (a Noise message). */
const DEFAULT_MAX_LEN = 65535;

/** Deepest nesting of arrays/objects accepted, counting the top-level object. */
const MAX_DEPTH = 128;

const U64_MAX = 18446744073709551615n;

const FIELDS = ["ed25519_pub", "role", "server_hint", "hint_expires_at", "sig"] as const;
type Field = typeof FIELDS[number];

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isWhitespace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** The text of a scanned JSON number, and whether serde_json would read it as a float. */
interface NumberToken {
  text: string;
  float: boolean;
}

/** Strict UTF-8, BOM kept as text (serde_json refuses it as a character). Stateless per call. */
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** A strict JSON reader over the decoded text, with serde_json's error texts. */
class Reader {
  readonly #src: string;
  #pos = 0;

  constructor(src: string) {
    this.#src = src;
  }

  /** A syntax error at the current position (`… at line L column C`, like serde_json). */
  syntax(message: string): NoiseError {
    const before = this.#src.slice(0, Math.min(this.#pos + 1, this.#src.length));
    const lineStart = before.lastIndexOf("\n") + 1;
    let line = 1;
    for (let i = 0; i < lineStart; i++) if (this.#src.charCodeAt(i) === 0x0a) line++;
    return serdeError(`${message} at line ${line} column ${before.length - lineStart}`);
  }

  /** Skips whitespace and returns the next character code, or -1 at the end. */
  peek(): number {
    while (this.#pos < this.#src.length && isWhitespace(this.#src.charCodeAt(this.#pos))) {
      this.#pos++;
    }
    return this.#pos < this.#src.length ? this.#src.charCodeAt(this.#pos) : -1;
  }

  /** Consumes one character (already inspected with `peek`). */
  bump(): void {
    this.#pos++;
  }

  atEnd(): boolean {
    return this.peek() === -1;
  }

  /** After `[` or `{` and an element: consumes `,` (then `true`) or the closer (`false`). */
  next(close: "]" | "}"): boolean {
    const c = this.peek();
    if (c === 0x2c) {
      this.bump();
      if (this.peek() === close.charCodeAt(0)) throw this.syntax("trailing comma");
      return true;
    }
    if (c === close.charCodeAt(0)) {
      this.bump();
      return false;
    }
    if (c === -1) {
      throw this.syntax(close === "]" ? "EOF while parsing a list" : "EOF while parsing an object");
    }
    throw this.syntax(`expected \`,\` or \`${close}\``);
  }

  /** Reads an object key and its colon. */
  key(): string {
    const c = this.peek();
    if (c === -1) throw this.syntax("EOF while parsing an object");
    if (c !== 0x22) throw this.syntax("key must be a string");
    const key = this.string();
    const colon = this.peek();
    if (colon === -1) throw this.syntax("EOF while parsing an object");
    if (colon !== 0x3a) throw this.syntax("expected `:`");
    this.bump();
    return key;
  }

  /** Reads `true`, `false` or `null` (the first letter is the current character). */
  literal(): "true" | "false" | "null" {
    const word = this.#src.charCodeAt(this.#pos) === 0x74
      ? "true"
      : this.#src.charCodeAt(this.#pos) === 0x66
      ? "false"
      : "null";
    for (let i = 0; i < word.length; i++, this.#pos++) {
      if (this.#pos >= this.#src.length) throw this.syntax("EOF while parsing a value");
      if (this.#src[this.#pos] !== word[i]) throw this.syntax("expected ident");
    }
    return word;
  }

  /** Consumes a `null` and returns `true` when the next value starts with `n`. */
  takeNull(): boolean {
    if (this.peek() !== 0x6e) return false;
    this.literal(); // throws unless the word is exactly `null`
    return true;
  }

  /** Scans a number (the current character is `-` or a digit). */
  number(): NumberToken {
    const src = this.#src;
    const start = this.#pos;
    const digits = (): void => {
      if (!isDigit(src.charCodeAt(this.#pos))) throw this.syntax("invalid number");
      while (isDigit(src.charCodeAt(this.#pos))) this.#pos++;
    };
    if (src.charCodeAt(this.#pos) === 0x2d) this.#pos++;
    if (src.charCodeAt(this.#pos) === 0x30) {
      this.#pos++;
      if (isDigit(src.charCodeAt(this.#pos))) throw this.syntax("invalid number");
    } else {
      digits();
    }
    let float = false;
    if (src.charCodeAt(this.#pos) === 0x2e) {
      this.#pos++;
      digits();
      float = true;
    }
    if ((src.charCodeAt(this.#pos) | 0x20) === 0x65) {
      this.#pos++;
      const sign = src.charCodeAt(this.#pos);
      if (sign === 0x2b || sign === 0x2d) this.#pos++;
      digits();
      float = true;
    }
    const text = src.slice(start, this.#pos);
    // serde_json reads `-0` as the float -0.0.
    return { text, float: float || text === "-0" };
  }

  /** Reads a string literal (the current character is `"`), resolving escapes. */
  string(): string {
    const src = this.#src;
    this.#pos++;
    let out = "";
    let start = this.#pos;
    for (;;) {
      if (this.#pos >= src.length) throw this.syntax("EOF while parsing a string");
      const c = src.charCodeAt(this.#pos);
      if (c === 0x22) {
        out += src.slice(start, this.#pos++);
        return out;
      }
      if (c < 0x20) {
        throw this.syntax("control character (\\u0000-\\u001F) found while parsing a string");
      }
      if (c !== 0x5c) {
        this.#pos++;
        continue;
      }
      out += src.slice(start, this.#pos++);
      out += this.#escape();
      start = this.#pos;
    }
  }

  /** One escape sequence, after its backslash. */
  #escape(): string {
    if (this.#pos >= this.#src.length) throw this.syntax("EOF while parsing a string");
    const e = this.#src[this.#pos++];
    switch (e) {
      case '"':
      case "\\":
      case "/":
        return e;
      case "b":
        return "\b";
      case "f":
        return "\f";
      case "n":
        return "\n";
      case "r":
        return "\r";
      case "t":
        return "\t";
      case "u": {
        const unit = this.#hex4();
        if (unit >= 0xdc00 && unit <= 0xdfff) {
          throw this.syntax("invalid unicode code point (lone trailing surrogate)");
        }
        if (unit < 0xd800 || unit > 0xdbff) return String.fromCharCode(unit);
        if (this.#src.slice(this.#pos, this.#pos + 2) !== "\\u") {
          throw this.syntax("lone leading surrogate in hex escape");
        }
        this.#pos += 2;
        const low = this.#hex4();
        if (low < 0xdc00 || low > 0xdfff) {
          throw this.syntax("lone leading surrogate in hex escape");
        }
        return String.fromCharCode(unit, low);
      }
      default:
        throw this.syntax("invalid escape");
    }
  }

  #hex4(): number {
    const hex = this.#src.slice(this.#pos, this.#pos + 4);
    if (hex.length < 4) throw this.syntax("EOF while parsing a string");
    if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw this.syntax("invalid escape");
    this.#pos += 4;
    return parseInt(hex, 16);
  }

  /**
   * Skips any valid JSON value; `depth` is the number of arrays/objects already open.
   * Recursion is bounded by {@linkcode MAX_DEPTH}.
   */
  skipValue(depth: number): void {
    const c = this.peek();
    if (c === 0x5b || c === 0x7b) {
      if (depth >= MAX_DEPTH) throw this.syntax("recursion limit exceeded");
      this.bump();
      const close = c === 0x5b ? "]" : "}";
      if (this.peek() === close.charCodeAt(0)) return this.bump();
      do {
        if (close === "}") this.key();
        this.skipValue(depth + 1);
      } while (this.next(close));
    } else if (c === 0x22) {
      this.string();
    } else if (c === 0x2d || isDigit(c)) {
      this.number();
    } else if (c === 0x74 || c === 0x66 || c === 0x6e) {
      this.literal();
    } else if (c === -1) {
      throw this.syntax("EOF while parsing a value");
    } else {
      throw this.syntax("expected value");
    }
  }

  /**
   * Throws serde's `invalid type: <what was found>, expected <expected>` for the value at
   * the current position (or the syntax error that value contains).
   */
  invalidType(expected: string): never {
    const c = this.peek();
    let found: string;
    if (c === 0x22) {
      const s = this.string();
      found = `string ${JSON.stringify(s.length > 64 ? s.slice(0, 64) + "…" : s)}`;
    } else if (c === 0x2d || isDigit(c)) {
      const n = this.number();
      found = `${n.float ? "floating point" : "integer"} \`${n.text}\``;
    } else if (c === 0x74 || c === 0x66 || c === 0x6e) {
      const word = this.literal();
      found = word === "null" ? "null" : `boolean \`${word}\``;
    } else if (c === 0x5b) {
      found = "sequence";
    } else if (c === 0x7b) {
      found = "map";
    } else {
      this.skipValue(MAX_DEPTH); // throws the right syntax error
      found = "value";
    }
    throw serdeError(`invalid type: ${found}, expected ${expected}`);
  }

  /** Reads a JSON integer into `u8` or `u64` range (u64 further limited to 2^53 − 1). */
  unsigned(kind: "u8" | "u64"): number {
    const c = this.peek();
    if (c !== 0x2d && !isDigit(c)) this.invalidType(kind);
    const { text, float } = this.number();
    if (float) throw serdeError(`invalid type: floating point \`${text}\`, expected ${kind}`);
    if (text.startsWith("-")) {
      throw serdeError(`invalid value: integer \`${text}\`, expected ${kind}`);
    }
    if (kind === "u8") {
      if (text.length > 3 || Number(text) > 255) {
        throw serdeError(`invalid value: integer \`${text}\`, expected u8`);
      }
      return Number(text);
    }
    if (text.length > 20 || BigInt(text) > U64_MAX) {
      throw serdeError(`number out of range: \`${text}\` does not fit in u64`);
    }
    const value = Number(text);
    if (!Number.isSafeInteger(value)) {
      throw serdeError(
        `invalid value: integer \`${text}\` is beyond 2^53 - 1, the largest hint_expires_at ` +
          "this implementation supports (JavaScript safe integer range)",
      );
    }
    return value;
  }

  /**
   * A plain `0`–`255` right at the cursor, directly followed by `,` or `]` (all that
   * serde_json writes in a byte array): consumed, and its value returned. Anything else
   * returns -1 and consumes nothing, for `unsigned` to read or reject with its exact error.
   */
  plainU8(): number {
    const src = this.#src;
    let pos = this.#pos;
    let c = src.charCodeAt(pos);
    if (!isDigit(c)) return -1;
    let value = c - 0x30;
    c = src.charCodeAt(++pos);
    if (value !== 0) { // a leading zero takes no more digits
      for (let k = 0; k < 2 && isDigit(c); k++) {
        value = value * 10 + c - 0x30;
        c = src.charCodeAt(++pos);
      }
    }
    if ((c !== 0x2c && c !== 0x5d) || value > 255) return -1;
    this.#pos = pos;
    return value;
  }

  /** Reads a JSON array of u8 integers (at any length; callers check it). */
  bytes(expected: string): Uint8Array {
    if (this.peek() !== 0x5b) this.invalidType(expected);
    this.bump();
    const out: number[] = [];
    if (this.peek() === 0x5d) {
      this.bump();
    } else {
      do {
        const plain = this.plainU8();
        out.push(plain >= 0 ? plain : this.unsigned("u8"));
      } while (this.next("]"));
    }
    return Uint8Array.from(out);
  }
}

/** Reads the value of one known field. */
function readField(reader: Reader, field: Field): Uint8Array | Role | string | number | null {
  switch (field) {
    case "ed25519_pub": {
      const bytes = reader.bytes("an array of length 32");
      if (bytes.length !== 32) {
        throw serdeError(`invalid length ${bytes.length}, expected an array of length 32`);
      }
      return bytes;
    }
    case "sig": {
      const bytes = reader.bytes("a sequence");
      if (bytes.length !== 64) throw serdeError("signature must be 64 bytes");
      return bytes;
    }
    case "role": {
      if (reader.peek() !== 0x22) reader.invalidType("enum Role");
      const variant = reader.string();
      if (variant !== "Client" && variant !== "Server") {
        throw serdeError(`unknown variant \`${variant}\`, expected \`Client\` or \`Server\``);
      }
      return variant;
    }
    case "server_hint": {
      if (reader.takeNull()) return null;
      if (reader.peek() !== 0x22) reader.invalidType("a string");
      return reader.string();
    }
    case "hint_expires_at": {
      if (reader.takeNull()) return null;
      return reader.unsigned("u64");
    }
  }
}

/**
 * Parses an identity payload as Rust `serde_json::from_slice::<IdentityPayload>` does
 * (see the module documentation for the rules and the few deliberate differences).
 *
 * @param bytes the UTF-8 JSON taken from a decrypted Noise handshake message
 * @param maxLen largest accepted `bytes.length` (default 65535, the Noise message limit);
 *   longer input is rejected before parsing
 * @returns the payload; `serverHint`/`hintExpiresAt` are `null` when absent
 * @throws {NoiseError} `Serde` (4000) with a serde_json-like message on any malformed,
 *   oversized or out-of-range input
 *
 * @example
 * ```ts
 * import { decodeIdentityPayload } from "@pubky/noise";
 * const ed = Array(32).fill(1).join(",");
 * const sig = Array(64).fill(2).join(",");
 * const json = `{"role":"Server","ed25519_pub":[${ed}],"epoch":0,"sig":[${sig}]}`;
 * const payload = decodeIdentityPayload(new TextEncoder().encode(json));
 * console.log(payload.role, payload.serverHint, payload.ed25519Pub[0]); // "Server" null 1
 * ```
 */
export function decodeIdentityPayload(
  bytes: Uint8Array,
  maxLen: number = DEFAULT_MAX_LEN,
): IdentityPayload {
  if (!(bytes instanceof Uint8Array)) throw serdeError("identity payload must be a Uint8Array");
  if (!(bytes.length <= maxLen)) {
    throw serdeError(`identity payload is ${bytes.length} bytes, more than the limit ${maxLen}`);
  }
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw serdeError("invalid unicode code point: identity payload is not valid UTF-8");
  }

  const reader = new Reader(text);
  const c = reader.peek();
  if (c === -1) throw reader.syntax("EOF while parsing a value");
  if (c !== 0x7b) reader.invalidType("struct IdentityPayload");
  reader.bump();

  const seen = new Map<Field, ReturnType<typeof readField>>();
  if (reader.peek() === 0x7d) {
    reader.bump();
  } else {
    do {
      const key = reader.key();
      if ((FIELDS as readonly string[]).includes(key)) {
        const field = key as Field;
        if (seen.has(field)) throw serdeError(`duplicate field \`${field}\``);
        seen.set(field, readField(reader, field));
      } else {
        reader.skipValue(1);
      }
    } while (reader.next("}"));
  }
  // serde reports a missing field before looking past the object.
  for (const field of ["ed25519_pub", "role", "sig"] as const) {
    if (!seen.has(field)) throw serdeError(`missing field \`${field}\``);
  }
  if (!reader.atEnd()) throw reader.syntax("trailing characters");
  return {
    ed25519Pub: seen.get("ed25519_pub") as Uint8Array,
    role: seen.get("role") as Role,
    serverHint: (seen.get("server_hint") ?? null) as string | null,
    hintExpiresAt: (seen.get("hint_expires_at") ?? null) as number | null,
    sig: seen.get("sig") as Uint8Array,
  };
}
