/**
 * Validation helpers shared by the CRDT decoders and operations. Every failure is an
 * {@link InvalidCrdtStateError} whose message starts with the path of the offending value
 * (`or_set.entries[3][1][0]`) and says what was expected; `meta.where` carries the same path.
 */
import { InvalidCrdtStateError } from '../errors.js';
import { NODE_ID_PATTERN } from '../clock/node-ids.js';
import { canonicalJson, type JsonValue } from '../codec/canonical.js';

/** Longest element (in UTF-16 code units) a set accepts. */
export const MAX_ELEMENT_LENGTH = 4096;

export function fail(where: string, problem: string, meta: Record<string, unknown> = {}): never {
  throw new InvalidCrdtStateError(`${where}: ${problem}`, { where, ...meta });
}

/** A short description of an untrusted value for error messages (never the whole value). */
export function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return `a ${typeof value}`;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export function expectObject(value: unknown, where: string): Record<string, unknown> {
  if (!isPlainObject(value)) fail(where, `expected an object, got ${describe(value)}`);
  return value;
}

export function expectArray(value: unknown, where: string): readonly unknown[] {
  if (!Array.isArray(value)) fail(where, `expected an array, got ${describe(value)}`);
  return value as readonly unknown[];
}

/** Checks that `obj` has exactly the listed keys (all required unless listed in `optional`). */
export function expectKeys(
  obj: Record<string, unknown>,
  where: string,
  required: readonly string[],
  optional: readonly string[] = [],
): void {
  for (const key of required) {
    if (!Object.prototype.hasOwnProperty.call(obj, key)) fail(`${where}.${key}`, 'missing');
  }
  for (const key of Object.keys(obj)) {
    if (!required.includes(key) && !optional.includes(key)) {
      fail(`${where}.${key}`, `unexpected field (expected only ${[...required, ...optional].join(', ')})`);
    }
  }
}

/** A serialized state: an object whose `type` is `type` and whose other fields are exactly `fields`. */
export function expectState(value: unknown, type: string, where: string, fields: readonly string[]): Record<string, unknown> {
  const obj = expectObject(value, where);
  if (obj.type !== type) fail(`${where}.type`, `expected ${JSON.stringify(type)}, got ${describe(obj.type)}`);
  expectKeys(obj, where, ['type', ...fields]);
  return obj;
}

export function expectNodeId(value: unknown, where: string): string {
  if (typeof value !== 'string' || !NODE_ID_PATTERN.test(value)) {
    fail(where, `expected a node id (1-64 characters of [A-Za-z0-9._-], starting with a letter or digit), got ${describe(value)}`);
  }
  return value;
}

/** A dot counter: an integer in [1, 2^53 - 1]. */
export function expectDotCounter(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    fail(where, `dot counter must be an integer, got ${describe(value)}`);
  }
  if (value < 1) fail(where, `dot counter must be positive, got ${value}`);
  if (value > Number.MAX_SAFE_INTEGER) fail(where, 'dot counter exceeds 2^53 - 1');
  return value;
}

/** Set elements are strings of well-formed UTF-16 (so that UTF-8 encodings round-trip exactly). */
export function expectElement(value: unknown, where: string): string {
  if (typeof value !== 'string') fail(where, `element must be a string, got ${describe(value)}`);
  if (value.length > MAX_ELEMENT_LENGTH) {
    fail(where, `element is ${value.length} characters long (limit ${MAX_ELEMENT_LENGTH})`);
  }
  if (!isWellFormed(value)) fail(where, 'element contains a lone UTF-16 surrogate');
  return value;
}

const SURROGATE = /[\uD800-\uDFFF]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function isWellFormed(s: string): boolean {
  return !SURROGATE.test(s) || !LONE_SURROGATE.test(s);
}

/**
 * A register value: anything {@link canonicalJson} accepts (plain JSON). Returns a deep-frozen copy in
 * canonical form, so states can share it and callers cannot change it behind the state's back.
 */
export function expectJsonValue(value: unknown, where: string): JsonValue {
  let text: string;
  try {
    text = canonicalJson(value);
  } catch (err) {
    fail(where, `value is not plain JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  return deepFreeze(JSON.parse(text) as JsonValue);
}

function deepFreeze<T extends JsonValue>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Ordinal (UTF-16 code unit) string order: the order canonical JSON sorts keys by. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
