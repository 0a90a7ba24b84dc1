import { describe, expect, it } from 'vitest';
import {
  AutomaticRollbackStrategy,
  ConsensusVoteStrategy,
  ManualInterventionStrategy,
  dominatingVersion,
} from '../../../src/core/resolve/index.js';
import { conflictOf, ctxOf, ver } from './helpers.js';

const a = ver({ origin: 'hv-02', wall: 2000, clock: { 'hv-01': 3, 'hv-02': 5 }, data: { v: 'a' } });
const b = ver({ origin: 'hv-01', wall: 1000, clock: { 'hv-01': 4, 'hv-02': 4 }, data: { v: 'b' } });
const good = ver({ origin: 'hv-01', wall: 500, clock: { 'hv-01': 3, 'hv-02': 4 }, data: { v: 'good' } });

describe('deferred strategies', () => {
  it('automatic_rollback defers to rollback with the last known good version', () => {
    const r = new AutomaticRollbackStrategy().resolve(conflictOf([a, b]), ctxOf({ lastKnownGood: good }));
    expect(r).toMatchObject({ outcome: 'deferred', to: 'rollback', rollbackTarget: good });
    if (r.outcome === 'deferred') {
      expect(r.candidates.map((v) => v.id)).toEqual([b.id, a.id]);
      expect(r.reason).toContain(good.id);
    }
  });

  it('automatic_rollback without a last known good version defers to manual, saying why', () => {
    const r = new AutomaticRollbackStrategy().resolve(conflictOf([a, b]), ctxOf());
    expect(r).toMatchObject({ outcome: 'deferred', to: 'manual' });
    expect(r.outcome === 'deferred' && r.reason).toMatch(/no last known good version/);
    expect(r.outcome === 'deferred' && r.rollbackTarget).toBeUndefined();
  });

  it('automatic_rollback refuses a last known good version of another resource', () => {
    const other = ver({ origin: 'hv-01', wall: 1, data: {}, resourceId: 'vm/other' });
    expect(() => new AutomaticRollbackStrategy().resolve(conflictOf([a, b]), ctxOf({ lastKnownGood: other }))).toThrow(
      expect.objectContaining({ code: 'ERR_RESOURCE_MISMATCH' }),
    );
  });

  it('manual_intervention defers to manual with every candidate and the conflict reasons', () => {
    const r = new ManualInterventionStrategy().resolve(conflictOf([a, b], { reasons: ['split-brain: running on hv-01 and hv-02'] }), ctxOf());
    expect(r).toMatchObject({ outcome: 'deferred', to: 'manual' });
    if (r.outcome === 'deferred') {
      expect(r.candidates).toHaveLength(2);
      expect(r.reason).toMatch(/split-brain/);
      expect(r.reason).toMatch(/dwcp conflicts resolve/);
    }
  });

  it('consensus_vote defers to a quorum decision', () => {
    const r = new ConsensusVoteStrategy().resolve(conflictOf([b, a]), ctxOf());
    expect(r).toMatchObject({ outcome: 'deferred', to: 'consensus' });
    if (r.outcome === 'deferred') expect(r.candidates.map((v) => v.id)).toEqual([b.id, a.id]);
  });

  it('none of them is automatic', () => {
    for (const s of [new AutomaticRollbackStrategy(), new ConsensusVoteStrategy(), new ManualInterventionStrategy()]) expect(s.automatic).toBe(false);
  });
});

describe('dominatingVersion', () => {
  it('builds one version whose clock dominates every candidate (join, then the decider increments)', () => {
    const v = dominatingVersion([a, b], { v: 'decided' }, 'hv-03', { wall: 3000, logical: 0 });
    expect(v.clock.toJSON()).toEqual({ 'hv-01': 4, 'hv-02': 5, 'hv-03': 1 });
    for (const c of [a, b]) expect(v.clock.compare(c.clock)).toBe('after');
    expect(v).toMatchObject({ origin: 'hv-03', data: { v: 'decided' }, deleted: false, resourceId: a.resourceId });
    // pure: the same arguments give the same bytes, in any candidate order
    expect(dominatingVersion([b, a], { v: 'decided' }, 'hv-03', { wall: 3000, logical: 0 }).id).toBe(v.id);
  });

  it('can decide a delete', () => {
    const v = dominatingVersion([a, b], { ignored: true }, 'hv-01', { wall: 1, logical: 0 }, true);
    expect(v).toMatchObject({ deleted: true, data: null });
    expect(v.clock.toJSON()).toEqual({ 'hv-01': 5, 'hv-02': 5 });
  });

  it('refuses no candidates and candidates of different resources', () => {
    expect(() => dominatingVersion([], {}, 'hv-01', { wall: 1, logical: 0 })).toThrow(expect.objectContaining({ code: 'ERR_RESOLUTION' }));
    const other = ver({ origin: 'hv-01', wall: 1, data: {}, resourceId: 'vm/other' });
    expect(() => dominatingVersion([a, other], {}, 'hv-01', { wall: 1, logical: 0 })).toThrow(expect.objectContaining({ code: 'ERR_RESOURCE_MISMATCH' }));
  });
});
