import { createHash } from 'node:crypto';
import { EncodingError } from '../errors.js';

/**
 * Deepest nesting accepted in replicated data: at most this many levels of arrays/objects (`[[1]]` has
 * two). Deeper input, cycles included, is rejected, never recursed into.
 */
export const MAX_DEPTH = 64;

/** A JSON value as replicated: plain objects, arrays, strings, finite numbers, booleans, null. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * Canonical JSON: object keys sorted by code unit, no whitespace, only finite numbers, `-0` written as
 * `0`. Equal content gives equal bytes on every node, so digests computed anywhere agree.
 * Throws {@link EncodingError} naming the path of the first value it cannot encode.
 */
export function canonicalJson(value: unknown): string {
  return encode(value, 0, '$');
}

/** `depth` is the number of arrays/objects enclosing `value`. */
function encode(value: unknown, depth: number, path: string): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) {
        throw new EncodingError(`non-finite number at ${path}`, { path, value: String(value) });
      }
      return Object.is(value, -0) ? '0' : JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (depth >= MAX_DEPTH) {
        throw new EncodingError(`value nested deeper than ${MAX_DEPTH} levels at ${path} (or cyclic)`, {
          path,
          maxDepth: MAX_DEPTH,
        });
      }
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          out += encode(value[i], depth + 1, `${path}[${i}]`);
        }
        return out + ']';
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new EncodingError(`unsupported object type at ${path}: expected a plain object`, { path });
      }
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).sort();
      let out = '{';
      let first = true;
      for (const key of keys) {
        const v = obj[key];
        if (v === undefined) continue;
        if (!first) out += ',';
        first = false;
        out += JSON.stringify(key) + ':' + encode(v, depth + 1, childPath(path, key));
      }
      return out + '}';
    }
    default:
      throw new EncodingError(`unsupported value of type ${typeof value} at ${path}`, { path, type: typeof value });
  }
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `$.a.b` for identifier keys, `$.a["x.y"]` otherwise, so that a path names exactly one place. */
function childPath(path: string, key: string): string {
  return IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** SHA-256 of a string (UTF-8), hex. */
export function sha256Hex(input: string | Uint8Array): string {
  return createHash('sha256').update(input).digest('hex');
}

/** Digest of the canonical encoding of a value (first 128 bits of SHA-256, hex). */
export function digestOf(value: unknown): string {
  return sha256Hex(canonicalJson(value)).slice(0, 32);
}
