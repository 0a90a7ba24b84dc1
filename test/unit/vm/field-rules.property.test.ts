/**
 * The VM field rules are pure functions of the unordered set of versions: commutative and associative
 * (byte for byte: version id, digest, clock), with a clock that dominates every input. Exercised through
 * the semantic-merge strategy, which builds the result version.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareHlc } from '../../../src/core/clock/hlc.js';
import type { Version } from '../../../src/core/conflict/version.js';
import { SemanticMergeStrategy } from '../../../src/core/resolve/index.js';
import type { ResolutionContext, StrategyName } from '../../../src/core/resolve/types.js';
import { MIGRATION_STATUS_PRIORITY, POWER_STATE_PRIORITY, mergeVmStates } from '../../../src/core/vm/field-rules.js';
import { parseVmState, type VMState } from '../../../src/core/vm/state.js';
import {
  allMergeOrders,
  bytesOf,
  concurrentVersions,
  conflictOf,
  ctxOf,
  permutations,
  resolvedVersion,
  ver,
  vmStateArb,
} from '../resolve/helpers.js';

const semantic = new SemanticMergeStrategy();

/**
 * Policies to run every law under: the defaults, and per-field overrides (production's power_state:
 * highest_priority). Plain data, so that fast-check prints it readably; {@link ctx} builds the context.
 */
const policyArb = fc
  .record({
    fields: fc.subarray([
      ['power_state', 'highest_priority'],
      ['power_state', 'last_write_wins'],
      ['memory_mb', 'last_write_wins'],
      ['host', 'last_write_wins'],
      ['snapshot_id', 'highest_priority'],
      ['network_config', 'last_write_wins'],
      ['note', 'highest_priority'],
      ['cpu_allocation', 'multi_value_register'],
    ] as [string, StrategyName][]),
    prio: fc.record({ 'hv-01': fc.nat(2), 'hv-02': fc.nat(2), 'hv-03': fc.nat(2), 'hv-04': fc.nat(2) }),
  })
  .map(({ fields, prio }) => ({ fieldStrategies: Object.fromEntries(fields), nodePriorities: prio }));

function ctx(policy: Pick<ResolutionContext, 'fieldStrategies' | 'nodePriorities'>): ResolutionContext {
  return ctxOf(policy);
}

function tombstone(v: Version): Version {
  return ver({ origin: v.origin, wall: v.hlc.wall, logical: v.hlc.logical, clock: v.clock.toJSON(), data: null, deleted: true });
}

function withPower(vs: Version[], power: VMState['power_state'][]): Version[] {
  return vs.map((v, i) =>
    ver({ origin: v.origin, wall: v.hlc.wall, logical: v.hlc.logical, clock: v.clock.toJSON(), data: { ...(v.data as VMState), power_state: power[i]! } }),
  );
}

describe('VM field rules: laws', () => {
  it('resolve(a, b) == resolve(b, a) byte for byte; the clock is the join; the result is a valid VM state', () => {
    fc.assert(
      fc.property(concurrentVersions(2, vmStateArb), policyArb, fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }), (vs, policy, dels) => {
        const [a, b] = vs.map((v, i) => (dels[i] ? tombstone(v) : v));
        const ab = resolvedVersion(semantic.resolve(conflictOf([a!, b!]), ctx(policy)));
        const ba = resolvedVersion(semantic.resolve(conflictOf([b!, a!]), ctx(policy)));
        expect(bytesOf(ab)).toBe(bytesOf(ba));
        expect(ab.clock.equals(a!.clock.join(b!.clock))).toBe(true);
        expect(ab.clock.dominates(a!.clock) && ab.clock.dominates(b!.clock)).toBe(true);
        if (!ab.deleted) expect(parseVmState(ab.data)).toEqual(ab.data);
      }),
    );
  });

  it('three versions: every pairwise order and all at once give the same bytes (no tombstones)', () => {
    fc.assert(
      fc.property(concurrentVersions(3, vmStateArb), policyArb, ([a, b, c], policy) => {
        expect(new Set(allMergeOrders(semantic, ctx(policy), a!, b!, c!)).size).toBe(1);
      }),
    );
  });

  it('three versions with deletes and any power states: every pairwise order and all at once give the same bytes', () => {
    // Deletes are mixed with updates in every power state (a stopped and a running update with a
    // delete is the case that once depended on the merge order), under every policy of policyArb.
    const power = fc.constantFrom<VMState['power_state']>('running', 'paused', 'stopped', 'crashed');
    fc.assert(
      fc.property(
        concurrentVersions(3, vmStateArb),
        policyArb,
        fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
        fc.array(power, { minLength: 3, maxLength: 3 }),
        (vs, policy, dels, powers) => {
          const [a, b, c] = withPower(vs, powers).map((v, i) => (dels[i] ? tombstone(v) : v));
          expect(new Set(allMergeOrders(semantic, ctx(policy), a!, b!, c!)).size).toBe(1);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('three versions with deletes, any power states: the same bytes for every order of the full set', () => {
    fc.assert(
      fc.property(concurrentVersions(3, vmStateArb), policyArb, fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), (vs, policy, dels) => {
        const all = vs.map((v, i) => (dels[i] ? tombstone(v) : v));
        const outs = permutations(all).map((p) => bytesOf(resolvedVersion(semantic.resolve(conflictOf(p), ctx(policy)))));
        expect(new Set(outs).size).toBe(1);
      }),
    );
  });

  it('each default rule holds field by field', () => {
    fc.assert(
      fc.property(concurrentVersions(3, vmStateArb), (vs) => {
        const r = mergeVmStates(vs, undefined, { nodePriorities: {}, fieldStrategies: {} });
        const s = r.state!;
        const states = vs.map((v) => parseVmState(v.data));
        expect(s.cpu_allocation).toBe(Math.max(...states.map((x) => x.cpu_allocation)));
        expect(s.memory_mb).toBe(Math.max(...states.map((x) => x.memory_mb)));
        expect(POWER_STATE_PRIORITY[s.power_state]).toBe(Math.max(...states.map((x) => POWER_STATE_PRIORITY[x.power_state])));
        // the host is the host of a version with the winning power state
        expect(states.some((x) => x.power_state === s.power_state && x.host === s.host)).toBe(true);
        expect(MIGRATION_STATUS_PRIORITY[s.migration_status]).toBe(Math.max(...states.map((x) => MIGRATION_STATUS_PRIORITY[x.migration_status])));
        const names = new Set(states.flatMap((x) => x.network_config.interfaces.map((n) => n.name)));
        expect(new Set(s.network_config.interfaces.map((n) => n.name))).toEqual(names);
        for (const nic of s.network_config.interfaces) {
          expect(states.some((x) => x.network_config.interfaces.some((n) => JSON.stringify(n) === JSON.stringify(nic)))).toBe(true);
        }
        const paths = new Set(states.flatMap((x) => x.disk_config.map((d) => d.path)));
        expect(new Set(s.disk_config.map((d) => d.path))).toEqual(paths);
        for (const d of s.disk_config) {
          expect(d.size_gb).toBe(Math.max(...states.flatMap((x) => x.disk_config.filter((y) => y.path === d.path).map((y) => y.size_gb))));
        }
        const newest = [...vs].sort((x, y) => compareHlc(y.hlc, x.hlc));
        if (compareHlc(newest[0]!.hlc, newest[1]!.hlc) !== 0) {
          expect(s.snapshot_id).toBe(parseVmState(newest[0]!.data).snapshot_id);
          expect(s.labels).toEqual((newest[0]!.data as VMState).labels);
        }
      }),
    );
  });
});
