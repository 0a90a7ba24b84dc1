import { describe, expect, it } from 'vitest';
import { LWWRegister, MVRegister } from '../../../src/core/crdt/index.js';

const hlc = (wall: number, logical = 0): { wall: number; logical: number } => ({ wall, logical });
const dot = (node: string, counter: number): { node: string; counter: number } => ({ node, counter });

describe('LWW-Register', () => {
  it('orders writes by hlc wall, then logical, then node id', () => {
    const r = LWWRegister.EMPTY;
    const cases: Array<[LWWRegister, LWWRegister, string]> = [
      [r.set('old', hlc(1, 9), 'n9').state, r.set('new', hlc(2, 0), 'n1').state, 'new'],
      [r.set('old', hlc(5, 1), 'n9').state, r.set('new', hlc(5, 2), 'n1').state, 'new'],
      [r.set('a', hlc(5, 1), 'n1').state, r.set('b', hlc(5, 1), 'n2').state, 'b'],
    ];
    for (const [x, y, winner] of cases) {
      expect(x.merge(y).value()).toBe(winner);
      expect(y.merge(x).value()).toBe(winner);
    }
  });

  it('keeps the later write on set, and its delta is the write', () => {
    const r = LWWRegister.EMPTY.set({ cpu: 4 }, hlc(10), 'n1').state;
    const stale = r.set({ cpu: 2 }, hlc(9), 'n2');
    expect(stale.state.value()).toEqual({ cpu: 4 });
    expect(stale.delta.value()).toEqual({ cpu: 2 });
    expect(r.write).toEqual({ value: { cpu: 4 }, hlc: hlc(10), node: 'n1' });
    expect(LWWRegister.EMPTY.value()).toBeUndefined();
  });

  it('copies and freezes the value it stores', () => {
    const value = { tags: ['a'] };
    const r = LWWRegister.EMPTY.set(value, hlc(1), 'n1').state;
    value.tags.push('b');
    expect(r.value()).toEqual({ tags: ['a'] });
    expect(Object.isFrozen(r.value())).toBe(true);
  });

  it('breaks a (corrupt) tie on the same hlc and node deterministically', () => {
    const a = LWWRegister.EMPTY.set('x', hlc(1), 'n1').state;
    const b = LWWRegister.EMPTY.set('y', hlc(1), 'n1').state;
    expect(a.merge(b).value()).toBe(b.merge(a).value());
  });

  it('refuses bad writes', () => {
    const r = LWWRegister.EMPTY;
    expect(() => r.set(1, hlc(-1), 'n1')).toThrow(/wall: must be a non-negative integer/);
    expect(() => r.set(1, hlc(1, 70_000), 'n1')).toThrow(/logical: must be an integer in \[0, 65535\]/);
    expect(() => r.set(1, hlc(1), '')).toThrow(/node id/);
    expect(() => r.set(Infinity, hlc(1), 'n1')).toThrow(/not plain JSON.*non-finite/);
    expect(() => r.set(new Date(0), hlc(1), 'n1')).toThrow(/not plain JSON/);
    expect(() => r.set(undefined, hlc(1), 'n1')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CRDT_STATE' }));
  });
});

describe('MV-Register', () => {
  it('keeps concurrent writes, and a later write replaces what it has seen', () => {
    const a = MVRegister.EMPTY.set('from-a', dot('n1', 1)).state;
    const b = MVRegister.EMPTY.set('from-b', dot('n2', 1)).state;
    const both = a.merge(b);
    expect(both.value()).toEqual(['from-a', 'from-b']);
    expect(both.current().map((e) => e.dot)).toEqual([dot('n1', 1), dot('n2', 1)]);
    const resolved = both.set('resolved', dot('n1', 2));
    expect(resolved.state.value()).toEqual(['resolved']);
    expect(resolved.delta.context.has('n2', 1)).toBe(true);
    // The resolution wins everywhere, even where only the conflicting writes were seen.
    expect(b.merge(resolved.delta).merge(a).value()).toEqual(['resolved']);
  });

  it('a write does not replace a concurrent write it has not seen', () => {
    const base = MVRegister.EMPTY.set(1, dot('n1', 1)).state;
    const x = base.set(2, dot('n1', 2)).state;
    const y = base.set(3, dot('n2', 1)).state;
    expect(x.merge(y).value()).toEqual([2, 3]);
  });

  it('refuses a dot it has already seen', () => {
    const r = MVRegister.EMPTY.set(1, dot('n1', 1)).state.set(2, dot('n1', 2)).state;
    expect(() => r.set(3, dot('n1', 1))).toThrow(/dot n1:1 was already used/);
  });

  it('serializes entries with their dots and the causal context', () => {
    const r = MVRegister.EMPTY.set({ a: 1 }, dot('n1', 1)).state.merge(MVRegister.EMPTY.set(true, dot('n2', 4)).state);
    expect(r.toJSON()).toEqual({
      type: 'mv_register',
      entries: [
        ['n1', 1, { a: 1 }],
        ['n2', 4, true],
      ],
      context: { vv: { n1: 1 }, cloud: { n2: [[4, 4]] } },
    });
  });
});
