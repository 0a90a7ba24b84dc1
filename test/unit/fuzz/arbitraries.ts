/**
 * Valid inputs for the fuzz suites: versions, gossip batches, VM states. Mutations of these (see
 * support.ts) are the hostile inputs.
 *
 * Node ids come from a small pool on purpose: node ids are interned for the life of the process
 * (src/core/clock/node-ids.ts), so random names would fill the intern table.
 */
import fc from 'fast-check';
import { VectorClock } from '../../../src/core/clock/vector-clock.js';
import { createVersion, type Version } from '../../../src/core/conflict/version.js';
import { MAX_LOGICAL } from '../../../src/core/clock/hlc.js';

export const NODE_POOL = ['n1', 'n2', 'n3', 'hv-01', 'hv-02', 'h.3', 'x_y', 'Z9'] as const;
export const nodeIdArb: fc.Arbitrary<string> = fc.constantFrom(...NODE_POOL);

/**
 * VM states: every combination of a few ids, hosts, power states, NIC and disk sets (built without
 * randomness, so drawing one is cheap), with a random CPU count and memory size.
 */
const VM_POOL: ReadonlyArray<Record<string, unknown>> = (() => {
  const out: Array<Record<string, unknown>> = [];
  const nics = [[], [{ name: 'eth0', mac: '52:54:00:12:34:56', ip: '10.0.0.1' }], [{ name: 'eth0' }, { name: 'eth1', mac: '52:54:00:AB:CD:EF' }]];
  const disks = [[], [{ path: '/var/lib/vms/a.qcow2', size_gb: 40 }], [{ path: '/dev/vg/b', size_gb: 0.5, bus: 'virtio' }]];
  for (const id of ['vm-1', 'web.01', 'db_7']) {
    for (const host of ['n1', 'hv-02', 'x_y']) {
      for (const power_state of ['running', 'paused', 'stopped', 'crashed']) {
        for (let k = 0; k < 3; k++) {
          out.push({
            id,
            host,
            power_state,
            cpu_allocation: 4,
            memory_mb: 8192,
            network_config: { interfaces: nics[k]! },
            disk_config: disks[(k + out.length) % 3]!,
            snapshot_id: k === 0 ? null : `snap-${k}`,
            migration_status: ['none', 'pending', 'migrating', 'completed', 'failed'][out.length % 5]!,
            ...(k === 2 ? { labels: { tier: 'gold' }, note: 'é𝄞' } : {}),
          });
        }
      }
    }
  }
  return out;
})();

export const vmStateArb: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(fc.constantFrom(...VM_POOL), fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 1 << 20 }))
  .map(([base, cpu, mem]) => ({ ...base, cpu_allocation: cpu, memory_mb: mem }));

/** Edge-case JSON data: unicode, empty containers, nesting up to 5 levels, big and odd numbers. */
const JSON_POOL: readonly unknown[] = [
  null,
  0,
  -1,
  1.5e-300,
  Number.MAX_SAFE_INTEGER,
  '',
  'é𝄞\u0000"\\',
  [],
  {},
  [[[[[1]]]]],
  { a: { b: { c: { d: { e: 'deep' } } } } },
  { z: 1, a: 2, m: [3, { y: null }] },
  { '': 'empty key', 'key with space': true },
  Array.from({ length: 50 }, (_, i) => i),
];

export const resourceIdArb: fc.Arbitrary<string> = fc.constantFrom('vm/vm-1', 'vm/vm-2', 'host/n1', 'crdt/votes', 'vm/web.01', 'x:y/z-1');

export const clockArb: fc.Arbitrary<VectorClock> = fc
  .dictionary(nodeIdArb, fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 9 }) }, { weight: 1, arbitrary: fc.constant(Number.MAX_SAFE_INTEGER) }), {
    maxKeys: 4,
    noNullPrototype: true,
  })
  .map((r) => VectorClock.from(r));

export const hlcArb = fc.record({ wall: fc.integer({ min: 0, max: 2 ** 47 }), logical: fc.integer({ min: 0, max: MAX_LOGICAL }) });

export const dataArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: vmStateArb },
  { weight: 3, arbitrary: fc.constantFrom(...JSON_POOL) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);

export const versionArb: fc.Arbitrary<Version> = fc
  .record({ resourceId: resourceIdArb, clock: clockArb, hlc: hlcArb, origin: nodeIdArb, data: dataArb, deleted: fc.boolean() })
  .map((init) => createVersion(init));

/** A gossip batch: sender and 1-4 versions. */
export const batchArb = fc.record({ from: nodeIdArb, versions: fc.array(versionArb, { minLength: 1, maxLength: 4 }) });
