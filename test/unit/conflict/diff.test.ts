import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../src/core/codec/canonical.js';
import { diffValues, jsonEqual, newDiffSink } from '../../../src/core/conflict/index.js';

function diff(a: unknown, b: unknown): string[] {
  const sink = newDiffSink();
  diffValues(a, b, sink);
  return sink.paths.slice().sort();
}

/** JSON values with small pools of keys and scalars, so that equal and near-equal values are common. */
const jsonArb = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(0, -0, 1, 'a', 'b', true, false, null),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('a', 'b', 'c', '__proto__', 'toString'), tie('value'), { maxKeys: 4 }),
  ),
})).value;

function reorder(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reorder);
  if (typeof v === 'object' && v !== null) {
    return Object.fromEntries(
      Object.entries(v)
        .reverse()
        .map(([k, x]) => [k, reorder(x)]),
    );
  }
  return v;
}

describe('jsonEqual', () => {
  it('agrees with canonical JSON equality (fast-check)', () => {
    fc.assert(
      fc.property(jsonArb, jsonArb, (a, b) => {
        expect(jsonEqual(a, b)).toBe(canonicalJson(a) === canonicalJson(b));
        expect(jsonEqual(a, reorder(a))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('treats undefined-valued keys as absent, and 0 as -0', () => {
    expect(jsonEqual({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(jsonEqual({ a: 0 }, { a: -0 })).toBe(true);
    expect(jsonEqual([1, 2], { 0: 1, 1: 2 })).toBe(false);
    expect(jsonEqual({ __proto__: null, a: 1 }, { a: 1 })).toBe(true);
  });

  it('never confuses a missing key with what the prototype holds', () => {
    const proto = JSON.parse('{"__proto__": {}}') as unknown;
    const toStr = JSON.parse('{"toString": {}}') as unknown;
    expect(jsonEqual(proto, { x: {} })).toBe(false);
    expect(jsonEqual({ x: {} }, proto)).toBe(false);
    expect(jsonEqual(toStr, {})).toBe(false);
    expect(jsonEqual(proto, JSON.parse('{"__proto__": {}}'))).toBe(true);
    expect(diff(proto, {})).toEqual(['__proto__']);
    expect(diff({}, toStr)).toEqual(['toString']);
    expect(diff({ a: 1 }, proto)).toEqual(['__proto__', 'a']);
  });
});

describe('diffValues', () => {
  it('is empty exactly when the values are equal, and symmetric (fast-check)', () => {
    fc.assert(
      fc.property(jsonArb, jsonArb, (a, b) => {
        const ab = diff(a, b);
        expect(ab.length === 0).toBe(jsonEqual(a, b));
        expect(diff(b, a)).toEqual(ab);
        expect(diff(reorder(a), b)).toEqual(ab);
      }),
      { numRuns: 500 },
    );
  });

  it('descends into objects, reports arrays whole, the root as $', () => {
    expect(diff({ a: { b: 1, c: [1] }, d: 1 }, { a: { b: 2, c: [2] }, d: 1 })).toEqual(['a.b', 'a.c']);
    expect(diff({ a: { b: 1 } }, { a: 5 })).toEqual(['a']);
    expect(diff({ a: 1 }, { b: 1 })).toEqual(['a', 'b']);
    expect(diff([1], [2])).toEqual(['$']);
    expect(diff(null, { a: 1 })).toEqual(['$']);
    const sink = newDiffSink();
    diffValues({ x: { y: { z: 1 } } }, { x: { y: { z: 2 } } }, sink);
    expect(sink.depths).toEqual([3]);
  });
});
