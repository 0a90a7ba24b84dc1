/**
 * The replica: the replication state machine a node *is*. It turns local writes into durable, then
 * gossiped versions; runs remote versions through the detector and the policy; keeps per-resource
 * version sets, a bounded ancestor history, the conflict records and the audit log. It talks to the
 * world only through the ports (ports.ts) and is deterministic given its inputs.
 */
import { HlcClock, type Hlc } from '../core/clock/hlc.js';
import { VectorClock } from '../core/clock/vector-clock.js';
import { ClusterIndex } from '../core/conflict/cluster-index.js';
import { findingsToConflict, type Contention } from '../core/conflict/cluster-index.js';
import { ConflictDetector } from '../core/conflict/detector.js';
import type { Conflict, ConflictType, Severity } from '../core/conflict/types.js';
import { canonicalJson } from '../core/codec/canonical.js';
import { createVersion, createVersionOfText, digestOfCanonicalText, versionFromJSON, versionToJSON, type Version, type VersionJSON } from '../core/conflict/version.js';
import { ClockDriftError, DwcpError } from '../core/errors.js';
import type { DecisionRecord, StrategyName, StrategyResult } from '../core/resolve/types.js';
import { parseHostRecord, parseVmState, parseVmStateText, type VMState } from '../core/vm/state.js';
import { AuditLog, auditKey, type AuditEntry } from './audit-log.js';
import { decodeGossip, GOSSIP_FORMAT, MAX_BATCH_VERSIONS, type GossipBatch, type VersionSetRecord } from './codec.js';
import { ConflictStateError, NotFoundError, ReadOnlyError, StaleContextError } from './errors.js';
import { CorruptRecordError } from './store-errors.js';
import { CRDT_PREFIX, mergeCrdtVersions } from './crdt-resource.js';
import { DigestIndex, setHash } from './digest.js';
import { TypedEmitter } from './events.js';
import type { Clock, Hypervisor, Store, StoreOp, TimerHandle, Transport } from './ports.js';
import { decodeRecord, encodeRecord, encodeRecordParts, encodeRecordText, RecordKind } from './record-codec.js';
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
  /** A VM shares an IP, MAC or disk with another VM (checked for every new VM version; `id` is the same on every node). */
  contention: Contention;
}

export interface ReplicaOptions {
  readonly nodeId: string;
  /** Superseded versions kept per resource (in the store), for three-way merges and rollback. */
  readonly historyLimit?: number;
  /**
   * How many of those are also held in memory (the newest); the rest is read from the store when a
   * conflict needs it. A resource with a pending conflict keeps all of its history in memory.
   */
  readonly historyInMemory?: number;
  /** Gossip batching: flush after this many ms, or at `gossipMaxBatch` versions. */
  readonly gossipFlushMs?: number;
  readonly gossipMaxBatch?: number;
  /**
   * Under sustained writes, at most one gossip message per interval: a flush waits until this long
   * after the previous one, so batches grow with the write rate instead of the message rate. Each
   * message costs every receiver a fixed share of libp2p work (decryption, signature check, RPC
   * decoding, forwarded duplicates), so the interval grows with the number of peers and the work
   * all receivers do for one writer's messages stays about the same as the cluster grows: the
   * interval is max(`gossipMinIntervalMs`, `gossipIntervalPerPeerMs` × connected peers) (defaults
   * 15 and 4: 16 ms with 4 peers, 36 ms with 9; gossip.propagation.5 / .10 p99 40-42 / 155-198 ms,
   * against 51-52 / 124-204 ms with 20 and 5). A write after a quiet spell still goes out
   * `gossipFlushMs` later.
   */
  readonly gossipMinIntervalMs?: number;
  readonly gossipIntervalPerPeerMs?: number;
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

const NO_VERSIONS: readonly Version[] = Object.freeze([]);

interface ConflictHistory {
  readonly ancestor: Version | undefined;
  readonly lastKnownGood: Version | undefined;
}

/**
 * A resource's state and history (superseded versions, oldest first, at most `historyLimit`); `hist`
 * holds the newest of them in memory (all of them when `histAll`).
 *
 * The history is not stored apart: it is the audit log. The audit entry that records a set lists every
 * version of it in its `added`, and names in `prior` the entry that recorded the set before it, so the
 * history is read by walking back from `auditSeq` (see {@link Replica.readHistory}). Sets recorded
 * before releases kept `auditSeq` have no known entry: the versions they lose are copied into history
 * entries, one per key `<resourceId>\u0000<seq>`, `histLo <= seq < histHi` live (the range is kept in
 * the version set record); those are older than anything the chain reaches.
 */
class ResourceState {
  versions: Version[] = [];
  conflictId: string | undefined = undefined;
  /** The audit entry that recorded the current set (every version of it in its `added`); 0: unknown. */
  auditSeq = 0;
  hist: readonly Version[] = NO_VERSIONS;
  /** How many versions the whole history holds (at most `historyLimit`), if known; -1: unknown (not read since start). */
  histCount = 0;
  histLo = 0;
  histHi = 0;
  histAll = true;
  /** History loads in flight (the in-memory part is not trimmed meanwhile). */
  loading = 0;
}

/** The stored form of a version set (codec.ts's VersionSetRecord plus the history range). */
interface StoredVersionSet extends VersionSetRecord {
  /** Copied history entries (sets whose audit entry was not known): sequence numbers [from, to). */
  readonly history?: readonly [number, number];
  /** The top version's data was a valid VM state (parseVmState) when the record was written. */
  readonly indexed?: boolean;
  /** The audit entry that recorded this set (absent in records of earlier releases). */
  readonly audit?: number;
}

const HISTORY_FORMAT_KEY = 'history-format';
/** Copied history: one entry per superseded version (format 2); format 1 kept one list per resource. */
const HISTORY_FORMAT = 2;
const HISTORY_SEQ_DIGITS = 12;

function historyKey(resourceId: string, seq: number): string {
  return `${resourceId}\u0000${String(seq).padStart(HISTORY_SEQ_DIGITS, '0')}`;
}

/**
 * A version's JSON text, the document versionToJSON gives (same fields, same order; the clock's
 * entries sorted by node id), written directly rather than through an intermediate object:
 * serialised once per write and spliced into records and gossip. `dataText`: the data's JSON text
 * if the caller has it (a local write has its canonical text, which its digest hashed).
 */
function versionJson(v: Version, dataText?: string): string {
  let clock = '{';
  for (const [k, n] of v.clock.entries()) clock += (clock.length > 1 ? ',' : '') + JSON.stringify(k) + ':' + String(n);
  return (
    `{"id":${JSON.stringify(v.id)},"resourceId":${JSON.stringify(v.resourceId)},"clock":${clock}},` +
    `"hlc":{"wall":${JSON.stringify(v.hlc.wall)},"logical":${JSON.stringify(v.hlc.logical)}},"origin":${JSON.stringify(v.origin)},` +
    `"data":${dataText ?? JSON.stringify(v.data)},"digest":${JSON.stringify(v.digest)}${v.deleted ? ',"deleted":true}' : '}'}`
  );
}

const UNSYNCED = Object.freeze({ sync: false });

/** The `prior` member of a set's audit entry (absent when the previous set's entry is not known). */
function priorField(prior: number): { prior?: number } {
  return prior > 0 ? { prior } : {};
}

function ignore(): void {}

/** What an async function that threw `err` would return. */
function rejection(err: unknown): Promise<never> {
  return Promise.reject(err instanceof Error ? err : new Error(String(err)));
}

/** Wait until a promise settles, whichever way. */
function settled(p: Promise<unknown>): Promise<void> {
  return p.then(ignore, ignore);
}

const DEFAULTS = { historyLimit: 8, historyInMemory: 2, gossipFlushMs: 5, gossipMaxBatch: 512, gossipMinIntervalMs: 15, gossipIntervalPerPeerMs: 4, maxDriftMs: 60_000 };

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
  /** Resource states; a resource loaded as a single version (no history, no conflict) is just that version. */
  private readonly resources = new Map<string, ResourceState | Version>();
  private readonly conflicts = new Map<string, ConflictRecord>();
  private outbox: Version[] = [];
  /** The outbox versions' JSON texts where the write at hand had them (spliced into the payload). */
  private outboxJson: Array<string | undefined> = [];
  /** Resources loaded as one bare version: the audit entry that recorded it (ResourceState.auditSeq). */
  private readonly loadedAuditSeq = new Map<string, number>();
  private flushTimer: TimerHandle | undefined;
  /** When gossip was last flushed (`clock.now()`), for `gossipMinIntervalMs`. */
  private lastGossipAt = -Infinity;
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
      historyInMemory: Math.max(0, Math.min(options.historyInMemory ?? DEFAULTS.historyInMemory, options.historyLimit ?? DEFAULTS.historyLimit)) || 0,
      gossipFlushMs: options.gossipFlushMs ?? DEFAULTS.gossipFlushMs,
      gossipMaxBatch: Math.min(options.gossipMaxBatch ?? DEFAULTS.gossipMaxBatch, MAX_BATCH_VERSIONS),
      gossipMinIntervalMs: options.gossipMinIntervalMs ?? DEFAULTS.gossipMinIntervalMs,
      gossipIntervalPerPeerMs: options.gossipIntervalPerPeerMs ?? DEFAULTS.gossipIntervalPerPeerMs,
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
    await settled(this.pendingWrites);
  }

  get readOnly(): string | undefined {
    return this.degradedReason;
  }

  // ---------------------------------------------------------------- reads

  get(resourceId: string): ReadResult | undefined {
    const rs = this.resources.get(resourceId);
    if (rs === undefined) return undefined;
    if (!(rs instanceof ResourceState)) return { resourceId, versions: [rs] };
    if (rs.versions.length === 0) return undefined;
    const conflict = rs.conflictId ? this.conflicts.get(rs.conflictId) : undefined;
    return conflict ? { resourceId, versions: rs.versions, conflict } : { resourceId, versions: rs.versions };
  }

  /** Resource ids with a given prefix (e.g. `vm/`), sorted. */
  list(prefix = ''): string[] {
    const out: string[] = [];
    for (const [id, rs] of this.resources) if (id.startsWith(prefix) && (!(rs instanceof ResourceState) || rs.versions.length > 0)) out.push(id);
    return out.sort();
  }

  /** The current versions of a resource (empty if unknown). */
  versionsOf(resourceId: string): readonly Version[] {
    return this.current(resourceId);
  }

  /** The current versions of a resource, without giving a resource loaded as one version a state object. */
  private current(resourceId: string): readonly Version[] {
    const rs = this.resources.get(resourceId);
    if (rs === undefined) return NO_VERSIONS;
    return rs instanceof ResourceState ? rs.versions : [rs];
  }

  /**
   * The history (superseded ancestors, oldest first) of a resource held in memory: all of it while the
   * resource has a pending conflict (and after {@link loadHistory}), else its newest `historyInMemory`.
   */
  history(resourceId: string): readonly Version[] {
    const rs = this.resources.get(resourceId);
    return rs instanceof ResourceState ? rs.hist : NO_VERSIONS;
  }

  /** The whole stored history of a resource (oldest first), read from the store if need be. */
  async loadHistory(resourceId: string): Promise<readonly Version[]> {
    if (this.loadedAuditSeq.has(resourceId)) this.state(resourceId);
    const rs = this.resources.get(resourceId);
    if (!(rs instanceof ResourceState)) return NO_VERSIONS;
    if (!rs.histAll) await this.readHistory(resourceId, rs);
    return rs.hist;
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
    return VectorClock.joinAll(this.current(resourceId).map((v) => v.clock));
  }

  // ---------------------------------------------------------------- local writes

  /** Write a VM state (validated and normalised). Resolves once durable; then it is gossiped. */
  putVm(vm: unknown, options: PutOptions = {}): Promise<Version<VMState>> {
    let parsed: ReturnType<typeof parseVmStateText>;
    try {
      parsed = parseVmStateText(vm);
    } catch (err) {
      return rejection(err);
    }
    return this.write(`vm/${parsed.state.id}`, parsed.state, options, parsed.text) as Promise<Version<VMState>>;
  }

  /**
   * Write any resource. Without a context the write supersedes every current version; with one, it
   * must cover them all (StaleContextError otherwise). Acknowledged (resolved) only once synced.
   */
  put(resourceId: string, data: unknown, options: PutOptions = {}): Promise<Version> {
    return this.write(resourceId, data, options);
  }

  /**
   * `put`; `vmText`: the data is a VM state that parseVmStateText returned (it is indexed as it is),
   * and this is its canonical JSON text. Not an async function: what it builds is dropped when it
   * returns, not held (until the write is durable) by a suspended frame, and so dies young.
   */
  private write(resourceId: string, data: unknown, options: PutOptions, vmText?: string): Promise<Version> {
    let written: { version: Version; json: string; durable: Promise<void> };
    try {
      written = this.writeLocal(resourceId, data, options, vmText);
    } catch (err) {
      return rejection(err);
    }
    return this.acknowledge(written.version, written.json, written.durable);
  }

  private async acknowledge(version: Version, json: string, durable: Promise<void>): Promise<Version> {
    await durable;
    this.emit('write', { version });
    this.enqueueGossip([version], json);
    return version;
  }

  /** The synchronous part of {@link write}: the new version, applied in memory and handed to the store. */
  private writeLocal(resourceId: string, data: unknown, options: PutOptions, vmText: string | undefined): { version: Version; json: string; durable: Promise<void> } {
    const parsedVm = vmText !== undefined;
    this.assertWritable();
    if (resourceId.startsWith('host/') && !options.deleted) parseHostRecord(data);
    const rs = this.state(resourceId);
    const current = rs.versions.length === 1 ? rs.versions[0]!.clock : VectorClock.joinAll(rs.versions.map((v) => v.clock));
    if (options.context) {
      const o = options.context.compare(current);
      if (o === 'before' || o === 'concurrent') {
        throw new StaleContextError(resourceId, `the context ${options.context.toString() || '{}'} does not cover the current ${current.toString()}`);
      }
    }
    const now = this.c.clock.now();
    // The data is encoded once: its digest hashes its canonical text, and the same text is the data
    // of the version's stored and gossiped JSON (whose readers parse it: key order means nothing).
    // A tombstone's data is null.
    const deleted = options.deleted ?? false;
    const dataText = deleted ? 'null' : (vmText ?? canonicalJson(data));
    const base = options.context ? current.join(options.context) : current;
    const version = createVersionOfText(
      {
        // The id string the resource's versions already hold (a write's own is a fresh concatenation).
        resourceId: rs.versions.length > 0 ? rs.versions[0]!.resourceId : resourceId,
        clock: base.increment(this.nodeId),
        hlc: this.hlc.now(now),
        origin: this.nodeId,
        data: deleted ? null : data,
        deleted,
      },
      digestOfCanonicalText(dataText, deleted),
    );
    const ops: StoreOp[] = [];
    const superseded = rs.versions;
    const openConflict = rs.conflictId ? this.conflicts.get(rs.conflictId) : undefined;
    if (openConflict && openConflict.status === 'pending') {
      ops.push(...this.closeConflict(openConflict, now, `superseded by a local write ${version.id} on ${this.nodeId}`, [version]));
    }
    const json = versionJson(version, dataText);
    const prior = this.setVersions(resourceId, rs, [version], superseded, undefined, ops, [json], parsedVm && !version.deleted);
    this.auditSet(ops, 'write', now, resourceId, '', version, json, prior);
    return { version, json, durable: this.persist(ops) };
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
    const prior = this.setVersions(record.resourceId, rs, [version], rs.versions, undefined, ops);
    ops.push(...this.audit.append('resolve', now, { conflictId, how, set: [version.id], added: [versionToJSON(version)], ...priorField(prior) }, record.resourceId).ops);
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
      const prior = this.setVersions(version.resourceId, rs, [version], outcome.superseded, undefined, ops);
      ops.push(...this.audit.append('decision', now, { conflictId, how, ballot, set: [version.id], added: [versionToJSON(version)], ...priorField(prior) }, version.resourceId).ops);
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
    let batch: GossipBatch;
    try {
      batch = decodeGossip(payload);
    } catch (err) {
      this.reject(from, err, payload.length);
      return;
    }
    this.c.observer?.gossip?.('in', batch.versions.length, payload.length);
    void this.applyRemote(from, batch.versions, batch.texts).catch((err: unknown) => this.c.observer?.storeError?.(err));
  }

  /**
   * Apply versions received from `from`. Resolves once the resulting state is written (unsynced:
   * see {@link persist}; the next synced write makes it durable). `texts`: the versions' JSON texts
   * as received (decodeGossip), stored and audited as they are instead of serialising the versions.
   *
   * Versions are applied synchronously, in order, as soon as they arrive. The one exception: a
   * conflict that needs history only the store holds (see {@link conflictHistory}). Such history is
   * read before the batch is applied; while a batch waits for it, later batches wait their turn, so
   * batches are still applied in arrival order. Should a version need stored history that the
   * look-ahead did not foresee (one made necessary by an earlier version of the same batch), what the
   * batch did so far is handed to the store (in order, so the audit chain stays in sequence), the
   * history is read and the version is applied again from scratch.
   */
  async applyRemote(from: string, versions: readonly Version[], texts?: readonly string[]): Promise<void> {
    // A batch is applied whole or not at all: one version from too far in the future refuses it.
    const limit = Math.floor(this.c.clock.now()) + this.hlc.maxDriftMs;
    const ahead = versions.find((v) => v.hlc.wall > limit);
    if (ahead) {
      this.reject(from, new ClockDriftError(`version ${ahead.id} of ${ahead.resourceId} is ${ahead.hlc.wall - limit + this.hlc.maxDriftMs} ms ahead of local time (limit ${this.hlc.maxDriftMs} ms): batch refused`), 0, ahead);
      return;
    }
    const writes: Promise<void>[] = [];
    const prev = this.applyTail;
    if (prev === undefined && this.storedHistoryNeeded(versions).length === 0) {
      // The usual case: applied right now, synchronously (the batch awaits only if the look-ahead missed).
      await this.applyBatch(from, versions, texts, writes, false);
    } else {
      const turn = (async (): Promise<void> => {
        if (prev !== undefined) await prev;
        for (const id of this.storedHistoryNeeded(versions)) await this.readHistoryOrReport(id);
        await this.applyBatch(from, versions, texts, writes, true);
      })();
      const tail = turn.then(
        () => undefined,
        () => undefined,
      );
      this.applyTail = tail;
      try {
        await turn;
      } finally {
        if (this.applyTail === tail) this.applyTail = undefined;
      }
    }
    if (writes.length === 1) await writes[0];
    else if (writes.length > 1) await Promise.all(writes);
  }

  /** A batch whose apply phase is waiting for stored history: later batches are applied after it. */
  private applyTail: Promise<void> | undefined;

  /**
   * Apply a batch in order, handing its store operations to `writes`. Synchronous unless a version
   * needs stored history (then, unless `gated` already, the batch holds up later batches meanwhile).
   */
  private async applyBatch(
    from: string,
    versions: readonly Version[],
    texts: readonly string[] | undefined,
    writes: Promise<void>[],
    gated: boolean,
  ): Promise<void> {
    let ops: StoreOp[] = [];
    const now = this.c.clock.now();
    let retry = false;
    let release: (() => void) | undefined;
    try {
      for (let i = 0; i < versions.length; ) {
        const v = versions[i]!;
        if (!retry) {
          try {
            this.hlc.update(v.hlc, now);
          } catch (err) {
            this.reject(from, err, 0, v);
            i++;
            continue;
          }
        }
        if (this.applyOne(from, v, texts?.[i], now, ops, retry)) {
          retry = false;
          i++;
          continue;
        }
        if (!gated && release === undefined) {
          const gate = new Promise<void>((resolve) => (release = resolve));
          this.applyTail = gate;
          const clear = release!;
          release = () => {
            clear();
            if (this.applyTail === gate) this.applyTail = undefined;
          };
        }
        if (ops.length > 0) {
          writes.push(this.persistLater(ops));
          ops = [];
        }
        await this.readHistoryOrReport(v.resourceId);
        retry = true; // the second time, whatever history is in memory is used
      }
    } finally {
      if (ops.length > 0) writes.push(this.persistLater(ops));
      release?.();
    }
  }

  /** persist() of applied remote versions (unsynced), awaited later: meanwhile a failure does not count as an unhandled rejection. */
  private persistLater(ops: StoreOp[]): Promise<void> {
    const write = this.persist(ops, false);
    write.catch(() => undefined);
    return write;
  }

  private async readHistoryOrReport(resourceId: string): Promise<void> {
    try {
      await this.readHistory(resourceId, this.state(resourceId));
    } catch (err) {
      this.c.observer?.storeError?.(err);
    }
  }

  /**
   * Resources whose conflict with a version of the batch, judged against the current state, needs
   * history that only the store holds (a look-ahead: applyOne decides for real).
   */
  private storedHistoryNeeded(versions: readonly Version[]): string[] {
    let out: string[] | undefined;
    for (const v of versions) {
      if (this.loadedAuditSeq.has(v.resourceId)) this.state(v.resourceId); // its history may be in the audit log
      const rs = this.resources.get(v.resourceId);
      if (!(rs instanceof ResourceState) || rs.histAll || v.resourceId.startsWith(CRDT_PREFIX) || out?.includes(v.resourceId)) continue;
      const outcome = classifyAgainstSet(rs.versions, v);
      let needs = false;
      if (outcome.kind === 'causal_violation') needs = !this.conflictHistory(rs, [...rs.versions, v], NO_VERSIONS, false);
      else if (outcome.kind === 'concurrent') needs = !this.conflictHistory(rs, sortedSet([...outcome.concurrent, v]), outcome.superseded, false);
      if (needs) (out ??= []).push(v.resourceId);
    }
    return out ?? [];
  }

  /** Apply one remote version. False: it needs history not in memory yet, and nothing was done. */
  private applyOne(from: string, v: Version, text: string | undefined, now: number, ops: StoreOp[], partialHistory: boolean): boolean {
    const rs = this.state(v.resourceId);
    const outcome = classifyAgainstSet(rs.versions, v);
    switch (outcome.kind) {
      case 'stale':
      case 'duplicate':
        this.c.observer?.remoteVersion?.(outcome.kind);
        return true;
      case 'fast_forward': {
        this.c.observer?.remoteVersion?.(outcome.kind);
        const open = rs.conflictId ? this.conflicts.get(rs.conflictId) : undefined;
        if (open && open.status === 'pending') ops.push(...this.closeConflict(open, now, `superseded by ${v.id} from ${v.origin}`, [v]));
        const json = text ?? versionJson(v);
        const prior = this.setVersions(v.resourceId, rs, [v], outcome.superseded, undefined, ops, [json]);
        this.auditSet(ops, 'apply', now, v.resourceId, `"from":${JSON.stringify(from)},`, v, json, prior);
        this.emit('applied', { version: v, from });
        return true;
      }
      case 'causal_violation': {
        const candidates = [...rs.versions, v];
        const history = this.conflictHistory(rs, candidates, NO_VERSIONS, partialHistory);
        if (!history) return false;
        this.c.observer?.remoteVersion?.(outcome.kind);
        const d = this.detector.detectConflict(v.resourceId, outcome.existing, v, now);
        if (d.outcome !== 'causal_violation') return true;
        this.handleConflict(v.resourceId, rs, d.conflict, candidates, history, now, ops, from);
        return true;
      }
      case 'concurrent': {
        const candidates = sortedSet([...outcome.concurrent, v]);
        if (v.resourceId.startsWith(CRDT_PREFIX)) {
          // CRDTs merge without conflicts: one version, the join of the states and of the clocks.
          const merged = mergeCrdtVersions(candidates);
          if (merged) {
            this.c.observer?.remoteVersion?.(outcome.kind);
            const prior = this.setVersions(v.resourceId, rs, [merged], [...outcome.superseded, ...outcome.concurrent], undefined, ops);
            ops.push(...this.audit.append('merge', now, { from, set: [merged.id], added: [versionToJSON(v), versionToJSON(merged)], ...priorField(prior) }, v.resourceId).ops);
            this.emit('applied', { version: merged, from });
            return true;
          }
        }
        const history = this.conflictHistory(rs, candidates, outcome.superseded, partialHistory);
        if (!history) return false;
        this.c.observer?.remoteVersion?.(outcome.kind);
        const conflict =
          candidates.length === 2
            ? this.detector.detectConflict(v.resourceId, outcome.concurrent[0]!, v, now)
            : { outcome: 'concurrent' as const, conflict: this.detector.classify(v.resourceId, candidates, now) };
        if (conflict.outcome !== 'concurrent' && conflict.outcome !== 'causal_violation') return true;
        this.handleConflict(v.resourceId, rs, conflict.conflict, candidates, history, now, ops, from);
        return true;
      }
    }
  }

  /**
   * The common ancestor and last known good version a conflict is judged with, searched in the
   * resource's history followed by the versions the conflict supersedes; or undefined when older entries that only
   * the store holds are needed. Both are searched newest first, so when the part in memory holds
   * both, the whole history would give the same answer; if it lacks one and more is stored, it is
   * read first (unless `partial`: then what is in memory is used).
   */
  private conflictHistory(
    rs: ResourceState,
    candidates: readonly Version[],
    superseded: readonly Version[],
    partial: boolean,
  ): ConflictHistory | undefined {
    const history = superseded.length === 0 ? rs.hist : [...rs.hist, ...superseded];
    const ancestor = commonAncestor(history, candidates);
    const lastKnownGood = this.lastKnownGood(history);
    if ((ancestor === undefined || lastKnownGood === undefined) && !rs.histAll && !partial) return undefined;
    return { ancestor, lastKnownGood };
  }

  /** Run the policy on a detected conflict and apply what it decides. */
  private handleConflict(
    resourceId: string,
    rs: ResourceState,
    conflict: Conflict,
    candidates: Version[],
    { ancestor, lastKnownGood }: ConflictHistory,
    now: number,
    ops: StoreOp[],
    from: string,
  ): void {
    this.c.observer?.conflictDetected?.({ type: conflict.type, severity: conflict.severity, resourceId });
    const splitHosts = splitBrainHosts(candidates);
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
    const open = rs.conflictId ? this.conflicts.get(rs.conflictId) : undefined;
    if (open && open.status === 'pending' && open.id !== record.id) {
      ops.push(...this.closeConflict(open, now, `superseded by conflict ${record.id}`, nextSet));
    }
    this.conflicts.set(record.id, record);
    ops.push({ type: 'put', sublevel: 'conflicts', key: record.id, value: encodeRecord(RecordKind.conflict, record) });
    if (status === 'pending') ops.push({ type: 'put', sublevel: 'pending', key: record.id, value: encodeRecord(RecordKind.pending, { resourceId }) });
    const replaced = rs.versions.filter((x) => !nextSet.includes(x));
    const prior = this.setVersions(resourceId, rs, nextSet, replaced, status === 'pending' ? record.id : undefined, ops);
    const added = nextSet.map(versionToJSON);
    ops.push(...this.audit.append('conflict', now, { from, conflictId: record.id, decision, set: nextSet.map((x) => x.id), added, ...priorField(prior) }, resourceId).ops);
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
    const entry = this.resources.get(resourceId);
    if (entry instanceof ResourceState) return entry;
    const rs = new ResourceState();
    if (entry !== undefined) {
      rs.versions = [entry];
      const seq = this.loadedAuditSeq.get(resourceId);
      if (seq !== undefined) {
        // Loaded as one version whose set's audit entry is known: its history (if any) is in the audit log.
        rs.auditSeq = seq;
        rs.histCount = -1;
        rs.histAll = false;
        this.loadedAuditSeq.delete(resourceId);
      }
    }
    this.resources.set(resourceId, rs);
    return rs;
  }

  /**
   * Replace a resource's version set in memory and queue the store operations: the set and, only where
   * the previous set's audit entry is not known, a copied history entry per superseded version
   * (deleting those beyond `historyLimit`). `nextJson`: the versions' JSON texts if the caller has
   * them; `parsedVm`: the top version's data came from parseVmState.
   *
   * Every caller appends, right after this and before anything else is audited, the audit entry that
   * records the new set, with every version of the set in its `added` list and, in `prior`, the entry
   * this returns (the one that recorded the previous set; 0 if none is known, not written then). That
   * entry's sequence number is the new set's `auditSeq`.
   */
  private setVersions(
    resourceId: string,
    rs: ResourceState,
    next: Version[],
    superseded: readonly Version[],
    conflictId: string | undefined,
    ops: StoreOp[],
    nextJson?: readonly string[],
    parsedVm = false,
  ): number {
    const recordedIn = rs.auditSeq;
    rs.versions = next;
    rs.conflictId = conflictId;
    rs.auditSeq = this.audit.lastSeq + 1;
    let added = 0;
    for (const s of superseded) {
      if (next.includes(s)) continue;
      if (added === 0) rs.hist = [...rs.hist, s];
      else (rs.hist as Version[]).push(s);
      added++;
      // A version of the previous set is in the audit entry that recorded it, which the new set's entry
      // names as its prior; where that entry is not known, the version is copied into a history entry.
      if (recordedIn === 0) {
        ops.push({ type: 'put', sublevel: 'history', key: historyKey(resourceId, rs.histHi++), value: encodeRecordText(RecordKind.history, versionJson(s)) });
      }
    }
    if (added > 0) this.trimHistory(resourceId, rs, ops, added);
    const indexed = this.reindex(resourceId, next, parsedVm);
    // Contention with OTHER VMs, for every new VM version (issue 3; not only merged conflict results).
    if (indexed) for (const c of this.index.contentionOf(next[next.length - 1]!.data as VMState)) this.emit('contention', c);
    ops.push({ type: 'put', sublevel: 'versions', key: resourceId, value: encodeRecordParts(RecordKind.versionSet, versionSetParts(rs, nextJson, indexed)) });
    this.digest.set(resourceId, next.length > 0 ? setHash(resourceId, next) : undefined);
    return recordedIn;
  }

  /**
   * After `added` versions joined the history: delete the copied entries beyond `historyLimit`, keep
   * at most `historyLimit` versions, and in memory only the newest `historyInMemory` (all of them
   * while a conflict is pending or a load is in flight).
   */
  private trimHistory(resourceId: string, rs: ResourceState, ops: StoreOp[], added: number): void {
    const limit = this.opts.historyLimit;
    while (rs.histHi - rs.histLo > limit) ops.push({ type: 'del', sublevel: 'history', key: historyKey(resourceId, rs.histLo++) });
    if (rs.histCount >= 0) rs.histCount = Math.min(limit, rs.histCount + added);
    if (rs.hist.length > limit) rs.hist = rs.hist.slice(rs.hist.length - limit);
    const keep = rs.conflictId !== undefined || rs.loading > 0 ? limit : this.opts.historyInMemory;
    if (rs.hist.length > keep) {
      rs.hist = keep === 0 ? NO_VERSIONS : rs.hist.slice(rs.hist.length - keep);
      rs.histAll = false;
    } else if (!rs.histAll && rs.histCount >= 0 && rs.hist.length >= rs.histCount) {
      rs.histAll = true;
    }
  }

  /**
   * Update the cluster index for a resource's new set. `parsedVm`: the top version's data is known to
   * be a valid VM state (it came from parseVmState). Returns whether a VM state was indexed.
   */
  private reindex(resourceId: string, set: readonly Version[], parsedVm = false): boolean {
    const top = set[set.length - 1];
    try {
      if (resourceId.startsWith('vm/')) {
        const id = resourceId.slice(3);
        if (!top || top.deleted) {
          this.index.removeVm(id);
        } else {
          // The index keeps the version's own data (no copy); parseVmState only validates it.
          if (!parsedVm) parseVmState(top.data);
          this.index.upsertVm(top.data as VMState);
          return true;
        }
      } else if (resourceId.startsWith('host/') && top && !top.deleted) {
        this.index.upsertHost(parseHostRecord(top.data));
      }
    } catch {
      // Data that does not parse as a VM/host is replicated but not indexed.
    }
    return false;
  }

  /**
   * Audit a version set of one version: `{<head>"set":[id],"added":[json][,"prior":n]}` (head: more
   * fields, with a trailing comma; prior: what setVersions returned).
   */
  private auditSet(ops: StoreOp[], kind: string, now: number, resourceId: string, head: string, version: Version, json: string, prior: number): void {
    const tail = prior > 0 ? `],"prior":${prior}}` : ']}';
    const entry = this.audit.appendParts(kind, now, [`{${head}"set":[${JSON.stringify(version.id)}],"added":[`, json, tail], resourceId);
    ops.push(entry.ops[0]!, entry.ops[1]!);
  }

  private pendingWrites: Promise<void> = Promise.resolve();

  /**
   * Hand `ops` to the store as one atomic write. `sync` (default): durable when resolved. Unsynced:
   * for remote versions and what applying them decides (ARCHITECTURE.md's durability rule is about
   * acknowledged writes, which are the writer's own synced writes). A process crash loses none of
   * them; a machine crash may lose some (see WriteOptions), whose versions anti-entropy fetches
   * again from the peers — their audit entries stay lost, which the audit chain then reports.
   */
  private persist(ops: StoreOp[], sync = true): Promise<void> {
    const write = sync ? this.c.store.write(ops) : this.c.store.write(ops, UNSYNCED);
    this.pendingWrites = write; // handled below (catch); awaited only through settled()
    return write.catch(this.onStoreFailure);
  }

  private readonly onStoreFailure = (err: unknown): never => {
    this.c.observer?.storeError?.(err);
    this.degrade(`store write failed: ${err instanceof Error ? err.message : String(err)}`);
    throw err;
  };

  private degrade(reason: string): void {
    if (this.degradedReason) return;
    this.degradedReason = reason;
    this.emit('degraded', { reason });
  }

  private assertWritable(): void {
    if (this.degradedReason) throw new ReadOnlyError(this.degradedReason);
  }

  private enqueueGossip(versions: readonly Version[], json?: string): void {
    for (const v of versions) {
      this.outbox.push(v);
      this.outboxJson.push(versions.length === 1 ? json : undefined);
    }
    if (this.outbox.length >= this.opts.gossipMaxBatch) {
      this.flushGossip();
      return;
    }
    this.flushTimer ??= this.c.clock.setTimer(this.gossipDelay(), () => {
      this.flushTimer = undefined;
      this.flushGossip();
    });
  }

  /** When the next flush is due: `gossipFlushMs` from now, but not sooner than one interval after the last one. */
  private gossipDelay(): number {
    const { gossipFlushMs, gossipMinIntervalMs, gossipIntervalPerPeerMs } = this.opts;
    const interval = Math.max(gossipMinIntervalMs, gossipIntervalPerPeerMs > 0 ? gossipIntervalPerPeerMs * this.c.transport.peers().length : 0);
    const wait = this.lastGossipAt + interval - this.c.clock.now();
    // A clock stepped back cannot hold gossip for longer than one interval.
    return Math.max(gossipFlushMs, Math.min(wait, interval));
  }

  /** Publish queued versions now (batched: one message per `gossipMaxBatch` versions). */
  flushGossip(): void {
    if (this.outbox.length > 0) this.lastGossipAt = this.c.clock.now();
    while (this.outbox.length > 0) {
      const batch = this.outbox.splice(0, this.opts.gossipMaxBatch);
      const payload = gossipPayload(this.nodeId, batch, this.outboxJson.splice(0, batch.length));
      this.c.transport.publish(payload);
      this.c.observer?.gossip?.('out', batch.length, payload.length);
    }
  }

  /** Count, report and audit a refused message from a peer (also used by anti-entropy). */
  recordRejection(from: string, err: unknown): void {
    this.reject(from, err, 0);
  }

  private reject(from: string, err: unknown, bytes: number, v?: Version): void {
    const reason = err instanceof Error ? err.message : String(err);
    this.c.observer?.gossip?.('rejected', 1, bytes);
    this.emit('rejected', { from, reason });
    const code = err instanceof DwcpError ? err.code : 'ERR_UNKNOWN';
    const entry = this.audit.append('rejected', this.c.clock.now(), { from, code, reason, versionId: v?.id }, v?.resourceId);
    void this.c.store.write(entry.ops).catch((e: unknown) => this.c.observer?.storeError?.(e));
  }

  /**
   * Load version sets and conflicts; quarantine what does not decode. Versions come from this node's
   * own store, CRC-checked, and are rebuilt without re-hashing (see {@link storedVersion}). History is
   * not read here but when a conflict needs it, except for resources with a pending conflict.
   */
  private async load(): Promise<void> {
    const bad: StoreOp[] = [];
    const clocks = new ClockTable();
    const labels = new LabelTable();
    let maxHlc: Hlc = { wall: 0, logical: 0 };
    for await (const { key: storedKey, value } of this.c.store.range('versions')) {
      let key = storedKey;
      try {
        const rec = decodeRecord(value, RecordKind.versionSet, 'versions', key) as StoredVersionSet;
        if (!Array.isArray(rec.versions)) throw new CorruptRecordError('versions', key, 'the record has no list of versions');
        const versions = rec.versions.map((v, i) => storedVersion(v, `versions/${key}[${i}]`, clocks, labels));
        // One string for the resource id, the version's (the store's key may be a slice of a longer one).
        if (versions[0]?.resourceId === key) key = versions[0].resourceId;
        const set = versions.length > 1 ? sortedSet(versions) : versions;
        const h = rec.history;
        const hasHistory = Array.isArray(h) && Number.isSafeInteger(h[0]) && Number.isSafeInteger(h[1]) && 0 <= h[0] && h[0] < h[1];
        const auditSeq = Number.isSafeInteger(rec.audit) && rec.audit! > 0 ? rec.audit! : 0;
        if (set.length === 1 && !rec.conflictId && !hasHistory) {
          // Most resources: one version, no history, no conflict. The version is all that is kept.
          this.resources.set(key, set[0]!);
          if (auditSeq > 0) this.loadedAuditSeq.set(key, auditSeq);
        } else {
          const rs = this.state(key);
          rs.versions = set;
          rs.auditSeq = auditSeq;
          if (rec.conflictId) rs.conflictId = rec.conflictId;
          if (hasHistory) {
            rs.histLo = h[0];
            rs.histHi = h[1];
          }
          if (hasHistory || auditSeq > 0) {
            rs.histCount = -1;
            rs.histAll = false;
          }
        }
        this.reindex(key, set, rec.indexed === true);
        this.digest.set(key, set.length > 0 ? setHash(key, set) : undefined);
        for (const v of versions) if (v.hlc.wall > maxHlc.wall || (v.hlc.wall === maxHlc.wall && v.hlc.logical > maxHlc.logical)) maxHlc = v.hlc;
      } catch (err) {
        if (!(err instanceof DwcpError)) throw err;
        this.quarantine('versions', key, value, err, bad);
      }
    }
    await this.migrateHistory(bad);
    for await (const { key, value } of this.c.store.range('conflicts')) {
      try {
        this.conflicts.set(key, decodeRecord(value, RecordKind.conflict, 'conflicts', key) as ConflictRecord);
      } catch (err) {
        if (!(err instanceof DwcpError)) throw err;
        this.quarantine('conflicts', key, value, err, bad);
      }
    }
    this.hlc.update(maxHlc, Math.max(this.c.clock.now(), maxHlc.wall));
    if (bad.length > 0) await this.persist(bad);
    // A pending conflict may be decided by rollback to a version of the history: keep all of it at hand.
    for (const [id, rs] of this.resources) if (rs instanceof ResourceState && rs.conflictId !== undefined && !rs.histAll) await this.readHistory(id, rs);
  }

  private quarantine(sublevel: 'versions' | 'history' | 'conflicts', key: string, value: Uint8Array, err: unknown, ops: StoreOp[]): void {
    const reason = err instanceof Error ? err.message : String(err);
    this.quarantined.push(`${sublevel}/${key}`);
    this.c.observer?.quarantined?.(sublevel, key);
    ops.push({ type: 'put', sublevel: 'quarantine', key: `${sublevel}/${key}`, value });
    ops.push({ type: 'del', sublevel, key });
    ops.push(...this.audit.append('quarantine', this.c.clock.now(), { sublevel, key, reason }).ops);
  }

  /**
   * Read a resource's whole history (at most `historyLimit` versions) into memory, where it stays
   * until a write trims it: walking back the audit entries that recorded its sets (see
   * {@link ResourceState}), then the copied entries older than them. The walk starts from the set
   * current when the read begins, whose audit entry is in the store once the writes handed to it so
   * far (`pendingWrites`) have settled; versions superseded during the read are in memory, which is
   * not trimmed while a read is in flight. A broken link (an audit entry missing or undecodable, a
   * version it lacks) ends the walk there and is reported; the rest is served.
   */
  private async readHistory(resourceId: string, rs: ResourceState): Promise<void> {
    if (rs.histAll) return;
    rs.loading++;
    const bad: StoreOp[] = [];
    try {
      // The audit chain, from the entry that recorded the current set (taken before waiting: a write
      // issued meanwhile records a set whose entry may not be in the store yet).
      let later = new Set(rs.versions.map((v) => v.id));
      let at = rs.auditSeq;
      await settled(this.pendingWrites);
      const limit = this.opts.historyLimit;
      const newestFirst: Version[] = [];
      let chainEnded = at === 0;
      let entry = at > 0 ? await this.chainEntry(resourceId, at) : undefined;
      while (entry !== undefined && newestFirst.length < limit) {
        const prior = (entry.data as { prior?: unknown } | null)?.prior;
        if (typeof prior !== 'number' || !Number.isSafeInteger(prior) || prior <= 0) {
          chainEnded = true;
          break;
        }
        const before = await this.chainEntry(resourceId, prior);
        if (before === undefined) break;
        const set = setOf(before);
        const lost = set ? set.filter((id) => !later.has(id)) : undefined;
        const versions = lost?.map((id) => addedVersion(before, id));
        if (!set || !lost || !versions || versions.some((v) => v === undefined)) {
          this.reportBrokenHistory(resourceId, prior, 'does not list the set it recorded and its versions');
          break;
        }
        for (let i = versions.length - 1; i >= 0; i--) newestFirst.push(versions[i]!);
        later = new Set(set);
        at = prior;
        entry = before;
      }
      // Entries copied before the chain begins (sets whose audit entry was not known).
      if (chainEnded && newestFirst.length < limit && rs.histHi > rs.histLo) {
        const prefix = `${resourceId}\u0000`;
        const copied: Version[] = [];
        for await (const { key, value } of this.c.store.range('history', { gte: prefix, lt: `${resourceId}\u0001` })) {
          const seq = Number(key.slice(prefix.length));
          if (seq < rs.histLo || seq >= rs.histHi) continue;
          try {
            copied.push(storedVersion(decodeRecord(value, RecordKind.history, 'history', key), `history/${key}`));
          } catch (err) {
            if (!(err instanceof DwcpError)) throw err;
            this.quarantine('history', key, value, err, bad);
          }
        }
        for (let i = copied.length - 1; i >= 0; i--) newestFirst.push(copied[i]!);
      }
      if (!rs.histAll) {
        const whole = newestFirst.slice(0, limit).reverse();
        // The in-memory part is the newest of it, plus whatever was superseded during the read.
        const first = rs.hist[0];
        const at0 = first === undefined ? -1 : whole.findIndex((v) => v.id === first.id);
        const merged = first === undefined ? whole : at0 >= 0 ? [...whole.slice(0, at0), ...rs.hist] : [...whole, ...rs.hist];
        rs.hist = merged.length > limit ? merged.slice(merged.length - limit) : merged;
        rs.histCount = rs.hist.length;
        rs.histAll = true;
      }
    } finally {
      rs.loading--;
    }
    if (bad.length > 0) await this.persist(bad);
  }

  /** An audit entry of the history chain of `resourceId`, or undefined (reported) if it is missing, undecodable or another resource's. */
  private async chainEntry(resourceId: string, seq: number): Promise<AuditEntry | undefined> {
    let entry: AuditEntry | undefined;
    try {
      entry = await this.audit.entry(seq);
    } catch (err) {
      if (!(err instanceof DwcpError)) throw err;
      this.reportBrokenHistory(resourceId, seq, `does not decode (${err.message})`);
      return undefined;
    }
    if (entry === undefined) this.reportBrokenHistory(resourceId, seq, 'does not exist');
    else if (entry.resourceId !== resourceId) this.reportBrokenHistory(resourceId, seq, `is about ${entry.resourceId ?? 'no resource'}`);
    else return entry;
    return undefined;
  }

  private reportBrokenHistory(resourceId: string, seq: number, what: string): void {
    this.c.observer?.storeError?.(new CorruptRecordError('audit', auditKey(seq), `the history of ${resourceId} goes through audit entry ${seq}, which ${what}; older history is not available`));
  }

  /**
   * Convert history stored in the first format (one list per resource, key = resource id) into one
   * entry per version, once; a marker in `meta` records that the store holds only the new format.
   */
  private async migrateHistory(bad: StoreOp[]): Promise<void> {
    if ((await this.c.store.get('meta', HISTORY_FORMAT_KEY)) !== undefined) return;
    let ops: StoreOp[] = [];
    for await (const { key, value } of this.c.store.range('history')) {
      if (key.includes('\u0000')) continue;
      try {
        const list = decodeRecord(value, RecordKind.history, 'history', key);
        if (!Array.isArray(list)) throw new CorruptRecordError('history', key, 'expected a list of versions');
        const versions = list.map((v, i) => storedVersion(v, `history/${key}[${i}]`));
        const rs = this.state(key);
        ops.push({ type: 'del', sublevel: 'history', key });
        for (const v of versions) {
          ops.push({ type: 'put', sublevel: 'history', key: historyKey(key, rs.histHi++), value: encodeRecordText(RecordKind.history, versionJson(v)) });
        }
        rs.hist = versions;
        rs.histCount = 0;
        rs.histAll = true;
        this.trimHistory(key, rs, ops, versions.length);
        ops.push({ type: 'put', sublevel: 'versions', key, value: encodeRecordParts(RecordKind.versionSet, versionSetParts(rs)) });
      } catch (err) {
        if (!(err instanceof DwcpError)) throw err;
        this.quarantine('history', key, value, err, bad);
      }
      if (ops.length >= 4096) {
        await this.persist(ops);
        ops = [];
      }
    }
    ops.push({ type: 'put', sublevel: 'meta', key: HISTORY_FORMAT_KEY, value: encodeRecord(RecordKind.meta, { format: HISTORY_FORMAT }) });
    await this.persist(ops);
  }
}

const utf8 = new TextEncoder();

/** The set an audit entry recorded (its version ids), if it is shaped like one. */
function setOf(entry: AuditEntry): string[] | undefined {
  const set = (entry.data as { set?: unknown } | null)?.set;
  return Array.isArray(set) && set.every((id) => typeof id === 'string') ? (set) : undefined;
}

/** A version an audit entry lists in its `added`, rebuilt; undefined if it does not (or not as a version). */
function addedVersion(entry: AuditEntry, id: string): Version | undefined {
  const added = (entry.data as { added?: unknown } | null)?.added;
  const json = Array.isArray(added) ? (added as Array<{ id?: unknown } | null>).find((a) => a?.id === id) : undefined;
  if (json === undefined) return undefined;
  try {
    return storedVersion(json, `audit entry ${entry.seq}: ${id}`);
  } catch (err) {
    if (err instanceof DwcpError) return undefined;
    throw err;
  }
}

/**
 * The gossip payload of `versions`, the document codec.ts's encodeGossip gives (decodeGossip reads
 * either), with the versions' JSON texts spliced in where the writes had them rather than encoded again.
 */
function gossipPayload(from: string, versions: readonly Version[], json: ReadonlyArray<string | undefined>): Uint8Array {
  let text = `{"v":${GOSSIP_FORMAT},"from":${JSON.stringify(from)},"versions":[`;
  for (let i = 0; i < versions.length; i++) text += (i > 0 ? ',' : '') + (json[i] ?? versionJson(versions[i]!));
  return utf8.encode(text + ']}');
}

/**
 * The JSON text of a resource's version set record, in parts (`nextJson`: the versions' texts, if at
 * hand; `indexed`: the top version's data passed parseVmState, so load indexes it without parsing).
 */
function versionSetParts(rs: ResourceState, nextJson?: readonly string[], indexed = false): string[] {
  const next = rs.versions;
  const parts = ['{"versions":['];
  for (let i = 0; i < next.length; i++) {
    if (i > 0) parts.push(',');
    parts.push(nextJson?.[i] ?? versionJson(next[i]!));
  }
  let tail = ']';
  if (rs.conflictId) tail += `,"conflictId":${JSON.stringify(rs.conflictId)}`;
  if (rs.histHi > 0) tail += `,"history":[${rs.histLo},${rs.histHi}]`;
  if (indexed) tail += ',"indexed":true';
  if (rs.auditSeq > 0) tail += `,"audit":${rs.auditSeq}`;
  parts.push(tail + '}');
  return parts;
}

/**
 * Equal vector clocks read at load share one (immutable) VectorClock: most resources' clocks are
 * alike ({writer: a few writes}), and a clock costs more memory than the rest of a small version's
 * metadata. Bounded; used only while loading.
 */
class ClockTable {
  private readonly clocks = new Map<string, VectorClock>();

  of(json: Record<string, number>): VectorClock {
    const key = JSON.stringify(json);
    let clock = this.clocks.get(key);
    if (clock === undefined) {
      clock = VectorClock.from(json);
      if (this.clocks.size < MAX_SHARED_CLOCKS) this.clocks.set(key, clock);
    }
    return clock;
  }
}

const MAX_SHARED_CLOCKS = 65_536;

/**
 * Equal label sets of VM states read at load share one object: labels repeat across VMs (tier, owner)
 * and each object costs 48 bytes or more. Only objects of string values, equal as JSON text (same
 * keys in the same order); version data is never mutated once a version holds it. Bounded; used only
 * while loading.
 */
class LabelTable {
  private readonly labels = new Map<string, object>();

  /** Replace `data.labels` (`data`: a VM state just parsed from a record) by an equal one seen before. */
  share(data: unknown): void {
    if (typeof data !== 'object' || data === null) return;
    const d = data as { labels?: unknown };
    const l = d.labels;
    if (typeof l !== 'object' || l === null || Object.getPrototypeOf(l) !== Object.prototype) return;
    for (const v of Object.values(l)) if (typeof v !== 'string') return;
    const key = JSON.stringify(l);
    const known = this.labels.get(key);
    if (known !== undefined) d.labels = known;
    else if (this.labels.size < MAX_SHARED_LABELS) this.labels.set(key, l);
  }
}

const MAX_SHARED_LABELS = 65_536;

/**
 * A version read back from this node's own store. The record's CRC vouches for its bytes, and the
 * version was verified (or created) before it was stored, so it is rebuilt as it was written without
 * encoding and hashing its content again. Anything not shaped like a stored version goes through
 * versionFromJSON, which verifies it and names what is wrong. Versions from the network never take
 * this path.
 */
function storedVersion(input: unknown, where: string, clocks?: ClockTable, labels?: LabelTable): Version {
  const o = input as { [K in keyof VersionJSON]?: unknown } | null;
  if (
    typeof o === 'object' &&
    o !== null &&
    typeof o.id === 'string' &&
    typeof o.resourceId === 'string' &&
    typeof o.origin === 'string' &&
    typeof o.digest === 'string' &&
    typeof o.clock === 'object' &&
    o.clock !== null &&
    !Array.isArray(o.clock) &&
    typeof o.hlc === 'object' &&
    o.hlc !== null &&
    (o.deleted === undefined || typeof o.deleted === 'boolean') &&
    o.data !== undefined &&
    (o.deleted !== true || o.data === null)
  ) {
    const hlc = o.hlc as { wall?: unknown; logical?: unknown };
    if (typeof hlc.wall === 'number' && typeof hlc.logical === 'number') {
      let clock: VectorClock | undefined;
      try {
        clock = clocks ? clocks.of(o.clock as Record<string, number>) : VectorClock.from(o.clock as Record<string, number>);
      } catch {
        clock = undefined; // versionFromJSON reports it
      }
      if (clock) {
        if (labels && o.resourceId.startsWith('vm/')) labels.share(o.data);
        return Object.freeze({
          id: o.id,
          resourceId: o.resourceId,
          clock,
          hlc: { wall: hlc.wall, logical: hlc.logical },
          origin: o.origin,
          data: o.data,
          deleted: o.deleted === true,
          digest: o.digest,
        });
      }
    }
  }
  return versionFromJSON(input, where);
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
