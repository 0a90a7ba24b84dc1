/**
 * VM ownership leases with epochs (fencing tokens). Starting or migrating a VM needs a lease granted
 * by a majority of voters: epoch e of VM v is the single-decree Paxos instance `lease:v:e`, so at most
 * one value is ever decided per epoch, and epochs are decided in order (a proposer only proposes e+1
 * after learning e). A value is either an owner's lease or a release (no owner). Time safety:
 *
 * - every duration is measured on the node's MONOTONIC clock (`Clock.monotonic()`), never the wall
 *   clock: a wall-clock step (NTP, a resumed VM) moves no lease. Only rates are assumed to agree
 *   (drift well under the margin), not the clocks' readings;
 * - the owner counts its lease from just BEFORE it proposed: it holds it until `start + leaseMs`;
 * - everyone else counts from when they LEARNED it (later than the grant): held until
 *   `learnedAt + leaseMs + marginMs`, so a majority takes over only after the lease plus a margin;
 * - after a restart nothing is known about the past: every persisted lease (even this node's own) is
 *   held by someone else from the restart on, for a full lease + margin;
 * - an owner renews (a new epoch, same owner) only while it sees a quorum; without one it renews
 *   nothing and stops what it owns `stopBeforeMs` before its lease runs out;
 * - an owner that has stopped a VM (fenced, placed elsewhere) RELEASES its lease: it stops acting
 *   under it at once (no renewal, its epoch is refused), then proposes epoch e+1 with a release value.
 *   That is a quorum decision made after the VM stopped, so a node that learns it may acquire e+2 at
 *   once instead of waiting lease + margin; if the release is not decided the lease simply expires;
 * - an action carries the epoch it was granted under; an epoch that is not the current, unexpired
 *   one of this node is refused (StaleEpochError) — a paused holder that wakes up late cannot act.
 */
import { DwcpError } from '../core/errors.js';
import type { FailureDetector } from './failure-detector.js';
import type { Clock, Hypervisor, Store, TimerHandle } from './ports.js';
import type { Decided, Paxos } from './paxos.js';
import { decodeRecord, encodeRecord, RecordKind } from './record-codec.js';
import type { RpcRouter } from './rpc.js';

export interface Lease {
  readonly vmId: string;
  readonly owner: string;
  readonly epoch: number;
  readonly leaseMs: number;
  /** A release: nobody owns the VM from this epoch on (`owner` is the node that released it). */
  readonly released?: boolean;
}

export interface LeaseOptions {
  readonly nodeId: string;
  readonly leaseMs?: number;
  readonly marginMs?: number;
  /** Renew when this much of the lease is left. */
  readonly renewBeforeMs?: number;
  /** Without quorum, stop owned VMs this long before the lease runs out. */
  readonly stopBeforeMs?: number;
}

export interface LeaseComponents {
  readonly paxos: Paxos;
  readonly rpc: RpcRouter;
  readonly store: Store;
  readonly clock: Clock;
  readonly hypervisor: Hypervisor;
  readonly failureDetector: FailureDetector;
  readonly audit?: (kind: string, data: unknown, resourceId?: string) => Promise<void>;
}

export class LeaseHeldError extends DwcpError {
  /** `until`: wall-clock ms, for people (the lease itself is timed on the monotonic clock). */
  constructor(lease: Lease, until: number) {
    super('ERR_LEASE_HELD', `VM ${lease.vmId} is owned by ${lease.owner} (epoch ${lease.epoch}) until at least ${new Date(until).toISOString()}`, {
      ...lease,
      until,
    });
  }
}

export class StaleEpochError extends DwcpError {
  constructor(vmId: string, epoch: number, reason: string) {
    super('ERR_STALE_EPOCH', `epoch ${epoch} of VM ${vmId} cannot act: ${reason}`, { vmId, epoch });
  }
}

interface Known {
  lease: Lease;
  /** Monotonic time the lease was learned (others) or the proposal started (own). */
  since: number;
}

/** The lease gives someone ownership (it is not a release). */
const owning = (l: Lease | undefined): l is Lease => l !== undefined && l.released !== true;

const key = (vmId: string, epoch: number): string => `lease:${vmId}:${epoch}`;

export class LeaseManager {
  private readonly known = new Map<string, Known>();
  private readonly timers = new Map<string, TimerHandle>();
  /**
   * Per owned VM, the timer that stops it `stopBeforeMs` before its lease runs out unless a renewal
   * came first. It is separate from the renewal so that a renewal attempt that hangs (a proposal
   * waiting for voters across a partition) can never delay the stop.
   */
  private readonly deadlines = new Map<string, TimerHandle>();
  /** VMs whose lease this node holds right now. */
  private readonly owned = new Set<string>();
  /** Per VM, bumped by every release: an acquire requested before a release does not take effect. */
  private readonly releases = new Map<string, number>();
  /** Per VM, the tail of its serialized acquire/release operations. */
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly leaseMs: number;
  private readonly marginMs: number;
  private readonly renewBeforeMs: number;
  private readonly stopBeforeMs: number;
  private readonly self: string;

  constructor(
    o: LeaseOptions,
    private readonly c: LeaseComponents,
  ) {
    this.self = o.nodeId;
    this.leaseMs = o.leaseMs ?? 10_000;
    this.marginMs = o.marginMs ?? 2_000;
    this.renewBeforeMs = o.renewBeforeMs ?? Math.floor(this.leaseMs / 2);
    this.stopBeforeMs = o.stopBeforeMs ?? Math.floor(this.leaseMs / 5);
    c.paxos.onLearn((k, d) => this.learned(k, d));
    c.rpc.handle('lease-latest', (_from, body) => {
      const vmId = typeof body.vmId === 'string' ? body.vmId : '';
      return { lease: this.known.get(vmId)?.lease ?? null };
    });
  }

  /** Load persisted lease knowledge (after a restart nothing is assumed held by this node). */
  async start(): Promise<void> {
    const now = this.mono();
    for await (const { key: k, value } of this.c.store.range('leases')) {
      const lease = decodeRecord(value, RecordKind.lease, 'leases', k) as Lease;
      // After a restart, even our own leases are treated as someone else's: held until now + lease + margin.
      this.known.set(lease.vmId, { lease, since: now });
    }
  }

  stop(): void {
    for (const t of this.timers.values()) this.c.clock.clearTimer(t);
    this.timers.clear();
    for (const t of this.deadlines.values()) this.c.clock.clearTimer(t);
    this.deadlines.clear();
  }

  /** The lease this node knows for a VM (possibly a release). */
  current(vmId: string): Lease | undefined {
    return this.known.get(vmId)?.lease;
  }

  /** Until when (monotonic ms, see `Clock.monotonic`) `vmId`'s lease is held, from this node's point of view. */
  heldUntil(vmId: string): number | undefined {
    const k = this.known.get(vmId);
    if (!k || !owning(k.lease)) return undefined;
    return k.lease.owner === this.self && this.owned.has(vmId) ? k.since + k.lease.leaseMs : k.since + k.lease.leaseMs + this.marginMs;
  }

  /** The node that holds `vmId`'s lease now, as far as this node knows (undefined: nobody, released or expired). */
  holder(vmId: string): string | undefined {
    const k = this.known.get(vmId);
    const until = this.heldUntil(vmId);
    return k && until !== undefined && this.mono() < until ? k.lease.owner : undefined;
  }

  /**
   * Acquire (or renew) the lease of a VM for this node. Needs a quorum; refuses while another node's
   * lease may still be valid. Returns the lease (its epoch is the fencing token for actions).
   */
  acquire(vmId: string): Promise<Lease> {
    // A release requested after this call wins over it, even if this grant is decided later.
    const generation = this.releases.get(vmId) ?? 0;
    return this.serialized(vmId, () => this.acquireNow(vmId, generation));
  }

  /**
   * Give up this node's lease of a VM that this host no longer runs (call it after the VM has been
   * stopped or fenced here). At once: no more renewals, and the epoch is refused for actions. Then
   * the release is proposed as the next epoch (a quorum decision), so that the host the cluster
   * placed the VM on can acquire it without waiting for the lease to run out. Without a quorum the
   * lease just runs out. Audited. Does nothing when this node does not hold the lease.
   */
  async release(vmId: string): Promise<void> {
    this.releases.set(vmId, (this.releases.get(vmId) ?? 0) + 1);
    this.disown(vmId);
    await this.serialized(vmId, async () => {
      this.disown(vmId); // an acquire that was in flight may have been granted meanwhile
      const k = this.known.get(vmId);
      if (!k || !owning(k.lease) || k.lease.owner !== this.self) return;
      const epoch = k.lease.epoch + 1;
      const value: Lease = { vmId, owner: this.self, epoch, leaseMs: 0, released: true };
      let outcome: string;
      try {
        const d = await this.c.paxos.propose<Lease>(key(vmId, epoch), value);
        this.noteLearned(d.value);
        outcome = d.value.released === true && d.value.owner === this.self ? 'released' : `released; epoch ${epoch} went to ${d.value.owner}`;
      } catch {
        outcome = 'released: no quorum for the release, the lease runs out';
      }
      await this.c.audit?.('lease', { vmId, owner: this.self, epoch: k.lease.epoch, action: outcome }, `vm/${vmId}`);
    });
  }

  /** Throws StaleEpochError unless `epoch` is this node's current, unexpired lease of `vmId`. */
  assertEpoch(vmId: string, epoch: number): void {
    const k = this.known.get(vmId);
    if (!k || !owning(k.lease) || k.lease.owner !== this.self || !this.owned.has(vmId)) throw new StaleEpochError(vmId, epoch, 'this node does not own the VM');
    if (k.lease.epoch !== epoch) throw new StaleEpochError(vmId, epoch, `the current epoch is ${k.lease.epoch}`);
    if (this.mono() >= k.since + k.lease.leaseMs) throw new StaleEpochError(vmId, epoch, 'the lease has expired');
  }

  /** Start a VM under a lease: acquire it, check the epoch at the moment of acting, start. */
  async startVm(vmId: string): Promise<Lease> {
    const lease = await this.acquire(vmId);
    this.assertEpoch(vmId, lease.epoch);
    await this.c.hypervisor.start(vmId);
    return lease;
  }

  /** This node holds the current, unexpired lease of `vmId`. */
  private holdsNow(vmId: string): boolean {
    const k = this.known.get(vmId);
    return k !== undefined && this.owned.has(vmId) && owning(k.lease) && k.lease.owner === this.self && this.mono() < k.since + k.lease.leaseMs;
  }

  private mono(): number {
    return this.c.clock.monotonic ? this.c.clock.monotonic() : this.c.clock.now();
  }

  /** Run `fn` after every earlier acquire/release of the same VM has settled. */
  private serialized<T>(vmId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(vmId) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.queues.set(vmId, tail);
    void tail.then(() => {
      if (this.queues.get(vmId) === tail) this.queues.delete(vmId);
    });
    return run;
  }

  /** Stop holding and renewing the lease of `vmId` (this node will not act under it any more). */
  private disown(vmId: string): void {
    this.owned.delete(vmId);
    const t = this.timers.get(vmId);
    if (t) this.c.clock.clearTimer(t);
    this.timers.delete(vmId);
    const d = this.deadlines.get(vmId);
    if (d) this.c.clock.clearTimer(d);
    this.deadlines.delete(vmId);
  }

  private async acquireNow(vmId: string, generation: number): Promise<Lease> {
    for (let guard = 0; guard < 16; guard++) {
      // Renewing a lease this node holds needs no quorum read first: the next epoch is decided by the
      // quorum anyway, and if another node got it, the proposal returns that value and we look again.
      const latest = guard === 0 && this.holdsNow(vmId) ? this.known.get(vmId)!.lease : await this.latestFromQuorum(vmId);
      if (owning(latest) && latest.owner !== this.self) {
        const until = this.heldUntil(vmId) ?? 0;
        const now = this.mono();
        if (now < until) throw new LeaseHeldError(latest, this.c.clock.now() + (until - now));
      }
      const epoch = (latest?.epoch ?? 0) + 1;
      const start = this.mono();
      const mine: Lease = { vmId, owner: this.self, epoch, leaseMs: this.leaseMs };
      const d = await this.c.paxos.propose<Lease>(key(vmId, epoch), mine);
      if (owning(d.value) && d.value.owner === this.self && d.value.epoch === epoch) {
        this.known.set(vmId, { lease: d.value, since: start });
        await this.persist(d.value);
        if ((this.releases.get(vmId) ?? 0) !== generation) {
          // Released while this grant was in flight: it is not used; the release gives it up.
          throw new StaleEpochError(vmId, epoch, 'the lease was released while it was being granted');
        }
        this.owned.add(vmId);
        await this.c.audit?.('lease', { vmId, owner: this.self, epoch, action: 'granted' }, `vm/${vmId}`);
        this.scheduleRenewal(vmId);
        return d.value;
      }
      // Someone else's value was decided for this epoch: learned() recorded it; look again.
    }
    throw new DwcpError('ERR_LEASE_CONTENDED', `could not settle the lease of ${vmId}: too many competing epochs`, { vmId });
  }

  private async latestFromQuorum(vmId: string): Promise<Lease | undefined> {
    const voters = this.c.paxos.voters;
    let replies = 0;
    let best = this.known.get(vmId)?.lease;
    await Promise.all(
      voters.map(async (v) => {
        try {
          const r =
            v === this.self
              ? { lease: this.known.get(vmId)?.lease ?? null }
              : await this.withTimeout((signal) => this.c.rpc.call<{ lease: Lease | null }>(v, 'lease-latest', { vmId }, signal));
          replies++;
          if (r.lease && (!best || r.lease.epoch > best.epoch)) {
            best = r.lease;
            this.noteLearned(r.lease);
          }
        } catch {
          // unreachable voter
        }
      }),
    );
    if (replies < this.c.paxos.quorum) {
      throw new DwcpError('ERR_NO_QUORUM', `no quorum to grant the lease of ${vmId}: ${replies} of ${this.c.paxos.quorum} voters answered`, {
        vmId,
      });
    }
    return best;
  }

  private withTimeout<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const ctrl = new AbortController();
    const t = this.c.clock.setTimer(1_000, () => ctrl.abort());
    return fn(ctrl.signal).finally(() => this.c.clock.clearTimer(t));
  }

  private learned(k: string, d: Decided<unknown>): void {
    if (!k.startsWith('lease:')) return;
    this.noteLearned(d.value as Lease);
  }

  private noteLearned(lease: Lease): void {
    const cur = this.known.get(lease.vmId);
    if (cur && cur.lease.epoch >= lease.epoch) return;
    this.known.set(lease.vmId, { lease, since: this.mono() });
    if (!owning(lease) || lease.owner !== this.self) {
      const wasOwner = this.owned.has(lease.vmId);
      this.disown(lease.vmId);
      // A later epoch went to someone else while this node still counted itself the owner (it was
      // paused or cut off past its deadline): its copy must stop now, not wait for a deadline that
      // disown() just cleared. (Its own release is decided after its VM stopped: nothing to do.)
      if (wasOwner && !(lease.released === true && lease.owner === this.self)) void this.stopLost(lease);
    }
    void this.persist(lease).catch(() => undefined);
  }

  private async stopLost(lease: Lease): Promise<void> {
    await this.c.hypervisor.stop(lease.vmId).catch(() => undefined);
    const action = `stopped: epoch ${lease.epoch} ${lease.released === true ? 'released it' : `went to ${lease.owner}`}`;
    await this.c.audit?.('lease', { vmId: lease.vmId, owner: this.self, epoch: lease.epoch, action }, `vm/${lease.vmId}`);
  }

  private scheduleRenewal(vmId: string): void {
    const old = this.timers.get(vmId);
    if (old) this.c.clock.clearTimer(old);
    const k = this.known.get(vmId)!;
    const renewAt = k.since + k.lease.leaseMs - this.renewBeforeMs;
    this.timers.set(
      vmId,
      this.c.clock.setTimer(Math.max(0, renewAt - this.mono()), () => void this.renewOrStop(vmId)),
    );
    const oldDeadline = this.deadlines.get(vmId);
    if (oldDeadline) this.c.clock.clearTimer(oldDeadline);
    const stopAt = k.since + k.lease.leaseMs - this.stopBeforeMs;
    const epoch = k.lease.epoch;
    this.deadlines.set(
      vmId,
      this.c.clock.setTimer(Math.max(0, stopAt - this.mono()), () => void this.stopUnrenewed(vmId, epoch)),
    );
  }

  /** The deadline of epoch `epoch` came and no renewal replaced it: stop the VM before the lease runs out. */
  private async stopUnrenewed(vmId: string, epoch: number): Promise<void> {
    this.deadlines.delete(vmId);
    const k = this.known.get(vmId);
    if (!this.owned.has(vmId) || !k || k.lease.epoch !== epoch) return;
    // A renewal still in flight must not make this node the owner of a VM it has stopped.
    this.releases.set(vmId, (this.releases.get(vmId) ?? 0) + 1);
    this.disown(vmId);
    await this.c.hypervisor.stop(vmId).catch(() => undefined);
    await this.c.audit?.('lease', { vmId, owner: this.self, epoch, action: 'stopped: lease could not be renewed without quorum' }, `vm/${vmId}`);
  }

  private async renewOrStop(vmId: string): Promise<void> {
    this.timers.delete(vmId);
    if (!this.owned.has(vmId)) return;
    if (this.c.failureDetector.quorum().ok) {
      try {
        await this.acquire(vmId);
        return;
      } catch {
        // fall through: could not renew
      }
    }
    if (!this.owned.has(vmId) || this.timers.has(vmId)) return; // released, stopped, or renewed meanwhile
    const k = this.known.get(vmId)!;
    const stopAt = k.since + k.lease.leaseMs - this.stopBeforeMs;
    const now = this.mono();
    // Try again shortly while there is time; the deadline timer stops the VM in time otherwise.
    if (now < stopAt) {
      this.timers.set(
        vmId,
        this.c.clock.setTimer(Math.max(1, Math.min(stopAt - now, Math.floor(this.leaseMs / 10))), () => void this.renewOrStop(vmId)),
      );
    }
  }

  private async persist(lease: Lease): Promise<void> {
    await this.c.store.write([{ type: 'put', sublevel: 'leases', key: lease.vmId, value: encodeRecord(RecordKind.lease, lease) }]);
  }
}
