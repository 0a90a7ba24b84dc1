import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DotIndex } from '../../../src/core/crdt/dot-index.js';
import { DotSet } from '../../../src/core/crdt/index.js';

/** Small dot sets over two nodes and counters 1..40, so that ranges touch, overlap and split. */
const dotsArb = fc.array(fc.tuple(fc.constantFrom('n1', 'n2'), fc.integer({ min: 1, max: 40 })), { maxLength: 40 });

const key = (node: string, c: number): string => `${node}:${c}`;
const toSet = (dots: Array<[string, number]>): Set<string> => new Set(dots.map(([n, c]) => key(n, c)));
const build = (dots: Array<[string, number]>): DotSet => DotSet.fromDots(dots.map(([node, counter]) => ({ node, counter })));
function contents(s: DotSet): Set<string> {
  const out = new Set<string>();
  s.forEachDot((n, c) => out.add(key(n, c)));
  return out;
}

describe('DotSet', () => {
  it('agrees with a plain set of dots on every operation', () => {
    fc.assert(
      fc.property(dotsArb, dotsArb, (xs, ys) => {
        const a = build(xs);
        const b = build(ys);
        const sa = toSet(xs);
        const sb = toSet(ys);
        expect(contents(a)).toEqual(sa);
        expect(a.count()).toBe(sa.size);
        expect(contents(a.union(b))).toEqual(new Set([...sa, ...sb]));
        expect(contents(a.difference(b))).toEqual(new Set([...sa].filter((d) => !sb.has(d))));
        expect(contents(a.intersection(b))).toEqual(new Set([...sa].filter((d) => sb.has(d))));
        expect(a.includes(b)).toBe([...sb].every((d) => sa.has(d)));
        expect(a.union(b).equals(b.union(a))).toBe(true);
        for (let c = 0; c <= 41; c++) expect(a.has('n1', c)).toBe(sa.has(key('n1', c)));
        let grown = a;
        for (const [n, c] of ys) grown = grown.with(n, c);
        expect(grown.equals(a.union(b))).toBe(true);
      }),
    );
  });

  it('keeps ranges normalized (canonical), so equal sets serialize equally', () => {
    fc.assert(
      fc.property(dotsArb, fc.func(fc.integer()), (xs, order) => {
        const shuffled = xs.map((d, i) => [order(i), d] as const).sort((p, q) => p[0] - q[0]).map(([, d]) => d);
        expect(JSON.stringify(build(shuffled).toJSON())).toBe(JSON.stringify(build(xs).toJSON()));
        const back = DotSet.fromJSON(JSON.parse(JSON.stringify(build(xs).toJSON())));
        expect(back.equals(build(xs))).toBe(true);
      }),
    );
  });

  it('serializes as version vector plus dot cloud', () => {
    const s = DotSet.fromVersionVector({ a: 3 }).with('a', 5).with('a', 6).with('b', 2);
    expect(s.toJSON()).toEqual({ vv: { a: 3 }, cloud: { a: [[5, 6]], b: [[2, 2]] } });
    expect(s.versionVector()).toEqual({ a: 3 });
    expect(s.with('a', 4).toJSON()).toEqual({ vv: { a: 6 }, cloud: { b: [[2, 2]] } });
    // Overlapping or unordered cloud ranges are accepted and normalized.
    expect(DotSet.fromJSON({ vv: { a: 2 }, cloud: { a: [[5, 7], [3, 4], [6, 9]] } }).toJSON()).toEqual({ vv: { a: 9 }, cloud: {} });
  });

  it('rejects malformed contexts, naming the field', () => {
    const bad: Array<[unknown, RegExp]> = [
      [null, /^context: expected an object/],
      [{ vv: {} }, /context\.cloud: missing/],
      [{ vv: {}, cloud: {}, x: 1 }, /context\.x: unexpected field/],
      [{ vv: { a: -1 }, cloud: {} }, /context\.vv\.a: dot counter must be positive/],
      [{ vv: { a: 1.5 }, cloud: {} }, /context\.vv\.a: dot counter must be an integer/],
      [{ vv: { 'bad id': 1 }, cloud: {} }, /context\.vv key: expected a node id/],
      [{ vv: {}, cloud: { a: [[3, 2]] } }, /context\.cloud\.a\[0\]: range is empty/],
      [{ vv: {}, cloud: { a: [[1]] } }, /context\.cloud\.a\[0\]: expected a range/],
      [{ vv: {}, cloud: { a: 'x' } }, /context\.cloud\.a: expected an array/],
      [{ vv: { a: 2 ** 53 }, cloud: {} }, /exceeds 2\^53 - 1/],
    ];
    for (const [value, message] of bad) {
      expect(() => DotSet.fromJSON(value)).toThrow(message);
    }
  });
});

describe('DotIndex', () => {
  it('behaves like a Map from counter to element, dense or sparse', () => {
    const op = fc.tuple(
      fc.oneof(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 5000 })),
      fc.option(fc.constantFrom('x', 'y', 'z'), { nil: undefined }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const index = new DotIndex();
        const model = new Map<number, string>();
        for (const [c, e] of ops) {
          expect(index.set(c, e)).toBe(model.get(c));
          if (e === undefined) model.delete(c);
          else model.set(c, e);
          expect(index.size).toBe(model.size);
          expect(index.get(c)).toBe(model.get(c));
        }
        const seen: Array<[number, string]> = [];
        index.forEach((c, e) => seen.push([c, e]));
        expect(seen).toEqual([...model].sort((p, q) => p[0] - q[0]));
        const copy = index.clone();
        index.set(1, 'changed');
        for (const [c, e] of model) expect(copy.get(c)).toBe(e);
      }),
    );
  });

  it('stays compact under churn', () => {
    const index = new DotIndex();
    for (let c = 1; c <= 10_000; c++) {
      index.set(c, 'x');
      index.set(c, undefined);
    }
    index.set(10_001, 'y');
    expect(index.size).toBe(1);
    expect(index.get(10_001)).toBe('y');
    expect((index as unknown as { slots: unknown[] }).slots.length).toBeLessThan(100);
  });
});
