/**
 * What the network benchmarks' parent (network.bench.ts through net-cluster.ts) and its node
 * processes (net-node.ts) share: the start options of a node, the IPC message shapes, the wall
 * clock every process reads, and the realistic VM states the writers issue.
 */
import { readFileSync } from 'node:fs';

/** How a node process is composed. */
export type NodeMode =
  /** LevelStore + libp2p transport + Replica (ReplicaOptions set from `flushMs`/`maxBatch`): gossip runs. */
  | 'replica'
  /** The full Agent (`new Agent(parseConfig(yaml), {faultInjection: true})`): consensus and convergence runs. */
  | 'agent';

export interface NodeInit {
  readonly mode: NodeMode;
  readonly nodeId: string;
  /** The node's own data directory (created; removed by the parent). */
  readonly dir: string;
  readonly pskFile: string;
  readonly cluster: string;
  /** replica mode: ReplicaOptions.gossipFlushMs / gossipMaxBatch (undefined: the product's defaults). */
  readonly flushMs?: number;
  readonly maxBatch?: number;
  /** agent mode: cluster.voters, timing.heartbeat (ms), timing.antiEntropyInterval (ms). */
  readonly voters?: readonly string[];
  readonly heartbeatMs?: number;
  readonly antiEntropyMs?: number;
}

/** Parent → node. */
export interface Command {
  readonly id: number;
  readonly cmd: string;
  readonly args?: Record<string, unknown>;
}

/** Node → parent: a reply to a command, or the one-off `ready` announcement. */
export type Reply =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string }
  | { readonly event: 'ready'; readonly nodeId: string; readonly addrs: readonly string[]; readonly startMs: number }
  | { readonly event: 'fatal'; readonly error: string };

/**
 * Wall time in ms with sub-millisecond precision, comparable between processes of one machine
 * (each process's `performance.timeOrigin` is the wall clock at its start).
 */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

const octet = (n: number): string => (n % 256).toString(16).padStart(2, '0');

/**
 * A realistic VM state of about 500 bytes of JSON (2 NICs, 2 disks, labels). `rev` changes a few
 * fields the way schedulers and operators do; `seq` is carried in a label so that receivers can tell
 * which update they applied.
 */
export function benchVm(prefix: string, index: number, rev: number, seq: number): Record<string, unknown> {
  const id = `${prefix}${index}`;
  return {
    id,
    host: `host-${String(1 + (index % 32)).padStart(2, '0')}`,
    power_state: 'running',
    cpu_allocation: [2, 4, 8, 16][(index + rev) % 4],
    memory_mb: [4096, 8192, 16384][(index + rev) % 3],
    network_config: {
      interfaces: [
        { name: 'eth0', mac: `52:54:00:${octet(index >> 8)}:${octet(index)}:01`, ip: `10.${(index >> 16) % 256}.${(index >> 8) % 256}.${index % 256}`, vlan: 100 },
        { name: 'eth1', mac: `52:54:00:${octet(index >> 8)}:${octet(index)}:02`, ip: `192.168.${(index >> 8) % 256}.${index % 256}`, vlan: 200 },
      ],
    },
    disk_config: [
      { path: `/var/lib/vms/${id}.qcow2`, size_gb: 40, bus: 'virtio' },
      { path: `/var/lib/vms/${id}-data.qcow2`, size_gb: 100 + 50 * (rev % 8), bus: 'virtio' },
    ],
    snapshot_id: `snap-${rev}`,
    migration_status: 'none',
    labels: { tier: index % 3 === 0 ? 'db' : 'web', owner: `team-${index % 7}`, seq: String(seq) },
  };
}

/** CPU time of the main (JavaScript) thread alone, from /proc (10 ms ticks); NaN where unavailable. */
export function mainThreadCpuMs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, in USER_HZ (100) ticks
  } catch {
    return Number.NaN;
  }
}
