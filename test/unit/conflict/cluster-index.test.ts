import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ClusterIndex,
  ConflictDetector,
  conflictId,
  findingsToConflict,
  isActive,
  type Finding,
  type Overcommit,
} from '../../../src/core/conflict/index.js';
import { KeyTable } from '../../../src/core/conflict/cluster-index.js';
import { DwcpError } from '../../../src/core/errors.js';
import type { HostRecord, PowerState, VMState } from '../../../src/core/vm/state.js';
import { NOW, ver, vmState } from './helpers.js';

function host(id: string, cpu: number, memory_mb: number): HostRecord {
  return { id, capacity: { cpu, memory_mb }, labels: {} };
}

/** A VM with one NIC and one disk of its own (no contention unless a test adds it). */
function vm(id: string, o: Partial<VMState> = {}, nic?: { ip?: string; mac?: string }, disk?: string): VMState {
  const n = Number(id.replace(/\D/g, '')) % 256;
  const hex = n.toString(16).padStart(2, '0');
  return vmState(
    {
      network_config: { interfaces: [{ name: 'eth0', mac: nic?.mac ?? `52:54:00:00:00:${hex}`, ip: nic?.ip ?? `10.0.0.${n}` }] },
      disk_config: [{ path: disk ?? `/vms/${id}.qcow2`, size_gb: 10 }],
      ...o,
    },
    id,
  );
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

describe('ClusterIndex: resource contention', () => {
  it('finds another VM with the same IP, MAC (any case) or disk path', () => {
    const idx = new ClusterIndex();
    idx.upsertHost(host('hv-01', 64, 1 << 20));
    idx.upsertVm(vm('vm-1', {}, { ip: '10.9.9.9', mac: '52:54:00:AA:BB:CC' }, '/vms/shared.qcow2'));
    const cand = vm('vm-2', {}, { ip: '10.9.9.9', mac: '52:54:00:aa:bb:cc' }, '/vms/shared.qcow2');
    const f = idx.check(cand);
    expect(f.map((x) => [x.type, x.field, x.subject, x.severity, x.otherVmIds])).toEqual([
      ['resource_contention', 'network_config.interfaces[0].ip', '10.9.9.9', 'high', ['vm-1']],
      ['resource_contention', 'network_config.interfaces[0].mac', '52:54:00:aa:bb:cc', 'high', ['vm-1']],
      ['resource_contention', 'disk_config[0].path', '/vms/shared.qcow2', 'high', ['vm-1']],
    ]);
    expect(f[0]!.detail).toMatch(/10\.9\.9\.9.*vm-1/);
  });

  it('is medium when the candidate or the other VMs are not active', () => {
    const idx = new ClusterIndex();
    idx.upsertHost(host('hv-01', 64, 1 << 20));
    idx.upsertVm(vm('vm-1', { power_state: 'stopped' }, { ip: '10.9.9.9' }));
    expect(idx.check(vm('vm-2', {}, { ip: '10.9.9.9' }))[0]).toMatchObject({ severity: 'medium' });
    idx.upsertVm(vm('vm-1', {}, { ip: '10.9.9.9' }));
    expect(idx.check(vm('vm-2', { power_state: 'crashed' }, { ip: '10.9.9.9' }))[0]).toMatchObject({ severity: 'medium' });
    expect(idx.check(vm('vm-2', { power_state: 'paused' }, { ip: '10.9.9.9' }))[0]).toMatchObject({ severity: 'high' });
  });

  it('does not report a VM against its own indexed state, and forgets removed VMs', () => {
    const idx = new ClusterIndex();
    idx.upsertHost(host('hv-01', 64, 1 << 20));
    const a = vm('vm-1', {}, { ip: '10.9.9.9' });
    idx.upsertVm(a);
    expect(idx.check(a)).toEqual([]);
    expect(idx.vmsUsing('ip', '10.9.9.9')).toEqual(['vm-1']);
    // Moving the IP away frees it.
    idx.upsertVm(vm('vm-1', {}, { ip: '10.9.9.10' }));
    expect(idx.vmsUsing('ip', '10.9.9.9')).toEqual([]);
    expect(idx.check(vm('vm-2', {}, { ip: '10.9.9.9' }))).toEqual([]);
    expect(idx.check(vm('vm-2', {}, { ip: '10.9.9.10' }))).toHaveLength(1);
    expect(idx.removeVm('vm-1')).toBe(true);
    expect(idx.removeVm('vm-1')).toBe(false);
    expect(idx.check(vm('vm-2', {}, { ip: '10.9.9.10' }))).toEqual([]);
    expect(idx.vmCount).toBe(0);
  });
});

describe('ClusterIndex: capacity invariants', () => {
  it('flags a host whose running and paused VMs would exceed capacity × overcommit (critical)', () => {
    const idx = new ClusterIndex();
    idx.upsertHost(host('hv-01', 8, 16384));
    idx.upsertHost(host('hv-02', 64, 1 << 20));
    idx.upsertVm(vm('vm-1', { cpu_allocation: 4, memory_mb: 8192 }));
    idx.upsertVm(vm('vm-2', { cpu_allocation: 2, memory_mb: 4096, power_state: 'paused' }));
    idx.upsertVm(vm('vm-3', { cpu_allocation: 32, memory_mb: 65536, power_state: 'stopped' }));
    expect(idx.hostUsage('hv-01')).toEqual({ cpu: 6, memory_mb: 12288, vms: 2 });
    expect(idx.check(vm('vm-4', { cpu_allocation: 2, memory_mb: 4096 }))).toEqual([]);
    const f = idx.check(vm('vm-4', { cpu_allocation: 3, memory_mb: 4096 }));
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ type: 'invariant_violation', severity: 'critical', field: 'cpu_allocation', subject: 'hv-01' });
    expect(f[0]!.otherVmIds).toEqual(['vm-1', 'vm-2']);
    expect(f[0]!.detail).toMatch(/9 active vCPUs.*limit 8/);
    const both = idx.check(vm('vm-4', { cpu_allocation: 3, memory_mb: 5000 }));
    expect(both.map((x) => x.field)).toEqual(['cpu_allocation', 'memory_mb']);
    // A stopped candidate holds nothing.
    expect(idx.check(vm('vm-4', { cpu_allocation: 30, power_state: 'stopped' }))).toEqual([]);
  });

  it('applies the overcommit ratios', () => {
    const idx = new ClusterIndex({ overcommit: { cpu: 2, memory: 1 } });
    idx.upsertHost(host('hv-01', 8, 16384));
    idx.upsertVm(vm('vm-1', { cpu_allocation: 12, memory_mb: 8192 }));
    expect(idx.check(vm('vm-2', { cpu_allocation: 4, memory_mb: 8192 }))).toEqual([]);
    expect(idx.check(vm('vm-2', { cpu_allocation: 5, memory_mb: 8192 })).map((x) => x.field)).toEqual([
      'cpu_allocation',
      'cpu_allocation',
    ]);
    idx.setOvercommit({ cpu: 4, memory: 1.5 });
    expect(idx.check(vm('vm-2', { cpu_allocation: 20, memory_mb: 16384 }))).toEqual([]);
    expect(idx.overcommit).toEqual({ cpu: 4, memory: 1.5 });
    expect(codeOf(() => idx.setOvercommit({ cpu: 0, memory: 1 }))).toBe('ERR_INVALID_DETECTOR_CONFIG');
    expect(codeOf(() => new ClusterIndex({ overcommit: { cpu: 1, memory: Number.POSITIVE_INFINITY } }))).toBe(
      'ERR_INVALID_DETECTOR_CONFIG',
    );
  });

  it('counts an updated VM once (its indexed state is replaced by the candidate)', () => {
    const idx = new ClusterIndex();
    idx.upsertHost(host('hv-01', 8, 16384));
    idx.upsertHost(host('hv-02', 8, 16384));
    idx.upsertVm(vm('vm-1', { cpu_allocation: 6 }));
    expect(idx.check(vm('vm-1', { cpu_allocation: 8 }))).toEqual([]);
    // Moving to hv-02, where another VM already holds 4 vCPUs.
    idx.upsertVm(vm('vm-2', { cpu_allocation: 4, host: 'hv-02' }));
    expect(idx.check(vm('vm-1', { cpu_allocation: 5, host: 'hv-02' }))[0]).toMatchObject({ subject: 'hv-02', otherVmIds: ['vm-2'] });
    expect(idx.check(vm('vm-1', { cpu_allocation: 4, host: 'hv-02' }))).toEqual([]);
  });

  it('flags the cluster total (subject cluster) and a VM on an unknown host (semantic)', () => {
    const idx = new ClusterIndex();
    idx.upsertHost(host('hv-01', 8, 16384));
    idx.upsertVm(vm('vm-1', { cpu_allocation: 8, host: 'hv-ghost', memory_mb: 1024 }));
    const f = idx.check(vm('vm-2', { cpu_allocation: 4, memory_mb: 1024 }));
    expect(f.map((x) => [x.type, x.severity, x.subject, x.field])).toEqual([
      ['invariant_violation', 'critical', 'cluster', 'cpu_allocation'],
    ]);
    const g = idx.check(vm('vm-3', { cpu_allocation: 0, memory_mb: 0, host: 'hv-09' }));
    expect(g.map((x) => [x.type, x.severity, x.subject, x.field])).toEqual([['semantic', 'high', 'hv-09', 'host']]);
    expect(g[0]!.detail).toMatch(/not a known host/);
    expect(idx.check(vm('vm-3', { host: 'hv-09', power_state: 'stopped' }))).toEqual([]);
    expect(idx.clusterUsage()).toEqual({ cpu: 8, memory_mb: 1024, vms: 1, capacityCpu: 8, capacityMemoryMb: 16384 });
    expect(idx.removeHost('hv-01')).toBe(true);
    expect(idx.clusterUsage().capacityCpu).toBe(0);
  });
});

describe('ClusterIndex: a capacity of 0 means "not declared"', () => {
  it('does not judge a host that declared no capacity, even once other hosts have records', () => {
    const idx = new ClusterIndex();
    idx.upsertHost(host('hv-01', 8, 16384));
    idx.upsertHost(host('hv-02', 0, 0)); // announced, capacity not declared
    idx.upsertVm(vm('vm-1', { host: 'hv-02', cpu_allocation: 4, memory_mb: 4096 }));
    expect(idx.check(vm('vm-2', { host: 'hv-02', cpu_allocation: 4, memory_mb: 4096 }))).toEqual([]);
    // nor does its usage count against the hosts that did declare theirs
    expect(idx.check(vm('vm-3', { host: 'hv-01', cpu_allocation: 8, memory_mb: 16384 }))).toEqual([]);
    expect(idx.check(vm('vm-3', { host: 'hv-01', cpu_allocation: 9, memory_mb: 16384 })).map((f) => [f.subject, f.field])).toEqual([
      ['hv-01', 'cpu_allocation'],
      ['cluster', 'cpu_allocation'],
    ]);
  });

  it('judges each dimension on its own: declared CPU, undeclared memory', () => {
    const idx = new ClusterIndex();
    idx.upsertHost(host('hv-01', 4, 0));
    const f = idx.check(vm('vm-1', { cpu_allocation: 5, memory_mb: 1 << 30 }));
    expect(f.map((x) => [x.subject, x.field])).toEqual([
      ['hv-01', 'cpu_allocation'],
      ['cluster', 'cpu_allocation'],
    ]);
    // declaring it later makes it count
    idx.upsertHost(host('hv-01', 4, 1024));
    expect(idx.check(vm('vm-1', { cpu_allocation: 1, memory_mb: 2048 })).map((x) => [x.subject, x.field])).toEqual([
      ['hv-01', 'memory_mb'],
      ['cluster', 'memory_mb'],
    ]);
    // and undeclaring it (or removing the host) stops it again
    idx.upsertHost(host('hv-01', 0, 0));
    expect(idx.check(vm('vm-1', { cpu_allocation: 64, memory_mb: 1 << 30 }))).toEqual([]);
    idx.removeHost('hv-01');
    idx.upsertHost(host('hv-02', 2, 1024));
    expect(idx.check(vm('vm-1', { host: 'hv-02', cpu_allocation: 3, memory_mb: 512 })).map((x) => x.subject)).toEqual(['hv-02', 'cluster']);
  });
});

describe('ClusterIndex.contentionOf: any incoming VM version', () => {
  it('flags two VMs given the same IP, MAC and disk on the two sides of a partition, the same way on both nodes', () => {
    const vm1 = vm('vm-1', {}, { ip: '10.9.9.9', mac: '52:54:00:AA:BB:CC' }, '/vms/shared.qcow2');
    const vm2 = vm('vm-2', { power_state: 'stopped' }, { ip: '10.9.9.9', mac: '52:54:00:aa:bb:cc' }, '/vms/shared.qcow2');
    // node A held vm-1 and receives vm-2; node B held vm-2 and receives vm-1
    const a = new ClusterIndex();
    a.upsertVm(vm1);
    const b = new ClusterIndex();
    b.upsertVm(vm2);
    const atA = a.contentionOf(vm2);
    const atB = b.contentionOf(vm1);
    expect(atA).toEqual(atB);
    expect(atA.map((c) => [c.kind, c.key, c.vmIds, c.severity, c.vmId])).toEqual([
      ['ip', '10.9.9.9', ['vm-1', 'vm-2'], 'medium', 'vm-2'],
      ['mac', '52:54:00:aa:bb:cc', ['vm-1', 'vm-2'], 'medium', 'vm-2'],
      ['disk', '/vms/shared.qcow2', ['vm-1', 'vm-2'], 'medium', 'vm-2'],
    ]);
    expect(atA[0]!.finding).toMatchObject({
      type: 'resource_contention',
      field: 'network_config.interfaces[0].ip',
      subject: '10.9.9.9',
      otherVmIds: ['vm-1'],
    });
    expect(atA[0]!.id).toBe(conflictId('vm/vm-2', ['vm-1', 'vm-2'], 'contention:ip:10.9.9.9'));
    // the same after the arrival is indexed, and from either VM's side
    a.upsertVm(vm2);
    b.upsertVm(vm1);
    for (const x of [a.contentionOf(vm1), a.contentionOf(vm2), b.contentionOf(vm1), b.contentionOf(vm2)]) expect(x).toEqual(atA);
    // both active: high
    const running2 = vm('vm-2', {}, { ip: '10.9.9.9', mac: '52:54:00:aa:bb:cc' }, '/vms/shared.qcow2');
    expect(a.contentionOf(running2).map((c) => c.severity)).toEqual(['high', 'high', 'high']);
    // usable as a conflict on the reported VM
    const c = findingsToConflict('vm/vm-2', [ver({ 'hv-01': 1 }, vm2, { resourceId: 'vm/vm-2' })], atA.map((x) => x.finding), NOW);
    expect(c.type).toBe('resource_contention');
  });

  it('reports nothing for a VM against its own indexed state, and forgets a VM that moved away', () => {
    const idx = new ClusterIndex();
    const a = vm('vm-1', {}, { ip: '10.9.9.9' });
    idx.upsertVm(a);
    expect(idx.contentionOf(a)).toEqual([]);
    expect(idx.contentionOf(vm('vm-1', {}, { ip: '10.9.9.8' }))).toEqual([]);
    idx.upsertVm(vm('vm-1', {}, { ip: '10.9.9.8' }));
    expect(idx.contentionOf(vm('vm-2', {}, { ip: '10.9.9.9' }))).toEqual([]);
  });

  it('reports an indexed VM once another VM takes one of its keys (any kind), and nothing once it gives it back', () => {
    const idx = new ClusterIndex();
    const a = vm('vm-1', {}, { ip: '10.9.9.9', mac: '52:54:00:aa:bb:01' }, '/vms/a.qcow2');
    idx.upsertVm(a);
    idx.upsertVm(vm('vm-2', {}, { ip: '10.9.9.2', mac: '52:54:00:aa:bb:02' }, '/vms/b.qcow2'));
    expect(idx.contentionOf(a)).toEqual([]);
    for (const [taker, kind] of [
      [vm('vm-2', {}, { ip: '10.9.9.9', mac: '52:54:00:aa:bb:02' }, '/vms/b.qcow2'), 'ip'],
      [vm('vm-2', {}, { ip: '10.9.9.2', mac: '52:54:00:AA:BB:01' }, '/vms/b.qcow2'), 'mac'],
      [vm('vm-2', {}, { ip: '10.9.9.2', mac: '52:54:00:aa:bb:02' }, '/vms/a.qcow2'), 'disk'],
    ] as const) {
      idx.upsertVm(taker);
      expect(idx.contentionOf(a).map((c) => [c.kind, c.vmIds])).toEqual([[kind, ['vm-1', 'vm-2']]]);
      idx.upsertVm(vm('vm-2', {}, { ip: '10.9.9.2', mac: '52:54:00:aa:bb:02' }, '/vms/b.qcow2'));
      expect(idx.contentionOf(a)).toEqual([]);
    }
    idx.upsertVm(vm('vm-3', {}, { ip: '10.9.9.9' }));
    idx.removeVm('vm-3');
    expect(idx.contentionOf(a)).toEqual([]);
  });

  it('gives every VM the same contentions whatever order the VMs were indexed in (fast-check)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(vmArb, { selector: (v) => v.id, minLength: 2, maxLength: 6 }), fc.nat(), (vms, shift) => {
        const forward = new ClusterIndex();
        for (const v of vms) forward.upsertVm(v);
        const rotated = new ClusterIndex();
        const k = shift % vms.length;
        for (const v of [...vms.slice(k), ...vms.slice(0, k)].reverse()) rotated.upsertVm(v);
        const key = (c: { id: string }): string => c.id;
        const everything = (idx: ClusterIndex): string[] => [...new Set(vms.flatMap((v) => idx.contentionOf(v).map(key)))].sort();
        expect(everything(rotated)).toEqual(everything(forward));
        for (const v of vms) {
          expect(rotated.contentionOf(v)).toEqual(forward.contentionOf(v));
          // each contention lists exactly the VMs holding the key
          for (const c of forward.contentionOf(v)) expect(c.vmIds).toEqual(forward.vmsUsing(c.kind, c.key));
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('findingsToConflict', () => {
  const contention: Finding = {
    type: 'resource_contention',
    severity: 'high',
    field: 'network_config.interfaces[0].ip',
    subject: '10.0.0.1',
    detail: 'IP 10.0.0.1 of VM vm-123 is also assigned to vm-9',
    otherVmIds: ['vm-9'],
  };
  const capacity: Finding = {
    type: 'invariant_violation',
    severity: 'critical',
    field: 'cpu_allocation',
    subject: 'hv-01',
    detail: 'over',
    otherVmIds: ['vm-1', 'vm-9'],
  };
  const unknownHost: Finding = { type: 'semantic', severity: 'critical', field: 'host', subject: 'x', detail: 'x', otherVmIds: [] };
  const a = ver({ n1: 1 }, vmState(), { origin: 'n1' });
  const b = ver({ n2: 1 }, vmState({ memory_mb: 1 }), { origin: 'n2' });

  it('takes the type and severity of the most severe finding, deterministically', () => {
    const c = findingsToConflict('vm/vm-123', [b, a], [contention, capacity], NOW);
    expect(c).toMatchObject({ type: 'invariant_violation', severity: 'critical', resourceId: 'vm/vm-123', detectedAt: NOW });
    expect(c.fields).toEqual(['cpu_allocation', 'network_config.interfaces[0].ip']);
    expect(c.findings).toEqual([contention, capacity]);
    expect(c.complexity).toBeCloseTo(4 / 8, 12);
    expect(c.reasons).toHaveLength(4);
    expect(c.id).toBe(conflictId('vm/vm-123', [a.id, b.id], 'findings:invariant_violation'));
    expect(findingsToConflict('vm/vm-123', [a, b], [capacity, contention], NOW).id).toBe(c.id);
    // Never the id of the version conflict over the same versions.
    expect(c.id).not.toBe(conflictId('vm/vm-123', [a.id, b.id]));
    // Equal severity: invariant_violation beats semantic beats resource_contention.
    expect(findingsToConflict('vm/vm-123', [a], [unknownHost, capacity], NOW).type).toBe('invariant_violation');
    expect(findingsToConflict('vm/vm-123', [a], [contention], NOW)).toMatchObject({ type: 'resource_contention', severity: 'high' });
    expect(new ConflictDetector().findingsToConflict('vm/vm-123', [b, a], [contention, capacity], NOW)).toEqual(c);
  });

  it('refuses empty findings, no versions, and versions of another resource', () => {
    expect(codeOf(() => findingsToConflict('vm/vm-123', [a], [], NOW))).toBe('ERR_INVALID_CONFLICT_INPUT');
    expect(codeOf(() => findingsToConflict('vm/vm-123', [], [contention], NOW))).toBe('ERR_INVALID_CONFLICT_INPUT');
    expect(codeOf(() => findingsToConflict('vm/other', [a], [contention], NOW))).toBe('ERR_RESOURCE_MISMATCH');
  });
});

// ---------------------------------------------------------------------------------------------
// Model test: the incremental index against a brute-force scan of every VM, over random sequences.

const VM_IDS = ['vm-1', 'vm-2', 'vm-3', 'vm-4', 'vm-5'];
const HOSTS = ['hv-1', 'hv-2', 'hv-3'];
const IPS = ['10.0.0.1', '10.0.0.2', '10.0.0.3'];
const MACS = ['52:54:00:00:00:01', '52:54:00:00:00:02', '52:54:00:00:00:0A', '52:54:00:00:00:0a'];
const DISKS = ['/d/1', '/d/2', '/d/3'];
const POWER: readonly PowerState[] = ['running', 'paused', 'stopped', 'crashed'];

const vmArb: fc.Arbitrary<VMState> = fc
  .record({
    id: fc.constantFrom(...VM_IDS),
    host: fc.constantFrom(...HOSTS, 'hv-unknown'),
    power_state: fc.constantFrom(...POWER),
    cpu_allocation: fc.integer({ min: 0, max: 8 }),
    memory_mb: fc.constantFrom(0, 512, 1024, 4096),
    nics: fc.array(fc.record({ ip: fc.option(fc.constantFrom(...IPS), { nil: undefined }), mac: fc.option(fc.constantFrom(...MACS), { nil: undefined }) }), {
      maxLength: 2,
    }),
    disks: fc.array(fc.constantFrom(...DISKS), { maxLength: 2 }),
  })
  .map(({ nics, disks, ...rest }) =>
    vmState(
      {
        ...rest,
        network_config: {
          interfaces: nics.map((n, i) => {
            const nic: { name: string; ip?: string; mac?: string } = { name: `eth${i}` };
            if (n.ip !== undefined) nic.ip = n.ip;
            if (n.mac !== undefined) nic.mac = n.mac;
            return nic;
          }),
        },
        disk_config: disks.map((path) => ({ path, size_gb: 1 })),
      },
      rest.id,
    ),
  );

type Op =
  | { op: 'upsertVm'; vm: VMState }
  | { op: 'removeVm'; id: string }
  | { op: 'upsertHost'; host: HostRecord }
  | { op: 'removeHost'; id: string }
  | { op: 'overcommit'; o: Overcommit };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: vmArb.map((vm) => ({ op: 'upsertVm' as const, vm })), weight: 5 },
  { arbitrary: fc.constantFrom(...VM_IDS).map((id) => ({ op: 'removeVm' as const, id })), weight: 2 },
  {
    arbitrary: fc
      .record({ id: fc.constantFrom(...HOSTS), cpu: fc.integer({ min: 0, max: 16 }), mem: fc.constantFrom(0, 1024, 4096, 8192) })
      .map(({ id, cpu, mem }) => ({ op: 'upsertHost' as const, host: host(id, cpu, mem) })),
    weight: 2,
  },
  { arbitrary: fc.constantFrom(...HOSTS).map((id) => ({ op: 'removeHost' as const, id })), weight: 1 },
  {
    arbitrary: fc
      .record({ cpu: fc.constantFrom(0.5, 1, 1.5, 4), memory: fc.constantFrom(1, 1.25) })
      .map((o) => ({ op: 'overcommit' as const, o })),
    weight: 1,
  },
);

interface Model {
  vms: Map<string, VMState>;
  hosts: Map<string, HostRecord>;
  over: Overcommit;
}

type Row = [string, string, string, string, string];

function rows(findings: readonly Finding[]): Row[] {
  return findings.map((f): Row => [f.type, f.severity, f.field, f.subject, f.otherVmIds.join(',')]).sort();
}

/** The documented rules, by scanning every VM. */
function bruteCheck(m: Model, cand: VMState): Row[] {
  const out: Finding[] = [];
  const others = [...m.vms.values()].filter((v) => v.id !== cand.id);
  const active = isActive(cand.power_state);
  const push = (type: Finding['type'], severity: Finding['severity'], field: string, subject: string, ids: string[]): void => {
    out.push({ type, severity, field, subject, detail: '', otherVmIds: ids.sort() });
  };
  const contend = (field: string, subject: string, holders: VMState[]): void => {
    if (holders.length === 0) return;
    const sev = active && holders.some((h) => isActive(h.power_state)) ? 'high' : 'medium';
    push(
      'resource_contention',
      sev,
      field,
      subject,
      holders.map((h) => h.id),
    );
  };
  cand.network_config.interfaces.forEach((nic, i) => {
    if (nic.ip !== undefined) {
      contend(`network_config.interfaces[${i}].ip`, nic.ip, others.filter((o) => o.network_config.interfaces.some((x) => x.ip === nic.ip)));
    }
    if (nic.mac !== undefined) {
      const mac = nic.mac.toLowerCase();
      contend(
        `network_config.interfaces[${i}].mac`,
        mac,
        others.filter((o) => o.network_config.interfaces.some((x) => x.mac?.toLowerCase() === mac)),
      );
    }
  });
  cand.disk_config.forEach((d, i) => {
    contend(`disk_config[${i}].path`, d.path, others.filter((o) => o.disk_config.some((x) => x.path === d.path)));
  });
  // With no host record known at all, capacity and placement are not checked (nothing to check against).
  if (active && m.hosts.size > 0) {
    const rec = m.hosts.get(cand.host);
    const activeOthers = others.filter((o) => isActive(o.power_state));
    if (rec) {
      const onHost = activeOthers.filter((o) => o.host === cand.host);
      const cpu = onHost.reduce((s, o) => s + o.cpu_allocation, 0) + cand.cpu_allocation;
      const mem = onHost.reduce((s, o) => s + o.memory_mb, 0) + cand.memory_mb;
      const ids = onHost.map((o) => o.id);
      // a capacity of 0 is "not declared": not checked
      if (rec.capacity.cpu > 0 && cpu > rec.capacity.cpu * m.over.cpu) push('invariant_violation', 'critical', 'cpu_allocation', cand.host, [...ids]);
      if (rec.capacity.memory_mb > 0 && mem > rec.capacity.memory_mb * m.over.memory) push('invariant_violation', 'critical', 'memory_mb', cand.host, [...ids]);
    }
    // the cluster, per dimension: the hosts that declared it, and the usage not on hosts that did not
    const hosts = [...m.hosts.values()];
    const all = [...activeOthers, cand];
    const undeclared = (dim: 'cpu' | 'memory_mb', v: VMState): boolean => m.hosts.get(v.host)?.capacity[dim] === 0;
    const declaredCpu = hosts.filter((h) => h.capacity.cpu > 0);
    const declaredMem = hosts.filter((h) => h.capacity.memory_mb > 0);
    const cpu = all.filter((v) => !undeclared('cpu', v)).reduce((s, o) => s + o.cpu_allocation, 0);
    const mem = all.filter((v) => !undeclared('memory_mb', v)).reduce((s, o) => s + o.memory_mb, 0);
    const capCpu = declaredCpu.reduce((s, h) => s + h.capacity.cpu, 0);
    const capMem = declaredMem.reduce((s, h) => s + h.capacity.memory_mb, 0);
    if (declaredCpu.length > 0 && cpu > capCpu * m.over.cpu) push('invariant_violation', 'critical', 'cpu_allocation', 'cluster', []);
    if (declaredMem.length > 0 && mem > capMem * m.over.memory) push('invariant_violation', 'critical', 'memory_mb', 'cluster', []);
    if (!rec) push('semantic', 'high', 'host', cand.host, []);
  }
  return rows(out);
}

function assertSameAsModel(idx: ClusterIndex, m: Model, candidates: readonly VMState[]): void {
  expect(idx.vmCount).toBe(m.vms.size);
  expect(idx.hostCount).toBe(m.hosts.size);
  const all = [...m.vms.values()];
  const act = all.filter((v) => isActive(v.power_state));
  for (const h of [...HOSTS, 'hv-unknown']) {
    const on = act.filter((v) => v.host === h);
    expect(idx.hostUsage(h)).toEqual({
      cpu: on.reduce((s, v) => s + v.cpu_allocation, 0),
      memory_mb: on.reduce((s, v) => s + v.memory_mb, 0),
      vms: on.length,
    });
  }
  const hosts = [...m.hosts.values()];
  expect(idx.clusterUsage()).toEqual({
    cpu: act.reduce((s, v) => s + v.cpu_allocation, 0),
    memory_mb: act.reduce((s, v) => s + v.memory_mb, 0),
    vms: act.length,
    capacityCpu: hosts.reduce((s, h) => s + h.capacity.cpu, 0),
    capacityMemoryMb: hosts.reduce((s, h) => s + h.capacity.memory_mb, 0),
  });
  const holders = (pred: (v: VMState) => boolean): string[] =>
    all
      .filter(pred)
      .map((v) => v.id)
      .sort();
  for (const ip of IPS) expect(idx.vmsUsing('ip', ip)).toEqual(holders((v) => v.network_config.interfaces.some((n) => n.ip === ip)));
  for (const mac of MACS) {
    expect(idx.vmsUsing('mac', mac)).toEqual(
      holders((v) => v.network_config.interfaces.some((n) => n.mac?.toLowerCase() === mac.toLowerCase())),
    );
  }
  for (const d of DISKS) expect(idx.vmsUsing('disk', d)).toEqual(holders((v) => v.disk_config.some((x) => x.path === d)));
  for (const c of [...candidates, ...all]) expect(rows(idx.check(c))).toEqual(bruteCheck(m, c));
}

describe('ClusterIndex model test', () => {
  it('matches a brute-force scan after every upsert/remove (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(opArb, vmArb), { minLength: 1, maxLength: 40 }), (steps) => {
        const idx = new ClusterIndex();
        const m: Model = { vms: new Map(), hosts: new Map(), over: { cpu: 1, memory: 1 } };
        for (const [op, candidate] of steps) {
          switch (op.op) {
            case 'upsertVm':
              idx.upsertVm(op.vm);
              m.vms.set(op.vm.id, op.vm);
              break;
            case 'removeVm':
              expect(idx.removeVm(op.id)).toBe(m.vms.delete(op.id));
              break;
            case 'upsertHost':
              idx.upsertHost(op.host);
              m.hosts.set(op.host.id, op.host);
              break;
            case 'removeHost':
              expect(idx.removeHost(op.id)).toBe(m.hosts.delete(op.id));
              break;
            case 'overcommit':
              idx.setOvercommit(op.o);
              m.over = op.o;
              break;
          }
          assertSameAsModel(idx, m, [candidate]);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('ClusterIndex at scale', () => {
  it('keeps exact IP/MAC/disk holders through thousands of upserts and removals (table growth, deleted slots)', () => {
    const idx = new ClusterIndex();
    const model = new Map<string, VMState>();
    let seed = 42;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    // Keys from pools small enough that many VMs share some of them, some MACs in upper case.
    const make = (id: string): VMState => {
      const nics = Array.from({ length: rnd(3) }, (_, i) => ({
        name: `eth${i}`,
        ip: `10.${rnd(4)}.${rnd(8)}.${rnd(40)}`,
        mac: `52:54:00:0${rnd(3)}:${rnd(2) === 0 ? 'AB' : 'ab'}:${(rnd(200) + 16).toString(16)}`,
      }));
      const disks = Array.from({ length: rnd(3) }, () => ({ path: `/vms/d-${rnd(3000)}.qcow2`, size_gb: 1 }));
      return vmState({ power_state: rnd(3) === 0 ? 'stopped' : 'running', network_config: { interfaces: nics }, disk_config: disks }, id);
    };
    const holders = (pred: (v: VMState) => boolean): string[] => [...model.values()].filter(pred).map((v) => v.id).sort();
    const verify = (): void => {
      expect(idx.vmCount).toBe(model.size);
      const seen = new Set<string>();
      for (const v of model.values()) {
        for (const nic of v.network_config.interfaces) {
          if (nic.ip !== undefined && !seen.has(`ip ${nic.ip}`)) {
            seen.add(`ip ${nic.ip}`);
            expect(idx.vmsUsing('ip', nic.ip)).toEqual(holders((o) => o.network_config.interfaces.some((x) => x.ip === nic.ip)));
          }
          const mac = nic.mac?.toLowerCase();
          if (mac !== undefined && !seen.has(`mac ${mac}`)) {
            seen.add(`mac ${mac}`);
            expect(idx.vmsUsing('mac', mac.toUpperCase())).toEqual(holders((o) => o.network_config.interfaces.some((x) => x.mac?.toLowerCase() === mac)));
          }
        }
        for (const d of v.disk_config) {
          if (!seen.has(`disk ${d.path}`)) {
            seen.add(`disk ${d.path}`);
            expect(idx.vmsUsing('disk', d.path)).toEqual(holders((o) => o.disk_config.some((x) => x.path === d.path)));
          }
        }
      }
      for (const gone of ['10.9.9.9', '/vms/none.qcow2']) expect(idx.vmsUsing(gone.startsWith('/') ? 'disk' : 'ip', gone)).toEqual([]);
    };
    for (let step = 0; step < 6000; step++) {
      const id = `vm-${rnd(1500)}`;
      if (rnd(5) === 0) {
        expect(idx.removeVm(id)).toBe(model.delete(id));
      } else {
        const v = rnd(4) === 0 && model.has(id) ? { ...model.get(id)!, cpu_allocation: rnd(8) } : make(id);
        idx.upsertVm(v);
        model.set(id, v);
      }
      if (step % 1500 === 1499) verify();
    }
    // Remove almost everything (deleted slots), then refill: the tables reuse and drop deleted slots.
    for (const id of [...model.keys()]) if (rnd(10) !== 0) {
      idx.removeVm(id);
      model.delete(id);
    }
    verify();
    for (let i = 0; i < 2000; i++) {
      const v = make(`vm-new-${i}`);
      idx.upsertVm(v);
      model.set(v.id, v);
    }
    verify();
  });
});

describe('KeyTable (the IP/MAC/disk holder table)', () => {
  it('keeps every key apart however badly the keys hash (collisions, deleted slots, regrowth)', () => {
    for (const hash of [(): number => 6, (k: string): number => k.length, (k: string): number => k.charCodeAt(k.length - 1) * 31]) {
      const keysOf = new Map<string, Set<string>>();
      const table = new KeyTable(hash);
      const holdersOf = (key: string): string[] => [...keysOf].filter(([, ks]) => ks.has(key)).map(([id]) => id).sort();
      const asList = (h: string | Set<string> | undefined): string[] => (h === undefined ? [] : typeof h === 'string' ? [h] : [...h].sort());
      /** Keys that two or more VMs hold (what `shared` counts). */
      const sharedCount = (): number => Array.from({ length: 90 }, (_, k) => holdersOf(`k${k}`).length).filter((n) => n >= 2).length;
      let seed = 7;
      const rnd = (n: number): number => {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        return (seed >>> 8) % n;
      };
      for (let step = 0; step < 3000; step++) {
        const id = `vm-${rnd(60)}`;
        const key = `k${rnd(90)}`;
        const ks = keysOf.get(id) ?? new Set<string>();
        keysOf.set(id, ks);
        if (rnd(3) === 0) {
          table.remove(key, id);
          ks.delete(key);
        } else if (!ks.has(key)) {
          ks.add(key);
          table.add(key, id);
        }
        if (step % 300 === 0) for (let k = 0; k < 90; k++) expect(asList(table.get(`k${k}`))).toEqual(holdersOf(`k${k}`));
        if (step % 50 === 0) expect(table.shared).toBe(sharedCount());
      }
      for (let k = 0; k < 90; k++) expect(asList(table.get(`k${k}`))).toEqual(holdersOf(`k${k}`));
      expect(table.shared).toBe(sharedCount());
    }
  });
});
