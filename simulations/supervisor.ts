/**
 * The host side of a simulated agent: it makes the host's hypervisor match the node's own view of the
 * replicated VM states. This is a model (there is no VM supervisor in src/ yet); what it does:
 *
 * - a VM whose only current version says `host: <this node>, power_state: running` and that the
 *   hypervisor does not run is started, through the LeaseManager when leases are on
 *   (`startVm`: a majority-granted ownership lease first, then `hypervisor.start`);
 * - a VM the hypervisor runs although the node's view says it should not run here (stopped, deleted,
 *   placed on another host) is stopped, and its lease released (LeaseManager.release), so that the
 *   host it was placed on can start it at once; a lease this node still holds for a VM that should
 *   not run here and does not (stopped by fencing or by hand) is released too;
 * - a VM it runs without holding its lease (after a restart) gets the lease again, or is stopped if
 *   another node holds it;
 * - while a VM has siblings (an open conflict), nothing is done: the decision comes first.
 *
 * It reacts to the replica's events for a VM and sweeps every `sweepMs` to retry what failed. All its
 * timers are on the node's clock, so a pause holds it and a crash kills it with the agent.
 */
import type { Version } from '../src/core/conflict/version.js';
import type { VMState } from '../src/core/vm/state.js';
import type { LeaseManager } from '../src/replica/leases.js';
import type { History } from './history.js';
import type { NodeParts, SimNode } from './sim-node.js';

export interface SupervisorOptions {
  readonly sweepMs: number;
}

export class Supervisor {
  private readonly queued = new Set<string>();
  private readonly busy = new Set<string>();
  private running = false;

  constructor(
    private readonly node: SimNode,
    private readonly parts: NodeParts,
    private readonly history: History,
    private readonly now: () => number,
    private readonly opts: SupervisorOptions = { sweepMs: 2_000 },
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    const { replica } = this.parts;
    // Only changes that can matter here: the VM placed on this host, or running on it.
    const onVersion = (v: Version): void => {
      if (!v.resourceId.startsWith('vm/')) return;
      const vmId = v.resourceId.slice(3);
      if ((v.data as { host?: unknown } | null)?.host === this.node.id || this.node.hypervisor.running.has(vmId)) this.queue(vmId);
    };
    replica.on('write', (e) => onVersion(e.version));
    replica.on('applied', (e) => onVersion(e.version));
    replica.on('decision', (e) => {
      if (e.record.resourceId.startsWith('vm/')) this.queue(e.record.resourceId.slice(3));
    });
    this.parts.clock.setTimer(0, () => this.sweep());
  }

  private queue(vmId: string): void {
    if (this.queued.has(vmId)) return;
    this.queued.add(vmId);
    this.parts.clock.setTimer(0, () => {
      this.queued.delete(vmId);
      this.reconcile(vmId);
    });
  }

  private sweep(): void {
    const ids = new Set<string>(this.node.hypervisor.running);
    for (const r of this.parts.replica.list('vm/')) {
      const v = this.parts.replica.versionsOf(r);
      const d = v.length === 1 && !v[0]!.deleted ? (v[0]!.data as VMState) : undefined;
      if (d?.host === this.node.id && d.power_state === 'running') ids.add(r.slice(3));
    }
    for (const id of [...ids].sort()) this.reconcile(id);
    this.parts.clock.setTimer(this.opts.sweepMs, () => this.sweep());
  }

  /** Where this node's view says the VM should be: `here`, `elsewhere` (or not running), or `undecided`. */
  private desired(vmId: string): 'here' | 'not-here' | 'undecided' {
    const versions = this.parts.replica.versionsOf(`vm/${vmId}`);
    if (versions.length === 0) return 'not-here';
    if (versions.length > 1) return 'undecided';
    const v = versions[0]!;
    if (v.deleted) return 'not-here';
    const d = v.data as VMState;
    return d.host === this.node.id && d.power_state === 'running' ? 'here' : 'not-here';
  }

  private reconcile(vmId: string): void {
    if (this.busy.has(vmId)) return;
    const want = this.desired(vmId);
    if (want === 'undecided') return;
    const runs = this.node.hypervisor.running.has(vmId);
    const leases = this.parts.leases;
    if (want === 'here' && !runs) {
      this.act(vmId, 'start', async () => {
        if (leases) await leases.startVm(vmId);
        else await this.node.hypervisor.start(vmId);
      });
    } else if (want === 'not-here' && runs) {
      this.act(vmId, 'stop', async () => {
        await this.node.hypervisor.stop(vmId);
        await leases?.release(vmId);
      });
    } else if (want === 'not-here' && !runs && leases && ownsLease(leases, vmId)) {
      this.act(vmId, 'release lease', () => leases.release(vmId));
    } else if (want === 'here' && runs && leases && !ownsLease(leases, vmId)) {
      this.act(vmId, 'reclaim lease', async () => {
        try {
          await leases.acquire(vmId);
        } catch (err) {
          if ((err as { code?: unknown }).code === 'ERR_LEASE_HELD') await this.node.hypervisor.stop(vmId);
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
        const code = (err as { code?: unknown }).code;
        this.history.add({
          t: this.now(),
          kind: 'lease',
          node: this.node.id,
          resourceId: `vm/${vmId}`,
          text: `${what} refused: ${typeof code === 'string' ? code : 'error'} ${err instanceof Error ? err.message : String(err)}`,
        });
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
