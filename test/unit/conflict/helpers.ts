import fc from 'fast-check';
import { VectorClock } from '../../../src/core/clock/vector-clock.js';
import { createVersion, type Version } from '../../../src/core/conflict/version.js';
import type { PowerState, VMState } from '../../../src/core/vm/state.js';

export const NOW = 1_732_800_000_000;

/** A realistic VM state (2 NICs, 2 disks) with overrides. */
export function vmState(overrides: Partial<VMState> = {}, id = 'vm-123'): VMState {
  return {
    id,
    host: 'hv-01',
    power_state: 'running',
    cpu_allocation: 4,
    memory_mb: 8192,
    network_config: {
      interfaces: [
        { name: 'eth0', mac: '52:54:00:12:34:56', ip: '10.0.1.100' },
        { name: 'eth1', mac: '52:54:00:12:34:57', ip: '192.168.7.100' },
      ],
    },
    disk_config: [
      { path: `/var/lib/vms/${id}.qcow2`, size_gb: 40 },
      { path: `/var/lib/vms/${id}-data.qcow2`, size_gb: 200 },
    ],
    snapshot_id: 'snap-7',
    migration_status: 'none',
    ...overrides,
  };
}

export interface VerOpts {
  readonly resourceId?: string;
  readonly wall?: number;
  readonly logical?: number;
  readonly origin?: string;
  readonly deleted?: boolean;
}

/** A version of `vm/vm-123` (or `opts.resourceId`) with the given clock and data. */
export function ver(clock: Record<string, number>, data: unknown, opts: VerOpts = {}): Version {
  return createVersion({
    resourceId: opts.resourceId ?? 'vm/vm-123',
    clock: VectorClock.from(clock),
    hlc: { wall: opts.wall ?? NOW, logical: opts.logical ?? 0 },
    origin: opts.origin ?? 'n1',
    data,
    deleted: opts.deleted ?? false,
  });
}

export const NODES = ['n1', 'n2', 'n3', 'n4', 'n5'] as const;

/** Small clocks over five nodes, so that every ordering (before, after, equal, concurrent) is common. */
export const clockArb: fc.Arbitrary<Record<string, number>> = fc
  .tuple(...NODES.map(() => fc.integer({ min: 0, max: 2 })))
  .map((counters) => Object.fromEntries(NODES.map((n, i) => [n, counters[i]!])));

const POWER: readonly PowerState[] = ['running', 'paused', 'stopped', 'crashed'];

/** Mutations of the realistic VM: each picks one field and a value from a small pool. */
export const vmArb: fc.Arbitrary<VMState> = fc
  .record({
    host: fc.constantFrom('hv-01', 'hv-02', 'hv-03'),
    power_state: fc.constantFrom(...POWER),
    cpu_allocation: fc.constantFrom(2, 4, 8),
    memory_mb: fc.constantFrom(4096, 8192),
    snapshot_id: fc.constantFrom('snap-7', 'snap-8', null),
    migration_status: fc.constantFrom('none' as const, 'migrating' as const),
    ip: fc.constantFrom('10.0.1.100', '10.0.1.101'),
    size: fc.constantFrom(40, 80),
    extra: fc.option(fc.record({ owner: fc.constantFrom('a', 'b'), tags: fc.array(fc.constantFrom('x', 'y'), { maxLength: 2 }) }), {
      nil: undefined,
    }),
  })
  .map(({ ip, size, extra, ...rest }) => {
    const base = vmState(rest);
    base.network_config.interfaces[0]!.ip = ip;
    base.disk_config[0]!.size_gb = size;
    if (extra) base.labels = extra;
    return base;
  });

/** A version of vm/vm-123: random clock, hlc, origin, VM data, sometimes a tombstone. */
export const versionArb: fc.Arbitrary<Version> = fc
  .record({
    clock: clockArb,
    data: vmArb,
    wall: fc.integer({ min: NOW, max: NOW + 3 }),
    origin: fc.constantFrom(...NODES),
    deleted: fc.integer({ min: 0, max: 4 }).map((x) => x === 0), // one in five is a tombstone
  })
  .map(({ clock, data, wall, origin, deleted }) => ver(clock, data, { wall, origin, deleted }));
