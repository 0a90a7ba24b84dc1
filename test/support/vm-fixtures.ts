/**
 * Realistic VM states and conflicts shared by the benchmarks (detect.vm, resolve.vm, resolve.vm.fields)
 * and the golden test of the VM field rules. Everything is driven by a seeded PRNG, so every run builds
 * the same inputs; the golden test hashes its generated inputs, so a change here that moves them is
 * reported there as such.
 */
import { PolicyBuilder } from '../../src/core/policy/builder.js';
import { all, any, field, isSeverity, isType } from '../../src/core/policy/predicates.js';
import type { VMState } from '../../src/core/vm/state.js';

/** mulberry32: a deterministic PRNG in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `hv-01` … `hv-16`: the host node id of a 1-based number. */
export function hostId(n: number): string {
  return `hv-${String(n).padStart(2, '0')}`;
}

/**
 * A complete, realistic VM state: 2 NICs (with VLANs) and 2 disks (with a bus), labels; id
 * `vm-<idBase + i>`. Draws two numbers from `rnd` (data disk size, snapshot).
 */
export function realisticVm(i: number, rnd: () => number, idBase: number): VMState {
  const id = `vm-${idBase + i}`;
  const hex = (n: number): string => (n % 256).toString(16).padStart(2, '0');
  return {
    id,
    host: hostId(1 + (i % 16)),
    power_state: 'running',
    cpu_allocation: [2, 4, 8, 16][i % 4]!,
    memory_mb: [4096, 8192, 16384][i % 3]!,
    network_config: {
      interfaces: [
        { name: 'eth0', mac: `52:54:00:${hex(i >> 8)}:${hex(i)}:01`, ip: `10.0.${(i >> 8) % 256}.${i % 256}`, vlan: 100 },
        { name: 'eth1', mac: `52:54:00:${hex(i >> 8)}:${hex(i)}:02`, ip: `192.168.${(i >> 8) % 256}.${i % 256}`, vlan: 200 },
      ],
    },
    disk_config: [
      { path: `/var/lib/vms/${id}.qcow2`, size_gb: 40, bus: 'virtio' },
      { path: `/var/lib/vms/${id}-data.qcow2`, size_gb: 100 + Math.floor(rnd() * 400), bus: 'virtio' },
    ],
    snapshot_id: `snap-${Math.floor(rnd() * 100)}`,
    migration_status: 'none',
    labels: { tier: 'web', owner: 'team-a' },
  };
}

/**
 * One side's edit of a {@link realisticVm}: 1–3 changes as operators and schedulers make them (memory,
 * vCPUs, snapshot, an IP, a disk size, the power state, the owner label; with `migrations`, also the
 * migration status). Returns a copy.
 */
export function editVm(vm: VMState, rnd: () => number, migrations = false): VMState {
  const next = structuredClone(vm);
  const edits = 1 + Math.floor(rnd() * 3);
  for (let k = 0; k < edits; k++) {
    const kind = Math.floor(rnd() * (migrations ? 8 : 7));
    // Without migrations, 6 is the label edit (the default).
    switch (kind === 6 && !migrations ? 7 : kind) {
      case 0:
        next.memory_mb *= 2;
        break;
      case 1:
        next.cpu_allocation += 2;
        break;
      case 2:
        next.snapshot_id = `snap-${100 + Math.floor(rnd() * 100)}`;
        break;
      case 3:
        next.network_config.interfaces[1]!.ip = `172.16.0.${Math.floor(rnd() * 250)}`;
        break;
      case 4:
        next.disk_config[1]!.size_gb += 50;
        break;
      case 5:
        next.power_state = rnd() < 0.5 ? 'stopped' : 'paused';
        break;
      case 6:
        next.migration_status = rnd() < 0.5 ? 'pending' : 'migrating';
        break;
      default:
        (next.labels as Record<string, string>).owner = 'team-b';
    }
  }
  return next;
}

/**
 * A small VM state whose fields are drawn from `rand` (one NIC, one disk): two of them differ in most
 * fields (the `resolve.vm.fields` pairs).
 */
export function smallVm(rand: () => number, i: number): VMState {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  return {
    id: `vm-${i}`,
    host: pick(['hv-01', 'hv-02', 'hv-03']),
    power_state: pick(['running', 'stopped', 'paused'] as const),
    cpu_allocation: pick([2, 4, 8]),
    memory_mb: pick([4096, 8192, 16384]),
    network_config: { interfaces: [{ name: 'eth0', mac: '52:54:00:12:34:56', ip: pick(['10.0.1.100', '10.0.1.101']) }] },
    disk_config: [{ path: `/var/lib/vms/vm-${i}.qcow2`, size_gb: pick([20, 40]) }],
    snapshot_id: pick(['snap-1', 'snap-2', null]),
    migration_status: pick(['none', 'pending'] as const),
    labels: { tier: pick(['gold', 'silver']) },
  };
}

/**
 * The VM policy of `resolve.vm`: production's escalation and a rule (evaluated, not matching on
 * realistic conflicts), semantic merge (the VM field rules) by default, power_state by node priority.
 */
export const vmPolicy = new PolicyBuilder('vm')
  .withDefaultStrategy('semantic_merge')
  .withFieldStrategy('power_state', 'highest_priority')
  .withEscalation('critical_conflicts', any(isSeverity('critical'), isType('invariant_violation')), 'manual', 100)
  .withRule('contention_by_vote', all(isType('resource_contention'), field('network_config')), 'consensus_vote', 60)
  .withMaxRetries(3)
  .withManualThreshold(0.9)
  .withTimeout('30s')
  .withFallback('last_write_wins')
  .build();
