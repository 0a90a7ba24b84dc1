import { describe, expect, it } from 'vitest';
import type { Version } from '../../../src/core/conflict/version.js';
import { ResolutionError } from '../../../src/core/resolve/errors.js';
import type { StrategyName } from '../../../src/core/resolve/types.js';
import {
  MIGRATION_STATUS_PRIORITY,
  POWER_STATE_PRIORITY,
  mergeVmStates,
  type VmMergeContext,
} from '../../../src/core/vm/field-rules.js';
import { mergeDisks, mergeInterfaces } from '../../../src/core/vm/network-merge.js';
import { InvalidVmStateError, parseVmState, type VMState } from '../../../src/core/vm/state.js';
import { SemanticMergeStrategy } from '../../../src/core/resolve/index.js';
import { allMergeOrders, conflictOf, ctxOf, permutations, resolvedVersion, specVm, ver } from '../resolve/helpers.js';

const semantic = new SemanticMergeStrategy();

const NO_CTX: VmMergeContext = { nodePriorities: {}, fieldStrategies: {} };

function vm(origin: string, wall: number, state: VMState): Version {
  return ver({ origin, wall, data: state });
}

function mergeState(versions: readonly Version[], ctx: VmMergeContext = NO_CTX): VMState {
  const r = mergeVmStates(versions, undefined, ctx);
  if (!r.state) throw new Error('expected a live state');
  return r.state;
}

function decision(versions: readonly Version[], field: string, ctx: VmMergeContext = NO_CTX): { rule: string; winner: string; detail: string } {
  const d = mergeVmStates(versions, undefined, ctx).fieldDecisions.find((x) => x.field === field);
  if (!d) throw new Error(`no decision for ${field}`);
  return d;
}

describe('VM field rules', () => {
  it("merges the spec's example: running wins, the larger memory wins, both network settings are kept", () => {
    const local = vm('hv-01', 1000, specVm());
    const remote = vm(
      'hv-02',
      1001,
      specVm({
        host: 'hv-02',
        power_state: 'stopped',
        memory_mb: 16384,
        network_config: { interfaces: [{ name: 'eth1', ip: '10.0.1.101' }] },
      }),
    );
    for (const order of [
      [local, remote],
      [remote, local],
    ]) {
      const r = mergeVmStates(order, undefined, NO_CTX);
      expect(r.deleted).toBe(false);
      const s = r.state!;
      expect(s.power_state).toBe('running');
      expect(s.host).toBe('hv-01');
      expect(s.cpu_allocation).toBe(4);
      expect(s.memory_mb).toBe(16384);
      expect(s.network_config.interfaces.map((n) => n.ip)).toEqual(['10.0.1.100', '10.0.1.101']);
      expect(() => parseVmState(s)).not.toThrow();
      const fields = r.fieldDecisions.map((d) => d.field);
      for (const f of ['id', 'power_state', 'host', 'cpu_allocation', 'memory_mb', 'network_config', 'disk_config', 'snapshot_id', 'migration_status']) {
        expect(fields).toContain(f);
      }
      expect(r.fieldDecisions.find((d) => d.field === 'power_state')).toMatchObject({ rule: 'power_state_priority', winner: local.id });
      expect(r.fieldDecisions.find((d) => d.field === 'memory_mb')).toMatchObject({ rule: 'maximum', winner: remote.id });
      expect(r.fieldDecisions.find((d) => d.field === 'network_config')).toMatchObject({ rule: 'network_semantic_merge', winner: 'merged' });
    }
  });

  it('orders power states running > paused > stopped > crashed', () => {
    const order = (Object.keys(POWER_STATE_PRIORITY) as VMState['power_state'][]).sort((x, y) => POWER_STATE_PRIORITY[y] - POWER_STATE_PRIORITY[x]);
    expect(order).toEqual(['running', 'paused', 'stopped', 'crashed']);
    for (let i = 0; i < order.length; i++) {
      for (let j = i + 1; j < order.length; j++) {
        const hi = vm('hv-01', 1000, specVm({ power_state: order[i]!, host: 'hv-01' }));
        const lo = vm('hv-02', 2000, specVm({ power_state: order[j]!, host: 'hv-02' }));
        const s = mergeState([lo, hi]);
        expect(s.power_state).toBe(order[i]);
        expect(s.host).toBe('hv-01');
      }
    }
  });

  it('the same power state on two hosts: the greater host id, whatever the timestamps', () => {
    const a = vm('hv-01', 2000, specVm({ power_state: 'stopped', host: 'hv-01' }));
    const b = vm('hv-02', 1000, specVm({ power_state: 'stopped', host: 'hv-02' }));
    expect(mergeState([a, b]).host).toBe('hv-02');
  });

  it('takes the maximum of cpu_allocation and memory_mb, independently', () => {
    const a = vm('hv-01', 1000, specVm({ cpu_allocation: 8, memory_mb: 1024 }));
    const b = vm('hv-02', 2000, specVm({ cpu_allocation: 2, memory_mb: 4096 }));
    const s = mergeState([a, b]);
    expect([s.cpu_allocation, s.memory_mb]).toEqual([8, 4096]);
    expect(decision([a, b], 'cpu_allocation')).toMatchObject({ rule: 'maximum', winner: a.id });
  });

  it('keeps every disk, the larger size per path', () => {
    const a = vm('hv-01', 1000, specVm({ disk_config: [{ path: '/d/a', size_gb: 40 }, { path: '/d/b', size_gb: 10 }] }));
    const b = vm('hv-02', 2000, specVm({ disk_config: [{ path: '/d/a', size_gb: 20 }, { path: '/d/c', size_gb: 5 }] }));
    expect(mergeState([b, a]).disk_config).toEqual([
      { path: '/d/a', size_gb: 40 },
      { path: '/d/b', size_gb: 10 },
      { path: '/d/c', size_gb: 5 },
    ]);
    expect(decision([a, b], 'disk_config').detail).toMatch(/disk "\/d\/a": kept .*"size_gb":40/);
  });

  it('one interface with different settings: one whole entry is kept, deterministically, and recorded', () => {
    const a = vm('hv-01', 1000, specVm({ network_config: { interfaces: [{ name: 'eth0', mac: '52:54:00:00:00:01', ip: '10.0.1.100' }] } }));
    const b = vm('hv-02', 2000, specVm({ network_config: { interfaces: [{ name: 'eth0', mac: '52:54:00:00:00:02', ip: '10.0.1.101' }] } }));
    const s1 = mergeState([a, b]);
    const s2 = mergeState([b, a]);
    expect(s1).toEqual(s2);
    expect(s1.network_config.interfaces).toHaveLength(1);
    // mac and ip come from the same version, never mixed
    expect([
      ['52:54:00:00:00:01', '10.0.1.100'],
      ['52:54:00:00:00:02', '10.0.1.101'],
    ]).toContainEqual([s1.network_config.interfaces[0]!.mac, s1.network_config.interfaces[0]!.ip]);
    expect(decision([a, b], 'network_config').detail).toMatch(/interface "eth0": kept/);
  });

  it('decides other network_config keys by last write', () => {
    const a = vm('hv-01', 1000, specVm({ network_config: { interfaces: [], mtu: 9000 } }));
    const b = vm('hv-02', 2000, specVm({ network_config: { interfaces: [], mtu: 1500 } }));
    expect(mergeState([a, b]).network_config.mtu).toBe(1500);
  });

  it('snapshot_id by last write; an exact hlc tie by the greater value', () => {
    const a = vm('hv-01', 1000, specVm({ snapshot_id: 'snap-9' }));
    const b = vm('hv-02', 2000, specVm({ snapshot_id: 'snap-1' }));
    expect(mergeState([a, b]).snapshot_id).toBe('snap-1');
    const c = vm('hv-03', 2000, specVm({ snapshot_id: 'snap-0' }));
    expect(mergeState([b, c]).snapshot_id).toBe('snap-1');
    const n = vm('hv-04', 3000, specVm({ snapshot_id: null }));
    expect(mergeState([a, n]).snapshot_id).toBeNull();
  });

  it('migration_status: migrating > pending > failed > completed > none', () => {
    const order = (Object.keys(MIGRATION_STATUS_PRIORITY) as VMState['migration_status'][]).sort(
      (x, y) => MIGRATION_STATUS_PRIORITY[y] - MIGRATION_STATUS_PRIORITY[x],
    );
    expect(order).toEqual(['migrating', 'pending', 'failed', 'completed', 'none']);
    const a = vm('hv-01', 1000, specVm({ migration_status: 'migrating' }));
    const b = vm('hv-02', 2000, specVm({ migration_status: 'completed' }));
    expect(mergeState([a, b]).migration_status).toBe('migrating');
  });

  it('keeps unknown fields, by last write per field; a field missing from the newest write is dropped', () => {
    const a = vm('hv-01', 1000, { ...specVm(), labels: { tier: 'gold' }, note: 'old', only_a: 1 });
    const b = vm('hv-02', 2000, { ...specVm(), labels: { tier: 'bronze' } });
    const s = mergeState([a, b]);
    expect(s.labels).toEqual({ tier: 'bronze' });
    expect(s.note).toBeUndefined();
    expect(s.only_a).toBeUndefined();
    const c = vm('hv-03', 500, { ...specVm(), extra: [1, 2] });
    expect(mergeState([a, c]).only_a).toBe(1);
    expect(decision([a, b], 'labels')).toMatchObject({ rule: 'last_write_wins', winner: b.id });
  });

  it('records "all versions agree" for equal fields', () => {
    const a = vm('hv-01', 1000, specVm({ cpu_allocation: 2 }));
    const b = vm('hv-02', 2000, specVm({ cpu_allocation: 4 }));
    expect(decision([a, b], 'memory_mb').detail).toMatch(/all versions agree/);
  });

  describe('field strategies from the policy', () => {
    const prio = { 'hv-01': 10, 'hv-02': 100 };
    it('power_state: highest_priority (production policy) takes the pair from the highest-priority node', () => {
      const a = vm('hv-01', 2000, specVm({ power_state: 'running', host: 'hv-01' }));
      const b = vm('hv-02', 1000, specVm({ power_state: 'stopped', host: 'hv-02' }));
      const ctx: VmMergeContext = { nodePriorities: prio, fieldStrategies: { power_state: 'highest_priority' } };
      const r = mergeVmStates([a, b], undefined, ctx);
      expect(r.state!.power_state).toBe('stopped');
      expect(r.state!.host).toBe('hv-02');
      expect(r.origin).toBe('hv-02');
      expect(r.fieldDecisions.find((d) => d.field === 'power_state')).toMatchObject({ rule: 'highest_priority', winner: b.id });
    });

    it('memory_mb: last_write_wins instead of the maximum', () => {
      const a = vm('hv-01', 1000, specVm({ memory_mb: 16384 }));
      const b = vm('hv-02', 2000, specVm({ memory_mb: 1024 }));
      expect(mergeState([a, b], { nodePriorities: {}, fieldStrategies: { memory_mb: 'last_write_wins' } }).memory_mb).toBe(1024);
    });

    it('host with its own strategy is decided apart from power_state', () => {
      const a = vm('hv-01', 1000, specVm({ power_state: 'running', host: 'hv-01' }));
      const b = vm('hv-02', 2000, specVm({ power_state: 'stopped', host: 'hv-02' }));
      const s = mergeState([a, b], { nodePriorities: {}, fieldStrategies: { host: 'last_write_wins' } });
      expect([s.power_state, s.host]).toEqual(['running', 'hv-02']);
    });

    it('an unknown text field with operational_transform is merged against the ancestor', () => {
      const anc = vm('hv-01', 500, { ...specVm(), description: 'hello world' });
      const a = vm('hv-01', 1000, { ...specVm(), description: 'hello big world' });
      const b = vm('hv-02', 2000, { ...specVm(), description: 'hello world!' });
      const ctx: VmMergeContext = { nodePriorities: {}, fieldStrategies: { description: 'operational_transform' } };
      expect(mergeVmStates([a, b], anc, ctx).state!.description).toBe('hello big world!');
    });

    it('strategies that cannot decide one field fall back to the VM rule, with a note', () => {
      for (const s of ['multi_value_register', 'manual_intervention', 'consensus_vote', 'automatic_rollback', 'operational_transform'] as StrategyName[]) {
        const a = vm('hv-01', 1000, specVm({ cpu_allocation: 8 }));
        const b = vm('hv-02', 2000, specVm({ cpu_allocation: 2 }));
        const r = mergeVmStates([a, b], undefined, { nodePriorities: {}, fieldStrategies: { cpu_allocation: s } });
        expect(r.state!.cpu_allocation).toBe(8);
        expect(r.notes.join('\n')).toMatch(new RegExp(`cpu_allocation: strategy ${s} cannot decide`));
      }
    });
  });

  describe('delete concurrent with an update', () => {
    const del = (origin: string, wall: number): Version => ver({ origin, wall, data: null, deleted: true });

    it('the update wins when it leaves the VM running', () => {
      const upd = vm('hv-01', 1000, specVm({ power_state: 'running' }));
      const d = del('hv-02', 2000);
      for (const order of permutations([upd, d])) {
        const r = mergeVmStates(order, undefined, NO_CTX);
        expect(r.deleted).toBe(false);
        expect(r.state!.power_state).toBe('running');
        // the result carries the live write's hlc (its content's), not the tombstone's
        expect(r.hlc).toEqual({ wall: 1000, logical: 0 });
        expect(r.fieldDecisions[0]).toMatchObject({ field: '*', rule: 'delete_vs_update', winner: upd.id });
      }
    });

    it('the delete wins otherwise, even when it is older', () => {
      const upd = vm('hv-01', 2000, specVm({ power_state: 'stopped' }));
      const d = del('hv-02', 1000);
      const r = mergeVmStates([upd, d], undefined, NO_CTX);
      expect(r.deleted).toBe(true);
      expect(r.state).toBeNull();
      expect(r.hlc).toEqual({ wall: 2000, logical: 0 });
      expect(r.fieldDecisions[0]).toMatchObject({ rule: 'delete_vs_update', winner: d.id });
      expect(r.notes.join('\n')).toMatch(/would be stopped; the delete wins/);
    });

    it('several updates are merged first: one running update saves the VM', () => {
      const a = vm('hv-01', 1000, specVm({ power_state: 'stopped', cpu_allocation: 8 }));
      const b = vm('hv-02', 1100, specVm({ power_state: 'running', cpu_allocation: 2 }));
      const r = mergeVmStates([a, del('hv-03', 3000), b], undefined, NO_CTX);
      expect(r.state).toMatchObject({ power_state: 'running', cpu_allocation: 8 });
    });

    it('only tombstones: a tombstone', () => {
      const r = mergeVmStates([del('hv-01', 1), del('hv-02', 2)], undefined, NO_CTX);
      expect(r).toMatchObject({ deleted: true, state: null, origin: 'hv-02' });
    });

    /** Merge two versions with the semantic strategy (the result version, as the replica would store it). */
    const join = (ctx: VmMergeContext, ...vs: Version[]): Version =>
      resolvedVersion(semantic.resolve(conflictOf(vs), ctxOf(ctx)));

    it('a stopped update, a running update and a delete: the same bytes in every merge order (issue 3)', () => {
      const stopped = ver({ origin: 'hv-01', wall: 1000, clock: { 'hv-01': 1 }, data: specVm({ power_state: 'stopped', disk_config: [{ path: '/d/a', size_gb: 10 }] }) });
      const running = ver({ origin: 'hv-02', wall: 1100, clock: { 'hv-02': 1 }, data: specVm({ power_state: 'running', host: 'hv-02' }) });
      const d = ver({ origin: 'hv-03', wall: 1200, clock: { 'hv-03': 1 }, data: null, deleted: true });
      const outs = allMergeOrders(semantic, ctxOf(), stopped, running, d);
      expect(new Set(outs).size).toBe(1);
      // the stopped update's disk survives the path where the delete first won over it
      const viaDelete = join(NO_CTX, join(NO_CTX, stopped, d), running);
      expect(viaDelete.deleted).toBe(false);
      expect((viaDelete.data as VMState).disk_config.map((x) => x.path)).toContain('/d/a');
      expect((viaDelete.data as VMState).power_state).toBe('running');
    });

    it('a delete that wins keeps the merged update in the tombstone, with its hlc and origin', () => {
      const upd = vm('hv-01', 2000, specVm({ power_state: 'stopped' }));
      const r = mergeVmStates([upd, del('hv-02', 1000)], undefined, NO_CTX);
      expect(r.deleted).toBe(true);
      expect(r.data).toEqual({ overridden: { state: parseVmState(upd.data), hlc: { wall: 2000, logical: 0 }, origin: 'hv-01' } });
      const plain = mergeVmStates([del('hv-01', 1), del('hv-02', 2)], undefined, NO_CTX);
      expect(plain.data).toBeNull();
    });

    it('power_state: highest_priority: the highest-priority node decides, a delete included', () => {
      const ctx: VmMergeContext = { nodePriorities: { 'hv-01': 1, 'hv-02': 5 }, fieldStrategies: { power_state: 'highest_priority' } };
      const running = vm('hv-01', 1000, specVm({ power_state: 'running' }));
      const stopped = vm('hv-02', 900, specVm({ power_state: 'stopped' }));
      expect(mergeVmStates([running, del('hv-02', 100)], undefined, ctx)).toMatchObject({ deleted: true, origin: 'hv-02' });
      expect(mergeVmStates([stopped, del('hv-01', 5000)], undefined, ctx)).toMatchObject({ deleted: false, origin: 'hv-02' });
      // the same node wrote both: the delete
      expect(mergeVmStates([stopped, del('hv-02', 100)], undefined, ctx).deleted).toBe(true);
    });

    it('power_state: last_write_wins: the newest write decides, an exact tie goes to the delete', () => {
      const ctx: VmMergeContext = { nodePriorities: {}, fieldStrategies: { power_state: 'last_write_wins' } };
      const running = vm('hv-01', 1000, specVm({ power_state: 'running' }));
      const stopped = vm('hv-01', 3000, specVm({ power_state: 'stopped' }));
      expect(mergeVmStates([running, del('hv-02', 2000)], undefined, ctx).deleted).toBe(true);
      expect(mergeVmStates([stopped, del('hv-02', 2000)], undefined, ctx)).toMatchObject({ deleted: false, hlc: { wall: 3000, logical: 0 } });
      expect(mergeVmStates([vm('hv-01', 2000, specVm()), del('hv-02', 2000)], undefined, ctx).deleted).toBe(true);
    });

    it('a tombstone with data that is not {overridden: {state, hlc, origin}} is an InvalidVmStateError naming it', () => {
      const upd = vm('hv-01', 1000, specVm());
      const bad = (data: unknown): Version => ver({ origin: 'hv-02', wall: 900, data, deleted: true });
      const cases: [unknown, RegExp][] = [
        [{ state: specVm() }, /expected null or \{overridden/],
        [{ overridden: { state: specVm(), hlc: { wall: -1, logical: 0 }, origin: 'hv-01' } }, /overridden\.hlc/],
        [{ overridden: { state: specVm(), hlc: { wall: 1, logical: 0 }, origin: '' } }, /overridden\.origin/],
        [{ overridden: { state: { ...specVm(), memory_mb: 'lots' }, hlc: { wall: 1, logical: 0 }, origin: 'hv-01' } }, /overridden\.state\.memory_mb/],
      ];
      for (const [data, re] of cases) {
        expect(() => mergeVmStates([upd, bad(data)], undefined, NO_CTX)).toThrow(InvalidVmStateError);
        expect(() => mergeVmStates([upd, bad(data)], undefined, NO_CTX)).toThrow(re);
      }
    });
  });

  describe('bad input', () => {
    it('a VM state with a wrong type is an InvalidVmStateError naming the field', () => {
      const a = vm('hv-01', 1000, specVm());
      const b = ver({ origin: 'hv-02', wall: 2000, data: { ...specVm(), cpu_allocation: 'four' } });
      expect(() => mergeVmStates([a, b], undefined, NO_CTX)).toThrow(InvalidVmStateError);
      try {
        mergeVmStates([a, b], undefined, NO_CTX);
      } catch (err) {
        expect((err as InvalidVmStateError).code).toBe('ERR_INVALID_VM_STATE');
        expect((err as InvalidVmStateError).meta.field).toBe(`version ${b.id}.cpu_allocation`);
      }
    });

    it('versions of two different VMs are refused', () => {
      const a = vm('hv-01', 1000, specVm());
      const b = vm('hv-02', 2000, specVm({ id: 'vm-999' }));
      expect(() => mergeVmStates([a, b], undefined, NO_CTX)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_VM_STATE' }));
    });

    it('no versions is a ResolutionError', () => {
      expect(() => mergeVmStates([], undefined, NO_CTX)).toThrow(ResolutionError);
    });
  });

  describe('list merges', () => {
    it('interfaces: union by name, sorted, identical entries once', () => {
      const r = mergeInterfaces([
        [{ name: 'eth1', ip: '1' }, { name: 'eth0', ip: '0' }],
        [{ name: 'eth0', ip: '0' }, { name: 'eth2' }],
      ]);
      expect(r.value.map((n) => n.name)).toEqual(['eth0', 'eth1', 'eth2']);
      expect(r.conflicts).toEqual([]);
    });

    it('disks: equal sizes with different attributes choose by value, and say so', () => {
      const r1 = mergeDisks([[{ path: '/a', size_gb: 1, bus: 'virtio' }], [{ path: '/a', size_gb: 1, bus: 'scsi' }]]);
      const r2 = mergeDisks([[{ path: '/a', size_gb: 1, bus: 'scsi' }], [{ path: '/a', size_gb: 1, bus: 'virtio' }]]);
      expect(r1.value).toEqual(r2.value);
      expect(r1.conflicts).toHaveLength(1);
    });
  });
});
