import { Buffer } from 'node:buffer';
import { beforeEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../src/adapters/memory/memory-store.js';
import { canonicalJson, sha256Hex } from '../../../src/core/codec/canonical.js';
import { AuditLog, auditKey, GENESIS_HASH } from '../../../src/replica/audit-log.js';
import {
  decodeRecord,
  decodeRecordText,
  encodeRecord,
  encodeRecordParts,
  encodeRecordText,
  RECORD_HEADER,
  RecordKind,
  recordDraft,
  sealRecordDraft,
} from '../../../src/replica/record-codec.js';

async function fill(log: AuditLog, store: MemoryStore, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const { ops } = log.append('write', 1_000 + i, { i }, `vm/${i % 3}`);
    await store.write(ops);
  }
}

describe('AuditLog', () => {
  let store: MemoryStore;
  let log: AuditLog;

  beforeEach(async () => {
    store = new MemoryStore();
    await store.open();
    log = new AuditLog(store);
    await log.load();
  });

  it('chains entries and verifies an intact log', async () => {
    await fill(log, store, 20);
    const v = await log.verify();
    expect(v).toMatchObject({ ok: true, entries: 20, head: log.headHash });
    const seqs: number[] = [];
    for await (const e of log.entries({ fromSeq: 5, toSeq: 7 })) seqs.push(e.seq);
    expect(seqs).toEqual([5, 6, 7]);
  });

  it('continues the chain after a restart', async () => {
    await fill(log, store, 3);
    const again = new AuditLog(store);
    await again.load();
    expect(again.lastSeq).toBe(3);
    await fill(again, store, 2);
    expect(await again.verify()).toMatchObject({ ok: true, entries: 5 });
  });

  it('reports the first entry whose content was altered', async () => {
    await fill(log, store, 10);
    const raw = await store.get('audit', auditKey(4));
    const entry = decodeRecord(raw!, RecordKind.audit, 'audit', auditKey(4)) as Record<string, unknown>;
    await store.write([{ type: 'put', sublevel: 'audit', key: auditKey(4), value: encodeRecord(RecordKind.audit, { ...entry, data: { i: 999 } }) }]);
    expect(await log.verify()).toMatchObject({ ok: false, brokenAt: 4, reason: expect.stringContaining('hash') as unknown });
  });

  it('reports a missing entry in the middle', async () => {
    await fill(log, store, 10);
    await store.write([{ type: 'del', sublevel: 'audit', key: auditKey(6) }]);
    expect(await log.verify()).toMatchObject({ ok: false, brokenAt: 6 });
  });

  it('reports a truncated tail through the head pointer', async () => {
    await fill(log, store, 10);
    await store.write([{ type: 'del', sublevel: 'audit', key: auditKey(10) }]);
    expect(await log.verify()).toMatchObject({ ok: false, brokenAt: 10, reason: expect.stringContaining('truncated') as unknown });
  });

  it('hashes the exact text it stores: sha256(prev + "\\n" + the entry up to its hash field)', async () => {
    await fill(log, store, 3);
    const { ops } = log.appendJson('write', 2_000, '{"set":["a"],"added":[{"x":"ü 😀"}]}', 'vm/a');
    await store.write(ops);
    const text = decodeRecordText((await store.get('audit', auditKey(4)))!, RecordKind.audit, 'audit', auditKey(4));
    const entry = JSON.parse(text) as { prev: string; hash: string; data: unknown };
    expect(entry.data).toEqual({ set: ['a'], added: [{ x: 'ü 😀' }] });
    expect(text.endsWith(`,"hash":"${entry.hash}"}`)).toBe(true);
    expect(sha256Hex(`${entry.prev}\n${text.slice(0, text.lastIndexOf(',"hash":'))}`)).toBe(entry.hash);
    expect(await log.verify()).toMatchObject({ ok: true, entries: 4, head: entry.hash });
  });

  it('verifies entries hashed the earlier way (canonical JSON of the content) and continues their chain', async () => {
    let prev = GENESIS_HASH;
    const ops = [];
    for (let seq = 1; seq <= 3; seq++) {
      const content = { seq, at: 500 + seq, kind: 'write', resourceId: 'vm/x', data: { b: seq, a: [seq, 'z'] } };
      const hash = sha256Hex(`${prev}\n${canonicalJson(content)}`);
      ops.push({ type: 'put' as const, sublevel: 'audit' as const, key: auditKey(seq), value: encodeRecord(RecordKind.audit, { ...content, prev, hash }) });
      prev = hash;
    }
    ops.push({ type: 'put' as const, sublevel: 'meta' as const, key: 'audit-head', value: encodeRecord(RecordKind.meta, { seq: 3, hash: prev }) });
    await store.write(ops);
    const again = new AuditLog(store);
    await again.load();
    await fill(again, store, 2);
    expect(await again.verify()).toMatchObject({ ok: true, entries: 5 });
    // An old entry whose content was altered still fails.
    const raw = decodeRecord((await store.get('audit', auditKey(2)))!, RecordKind.audit, 'audit', auditKey(2)) as Record<string, unknown>;
    await store.write([{ type: 'put', sublevel: 'audit', key: auditKey(2), value: encodeRecord(RecordKind.audit, { ...raw, at: 1 }) }]);
    expect(await again.verify()).toMatchObject({ ok: false, brokenAt: 2, reason: expect.stringContaining('hash') as unknown });
  });

  it('reports an undecodable entry with its key', async () => {
    await fill(log, store, 5);
    await store.write([{ type: 'put', sublevel: 'audit', key: auditKey(2), value: new Uint8Array([0x44, 1, 3, 0, 0, 0, 0, 0x7b]) }]);
    const v = await log.verify();
    expect(v).toMatchObject({ ok: false, brokenAt: 2 });
    expect(v.ok ? '' : v.reason).toContain(`audit/${auditKey(2)}`);
  });
});

describe('record codec', () => {
  it('encodes text and text in parts to the same bytes as encodeRecord', () => {
    const payload = { a: 'ü 😀 \u0001', b: [1, 2.5, null], c: { d: true } };
    const whole = encodeRecord(RecordKind.audit, payload);
    const json = JSON.stringify(payload);
    expect(encodeRecordText(RecordKind.audit, json)).toEqual(whole);
    const cut = json.indexOf(',"b"');
    expect(encodeRecordParts(RecordKind.audit, [json.slice(0, 3), json.slice(3, cut), '', json.slice(cut)])).toEqual(whole);
    expect(decodeRecordText(whole, RecordKind.audit, 'audit', 'k')).toBe(json);
  });

  it('seals a draft (payload written in place after spare bytes) to the bytes encodeRecordText gives', () => {
    const json = JSON.stringify({ a: 'ü 😀', b: [1, 2] });
    const bytes = Buffer.from(json, 'utf8');
    for (const before of [0, 3, 65]) {
      for (const room of [0, 40]) {
        // Room for more payload than is written (a bound): the record ends where the payload does.
        const expected = encodeRecordText(RecordKind.audit, json);
        const draft = recordDraft(before, bytes.length + room);
        expect(draft.at).toBe(before + RECORD_HEADER);
        draft.buf.fill(0xee); // whatever the caller left in the spare bytes and the unused room is not part of the record
        bytes.copy(draft.buf, draft.at);
        const rec = sealRecordDraft(draft, RecordKind.audit, bytes.length);
        expect(rec).toEqual(expected);
        expect(decodeRecordText(rec, RecordKind.audit, 'audit', 'k')).toBe(json);
        // The unused room went back to the slab: the next record starts right after this one (8-byte aligned).
        const next = encodeRecordText(RecordKind.meta, '{}');
        if (next.buffer === rec.buffer) expect(next.byteOffset).toBe((rec.byteOffset + rec.length + 7) & ~7);
      }
    }
  });

  it('gives a record too large for a slab a buffer of exactly its size, whatever its characters', () => {
    for (const text of ['a'.repeat(20_000), 'ü😀'.repeat(4_000), 'x'.repeat(15_000) + 'é'.repeat(1_000)]) {
      const json = JSON.stringify({ text });
      for (const rec of [encodeRecordText(RecordKind.checkpoint, json), encodeRecordParts(RecordKind.checkpoint, [json.slice(0, 7), json.slice(7)])]) {
        expect(rec.length).toBe(RECORD_HEADER + Buffer.byteLength(json, 'utf8'));
        expect(rec.buffer.byteLength).toBe(rec.length);
        expect(decodeRecordText(rec, RecordKind.checkpoint, 'checkpoints', 'k')).toBe(json);
      }
    }
  });

  it('round-trips and rejects wrong kind, flipped bits and truncation with the key named', () => {
    const rec = encodeRecord(RecordKind.versionSet, { a: [1, 2, 3] });
    expect(decodeRecord(rec, RecordKind.versionSet, 'versions', 'vm/x')).toEqual({ a: [1, 2, 3] });
    expect(() => decodeRecord(rec, RecordKind.audit, 'versions', 'vm/x')).toThrow(/versions\/vm\/x.*kind/);
    const flipped = rec.slice();
    flipped[flipped.length - 2]! ^= 0x01;
    expect(() => decodeRecord(flipped, RecordKind.versionSet, 'versions', 'vm/x')).toThrow(/checksum/);
    expect(() => decodeRecord(rec.subarray(0, 5), RecordKind.versionSet, 'versions', 'vm/x')).toThrow(/shorter than its header/);
    try {
      decodeRecord(new Uint8Array([1, 2, 3, 4, 5, 6, 7]), RecordKind.versionSet, 'versions', 'vm/y');
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ code: 'ERR_CORRUPT_RECORD', meta: { sublevel: 'versions', key: 'vm/y' } });
    }
  });
});
