/**
 * Test helper of the secret-hygiene and trace tests (not a test file itself):
 *
 * - {@linkcode SecretRecorder} wraps a cipher suite and a ring so that every
 *   secret buffer the library makes or uses is recorded — DH outputs, HKDF
 *   outputs (chaining keys, cipher keys, split keys), the keys handed to the
 *   AEAD, rekey blocks, device statics — and, while installed, follows every
 *   copy of a recorded buffer made with `Uint8Array.prototype.slice` or written
 *   into another array with `Uint8Array.prototype.set`. `nonZero()` lists the
 *   recorded buffers that still hold something.
 * - {@linkcode findLeaks} searches objects (JSON, `String`, `util.inspect`,
 *   `Deno.inspect`, reachable enumerable bytes and strings) for the value of any
 *   recorded secret: raw bytes, hex, base64 and decimal lists.
 *
 * @module
 */
import { inspect } from "node:util";
import type { CryptoSuite } from "../lib/crypto/suite.ts";
import type { RingKeyProvider } from "../lib/ring.ts";
import { MAX_NONCE } from "../lib/noise/cipher_state.ts";

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const hex = (b: Uint8Array): string => {
  let s = "";
  for (let i = 0; i < b.length; i++) s += HEX[b[i]];
  return s;
};
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
function base64(b: Uint8Array): string {
  let out = "";
  for (let i = 0; i < b.length; i += 3) {
    const n = (b[i] << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63];
    out += i + 1 < b.length ? B64[(n >> 6) & 63] : "=";
    out += i + 2 < b.length ? B64[n & 63] : "=";
  }
  return out;
}

// Saved before any patching: the recorder's own copies must not be followed.
const originalSlice = Uint8Array.prototype.slice;
const originalSet = Uint8Array.prototype.set;
const copyOf = (b: Uint8Array): Uint8Array => originalSlice.call(b) as Uint8Array;
const isZero = (b: Uint8Array): boolean => b.every((x) => x === 0);

/** A recorded secret value, for leak searches. */
export interface SecretValue {
  /** What it was (`"DH output"`, `"HKDF output"`, …). */
  label: string;
  /** Its bytes when recorded. */
  bytes: Uint8Array;
}

/** Records the secret buffers of sessions run through its suite and ring. */
export class SecretRecorder {
  /** Every buffer that held a secret, with its label. */
  readonly buffers = new Map<Uint8Array, string>();
  /** Every label something was recorded under (a buffer keeps its first label in `buffers`). */
  readonly labels = new Set<string>();
  readonly #values = new Map<string, SecretValue>();
  #installed = false;

  /** Records `buffer` (and its current value) as a secret. */
  track(buffer: Uint8Array, label: string): void {
    if (!(buffer instanceof Uint8Array)) return;
    this.labels.add(label);
    if (!this.buffers.has(buffer)) this.buffers.set(buffer, label);
    this.#remember(buffer, label);
  }

  /** Records a value to search for without following the buffer (e.g. a seed the test wipes). */
  #remember(buffer: Uint8Array, label: string): void {
    if (buffer.length < 16 || isZero(buffer)) return;
    const key = hex(buffer);
    if (!this.#values.has(key)) this.#values.set(key, { label, bytes: copyOf(buffer) });
  }

  /** Every secret value seen, each once. */
  get values(): SecretValue[] {
    return [...this.#values.values()];
  }

  /** Labels of the recorded buffers that are not all zero. */
  nonZero(): { label: string; length: number }[] {
    const out: { label: string; length: number }[] = [];
    for (const [b, label] of this.buffers) {
      if (!isZero(b)) out.push({ label, length: b.length });
    }
    return out;
  }

  /** Follows copies of recorded buffers (`slice`, `set`) until {@linkcode uninstall}. */
  install(): void {
    if (this.#installed) return;
    this.#installed = true;
    const buffers = this.buffers;
    const track = (b: Uint8Array, label: string) => this.track(b, label);
    Object.defineProperty(Uint8Array.prototype, "slice", {
      configurable: true,
      writable: true,
      value: function slice(this: Uint8Array, start?: number, end?: number): Uint8Array {
        const out = originalSlice.call(this, start, end) as Uint8Array;
        const label = buffers.get(this);
        if (label !== undefined) track(out, `${label} (copy)`);
        return out;
      },
    });
    Object.defineProperty(Uint8Array.prototype, "set", {
      configurable: true,
      writable: true,
      value: function set(this: Uint8Array, source: ArrayLike<number>, offset?: number): void {
        originalSet.call(this, source, offset);
        const label = source instanceof Uint8Array ? buffers.get(source) : undefined;
        if (label !== undefined) track(this, `${label} (written into a buffer)`);
      },
    });
  }

  /** Restores `slice` and `set`. */
  uninstall(): void {
    if (!this.#installed) return;
    this.#installed = false;
    delete (Uint8Array.prototype as { slice?: unknown }).slice;
    delete (Uint8Array.prototype as { set?: unknown }).set;
  }

  /** `base` with every DH output, HKDF output, AEAD key and rekey block recorded. */
  suite(base: CryptoSuite): CryptoSuite {
    const track = (b: Uint8Array, label: string) => this.track(b, label);
    return {
      dh: {
        name: base.dh.name,
        generateKeyPair: () => base.dh.generateKeyPair(),
        importSecretKey: (secret) => base.dh.importSecretKey(secret),
        async dh(keyPair, publicKey) {
          const shared = await base.dh.dh(keyPair, publicKey);
          track(shared, "DH output");
          return shared;
        },
      },
      cipher: {
        name: base.cipher.name,
        encrypt(key, nonce, ad, plaintext) {
          track(key, "cipher key");
          const out = base.cipher.encrypt(key, nonce, ad, plaintext);
          if (nonce === MAX_NONCE) track(out, "rekey block");
          return out;
        },
        decrypt(key, nonce, ad, ciphertext) {
          track(key, "cipher key");
          return base.cipher.decrypt(key, nonce, ad, ciphertext);
        },
      },
      hash: {
        name: base.hash.name,
        hash: (...parts) => base.hash.hash(...parts),
        hmac: (key, ...parts) => base.hash.hmac(key, ...parts),
        hkdf(chainingKey, ikm, n) {
          const outputs = base.hash.hkdf(chainingKey, ikm, n);
          for (const o of outputs) track(o, "HKDF output");
          return outputs;
        },
      },
    };
  }

  /** `inner` with every device static secret recorded (the ring wipes it after the callback). */
  ring(inner: RingKeyProvider): RingKeyProvider {
    return {
      withDeviceX25519: (kid, deviceId, epoch, fn) =>
        inner.withDeviceX25519(kid, deviceId, epoch, (secret) => {
          this.track(secret, "device static secret");
          return fn(secret);
        }),
      ed25519PublicKey: (kid) => inner.ed25519PublicKey(kid),
      signEd25519: (kid, message) => inner.signEd25519(kid, message),
    };
  }
}

/** Everything an object shows of itself: JSON, String, inspect (node, Deno). */
export function renderings(value: unknown): string[] {
  const out: string[] = [];
  try {
    out.push(JSON.stringify(value, (_k, v) => typeof v === "bigint" ? v.toString() : v) ?? "");
  } catch (e) {
    out.push(`JSON failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    out.push(String(value));
  } catch {
    // Objects without a string form (Object.create(null)) show nothing here.
  }
  out.push(inspect(value, { depth: 10, showHidden: true }));
  out.push(inspect(value, { depth: 10, showHidden: false, getters: true }));
  const deno = (globalThis as { Deno?: { inspect(v: unknown, o?: object): string } }).Deno;
  if (deno) out.push(deno.inspect(value, { depth: 10, showHidden: true }));
  if (value instanceof Error) out.push(value.message, value.stack ?? "");
  return out;
}

/** The byte arrays and strings reachable through enumerable properties (and array items). */
export function reachable(root: unknown): { bytes: Uint8Array[]; strings: string[] } {
  const bytes: Uint8Array[] = [];
  const strings: string[] = [];
  const seen = new Set<unknown>();
  const visit = (v: unknown, depth: number): void => {
    if (typeof v === "string") strings.push(v);
    if (typeof v !== "object" || v === null || seen.has(v) || depth > 12) return;
    seen.add(v);
    if (ArrayBuffer.isView(v)) {
      bytes.push(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
      return;
    }
    if (v instanceof ArrayBuffer) {
      bytes.push(new Uint8Array(v));
      return;
    }
    for (const key of Object.keys(v)) {
      let child: unknown;
      try {
        child = (v as Record<string, unknown>)[key];
      } catch {
        continue;
      }
      visit(child, depth + 1);
    }
  };
  visit(root, 0);
  return { bytes, strings };
}

/** Where `secrets` show up in `roots`: one line per leak (empty: no leak). */
export function findLeaks(roots: Record<string, unknown>, secrets: SecretValue[]): string[] {
  const leaks: string[] = [];
  const forms = secrets.map((s) => ({
    label: s.label,
    hex: hex(s.bytes),
    b64: base64(s.bytes).replace(/=+$/, ""),
    b64url: base64(s.bytes).replace(/=+$/, "").replaceAll("+", "-").replaceAll("/", "_"),
    decimal: Array.from(s.bytes).join(","),
  }));
  for (const [name, root] of Object.entries(roots)) {
    const { bytes, strings } = reachable(root);
    const texts = [...renderings(root), ...strings];
    for (const text of texts) {
      const lower = text.toLowerCase();
      const compact = text.replace(/\s+/g, "");
      for (const f of forms) {
        if (lower.includes(f.hex)) leaks.push(`${name}: ${f.label} as hex`);
        if (text.includes(f.b64) || text.includes(f.b64url)) {
          leaks.push(`${name}: ${f.label} as base64`);
        }
        if (compact.includes(f.decimal)) leaks.push(`${name}: ${f.label} as a list of numbers`);
      }
    }
    for (const b of bytes) {
      const h = hex(b);
      for (const f of forms) {
        let i = h.indexOf(f.hex);
        while (i !== -1 && i % 2 !== 0) i = h.indexOf(f.hex, i + 1);
        if (i !== -1) leaks.push(`${name}: ${f.label} in reachable bytes`);
      }
    }
  }
  return [...new Set(leaks)];
}
