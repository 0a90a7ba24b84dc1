/**
 * The coordinator fulfils decisions that cannot be pure with a quorum (ARCHITECTURE.md): the
 * consensus-vote strategy, automatic rollback, and split-brain resolution. For each pending conflict
 * of those kinds it proposes ONE new version (built by `dominatingVersion`, so it dominates every
 * candidate) to a single-decree Paxos instance keyed by the conflict id; whichever proposal is
 * decided is applied on every node, audited with its ballot, and gossiped. After a split-brain
 * decision, the agent whose host lost fences its copy through the hypervisor port and releases its
 * ownership lease of the VM (if it holds it), so that the keeper can take the VM over at once.
 */
import { conflictId } from '../core/conflict/conflict-id.js';
import { compareLww, dominatingVersion } from '../core/resolve/index.js';
import { versionFromJSON, versionToJSON, type Version, type VersionJSON } from '../core/conflict/version.js';
import type { Clock, Hypervisor } from './ports.js';
import type { Paxos } from './paxos.js';
import type { ConflictRecord, Replica } from './replica.js';

export interface CoordinatorOptions {
  readonly nodeId: string;
  readonly splitBrainResolution: 'quorum' | 'manual' | 'priority';
  /** Rollbacks are applied without an operator only when this is on. */
  readonly enableAutoRecovery: boolean;
  readonly nodePriorities?: Readonly<Record<string, number>>;
  /** Proposers wait rank × this before proposing, so usually one proposer runs (fewer duelling ballots). */
  readonly proposeStaggerMs?: number;
  /** Attempts at fencing before it is reported as failed. */
  readonly maxRecoveryAttempts?: number;
}

/** What the coordinator needs of the VM ownership leases (LeaseManager). */
export interface CoordinatorLeases {
  /** The node holding the VM's lease now, as far as this node knows. */
  holder(vmId: string): string | undefined;
  /** Give up this node's lease of a VM it has just fenced (no-op when it holds none). */
  release(vmId: string): Promise<void>;
}

export interface CoordinatorComponents {
  readonly replica: Replica;
  readonly paxos: Paxos;
  readonly clock: Clock;
  readonly hypervisor: Hypervisor;
  /** VM ownership leases: the split-brain keeper is the lease holder, a fenced loser releases its lease. */
  readonly leases?: CoordinatorLeases;
  /** Called when a fencing action fails for good (metrics, alerts). */
  readonly onFenceFailed?: (vmId: string, err: unknown) => void;
}

type Kind = 'consensus' | 'rollback' | 'split_brain';

interface Proposal {
  readonly winner: string;
  readonly version: VersionJSON;
  readonly kind: Kind;
}

export class Coordinator {
  /** Decision keys (see {@link decisionKey}) being decided, and already applied, by this node. */
  private readonly inProgress = new Set<string>();
  private readonly appliedKeys = new Set<string>();
  private unsubscribe: (() => void) | undefined;
  /** Decisions applied by this node (for tests and status). */
  readonly applied: Array<{ conflictId: string; kind: Kind; versionId: string; ballot: string }> = [];

  constructor(
    private readonly o: CoordinatorOptions,
    private readonly c: CoordinatorComponents,
  ) {}

  start(): void {
    this.unsubscribe = this.c.replica.on('conflict', (e) => this.consider(e.record));
    for (const r of this.c.replica.conflictList('pending')) this.consider(r);
  }

  stop(): void {
    this.unsubscribe?.();
  }

  /** The kind of quorum decision a pending conflict needs, if any. */
  kindOf(record: ConflictRecord): Kind | undefined {
    if (record.status !== 'pending') return undefined;
    if (isSplitBrain(record) && this.o.splitBrainResolution === 'quorum') return 'split_brain';
    if (record.decision.outcome === 'pending_consensus') return 'consensus';
    if (record.decision.outcome === 'rollback' && this.o.enableAutoRecovery && record.decision.result.length > 0) return 'rollback';
    return undefined;
  }

  private consider(record: ConflictRecord): void {
    const kind = this.kindOf(record);
    if (!kind) return;
    const key = decisionKey(record);
    if (this.inProgress.has(key)) return;
    this.inProgress.add(key);
    this.decide(record, kind, key)
      .catch(() => undefined) // no quorum now: the conflict stays pending and is retried on the next event
      .finally(() => this.inProgress.delete(key));
  }

  private async decide(record: ConflictRecord, kind: Kind, key: string): Promise<void> {
    const paxos = this.c.paxos;
    // Whoever proposes, every node applies what is decided.
    void paxos
      .whenDecided<Proposal>(key)
      .then((d) => this.apply(record, key, d.value, d.ballot, d.voters))
      .catch(() => undefined); // a malformed decision is refused in apply(); the conflict stays pending
    const rank = Math.max(0, paxos.voters.indexOf(this.o.nodeId));
    const stagger = (this.o.proposeStaggerMs ?? 50) * rank;
    if (stagger > 0) await new Promise<void>((r) => this.c.clock.setTimer(stagger, r));
    if (await paxos.decided(key)) return;
    const proposal = this.propose(record, kind);
    if (!proposal) return;
    const d = await paxos.propose<Proposal>(key, proposal);
    await this.apply(record, key, d.value, d.ballot, d.voters);
  }

  /** This node's preferred outcome, as one dominating version. */
  private propose(record: ConflictRecord, kind: Kind): Proposal | undefined {
    const candidates = record.candidates.map((v, i) => versionFromJSON(v, `candidates[${i}]`));
    let chosen: Version | undefined;
    if (kind === 'rollback') {
      const targetId = record.decision.result[0]?.versionId;
      chosen = this.c.replica.history(record.resourceId).find((h) => h.id === targetId);
      if (!chosen) return undefined;
    } else if (kind === 'split_brain') {
      chosen = this.keeperOf(record.resourceId.slice('vm/'.length), candidates);
    } else {
      chosen = candidates.find((c) => c.origin === this.o.nodeId) ?? [...candidates].sort(compareLww).at(-1);
    }
    if (!chosen) return undefined;
    const version = dominatingVersion(candidates, chosen.data, this.o.nodeId, this.c.replica.nextHlc(), chosen.deleted);
    return { winner: chosen.id, version: versionToJSON(version), kind };
  }

  /**
   * Split-brain: keep the VM on the running host that holds its ownership lease — the one that may
   * really run it (the others run it without a lease, or have stopped it as theirs ran out) — then
   * on the one with the highest priority (ties: lowest host id).
   */
  private keeperOf(vmId: string, candidates: readonly Version[]): Version | undefined {
    const pr = this.o.nodePriorities ?? {};
    const holder = this.c.leases?.holder(vmId);
    const running = candidates.filter((c) => !c.deleted && (c.data as { power_state?: string }).power_state === 'running');
    return running.sort((a, b) => {
      const ha = (a.data as { host: string }).host;
      const hb = (b.data as { host: string }).host;
      if ((ha === holder) !== (hb === holder)) return ha === holder ? -1 : 1;
      const d = (pr[hb] ?? 0) - (pr[ha] ?? 0);
      return d !== 0 ? d : ha < hb ? -1 : ha > hb ? 1 : 0;
    })[0];
  }

  private async apply(record: ConflictRecord, key: string, p: Proposal, ballot: string, voters: readonly string[]): Promise<void> {
    if (this.appliedKeys.has(key)) return;
    if (typeof p !== 'object' || p === null || typeof p.winner !== 'string' || !['consensus', 'rollback', 'split_brain'].includes(p.kind)) return;
    const version = versionFromJSON(p.version, 'decided version');
    // The decision must be about this conflict: a version of its resource dominating every candidate.
    if (version.resourceId !== record.resourceId) return;
    if (!record.candidates.every((c) => version.clock.dominates(versionFromJSON(c).clock))) return;
    this.appliedKeys.add(key);
    this.applied.push({ conflictId: record.id, kind: p.kind, versionId: version.id, ballot });
    const how = `decided by quorum (${p.kind.replace('_', '-')}): ${p.winner} won, ballot ${ballot}${voters.length ? ` accepted by ${voters.join(', ')}` : ''}`;
    await this.c.replica.applyDecided(record.id, version, how, ballot);
    if (p.kind === 'split_brain') await this.fenceIfLoser(record, version);
  }

  /**
   * The agent whose host lost a split-brain decision stops its copy of the VM, then releases the VM's
   * lease if it holds it (a lease held by a host that no longer runs the VM would keep the keeper from
   * starting it for as long as it is renewed).
   */
  private async fenceIfLoser(record: ConflictRecord, decided: Version): Promise<void> {
    const keeper = (decided.data as { host?: string } | null)?.host;
    const vmId = record.resourceId.slice('vm/'.length);
    const ranHere = record.candidates.some((c) => {
      const d = c.data as { host?: string; power_state?: string } | null;
      return d?.host === this.o.nodeId && d.power_state === 'running';
    });
    if (keeper === this.o.nodeId || !(ranHere || this.c.leases?.holder(vmId) === this.o.nodeId)) return;
    const reason = `split-brain ${record.id}: quorum kept ${vmId} on ${keeper}`;
    const attempts = this.o.maxRecoveryAttempts ?? 5;
    for (let i = 1; i <= attempts; i++) {
      try {
        await this.c.hypervisor.fence(vmId, reason);
        await this.c.replica.recordAudit('fence', { conflictId: record.id, vmId, keeper, attempt: i, ok: true }, record.resourceId);
        await this.c.leases?.release(vmId).catch(() => undefined); // unreleased, the lease runs out
        return;
      } catch (err) {
        await this.c.replica.recordAudit('fence', { conflictId: record.id, vmId, keeper, attempt: i, ok: false, error: String(err) }, record.resourceId);
        if (i === attempts) this.c.onFenceFailed?.(vmId, err);
      }
    }
  }
}

/**
 * The Paxos key of a conflict's decision: `conflict:<id>`. A conflict id is derived from its versions,
 * but some records (a causal violation) keep the id of the versions that raised them while their
 * candidate list grows, so nodes can hold the same id with different candidates. A decision must
 * dominate every candidate of the record it closes, so such a record gets a key of its own candidate
 * set: a decision made for other candidates (which it could not apply) does not block it forever.
 */
export function decisionKey(record: Pick<ConflictRecord, 'id' | 'resourceId' | 'type' | 'candidates'>): string {
  const ids = record.candidates.map((c) => c.id);
  const plain = conflictId(record.resourceId, ids);
  if (record.id === plain || record.id === conflictId(record.resourceId, ids, `findings:${record.type}`)) return `conflict:${record.id}`;
  return `conflict:${record.id}:${plain}`;
}

/** Two or more candidates running on different hosts. */
export function isSplitBrain(record: Pick<ConflictRecord, 'candidates' | 'resourceId'>): boolean {
  if (!record.resourceId.startsWith('vm/')) return false;
  const hosts = new Set<string>();
  for (const c of record.candidates) {
    const d = c.data as { host?: unknown; power_state?: unknown } | null;
    if (!c.deleted && d?.power_state === 'running' && typeof d.host === 'string') hosts.add(d.host);
  }
  return hosts.size > 1;
}
