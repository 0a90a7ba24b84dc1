/**
 * The VM supervisor: it makes this host's hypervisor match the node's own view of the replicated VM
 * states, and it starts VMs only under a majority-granted ownership lease. The same code runs in the
 * agent (`hypervisor.supervise: true`) and in every simulated node, so the simulator's seed sweeps
 * check it. What it does:
 *
 * - a VM whose only current version says `host: <this node>, power_state: running` and that the host
 *   does not run is started through `LeaseManager.startVm` (a lease first, then `hypervisor.start`);
 * - a VM the host runs although the node's view says it should not run here (stopped, deleted,
 *   placed on another host) is stopped, and its lease released, so that the host it was placed on can
 *   start it at once; a lease this node still holds for a VM that should not run here and does not
 *   (stopped by fencing or by hand) is released too;
 * - a VM it runs without holding its lease (after a restart) gets the lease again, or is stopped if
 *   another node holds it;
 * - while a VM has siblings (an open conflict), nothing is done: the decision comes first.
 *
 * It reacts to the replica's events for a VM and sweeps every `sweepMs` to retry what failed. All its
 * timers are on the node's clock port. What the host runs comes from a {@link HostView}: the
 * simulator reads its fake hypervisor; the agent tracks the supervisor's own actions, starting from
 * the VMs the agreed state places here (a VM outlives an agent restart).
 */
import type { Version } from '../core/conflict/version.js';
import type { VMState } from '../core/vm/state.js';
import type { LeaseManager } from './leases.js';
import type { Clock, Hypervisor } from './ports.js';
import type { Replica } from './replica.js';

/** Which VMs this host runs now. */
export interface HostView {
  runs(vmId: string): boolean;
  /** Every VM the host runs (for the sweep). */
  running(): Iterable<string>;
}

export interface VmSupervisorOptions {
  readonly nodeId: string;
  readonly sweepMs?: number;
}

export interface VmSupervisorComponents {
  readonly replica: Replica;
  readonly hypervisor: Hypervisor;
  readonly clock: Clock;
  /** Without leases, VMs are started and stopped directly (the simulator's no-lease baseline). */
  readonly leases?: LeaseManager;
  /** Defaults to a {@link TrackedHost} over `hypervisor`. */
  readonly host?: HostView;
  /** An action that failed (lease held, no quorum, hypervisor error); it is retried on the next sweep. */
  readonly onRefused?: (vmId: string, what: string, err: unknown) => void;
}

/**
 * A host view for a real hypervisor, whose port cannot list domains: what this supervisor (or
 * fencing) did, starting from what the agreed state placed here when the agent started.
 */
export class TrackedHost implements HostView, Hypervisor {
  private readonly set = new Set<string>();

  constructor(private readonly inner: Hypervisor) {}

  assume(vmId: string): void {
    this.set.add(vmId);
  }

  runs(vmId: string): boolean {
    return this.set.has(vmId);
  }

  running(): Iterable<string> {
    return this.set;
  }

  async start(vmId: string): Promise<void> {
    await this.inner.start(vmId);
    this.set.add(vmId);
  }

  async stop(vmId: string): Promise<void> {
    await this.inner.stop(vmId);
    this.set.delete(vmId);
  }

  async fence(vmId: string, reason: string): Promise<void> {
    await this.inner.fence(vmId, reason);
    this.set.delete(vmId);
  }
}

export class VmSupervisor {
  private readonly queued = new Set<string>();
  private readonly busy = new Set<string>();
  private readonly host: HostView;
  private readonly sweepMs: number;
  private readonly unsubscribe: Array<() => void> = [];
  private sweepTimer: ReturnType<Clock['setTimer']> | undefined;
  private running = false;

  constructor(
    private readonly o: VmSupervisorOptions,
    private readonly c: VmSupervisorComponents,
  ) {
    this.sweepMs = o.sweepMs ?? 2_000;
    this.host = c.host ?? new TrackedHost(c.hypervisor);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const { replica } = this.c;
    // Only changes that can matter here: the VM placed on this host, or running on it.
    const onVersion = (v: Version): void => {
      if (!v.resourceId.startsWith('vm/')) return;
      const vmId = v.resourceId.slice(3);
      if ((v.data as { host?: unknown } | null)?.host === this.o.nodeId || this.host.runs(vmId)) this.queue(vmId);
    };
    this.unsubscribe.push(
      replica.on('write', (e) => onVersion(e.version)),
      replica.on('applied', (e) => onVersion(e.version)),
      replica.on('decision', (e) => {
        if (e.record.resourceId.startsWith('vm/')) this.queue(e.record.resourceId.slice(3));
      }),
    );
    this.sweepTimer = this.c.clock.setTimer(0, () => this.sweep());
  }

  stop(): void {
    this.running = false;
    for (const u of this.unsubscribe.splice(0)) u();
    if (this.sweepTimer) this.c.clock.clearTimer(this.sweepTimer);
  }

  /** The VMs the node's view places on this host, running (what a restarted agent assumes it runs). */
  placedHere(): string[] {
    const out: string[] = [];
    for (const r of this.c.replica.list('vm/')) {
      const v = this.c.replica.versionsOf(r);
      const d = v.length === 1 && !v[0]!.deleted ? (v[0]!.data as VMState) : undefined;
      if (d?.host === this.o.nodeId && d.power_state === 'running') out.push(r.slice(3));
    }
    return out;
  }

  private queue(vmId: string): void {
    if (!this.running || this.queued.has(vmId)) return;
    this.queued.add(vmId);
    this.c.clock.setTimer(0, () => {
      this.queued.delete(vmId);
      if (this.running) this.reconcile(vmId);
    });
  }

  private sweep(): void {
    if (!this.running) return;
    const ids = new Set<string>(this.host.running());
    for (const id of this.placedHere()) ids.add(id);
    for (const id of [...ids].sort()) this.reconcile(id);
    this.sweepTimer = this.c.clock.setTimer(this.sweepMs, () => this.sweep());
  }

  /** Where this node's view says the VM should be: `here`, `not-here`, or `undecided` (siblings). */
  private desired(vmId: string): 'here' | 'not-here' | 'undecided' {
    const versions = this.c.replica.versionsOf(`vm/${vmId}`);
    if (versions.length === 0) return 'not-here';
    if (versions.length > 1) return 'undecided';
    const v = versions[0]!;
    if (v.deleted) return 'not-here';
    const d = v.data as VMState;
    return d.host === this.o.nodeId && d.power_state === 'running' ? 'here' : 'not-here';
  }

  private reconcile(vmId: string): void {
    if (this.busy.has(vmId)) return;
    const want = this.desired(vmId);
    if (want === 'undecided') return;
    const runs = this.host.runs(vmId);
    const { leases, hypervisor } = this.c;
    if (want === 'here' && !runs) {
      this.act(vmId, 'start', async () => {
        if (leases) await leases.startVm(vmId);
        else await hypervisor.start(vmId);
      });
    } else if (want === 'not-here' && runs) {
      this.act(vmId, 'stop', async () => {
        await hypervisor.stop(vmId);
        await leases?.release(vmId);
      });
    } else if (want === 'not-here' && !runs && leases && ownsLease(leases, vmId)) {
      this.act(vmId, 'release lease', () => leases.release(vmId));
    } else if (want === 'here' && runs && leases && !ownsLease(leases, vmId)) {
      this.act(vmId, 'reclaim lease', async () => {
        try {
          await leases.acquire(vmId);
        } catch (err) {
          if ((err as { code?: unknown }).code === 'ERR_LEASE_HELD') await hypervisor.stop(vmId);
          throw err;
        }
      });
    }
  }

  private act(vmId: string, what: string, fn: () => Promise<void>): void {
    this.busy.add(vmId);
    fn().then(
      () => {
        this.busy.delete(vmId);
      },
      (err: unknown) => {
        this.busy.delete(vmId);
        this.c.onRefused?.(vmId, what, err);
      },
    );
  }
}

/** This node holds the current, unexpired lease of the VM. */
export function ownsLease(leases: LeaseManager, vmId: string): boolean {
  const cur = leases.current(vmId);
  if (!cur) return false;
  try {
    leases.assertEpoch(vmId, cur.epoch);
    return true;
  } catch {
    return false;
  }
}
