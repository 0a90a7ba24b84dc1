import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MultiValueRegisterStrategy } from '../../../src/core/resolve/index.js';
import { concurrentVersions, conflictOf, ctxOf, permutations, resolvedVersion, resultBytes, ver } from './helpers.js';

const mvr = new MultiValueRegisterStrategy();

describe('multi_value_register', () => {
  it('keeps every version as a sibling, sorted by version order', () => {
    const a = ver({ origin: 'hv-01', wall: 2000, data: 'a' });
    const b = ver({ origin: 'hv-02', wall: 1000, data: 'b' });
    const c = ver({ origin: 'hv-03', wall: 1000, data: null, deleted: true });
    const r = mvr.resolve(conflictOf([a, c, b]), ctxOf());
    expect(r.outcome).toBe('siblings');
    if (r.outcome !== 'siblings') return;
    expect(r.versions.map((v) => v.id)).toEqual([b.id, c.id, a.id]);
    expect(r.notes.join('\n')).toMatch(/keeping 3 concurrent versions as siblings/);
  });

  it('drops exact duplicates', () => {
    const a = ver({ origin: 'hv-01', wall: 2000, data: 'a' });
    const b = ver({ origin: 'hv-02', wall: 1000, data: 'b' });
    const r = mvr.resolve(conflictOf([a, b, a]), ctxOf());
    expect(r.outcome === 'siblings' && r.versions.length).toBe(2);
  });

  it('resolves to one version when every sibling carries the same content', () => {
    const a = ver({ origin: 'hv-01', wall: 2000, data: { same: true } });
    const b = ver({ origin: 'hv-02', wall: 1000, data: { same: true } });
    const v = resolvedVersion(mvr.resolve(conflictOf([a, b]), ctxOf()));
    expect(v.data).toEqual({ same: true });
    expect(v.clock.toJSON()).toEqual({ 'hv-01': 1, 'hv-02': 1 });
  });

  it('gives the same siblings for every order, and merging siblings again changes nothing (property)', () => {
    fc.assert(
      fc.property(concurrentVersions(3, fc.constantFrom('x', 'y', 'z', 1)), (vs) => {
        const outs = permutations(vs).map((p) => resultBytes(mvr.resolve(conflictOf(p), ctxOf())));
        expect(new Set(outs).size).toBe(1);
        const first = mvr.resolve(conflictOf(vs.slice(0, 2)), ctxOf());
        const kept = first.outcome === 'siblings' ? [...first.versions] : first.outcome === 'resolved' ? [first.version] : [];
        const again = mvr.resolve(conflictOf([...kept, vs[2]!]), ctxOf());
        if (first.outcome === 'siblings') expect(resultBytes(again)).toBe(outs[0]);
      }),
    );
  });
});
