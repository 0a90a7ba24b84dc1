import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OperationalTransformStrategy } from '../../../src/core/resolve/index.js';
import {
  allMergeOrders,
  bytesOf,
  concurrentMeta,
  conflictOf,
  ctxOf,
  fenced,
  permutations,
  resolvedVersion,
  ver,
} from './helpers.js';

const ot = new OperationalTransformStrategy();
const DOC = 'crdt/doc-1';

describe('operational_transform', () => {
  const anc = ver({ origin: 'hv-01', wall: 500, data: 'The quick fox jumps over the dog.', resourceId: DOC });
  const a = ver({ origin: 'hv-01', wall: 1000, clock: { 'hv-01': 2 }, data: 'The quick brown fox jumps over the dog.', resourceId: DOC });
  const b = ver({ origin: 'hv-02', wall: 900, clock: { 'hv-01': 1, 'hv-02': 1 }, data: 'The quick fox jumps over the lazy dog!', resourceId: DOC });

  it('merges concurrent edits of a text against the ancestor, keeping both', () => {
    const r = ot.resolve(conflictOf([a, b]), ctxOf({ ancestor: anc }));
    const v = resolvedVersion(r);
    expect(v.data).toBe('The quick brown fox jumps over the lazy dog!');
    expect(v.clock.toJSON()).toEqual({ 'hv-01': 2, 'hv-02': 1 });
    expect(v.hlc).toEqual({ wall: 1000, logical: 0 });
    expect(v.origin).toBe('hv-01');
    if (r.outcome === 'resolved') expect(r.fieldDecisions[0]).toMatchObject({ field: '*', rule: 'operational_transform', winner: 'merged' });
    expect(bytesOf(resolvedVersion(ot.resolve(conflictOf([b, a]), ctxOf({ ancestor: anc }))))).toBe(bytesOf(v));
  });

  it('keeps both insertions at one place, in version order', () => {
    const x = ver({ origin: 'hv-01', wall: 1000, data: 'ab1c', resourceId: DOC });
    const y = ver({ origin: 'hv-02', wall: 2000, data: 'ab2c', resourceId: DOC });
    const base = ver({ origin: 'hv-01', wall: 1, data: 'abc', resourceId: DOC });
    expect(resolvedVersion(ot.resolve(conflictOf([y, x]), ctxOf({ ancestor: base }))).data).toBe('ab12c');
  });

  it('without an ancestor falls back to last-write-wins, and says so', () => {
    const r = ot.resolve(conflictOf([a, b]), ctxOf());
    expect(resolvedVersion(r).data).toBe(a.data);
    expect(r.notes.join('\n')).toMatch(/no common ancestor in the version history; resolved by last-write-wins/);
  });

  it('falls back to last-write-wins with a tombstone, or values that are neither text nor objects', () => {
    const del = ver({ origin: 'hv-03', wall: 3000, data: null, deleted: true, resourceId: DOC });
    const r = ot.resolve(conflictOf([a, del]), ctxOf({ ancestor: anc }));
    expect(resolvedVersion(r).deleted).toBe(true);
    expect(r.notes.join('\n')).toMatch(/tombstone/);
    const n1 = ver({ origin: 'hv-01', wall: 1, data: 1, resourceId: DOC });
    const n2 = ver({ origin: 'hv-02', wall: 2, data: [2], resourceId: DOC });
    expect(resolvedVersion(ot.resolve(conflictOf([n1, n2]), ctxOf())).data).toEqual([2]);
  });

  it('merges the text fields the policy names, and the other fields by last write', () => {
    const base = ver({ origin: 'hv-01', wall: 1, data: { title: 't', document_content: 'hello world', n: 0 }, resourceId: DOC });
    const x = ver({ origin: 'hv-01', wall: 1000, data: { title: 'x', document_content: 'hello brave world', n: 1 }, resourceId: DOC });
    const y = ver({ origin: 'hv-02', wall: 2000, data: { title: 'y', document_content: 'hello world!', n: 2 }, resourceId: DOC });
    const ctx = ctxOf({ ancestor: base, fieldStrategies: { document_content: 'operational_transform' } });
    const r = ot.resolve(conflictOf([x, y]), ctx);
    expect(resolvedVersion(r).data).toEqual({ title: 'y', document_content: 'hello brave world!', n: 2 });
    if (r.outcome === 'resolved') {
      expect(r.fieldDecisions.find((d) => d.field === 'document_content')).toMatchObject({ rule: 'operational_transform', winner: 'merged' });
      expect(r.fieldDecisions.find((d) => d.field === 'title')).toMatchObject({ rule: 'last_write_wins', winner: y.id });
    }
  });

  it('refuses an ancestor of another resource', () => {
    const other = ver({ origin: 'hv-01', wall: 1, data: 'x', resourceId: 'crdt/other' });
    expect(() => ot.resolve(conflictOf([a, b]), ctxOf({ ancestor: other }))).toThrow(expect.objectContaining({ code: 'ERR_RESOURCE_MISMATCH' }));
  });

  describe('properties', () => {
    const texts = (n: number) =>
      fc.tuple(concurrentMeta(n), fc.array(fc.string({ unit: fc.constantFrom('a', 'b', 'c', ' ', 'é', '😀'), maxLength: 24 }), { minLength: n + 1, maxLength: n + 1 }));

    it('merge(a, b, anc) == merge(b, a, anc) byte for byte, for any texts; the clock dominates both', () => {
      fc.assert(
        fc.property(texts(2), ([metas, [ancText, ...sides]]) => {
          const base = ver({ origin: 'hv-01', wall: 1, data: ancText, resourceId: DOC });
          const [x, y] = metas.map((m, i) => ver({ ...m, data: sides[i], resourceId: DOC }));
          const ctx = ctxOf({ ancestor: base });
          const xy = resolvedVersion(ot.resolve(conflictOf([x!, y!]), ctx));
          const yx = resolvedVersion(ot.resolve(conflictOf([y!, x!]), ctx));
          expect(bytesOf(xy)).toBe(bytesOf(yx));
          expect(xy.clock.dominates(x!.clock) && xy.clock.dominates(y!.clock)).toBe(true);
        }),
      );
    });

    it('three concurrent edits, all at once: the same bytes in every order', () => {
      fc.assert(
        fc.property(texts(3), ([metas, [ancText, ...sides]]) => {
          const base = ver({ origin: 'hv-01', wall: 1, data: ancText, resourceId: DOC });
          const vs = metas.map((m, i) => ver({ ...m, data: sides[i], resourceId: DOC }));
          const outs = permutations(vs).map((p) => bytesOf(resolvedVersion(ot.resolve(conflictOf(p), ctxOf({ ancestor: base })))));
          expect(new Set(outs).size).toBe(1);
        }),
      );
    });

    it('edits in separate regions: every insertion and deletion of each side lands, and any merge order gives the same bytes', () => {
      fc.assert(
        fc.property(concurrentMeta(3), fenced(3), (metas, { ancestor, edits, expected }) => {
          const base = ver({ origin: 'hv-01', wall: 1, data: ancestor, resourceId: DOC });
          const [x, y, z] = metas.map((m, i) => ver({ ...m, data: edits[i], resourceId: DOC }));
          const ctx = ctxOf({ ancestor: base });
          expect(resolvedVersion(ot.resolve(conflictOf([x!, y!, z!]), ctx)).data).toBe(expected);
          expect(new Set(allMergeOrders(ot, ctx, x!, y!, z!)).size).toBe(1);
        }),
      );
    });
  });
});
