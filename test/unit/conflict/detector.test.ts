import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DwcpError } from '../../../src/core/errors.js';
import {
  ConflictDetector,
  DEFAULT_DETECTOR_CONFIG,
  conflictId,
  compareVersions,
  type DetectedConflict,
  type Detection,
} from '../../../src/core/conflict/index.js';
import { NOW, ver, versionArb, vmState } from './helpers.js';

const detector = new ConflictDetector();

function conflictOf(d: Detection): DetectedConflict {
  if (d.outcome !== 'concurrent' && d.outcome !== 'causal_violation') throw new Error(`expected a conflict, got ${d.outcome}`);
  return d.conflict;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof DwcpError) return err.code;
    throw err;
  }
  return undefined;
}

describe('detectConflict: the ARCHITECTURE.md table', () => {
  const base = vmState();

  it('remote < local: stale', () => {
    const local = ver({ n1: 2, n2: 1 }, base);
    const remote = ver({ n1: 1, n2: 1 }, { ...base, memory_mb: 4096 });
    expect(detector.detectConflict('vm/vm-123', local, remote, NOW)).toEqual({ outcome: 'stale' });
  });

  it('remote > local: fast_forward', () => {
    const local = ver({ n1: 1 }, base);
    const remote = ver({ n1: 1, n2: 1 }, { ...base, memory_mb: 4096 }, { origin: 'n2' });
    expect(detector.detectConflict('vm/vm-123', local, remote, NOW)).toEqual({ outcome: 'fast_forward' });
  });

  it('equal clocks, equal digests: duplicate (even with another hlc/origin)', () => {
    const local = ver({ n1: 3 }, base);
    const remote = ver({ n1: 3 }, { ...base }, { origin: 'n2', wall: NOW + 5 });
    expect(detector.detectConflict('vm/vm-123', local, remote, NOW)).toEqual({ outcome: 'duplicate' });
    expect(detector.detectConflict('vm/vm-123', local, local, NOW)).toEqual({ outcome: 'duplicate' });
  });

  it('equal clocks, different digests: causal violation, severity high', () => {
    const local = ver({ n1: 3 }, base);
    const remote = ver({ n1: 3 }, { ...base, memory_mb: 4096 });
    const d = detector.detectConflict('vm/vm-123', local, remote, NOW);
    expect(d.outcome).toBe('causal_violation');
    const c = conflictOf(d);
    expect(c.type).toBe('causal_violation');
    expect(c.severity).toBe('high');
    expect(c.fields).toEqual(['memory_mb']);
    expect(c.reasons[0]).toMatch(/equal vector clocks/);
  });

  it('concurrent clocks: a classified conflict', () => {
    const local = ver({ n1: 2, n2: 1 }, base, { origin: 'n1' });
    const remote = ver({ n1: 1, n2: 2 }, { ...base, memory_mb: 16384 }, { origin: 'n2' });
    const d = detector.detectConflict('vm/vm-123', local, remote, NOW + 7);
    expect(d.outcome).toBe('concurrent');
    const c = conflictOf(d);
    expect(c).toMatchObject({ resourceId: 'vm/vm-123', type: 'concurrent_update', severity: 'low', detectedAt: NOW + 7 });
    expect(c.fields).toEqual(['memory_mb']);
    expect(c.complexity).toBeGreaterThan(0);
    expect(c.complexity).toBeLessThan(1);
    expect(c.id).toBe(conflictId('vm/vm-123', [local.id, remote.id]));
    expect(c.id).toMatch(/^[0-9a-f]{32}$/);
    expect(c.versions).toEqual([local, remote].sort(compareVersions));
  });

  it('refuses versions of another resource with ERR_RESOURCE_MISMATCH', () => {
    const a = ver({ n1: 1 }, base);
    const b = ver({ n2: 1 }, base, { resourceId: 'vm/other' });
    expect(codeOf(() => detector.detectConflict('vm/vm-123', a, b, NOW))).toBe('ERR_RESOURCE_MISMATCH');
    expect(codeOf(() => detector.detectConflict('vm/vm-123', b, a, NOW))).toBe('ERR_RESOURCE_MISMATCH');
    expect(codeOf(() => detector.detectConflict('vm/x', a, a, NOW))).toBe('ERR_RESOURCE_MISMATCH');
    expect(codeOf(() => detector.classify('vm/vm-123', [a, b], NOW))).toBe('ERR_RESOURCE_MISMATCH');
  });

  it('refuses a non-finite time', () => {
    const a = ver({ n1: 1 }, base);
    expect(codeOf(() => detector.detectConflict('vm/vm-123', a, a, Number.NaN))).toBe('ERR_INVALID_CONFLICT_INPUT');
  });
});

describe('order independence', () => {
  it('detect(a, b) and detect(b, a) agree (fast-check)', () => {
    fc.assert(
      fc.property(versionArb, versionArb, (a, b) => {
        const ab = detector.detectConflict('vm/vm-123', a, b, NOW);
        const ba = detector.detectConflict('vm/vm-123', b, a, NOW);
        const mirror: Record<Detection['outcome'], Detection['outcome']> = {
          stale: 'fast_forward',
          fast_forward: 'stale',
          duplicate: 'duplicate',
          causal_violation: 'causal_violation',
          concurrent: 'concurrent',
        };
        expect(ba.outcome).toBe(mirror[ab.outcome]);
        if (ab.outcome === 'concurrent' || ab.outcome === 'causal_violation') {
          const x = conflictOf(ab);
          const y = conflictOf(ba);
          expect(y).toEqual(x);
          expect(x.id).toBe(conflictId('vm/vm-123', [a.id, b.id]));
          expect(x.complexity).toBeGreaterThanOrEqual(0);
          expect(x.complexity).toBeLessThanOrEqual(1);
          expect(compareVersions(x.versions[0]!, x.versions[1]!)).toBeLessThan(0);
          const [da, db] = [a.data as { host: string; power_state: string }, b.data as { host: string; power_state: string }];
          const splitBrain = !a.deleted && !b.deleted && da.power_state === 'running' && db.power_state === 'running' && da.host !== db.host;
          expect(x.severity === 'critical').toBe(splitBrain);
          if (splitBrain) expect(x.type).toBe(ab.outcome === 'concurrent' ? 'semantic' : 'causal_violation');
          if (a.deleted !== b.deleted) expect(['medium', 'high', 'critical']).toContain(x.severity);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('versions with one clock: duplicate or causal violation, symmetric (fast-check)', () => {
    fc.assert(
      fc.property(versionArb, versionArb, (a, b0) => {
        const b = ver(a.clock.toJSON(), b0.data, { wall: b0.hlc.wall, origin: b0.origin, deleted: b0.deleted });
        const ab = detector.detectConflict('vm/vm-123', a, b, NOW);
        const ba = detector.detectConflict('vm/vm-123', b, a, NOW);
        expect(ab.outcome).toBe(a.digest === b.digest ? 'duplicate' : 'causal_violation');
        expect(ba).toEqual(ab);
        if (ab.outcome === 'causal_violation') expect(['high', 'critical']).toContain(ab.conflict.severity);
      }),
      { numRuns: 200 },
    );
  });

  it('classify gives the same conflict for every order of three siblings', () => {
    const a = ver({ n1: 1 }, vmState({ memory_mb: 4096 }), { origin: 'n1', wall: NOW + 1 });
    const b = ver({ n2: 1 }, vmState({ cpu_allocation: 8 }), { origin: 'n2', wall: NOW + 2 });
    const c = ver({ n3: 1 }, vmState({ snapshot_id: 'snap-9' }), { origin: 'n3', wall: NOW });
    const orders = [
      [a, b, c],
      [a, c, b],
      [b, a, c],
      [b, c, a],
      [c, a, b],
      [c, b, a],
    ];
    const results = orders.map((o) => detector.classify('vm/vm-123', o, NOW));
    for (const r of results) expect(r).toEqual(results[0]);
    const r = results[0]!;
    expect(r.id).toBe(conflictId('vm/vm-123', [c.id, b.id, a.id]));
    expect(r.versions.map((v) => v.id)).toEqual([c.id, a.id, b.id]);
    expect(r.fields).toEqual(['cpu_allocation', 'memory_mb', 'snapshot_id']);
    // A duplicate entry in the input counts once.
    expect(detector.classify('vm/vm-123', [a, b, c, a], NOW)).toEqual(r);
    // Three siblings are more complex than two with the same differences.
    const pair = detector.classify('vm/vm-123', [a, b], NOW);
    expect(r.complexity).toBeGreaterThan(pair.complexity);
  });

  it('a pair from classify equals the conflict from detectConflict', () => {
    const a = ver({ n1: 1 }, vmState({ host: 'hv-02', power_state: 'stopped' }), { origin: 'n1' });
    const b = ver({ n2: 1 }, vmState({ power_state: 'stopped' }), { origin: 'n2' });
    expect(detector.classify('vm/vm-123', [b, a], NOW)).toEqual(conflictOf(detector.detectConflict('vm/vm-123', a, b, NOW)));
  });
});

describe('classification of VM conflicts', () => {
  function detect(a: object, b: object, opts: { deletedA?: boolean; deletedB?: boolean } = {}): DetectedConflict {
    const va = ver({ n1: 1 }, a, { origin: 'n1', deleted: opts.deletedA ?? false });
    const vb = ver({ n2: 1 }, b, { origin: 'n2', deleted: opts.deletedB ?? false });
    return conflictOf(detector.detectConflict('vm/vm-123', va, vb, NOW));
  }

  it('split-brain: both running on different hosts is semantic and critical', () => {
    const c = detect(vmState({ host: 'hv-01' }), vmState({ host: 'hv-02' }));
    expect(c.type).toBe('semantic');
    expect(c.severity).toBe('critical');
    expect(c.splitBrainHosts).toEqual(['hv-01', 'hv-02']);
    expect(c.fields).toEqual(['host']);
    expect(c.reasons.join('\n')).toMatch(/split-brain/);
  });

  it('split-brain among three siblings, whatever else differs', () => {
    const a = ver({ n1: 1 }, vmState({ host: 'hv-01', power_state: 'stopped' }), { origin: 'n1' });
    const b = ver({ n2: 1 }, vmState({ host: 'hv-02', memory_mb: 1024 }), { origin: 'n2' });
    const c = ver({ n3: 1 }, vmState({ host: 'hv-03' }), { origin: 'n3' });
    const r = detector.classify('vm/vm-123', [a, b, c], NOW);
    expect(r).toMatchObject({ type: 'semantic', severity: 'critical', splitBrainHosts: ['hv-02', 'hv-03'] });
  });

  it('running on one host and paused on another: semantic, high', () => {
    const c = detect(vmState({ host: 'hv-01' }), vmState({ host: 'hv-02', power_state: 'paused' }));
    expect(c).toMatchObject({ type: 'semantic', severity: 'high', activeHosts: ['hv-01', 'hv-02'] });
    expect(c.splitBrainHosts).toBeUndefined();
  });

  it('both running on the same host is not a split-brain', () => {
    const c = detect(vmState({ cpu_allocation: 2 }), vmState({ cpu_allocation: 8 }));
    expect(c).toMatchObject({ type: 'concurrent_update', severity: 'low', fields: ['cpu_allocation'] });
  });

  it('a host change of a stopped VM is a medium concurrent update (critical-kind field)', () => {
    const c = detect(vmState({ power_state: 'stopped' }), vmState({ power_state: 'stopped', host: 'hv-02' }));
    expect(c).toMatchObject({ type: 'concurrent_update', severity: 'medium', fields: ['host'] });
    expect(c.reasons.join('\n')).toMatch(/critical-kind fields differ: host/);
  });

  it('power_state and migration_status differences are medium', () => {
    expect(detect(vmState(), vmState({ power_state: 'stopped' })).severity).toBe('medium');
    expect(detect(vmState(), vmState({ migration_status: 'migrating' })).severity).toBe('medium');
  });

  it('a tombstone concurrent with an update is at least medium', () => {
    const c = detect(vmState(), null as unknown as object, { deletedB: true });
    expect(c.type).toBe('concurrent_update');
    expect(c.severity).toBe('medium');
    expect(c.fields).toContain('power_state');
    expect(c.reasons.join('\n')).toMatch(/tombstone/);
    const stopped = detect(vmState({ power_state: 'stopped' }), {}, { deletedA: false, deletedB: true });
    expect(['medium', 'high', 'critical']).toContain(stopped.severity);
  });

  it('two concurrent deletes, or identical content: low, nothing differs', () => {
    const dd = detect({}, {}, { deletedA: true, deletedB: true });
    expect(dd).toMatchObject({ type: 'concurrent_update', severity: 'low', fields: [] });
    const same = detect(vmState(), vmState());
    expect(same).toMatchObject({ type: 'concurrent_update', severity: 'low', fields: [], complexity: 0 });
    expect(same.reasons.join('\n')).toMatch(/identical content/);
  });

  it('reports nested paths with dots and arrays as a whole', () => {
    const a = vmState();
    const b = vmState();
    b.network_config = { ...b.network_config, mtu: 9000 };
    b.disk_config = [b.disk_config[0]!, { ...b.disk_config[1]!, size_gb: 400 }];
    b.network_config.interfaces = [b.network_config.interfaces[0]!, { ...b.network_config.interfaces[1]!, ip: '192.168.7.5' }];
    const c = detect(a, b);
    expect(c.fields).toEqual(['disk_config', 'network_config.interfaces', 'network_config.mtu']);
  });

  it('many structural and scalar differences raise a concurrent update to medium by complexity', () => {
    const b = vmState({ cpu_allocation: 8, memory_mb: 16384, snapshot_id: 'snap-8', disk_config: [] });
    b.network_config = { interfaces: [] };
    const c = detect(vmState(), b);
    expect(c.type).toBe('concurrent_update');
    expect(c.complexity).toBeGreaterThanOrEqual(DEFAULT_DETECTOR_CONFIG.mediumComplexity);
    expect(c.severity).toBe('medium');
    expect(c.reasons.join('\n')).toMatch(/complexity >=/);
  });

  it('causal violation that is also a split-brain stays causal_violation, severity critical', () => {
    const a = ver({ n1: 3 }, vmState({ host: 'hv-01' }));
    const b = ver({ n1: 3 }, vmState({ host: 'hv-02' }));
    const c = conflictOf(detector.detectConflict('vm/vm-123', a, b, NOW));
    expect(c).toMatchObject({ type: 'causal_violation', severity: 'critical', splitBrainHosts: ['hv-01', 'hv-02'] });
  });

  it('vm/ data without a VM shape is classified as generic JSON', () => {
    const c = detect({ foo: 1 }, { foo: 2 });
    expect(c).toMatchObject({ type: 'concurrent_update', severity: 'low', fields: ['foo'] });
    expect(c.reasons.join('\n')).toMatch(/generic JSON/);
  });
});

describe('generic JSON resources', () => {
  it('classifies by differing fields only; a non-object root is $', () => {
    const a = ver({ n1: 1 }, { host: 'x', power_state: 'running', a: { b: { c: 1 } } }, { resourceId: 'crdt/settings' });
    const b = ver({ n2: 1 }, { host: 'y', power_state: 'running', a: { b: { c: 2 } } }, { resourceId: 'crdt/settings', origin: 'n2' });
    const c = conflictOf(detector.detectConflict('crdt/settings', a, b, NOW));
    expect(c).toMatchObject({ type: 'concurrent_update', severity: 'low', fields: ['a.b.c', 'host'] });
    expect(c.splitBrainHosts).toBeUndefined();
    const s1 = ver({ n1: 1 }, 'hello', { resourceId: 'crdt/text' });
    const s2 = ver({ n2: 1 }, 'world', { resourceId: 'crdt/text', origin: 'n2' });
    expect(conflictOf(detector.detectConflict('crdt/text', s1, s2, NOW)).fields).toEqual(['$']);
  });
});

describe('classify input checks', () => {
  it('needs two distinct, pairwise concurrent versions', () => {
    const a = ver({ n1: 1 }, vmState());
    const b = ver({ n1: 2 }, vmState({ memory_mb: 1 }));
    const c = ver({ n2: 1 }, vmState({ memory_mb: 2 }), { origin: 'n2' });
    const dup = ver({ n2: 1 }, vmState({ memory_mb: 2 }), { origin: 'n3' });
    expect(codeOf(() => detector.classify('vm/vm-123', [a], NOW))).toBe('ERR_INVALID_CONFLICT_INPUT');
    expect(codeOf(() => detector.classify('vm/vm-123', [a, a], NOW))).toBe('ERR_INVALID_CONFLICT_INPUT');
    expect(codeOf(() => detector.classify('vm/vm-123', [a, b, c], NOW))).toBe('ERR_INVALID_CONFLICT_INPUT');
    expect(codeOf(() => detector.classify('vm/vm-123', [c, dup, a], NOW))).toBe('ERR_INVALID_CONFLICT_INPUT');
  });

  it('a pair with equal clocks and different content makes the set a causal violation', () => {
    const a = ver({ n1: 1 }, vmState());
    const b = ver({ n2: 1 }, vmState({ memory_mb: 1 }), { origin: 'n2' });
    const b2 = ver({ n2: 1 }, vmState({ memory_mb: 2 }), { origin: 'n2' });
    expect(detector.classify('vm/vm-123', [a, b, b2], NOW)).toMatchObject({ type: 'causal_violation', severity: 'high' });
  });
});

describe('configuration', () => {
  it('merges partial options over the defaults', () => {
    const d = new ConflictDetector({ weights: { tombstone: 0 }, mediumComplexity: 0 });
    expect(d.config.weights).toEqual({ ...DEFAULT_DETECTOR_CONFIG.weights, tombstone: 0 });
    const c = conflictOf(
      d.detectConflict('vm/vm-123', ver({ n1: 1 }, vmState()), ver({ n2: 1 }, vmState({ memory_mb: 1 }), { origin: 'n2' }), NOW),
    );
    expect(c.severity).toBe('medium');
  });

  it('refuses invalid options with ERR_INVALID_DETECTOR_CONFIG', () => {
    const bad = [
      { weights: { fields: -1 } },
      { weights: { fields: 0, depth: 0, siblings: 0, tombstone: 0 } },
      { fieldKindWeights: { scalar: 0 } },
      { fieldHalfSaturation: 0 },
      { depthCap: 1 },
      { maxSiblings: 2 },
      { maxSiblings: 3.5 },
      { mediumComplexity: 1.5 },
      { findingsHalfSaturation: Number.NaN },
    ];
    for (const init of bad) expect(codeOf(() => new ConflictDetector(init))).toBe('ERR_INVALID_DETECTOR_CONFIG');
  });
});
