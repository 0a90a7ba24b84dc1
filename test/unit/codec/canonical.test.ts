import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, digestOf, MAX_DEPTH, sha256Hex } from '../../../src/core/codec/canonical.js';
import { describeValue } from '../../../src/core/codec/describe.js';
import { EncodingError } from '../../../src/core/errors.js';

/** The same JSON value with every object's keys inserted in a different (reversed or rotated) order. */
function reorder(value: unknown, rotate: number): unknown {
  if (Array.isArray(value)) return value.map((v) => reorder(v, rotate));
  if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value);
    const r = keys.length === 0 ? 0 : rotate % keys.length;
    const order = [...keys.slice(r), ...keys.slice(0, r)].reverse();
    const out: Record<string, unknown> = {};
    // defineProperty, not assignment: a "__proto__" key must stay an own property.
    for (const k of order) {
      const v = reorder((value as Record<string, unknown>)[k], rotate + 1);
      Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}

/** Replace -0 by 0 everywhere (JSON cannot tell them apart). */
function normalizeZero(value: unknown): unknown {
  if (Object.is(value, -0)) return 0;
  if (Array.isArray(value)) return value.map(normalizeZero);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalizeZero(v)]));
  }
  return value;
}

/** Expect an EncodingError (ERR_ENCODING) whose message and meta name `path`. */
function expectEncodingError(value: unknown, path: string, message?: RegExp): void {
  let thrown: unknown;
  try {
    canonicalJson(value);
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(EncodingError);
  const err = thrown as EncodingError;
  expect(err.code).toBe('ERR_ENCODING');
  expect(err.meta.path).toBe(path);
  expect(err.message).toContain(` at ${path}`);
  if (message) expect(err.message).toMatch(message);
  expect(() => digestOf(value)).toThrow(EncodingError);
}

const nested = (levels: number, inner: unknown): unknown => {
  let v = inner;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
};

describe('canonicalJson', () => {
  it('does not depend on key insertion order (and neither does the digest)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat(7), (value, rotate) => {
        const other = reorder(value, rotate);
        expect(canonicalJson(other)).toBe(canonicalJson(value));
        expect(digestOf(other)).toBe(digestOf(value));
      }),
    );
  });

  it('is valid JSON that parses back to the same value, and re-encodes to the same text', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value);
        const parsed: unknown = JSON.parse(text);
        expect(parsed).toEqual(normalizeZero(value));
        expect(canonicalJson(parsed)).toBe(text);
      }),
    );
  });

  it('sorts keys by UTF-16 code unit at every level, without whitespace', () => {
    const value = { b: 1, a: { z: [3, { y: null, x: true }], '9': 'nine', '10': 'ten' }, B: 'upper', é: 'e', '': 0 };
    expect(canonicalJson(value)).toBe(
      '{"":0,"B":"upper","a":{"10":"ten","9":"nine","z":[3,{"x":true,"y":null}]},"b":1,"é":"e"}',
    );
    // Code units, not code points: U+FFFF sorts after U+1F600 (a surrogate pair starting 0xD83D).
    expect(canonicalJson({ '\uffff': 1, '😀': 2 })).toBe('{"😀":2,"\uffff":1}');
  });

  it('writes -0 as 0, at the top and nested', () => {
    expect(canonicalJson(-0)).toBe('0');
    expect(canonicalJson({ a: [-0, { b: -0 }] })).toBe('{"a":[0,{"b":0}]}');
    expect(digestOf({ x: -0 })).toBe(digestOf({ x: 0 }));
  });

  it('writes numbers in the shortest round-trip form', () => {
    expect(canonicalJson([1, 1.5, 1e21, 1e-7, 0.1 + 0.2, Number.MAX_SAFE_INTEGER, -5])).toBe(
      '[1,1.5,1e+21,1e-7,0.30000000000000004,9007199254740991,-5]',
    );
  });

  it('skips undefined object members like JSON.stringify, and accepts null-prototype objects', () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
    const bare = Object.create(null) as Record<string, unknown>;
    bare.k = 'v';
    expect(canonicalJson(bare)).toBe('{"k":"v"}');
    expect(canonicalJson(JSON.parse('{"__proto__":{"x":1}}'))).toBe('{"__proto__":{"x":1}}');
  });

  it('escapes strings deterministically, lone surrogates included', () => {
    expect(canonicalJson('a"b\\c\n\u0001')).toBe('"a\\"b\\\\c\\n\\u0001"');
    expect(canonicalJson('\ud800')).toBe('"\\ud800"');
  });
});

describe('canonicalJson refuses what it cannot encode canonically, naming the path', () => {
  it('non-finite numbers', () => {
    expectEncodingError(NaN, '$', /non-finite number/);
    expectEncodingError({ a: [1, 2, { b: Infinity }] }, '$.a[2].b', /non-finite number/);
    expectEncodingError([-Infinity], '$[0]', /non-finite number/);
    fc.assert(
      fc.property(fc.constantFrom(NaN, Infinity, -Infinity), fc.array(fc.nat(3), { maxLength: 4 }), (bad, pathIdx) => {
        const value = pathIdx.reduceRight<unknown>((inner, i) => ({ [`k${i}`]: inner }), bad);
        expectEncodingError(value, ['$', ...pathIdx.map((i) => `k${i}`)].join('.'));
      }),
    );
  });

  it('undefined inside arrays (JSON.stringify would silently write null)', () => {
    expectEncodingError([1, undefined], '$[1]', /unsupported value of type undefined/);
    expectEncodingError({ list: [0, [undefined]] }, '$.list[1][0]');
    // eslint-disable-next-line no-sparse-arrays
    expectEncodingError([1, , 3], '$[1]');
    expectEncodingError(undefined, '$');
  });

  it('functions, symbols and bigints', () => {
    expectEncodingError({ f: () => 1 }, '$.f', /type function/);
    expectEncodingError([Symbol('s')], '$[0]', /type symbol/);
    expectEncodingError({ n: 10n }, '$.n', /type bigint/);
  });

  it('class instances, built-ins included', () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    const cases: unknown[] = [new Point(1, 2), new Date(0), new Map(), new Set(), new Uint8Array(2), /re/, new Error('e'), Object(1)];
    for (const instance of cases) expectEncodingError({ v: [instance] }, '$.v[0]', /expected a plain object/);
  });

  it('keys that are not identifiers are quoted in the path, so the path names one place', () => {
    expectEncodingError({ 'a.b': { 'c d': NaN } }, '$["a.b"]["c d"]');
    expectEncodingError({ a: { b: NaN } }, '$.a.b');
  });

  it(`nesting deeper than ${MAX_DEPTH} levels, and cycles`, () => {
    expect(() => canonicalJson(nested(MAX_DEPTH, 1))).not.toThrow();
    expect(() => canonicalJson(nested(MAX_DEPTH, []))).toThrow(EncodingError);
    expect(() => canonicalJson(nested(MAX_DEPTH - 1, {}))).not.toThrow();
    const deepPath = '$' + '[0]'.repeat(MAX_DEPTH);
    expectEncodingError(nested(MAX_DEPTH + 1, 1), deepPath, /nested deeper than 64 levels/);
    expectEncodingError(nested(MAX_DEPTH, {}), deepPath, /nested deeper than 64 levels/);
    // Far deeper input is refused at the limit, without recursing into it (no stack overflow).
    expectEncodingError(nested(100_000, 1), deepPath);
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expectEncodingError(cyclic, '$' + '.self'.repeat(MAX_DEPTH), /deeper than 64 levels .*cyclic/);
  });
});

describe('digestOf', () => {
  it('is the first 128 bits of SHA-256 of the canonical text', () => {
    const value = { b: [1, 2], a: 'x' };
    expect(digestOf(value)).toBe(sha256Hex('{"a":"x","b":[1,2]}').slice(0, 32));
    expect(digestOf(value)).toMatch(/^[0-9a-f]{32}$/);
    // A known answer, so that a change of hash or encoding cannot go unnoticed.
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('differs when the content differs', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        fc.pre(canonicalJson(a) !== canonicalJson(b));
        expect(digestOf(a)).not.toBe(digestOf(b));
      }),
    );
  });
});

describe('describeValue (error-message rendering)', () => {
  it('renders any value without throwing', () => {
    expect(describeValue(1n)).toBe('1n');
    expect(describeValue(NaN)).toBe('NaN');
    expect(describeValue(-0)).toBe('-0');
    expect(describeValue('x'.repeat(100))).toBe(JSON.stringify('x'.repeat(77) + '...'));
    expect(describeValue([1, 2])).toBe('an array of length 2');
    expect(describeValue(null)).toBe('null');
    expect(describeValue(Symbol('s'))).toBe('a symbol');
    fc.assert(
      fc.property(fc.anything(), (v) => {
        expect(typeof describeValue(v)).toBe('string');
      }),
    );
  });
});
