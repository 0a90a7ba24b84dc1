import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../../src/core/codec/canonical.js';
import type { Version } from '../../../src/core/conflict/version.js';
import { DigestIndex, setHash } from '../../../src/replica/digest.js';

/** The index's documented results computed directly: a map of hashes, buckets by SHA-256 of the id. */
class Model {
  readonly hashes = new Map<string, string>();

  constructor(readonly buckets: number) {}

  bucketOf(r: string): number {
    return parseInt(sha256Hex(r).slice(0, 8), 16) % this.buckets;
  }

  summary(): string[] {
    const hi = new Uint32Array(this.buckets);
    const lo = new Uint32Array(this.buckets);
    for (const [r, h] of this.hashes) {
      const b = this.bucketOf(r);
      hi[b] = (hi[b]! ^ parseInt(h.slice(0, 8), 16)) >>> 0;
      lo[b] = (lo[b]! ^ parseInt(h.slice(8, 16), 16)) >>> 0;
    }
    return Array.from(hi, (x, i) => x.toString(16).padStart(8, '0') + lo[i]!.toString(16).padStart(8, '0'));
  }

  inBucket(b: number): string[] {
    return [...this.hashes.keys()].filter((r) => this.bucketOf(r) === b);
  }
}

describe('DigestIndex', () => {
  it('matches a map of hashes through adds, updates, deletes and regrowth', () => {
    const buckets = 16;
    const index = new DigestIndex(buckets);
    const model = new Model(buckets);
    let seed = 11;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const verify = (): void => {
      expect(index.summary()).toEqual(model.summary());
      for (let b = 0; b < buckets; b++) {
        // Each bucket lists its resources in the order they were added (as a Set would).
        expect([...index.resourcesIn(b)].sort()).toEqual(model.inBucket(b).sort());
      }
      const all = Array.from({ length: buckets }, (_, b) => b);
      expect(index.entries(all)).toEqual(Object.fromEntries(model.hashes));
      for (let k = 0; k < 400; k++) expect(index.hashOf(`vm/vm-${k}`)).toBe(model.hashes.get(`vm/vm-${k}`));
    };
    for (let step = 0; step < 6000; step++) {
      const r = `vm/vm-${rnd(400)}`;
      if (rnd(4) === 0) {
        index.set(r, undefined);
        model.hashes.delete(r);
      } else {
        const h = sha256Hex(`${r}:${step}`).slice(0, 16);
        index.set(r, h);
        model.hashes.set(r, h);
      }
      if (step % 500 === 0) verify();
    }
    verify();
    for (const r of [...model.hashes.keys()]) index.set(r, undefined);
    model.hashes.clear();
    verify();
    expect(index.summary().every((s) => s === '0'.repeat(16))).toBe(true);
  });

  it('keeps insertion order within a bucket', () => {
    const index = new DigestIndex(1);
    for (const r of ['c', 'a', 'b']) index.set(r, '0123456789abcdef');
    index.set('a', undefined);
    index.set('a', 'fedcba9876543210');
    expect([...index.resourcesIn(0)]).toEqual(['c', 'b', 'a']);
  });

  it('refuses a hash that is not 16 lowercase hex digits', () => {
    const index = new DigestIndex(4);
    for (const bad of ['0123456789ABCDEF', '0123456789abcde', '0123456789abcdef0', 'zz23456789abcdef']) {
      expect(() => index.set('vm/x', bad)).toThrow(TypeError);
    }
    expect(index.hashOf('vm/x')).toBeUndefined();
  });
});

describe('setHash', () => {
  const v = (id: string) => ({ id }) as unknown as Version;
  it('is the id prefix of a set of one version, a hash of the sorted ids of several, 16 lowercase hex digits either way', () => {
    const a = 'a1b2c3d4e5f60718293a4b5c';
    const b = '0f1e2d3c4b5a69788796a5b4';
    expect(setHash('vm/x', [v(a)])).toBe('a1b2c3d4e5f60718');
    expect(setHash('vm/x', [v(a), v(b)])).toBe(sha256Hex(`vm/x\n${b},${a}`).slice(0, 16));
    expect(setHash('vm/x', [v(b), v(a)])).toBe(setHash('vm/x', [v(a), v(b)]));
    // An id that is not hex (a damaged store) is hashed, so the index still gets a valid hash.
    expect(setHash('vm/x', [v('NOT-HEX-at-all-000000000')])).toBe(sha256Hex('vm/x\nNOT-HEX-at-all-000000000').slice(0, 16));
    for (const h of [setHash('vm/x', [v(a)]), setHash('vm/x', [v(a), v(b)]), setHash('vm/y', [v('x')])]) expect(h).toMatch(/^[0-9a-f]{16}$/);
  });
});
