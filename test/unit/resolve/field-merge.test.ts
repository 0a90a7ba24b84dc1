import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../src/core/codec/canonical.js';
import { ABSENT, candidates, canonicalOf, jsonEqual, mergeFieldwise, pickHighestPriority, pickLww } from '../../../src/core/resolve/field-merge.js';
import { ver } from './helpers.js';

const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(null, true, false, 0, -0, 1, 2.5, 'a', ''),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('a', 'b', 'c'), tie('value'), { maxKeys: 3 }),
  ),
})).value;

describe('field merge helpers', () => {
  it('jsonEqual agrees with canonical-JSON equality (property)', () => {
    fc.assert(
      fc.property(json, json, (a, b) => {
        expect(jsonEqual(a, b)).toBe(canonicalJson(a) === canonicalJson(b));
        expect(jsonEqual(a, structuredClone(a))).toBe(true);
      }),
    );
    expect(jsonEqual({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(jsonEqual({ b: 1, a: 2 }, { a: 2, b: 1 })).toBe(true);
    expect(jsonEqual([1], { 0: 1 })).toBe(false);
  });

  it('canonicalOf matches canonicalJson, and absence encodes below every value', () => {
    fc.assert(
      fc.property(json, (v) => {
        expect(canonicalOf(v)).toBe(canonicalJson(v));
      }),
    );
    expect(canonicalOf(ABSENT)).toBe('');
  });

  it('pickLww: newest hlc, then the greater value; pickHighestPriority: priority, node id, value', () => {
    const a = ver({ origin: 'hv-01', wall: 10, data: { f: 'z' } });
    const b = ver({ origin: 'hv-02', wall: 10, data: { f: 'y' } });
    const c = ver({ origin: 'hv-03', wall: 5, data: {} });
    const cands = candidates([c, a, b], (e) => (e.data as Record<string, unknown>).f ?? ABSENT);
    expect(pickLww(cands).value).toBe('z');
    expect(pickHighestPriority(cands, { nodePriorities: { 'hv-03': 1 } }).value).toBe(ABSENT);
    expect(pickHighestPriority(cands, { nodePriorities: {} }).winner.origin).toBe('hv-03');
  });

  it('mergeFieldwise: every field decided and recorded; absent in the newest write means dropped', () => {
    const a = ver({ origin: 'hv-01', wall: 10, data: { x: 1, gone: true } });
    const b = ver({ origin: 'hv-02', wall: 20, data: { x: 2, y: 'new' } });
    const r = mergeFieldwise([a, b], undefined, { nodePriorities: {}, fieldStrategies: { x: 'highest_priority', y: 'consensus_vote' } }, 'last_write_wins');
    expect(r.data).toEqual({ x: 2, y: 'new' });
    expect(r.fieldDecisions.map((d) => [d.field, d.rule])).toEqual([
      ['gone', 'last_write_wins'],
      ['x', 'highest_priority'],
      ['y', 'last_write_wins'],
    ]);
    expect(r.notes.join('\n')).toMatch(/field y: strategy consensus_vote cannot decide a single field/);
    expect(r.origin).toBe('hv-02');
  });
});
