/**
 * A replica on a real LevelDB directory, wired as the agent wires it for one node (production
 * policy, SystemClock, a do-nothing one-node transport), plus realistic VM states. Shared by the
 * crash-safety test, its child writer (crash-writer.ts) and the store benchmarks.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CryptoRandom, SystemClock } from '../../src/adapters/clock/system-clock.js';
import { NoopHypervisor } from '../../src/adapters/hypervisor/fake-hypervisor.js';
import { LevelStore } from '../../src/adapters/level/level-store.js';
import { MemoryNetwork } from '../../src/adapters/memory/memory-network.js';
import { policyPresets } from '../../src/core/policy/presets.js';
import type { VMState } from '../../src/core/vm/state.js';
import { Replica } from '../../src/replica/replica.js';
import { createResolver } from '../../src/replica/resolver.js';

export interface LevelReplicaInit {
  readonly dir: string;
  readonly nodeId?: string;
  /** LevelStore group commit (default on). */
  readonly groupCommit?: boolean;
}

export interface LevelReplica {
  readonly store: LevelStore;
  readonly replica: Replica;
  /** Stop the replica (awaiting its durable writes), cancel its timers, close the store. */
  close(): Promise<void>;
}

/** Open the LevelDB directory and start a replica on it (loading everything stored). */
export async function openLevelReplica(init: LevelReplicaInit): Promise<LevelReplica> {
  const nodeId = init.nodeId ?? 'n1';
  const clock = new SystemClock();
  const store = new LevelStore({ dir: init.dir, ...(init.groupCommit !== undefined ? { groupCommit: init.groupCommit } : {}) });
  const transport = new MemoryNetwork({ clock, random: new CryptoRandom() }).join(nodeId);
  const replica = new Replica(
    { nodeId },
    {
      store,
      transport,
      clock,
      hypervisor: new NoopHypervisor(),
      resolver: createResolver({ policy: () => policyPresets.production }),
    },
  );
  await store.open();
  try {
    await replica.start();
  } catch (err) {
    await store.close();
    throw err;
  }
  return {
    store,
    replica,
    async close() {
      await replica.stop();
      clock.clearAll();
      await store.close();
    },
  };
}

/** A fresh directory under the system temp dir; the caller removes it. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `dwcp-${prefix}-`));
}

const POWER = ['running', 'running', 'running', 'stopped', 'paused'] as const;

/**
 * A complete, valid VM state (2 NICs, 2 disks, labels: about 600 bytes of JSON) for VM number `n`
 * at revision `rev`; successive revisions change a few fields as a scheduler or operator would. Its
 * IPs, MACs and disk paths are its own (for n < 2^20): no contention between fixture VMs.
 */
export function vmState(n: number, rev = 0): VMState {
  const id = `vm-${n}`;
  const hex = (x: number): string => (x & 0xff).toString(16).padStart(2, '0');
  return {
    id,
    host: `hv-${String(1 + (n % 32)).padStart(2, '0')}`,
    power_state: POWER[rev % POWER.length]!,
    cpu_allocation: [2, 4, 8, 16][(n + rev) % 4]!,
    memory_mb: [4096, 8192, 16384][(n + rev) % 3]!,
    network_config: {
      interfaces: [
        { name: 'eth0', mac: `52:54:00:${hex(n >> 16)}:${hex(n >> 8)}:${hex(n)}`, ip: `10.${(n >> 16) & 0xff}.${(n >> 8) & 0xff}.${n & 0xff}`, vlan: 100 },
        { name: 'eth1', mac: `52:54:01:${hex(n >> 16)}:${hex(n >> 8)}:${hex(n)}`, ip: `172.${16 + ((n >> 16) & 0x0f)}.${(n >> 8) & 0xff}.${n & 0xff}`, vlan: 200 },
      ],
    },
    disk_config: [
      { path: `/var/lib/vms/${id}.qcow2`, size_gb: 40, bus: 'virtio' },
      { path: `/var/lib/vms/${id}-data.qcow2`, size_gb: 100 + 10 * (rev % 50), bus: 'virtio' },
    ],
    snapshot_id: `snap-${rev}`,
    migration_status: 'none',
    labels: { tier: ['web', 'db', 'cache'][n % 3]!, owner: `team-${n % 7}`, revision: String(rev) },
  };
}
