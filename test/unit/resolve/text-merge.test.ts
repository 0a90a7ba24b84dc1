import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyHunks, diffText, mergeText } from '../../../src/core/resolve/index.js';
import { fenced } from './helpers.js';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Strings over a tiny alphabet (so that diffs are ambiguous) plus astral characters. */
const smallText = fc.string({ unit: fc.constantFrom('a', 'b', 'c', '\n', '😀', '😁'), maxLength: 40 });

describe('diffText', () => {
  it('turns the old text into the new one, with sorted, disjoint, non-adjacent hunks (property)', () => {
    fc.assert(
      fc.property(fc.oneof(smallText, fc.string({ unit: 'binary', maxLength: 30 })), fc.oneof(smallText, fc.string({ unit: 'binary', maxLength: 30 })), (a, b) => {
        const hunks = diffText(a, b);
        expect(applyHunks(a, hunks)).toBe(b);
        for (let i = 1; i < hunks.length; i++) expect(hunks[i]!.start).toBeGreaterThan(hunks[i - 1]!.end);
        for (const h of hunks) expect(h.end > h.start || h.text.length > 0).toBe(true);
        if (a === b) expect(hunks).toEqual([]);
      }),
    );
  });

  it('never splits a surrogate pair', () => {
    const hunks = diffText('x😀y', 'x😁y');
    expect(hunks).toEqual([{ start: 1, end: 3, text: '😁' }]);
  });

  it('finds a minimal edit in the middle of a long text', () => {
    const base = 'lorem ipsum dolor sit amet '.repeat(400);
    const edited = base.slice(0, 5000) + 'INSERTED' + base.slice(5003);
    expect(diffText(base, edited)).toEqual([{ start: 5000, end: 5003, text: 'INSERTED' }]);
  });

  it('stays correct (and bounded) on a large rewrite, falling back to lines', () => {
    const lines = (seed: number): string =>
      Array.from({ length: 400 }, (_, i) => `line ${(i * seed) % 997} ${'xyz'.repeat((i * seed) % 7)}\n`).join('');
    const a = lines(3);
    const b = lines(5);
    const t0 = performance.now();
    const hunks = diffText(a, b);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(applyHunks(a, hunks)).toBe(b);
  });
});

describe('mergeText', () => {
  it('applies both sides edits when they touch separate regions (property)', () => {
    fc.assert(
      fc.property(fenced(2), ({ ancestor, edits, expected }) => {
        expect(mergeText(ancestor, edits).text).toBe(expected);
        expect(mergeText(ancestor, [...edits].reverse()).text).toBe(expected);
      }),
    );
  });

  it('large texts (diffed by lines, words, then characters): separate edits all land (property)', () => {
    fc.assert(
      fc.property(fenced(2, { minLength: 300, maxLength: 700, segments: 16, sparse: true }), ({ ancestor, edits, expected }) => {
        for (const e of edits) expect(applyHunks(ancestor, diffText(ancestor, e))).toBe(e);
        expect(mergeText(ancestor, edits).text).toBe(expected);
      }),
      { numRuns: 30 },
    );
  });

  it('keeps every insertion and applies every deletion of overlapping edits (property)', () => {
    // Side A inserts only upper-case letters, side B only digits; the ancestor is lower-case.
    const edit = (alphabet: string[]) =>
      fc.array(fc.record({ keep: fc.boolean(), insert: fc.string({ unit: fc.constantFrom(...alphabet), maxLength: 2 }) }), { maxLength: 30 });
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', 'b', 'c'), maxLength: 30 }), edit(['X', 'Y']), edit(['1', '2']), (anc, ea, eb) => {
        const apply = (ops: { keep: boolean; insert: string }[]): string =>
          [...anc].map((ch, i) => (ops[i]?.insert ?? '') + (ops[i]?.keep === false ? '' : ch)).join('');
        const a = apply(ea);
        const b = apply(eb);
        const merged = mergeText(anc, [a, b]).text;
        const count = (s: string, ch: string): number => [...s].filter((x) => x === ch).length;
        for (const ch of ['X', 'Y']) expect(count(merged, ch)).toBe(count(a, ch));
        for (const ch of ['1', '2']) expect(count(merged, ch)).toBe(count(b, ch));
        const lower = (s: string): number => [...s].filter((x) => x >= 'a' && x <= 'c').length;
        expect(lower(merged)).toBeLessThanOrEqual(Math.min(lower(a), lower(b)));
        // merging a side with the ancestor changes nothing
        expect(mergeText(anc, [a, anc]).text).toBe(a);
      }),
    );
  });

  it('orders two insertions into one gap by the order of the sides', () => {
    expect(mergeText('ac', ['abc', 'aBc']).text).toBe('abBc');
    expect(mergeText('ac', ['aBc', 'abc']).text).toBe('aBbc');
  });

  it('makes the same edit once, and reports overlaps', () => {
    const r = mergeText('the color red', ['the colour red', 'the colour red']);
    expect(r.text).toBe('the colour red');
    expect(mergeText('abcdef', ['abXdef', 'abYdef']).overlaps).toBe(1);
    expect(mergeText('abcdef', ['Xbcdef', 'abcdeY']).overlaps).toBe(0);
  });

  it('a deletion and an insertion inside it: the deletion applies, the insertion stays', () => {
    expect(mergeText('0123456789', ['0189', '01234X56789']).text).toBe('01X89');
  });

  it('never produces a lone surrogate (property)', () => {
    fc.assert(
      fc.property(smallText, smallText, smallText, (anc, a, b) => {
        expect(LONE_SURROGATE.test(mergeText(anc, [a, b]).text)).toBe(false);
      }),
    );
  });
});
