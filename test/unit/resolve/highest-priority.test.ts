import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HighestPriorityStrategy, LastWriteWinsStrategy } from '../../../src/core/resolve/index.js';
import { allMergeOrders, bytesOf, concurrentVersions, conflictOf, ctxOf, resolvedVersion, ver } from './helpers.js';

const hp = new HighestPriorityStrategy();
const prio = { 'hv-01': 100, 'hv-02': 50, 'hv-03': 50 };

describe('highest_priority', () => {
  it('the version of the highest-priority node wins, even when it is older', () => {
    const a = ver({ origin: 'hv-01', wall: 1000, data: 'primary' });
    const b = ver({ origin: 'hv-02', wall: 5000, data: 'replica' });
    const r = hp.resolve(conflictOf([b, a]), ctxOf({ nodePriorities: prio }));
    const v = resolvedVersion(r);
    expect(v.data).toBe('primary');
    expect(v.origin).toBe('hv-01');
    expect(v.hlc).toEqual({ wall: 5000, logical: 0 });
    expect(v.clock.toJSON()).toEqual({ 'hv-01': 1, 'hv-02': 1 });
    if (r.outcome === 'resolved') expect(r.fieldDecisions[0]).toMatchObject({ rule: 'highest_priority', winner: a.id });
  });

  it('equal priorities (or none configured): the higher node id, as in last-write-wins', () => {
    const b = ver({ origin: 'hv-02', wall: 9000, data: 'b' });
    const c = ver({ origin: 'hv-03', wall: 1000, data: 'c' });
    expect(resolvedVersion(hp.resolve(conflictOf([b, c]), ctxOf({ nodePriorities: prio }))).data).toBe('c');
    expect(resolvedVersion(hp.resolve(conflictOf([c, b]), ctxOf())).data).toBe('c');
    // missing = 0, below a configured priority
    const x = ver({ origin: 'hv-04', wall: 1, data: 'x' });
    expect(resolvedVersion(hp.resolve(conflictOf([x, b]), ctxOf({ nodePriorities: { 'hv-02': 1 } }))).data).toBe('b');
    // negative priorities are below missing ones
    expect(resolvedVersion(hp.resolve(conflictOf([x, b]), ctxOf({ nodePriorities: { 'hv-02': -1 } }))).data).toBe('x');
  });

  it('a tombstone of the highest-priority node wins like any version', () => {
    const del = ver({ origin: 'hv-01', wall: 1, data: null, deleted: true });
    const upd = ver({ origin: 'hv-02', wall: 2, data: 'u' });
    expect(resolvedVersion(hp.resolve(conflictOf([upd, del]), ctxOf({ nodePriorities: prio }))).deleted).toBe(true);
  });

  it('with per-field strategies in the policy, merges objects field by field', () => {
    const a = ver({ origin: 'hv-01', wall: 1000, data: { power: 'on', note: 'old' } });
    const b = ver({ origin: 'hv-02', wall: 2000, data: { power: 'off', note: 'new' } });
    const r = hp.resolve(conflictOf([a, b]), ctxOf({ nodePriorities: prio, fieldStrategies: { note: 'last_write_wins' } }));
    expect(resolvedVersion(r).data).toEqual({ power: 'on', note: 'new' });
    expect(resolvedVersion(r).origin).toBe('hv-01');
  });

  it('production policy shape: LWW by default, power_state by priority', () => {
    const lww = new LastWriteWinsStrategy();
    const a = ver({ origin: 'hv-01', wall: 1000, data: { power_state: 'running', memory_mb: 1 } });
    const b = ver({ origin: 'hv-02', wall: 2000, data: { power_state: 'stopped', memory_mb: 2 } });
    const ctx = ctxOf({ nodePriorities: prio, fieldStrategies: { power_state: 'highest_priority' } });
    const r = lww.resolve(conflictOf([b, a]), ctx);
    expect(resolvedVersion(r).data).toEqual({ power_state: 'running', memory_mb: 2 });
    if (r.outcome === 'resolved') {
      expect(r.fieldDecisions.find((d) => d.field === 'power_state')).toMatchObject({ rule: 'highest_priority', winner: a.id });
      expect(r.fieldDecisions.find((d) => d.field === 'memory_mb')).toMatchObject({ rule: 'last_write_wins', winner: b.id });
    }
  });

  describe('properties', () => {
    const objects = fc.record({ v: fc.nat(2), w: fc.nat(2) });
    // Whole-version choice also over mixed shapes and tombstones; field-by-field (with a per-field rule) over live objects.
    const data = fc.oneof(fc.constantFrom('x', 'y'), objects, fc.constant(null));
    const priorities = fc.record({ 'hv-01': fc.nat(2), 'hv-02': fc.nat(2), 'hv-03': fc.nat(2), 'hv-04': fc.nat(2) });

    it('commutative byte for byte; three versions merge the same in any order (pairwise or at once)', () => {
      fc.assert(
        fc.property(fc.boolean().chain((fw) => fc.tuple(concurrentVersions(3, fw ? objects : data), fc.constant(fw))), priorities, ([[a, b, c], fieldwise], p) => {
          const ctx = ctxOf({ nodePriorities: p, fieldStrategies: fieldwise ? { w: 'last_write_wins' } : {} });
          const ab = resolvedVersion(hp.resolve(conflictOf([a!, b!]), ctx));
          expect(bytesOf(ab)).toBe(bytesOf(resolvedVersion(hp.resolve(conflictOf([b!, a!]), ctx))));
          expect(ab.clock.dominates(a!.clock) && ab.clock.dominates(b!.clock)).toBe(true);
          expect(new Set(allMergeOrders(hp, ctx, a!, b!, c!)).size).toBe(1);
        }),
      );
    });

    it('last-write-wins with per-field strategies is associative too', () => {
      const lww = new LastWriteWinsStrategy();
      const objects = fc.record({ power_state: fc.constantFrom('running', 'stopped'), memory_mb: fc.nat(2), note: fc.constantFrom('a', 'b') });
      fc.assert(
        fc.property(concurrentVersions(3, objects), priorities, ([a, b, c], p) => {
          const ctx = ctxOf({ nodePriorities: p, fieldStrategies: { power_state: 'highest_priority' } });
          expect(new Set(allMergeOrders(lww, ctx, a!, b!, c!)).size).toBe(1);
        }),
      );
    });
  });
});
