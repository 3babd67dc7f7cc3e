import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import kat from "./vectors/pubky-kat.json" with { type: "json" };
import { fromHex, toHex, utf8 } from "../lib/bytes.ts";
import { NoiseError, NoiseErrorCode } from "../lib/errors.ts";
import {
  decodeIdentityPayload,
  encodeIdentityPayload,
  type IdentityPayload,
} from "../lib/identity_payload.ts";

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/** Asserts that `fn` throws a NoiseError with code Serde (4000) and a matching detail. */
function assertSerde(fn: () => unknown, detail?: RegExp, label?: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof NoiseError, `${label ?? ""}: expected a NoiseError, got ${err}`);
    assert.equal(err.code, NoiseErrorCode.Serde, label);
    if (detail) assert.match(err.detail, detail, label);
    return true;
  }, label);
}

const decodeText = (json: string, maxLen?: number): IdentityPayload =>
  decodeIdentityPayload(utf8(json), maxLen);

const ED = Array.from({ length: 32 }, (_, i) => i * 7 + 1); // 1, 8, 15, … 218
const SIG = Array.from({ length: 64 }, (_, i) => 255 - i * 3); // 255, 252, … 66
const ED_JSON = `[${ED.join(",")}]`;
const SIG_JSON = `[${SIG.join(",")}]`;
/** A valid payload written by hand, in Rust's field order. */
const VALID = `{"ed25519_pub":${ED_JSON},"role":"Client","server_hint":null,"sig":${SIG_JSON}}`;

function payload(overrides: Partial<IdentityPayload> = {}): IdentityPayload {
  return {
    ed25519Pub: Uint8Array.from(ED),
    role: "Client",
    serverHint: null,
    hintExpiresAt: null,
    sig: Uint8Array.from(SIG),
    ...overrides,
  };
}

interface KatPayload {
  description: string;
  ed25519_pub: string;
  role: "Client" | "Server";
  server_hint: string | null;
  hint_expires_at: number | null;
  sig: string;
  json: string;
  json_hex: string;
  json_len: number;
}

const KAT = (kat as unknown as { identity_payloads: KatPayload[] }).identity_payloads;

function katPayload(v: KatPayload): IdentityPayload {
  return {
    ed25519Pub: fromHex(v.ed25519_pub),
    role: v.role,
    serverHint: v.server_hint,
    hintExpiresAt: v.hint_expires_at,
    sig: fromHex(v.sig),
  };
}

// ---------------------------------------------------------------------------
// Known-answer vectors from the Rust crate
// ---------------------------------------------------------------------------

describe("identity payload: Rust known-answer vectors", () => {
  test("the vector file holds the three identity payloads", () => {
    assert.equal(KAT.length, 3);
  });

  for (const v of KAT) {
    test(`encodes byte for byte as serde_json does: ${v.description}`, () => {
      const bytes = encodeIdentityPayload(katPayload(v));
      assert.equal(toHex(bytes), v.json_hex);
      assert.equal(bytes.length, v.json_len);
      assert.equal(new TextDecoder().decode(bytes), v.json);
    });

    test(`decodes the serde_json bytes back to the same fields: ${v.description}`, () => {
      const decoded = decodeIdentityPayload(fromHex(v.json_hex));
      assert.deepEqual(decoded, katPayload(v));
      assert.equal(toHex(decoded.ed25519Pub), v.ed25519_pub);
      assert.equal(toHex(decoded.sig), v.sig);
    });
  }
});

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

describe("encodeIdentityPayload", () => {
  test("writes keys in Rust declaration order with hint_expires_at before sig", () => {
    const text = new TextDecoder().decode(
      encodeIdentityPayload(payload({ role: "Server", serverHint: "h", hintExpiresAt: 0 })),
    );
    assert.equal(
      text,
      `{"ed25519_pub":${ED_JSON},"role":"Server","server_hint":"h","hint_expires_at":0,` +
        `"sig":${SIG_JSON}}`,
    );
  });

  test("omits hint_expires_at when null but always writes server_hint", () => {
    assert.equal(new TextDecoder().decode(encodeIdentityPayload(payload())), VALID);
  });

  test("writes the largest safe integer hint_expires_at exactly", () => {
    const text = new TextDecoder().decode(
      encodeIdentityPayload(payload({ hintExpiresAt: Number.MAX_SAFE_INTEGER })),
    );
    assert.ok(text.includes(',"hint_expires_at":9007199254740991,'), text);
  });

  test("escapes a hint with quote, backslash, newline, U+0001 and é exactly as serde_json", () => {
    const bytes = encodeIdentityPayload(payload({ serverHint: 'a"b\\c\n\u0001é' }));
    const expected = `{"ed25519_pub":${ED_JSON},"role":"Client",` +
      '"server_hint":"a\\"b\\\\c\\n\\u0001é",' + // i.e. "a\"b\\c\n\u0001é" on the wire
      `"sig":${SIG_JSON}}`;
    assert.equal(toHex(bytes), toHex(utf8(expected)));
    // é is written raw as the two UTF-8 bytes c3 a9, not as \u00e9.
    assert.ok(toHex(bytes).includes("5c7530303031c3a9"));
  });

  test("escapes every control character like serde_json (short forms, else lowercase \\u00xx)", () => {
    const short: Record<number, string> = { 8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r" };
    for (let c = 0; c < 0x20; c++) {
      const text = new TextDecoder().decode(
        encodeIdentityPayload(payload({ serverHint: String.fromCharCode(c) })),
      );
      const escaped = short[c] ?? `\\u00${c < 16 ? "0" : "1"}${(c % 16).toString(16)}`;
      assert.ok(text.includes(`"server_hint":"${escaped}"`), `char ${c}: ${text}`);
    }
    const t = new TextDecoder().decode(encodeIdentityPayload(payload({ serverHint: "\x1f" })));
    assert.ok(t.includes('"server_hint":"\\u001f"'), "hex digits are lowercase");
  });

  test("writes slash, DEL, U+2028 and astral characters raw", () => {
    const hint = "a/b\x7f\u2028😀";
    const bytes = encodeIdentityPayload(payload({ serverHint: hint }));
    const text = new TextDecoder().decode(bytes);
    assert.ok(text.includes(`"server_hint":"${hint}"`), text);
    assert.ok(toHex(bytes).includes("2f" + "62" + "7f" + "e280a8" + "f09f9880"));
  });

  test("rejects wrong key lengths, bad roles and out-of-range hint_expires_at with Serde", () => {
    const bad: Array<[string, Partial<IdentityPayload>]> = [
      ["ed25519 of 31 bytes", { ed25519Pub: new Uint8Array(31) }],
      ["ed25519 of 33 bytes", { ed25519Pub: new Uint8Array(33) }],
      ["sig of 63 bytes", { sig: new Uint8Array(63) }],
      ["sig of 65 bytes", { sig: new Uint8Array(65) }],
      ["sig as a plain array", { sig: SIG as unknown as Uint8Array }],
      ["role client", { role: "client" as "Client" }],
      ["numeric hint", { serverHint: 5 as unknown as string }],
      ["undefined hint", { serverHint: undefined as unknown as null }],
      ["hint with a lone surrogate", { serverHint: "a\ud800b" }],
      ["hint with a reversed pair", { serverHint: "\udc00\ud800" }],
      ["expiry 2^53", { hintExpiresAt: 2 ** 53 }],
      ["expiry -1", { hintExpiresAt: -1 }],
      ["expiry 1.5", { hintExpiresAt: 1.5 }],
      ["expiry NaN", { hintExpiresAt: NaN }],
      ["expiry as a string", { hintExpiresAt: "5" as unknown as number }],
      ["expiry undefined", { hintExpiresAt: undefined as unknown as null }],
    ];
    for (const [name, overrides] of bad) {
      assertSerde(() => encodeIdentityPayload(payload(overrides)), undefined, name);
    }
    assertSerde(() => encodeIdentityPayload(null as unknown as IdentityPayload));
  });
});

// ---------------------------------------------------------------------------
// Decoding: what serde_json accepts
// ---------------------------------------------------------------------------

describe("decodeIdentityPayload accepts what serde_json accepts", () => {
  const expected = payload();

  test("keys in any order", () => {
    const json = `{"sig":${SIG_JSON},"server_hint":null,"role":"Client","ed25519_pub":${ED_JSON}}`;
    assert.deepEqual(decodeText(json), expected);
  });

  test("JSON whitespace (space, tab, newline, carriage return) around every token", () => {
    const ws = " \t\r\n ";
    const json = `${ws}{${ws}"role"${ws}:${ws}"Client"${ws},${ws}"ed25519_pub"${ws}:${ws}[${ws}` +
      ED.join(`${ws},${ws}`) + `${ws}]${ws},"sig":${SIG_JSON}${ws}}${ws}`;
    assert.deepEqual(decodeText(json), expected);
  });

  test("unknown fields of every JSON type, including nested objects and arrays", () => {
    const json = `{"x":{"a":[1,-2.5e-3,{"b":[]},[[[]]],"s\\u00e9\\ud83d\\ude00"],"c":{}},` +
      `"ed25519_pub":${ED_JSON},"t":true,"f":false,"n":null,"e":[],"o":{},"num":-0.0E+12,` +
      `"role":"Client","x":"duplicate unknown keys are ignored too","sig":${SIG_JSON}}`;
    assert.deepEqual(decodeText(json), expected);
  });

  test("legacy payloads with noise_x25519_pub, epoch and expires_at", () => {
    const json = `{"ed25519_pub":${ED_JSON},"noise_x25519_pub":${ED_JSON},"epoch":0,` +
      `"role":"Server","server_hint":"h","expires_at":1700000300,"sig":${SIG_JSON}}`;
    assert.deepEqual(decodeText(json), payload({ role: "Server", serverHint: "h" }));
  });

  test("missing server_hint and hint_expires_at read as null", () => {
    const json = `{"ed25519_pub":${ED_JSON},"role":"Client","sig":${SIG_JSON}}`;
    const decoded = decodeText(json);
    assert.equal(decoded.serverHint, null);
    assert.equal(decoded.hintExpiresAt, null);
    assert.deepEqual(decoded, expected);
  });

  test("explicit null for server_hint and hint_expires_at", () => {
    const json = `{"ed25519_pub":${ED_JSON},"role":"Client","server_hint":null,` +
      `"hint_expires_at":null,"sig":${SIG_JSON}}`;
    assert.deepEqual(decodeText(json), expected);
  });

  test("hint_expires_at 0 and 2^53 - 1", () => {
    for (const n of [0, Number.MAX_SAFE_INTEGER]) {
      const json = `{"ed25519_pub":${ED_JSON},"role":"Client","hint_expires_at":${n},` +
        `"sig":${SIG_JSON}}`;
      assert.equal(decodeText(json).hintExpiresAt, n);
    }
  });

  test("escaped keys and strings are compared after unescaping", () => {
    const json = `{"ed25519_pub":${ED_JSON},"rol\\u0065":"Cl\\u0069ent",` +
      `"server_hint":"\\/\\b\\f\\n\\r\\t\\"\\\\\\u00e9\\uD83D\\uDE00","sig":${SIG_JSON}}`;
    assert.deepEqual(decodeText(json), payload({ serverHint: '/\b\f\n\r\t"\\é😀' }));
  });

  test("raw non-ASCII, DEL and U+2028 in a hint", () => {
    const json = `{"ed25519_pub":${ED_JSON},"role":"Client","server_hint":"é\x7f\u2028😀",` +
      `"sig":${SIG_JSON}}`;
    assert.equal(decodeText(json).serverHint, "é\x7f\u2028😀");
  });

  test("unknown values nested up to 128 levels including the top-level object", () => {
    const nested = "[".repeat(127) + "]".repeat(127);
    const json = `{"deep":${nested},"ed25519_pub":${ED_JSON},"role":"Client","sig":${SIG_JSON}}`;
    assert.deepEqual(decodeText(json), expected);
  });

  test("input of exactly maxLen bytes", () => {
    const bytes = utf8(VALID);
    assert.deepEqual(decodeIdentityPayload(bytes, bytes.length), expected);
  });

  test("a Uint8Array view into a larger buffer", () => {
    const inner = utf8(VALID);
    const buf = new Uint8Array(inner.length + 10).fill(0x41);
    buf.set(inner, 5);
    assert.deepEqual(decodeIdentityPayload(buf.subarray(5, 5 + inner.length)), expected);
  });
});

// ---------------------------------------------------------------------------
// Decoding: what serde_json rejects
// ---------------------------------------------------------------------------

/** VALID with the `"sig"` value replaced by `sig` (raw JSON). */
const withSig = (sig: string): string =>
  `{"ed25519_pub":${ED_JSON},"role":"Client","server_hint":null,"sig":${sig}}`;
/** VALID with the `"ed25519_pub"` value replaced by `ed` (raw JSON). */
const withEd = (ed: string): string =>
  `{"ed25519_pub":${ed},"role":"Client","server_hint":null,"sig":${SIG_JSON}}`;
/** VALID with `"hint_expires_at":<value>` added. */
const withExpiry = (value: string): string =>
  `{"ed25519_pub":${ED_JSON},"role":"Client","hint_expires_at":${value},"sig":${SIG_JSON}}`;

describe("decodeIdentityPayload rejects, always with NoiseError Serde (4000)", () => {
  test("the hand-written fixture itself is accepted (so the rejections below are meaningful)", () => {
    assert.deepEqual(decodeText(VALID), payload());
  });

  test("sig as a hex string instead of an array", () => {
    assertSerde(
      () => decodeText(withSig(`"${toHex(Uint8Array.from(SIG))}"`)),
      /^invalid type: string "ff.*", expected a sequence$/,
    );
  });

  test("sig of 63 or 65 numbers, with serde's exact custom message", () => {
    assertSerde(
      () => decodeText(withSig(`[${SIG.slice(1).join(",")}]`)),
      /^signature must be 64 bytes$/,
    );
    assertSerde(() => decodeText(withSig(`[${SIG.join(",")},1]`)), /^signature must be 64 bytes$/);
    assertSerde(() => decodeText(withSig("[]")), /^signature must be 64 bytes$/);
  });

  test("ed25519_pub of 31 or 33 numbers", () => {
    assertSerde(
      () => decodeText(withEd(`[${ED.slice(1).join(",")}]`)),
      /^invalid length 31, expected an array of length 32$/,
    );
    assertSerde(() => decodeText(withEd(`[${ED.join(",")},0]`)), /invalid length 33/);
  });

  test("ed25519_pub elements 256, -1, 1.5, 1.0, 1e2, -0 and 01", () => {
    const cases: Array<[string, RegExp]> = [
      ["256", /^invalid value: integer `256`, expected u8$/],
      ["1000", /^invalid value: integer `1000`, expected u8$/],
      ["-1", /^invalid value: integer `-1`, expected u8$/],
      ["1.5", /^invalid type: floating point `1.5`, expected u8$/],
      ["1.0", /^invalid type: floating point `1.0`, expected u8$/],
      ["1e2", /^invalid type: floating point `1e2`, expected u8$/],
      ["-0", /^invalid type: floating point `-0`, expected u8$/],
      ["01", /^invalid number at line 1 column \d+$/],
      ['"1"', /^invalid type: string "1", expected u8$/],
      ["null", /^invalid type: null, expected u8$/],
    ];
    for (const [element, detail] of cases) {
      const ed = [element, ...ED.slice(1)].join(",");
      assertSerde(() => decodeText(withEd(`[${ed}]`)), detail);
    }
  });

  test("ed25519_pub that is not an array", () => {
    assertSerde(
      () => decodeText(withEd("{}")),
      /^invalid type: map, expected an array of length 32$/,
    );
    assertSerde(() => decodeText(withEd("null")), /^invalid type: null/);
  });

  test("duplicate known keys, even with identical values", () => {
    for (const field of ["ed25519_pub", "role", "server_hint", "hint_expires_at", "sig"]) {
      const value = { ed25519_pub: ED_JSON, role: '"Client"', sig: SIG_JSON }[field] ?? "null";
      const json = VALID.replace("{", `{"${field}":${value},"${field}":${value},`);
      assertSerde(() => decodeText(json), new RegExp(`^duplicate field \`${field}\`$`));
    }
  });

  test("missing ed25519_pub, role or sig", () => {
    assertSerde(
      () => decodeText(`{"role":"Client","sig":${SIG_JSON}}`),
      /^missing field `ed25519_pub`$/,
    );
    assertSerde(
      () => decodeText(`{"ed25519_pub":${ED_JSON},"sig":${SIG_JSON}}`),
      /^missing field `role`$/,
    );
    assertSerde(
      () => decodeText(`{"ed25519_pub":${ED_JSON},"role":"Client"}`),
      /^missing field `sig`$/,
    );
    assertSerde(() => decodeText("{}"), /^missing field `ed25519_pub`$/);
  });

  test("role in the wrong case or of the wrong type", () => {
    for (const role of ['"client"', '"SERVER"', '""', '"Client "']) {
      assertSerde(
        () => decodeText(VALID.replace('"Client"', role)),
        /^unknown variant `.*`, expected `Client` or `Server`$/,
      );
    }
    assertSerde(() => decodeText(VALID.replace('"Client"', "0")), /^invalid type: integer `0`/);
    assertSerde(() => decodeText(VALID.replace('"Client"', "null")), /^invalid type: null/);
    assertSerde(
      () => decodeText(VALID.replace('"Client"', '{"Client":null}')),
      /invalid type: map/,
    );
  });

  test("server_hint that is not a string or null", () => {
    for (const hint of ["5", "true", "[]", "{}"]) {
      assertSerde(
        () => decodeText(VALID.replace('"server_hint":null', `"server_hint":${hint}`)),
        /expected a string$/,
      );
    }
  });

  test("trailing commas in the object and in arrays", () => {
    assertSerde(() => decodeText(VALID.replace(/}$/, ",}")), /^trailing comma at line 1/);
    assertSerde(() => decodeText(withSig(`[${SIG.join(",")},]`)), /^trailing comma/);
    assertSerde(() => decodeText(VALID.replace("{", '{"x":[1,],')), /^trailing comma/);
    assertSerde(() => decodeText(VALID.replace("{", '{"x":{"a":1,},')), /^trailing comma/);
  });

  test("trailing garbage after the object", () => {
    for (const tail of ["x", "{}", " 0", "\n}", "\u0000"]) {
      assertSerde(() => decodeText(VALID + tail), /^trailing characters at line \d+ column \d+$/);
    }
  });

  test("every strict prefix of a valid payload (truncation)", () => {
    const bytes = encodeIdentityPayload(
      payload({ serverHint: 'é😀"\\\n', hintExpiresAt: 1700000300 }),
    );
    assert.ok(decodeIdentityPayload(bytes)); // the whole input is fine
    for (let len = 0; len < bytes.length; len++) {
      assertSerde(() => decodeIdentityPayload(bytes.subarray(0, len)));
    }
  });

  test("invalid UTF-8: stray continuation byte, overlong form, encoded surrogate, truncated", () => {
    const prefix = utf8(`{"ed25519_pub":${ED_JSON},"role":"Client","server_hint":"`);
    const suffix = utf8(`","sig":${SIG_JSON}}`);
    for (const bad of [[0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf0, 0x9f, 0x98], [0xff]]) {
      const bytes = new Uint8Array([...prefix, ...bad, ...suffix]);
      assertSerde(() => decodeIdentityPayload(bytes), /not valid UTF-8/);
    }
    assert.ok(decodeIdentityPayload(new Uint8Array([...prefix, 0xc3, 0xa9, ...suffix])));
  });

  test("a UTF-8 byte order mark (serde_json does not skip it)", () => {
    assertSerde(() => decodeIdentityPayload(new Uint8Array([0xef, 0xbb, 0xbf, ...utf8(VALID)])));
  });

  test("lone surrogate escapes and other bad escapes in strings", () => {
    const hints: Array<[string, RegExp]> = [
      ["\\ud800", /lone leading surrogate/],
      ["\\ud800x", /lone leading surrogate/],
      ["\\ud800\\u0041", /lone leading surrogate/],
      ["\\udc00", /lone trailing surrogate/],
      ["\\u12", /invalid escape/],
      ["\\u12g4", /invalid escape/],
      ["\\x41", /invalid escape/],
      ["\\'", /invalid escape/],
    ];
    for (const [hint, detail] of hints) {
      assertSerde(
        () => decodeText(VALID.replace('"server_hint":null', `"server_hint":"${hint}"`)),
        detail,
      );
    }
  });

  test("raw control characters inside strings", () => {
    for (const c of ["\u0000", "\n", "\t", "\u001f"]) {
      assertSerde(
        () => decodeText(VALID.replace('"server_hint":null', `"server_hint":"a${c}b"`)),
        /^control character \(\\u0000-\\u001F\) found while parsing a string/,
      );
    }
  });

  test("hint_expires_at of 2^53 is beyond the supported safe range", () => {
    assertSerde(() => decodeText(withExpiry("9007199254740992")), /beyond 2\^53 - 1/);
    assertSerde(() => decodeText(withExpiry("18446744073709551615")), /beyond 2\^53 - 1/);
  });

  test("hint_expires_at of 2^64 and more does not fit in u64", () => {
    assertSerde(() => decodeText(withExpiry("18446744073709551616")), /does not fit in u64/);
    assertSerde(() => decodeText(withExpiry("1" + "0".repeat(400))), /does not fit in u64/);
  });

  test("hint_expires_at that is negative, fractional, exponent form or a string", () => {
    assertSerde(() => decodeText(withExpiry("-1")), /^invalid value: integer `-1`, expected u64$/);
    assertSerde(() => decodeText(withExpiry("1.5")), /floating point `1.5`, expected u64$/);
    assertSerde(() => decodeText(withExpiry("1e3")), /floating point `1e3`, expected u64$/);
    assertSerde(() => decodeText(withExpiry('"1700000300"')), /invalid type: string/);
  });

  test("unknown field nested deeper than 128 levels (balanced or not), without stack overflow", () => {
    const over = "[".repeat(128) + "]".repeat(128);
    assertSerde(
      () =>
        decodeText(`{"deep":${over},"ed25519_pub":${ED_JSON},"role":"Client","sig":${SIG_JSON}}`),
      /^recursion limit exceeded/,
    );
    assertSerde(() => decodeText(`{"deep":${"[".repeat(10000)}`), /^recursion limit exceeded/);
    const balanced = "[".repeat(10000) + "]".repeat(10000);
    assertSerde(
      () => decodeText(`{"deep":${balanced},${VALID.slice(1)}`),
      /^recursion limit exceeded/,
    );
    assertSerde(() => decodeText(`{"deep":${'{"a":'.repeat(10000)}1${"}".repeat(10000)}}`));
  });

  test("top-level values other than an object", () => {
    const cases: Array<[string, RegExp]> = [
      ["[1,2,3]", /^invalid type: sequence, expected struct IdentityPayload$/],
      [`[${ED_JSON},"Client",null,null,${SIG_JSON}]`, /invalid type: sequence/],
      ["null", /^invalid type: null, expected struct IdentityPayload$/],
      ['"x"', /^invalid type: string "x"/],
      ["42", /^invalid type: integer `42`/],
      ["true", /^invalid type: boolean `true`/],
      ["", /^EOF while parsing a value at line 1 column 0$/],
      ["   ", /^EOF while parsing a value/],
      ["nul", /^EOF while parsing a value/],
      ["NaN", /^expected value/],
    ];
    for (const [json, detail] of cases) assertSerde(() => decodeText(json), detail);
  });

  test("non-JSON syntax: comments, NaN, single quotes, unquoted keys, missing colon", () => {
    const bad = [
      VALID.replace("{", "{/* c */"),
      VALID.replace("{", '{"x":NaN,'),
      VALID.replace("{", '{"x":Infinity,'),
      VALID.replace("{", "{'x':1,"),
      VALID.replace("{", "{x:1,"),
      VALID.replace("{", '{"x" 1,'),
      VALID.replace("{", '{"x":+1,'),
      VALID.replace("{", '{"x":.5,'),
      VALID.replace("{", '{"x":1.,'),
      VALID.replace("{", '{"x":1e,'),
      VALID.replace("{", '{"x":-,'),
      VALID.replace("{", '{"x":tru,'),
      VALID.replace("{", '{"x":[1 2],'),
      VALID.replace("{", '{"x":1 "y":2,'),
      VALID.replace("{", "{,"),
      VALID.replace("{", '{"x":\f1,'), // form feed is not JSON whitespace
      VALID.replace("{", '{"x":\u00a01,'), // nor is a no-break space
    ];
    for (const json of bad) assertSerde(() => decodeText(json));
  });

  test("input longer than maxLen, before any parsing", () => {
    const bytes = utf8(VALID);
    assertSerde(() => decodeIdentityPayload(bytes, bytes.length - 1), /more than the limit/);
    // Valid JSON padded with whitespace past the default 65535-byte cap.
    const padded = utf8(VALID + " ".repeat(65536 - VALID.length));
    assert.equal(padded.length, 65536);
    assertSerde(() => decodeIdentityPayload(padded), /^identity payload is 65536 bytes/);
    assert.ok(decodeIdentityPayload(padded.subarray(0, 65535)));
  });

  test("input that is not a Uint8Array", () => {
    assertSerde(() => decodeIdentityPayload(VALID as unknown as Uint8Array));
    assertSerde(() => decodeIdentityPayload(null as unknown as Uint8Array));
  });
});

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

const arbPayload: fc.Arbitrary<IdentityPayload> = fc.record({
  ed25519Pub: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  role: fc.constantFrom("Client" as const, "Server" as const),
  serverHint: fc.option(fc.string({ unit: "binary", maxLength: 40 }), { nil: null }),
  hintExpiresAt: fc.option(fc.maxSafeNat(), { nil: null }),
  sig: fc.uint8Array({ minLength: 64, maxLength: 64 }),
}, { noNullPrototype: true });

/** Only a NoiseError with code Serde may escape `decodeIdentityPayload`. */
function decodeOrSerdeError(bytes: Uint8Array): IdentityPayload | undefined {
  try {
    return decodeIdentityPayload(bytes);
  } catch (err) {
    if (err instanceof NoiseError && err.code === NoiseErrorCode.Serde) return undefined;
    throw err;
  }
}

/** Asserts that a JSON.parse result and a decoded payload carry the same fields. */
function assertAgrees(parsed: Record<string, unknown>, p: IdentityPayload): void {
  assert.deepEqual(parsed.ed25519_pub, Array.from(p.ed25519Pub));
  assert.equal(parsed.role, p.role);
  assert.equal(parsed.server_hint ?? null, p.serverHint);
  assert.equal(parsed.hint_expires_at ?? null, p.hintExpiresAt);
  assert.deepEqual(parsed.sig, Array.from(p.sig));
}

describe("identity payload properties", () => {
  test("decode(encode(p)) equals p, and JSON.parse of the encoding agrees with p", () => {
    fc.assert(
      fc.property(arbPayload, (p) => {
        const bytes = encodeIdentityPayload(p);
        assert.deepEqual(decodeIdentityPayload(bytes), p);
        const parsed = JSON.parse(new TextDecoder().decode(bytes));
        assertAgrees(parsed, p);
        assert.equal("hint_expires_at" in parsed, p.hintExpiresAt !== null);
        assert.deepEqual(
          Object.keys(parsed),
          p.hintExpiresAt === null
            ? ["ed25519_pub", "role", "server_hint", "sig"]
            : ["ed25519_pub", "role", "server_hint", "hint_expires_at", "sig"],
        );
      }),
      { numRuns: 300 },
    );
  });

  test("any JSON value is skipped as an unknown field", () => {
    fc.assert(
      fc.property(fc.json({ stringUnit: "binary", maxDepth: 6 }), arbPayload, (value, p) => {
        const json = new TextDecoder().decode(encodeIdentityPayload(p));
        const withUnknown = `{"unknown":${value},${json.slice(1)}`;
        assert.deepEqual(decodeIdentityPayload(utf8(withUnknown)), p);
      }),
      { numRuns: 200 },
    );
  });

  test("random bytes and strings either decode or throw NoiseError Serde, nothing else", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        decodeOrSerdeError(bytes);
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (text) => {
        decodeOrSerdeError(utf8(text));
      }),
      { numRuns: 500 },
    );
  });

  test("mutated valid payloads decode only when JSON.parse agrees, else throw Serde", () => {
    const alphabet = fc.constantFrom(...'{}[],:"\\ 0123456789-+.eEnultrfasC\nx\u00e9'.split(""));
    const mutation = fc.record({
      at: fc.nat(),
      deleteCount: fc.nat({ max: 3 }),
      insert: fc.string({ unit: alphabet, maxLength: 4 }),
    });
    fc.assert(
      fc.property(arbPayload, fc.array(mutation, { minLength: 1, maxLength: 3 }), (p, muts) => {
        let text = new TextDecoder().decode(encodeIdentityPayload(p));
        for (const { at, deleteCount, insert } of muts) {
          const i = at % (text.length + 1);
          text = text.slice(0, i) + insert + text.slice(i + deleteCount);
        }
        // (Slicing may split a surrogate pair; the encoder then writes U+FFFD.)
        const bytes = utf8(text);
        const decoded = decodeOrSerdeError(bytes);
        if (decoded !== undefined) {
          // Everything we accept is valid JSON with the same field values.
          assertAgrees(JSON.parse(new TextDecoder().decode(bytes)), decoded);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
