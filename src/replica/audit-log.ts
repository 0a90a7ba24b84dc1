import { Buffer } from 'node:buffer';
import { canonicalJson, sha256Hex } from '../core/codec/canonical.js';
import { decodeRecord, decodeRecordText, encodeRecordText, RECORD_HEADER, RecordKind, recordDraft, sealRecordDraft, utf8Room } from './record-codec.js';
import type { Store, StoreOp } from './ports.js';
import { CorruptRecordError } from './store-errors.js';

/**
 * One entry of the append-only, hash-chained audit log.
 *
 * Stored as the JSON text `{"seq":…,"at":…,"kind":…[,"resourceId":…],"data":…,"prev":"…","hash":"…"}`
 * (in that order). `hash` is sha256(prev + "\n" + the stored text before `,"hash":`), i.e. of the
 * exact bytes on disk: the writer serialises an entry once and hashes what it stores, the verifier
 * re-hashes the stored text. A local chain needs no canonical form. Entries written by earlier
 * versions (hash of the canonical JSON of {seq, at, kind, resourceId, data}) still verify.
 */
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
  /** sha256(prev + "\n" + the entry's stored JSON text up to its hash field). */
  readonly hash: string;
}

export type AuditVerification =
  | { readonly ok: true; readonly entries: number; readonly head: string }
  | { readonly ok: false; readonly entries: number; readonly brokenAt: number; readonly reason: string };

export const GENESIS_HASH = '0'.repeat(64);
const HEAD_KEY = 'audit-head';
/** `,"hash":"` + 64 hex digits + `"}`: the fixed tail of a stored entry. */
const HASH_FIELD = ',"hash":"';
const HASH_TAIL = HASH_FIELD.length + 64 + 2;
const NEWLINE = 0x0a;

export function auditKey(seq: number): string {
  return String(seq).padStart(16, '0');
}

/** The hash of an entry written before entries were hashed as stored (canonical JSON of its content). */
function legacyHash(e: AuditEntry): string {
  return sha256Hex(`${e.prev}\n${canonicalJson({ seq: e.seq, at: e.at, kind: e.kind, resourceId: e.resourceId, data: e.data })}`);
}

/** Whether a stored entry's hash matches its stored text (or, for an old entry, its canonical content). */
function hashMatches(e: AuditEntry, text: string): boolean {
  const cut = text.length - HASH_TAIL;
  if (cut > 0 && text.startsWith(HASH_FIELD, cut) && text.endsWith('"}') && text.slice(cut + HASH_FIELD.length, cut + HASH_FIELD.length + 64) === e.hash) {
    if (sha256Hex(`${e.prev}\n${text.slice(0, cut)}`) === e.hash) return true;
  }
  try {
    return legacyHash(e) === e.hash;
  } catch {
    return false;
  }
}

export interface AppendedEntry {
  readonly seq: number;
  readonly hash: string;
  /** The entry and the new head pointer, for the caller's synced batch. */
  readonly ops: StoreOp[];
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
    const prev = this.head;
    const { seq, hash, ops } = this.appendJson(kind, at, JSON.stringify(data) ?? 'null', resourceId);
    const entry: AuditEntry = resourceId === undefined ? { seq, at, kind, data, prev, hash } : { seq, at, kind, resourceId, data, prev, hash };
    return { entry, ops };
  }

  /** Append an entry whose `data` is given as JSON text (the caller vouches that it is valid JSON). */
  appendJson(kind: string, at: number, dataJson: string, resourceId?: string): AppendedEntry {
    return this.appendParts(kind, at, [dataJson], resourceId);
  }

  /**
   * Append an entry whose `data` is the JSON text `dataParts.join('')` (the caller vouches that it is
   * valid JSON): the hot paths splice already serialised versions into it instead of encoding them
   * again, and the entry's text is written into its record part by part.
   */
  appendParts(kind: string, at: number, dataParts: readonly string[], resourceId?: string): AppendedEntry {
    const seq = this.seq + 1;
    const prev = this.head;
    const head =
      `{"seq":${seq},"at":${JSON.stringify(at)},"kind":${JSON.stringify(kind)}` +
      (resourceId === undefined ? '' : `,"resourceId":${JSON.stringify(resourceId)}`) +
      ',"data":';
    const tail = `,"prev":"${prev}"`;
    // The entry's text is written once, into its record; the hash input (prev + "\n" + that text up to
    // the hash field) is hashed in place: `prev` and the newline sit in the bytes just before the text,
    // which the record's header overwrites afterwards.
    // The text's size is bounded, not measured (see utf8Room); the prefix's must be exact.
    const prefix = Buffer.byteLength(prev, 'utf8') + 1;
    const draft = recordDraft(Math.max(0, prefix - RECORD_HEADER), utf8Room(dataParts, head, tail) + HASH_TAIL);
    const { buf } = draft;
    let end = draft.at - prefix;
    end += buf.write(prev, end, 'utf8');
    buf[end++] = NEWLINE;
    end += buf.write(head, end, 'utf8');
    for (const p of dataParts) end += buf.write(p, end, 'utf8');
    end += buf.write(tail, end, 'utf8');
    const hash = sha256Hex(buf.subarray(draft.at - prefix, end));
    end += buf.write(`${HASH_FIELD}${hash}"}`, end, 'latin1');
    this.seq = seq;
    this.head = hash;
    return {
      seq,
      hash,
      ops: [
        { type: 'put', sublevel: 'audit', key: auditKey(seq), value: sealRecordDraft(draft, RecordKind.audit, end - draft.at) },
        { type: 'put', sublevel: 'meta', key: HEAD_KEY, value: encodeRecordText(RecordKind.meta, `{"seq":${seq},"hash":"${hash}"}`) },
      ],
    };
  }

  /** One entry, if it exists; an undecodable one throws {@link CorruptRecordError}. */
  async entry(seq: number): Promise<AuditEntry | undefined> {
    const key = auditKey(seq);
    const raw = await this.store.get('audit', key);
    return raw === undefined ? undefined : (decodeRecord(raw, RecordKind.audit, 'audit', key) as AuditEntry);
  }

  /** Entries in order, optionally from/to a sequence number (inclusive). Undecodable entries throw. */
  async *entries(options: { fromSeq?: number; toSeq?: number } = {}): AsyncIterable<AuditEntry> {
    for await (const { key, value } of this.store.range('audit', this.rangeOf(options))) {
      yield decodeRecord(value, RecordKind.audit, 'audit', key) as AuditEntry;
    }
  }

  private rangeOf(options: { fromSeq?: number; toSeq?: number }): { gte: string; lt?: string } {
    return {
      gte: auditKey(options.fromSeq ?? 1),
      ...(options.toSeq !== undefined ? { lt: auditKey(options.toSeq + 1) } : {}),
    };
  }

  /** Walk the chain and report the first broken link (bad hash, wrong prev, gap, undecodable, truncated tail). */
  async verify(): Promise<AuditVerification> {
    let prev = GENESIS_HASH;
    let expected = 1;
    let n = 0;
    try {
      for await (const { key, value } of this.store.range('audit', this.rangeOf({}))) {
        const text = decodeRecordText(value, RecordKind.audit, 'audit', key);
        let e: AuditEntry;
        try {
          e = JSON.parse(text) as AuditEntry;
        } catch (err) {
          throw new CorruptRecordError('audit', key, `payload is not valid JSON (${err instanceof Error ? err.message : String(err)})`);
        }
        if (e.seq !== expected) return { ok: false, entries: n, brokenAt: expected, reason: `entry ${expected} is missing (found ${e.seq})` };
        if (e.prev !== prev) return { ok: false, entries: n, brokenAt: e.seq, reason: 'prev hash does not match the previous entry' };
        if (!hashMatches(e, text)) return { ok: false, entries: n, brokenAt: e.seq, reason: 'entry hash does not match its content' };
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
