/**
 * The policy engine wired to the real strategies (src/core/resolve) and the real detector, on VM
 * states: the default dependencies, VM field rules through semantic merge, split-brain escalation,
 * rollback, LWW's clock-skew window, real strategy errors answered by retries and the fallback, and
 * convergence (the same decision whichever node decides).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VectorClock } from '../../../src/core/clock/vector-clock.js';
import { ConflictDetector } from '../../../src/core/conflict/detector.js';
import type { Conflict } from '../../../src/core/conflict/types.js';
import { createVersion, type Version } from '../../../src/core/conflict/version.js';
import { PolicyBuilder } from '../../../src/core/policy/builder.js';
import { formatDecision } from '../../../src/core/policy/decision-record.js';
import { defaultPolicyEngineDeps, PolicyEngine, resolveConflict } from '../../../src/core/policy/engine.js';
import { isType } from '../../../src/core/policy/predicates.js';
import { developmentPolicy, productionPolicy } from '../../../src/core/policy/presets.js';
import { strategyFor } from '../../../src/core/resolve/index.js';
import type { VMState } from '../../../src/core/vm/state.js';

const T = 1_732_800_000_000;
const detector = new ConflictDetector();

const base: VMState = {
  id: 'vm-123',
  host: 'hv-01',
  power_state: 'running',
  cpu_allocation: 4,
  memory_mb: 8192,
  network_config: { interfaces: [{ name: 'eth0', mac: '52:54:00:12:34:56', ip: '10.0.1.100' }] },
  disk_config: [{ path: '/var/lib/vms/vm-123.qcow2', size_gb: 40 }],
  snapshot_id: 'snap-7',
  migration_status: 'none',
};

function v(origin: string, wall: number, data: VMState, clock: Record<string, number>, resourceId = 'vm/vm-123'): Version {
  return createVersion({ resourceId, clock: VectorClock.from(clock), hlc: { wall, logical: 0 }, origin, data });
}

/** Two concurrent edits of `base`, classified by the real detector. */
function detect(a: Partial<VMState>, b: Partial<VMState>, opts: { wallB?: number; resourceId?: string } = {}): Conflict {
  const rid = opts.resourceId ?? 'vm/vm-123';
  const va = v('n1', T + 10, { ...base, ...a }, { n1: 2, n2: 1 }, rid);
  const vb = v('n2', opts.wallB ?? T + 20, { ...base, ...b }, { n1: 1, n2: 2 }, rid);
  const d = detector.detectConflict(rid, va, vb, T + 100);
  if (d.outcome !== 'concurrent') throw new Error(`expected a concurrent conflict, got ${d.outcome}`);
  return d.conflict;
}

/** A VM policy: production's safety, semantic merge (the VM field rules) by default. */
const vmPolicy = new PolicyBuilder('vm')
  .withDefaultStrategy('semantic_merge')
  .withFieldStrategy('power_state', 'highest_priority')
  .withEscalation('critical_conflicts', { any: [{ severity: 'critical' }, { type: 'invariant_violation' }] }, 'manual', 100)
  .withFallback('last_write_wins')
  .build();

const NOW = { now: T + 200 };

describe('with the real strategies', () => {
  it('the default dependencies are the resolve registry and the built-in semantic rules', () => {
    const deps = defaultPolicyEngineDeps();
    expect(deps.strategies).toBe(strategyFor);
    expect(deps.semanticRules?.names()).toContain('vm_config');
    expect(defaultPolicyEngineDeps()).toBe(deps);
  });

  it("resolves the spec's VM example by semantic merge and the VM field rules", () => {
    const c = detect(
      { power_state: 'running' },
      { power_state: 'stopped', memory_mb: 16384, network_config: { interfaces: [{ name: 'eth0', mac: '52:54:00:12:34:56', ip: '10.0.1.101' }] } },
    );
    const { result, record } = new PolicyEngine(vmPolicy).decide(c, { ...NOW, nodePriorities: { n1: 10, n2: 1 } });
    expect(record.path.map((s) => s.step)).toEqual([
      'severity_critical',
      'invariant_violation',
      'complexity_threshold',
      'escalation',
      'default',
      'field_strategy',
    ]);
    expect(record).toMatchObject({ strategy: 'semantic_merge', outcome: 'resolved' });
    if (result.outcome !== 'resolved') throw new Error('expected resolved');
    const merged = result.version.data as VMState;
    expect(merged.memory_mb).toBe(16384); // maximum
    expect(merged.power_state).toBe('running'); // highest-priority node n1
    expect(result.version.clock.toJSON()).toEqual({ n1: 2, n2: 2 }); // join, no increment
    expect(record.fieldDecisions.map((d) => d.field)).toEqual(expect.arrayContaining(['power_state', 'memory_mb', 'network_config']));
    expect(record.discarded.map((d) => d.versionId).sort()).toEqual(c.versions.map((x) => x.id).sort());
    expect(formatDecision(record)).toContain('field memory_mb: maximum');
  });

  it('production: a small concurrent update keeps siblings (concurrent_safe), a split-brain goes to an operator', () => {
    const small = resolveConflict(productionPolicy, detect({ memory_mb: 16384 }, { snapshot_id: 'snap-8' }), NOW);
    expect(small.record).toMatchObject({ strategy: 'multi_value_register', outcome: 'siblings' });
    expect(small.result.outcome).toBe('siblings');

    const split = detect({ host: 'hv-01' }, { host: 'hv-02' });
    expect(split.severity).toBe('critical');
    const prod = resolveConflict(productionPolicy, split, NOW).record;
    expect(prod.path.map((s) => `${s.step}:${s.matched}`)).toEqual(['severity_critical:true', 'escalation:true']);
    expect(prod).toMatchObject({ strategy: 'manual_intervention', outcome: 'pending_manual' });
  });

  it('development: a split-brain rolls back to the last known good version', () => {
    const split = detect({ host: 'hv-01' }, { host: 'hv-02' });
    const lkg = v('n1', T, base, { n1: 1, n2: 1 });
    const { result, record } = resolveConflict(developmentPolicy, split, { ...NOW, lastKnownGood: lkg });
    expect(record).toMatchObject({ strategy: 'automatic_rollback', outcome: 'rollback' });
    expect(result).toMatchObject({ outcome: 'deferred', to: 'rollback', rollbackTarget: lkg });
    expect(record.result.map((x) => x.versionId)).toEqual([lkg.id]);
    // without one, the rollback strategy itself defers to an operator
    expect(resolveConflict(developmentPolicy, split, NOW).record.outcome).toBe('pending_manual');
  });

  it("LWW inside the policy's clock-skew window keeps siblings or escalates, as the policy says", () => {
    const c = detect({ snapshot_id: 'snap-8' }, { snapshot_id: 'snap-9' }, { wallB: T + 15 });
    const lww = new PolicyBuilder('lww').withDefaultStrategy('last_write_wins').withMaxClockSkew('50ms');
    const siblings = resolveConflict(lww.build(), c, NOW).record;
    expect(siblings).toMatchObject({ strategy: 'last_write_wins', outcome: 'siblings' });
    expect(siblings.notes.join(' ')).toContain('clock skew');
    expect(resolveConflict(lww.withSkewAction('escalate').build(), c, NOW).record.outcome).toBe('pending_manual');
    expect(resolveConflict(lww.withMaxClockSkew(0).build(), c, NOW).record.outcome).toBe('resolved');
  });

  it('a real strategy error (no semantic rule for the resource kind) is retried, then the fallback resolves', () => {
    const c = detect({ memory_mb: 1 }, { memory_mb: 2 }, { resourceId: 'crdt/inventory' });
    const p = new PolicyBuilder('semantic').withDefaultStrategy('semantic_merge').withMaxRetries(2).withFallback('last_write_wins').build();
    const { record, result } = resolveConflict(p, c, NOW);
    expect(record.path.filter((s) => s.step === 'retry')).toHaveLength(2);
    expect(record.path.find((s) => s.step === 'fallback')?.detail).toContain('ERR_');
    expect(record).toMatchObject({ strategy: 'last_write_wins', outcome: 'resolved' });
    expect(result.outcome).toBe('resolved');
  });

  it('a rule can send a conflict type to consensus', () => {
    const p = new PolicyBuilder('consensus').withRule('contention', isType('concurrent_update'), 'consensus_vote', 70).build();
    const { record } = resolveConflict(p, detect({ memory_mb: 1 }, { memory_mb: 2 }), NOW);
    expect(record).toMatchObject({ strategy: 'consensus_vote', outcome: 'pending_consensus' });
  });
});

describe('convergence', () => {
  const editArb: fc.Arbitrary<Partial<VMState>> = fc.record(
    {
      power_state: fc.constantFrom('running' as const, 'stopped' as const, 'paused' as const),
      cpu_allocation: fc.integer({ min: 1, max: 64 }),
      memory_mb: fc.constantFrom(2048, 4096, 8192, 16384),
      snapshot_id: fc.constantFrom('snap-7', 'snap-8', 'snap-9'),
      migration_status: fc.constantFrom('none' as const, 'pending' as const, 'migrating' as const),
    },
    { requiredKeys: [] },
  );

  it('every node that sees the same concurrent versions decides the same bytes and the same record (property)', () => {
    fc.assert(
      fc.property(editArb, editArb, fc.integer({ min: 0, max: 40 }), fc.constantFrom(vmPolicy, productionPolicy, developmentPolicy), (a, b, dt, policy) => {
        const va = v('n1', T + 10, { ...base, ...a }, { n1: 2, n2: 1 });
        const vb = v('n2', T + 10 + dt, { ...base, ...b }, { n1: 1, n2: 2 });
        if (va.digest === vb.digest) return;
        const here = detector.detectConflict('vm/vm-123', va, vb, T + 100);
        const there = detector.detectConflict('vm/vm-123', vb, va, T + 100);
        if (here.outcome !== 'concurrent' || there.outcome !== 'concurrent') throw new Error('expected concurrent');
        const x = resolveConflict(policy, here.conflict, { ...NOW, nodePriorities: { n1: 2, n2: 1 } });
        const y = resolveConflict(policy, there.conflict, { ...NOW, nodePriorities: { n1: 2, n2: 1 } });
        expect(x.record).toEqual(y.record);
        if (x.result.outcome === 'resolved' && y.result.outcome === 'resolved') expect(x.result.version.id).toBe(y.result.version.id);
      }),
    );
  });
});
