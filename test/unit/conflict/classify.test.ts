import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ConflictDetector,
  DEFAULT_DETECTOR_CONFIG,
  complexityScore,
  fieldKindOf,
  resolveDetectorConfig,
  type DetectedConflict,
} from '../../../src/core/conflict/index.js';
import type { VMState } from '../../../src/core/vm/state.js';
import { NOW, ver, vmState } from './helpers.js';

const detector = new ConflictDetector();

/** Mutations of the base VM, each changing one distinct path. */
const MUTATIONS: ReadonlyArray<readonly [string, (vm: VMState) => void]> = [
  ['host', (vm) => (vm.host = 'hv-09')],
  ['power_state', (vm) => (vm.power_state = 'stopped')],
  ['migration_status', (vm) => (vm.migration_status = 'pending')],
  ['cpu_allocation', (vm) => (vm.cpu_allocation = 16)],
  ['memory_mb', (vm) => (vm.memory_mb = 65536)],
  ['snapshot_id', (vm) => (vm.snapshot_id = null)],
  ['network_config.interfaces', (vm) => (vm.network_config.interfaces[1]!.ip = '192.168.7.222')],
  ['network_config.mtu', (vm) => (vm.network_config.mtu = 9000)],
  ['disk_config', (vm) => (vm.disk_config[0]!.size_gb = 41)],
  ['labels.owner', (vm) => ((vm.labels as Record<string, string>).owner = 'ops')],
  ['labels.tier', (vm) => ((vm.labels as Record<string, string>).tier = 'bronze')],
  ['annotations.a.b.c', (vm) => (vm.annotations = { a: { b: { c: 2 } } })],
  ['note', (vm) => (vm.note = 'changed')],
];

function baseVm(): VMState {
  const vm = vmState();
  vm.labels = { owner: 'dev', tier: 'gold' };
  vm.annotations = { a: { b: { c: 1 } } };
  vm.note = 'base';
  return vm;
}

function conflictFor(indexes: readonly number[], resourceId = 'vm/vm-123'): DetectedConflict {
  const b = baseVm();
  for (const i of indexes) MUTATIONS[i]![1](b);
  const va = ver({ n1: 1 }, baseVm(), { origin: 'n1', resourceId });
  const vb = ver({ n2: 1 }, b, { origin: 'n2', resourceId });
  const d = detector.detectConflict(resourceId, va, vb, NOW);
  if (d.outcome !== 'concurrent') throw new Error(`expected concurrent, got ${d.outcome}`);
  return d.conflict;
}

describe('complexity', () => {
  it('follows the documented formula', () => {
    const c = DEFAULT_DETECTOR_CONFIG;
    expect(complexityScore({ weightedFields: 0, maxDepth: 0, siblings: 2, tombstone: false }, c)).toBe(0);
    expect(complexityScore({ weightedFields: 2, maxDepth: 1, siblings: 2, tombstone: false }, c)).toBeCloseTo(0.3, 12);
    expect(complexityScore({ weightedFields: 2, maxDepth: 4, siblings: 8, tombstone: true }, c)).toBeCloseTo(0.3 + 0.15 + 0.15 + 0.1, 12);
    expect(complexityScore({ weightedFields: 1e9, maxDepth: 64, siblings: 1000, tombstone: true }, c)).toBeLessThanOrEqual(1);
  });

  it('is in [0, 1] for any terms and any valid configuration (fast-check)', () => {
    const configArb = fc
      .record({
        weights: fc.record({
          fields: fc.double({ min: 0, max: 10, noNaN: true }),
          depth: fc.double({ min: 0, max: 10, noNaN: true }),
          siblings: fc.double({ min: 0, max: 10, noNaN: true }),
          tombstone: fc.double({ min: 0.001, max: 10, noNaN: true }),
        }),
        fieldHalfSaturation: fc.double({ min: 0.01, max: 100, noNaN: true }),
        depthCap: fc.integer({ min: 2, max: 64 }),
        maxSiblings: fc.integer({ min: 3, max: 100 }),
      })
      .map((init) => resolveDetectorConfig(init));
    const termsArb = fc.record({
      weightedFields: fc.double({ min: 0, max: 1e6, noNaN: true }),
      maxDepth: fc.integer({ min: 0, max: 64 }),
      siblings: fc.integer({ min: 2, max: 10_000 }),
      tombstone: fc.boolean(),
    });
    fc.assert(
      fc.property(configArb, termsArb, (config, terms) => {
        const x = complexityScore(terms, config);
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('grows strictly with the number of differing fields, VM or generic (fast-check)', () => {
    const subsetPair = fc
      .subarray(
        MUTATIONS.map((_, i) => i),
        { minLength: 1 },
      )
      .chain((big) => fc.tuple(fc.subarray(big, { maxLength: big.length - 1 }), fc.constant(big)));
    fc.assert(
      fc.property(subsetPair, fc.constantFrom('vm/vm-123', 'crdt/config'), ([small, big], resourceId) => {
        const cs = small.length === 0 ? undefined : conflictFor(small, resourceId);
        const cb = conflictFor(big, resourceId);
        expect(cb.fields).toEqual(big.map((i) => MUTATIONS[i]![0]).sort());
        expect(cb.complexity).toBeGreaterThan(cs?.complexity ?? 0);
        expect(cb.complexity).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('weighs critical > structural > other > scalar fields', () => {
    const only = (i: number): number => conflictFor([i]).complexity;
    const at = (name: string): number => MUTATIONS.findIndex(([p]) => p === name);
    expect(only(at('migration_status'))).toBeGreaterThan(only(at('disk_config')));
    expect(only(at('disk_config'))).toBeGreaterThan(only(at('note')));
    expect(only(at('note'))).toBeGreaterThan(only(at('memory_mb')));
    // Nested paths add the depth term.
    expect(only(at('annotations.a.b.c'))).toBeGreaterThan(only(at('note')));
  });

  it('more siblings with the same differences are more complex, saturating at maxSiblings', () => {
    const versions = Array.from({ length: 10 }, (_, i) =>
      ver({ [`n${i}`]: 1 }, vmState({ memory_mb: 1024 * (1 + (i % 2)) }), { origin: `n${i}` }),
    );
    let prev = -1;
    for (let n = 2; n <= 10; n++) {
      const c = detector.classify('vm/vm-123', versions.slice(0, n), NOW).complexity;
      if (n <= DEFAULT_DETECTOR_CONFIG.maxSiblings) expect(c).toBeGreaterThan(prev);
      else expect(c).toBe(prev);
      prev = c;
    }
  });
});

describe('field kinds', () => {
  it('maps VM top-level fields to kinds, everything else to other', () => {
    expect(fieldKindOf('host', true)).toBe('critical');
    expect(fieldKindOf('power_state', true)).toBe('critical');
    expect(fieldKindOf('migration_status', true)).toBe('critical');
    expect(fieldKindOf('network_config.interfaces', true)).toBe('structural');
    expect(fieldKindOf('disk_config', true)).toBe('structural');
    expect(fieldKindOf('snapshot_id', true)).toBe('scalar');
    expect(fieldKindOf('cpu_allocation', true)).toBe('scalar');
    expect(fieldKindOf('labels.owner', true)).toBe('other');
    expect(fieldKindOf('host', false)).toBe('other');
  });
});
