import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LastWriteWinsStrategy } from '../../../src/core/resolve/index.js';
import {
  allMergeOrders,
  bytesOf,
  concurrentVersions,
  conflictOf,
  ctxOf,
  permutations,
  resolvedVersion,
  resultBytes,
  ver,
} from './helpers.js';

const lww = new LastWriteWinsStrategy();

describe('last_write_wins', () => {
  it('the newest hlc wins, in whichever order the versions come', () => {
    const a = ver({ origin: 'hv-01', wall: 1000, data: { v: 'a' } });
    const b = ver({ origin: 'hv-02', wall: 2000, data: { v: 'b' } });
    for (const order of [
      [a, b],
      [b, a],
    ]) {
      const r = lww.resolve(conflictOf(order), ctxOf());
      const v = resolvedVersion(r);
      expect(v.data).toEqual({ v: 'b' });
      expect(v.origin).toBe('hv-02');
      expect(v.hlc).toEqual({ wall: 2000, logical: 0 });
      expect(v.clock.toJSON()).toEqual({ 'hv-01': 1, 'hv-02': 1 });
      if (r.outcome === 'resolved') expect(r.discarded.map((d) => d.id).sort()).toEqual([a.id, b.id].sort());
    }
  });

  it('orders by the logical part when the wall parts are equal', () => {
    const a = ver({ origin: 'hv-02', wall: 1000, logical: 1, data: 'a' });
    const b = ver({ origin: 'hv-01', wall: 1000, logical: 2, data: 'b' });
    expect(resolvedVersion(lww.resolve(conflictOf([a, b]), ctxOf())).data).toBe('b');
  });

  it('breaks an exact timestamp tie by the higher node id', () => {
    const a = ver({ origin: 'hv-01', wall: 1000, data: 'a' });
    const b = ver({ origin: 'hv-02', wall: 1000, data: 'b' });
    const v = resolvedVersion(lww.resolve(conflictOf([b, a]), ctxOf()));
    expect(v.data).toBe('b');
    expect(v.origin).toBe('hv-02');
  });

  it('lets a newer tombstone win, and a newer update beat a tombstone', () => {
    const upd = ver({ origin: 'hv-01', wall: 1000, data: { v: 1 } });
    const del = ver({ origin: 'hv-02', wall: 2000, data: null, deleted: true });
    const v = resolvedVersion(lww.resolve(conflictOf([upd, del]), ctxOf()));
    expect(v.deleted).toBe(true);
    expect(v.data).toBeNull();
    const later = ver({ origin: 'hv-03', wall: 3000, data: { v: 3 } });
    const w = resolvedVersion(lww.resolve(conflictOf([del, later]), ctxOf()));
    expect(w.deleted).toBe(false);
    expect(w.data).toEqual({ v: 3 });
  });

  it('records the winner as a field decision and a note', () => {
    const a = ver({ origin: 'hv-01', wall: 1000, data: 'a' });
    const b = ver({ origin: 'hv-02', wall: 2000, data: 'b' });
    const r = lww.resolve(conflictOf([a, b]), ctxOf());
    expect(r.outcome).toBe('resolved');
    if (r.outcome !== 'resolved') return;
    expect(r.fieldDecisions).toEqual([expect.objectContaining({ field: '*', rule: 'last_write_wins', winner: b.id })]);
    expect(r.notes.join('\n')).toContain(b.id);
  });

  describe('clock skew window', () => {
    const a = ver({ origin: 'hv-01', wall: 1000, data: { v: 'a' } });
    const b = ver({ origin: 'hv-02', wall: 1040, data: { v: 'b' } });

    it('keeps siblings when the two newest timestamps are closer than the maximum skew', () => {
      const r = lww.resolve(conflictOf([b, a]), ctxOf({ maxClockSkewMs: 50, skewAction: 'siblings' }));
      expect(r.outcome).toBe('siblings');
      if (r.outcome !== 'siblings') return;
      expect(r.versions.map((v) => v.id)).toEqual([a.id, b.id]);
      expect(r.notes.join('\n')).toMatch(/40 ms apart, within the maximum clock skew of 50 ms/);
    });

    it('escalates to manual intervention when the policy says so', () => {
      const r = lww.resolve(conflictOf([a, b]), ctxOf({ maxClockSkewMs: 50, skewAction: 'escalate' }));
      expect(r.outcome).toBe('deferred');
      if (r.outcome !== 'deferred') return;
      expect(r.to).toBe('manual');
      expect(r.reason).toMatch(/40 ms apart/);
      expect(r.candidates.map((v) => v.id)).toEqual([a.id, b.id]);
    });

    it('decides when the timestamps are at least the maximum skew apart', () => {
      expect(lww.resolve(conflictOf([a, b]), ctxOf({ maxClockSkewMs: 40 })).outcome).toBe('resolved');
      expect(lww.resolve(conflictOf([a, b]), ctxOf({ maxClockSkewMs: 0 })).outcome).toBe('resolved');
    });

    it('decides when the versions inside the window carry the same content', () => {
      const b2 = ver({ origin: 'hv-03', wall: 1030, data: { v: 'b' } });
      const old = ver({ origin: 'hv-04', wall: 500, data: { v: 'old' } });
      const r = lww.resolve(conflictOf([b, b2, old]), ctxOf({ maxClockSkewMs: 50 }));
      expect(resolvedVersion(r).data).toEqual({ v: 'b' });
    });

    it('compares against the newest version only: a third version inside the window counts too', () => {
      const c = ver({ origin: 'hv-03', wall: 1045, data: { v: 'b' } });
      // c is newest, b has the same content, a (45 ms older, different) is inside the 50 ms window.
      const r = lww.resolve(conflictOf([a, b, c]), ctxOf({ maxClockSkewMs: 50 }));
      expect(r.outcome).toBe('siblings');
      expect(r.notes.join('\n')).toMatch(/45 ms apart/);
    });

    it('gives the same outcome for every order of the versions (property)', () => {
      fc.assert(
        fc.property(concurrentVersions(3, fc.constantFrom('x', 'y', 'z')), fc.integer({ min: 0, max: 6 }), fc.constantFrom('siblings', 'escalate' as const), (vs, skew, action) => {
          const ctx = ctxOf({ maxClockSkewMs: skew, skewAction: action });
          const outs = permutations(vs).map((p) => resultBytes(lww.resolve(conflictOf(p), ctx)));
          expect(new Set(outs).size).toBe(1);
        }),
      );
    });
  });

  describe('properties', () => {
    const data = fc.oneof(fc.constantFrom('x', 'y'), fc.record({ v: fc.nat(3) }), fc.constant(null));
    const tombstoneOr = (vs: ReturnType<typeof ver>[], dels: boolean[]): ReturnType<typeof ver>[] =>
      vs.map((v, i) =>
        dels[i] ? ver({ origin: v.origin, wall: v.hlc.wall, logical: v.hlc.logical, clock: v.clock.toJSON(), data: null, deleted: true }) : v,
      );

    it('resolve(a, b) == resolve(b, a), byte for byte, and the clock dominates both', () => {
      fc.assert(
        fc.property(concurrentVersions(2, data), fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }), (vs, dels) => {
          const [a, b] = tombstoneOr(vs, dels);
          const ab = resolvedVersion(lww.resolve(conflictOf([a!, b!]), ctxOf()));
          const ba = resolvedVersion(lww.resolve(conflictOf([b!, a!]), ctxOf()));
          expect(bytesOf(ab)).toBe(bytesOf(ba));
          expect(ab.clock.dominates(a!.clock) && ab.clock.dominates(b!.clock)).toBe(true);
          expect(ab.clock.equals(a!.clock.join(b!.clock))).toBe(true);
        }),
      );
    });

    it('three concurrent versions merge to the same bytes in any order, pairwise or all at once', () => {
      fc.assert(
        fc.property(concurrentVersions(3, data), fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), (vs, dels) => {
          const [a, b, c] = tombstoneOr(vs, dels);
          const outs = allMergeOrders(lww, ctxOf(), a!, b!, c!);
          expect(new Set(outs).size).toBe(1);
        }),
      );
    });
  });
});
