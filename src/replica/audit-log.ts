import { canonicalJson, sha256Hex } from '../core/codec/canonical.js';
import type { Store, StoreOp } from './ports.js';
import { decodeRecord, encodeRecord, RecordKind } from './record-codec.js';
import { CorruptRecordError } from './store-errors.js';

/** One entry of the append-only, hash-chained audit log. */
export interface AuditEntry {
  readonly seq: number;
  /** When it happened (ms since epoch, from the replica's clock port). */
  readonly at: number;
  /** e.g. `write`, `remote`, `conflict`, `decision`, `checkpoint`, `restore`, `rejected`, `fence`. */
  readonly kind: string;
  readonly resourceId?: string;
  readonly data: unknown;
  /** Hash of the previous entry (64 zeros for the first). */
  readonly prev: string;
  /** sha256(prev + "\n" + canonical JSON of {seq, at, kind, resourceId, data}). */
  readonly hash: string;
}

export type AuditVerification =
  | { readonly ok: true; readonly entries: number; readonly head: string }
  | { readonly ok: false; readonly entries: number; readonly brokenAt: number; readonly reason: string };

export const GENESIS_HASH = '0'.repeat(64);
const HEAD_KEY = 'audit-head';

export function auditKey(seq: number): string {
  return String(seq).padStart(16, '0');
}

function entryHash(prev: string, seq: number, at: number, kind: string, resourceId: string | undefined, data: unknown): string {
  return sha256Hex(`${prev}\n${canonicalJson({ seq, at, kind, resourceId, data })}`);
}

/**
 * The audit log. `append` is synchronous and returns the store operations (the entry and the new
 * head pointer) for the caller to put in the same synced batch as the state change it records, so
 * state and audit are durable together. The head pointer lets `verify` notice a truncated tail.
 */
export class AuditLog {
  private seq = 0;
  private head = GENESIS_HASH;

  constructor(private readonly store: Store) {}

  /** Load the head (after opening the store). */
  async load(): Promise<void> {
    const raw = await this.store.get('meta', HEAD_KEY);
    if (raw === undefined) return;
    const h = decodeRecord(raw, RecordKind.meta, 'meta', HEAD_KEY) as { seq: number; hash: string };
    this.seq = h.seq;
    this.head = h.hash;
  }

  get lastSeq(): number {
    return this.seq;
  }

  get headHash(): string {
    return this.head;
  }

  append(kind: string, at: number, data: unknown, resourceId?: string): { entry: AuditEntry; ops: StoreOp[] } {
    const seq = this.seq + 1;
    const prev = this.head;
    const hash = entryHash(prev, seq, at, kind, resourceId, data);
    const entry: AuditEntry = resourceId === undefined ? { seq, at, kind, data, prev, hash } : { seq, at, kind, resourceId, data, prev, hash };
    this.seq = seq;
    this.head = hash;
    return {
      entry,
      ops: [
        { type: 'put', sublevel: 'audit', key: auditKey(seq), value: encodeRecord(RecordKind.audit, entry) },
        { type: 'put', sublevel: 'meta', key: HEAD_KEY, value: encodeRecord(RecordKind.meta, { seq, hash }) },
      ],
    };
  }

  /** Entries in order, optionally from/to a sequence number (inclusive). Undecodable entries throw. */
  async *entries(options: { fromSeq?: number; toSeq?: number } = {}): AsyncIterable<AuditEntry> {
    const range = {
      gte: auditKey(options.fromSeq ?? 1),
      ...(options.toSeq !== undefined ? { lt: auditKey(options.toSeq + 1) } : {}),
    };
    for await (const { key, value } of this.store.range('audit', range)) {
      yield decodeRecord(value, RecordKind.audit, 'audit', key) as AuditEntry;
    }
  }

  /** Walk the chain and report the first broken link (bad hash, wrong prev, gap, undecodable, truncated tail). */
  async verify(): Promise<AuditVerification> {
    let prev = GENESIS_HASH;
    let expected = 1;
    let n = 0;
    try {
      for await (const e of this.entries()) {
        if (e.seq !== expected) return { ok: false, entries: n, brokenAt: expected, reason: `entry ${expected} is missing (found ${e.seq})` };
        if (e.prev !== prev) return { ok: false, entries: n, brokenAt: e.seq, reason: 'prev hash does not match the previous entry' };
        if (entryHash(e.prev, e.seq, e.at, e.kind, e.resourceId, e.data) !== e.hash) {
          return { ok: false, entries: n, brokenAt: e.seq, reason: 'entry hash does not match its content' };
        }
        prev = e.hash;
        expected++;
        n++;
      }
    } catch (err) {
      if (err instanceof CorruptRecordError) return { ok: false, entries: n, brokenAt: expected, reason: err.message };
      throw err;
    }
    const raw = await this.store.get('meta', HEAD_KEY);
    if (raw !== undefined) {
      const h = decodeRecord(raw, RecordKind.meta, 'meta', HEAD_KEY) as { seq: number; hash: string };
      if (h.seq !== n || h.hash !== prev) {
        return { ok: false, entries: n, brokenAt: n + 1, reason: `log ends at ${n} but its head says ${h.seq}: truncated` };
      }
    }
    return { ok: true, entries: n, head: prev };
  }
}
