import { Level } from 'level';
import { SUBLEVELS, type RangeOptions, type Store, type StoreEntry, type StoreOp, type Sublevel, type WriteOptions } from '../../replica/ports.js';
import { malformedOps, StoreClosedError, StoreLockedError, StoreWriteError } from '../../replica/store-errors.js';

export interface LevelStoreInit {
  /** The LevelDB directory. */
  readonly dir: string;
  /**
   * Group commit (default on): writes issued while a synced batch is in flight are gathered into the
   * next batch, so N concurrent writers cost one fsync, not N. Off: one synced batch per write.
   */
  readonly groupCommit?: boolean;
  /** Most operations gathered into one synced batch. */
  readonly maxBatchOps?: number;
  /**
   * LevelDB's write buffer (memtable) size in bytes, default {@link DEFAULT_WRITE_BUFFER}. Larger
   * means fewer, larger level-0 tables and less compaction work per write; the price is memory (up to
   * two buffers) and the log replayed at open (at most about one buffer).
   */
  readonly writeBufferSize?: number;
  /**
   * Writes of a committed batch acknowledged per turn of the event loop (default
   * {@link DEFAULT_ACK_SLICE}); see {@link LevelStore}'s notes on pipelining.
   */
  readonly ackSlice?: number;
}

/** Acknowledged writes resumed per turn of the event loop (measured: 64 keeps the loop busy with 256 writers). */
export const DEFAULT_ACK_SLICE = 64;

/**
 * 16 MiB rather than LevelDB's 4: every acknowledged write puts about 1.9 KB (version set, audit
 * entry), and with 4 MiB buffers compaction cost about twice as much CPU per write.
 */
export const DEFAULT_WRITE_BUFFER = 16 * 1024 * 1024;

interface PendingWrite {
  /** Dropped once copied into a batch (the batch holds the bytes; they need not live until acknowledged). */
  ops: readonly StoreOp[];
  /** Must be synced before it resolves (a group is synced if any of its writes must be). */
  readonly sync: boolean;
  /** Set once it has failed (it is then rejected in its turn, not resolved). */
  failure?: { readonly error: unknown };
  resolve(): void;
  reject(err: unknown): void;
}

const NO_OPS: readonly StoreOp[] = Object.freeze([]);

type Sub = ReturnType<Level<string, Uint8Array>['sublevel']>;

/** Entries read per native call by `range`. */
const RANGE_BATCH = 1000;

/**
 * The production store: LevelDB (classic-level) with one sublevel per kind of record. Every write is
 * a synced batch (`sync: true`), so a resolved `write` has reached the disk; concurrent writes share
 * one batch (group commit). Writes that ask for `sync: false` join the same queue (so they are never
 * reordered) and make a batch synced only when a synced write shares it.
 *
 * Pipelining: one batch is in flight at a time (LevelDB applies batches in the order they are handed
 * over, and the last write of a key must win), and the next one takes everything queued meanwhile.
 * Acknowledging a batch resumes its writers, whose next writes all run in one burst of microtasks;
 * were a whole batch resumed at once, the batch in flight meanwhile would complete unnoticed until
 * the burst ends, and the writers would split into one large and one tiny group that take turns,
 * the large one waiting on the disk while the event loop idles (measured: 255 and 1 of 256 writers,
 * 10-15% of the loop idle). So committed writes are acknowledged `ackSlice` per turn of the event
 * loop, in the order they were made: between slices the loop sees the batch in flight complete and
 * starts the next one with the writes queued so far, and the groups stay balanced.
 */
export class LevelStore implements Store {
  private readonly db: Level<string, Uint8Array>;
  private readonly subs = new Map<Sublevel, Sub>();
  /** Each sublevel's key prefix in the root database (how writes address it). */
  private readonly prefixes = new Map<Sublevel, string>();
  private readonly queue: PendingWrite[] = [];
  private flushing: Promise<void> | undefined;
  private opened = false;
  readonly dir: string;
  private readonly groupCommit: boolean;
  private readonly maxBatchOps: number;
  private readonly ackSlice: number;
  /** Committed writes to acknowledge, in order: `acks[ackedTo..]` are still waiting. */
  private readonly acks: PendingWrite[] = [];
  private ackedTo = 0;
  /** A slice of acknowledgements is scheduled. */
  private acking = false;
  /** Synced batches written so far (observability and tests of group commit). */
  syncedBatches = 0;
  /** Batches written without a sync (only `sync: false` writes in them). */
  unsyncedBatches = 0;

  constructor(init: LevelStoreInit) {
    this.dir = init.dir;
    this.groupCommit = init.groupCommit ?? true;
    this.maxBatchOps = init.maxBatchOps ?? 10_000;
    this.ackSlice = Math.max(1, init.ackSlice ?? DEFAULT_ACK_SLICE);
    this.db = new Level<string, Uint8Array>(init.dir, {
      keyEncoding: 'utf8',
      valueEncoding: 'view',
      writeBufferSize: init.writeBufferSize ?? DEFAULT_WRITE_BUFFER,
    });
    for (const s of SUBLEVELS) {
      const sub = this.db.sublevel<string, Uint8Array>(s, { keyEncoding: 'utf8', valueEncoding: 'view' }) as Sub;
      this.subs.set(s, sub);
      this.prefixes.set(s, sub.prefix);
    }
  }

  async open(): Promise<void> {
    if (this.opened) return;
    try {
      await this.db.open();
    } catch (err) {
      if (isLocked(err)) throw new StoreLockedError(this.dir, { cause: err });
      throw err;
    }
    this.opened = true;
  }

  async close(): Promise<void> {
    if (!this.opened) return;
    // Let acknowledged-to-be writes finish before closing: never drop a queued write.
    while (this.flushing) await this.flushing;
    this.opened = false;
    await this.db.close();
  }

  async get(sublevel: Sublevel, key: string): Promise<Uint8Array | undefined> {
    this.assertOpen();
    const v = (await this.sub(sublevel).get(key)) as Uint8Array | undefined;
    return v === undefined ? undefined : plain(v);
  }

  write(ops: readonly StoreOp[], options?: WriteOptions): Promise<void> {
    this.assertOpen();
    if (ops.length === 0) return Promise.resolve();
    const bad = malformedOps(ops);
    if (bad) return Promise.reject(new StoreWriteError(bad, {}));
    const sync = options?.sync ?? true;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ ops, sync, resolve, reject });
      if (!this.flushing) this.flushing = this.flush();
    });
  }

  async *range(sublevel: Sublevel, options: RangeOptions = {}): AsyncIterable<StoreEntry> {
    this.assertOpen();
    const it = this.sub(sublevel).iterator({
      ...(options.gte !== undefined ? { gte: options.gte } : {}),
      ...(options.lt !== undefined ? { lt: options.lt } : {}),
      reverse: options.reverse ?? false,
      limit: options.limit ?? -1,
      // classic-level: ranges are scans (load, audit walks); they do not evict the block cache's hot blocks.
      ...{ fillCache: false },
    });
    // Entries in batches (one native call per RANGE_BATCH entries, not one promise per entry), the
    // next batch read (in libuv's thread pool) while the caller works through the current one.
    const read = (): Promise<Array<[string, unknown]>> => {
      const p = it.nextv(RANGE_BATCH);
      p.catch(() => undefined); // awaited below; meanwhile a failure is not an unhandled rejection
      return p;
    };
    let pending: Promise<Array<[string, unknown]>> | undefined = read();
    try {
      for (;;) {
        const batch: Array<[string, unknown]> = await pending;
        pending = undefined;
        if (batch.length === 0) break;
        pending = read();
        for (const [key, value] of batch) yield { key, value: plain(value as Uint8Array) };
      }
    } finally {
      // An iterator closes only once its read in flight is done (the caller may have stopped early).
      if (pending) await pending.catch(() => undefined);
      await it.close();
    }
  }

  private async flush(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const group: PendingWrite[] = [];
        let count = 0;
        let sync = false;
        while (this.queue.length > 0) {
          const next = this.queue[0]!;
          if (group.length > 0 && (!this.groupCommit || count + next.ops.length > this.maxBatchOps)) break;
          this.queue.shift();
          group.push(next);
          count += next.ops.length;
          if (next.sync) sync = true;
        }
        let batch: ReturnType<typeof this.db.batch>;
        try {
          batch = this.buildBatch(group);
          for (const w of group) w.ops = NO_OPS;
        } catch (err) {
          // A malformed operation fails its whole group (nothing of it is written), not the store.
          this.acknowledge(group, { error: err });
          continue;
        }
        try {
          await batch.write({ sync });
          if (sync) this.syncedBatches++;
          else this.unsyncedBatches++;
          this.acknowledge(group);
        } catch (err) {
          const wrapped = new StoreWriteError(`synced write to ${this.dir} failed: ${describe(err)}`, { dir: this.dir }, { cause: err });
          this.acknowledge(group, { error: wrapped });
        }
      }
    } catch (err) {
      this.acknowledge(this.queue.splice(0), { error: err });
    } finally {
      this.flushing = undefined;
    }
  }

  /**
   * Settle a group's writes (resolved, or rejected with `failure.error`) after those of earlier
   * groups still waiting: writes are settled in the order they were made, {@link ackSlice} per turn of
   * the event loop.
   */
  private acknowledge(group: readonly PendingWrite[], failure?: { readonly error: unknown }): void {
    for (const w of group) {
      if (failure) w.failure = failure;
      this.acks.push(w);
    }
    if (!this.acking) this.ackSliceNow();
  }

  private readonly ackSliceNow = (): void => {
    const end = Math.min(this.acks.length, this.ackedTo + this.ackSlice);
    while (this.ackedTo < end) {
      const w = this.acks[this.ackedTo++]!;
      if (w.failure === undefined) w.resolve();
      else w.reject(w.failure.error);
    }
    this.acking = this.ackedTo < this.acks.length;
    if (this.acking) {
      setImmediate(this.ackSliceNow);
    } else {
      this.acks.length = 0;
      this.ackedTo = 0;
    }
  };

  /**
   * One chained batch on the root database, keys prefixed with their sublevel's prefix here (the
   * same keys the sublevels address), which spares abstract-level its per-operation sublevel work.
   */
  private buildBatch(group: readonly PendingWrite[]): ReturnType<typeof this.db.batch> {
    const batch = this.db.batch();
    try {
      const keys: string[] = [];
      const ops: StoreOp[] = [];
      for (const w of group) {
        for (const op of w.ops) {
          keys.push(this.prefixOf(op.sublevel) + op.key);
          ops.push(op);
        }
      }
      // A `meta` record that a later write of the group writes again (every write moves the audit
      // head) is left out: LevelDB applies a batch in order, so only the last one counts. Other keys
      // rarely repeat within a group, and a repeat is merely written twice.
      let lastMeta: Map<string, number> | undefined;
      if (group.length > 1) {
        for (let i = 0; i < ops.length; i++) if (ops[i]!.sublevel === 'meta') (lastMeta ??= new Map()).set(keys[i]!, i);
      }
      for (let i = 0; i < ops.length; i++) {
        const op = ops[i]!;
        if (lastMeta !== undefined && op.sublevel === 'meta' && lastMeta.get(keys[i]!) !== i) continue;
        if (op.type === 'put') {
          if (!(op.value instanceof Uint8Array)) {
            throw new StoreWriteError(`put ${op.sublevel}/${op.key} without a value`, { key: op.key });
          }
          batch.put(keys[i]!, op.value);
        } else {
          batch.del(keys[i]!);
        }
      }
    } catch (err) {
      void batch.close();
      throw err;
    }
    return batch;
  }

  private prefixOf(s: Sublevel): string {
    const prefix = this.prefixes.get(s);
    if (prefix === undefined) throw new TypeError(`unknown sublevel ${String(s)}`);
    return prefix;
  }

  private sub(s: Sublevel): Sub {
    const sub = this.subs.get(s);
    if (!sub) throw new TypeError(`unknown sublevel ${String(s)}`);
    return sub;
  }

  private assertOpen(): void {
    if (!this.opened) throw new StoreClosedError(`LevelDB store at ${this.dir}`);
  }
}

/** classic-level hands out Buffers; callers get plain Uint8Arrays over the same memory. */
function plain(v: Uint8Array): Uint8Array {
  return Buffer.isBuffer(v) ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : v;
}

function isLocked(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (code === 'LEVEL_LOCKED' || /lock/i.test(e.message)) return true;
  }
  return false;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
