/**
 * The RecoveryManager (spec, "Recovery Mechanisms"): checkpoints (create, list, restore, periodic,
 * before risky operations, retention per resource) and state reconstruction from the audit log.
 */
import { sha256Hex } from '../core/codec/canonical.js';
import { versionFromJSON, versionToJSON, type Version, type VersionJSON } from '../core/conflict/version.js';
import { DwcpError } from '../core/errors.js';
import { NotFoundError } from './errors.js';
import type { Clock, Store, StoreOp, TimerHandle } from './ports.js';
import { decodeRecord, encodeRecord, RecordKind } from './record-codec.js';
import type { Replica } from './replica.js';

/** The spec's RecoveryConfig; every option does what its name says (see README, "Recovery"). */
export interface RecoveryConfig {
  /** Rollback decisions may be applied without an operator (else they wait in the pending queue). */
  readonly enableAutoRecovery: boolean;
  /** Every this many ms, resources changed since the last round are checkpointed (0: off). */
  readonly checkpointIntervalMs: number;
  /** How many times a failing recovery action (restore write, fencing) is tried before it is reported. */
  readonly maxRecoveryAttempts: number;
  /** Votes a quorum decision needs (defaults to floor(voters/2)+1 in the agent). */
  readonly quorumSize: number;
  /** After a partition heals, replicas are expected to converge within this; past it an alert is raised. */
  readonly partitionHealTimeoutMs: number;
  /** How a split-brain is resolved: a quorum decision, an operator, or the higher-priority host. */
  readonly splitBrainResolution: 'quorum' | 'manual' | 'priority';
  /** Allow `reconstructState` from the audit log. */
  readonly enableStateReconstruction: boolean;
  /** Checkpoints kept per resource (newest first); older ones are deleted. */
  readonly snapshotRetention: number;
}

export const DEFAULT_RECOVERY_CONFIG: RecoveryConfig = Object.freeze({
  enableAutoRecovery: true,
  checkpointIntervalMs: 5 * 60_000,
  maxRecoveryAttempts: 5,
  quorumSize: 3,
  partitionHealTimeoutMs: 60_000,
  splitBrainResolution: 'quorum',
  enableStateReconstruction: true,
  snapshotRetention: 10,
});

export interface Checkpoint {
  readonly id: string;
  readonly resourceId: string;
  readonly seq: number;
  readonly at: number;
  readonly reason: string;
  readonly versions: readonly VersionJSON[];
}

export class RecoveryError extends DwcpError {
  constructor(message: string, meta: Record<string, unknown> = {}) {
    super('ERR_RECOVERY', message, meta);
  }
}

const SEQ_KEY = 'checkpoint-seq';
const pad = (n: number): string => String(n).padStart(12, '0');
const recordKey = (resourceId: string, seq: number): string => `r:${resourceId}#${pad(seq)}`;
const idKey = (id: string): string => `i:${id}`;

export class RecoveryManager {
  private seq = 0;
  private timer: TimerHandle | undefined;
  private readonly changed = new Set<string>();
  private readonly unsubscribe: Array<() => void> = [];
  readonly config: RecoveryConfig;

  constructor(
    private readonly replica: Replica,
    private readonly store: Store,
    private readonly clock: Clock,
    config: Partial<RecoveryConfig> = {},
  ) {
    this.config = { ...DEFAULT_RECOVERY_CONFIG, ...config };
    if (!Number.isInteger(this.config.snapshotRetention) || this.config.snapshotRetention < 1) {
      throw new RecoveryError(`snapshotRetention must be an integer >= 1, got ${this.config.snapshotRetention}`);
    }
  }

  async start(): Promise<void> {
    const raw = await this.store.get('meta', SEQ_KEY);
    if (raw) this.seq = (decodeRecord(raw, RecordKind.meta, 'meta', SEQ_KEY) as { seq: number }).seq;
    const mark = (id: string): void => {
      this.changed.add(id);
    };
    this.unsubscribe.push(
      this.replica.on('write', (e) => mark(e.version.resourceId)),
      this.replica.on('applied', (e) => mark(e.version.resourceId)),
      this.replica.on('decision', (e) => mark(e.record.resourceId)),
    );
    this.schedule();
  }

  stop(): void {
    if (this.timer) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    for (const u of this.unsubscribe.splice(0)) u();
  }

  /** Checkpoint the current state of a resource. */
  async createCheckpoint(resourceId: string, reason = 'manual'): Promise<Checkpoint> {
    const current = this.replica.get(resourceId);
    if (!current) throw new NotFoundError('resource', resourceId);
    const seq = ++this.seq;
    const id = `cp-${sha256Hex(`${resourceId}\n${seq}`).slice(0, 16)}`;
    const cp: Checkpoint = { id, resourceId, seq, at: this.clock.now(), reason, versions: current.versions.map(versionToJSON) };
    const ops: StoreOp[] = [
      { type: 'put', sublevel: 'checkpoints', key: recordKey(resourceId, seq), value: encodeRecord(RecordKind.checkpoint, cp) },
      { type: 'put', sublevel: 'checkpoints', key: idKey(id), value: encodeRecord(RecordKind.meta, { key: recordKey(resourceId, seq) }) },
      { type: 'put', sublevel: 'meta', key: SEQ_KEY, value: encodeRecord(RecordKind.meta, { seq }) },
      ...this.replica.audit.append('checkpoint', cp.at, { checkpointId: id, reason, versions: cp.versions.map((v) => v.id) }, resourceId).ops,
    ];
    // Retention: keep the newest N per resource.
    const existing = await this.list(resourceId);
    for (const old of existing.slice(this.config.snapshotRetention - 1)) {
      ops.push({ type: 'del', sublevel: 'checkpoints', key: recordKey(old.resourceId, old.seq) });
      ops.push({ type: 'del', sublevel: 'checkpoints', key: idKey(old.id) });
    }
    await this.store.write(ops);
    return cp;
  }

  /** Checkpoints, newest first; of one resource or of all. */
  async list(resourceId?: string): Promise<Checkpoint[]> {
    const prefix = resourceId === undefined ? 'r:' : `r:${resourceId}#`;
    const out: Checkpoint[] = [];
    for await (const { key, value } of this.store.range('checkpoints', { gte: prefix, lt: prefix + '\uffff' })) {
      out.push(decodeRecord(value, RecordKind.checkpoint, 'checkpoints', key) as Checkpoint);
    }
    return out.sort((a, b) => b.seq - a.seq);
  }

  async get(checkpointId: string): Promise<Checkpoint> {
    const ref = await this.store.get('checkpoints', idKey(checkpointId));
    if (!ref) throw new NotFoundError('checkpoint', checkpointId);
    const { key } = decodeRecord(ref, RecordKind.meta, 'checkpoints', idKey(checkpointId)) as { key: string };
    const raw = await this.store.get('checkpoints', key);
    if (!raw) throw new NotFoundError('checkpoint', checkpointId);
    return decodeRecord(raw, RecordKind.checkpoint, 'checkpoints', key) as Checkpoint;
  }

  /**
   * Restore a checkpoint: the current state is checkpointed first (a restore is risky), then the
   * checkpoint's value is written as a new version that supersedes the current ones.
   */
  async restore(checkpointId: string): Promise<Version> {
    const cp = await this.get(checkpointId);
    const chosen = cp.versions.map((v, i) => versionFromJSON(v, `checkpoint.versions[${i}]`)).at(-1);
    if (!chosen) throw new RecoveryError(`checkpoint ${checkpointId} holds no version`, { checkpointId });
    return this.risky(cp.resourceId, `before restoring ${checkpointId}`, () =>
      this.replica.put(cp.resourceId, chosen.data, { deleted: chosen.deleted, context: this.replica.contextOf(cp.resourceId) }),
    );
  }

  /** Run a risky operation on a resource with a checkpoint taken just before it, retried per config. */
  async risky<T>(resourceId: string, reason: string, op: () => Promise<T>): Promise<T> {
    if (this.replica.get(resourceId)) await this.createCheckpoint(resourceId, reason);
    let lastErr: unknown;
    for (let attempt = 1; attempt <= this.config.maxRecoveryAttempts; attempt++) {
      try {
        return await op();
      } catch (err) {
        lastErr = err;
        // Client errors (stale context, not found, read-only) will not succeed by retrying.
        if (err instanceof DwcpError && err.code !== 'ERR_STORE_WRITE') throw err;
      }
    }
    throw lastErr;
  }

  /**
   * The state of a resource as of time `at`, rebuilt from the audit log: the version set recorded by
   * the last state-changing entry at or before `at` (undefined if the resource did not exist yet).
   */
  async reconstructState(resourceId: string, at: number): Promise<Version[] | undefined> {
    if (!this.config.enableStateReconstruction) {
      throw new RecoveryError('state reconstruction is disabled (recovery.enableStateReconstruction: false)');
    }
    const known = new Map<string, VersionJSON>();
    let set: string[] | undefined;
    for await (const e of this.replica.audit.entries()) {
      if (e.at > at) continue; // not `break`: wall time may have stepped back between entries
      if (e.resourceId !== resourceId) continue;
      const d = e.data as { set?: string[]; added?: VersionJSON[] };
      for (const v of d.added ?? []) known.set(v.id, v);
      if (Array.isArray(d.set)) set = d.set;
    }
    if (!set) return undefined;
    return set.map((id, i) => {
      const v = known.get(id);
      if (!v) throw new RecoveryError(`audit log lacks version ${id} of ${resourceId}`, { resourceId, versionId: id });
      return versionFromJSON(v, `reconstructed[${i}]`);
    });
  }

  /** Checkpoint every resource changed since the last round (the periodic checkpoint). */
  async checkpointChanged(): Promise<number> {
    const ids = [...this.changed].sort();
    this.changed.clear();
    let n = 0;
    for (const id of ids) {
      if (!this.replica.get(id)) continue;
      await this.createCheckpoint(id, 'interval');
      n++;
    }
    return n;
  }

  private schedule(): void {
    if (this.config.checkpointIntervalMs <= 0) return;
    this.timer = this.clock.setTimer(this.config.checkpointIntervalMs, () => {
      this.checkpointChanged().then(
        () => this.schedule(),
        () => this.schedule(),
      );
    });
  }
}
