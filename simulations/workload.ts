/**
 * The client workload: what operators and HA managers ask of the cluster during a run.
 *
 * - At the start every host announces its record (`host/<id>`) and creates its share of the VMs
 *   (VM i is placed on node i mod n), running.
 * - Then writes arrive as a Poisson process at `writesPerSecond` (virtual), each on a random node that
 *   is up and not paused, against that node's current view (no context: the write supersedes what the
 *   node has): resizes, snapshots, power changes (`powerShare`), deletes (`deleteShare`; the next write
 *   recreates the VM).
 * - A `conflictingShare` of them are concurrent pairs instead: the same VM written on two nodes at the
 *   same moment, on different sides of the current partition when there is one.
 * - At each partition, `splitBrainAttempts` VMs are failed over by an "HA manager" on the other side
 *   of the cut: it starts the VM on its own host (through its lease when leases are on) and writes it
 *   running there, retrying every 2 s until it succeeds or the partition heals. That is the classic
 *   split-brain attempt: the same VM started on two hosts on both sides of a partition.
 *
 * Every acknowledged write goes to the history.
 */
import type { Version } from '../src/core/conflict/version.js';
import { compareLww } from '../src/core/resolve/index.js';
import type { VMState } from '../src/core/vm/state.js';
import { versionToJSON } from '../src/core/conflict/version.js';
import type { AckedWrite, History } from './history.js';
import type { RandomStreams } from './random.js';
import type { Scheduler } from './scheduler.js';
import type { WorkloadSpec } from './scenario.js';
import type { SeededRandom } from '../src/adapters/memory/seeded-random.js';
import type { SimNode } from './sim-node.js';

export interface WorkloadEnv {
  /** Called when an HA manager started a VM on its host (for the timeline). */
  readonly onFailover?: (node: string, vmId: string) => void;
  readonly scheduler: Scheduler;
  readonly streams: RandomStreams;
  readonly history: History;
  readonly nodes: readonly SimNode[];
  readonly spec: WorkloadSpec;
  /** Groups of mutually reachable nodes right now (one group when the network is whole). */
  readonly groups: () => readonly (readonly string[])[];
  /** Writes stop at this virtual time. */
  readonly endMs: number;
}

export interface WorkloadStats {
  writesAttempted: number;
  writesAcknowledged: number;
  writesFailed: number;
  conflictingPairs: number;
  failoverAttempts: number;
  failoversDone: number;
}

const FAILOVER_RETRY_MS = 2_000;

export function vmName(i: number): string {
  return `vm-${String(i + 1).padStart(4, '0')}`;
}

/** The initial state of VM i on `host`. Every VM has its own MAC, IP and disk (no contention by design). */
export function initialVm(i: number, host: string): VMState {
  const id = vmName(i);
  const b = (n: number): string => n.toString(16).padStart(2, '0');
  return {
    id,
    host,
    power_state: 'running',
    cpu_allocation: 2,
    memory_mb: 4096,
    network_config: { interfaces: [{ name: 'eth0', mac: `52:54:00:${b((i >> 16) & 255)}:${b((i >> 8) & 255)}:${b(i & 255)}`, ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` }] },
    disk_config: [{ path: `/var/lib/vms/${id}.qcow2`, size_gb: 20 }],
    snapshot_id: null,
    migration_status: 'none',
  };
}

export class Workload {
  readonly stats: WorkloadStats = { writesAttempted: 0, writesAcknowledged: 0, writesFailed: 0, conflictingPairs: 0, failoverAttempts: 0, failoversDone: 0 };
  private readonly random: SeededRandom;
  private readonly home: string[];
  private snapCounter = 0;
  /** Bumped at every heal: failover retries of an earlier partition stop. */
  private epoch = 0;

  constructor(private readonly env: WorkloadEnv) {
    this.random = env.streams.get('workload');
    const ids = env.nodes.map((n) => n.id);
    this.home = Array.from({ length: env.spec.vms }, (_, i) => ids[i % ids.length]!);
  }

  /** Create the hosts and VMs now, and start the write process. */
  start(): void {
    const { nodes, spec } = this.env;
    const perHost = Math.max(1, Math.ceil(spec.vms / Math.max(1, nodes.length)));
    for (const n of nodes) {
      const host = { id: n.id, capacity: { cpu: perHost * 8 * 4, memory_mb: perHost * 16_384 * 4 }, labels: { rack: `r${(nodes.indexOf(n) % 2) + 1}` } };
      this.submit(n, `host/${n.id}`, 'host', (r) => r.put(`host/${n.id}`, host));
    }
    for (let i = 0; i < spec.vms; i++) {
      const node = nodes.find((n) => n.id === this.home[i])!;
      const vm = initialVm(i, node.id);
      this.submit(node, `vm/${vm.id}`, 'create', (r) => r.putVm(vm));
    }
    if (spec.writesPerSecond > 0) this.scheduleNext();
  }

  private scheduleNext(): void {
    const gap = (-Math.log(1 - this.random.next()) * 1000) / this.env.spec.writesPerSecond;
    const at = this.env.scheduler.now + gap;
    if (at >= this.env.endMs) return;
    this.env.scheduler.at(at, 'workload', () => {
      this.step();
      this.scheduleNext();
    });
  }

  private available(): SimNode[] {
    return this.env.nodes.filter((n) => n.up && !n.paused && n.parts);
  }

  private step(): void {
    const { spec } = this.env;
    const live = this.available();
    if (live.length === 0 || spec.vms === 0) return;
    const i = this.random.int(spec.vms);
    if (spec.conflictingShare > 0 && this.random.next() < spec.conflictingShare && live.length >= 2) {
      const [a, b] = this.pickPair(live);
      this.stats.conflictingPairs++;
      const sameField = this.random.next() < 0.5;
      const fa = this.mutation(sameField ? 'cpu' : undefined);
      const fb = this.mutation(sameField ? 'cpu' : undefined);
      this.update(a, i, 'conflicting', fa);
      this.update(b, i, 'conflicting', fb);
      return;
    }
    const node = live[this.random.int(live.length)]!;
    const roll = this.random.next();
    if (roll < spec.deleteShare) {
      this.submit(node, `vm/${vmName(i)}`, 'delete', (r) => r.delete(`vm/${vmName(i)}`));
    } else if (roll < spec.deleteShare + spec.powerShare) {
      this.update(node, i, 'update', this.mutation('power'));
    } else {
      this.update(node, i, 'update', this.mutation());
    }
  }

  /** Two available nodes, on different sides of the partition when there is one. */
  private pickPair(live: readonly SimNode[]): [SimNode, SimNode] {
    const liveIds = new Set(live.map((n) => n.id));
    const groups = this.env.groups().map((g) => g.filter((id) => liveIds.has(id))).filter((g) => g.length > 0);
    if (groups.length >= 2) {
      const gi = this.random.int(groups.length);
      let gj = this.random.int(groups.length - 1);
      if (gj >= gi) gj++;
      const ga = groups[gi]!;
      const gb = groups[gj]!;
      const a = ga[this.random.int(ga.length)]!;
      const b = gb[this.random.int(gb.length)]!;
      return [live.find((n) => n.id === a)!, live.find((n) => n.id === b)!];
    }
    const x = this.random.int(live.length);
    let y = this.random.int(live.length - 1);
    if (y >= x) y++;
    return [live[x]!, live[y]!];
  }

  private mutation(kind?: 'cpu' | 'power'): (vm: VMState) => VMState {
    const k = kind ?? (['cpu', 'memory', 'snapshot'] as const)[this.random.int(3)]!;
    switch (k) {
      case 'cpu': {
        const cpu = 1 + this.random.int(8);
        return (vm) => ({ ...vm, cpu_allocation: cpu });
      }
      case 'memory': {
        const mem = 1024 * (1 + this.random.int(16));
        return (vm) => ({ ...vm, memory_mb: mem });
      }
      case 'snapshot': {
        const snap = `snap-${++this.snapCounter}`;
        return (vm) => ({ ...vm, snapshot_id: snap });
      }
      case 'power':
        return (vm) => ({ ...vm, power_state: vm.power_state === 'running' ? 'stopped' : 'running' });
    }
  }

  /** Write VM i on `node`: its current view (the LWW-latest sibling, or a recreated VM) changed by `f`. */
  private update(node: SimNode, i: number, label: AckedWrite['label'], f: (vm: VMState) => VMState): void {
    const id = vmName(i);
    const base = this.view(node, i);
    this.submit(node, `vm/${id}`, label, (r) => r.putVm(f(base)));
  }

  private view(node: SimNode, i: number): VMState {
    const versions = node.parts!.replica.versionsOf(`vm/${vmName(i)}`).filter((v) => !v.deleted);
    if (versions.length === 0) return initialVm(i, this.home[i]!);
    const latest = [...versions].sort(compareLww).at(-1)!;
    return latest.data as VMState;
  }

  /** Run a write on `node`'s replica; record it in the history when acknowledged. */
  private submit(node: SimNode, resourceId: string, label: AckedWrite['label'], fn: (r: NonNullable<SimNode['parts']>['replica']) => Promise<Version>): void {
    const parts = node.parts;
    if (!parts || !node.up) return;
    this.stats.writesAttempted++;
    const { scheduler, history } = this.env;
    const done = (v: Version): void => {
      this.stats.writesAcknowledged++;
      const j = versionToJSON(v);
      history.ack({ t: scheduler.now, node: node.id, resourceId, versionId: v.id, clock: j.clock, deleted: v.deleted, label });
    };
    const failed = (err: unknown): void => {
      this.stats.writesFailed++;
      history.add({ t: scheduler.now, kind: 'write-failed', node: node.id, resourceId, text: `${label} refused: ${err instanceof Error ? err.message : String(err)}` });
    };
    let p: Promise<Version>;
    try {
      p = fn(parts.replica);
    } catch (err) {
      failed(err);
      return;
    }
    p.then(done, failed);
  }

  // ------------------------------------------------------------------ split-brain attempts

  /** A partition started: fail over `splitBrainAttempts` VMs across it. */
  onPartition(groups: readonly (readonly string[])[]): void {
    const n = this.env.spec.splitBrainAttempts;
    if (n <= 0 || groups.length < 2 || this.env.spec.vms === 0) return;
    const epoch = ++this.epoch;
    const r = this.env.streams.get(`failover:${epoch}`);
    const chosen = new Set<number>();
    for (let k = 0; k < n; k++) {
      // Alternate the side the VM is failed over from, so both directions are tried.
      const g = k % groups.length;
      const homed = this.home.map((h, i) => (groups[g]!.includes(h) && !chosen.has(i) ? i : -1)).filter((i) => i >= 0);
      if (homed.length === 0) continue;
      const i = homed[r.int(homed.length)]!;
      chosen.add(i);
      const others = groups.filter((_, gi) => gi !== g).flat();
      if (others.length === 0) continue;
      const target = others[r.int(others.length)]!;
      this.env.scheduler.after(1_000 + r.int(1_000), 'failover', () => this.failover(epoch, i, target));
    }
  }

  /** The partition healed: pending failover retries stop. */
  onHeal(): void {
    this.epoch++;
  }

  private failover(epoch: number, i: number, target: string): void {
    if (epoch !== this.epoch || this.env.scheduler.now >= this.env.endMs) return;
    const id = vmName(i);
    const node = this.env.nodes.find((n) => n.id === target)!;
    const retry = (): void => {
      this.env.scheduler.after(FAILOVER_RETRY_MS, 'failover', () => this.failover(epoch, i, target));
    };
    const parts = node.parts;
    if (!node.up || node.paused || !parts) {
      retry();
      return;
    }
    this.stats.failoverAttempts++;
    const { history, scheduler } = this.env;
    const note = (text: string): void => history.add({ t: scheduler.now, kind: 'failover', node: target, resourceId: `vm/${id}`, text });
    note(`HA manager on ${target} tries to start ${id} (placed on ${this.home[i]})`);
    const start = parts.leases ? parts.leases.startVm(id).then(() => undefined) : node.hypervisor.start(id);
    start.then(
      () => {
        // Started: the HA manager records it, even if the partition healed meanwhile.
        this.stats.failoversDone++;
        this.home[i] = target;
        note(`started ${id} on ${target}`);
        this.env.onFailover?.(target, id);
        this.update(node, i, 'failover', (vm) => ({ ...vm, host: target, power_state: 'running' }));
      },
      (err: unknown) => {
        const code = (err as { code?: unknown }).code;
        note(`failover refused: ${typeof code === 'string' ? code : String(err)}`);
        retry();
      },
    );
  }
}
