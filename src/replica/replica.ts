/**
 * The replica: the replication state machine a node *is*. It turns local writes into durable, then
 * gossiped versions; runs remote versions through the detector and the policy; keeps per-resource
 * version sets, a bounded ancestor history, the conflict records and the audit log. It talks to the
 * world only through the ports (ports.ts) and is deterministic given its inputs.
 */
import { HlcClock, type Hlc } from '../core/clock/hlc.js';
import { VectorClock } from '../core/clock/vector-clock.js';
import { ClusterIndex } from '../core/conflict/cluster-index.js';
import { findingsToConflict } from '../core/conflict/cluster-index.js';
import { ConflictDetector } from '../core/conflict/detector.js';
import type { Conflict, ConflictType, Severity } from '../core/conflict/types.js';
import { createVersion, versionFromJSON, versionToJSON, type Version, type VersionJSON } from '../core/conflict/version.js';
import { DwcpError } from '../core/errors.js';
import type { DecisionRecord, StrategyName, StrategyResult } from '../core/resolve/types.js';
import { parseHostRecord, parseVmState, type VMState } from '../core/vm/state.js';
import { AuditLog } from './audit-log.js';
import { decodeGossip, encodeGossip, MAX_BATCH_VERSIONS, type VersionSetRecord } from './codec.js';
import { ConflictStateError, NotFoundError, ReadOnlyError, StaleContextError } from './errors.js';
import { CRDT_PREFIX, mergeCrdtVersions } from './crdt-resource.js';
import { DigestIndex, setHash } from './digest.js';
import { TypedEmitter } from './events.js';
import type { Clock, Hypervisor, Store, StoreOp, TimerHandle, Transport } from './ports.js';
import { decodeRecord, encodeRecord, RecordKind } from './record-codec.js';
import { classifyAgainstSet, commonAncestor, sortedSet } from './version-set.js';

/** Runs the policy on a conflict (the policy engine, composed in by the agent or the simulator). */
export type Resolver = (
  conflict: Conflict,
  input: { readonly ancestor?: Version | undefined; readonly lastKnownGood?: Version | undefined; readonly now: number },
) => { readonly result: StrategyResult; readonly record: DecisionRecord };

export type ConflictStatus = 'pending' | 'resolved' | 'failed';

/** What the replica knows about one conflict (API and CLI view). */
export interface ConflictRecord {
  readonly id: string;
  readonly resourceId: string;
  readonly type: ConflictType;
  readonly severity: Severity;
  readonly complexity: number;
  readonly strategy: StrategyName;
  readonly status: ConflictStatus;
  readonly detectedAt: number;
  readonly resolvedAt?: number;
  readonly candidates: readonly VersionJSON[];
  readonly decision: DecisionRecord;
}

/** Optional hooks for metrics (observe/ implements them; the replica does not import prom-client). */
export interface ReplicaObserver {
  conflictDetected?(c: { type: ConflictType; severity: Severity; resourceId: string }): void;
  /** A pending conflict was closed (operator, quorum, superseding write); latency from detection. */
  pendingClosed?(c: { strategy: StrategyName; latencyMs: number; resourceId: string }): void;
  /** A conflict went to the pending queue (manual intervention, or waiting for a quorum). */
  conflictPending?(c: { strategy: StrategyName; outcome: string; resourceId: string }): void;
  conflictResolved?(c: { strategy: StrategyName; outcome: string; latencyMs: number; resourceId: string }): void;
  splitBrain?(resourceId: string, hosts: readonly string[]): void;
  remoteVersion?(outcome: 'stale' | 'duplicate' | 'fast_forward' | 'concurrent' | 'causal_violation'): void;
  gossip?(direction: 'in' | 'out' | 'rejected', versions: number, bytes: number): void;
  storeError?(err: unknown): void;
  quarantined?(sublevel: string, key: string): void;
}

export interface ReplicaEvents extends Record<string, unknown> {
  write: { version: Version };
  applied: { version: Version; from: string };
  conflict: { record: ConflictRecord };
  decision: { record: ConflictRecord };
  'split-brain': { resourceId: string; hosts: readonly string[]; conflictId: string };
  degraded: { reason: string };
  rejected: { from: string; reason: string };
}

export interface ReplicaOptions {
  readonly nodeId: string;
  /** Superseded versions kept per resource, for three-way merges and rollback. */
  readonly historyLimit?: number;
  /** Gossip batching: flush after this many ms, or at `gossipMaxBatch` versions. */
  readonly gossipFlushMs?: number;
  readonly gossipMaxBatch?: number;
  /** Remote HLC timestamps further ahead of local time than this are refused. */
  readonly maxDriftMs?: number;
  readonly overcommit?: { readonly cpu: number; readonly memory: number };
}

export interface ReplicaComponents {
  readonly store: Store;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly hypervisor: Hypervisor;
  readonly resolver: Resolver;
  readonly detector?: ConflictDetector;
  readonly observer?: ReplicaObserver;
}

export interface ReadResult {
  readonly resourceId: string;
  /** The current maximal versions (one normally; several while siblings exist). */
  readonly versions: readonly Version[];
  readonly conflict?: ConflictRecord;
}

export interface PutOptions {
  /** The clock the client read; the write must cover every current version (else StaleContextError). */
  readonly context?: VectorClock;
  readonly deleted?: boolean;
}

interface ResourceState {
  versions: Version[];
  conflictId?: string;
  history: Version[];
}

const DEFAULTS = { historyLimit: 8, gossipFlushMs: 5, gossipMaxBatch: 512, maxDriftMs: 60_000 };

export class Replica extends TypedEmitter<ReplicaEvents> {
  readonly nodeId: string;
  private readonly opts: Required<Omit<ReplicaOptions, 'overcommit'>>;
  private readonly c: ReplicaComponents;
  private readonly detector: ConflictDetector;
  readonly index: ClusterIndex;
  readonly audit: AuditLog;
  /** Hash-bucket summary of every version set (anti-entropy). */
  readonly digest = new DigestIndex();
  private readonly hlc: HlcClock;
  private readonly resources = new Map<string, ResourceState>();
  private readonly conflicts = new Map<string, ConflictRecord>();
  private outbox: Version[] = [];
  private flushTimer: TimerHandle | undefined;
  private started = false;
  private degradedReason: string | undefined;
  /** Records quarantined at load (sublevel/key). */
  readonly quarantined: string[] = [];

  constructor(options: ReplicaOptions, components: ReplicaComponents) {
    super();
    this.nodeId = options.nodeId;
    this.opts = {
      nodeId: options.nodeId,
      historyLimit: options.historyLimit ?? DEFAULTS.historyLimit,
      gossipFlushMs: options.gossipFlushMs ?? DEFAULTS.gossipFlushMs,
      gossipMaxBatch: Math.min(options.gossipMaxBatch ?? DEFAULTS.gossipMaxBatch, MAX_BATCH_VERSIONS),
      maxDriftMs: options.maxDriftMs ?? DEFAULTS.maxDriftMs,
    };
    this.c = components;
    this.detector = components.detector ?? new ConflictDetector();
    this.index = new ClusterIndex(options.overcommit ? { overcommit: options.overcommit } : {});
    this.audit = new AuditLog(components.store);
    this.hlc = new HlcClock({ maxDriftMs: this.opts.maxDriftMs });
  }

  // ---------------------------------------------------------------- lifecycle

  /** Load state from the store and start receiving. The store must be open. Idempotent. */
  async start(): Promise<void> {
    if (this.started) return;
    await this.audit.load();
    await this.load();
    this.c.transport.onMessage((from, payload) => this.receive(from, payload));
    this.started = true;
  }

  /** Flush gossip, wait for durable writes, stop timers. The caller closes the store afterwards. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.flushGossip();
    if (this.flushTimer) this.c.clock.clearTimer(this.flushTimer);
    this.flushTimer = undefined;
    await this.pendingWrites;
  }

  get readOnly(): string | undefined {
    return this.degradedReason;
  }

  // ---------------------------------------------------------------- reads

  get(resourceId: string): ReadResult | undefined {
    const rs = this.resources.get(resourceId);
    if (!rs || rs.versions.length === 0) return undefined;
    const conflict = rs.conflictId ? this.conflicts.get(rs.conflictId) : undefined;
    return conflict ? { resourceId, versions: rs.versions, conflict } : { resourceId, versions: rs.versions };
  }

  /** Resource ids with a given prefix (e.g. `vm/`), sorted. */
  list(prefix = ''): string[] {
    const out: string[] = [];
    for (const [id, rs] of this.resources) if (id.startsWith(prefix) && rs.versions.length > 0) out.push(id);
    return out.sort();
  }

  /** The current versions of a resource (empty if unknown). */
  versionsOf(resourceId: string): readonly Version[] {
    return this.resources.get(resourceId)?.versions ?? [];
  }

  /** The history (superseded ancestors, oldest first) of a resource. */
  history(resourceId: string): readonly Version[] {
    return this.resources.get(resourceId)?.history ?? [];
  }

  conflictList(status: ConflictStatus | 'all' = 'all'): ConflictRecord[] {
    const out = [...this.conflicts.values()].filter((c) => status === 'all' || c.status === status);
    return out.sort((a, b) => a.detectedAt - b.detectedAt || (a.id < b.id ? -1 : 1));
  }

  conflict(id: string): ConflictRecord | undefined {
    return this.conflicts.get(id);
  }

  /** The join of the clocks of every current version: what a client "read" (its causal context). */
  contextOf(resourceId: string): VectorClock {
    return VectorClock.joinAll((this.resources.get(resourceId)?.versions ?? []).map((v) => v.clock));
  }

  // ---------------------------------------------------------------- local writes

  /** Write a VM state (validated and normalised). Resolves once durable; then it is gossiped. */
  async putVm(vm: unknown, options: PutOptions = {}): Promise<Version<VMState>> {
    const state = parseVmState(vm);
    return (await this.put(`vm/${state.id}`, state, options)) as Version<VMState>;
  }

  /**
   * Write any resource. Without a context the write supersedes every current version; with one, it
   * must cover them all (StaleContextError otherwise). Acknowledged (resolved) only once synced.
   */
  async put(resourceId: string, data: unknown, options: PutOptions = {}): Promise<Version> {
    this.assertWritable();
    if (resourceId.startsWith('host/') && !options.deleted) parseHostRecord(data);
    const rs = this.state(resourceId);
    const current = VectorClock.joinAll(rs.versions.map((v) => v.clock));
    if (options.context) {
      const o = options.context.compare(current);
      if (o === 'before' || o === 'concurrent') {
        throw new StaleContextError(resourceId, `the context ${options.context.toString() || '{}'} does not cover the current ${current.toString()}`);
      }
    }
    const now = this.c.clock.now();
    const base = options.context ? current.join(options.context) : current;
    const version = createVersion({
      resourceId,
      clock: base.increment(this.nodeId),
      hlc: this.hlc.now(now),
      origin: this.nodeId,
      data: options.deleted ? null : data,
      deleted: options.deleted ?? false,
    });
    const ops: StoreOp[] = [];
    const superseded = rs.versions;
    const openConflict = rs.conflictId ? this.conflicts.get(rs.conflictId) : undefined;
    if (openConflict && openConflict.status === 'pending') {
      ops.push(...this.closeConflict(openConflict, now, `superseded by a local write ${version.id} on ${this.nodeId}`, [version]));
    }
    this.setVersions(resourceId, rs, [version], superseded, undefined, ops);
    ops.push(...this.audit.append('write', now, { set: [version.id], added: [versionToJSON(version)] }, resourceId).ops);
    await this.persist(ops);
    this.emit('write', { version });
    this.enqueueGossip([version]);
    return version;
  }

  /** Delete: a tombstone version, replicated like any write. */
  delete(resourceId: string, options: Omit<PutOptions, 'deleted'> = {}): Promise<Version> {
    if (!this.get(resourceId)) return Promise.reject(new NotFoundError('resource', resourceId));
    return this.put(resourceId, null, { ...options, deleted: true });
  }

  /**
   * An operator's resolution of a pending conflict: pick one candidate (by version id) or give a new
   * value. Either way the result is one new version whose clock dominates every candidate.
   */
  async resolveManually(conflictId: string, choice: { pick: string } | { value: unknown }): Promise<Version> {
    this.assertWritable();
    const record = this.conflicts.get(conflictId);
    if (!record) throw new NotFoundError('conflict', conflictId);
    if (record.status !== 'pending') {
      throw new ConflictStateError(`conflict ${conflictId} is ${record.status}, not pending`, { conflictId, status: record.status });
    }
    const candidates = record.candidates.map((v, i) => versionFromJSON(v, `candidates[${i}]`));
    let data: unknown;
    let deleted = false;
    if ('pick' in choice) {
      const picked = candidates.find((v) => v.id === choice.pick);
      if (!picked) {
        throw new NotFoundError(`version in conflict ${conflictId} (candidates: ${candidates.map((v) => v.id).join(', ')})`, choice.pick);
      }
      data = picked.data;
      deleted = picked.deleted;
    } else {
      data = record.resourceId.startsWith('vm/') ? parseVmState(choice.value) : choice.value;
    }
    const rs = this.state(record.resourceId);
    const now = this.c.clock.now();
    const clock = VectorClock.joinAll([...candidates, ...rs.versions].map((v) => v.clock)).increment(this.nodeId);
    const version = createVersion({ resourceId: record.resourceId, clock, hlc: this.hlc.now(now), origin: this.nodeId, data, deleted });
    const how = 'pick' in choice ? `operator picked ${choice.pick}` : 'operator supplied a new value';
    const ops = this.closeConflict(record, now, how, [version]);
    this.setVersions(record.resourceId, rs, [version], rs.versions, undefined, ops);
    ops.push(...this.audit.append('resolve', now, { conflictId, how, set: [version.id], added: [versionToJSON(version)] }, record.resourceId).ops);
    await this.persist(ops);
    this.enqueueGossip([version]);
    return version;
  }

  /**
   * Apply a decision made once for a pending conflict (a quorum decision, a rollback): `version`
   * dominates every candidate. Closes the conflict with the ballot in its record, stores the version,
   * audits it and gossips it. Idempotent: a decision already applied (or superseded) only closes the record.
   */
  async applyDecided(conflictId: string, version: Version, how: string, ballot?: string): Promise<void> {
    const record = this.conflicts.get(conflictId);
    const rs = this.state(version.resourceId);
    const now = this.c.clock.now();
    const ops: StoreOp[] = [];
    if (record && record.status === 'pending') {
      ops.push(...this.closeConflict(record, now, how, [version], ballot));
    } else if (record && ballot !== undefined && record.decision.ballot === undefined && record.decision.result.some((r) => r.versionId === version.id)) {
      // The decided version arrived by gossip before this node learned the decision: record the ballot too.
      const annotated: ConflictRecord = { ...record, decision: { ...record.decision, ballot, notes: [...record.decision.notes, how] } };
      this.conflicts.set(record.id, annotated);
      ops.push({ type: 'put', sublevel: 'conflicts', key: record.id, value: encodeRecord(RecordKind.conflict, annotated) });
    }
    const outcome = classifyAgainstSet(rs.versions, version);
    if (outcome.kind === 'fast_forward') {
      this.setVersions(version.resourceId, rs, [version], outcome.superseded, undefined, ops);
      ops.push(...this.audit.append('decision', now, { conflictId, how, ballot, set: [version.id], added: [versionToJSON(version)] }, version.resourceId).ops);
      this.enqueueGossip([version]);
    } else if (ops.length > 0) {
      ops.push(...this.audit.append('decision', now, { conflictId, how, ballot, note: `version ${version.id} was ${outcome.kind}` }, version.resourceId).ops);
    }
    if (ops.length > 0) await this.persist(ops);
  }

  /** A timestamp from this node's HLC (for versions it builds as a decider). */
  nextHlc(): Hlc {
    return this.hlc.now(this.c.clock.now());
  }

  /** Append an entry to the audit log (e.g. a fencing action) and make it durable. */
  async recordAudit(kind: string, data: unknown, resourceId?: string): Promise<void> {
    await this.persist(this.audit.append(kind, this.c.clock.now(), data, resourceId).ops);
  }

  // ---------------------------------------------------------------- remote versions

  /** Handle a gossip payload from a peer (also used for anti-entropy pulls). Never throws. */
  receive(from: string, payload: Uint8Array): void {
    let versions: readonly Version[];
    try {
      const batch = decodeGossip(payload);
      versions = batch.versions;
    } catch (err) {
      this.reject(from, err, payload.length);
      return;
    }
    this.c.observer?.gossip?.('in', versions.length, payload.length);
    void this.applyRemote(from, versions).catch((err: unknown) => this.c.observer?.storeError?.(err));
  }

  /** Apply versions received from `from`. Resolves once the resulting state is durable. */
  async applyRemote(from: string, versions: readonly Version[]): Promise<void> {
    const ops: StoreOp[] = [];
    const now = this.c.clock.now();
    for (const v of versions) {
      try {
        this.hlc.update(v.hlc, now);
      } catch (err) {
        this.reject(from, err, 0, v);
        continue;
      }
      this.applyOne(from, v, now, ops);
    }
    if (ops.length > 0) await this.persist(ops);
  }

  private applyOne(from: string, v: Version, now: number, ops: StoreOp[]): void {
    const rs = this.state(v.resourceId);
    const outcome = classifyAgainstSet(rs.versions, v);
    this.c.observer?.remoteVersion?.(outcome.kind);
    switch (outcome.kind) {
      case 'stale':
      case 'duplicate':
        return;
      case 'fast_forward': {
        const open = rs.conflictId ? this.conflicts.get(rs.conflictId) : undefined;
        if (open && open.status === 'pending') ops.push(...this.closeConflict(open, now, `superseded by ${v.id} from ${v.origin}`, [v]));
        this.setVersions(v.resourceId, rs, [v], outcome.superseded, undefined, ops);
        ops.push(...this.audit.append('apply', now, { from, set: [v.id], added: [versionToJSON(v)] }, v.resourceId).ops);
        this.emit('applied', { version: v, from });
        return;
      }
      case 'causal_violation': {
        const d = this.detector.detectConflict(v.resourceId, outcome.existing, v, now);
        if (d.outcome !== 'causal_violation') return;
        this.handleConflict(v.resourceId, rs, d.conflict, [...rs.versions, v], [], now, ops, from);
        return;
      }
      case 'concurrent': {
        const candidates = sortedSet([...outcome.concurrent, v]);
        if (v.resourceId.startsWith(CRDT_PREFIX)) {
          // CRDTs merge without conflicts: one version, the join of the states and of the clocks.
          const merged = mergeCrdtVersions(candidates);
          if (merged) {
            this.setVersions(v.resourceId, rs, [merged], [...outcome.superseded, ...outcome.concurrent], undefined, ops);
            ops.push(...this.audit.append('merge', now, { from, set: [merged.id], added: [versionToJSON(v), versionToJSON(merged)] }, v.resourceId).ops);
            this.emit('applied', { version: merged, from });
            return;
          }
        }
        const conflict =
          candidates.length === 2
            ? this.detector.detectConflict(v.resourceId, outcome.concurrent[0]!, v, now)
            : { outcome: 'concurrent' as const, conflict: this.detector.classify(v.resourceId, candidates, now) };
        if (conflict.outcome !== 'concurrent' && conflict.outcome !== 'causal_violation') return;
        this.handleConflict(v.resourceId, rs, conflict.conflict, candidates, outcome.superseded, now, ops, from);
        return;
      }
    }
  }

  /** Run the policy on a detected conflict and apply what it decides. */
  private handleConflict(
    resourceId: string,
    rs: ResourceState,
    conflict: Conflict,
    candidates: Version[],
    superseded: readonly Version[],
    now: number,
    ops: StoreOp[],
    from: string,
  ): void {
    this.c.observer?.conflictDetected?.({ type: conflict.type, severity: conflict.severity, resourceId });
    const splitHosts = splitBrainHosts(candidates);
    const history = [...rs.history, ...superseded];
    const ancestor = commonAncestor(history, candidates);
    const lastKnownGood = this.lastKnownGood(history);
    const t0 = this.mono();
    let decided = this.c.resolver(conflict, { ancestor, lastKnownGood, now });
    let effective = conflict;
    // A merged VM state is checked against the invariants before it is accepted.
    if (decided.result.outcome === 'resolved' && resourceId.startsWith('vm/') && !decided.result.version.deleted) {
      const findings = this.checkVm(decided.result.version.data);
      if (findings.length > 0) {
        effective = findingsToConflict(resourceId, candidates, findings, now);
        this.c.observer?.conflictDetected?.({ type: effective.type, severity: effective.severity, resourceId });
        decided = this.c.resolver(effective, { ancestor, lastKnownGood, now });
      }
    }
    const { result, record: decision } = decided;
    let nextSet: Version[];
    let status: ConflictStatus;
    switch (result.outcome) {
      case 'resolved':
        nextSet = [result.version];
        status = 'resolved';
        break;
      case 'siblings':
        nextSet = sortedSet(result.versions);
        status = 'resolved';
        break;
      case 'deferred':
        // Manual, rollback and consensus decisions are made once (operator or quorum); until then
        // every candidate is kept as a sibling so nothing acknowledged is lost.
        nextSet = candidates;
        status = 'pending';
        break;
    }
    const record: ConflictRecord = {
      id: effective.id,
      resourceId,
      type: effective.type,
      severity: effective.severity,
      complexity: effective.complexity,
      strategy: decision.strategy,
      status,
      detectedAt: now,
      ...(status === 'resolved' ? { resolvedAt: now } : {}),
      candidates: candidates.map(versionToJSON),
      decision,
    };
    const prior = rs.conflictId ? this.conflicts.get(rs.conflictId) : undefined;
    if (prior && prior.status === 'pending' && prior.id !== record.id) {
      ops.push(...this.closeConflict(prior, now, `superseded by conflict ${record.id}`, nextSet));
    }
    this.conflicts.set(record.id, record);
    ops.push({ type: 'put', sublevel: 'conflicts', key: record.id, value: encodeRecord(RecordKind.conflict, record) });
    if (status === 'pending') ops.push({ type: 'put', sublevel: 'pending', key: record.id, value: encodeRecord(RecordKind.pending, { resourceId }) });
    const replaced = rs.versions.filter((x) => !nextSet.includes(x));
    this.setVersions(resourceId, rs, nextSet, replaced, status === 'pending' ? record.id : undefined, ops);
    const added = nextSet.map(versionToJSON);
    ops.push(...this.audit.append('conflict', now, { from, conflictId: record.id, decision, set: nextSet.map((x) => x.id), added }, resourceId).ops);
    this.emit('conflict', { record });
    if (status === 'pending') this.c.observer?.conflictPending?.({ strategy: decision.strategy, outcome: decision.outcome, resourceId });
    if (status === 'resolved') {
      this.c.observer?.conflictResolved?.({ strategy: decision.strategy, outcome: decision.outcome, latencyMs: this.mono() - t0, resourceId });
      this.emit('decision', { record });
    }
    if (splitHosts) {
      this.c.observer?.splitBrain?.(resourceId, splitHosts);
      this.emit('split-brain', { resourceId, hosts: splitHosts, conflictId: record.id });
    }
  }

  private mono(): number {
    return this.c.clock.monotonic ? this.c.clock.monotonic() : this.c.clock.now();
  }

  private lastKnownGood(history: readonly Version[]): Version | undefined {
    for (let i = history.length - 1; i >= 0; i--) {
      const h = history[i]!;
      if (h.deleted || !h.resourceId.startsWith('vm/')) return h;
      if (this.checkVm(h.data).length === 0) return h;
    }
    return undefined;
  }

  private checkVm(data: unknown): ReturnType<ClusterIndex['check']> {
    try {
      return this.index.check(parseVmState(data));
    } catch {
      return [];
    }
  }

  private closeConflict(record: ConflictRecord, now: number, how: string, result: readonly Version[], ballot?: string): StoreOp[] {
    const decision: DecisionRecord = {
      ...record.decision,
      outcome: 'resolved',
      result: result.map((v) => ({
        versionId: v.id,
        clock: v.clock.toJSON(),
        hlc: v.hlc,
        origin: v.origin,
        digest: v.digest,
        deleted: v.deleted,
      })),
      notes: [...record.decision.notes, how],
      ...(ballot !== undefined ? { ballot } : {}),
      decidedAt: now,
    };
    const closed: ConflictRecord = { ...record, status: 'resolved', resolvedAt: now, decision };
    this.conflicts.set(record.id, closed);
    this.c.observer?.pendingClosed?.({ strategy: record.strategy, latencyMs: now - record.detectedAt, resourceId: record.resourceId });
    this.emit('decision', { record: closed });
    return [
      { type: 'put', sublevel: 'conflicts', key: record.id, value: encodeRecord(RecordKind.conflict, closed) },
      { type: 'del', sublevel: 'pending', key: record.id },
    ];
  }

  // ---------------------------------------------------------------- state, persistence, gossip

  private state(resourceId: string): ResourceState {
    let rs = this.resources.get(resourceId);
    if (!rs) {
      rs = { versions: [], history: [] };
      this.resources.set(resourceId, rs);
    }
    return rs;
  }

  /** Replace a resource's version set in memory and queue the store operations. */
  private setVersions(
    resourceId: string,
    rs: ResourceState,
    next: Version[],
    superseded: readonly Version[],
    conflictId: string | undefined,
    ops: StoreOp[],
  ): void {
    rs.versions = next;
    if (conflictId === undefined) delete rs.conflictId;
    else rs.conflictId = conflictId;
    if (superseded.length > 0) {
      rs.history = [...rs.history, ...superseded.filter((s) => !next.includes(s))].slice(-this.opts.historyLimit);
      ops.push({ type: 'put', sublevel: 'history', key: resourceId, value: encodeRecord(RecordKind.history, rs.history.map(versionToJSON)) });
    }
    const rec: VersionSetRecord = conflictId ? { versions: next.map(versionToJSON), conflictId } : { versions: next.map(versionToJSON) };
    ops.push({ type: 'put', sublevel: 'versions', key: resourceId, value: encodeRecord(RecordKind.versionSet, rec) });
    this.reindex(resourceId, next);
    this.digest.set(resourceId, next.length > 0 ? setHash(resourceId, next) : undefined);
  }

  private reindex(resourceId: string, set: readonly Version[]): void {
    const top = set[set.length - 1];
    try {
      if (resourceId.startsWith('vm/')) {
        const id = resourceId.slice(3);
        if (!top || top.deleted) this.index.removeVm(id);
        else this.index.upsertVm(parseVmState(top.data));
      } else if (resourceId.startsWith('host/') && top && !top.deleted) {
        this.index.upsertHost(parseHostRecord(top.data));
      }
    } catch {
      // Data that does not parse as a VM/host is replicated but not indexed.
    }
  }

  private pendingWrites: Promise<void> = Promise.resolve();

  private async persist(ops: StoreOp[]): Promise<void> {
    const write = this.c.store.write(ops);
    this.pendingWrites = write.then(
      () => undefined,
      () => undefined,
    );
    try {
      await write;
    } catch (err) {
      this.c.observer?.storeError?.(err);
      this.degrade(`store write failed: ${err instanceof Error ? err.message : String(err)}`);
      throw err;
    }
  }

  private degrade(reason: string): void {
    if (this.degradedReason) return;
    this.degradedReason = reason;
    this.emit('degraded', { reason });
  }

  private assertWritable(): void {
    if (this.degradedReason) throw new ReadOnlyError(this.degradedReason);
  }

  private enqueueGossip(versions: readonly Version[]): void {
    this.outbox.push(...versions);
    if (this.outbox.length >= this.opts.gossipMaxBatch) {
      this.flushGossip();
      return;
    }
    this.flushTimer ??= this.c.clock.setTimer(this.opts.gossipFlushMs, () => {
      this.flushTimer = undefined;
      this.flushGossip();
    });
  }

  /** Publish queued versions now (batched: one message per `gossipMaxBatch` versions). */
  flushGossip(): void {
    while (this.outbox.length > 0) {
      const batch = this.outbox.splice(0, this.opts.gossipMaxBatch);
      const payload = encodeGossip(this.nodeId, batch);
      this.c.transport.publish(payload);
      this.c.observer?.gossip?.('out', batch.length, payload.length);
    }
  }

  private reject(from: string, err: unknown, bytes: number, v?: Version): void {
    const reason = err instanceof Error ? err.message : String(err);
    this.c.observer?.gossip?.('rejected', 1, bytes);
    this.emit('rejected', { from, reason });
    const code = err instanceof DwcpError ? err.code : 'ERR_UNKNOWN';
    const entry = this.audit.append('rejected', this.c.clock.now(), { from, code, reason, versionId: v?.id }, v?.resourceId);
    void this.c.store.write(entry.ops).catch((e: unknown) => this.c.observer?.storeError?.(e));
  }

  /** Load version sets, history and conflicts; quarantine what does not decode. */
  private async load(): Promise<void> {
    const bad: StoreOp[] = [];
    const quarantine = (sublevel: 'versions' | 'history' | 'conflicts', key: string, value: Uint8Array, err: unknown): void => {
      const reason = err instanceof Error ? err.message : String(err);
      this.quarantined.push(`${sublevel}/${key}`);
      this.c.observer?.quarantined?.(sublevel, key);
      bad.push({ type: 'put', sublevel: 'quarantine', key: `${sublevel}/${key}`, value });
      bad.push({ type: 'del', sublevel, key });
      bad.push(...this.audit.append('quarantine', this.c.clock.now(), { sublevel, key, reason }).ops);
    };
    let maxHlc: Hlc = { wall: 0, logical: 0 };
    for await (const { key, value } of this.c.store.range('versions')) {
      try {
        const rec = decodeRecord(value, RecordKind.versionSet, 'versions', key) as VersionSetRecord;
        const versions = rec.versions.map((v, i) => versionFromJSON(v, `versions/${key}[${i}]`));
        const rs = this.state(key);
        rs.versions = sortedSet(versions);
        if (rec.conflictId) rs.conflictId = rec.conflictId;
        this.reindex(key, rs.versions);
        this.digest.set(key, rs.versions.length > 0 ? setHash(key, rs.versions) : undefined);
        for (const v of versions) if (v.hlc.wall > maxHlc.wall || (v.hlc.wall === maxHlc.wall && v.hlc.logical > maxHlc.logical)) maxHlc = v.hlc;
      } catch (err) {
        if (!(err instanceof DwcpError)) throw err;
        quarantine('versions', key, value, err);
      }
    }
    for await (const { key, value } of this.c.store.range('history')) {
      try {
        const list = decodeRecord(value, RecordKind.history, 'history', key) as VersionJSON[];
        this.state(key).history = list.map((v, i) => versionFromJSON(v, `history/${key}[${i}]`));
      } catch (err) {
        if (!(err instanceof DwcpError)) throw err;
        quarantine('history', key, value, err);
      }
    }
    for await (const { key, value } of this.c.store.range('conflicts')) {
      try {
        this.conflicts.set(key, decodeRecord(value, RecordKind.conflict, 'conflicts', key) as ConflictRecord);
      } catch (err) {
        if (!(err instanceof DwcpError)) throw err;
        quarantine('conflicts', key, value, err);
      }
    }
    this.hlc.update(maxHlc, Math.max(this.c.clock.now(), maxHlc.wall));
    if (bad.length > 0) await this.persist(bad);
  }
}

/** Hosts of a split-brain: two or more candidates `running` on different hosts. */
function splitBrainHosts(candidates: readonly Version[]): string[] | undefined {
  if (!candidates[0]?.resourceId.startsWith('vm/')) return undefined;
  const hosts = new Set<string>();
  for (const v of candidates) {
    const d = v.data as { power_state?: unknown; host?: unknown } | null;
    if (!v.deleted && d && d.power_state === 'running' && typeof d.host === 'string') hosts.add(d.host);
  }
  return hosts.size > 1 ? [...hosts].sort() : undefined;
}
