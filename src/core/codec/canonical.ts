import { hash } from 'node:crypto';
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
  // The fast encoder builds no paths; on anything it cannot encode it gives up, and the checked encoder
  // below runs from the top to throw the error that names the first offending place.
  const fastOut = fast(value, 0, Infinity);
  return fastOut === undefined ? encode(value, 0, '$') : fastOut;
}

/**
 * The canonical encoding when it has at most `maxLength` characters; otherwise a prefix of it longer
 * than `maxLength` (encoding stops soon after the limit). For short renderings of values that may be
 * large. Throws like {@link canonicalJson} for a value it cannot encode within the part it encodes.
 */
export function canonicalJsonPrefix(value: unknown, maxLength: number): string {
  const out = fast(value, 0, maxLength);
  return out === undefined ? encode(value, 0, '$') : out;
}

/**
 * `JSON.stringify(s)`, faster for the short plain strings replicated data is made of: a string without
 * a character JSON escapes (control characters, quote, backslash) or may escape (lone surrogates; to
 * keep the check short, everything from U+D800 up) is quoted as it is.
 */
function quote(s: string): string {
  const n = s.length;
  if (n > 64) return JSON.stringify(s);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || c >= 0xd800) return JSON.stringify(s);
  }
  return '"' + s + '"';
}

/** `"key":` for object keys seen before (the same few keys recur in replicated data). */
const keyPrefixes = new Map<string, string>();
const KEY_PREFIX_LIMIT = 4096;

function keyPrefix(key: string): string {
  let p = keyPrefixes.get(key);
  if (p === undefined) {
    p = quote(key) + ':';
    if (keyPrefixes.size < KEY_PREFIX_LIMIT && key.length <= 64) keyPrefixes.set(key, p);
  }
  return p;
}

/** The object's own enumerable keys in code-unit order (the order of `sort()`). */
function sortedKeys(obj: Record<string, unknown>): string[] {
  return sortCodeUnits(Object.keys(obj));
}

/**
 * Sort strings in place by UTF-16 code units (the order of `sort()`), and return them: an insertion
 * sort for up to 16 (the same order, and faster for the few keys of the objects replicated data is
 * made of), `sort()` beyond.
 */
export function sortCodeUnits(a: string[]): string[] {
  const n = a.length;
  if (n > 16) return a.sort();
  for (let i = 1; i < n; i++) {
    const x = a[i]!;
    let j = i - 1;
    while (j >= 0 && a[j]! > x) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = x;
  }
  return a;
}

/**
 * The canonical encoding of `value`, or `undefined` when it cannot be encoded (non-finite number,
 * unsupported type or object, too deep). Stops adding elements once the output exceeds `limit`
 * characters (the result is then a prefix of the encoding, longer than `limit`).
 */
function fast(value: unknown, depth: number, limit: number): string | undefined {
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
      // A finite number's JSON is its String() form (-0 included: "0").
      return Number.isFinite(value) ? String(value) : undefined;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (depth >= MAX_DEPTH) return undefined;
      if (Array.isArray(value)) {
        const n = value.length;
        if (n === 0) return '[]';
        let out = '[';
        for (let i = 0; i < n; i++) {
          const e = fast(value[i], depth + 1, limit - out.length);
          if (e === undefined) return undefined;
          out += i === 0 ? e : ',' + e;
          if (out.length > limit) return out;
        }
        return out + ']';
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return undefined;
      const obj = value as Record<string, unknown>;
      const keys = sortedKeys(obj);
      const n = keys.length;
      let out = '{';
      for (let i = 0; i < n; i++) {
        const key = keys[i]!;
        const v = obj[key];
        if (v === undefined) continue;
        const e = fast(v, depth + 1, limit - out.length);
        if (e === undefined) return undefined;
        out += (out.length === 1 ? '' : ',') + keyPrefix(key) + e;
        if (out.length > limit) return out;
      }
      return out + '}';
    }
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Hashing the canonical encoding without building it as a string: the UTF-8 bytes of the encoding are
// written into a reused buffer and hashed from there (content digests hash every resolved value).
// The bytes are those of `canonicalJson(value)`; on anything unusual the string path is used instead.

const QUOTE = 0x22;
const COMMA = 0x2c;
/** Buffers larger than this are not kept for the next call. */
const KEEP_BYTES = 1 << 20;
/** `"key":` as UTF-8, for object keys seen before. */
const keyBytes = new Map<string, Uint8Array>();

/** The bytes written so far; hot loops copy `buf` and `at` into locals. */
class ByteWriter {
  buf: Buffer = Buffer.allocUnsafe(16 * 1024);
  at = 0;
  busy = false;

  /** Make room for `n` more bytes. */
  room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }

  /** ASCII that needs no escaping. */
  ascii(s: string): void {
    const n = s.length;
    this.room(n);
    const buf = this.buf;
    let at = this.at;
    for (let i = 0; i < n; i++) buf[at++] = s.charCodeAt(i);
    this.at = at;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.at++] = b;
  }

  /** Any text, as UTF-8 (it holds no lone surrogates: JSON.stringify escapes them). */
  text(s: string): void {
    this.room(Buffer.byteLength(s, 'utf8'));
    this.at += this.buf.write(s, this.at, 'utf8');
  }

  string(s: string): void {
    const n = s.length;
    this.room(n + 2);
    const buf = this.buf;
    let at = this.at;
    buf[at++] = QUOTE;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c === QUOTE || c === 0x5c || c >= 0x80) {
        this.text(JSON.stringify(s));
        return;
      }
      buf[at++] = c;
    }
    buf[at++] = QUOTE;
    this.at = at;
  }

  /** `"key":`, preceded by a comma unless it is the first key of its object. */
  key(key: string, first: boolean): void {
    let k = keyBytes.get(key);
    if (k === undefined) {
      k = Buffer.from(',' + quote(key) + ':', 'utf8');
      if (keyBytes.size < KEY_PREFIX_LIMIT && key.length <= 64) keyBytes.set(key, k);
    }
    const n = k.length;
    this.room(n);
    const buf = this.buf;
    let at = this.at;
    for (let i = first ? 1 : 0; i < n; i++) buf[at++] = k[i]!;
    this.at = at;
  }

  /** Write the canonical encoding of `value`; false when it cannot be encoded (the caller falls back). */
  value(value: unknown, depth: number): boolean {
    switch (typeof value) {
      case 'string':
        this.string(value);
        return true;
      case 'number':
        if (!Number.isFinite(value)) return false;
        this.ascii(String(value));
        return true;
      case 'boolean':
        this.ascii(value ? 'true' : 'false');
        return true;
      case 'object': {
        if (value === null) {
          this.ascii('null');
          return true;
        }
        if (depth >= MAX_DEPTH) return false;
        if (Array.isArray(value)) {
          this.byte(0x5b);
          for (let i = 0; i < value.length; i++) {
            if (i > 0) this.byte(COMMA);
            if (!this.value(value[i], depth + 1)) return false;
          }
          this.byte(0x5d);
          return true;
        }
        const proto: unknown = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) return false;
        const obj = value as Record<string, unknown>;
        const keys = sortedKeys(obj);
        this.byte(0x7b);
        let first = true;
        for (let i = 0; i < keys.length; i++) {
          const key = keys[i]!;
          const v = obj[key];
          if (v === undefined) continue;
          this.key(key, first);
          first = false;
          if (!this.value(v, depth + 1)) return false;
        }
        this.byte(0x7d);
        return true;
      }
      default:
        return false;
    }
  }
}

const writer = new ByteWriter();

/**
 * SHA-256 (hex) of `prefix + canonicalJson(value)` as UTF-8, without building the encoding as a
 * string. `prefix` must be ASCII. Throws like {@link canonicalJson} for a value it cannot encode.
 */
export function sha256OfCanonical(prefix: string, value: unknown): string {
  const w = writer;
  if (!w.busy) {
    w.busy = true;
    w.at = 0;
    try {
      w.ascii(prefix);
      if (w.value(value, 0)) return hash('sha256', w.buf.subarray(0, w.at), 'hex');
    } finally {
      w.busy = false;
      if (w.buf.length > KEEP_BYTES) w.buf = Buffer.allocUnsafe(16 * 1024);
    }
  }
  return sha256Hex(prefix + canonicalJson(value));
}

/** The checked encoder: `depth` is the number of arrays/objects enclosing `value`. */
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
  // One-shot hashing (Node >= 20.12): the same digest as createHash().update().digest(), about twice as fast.
  return hash('sha256', input, 'hex');
}

/** Digest of the canonical encoding of a value (first 128 bits of SHA-256, hex). */
export function digestOf(value: unknown): string {
  return sha256OfCanonical('', value).slice(0, 32);
}
