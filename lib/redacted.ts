/**
 * What `console.log` shows of an object that holds a secret: its `toString()` (which every such
 * class writes without the secret), on Node and Bun (`util.inspect`) and on Deno
 * (`Deno.inspect`), instead of its fields.
 *
 * @module
 */

const INSPECT_NODE = Symbol.for("nodejs.util.inspect.custom");
const INSPECT_DENO = Symbol.for("Deno.customInspect");

function inspected(this: { toString(): string }): string {
  return this.toString();
}

/**
 * Makes the inspectors of Node, Bun and Deno print `cls`'s `toString()` for its instances.
 *
 * @example
 * ```ts
 * import { inspectAsString } from "./redacted.ts";
 * class Key {
 *   #secret = new Uint8Array(32);
 *   toString(): string {
 *     return "Key { secret: [redacted] }";
 *   }
 * }
 * inspectAsString(Key);
 * console.log(new Key()); // Key { secret: [redacted] }
 * ```
 */
export function inspectAsString(cls: { prototype: { toString(): string } }): void {
  for (const key of [INSPECT_NODE, INSPECT_DENO]) {
    Object.defineProperty(cls.prototype, key, {
      value: inspected,
      writable: true,
      configurable: true,
    });
  }
}
