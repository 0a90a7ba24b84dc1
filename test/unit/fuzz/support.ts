/**
 * Shared machinery of the decoder fuzz suites (test/unit/fuzz/*.test.ts).
 *
 * Run counts: every property runs {@link FUZZ_RUNS} cases, 5,000 by default (CI). The long mode is
 * `DWCP_FUZZ_RUNS=100000 npx vitest run --project unit test/unit/fuzz`. Seeds are never fixed:
 * fast-check prints the seed and the path of a failing case, so `fc.assert(..., { seed, path })`
 * replays it.
 *
 * Hostile inputs that are expensive to print or to build (10,000 levels of nesting, 100,000-entry
 * clocks, 100,000-element arrays) travel through the generators as short sentinel strings and are
 * expanded only when the input is serialised ({@link toJsonText}) or materialised
 * ({@link materialize}), so a counterexample stays readable.
 */
import fc from 'fast-check';
import { DwcpError } from '../../../src/core/errors.js';

/** Cases per property: 5,000 by default, `DWCP_FUZZ_RUNS` to change it (e.g. 100000 for the long mode). */
export const FUZZ_RUNS: number = (() => {
  const raw = process.env.DWCP_FUZZ_RUNS;
  if (raw === undefined || raw === '') return 5_000;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`DWCP_FUZZ_RUNS must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
})();

/**
 * Cases for properties whose every case makes the decoder parse 10,000 levels of nesting from text
 * (about 3 ms each): a tenth of {@link FUZZ_RUNS} (500 in CI, 10,000 in the long mode), so the
 * suite stays under a minute. The nesting positions are few, and each text decoder also has an
 * example test that puts the nesting at every position of a document.
 */
export const DEEP_TEXT_RUNS: number = fractionOfRuns(10);

/** `FUZZ_RUNS / divisor` (at least 1): for properties whose cases are inherently slow (each says why). */
export function fractionOfRuns(divisor: number): number {
  return Math.max(1, Math.floor(FUZZ_RUNS / divisor));
}

/** fast-check parameters for a property: the run count, never a fixed seed. */
export function params(runs = FUZZ_RUNS): fc.Parameters<unknown> {
  return { numRuns: runs };
}

/** Per-test timeout for a property of `runs` cases, each taking up to `msPerRun` (scales with DWCP_FUZZ_RUNS). */
export function timeoutFor(msPerRun = 2, runs = FUZZ_RUNS): number {
  return Math.max(30_000, runs * msPerRun * 2);
}

// ---- outcomes --------------------------------------------------------------------------------------

export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: DwcpError };

/**
 * Runs a decoder on hostile input. It may return, or throw the module's typed DwcpError with one of
 * `codes`. Anything else (a TypeError, a RangeError from a stack overflow, a DwcpError with another
 * code) fails the property with the original error's type, message and stack.
 */
export function attempt<T>(what: string, codes: readonly string[], fn: () => T): Outcome<T> {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    if (err instanceof DwcpError && codes.includes(err.code)) return { ok: false, error: err };
    throw untyped(what, codes, err);
  }
}

/** {@link attempt} for async decoders and handlers. */
export async function attemptAsync<T>(what: string, codes: readonly string[], fn: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    if (err instanceof DwcpError && codes.includes(err.code)) return { ok: false, error: err };
    throw untyped(what, codes, err);
  }
}

export function untyped(what: string, codes: readonly string[], err: unknown): Error {
  const kind = err instanceof DwcpError ? `${err.name} (${err.code})` : err instanceof Error ? err.name : typeof err;
  const message = err instanceof Error ? err.message : String(err);
  const stack = err instanceof Error ? (err.stack ?? '').split('\n').slice(1, 7).join('\n') : '';
  return new Error(`${what} threw ${kind} where only DwcpError with code ${codes.join(' | ')} is allowed: ${message.slice(0, 300)}\n${stack}`, {
    cause: err,
  });
}

// ---- big hostile values, by sentinel ------------------------------------------------------------------

export const DEEP_LEVELS = 10_000;
export const WIDE = 100_000;

const SENTINEL_TEXT: Readonly<Record<string, () => string>> = {
  '@@DEEP_ARRAY@@': once(() => '['.repeat(DEEP_LEVELS) + ']'.repeat(DEEP_LEVELS)),
  '@@DEEP_OBJECT@@': once(() => '{"a":'.repeat(DEEP_LEVELS) + '1' + '}'.repeat(DEEP_LEVELS)),
  '@@WIDE_ARRAY@@': once(() => '[' + '0,'.repeat(WIDE - 1) + '0]'),
  '@@HUGE_CLOCK@@': once(() => '{' + Array.from({ length: WIDE }, (_, i) => `"z${i}":1`).join(',') + '}'),
  '@@LONG_STRING@@': once(() => JSON.stringify('x'.repeat(WIDE))),
  '@@LONG_DIGITS@@': once(() => JSON.stringify('9'.repeat(WIDE))),
  '@@PAST_2_53@@': () => '9007199254740993',
  '@@HUGE_NUMBER@@': () => '1e400',
  '@@NEG_ZERO@@': () => '-0',
  '@@PROTO@@': () => '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}}}',
};

export const SENTINELS: readonly string[] = Object.keys(SENTINEL_TEXT);
/** The 10,000-level sentinels (kept apart so each decoder has a property of its own for them). */
export const DEEP_SENTINELS: readonly string[] = ['@@DEEP_ARRAY@@', '@@DEEP_OBJECT@@'];
/** Cheap hostile scalars and small objects. */
export const CHEAP_SENTINELS: readonly string[] = ['@@PAST_2_53@@', '@@HUGE_NUMBER@@', '@@NEG_ZERO@@'];
/** 100,000-element values: costly to parse, so drawn rarely (the 100k-entry clock only in example tests). */
export const WIDE_SENTINELS: readonly string[] = ['@@WIDE_ARRAY@@', '@@LONG_STRING@@', '@@LONG_DIGITS@@'];
/** Own keys named after Object.prototype members (kept apart like the deep sentinels). */
export const PROTO_KEYS: readonly string[] = ['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf'];

function once(f: () => string): () => string {
  let v: string | undefined;
  return () => (v ??= f());
}

/** JSON text of `value` with every sentinel string replaced by its hostile JSON text. */
export function toJsonText(value: unknown): string {
  let text = JSON.stringify(value) ?? 'null';
  for (const [s, make] of Object.entries(SENTINEL_TEXT)) {
    const quoted = JSON.stringify(s);
    if (text.includes(quoted)) text = text.split(quoted).join(make());
  }
  return text;
}

/** The value with sentinels expanded (JSON.parse is iterative in V8, so 10,000 levels are fine). */
export function materialize(value: unknown): unknown {
  return JSON.parse(toJsonText(value)) as unknown;
}

const parsedSentinels = new Map<string, unknown>();

/**
 * Like {@link materialize}, without serialising: sentinels become shared, pre-parsed values. For
 * decoders that take parsed JSON, so a 10,000-level case costs what the decoder does with it, not a
 * parse. The decoders under test never mutate their input, so sharing is safe.
 */
export function expand(value: unknown): unknown {
  if (typeof value === 'string') {
    if (!Object.hasOwn(SENTINEL_TEXT, value)) return value;
    const make = SENTINEL_TEXT[value]!;
    let v = parsedSentinels.get(value);
    if (v === undefined) {
      v = JSON.parse(make()) as unknown;
      parsedSentinels.set(value, v);
    }
    return v;
  }
  if (Array.isArray(value)) return value.map(expand);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) define(out, k, expand(v));
    return out;
  }
  return value;
}

/** A value nested `levels` deep, built without recursion. */
export function deepArray(levels = DEEP_LEVELS): unknown[] {
  const root: unknown[] = [];
  let cur = root;
  for (let i = 1; i < levels; i++) {
    const next: unknown[] = [];
    cur.push(next);
    cur = next;
  }
  return root;
}

// ---- hostile JSON ----------------------------------------------------------------------------------

/**
 * Values a hostile peer would put anywhere in a JSON document: numbers past 2^53 and beyond double
 * range, -0, 100,000-element arrays and strings (rarely: they are slow to parse), lone surrogates,
 * wrong types, random JSON. Not the 10,000-level ones ({@link deepJsonArb}) nor prototype-named keys ({@link PROTO_KEYS}):
 * those have properties of their own.
 */
export const hostileJsonArb: fc.Arbitrary<unknown> = hostileValues(true);

/** {@link hostileJsonArb} without the 100,000-element values (YAML takes seconds over them; see documents.test.ts). */
export const narrowHostileJsonArb: fc.Arbitrary<unknown> = hostileValues(false);

function hostileValues(wide: boolean): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 20, arbitrary: fc.constantFrom<unknown>(...CHEAP_SENTINELS) },
    { weight: 1, arbitrary: wide ? fc.constantFrom<unknown>(...WIDE_SENTINELS) : fc.constantFrom<unknown>(...CHEAP_SENTINELS) },
    {
      weight: 40,
      arbitrary: fc.constantFrom<unknown>(
        null,
        true,
        false,
        0,
        -1,
        1.5,
        2 ** 53,
        Number.MAX_SAFE_INTEGER,
        -Number.MAX_SAFE_INTEGER,
        1e308,
        '',
        '..',
        '\u0000',
        '\ud800',
        'vm/../x',
        [],
        {},
        [null],
        { wall: 1, logical: 0 },
        { v: 2 },
      ),
    },
    { weight: 39, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  );
}

type Path = ReadonlyArray<string | number>;

/** Every path into a JSON value (the root included), breadth-first, at most `limit`. */
export function pathsOf(value: unknown, limit = 512): Path[] {
  const out: Path[] = [[]];
  for (let i = 0; i < out.length && out.length < limit; i++) {
    const p = out[i]!;
    const v = at(value, p);
    if (Array.isArray(v)) v.forEach((_, k) => out.push([...p, k]));
    else if (v !== null && typeof v === 'object') for (const k of Object.keys(v)) out.push([...p, k]);
  }
  return out.slice(0, limit);
}

function at(value: unknown, path: Path): unknown {
  let cur = value;
  for (const k of path) cur = (cur as Record<string | number, unknown>)[k];
  return cur;
}

/** One structural mutation of a JSON document. */
export type JsonMutation =
  | { readonly op: 'replace'; readonly pick: number; readonly with: unknown }
  | { readonly op: 'delete'; readonly pick: number }
  | { readonly op: 'add'; readonly pick: number; readonly key: string; readonly with: unknown }
  | { readonly op: 'wrap'; readonly pick: number };

/** 10,000 levels of arrays or objects. */
export const deepJsonArb: fc.Arbitrary<unknown> = fc.constantFrom<unknown>(...DEEP_SENTINELS);

const plainKeyArb = fc.oneof(
  fc.constantFrom('x', 'v', 'type', 'data', 'id', 'clock', 'hlc', 'wall', 'node', 'entries'),
  fc.string({ maxLength: 6 }).filter((k) => !PROTO_KEYS.includes(k)),
);

/**
 * A structural mutation: replace a node, delete it, add a key, wrap it in an array. `values` is
 * what gets put in ({@link hostileJsonArb} by default); `keys` the names of added keys.
 */
export function jsonMutationArb(
  values: fc.Arbitrary<unknown> = hostileJsonArb,
  keys: fc.Arbitrary<string> = plainKeyArb,
): fc.Arbitrary<JsonMutation> {
  return fc.oneof(
    { weight: 5, arbitrary: fc.record({ op: fc.constant('replace' as const), pick: fc.nat(), with: values }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), pick: fc.nat() }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('add' as const), pick: fc.nat(), key: keys, with: values }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('wrap' as const), pick: fc.nat() }) },
  );
}

/** One to three mutations with hostile values and plain keys. */
export const jsonMutationsArb: fc.Arbitrary<JsonMutation[]> = fc.array(jsonMutationArb(), { minLength: 1, maxLength: 3 });

/** {@link jsonMutationsArb} with {@link narrowHostileJsonArb}. */
export const narrowJsonMutationsArb: fc.Arbitrary<JsonMutation[]> = fc.array(jsonMutationArb(narrowHostileJsonArb), { minLength: 1, maxLength: 3 });

/** One mutation putting a 10,000-level value somewhere (replace or add). */
export const deepMutationArb: fc.Arbitrary<JsonMutation> = fc.oneof(
  fc.record({ op: fc.constant('replace' as const), pick: fc.nat(), with: deepJsonArb }),
  fc.record({ op: fc.constant('add' as const), pick: fc.nat(), key: plainKeyArb, with: deepJsonArb }),
);

/** One mutation adding an own key named after an Object.prototype member, anywhere. */
export const protoKeyMutationArb: fc.Arbitrary<JsonMutation> = fc.record({
  op: fc.constant('add' as const),
  pick: fc.nat(),
  key: fc.constantFrom(...PROTO_KEYS),
  with: fc.oneof(fc.constantFrom<unknown>(1, 'x', null, {}, [], '@@PROTO@@'), fc.jsonValue({ maxDepth: 2 })),
});

/**
 * Applies mutations to a deep copy of a JSON document. Sentinels stay sentinels (expand with
 * {@link toJsonText} / {@link materialize}).
 */
export function mutateJson(doc: unknown, mutations: readonly JsonMutation[]): unknown {
  let root = structuredClone(doc);
  for (const m of mutations) {
    if (m.op === 'add') {
      // Keys are added to containers only (objects get a key, arrays an element).
      const containers = pathsOf(root).filter((p) => {
        const v = at(root, p);
        return v !== null && typeof v === 'object';
      });
      if (containers.length === 0) continue;
      const target = at(root, containers[m.pick % containers.length]!);
      if (Array.isArray(target)) target.push(structuredClone(m.with));
      else define(target as Record<string, unknown>, m.key, structuredClone(m.with));
      continue;
    }
    const paths = pathsOf(root);
    const path = paths[m.pick % paths.length]!;
    if (path.length === 0) {
      root = m.op === 'replace' ? structuredClone(m.with) : m.op === 'wrap' ? [root] : null;
      continue;
    }
    const parent = at(root, path.slice(0, -1)) as Record<string | number, unknown>;
    const key = path[path.length - 1]!;
    if (m.op === 'replace') parent[key] = structuredClone(m.with);
    else if (m.op === 'wrap') parent[key] = [parent[key]];
    else if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key];
  }
  return root;
}

/** An own data property, even for `__proto__` (as JSON.parse would make it). */
function define(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

// ---- hostile bytes ---------------------------------------------------------------------------------

export type ByteMutation =
  | { readonly op: 'flip'; readonly pos: number; readonly bit: number }
  | { readonly op: 'set'; readonly pos: number; readonly value: number }
  | { readonly op: 'truncate'; readonly pos: number }
  | { readonly op: 'delete'; readonly pos: number; readonly count: number }
  | { readonly op: 'insert'; readonly pos: number; readonly bytes: Uint8Array }
  | { readonly op: 'duplicate'; readonly pos: number; readonly count: number };

export const byteMutationArb: fc.Arbitrary<ByteMutation> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('flip' as const), pos: fc.nat(), bit: fc.nat(7) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('set' as const), pos: fc.nat(), value: fc.constantFrom(0, 1, 0x7f, 0x80, 0xff, 0x22, 0x5c, 0x7b, 0x5b) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('truncate' as const), pos: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), pos: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('insert' as const), pos: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('duplicate' as const), pos: fc.nat(), count: fc.integer({ min: 1, max: 32 }) }) },
);

/** At least one mutation: bit flips, byte sets, truncations, deletions, insertions, duplications. */
export const byteMutationsArb: fc.Arbitrary<ByteMutation[]> = fc.array(byteMutationArb, { minLength: 1, maxLength: 4 });

export function mutateBytes(bytes: Uint8Array, mutations: readonly ByteMutation[]): Uint8Array {
  let b: Uint8Array = Uint8Array.from(bytes);
  for (const m of mutations) {
    const n = b.length;
    switch (m.op) {
      case 'flip':
        if (n > 0) b[m.pos % n]! ^= 1 << m.bit;
        break;
      case 'set':
        if (n > 0) b[m.pos % n] = m.value;
        break;
      case 'truncate':
        b = b.slice(0, n === 0 ? 0 : m.pos % n);
        break;
      case 'delete': {
        const p = n === 0 ? 0 : m.pos % n;
        b = concat(b.subarray(0, p), b.subarray(p + m.count));
        break;
      }
      case 'insert': {
        const p = m.pos % (n + 1);
        b = concat(b.subarray(0, p), m.bytes, b.subarray(p));
        break;
      }
      case 'duplicate': {
        const p = n === 0 ? 0 : m.pos % n;
        b = concat(b.subarray(0, p + m.count), b.subarray(p));
        break;
      }
    }
  }
  return b;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** True if two byte arrays are equal. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}

/** Text mutations for textual formats (YAML, clock text, HLC text). */
export function mutateText(text: string, mutations: readonly ByteMutation[]): string {
  return new TextDecoder().decode(mutateBytes(new TextEncoder().encode(text), mutations));
}

export const enc = new TextEncoder();
