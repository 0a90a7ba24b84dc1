import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { compareClocks, VectorClock } from '../../../src/core/clock/vector-clock.js';
import type * as VectorClockModule from '../../../src/core/clock/vector-clock.js';
import { clockArb, clockRecordArb, counterArb, mirror, model, modelCompare, NODE_POOL, nodeIdArb } from './arbitraries.js';

const same = (a: VectorClock, b: VectorClock): void => {
  expect(a.toString()).toBe(b.toString());
  expect(a.compare(b)).toBe('equal');
};

/** A clock near `base`: every entry moved by -2..+2 (clamped at zero), plus maybe a new entry. */
const nearArb = (base: VectorClock): fc.Arbitrary<VectorClock> =>
  fc
    .tuple(fc.array(fc.integer({ min: -2, max: 2 }), { minLength: NODE_POOL.length, maxLength: NODE_POOL.length }))
    .map(([deltas]) =>
      VectorClock.from(NODE_POOL.map((id, i): [string, number] => [id, Math.max(0, Math.min(Number.MAX_SAFE_INTEGER, base.get(id) + deltas[i]!))])),
    );

describe('VectorClock basics', () => {
  it('starts empty and increments one entry at a time', () => {
    const a = VectorClock.EMPTY.increment('a');
    const ab = a.increment('b').increment('b');
    expect(VectorClock.EMPTY.size).toBe(0);
    expect(ab.get('a')).toBe(1);
    expect(ab.get('b')).toBe(2);
    expect(ab.get('never-seen-node')).toBe(0);
    expect(ab.size).toBe(2);
    expect(ab.toString()).toBe('a:1,b:2');
    expect(a.compare(ab)).toBe('before');
    expect(ab.compare(a)).toBe('after');
    expect(a.increment('c').compare(ab)).toBe('concurrent');
    expect(ab.dominates(a)).toBe(true);
    expect(a.dominates(ab)).toBe(false);
  });

  it('is immutable: increment and join return new clocks', () => {
    const a = VectorClock.from({ a: 1 });
    a.increment('a');
    a.join(VectorClock.from({ a: 5, b: 1 }));
    expect(a.toString()).toBe('a:1');
  });

  it('drops zero counters, so a clock with explicit zeros equals one without', () => {
    same(VectorClock.from({ a: 0, b: 2, c: 0 }), VectorClock.from({ b: 2 }));
    same(VectorClock.from({ a: 0 }), VectorClock.EMPTY);
  });

  it('incrementing past 2^53 - 1 is refused', () => {
    const top = VectorClock.from({ a: Number.MAX_SAFE_INTEGER });
    expect(() => top.increment('a')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CLOCK' }));
  });

  it('increment raises exactly one entry and gives a strictly later clock', () => {
    fc.assert(
      fc.property(clockArb, nodeIdArb, (c, id) => {
        fc.pre(c.get(id) < Number.MAX_SAFE_INTEGER);
        const d = c.increment(id);
        expect(d.compare(c)).toBe('after');
        expect(d.get(id)).toBe(c.get(id) + 1);
        for (const other of NODE_POOL) if (other !== id) expect(d.get(other)).toBe(c.get(other));
      }),
    );
  });
});

describe('VectorClock order is a partial order matching the pointwise definition', () => {
  it('compare agrees with a brute-force pointwise comparison', () => {
    fc.assert(
      fc.property(clockArb, clockArb, (a, b) => {
        expect(a.compare(b)).toBe(modelCompare(model(a), model(b)));
        expect(compareClocks(a, b)).toBe(a.compare(b));
      }),
    );
  });

  it('also on clocks that are close to each other (so before/after/equal are common)', () => {
    fc.assert(
      fc.property(
        clockArb.chain((a) => fc.tuple(fc.constant(a), nearArb(a))),
        ([a, b]) => {
          expect(a.compare(b)).toBe(modelCompare(model(a), model(b)));
        },
      ),
    );
  });

  it('is reflexive: every clock is equal to itself and to a copy', () => {
    fc.assert(
      fc.property(clockArb, (a) => {
        expect(a.compare(a)).toBe('equal');
        expect(a.compare(VectorClock.from(a.toJSON()))).toBe('equal');
        expect(a.equals(a)).toBe(true);
        expect(a.dominates(a)).toBe(true);
      }),
    );
  });

  it('compare(a, b) and compare(b, a) are mirror images', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.tuple(clockArb, clockArb), clockArb.chain((a) => fc.tuple(fc.constant(a), nearArb(a)))),
        ([a, b]) => {
          expect(b.compare(a)).toBe(mirror(a.compare(b)));
        },
      ),
    );
  });

  it('is antisymmetric: a ≤ b and b ≤ a only when a and b are the same clock', () => {
    fc.assert(
      fc.property(
        clockArb.chain((a) => fc.tuple(fc.constant(a), nearArb(a))),
        ([a, b]) => {
          const o = a.compare(b);
          if (b.dominates(a) && a.dominates(b)) {
            expect(o).toBe('equal');
            expect(a.toString()).toBe(b.toString());
          }
          if (o === 'equal') expect(a.entries()).toEqual(b.entries());
          else expect(a.toString()).not.toBe(b.toString());
        },
      ),
    );
  });

  it('is transitive (chains built by joining, and random triples)', () => {
    const le = (x: VectorClock, y: VectorClock): boolean => y.dominates(x);
    fc.assert(
      fc.property(clockArb, clockArb, clockArb, (a, x, y) => {
        const b = a.join(x);
        const c = b.join(y);
        expect(le(a, b) && le(b, c) && le(a, c)).toBe(true);
        if (a.compare(b) === 'before' && b.compare(c) !== 'after') expect(a.compare(c)).toBe('before');
        if (b.compare(c) === 'before') expect(a.compare(c)).toBe('before');
      }),
    );
    fc.assert(
      fc.property(
        clockArb.chain((a) => fc.tuple(fc.constant(a), nearArb(a), nearArb(a))),
        ([a, b, c]) => {
          for (const [p, q, r] of [
            [a, b, c],
            [a, c, b],
            [b, a, c],
            [b, c, a],
            [c, a, b],
            [c, b, a],
          ] as const) {
            if (le(p, q) && le(q, r)) expect(le(p, r)).toBe(true);
            if (p.compare(q) === 'before' && q.compare(r) === 'before') expect(p.compare(r)).toBe('before');
          }
        },
      ),
    );
  });

  it('clocks that differ only in a tail entry compare correctly (arrays of different lengths)', () => {
    // 'late' is interned last, so it sits at the end of the longest typed array.
    const late = VectorClock.from({ a: 1, 'late-node': 1 });
    const short = VectorClock.from({ a: 1 });
    expect(late.compare(short)).toBe('after');
    expect(short.compare(late)).toBe('before');
    expect(VectorClock.from({ a: 2 }).compare(late)).toBe('concurrent');
    expect(late.compare(VectorClock.from({ a: 2 }))).toBe('concurrent');
    expect(VectorClock.EMPTY.compare(late)).toBe('before');
  });
});

describe('join is the least upper bound', () => {
  it('is commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(clockArb, clockArb, clockArb, (a, b, c) => {
        same(a.join(b), b.join(a));
        same(a.join(b).join(c), a.join(b.join(c)));
        same(a.join(a), a);
        same(a.join(VectorClock.EMPTY), a);
        same(VectorClock.joinAll([a, b, c]), a.join(b).join(c));
        same(VectorClock.joinAll([c, a, b]), a.join(b).join(c));
      }),
    );
    same(VectorClock.joinAll([]), VectorClock.EMPTY);
  });

  it('is the pointwise maximum', () => {
    fc.assert(
      fc.property(clockArb, clockArb, (a, b) => {
        const j = a.join(b);
        for (const id of NODE_POOL) expect(j.get(id)).toBe(Math.max(a.get(id), b.get(id)));
      }),
    );
  });

  it('dominates both inputs, and every clock dominating both inputs dominates the join', () => {
    fc.assert(
      fc.property(
        fc
          .tuple(clockArb, clockArb)
          .chain(([a, b]) => fc.tuple(fc.constant(a), fc.constant(b), fc.oneof(nearArb(a.join(b)), clockArb))),
        ([a, b, c]) => {
          const j = a.join(b);
          expect(j.dominates(a) && j.dominates(b)).toBe(true);
          // c is an upper bound of {a, b} exactly when it is above their join.
          expect(c.dominates(a) && c.dominates(b)).toBe(c.dominates(j));
        },
      ),
    );
  });

  it('join with a dominated clock returns the dominating one', () => {
    fc.assert(
      fc.property(clockArb, clockArb, (a, x) => {
        const b = a.join(x);
        same(a.join(b), b);
        same(b.join(a), b);
      }),
    );
  });
});

describe('encodings round-trip and are canonical', () => {
  it('encode/decode, toString/parse, toJSON/from and entries/from round-trip', () => {
    fc.assert(
      fc.property(clockArb, (a) => {
        same(VectorClock.decode(a.encode()), a);
        expect(VectorClock.decode(a.encode()).encode()).toEqual(a.encode());
        same(VectorClock.parse(a.toString()), a);
        same(VectorClock.from(a.toJSON()), a);
        same(VectorClock.from(JSON.parse(JSON.stringify(a)) as Record<string, number>), a);
        same(VectorClock.from(a.entries()), a);
        same(VectorClock.from(new Map(a.entries())), a);
      }),
    );
  });

  it('handles counters up to 2^53 - 1 exactly in every form', () => {
    const big = VectorClock.from({ a: Number.MAX_SAFE_INTEGER, b: 2 ** 52 + 1, c: 128, d: 127 });
    expect(VectorClock.decode(big.encode()).get('a')).toBe(Number.MAX_SAFE_INTEGER);
    expect(VectorClock.decode(big.encode()).get('b')).toBe(2 ** 52 + 1);
    expect(VectorClock.parse(big.toString()).get('a')).toBe(Number.MAX_SAFE_INTEGER);
    same(VectorClock.decode(big.encode()), big);
  });

  it('has a fixed, documented byte layout', () => {
    // format 0x01, 2 entries, "a" → 1, "bc" → 300 (varint 0xac 0x02)
    expect(Array.from(VectorClock.from({ bc: 300, a: 1 }).encode())).toEqual([
      0x01, 0x02, 0x01, 0x61, 0x01, 0x02, 0x62, 0x63, 0xac, 0x02,
    ]);
    expect(Array.from(VectorClock.EMPTY.encode())).toEqual([0x01, 0x00]);
    expect(VectorClock.EMPTY.toString()).toBe('');
    same(VectorClock.parse(''), VectorClock.EMPTY);
  });

  it('gives identical bytes, text and JSON for any insertion order and any zero entries', () => {
    fc.assert(
      fc.property(
        clockRecordArb.chain((r) => fc.tuple(fc.constant(Object.entries(r)), fc.shuffledSubarray(Object.entries(r), { minLength: Object.keys(r).length }))),
        fc.subarray([...NODE_POOL]),
        ([entries, shuffled], zeros) => {
          const a = VectorClock.from(entries);
          const extra = zeros.filter((id) => !entries.some(([k]) => k === id)).map((id): [string, number] => [id, 0]);
          const b = VectorClock.from([...extra, ...shuffled]);
          expect(b.encode()).toEqual(a.encode());
          expect(b.toString()).toBe(a.toString());
          expect(JSON.stringify(b)).toBe(JSON.stringify(a));
        },
      ),
    );
  });

  it('parse accepts entries in any order (the result is the same clock)', () => {
    same(VectorClock.parse('b:2,a:1'), VectorClock.parse('a:1,b:2'));
  });

  it('gives identical bytes whatever order node ids were interned in (fresh module instances)', async () => {
    // The intern table is process-global, so build the same clocks in two fresh copies of the module
    // that intern the same names in opposite orders.
    const names = ['zulu', 'alpha', 'mike', 'bravo', '7', '10', 'x-ray.1'];
    const counters = [3, 1, 4, 1, 5, 9, 2];
    const load = async (): Promise<typeof VectorClockModule> => {
      vi.resetModules();
      return import('../../../src/core/clock/vector-clock.js');
    };
    const m1 = await load();
    const m2 = await load();
    expect(m1.VectorClock).not.toBe(m2.VectorClock);
    const pairs = names.map((n, i): [string, number] => [n, counters[i]!]);
    for (const [n] of pairs) m1.VectorClock.EMPTY.increment(n); // intern in this order
    for (const [n] of [...pairs].reverse()) m2.VectorClock.EMPTY.increment(n); // and in the reverse order
    const c1 = m1.VectorClock.from(pairs);
    const c2 = m2.VectorClock.from([...pairs].reverse());
    expect(c2.encode()).toEqual(c1.encode());
    expect(c2.toString()).toBe(c1.toString());
    expect(JSON.stringify(c2)).toBe(JSON.stringify(c1));
    // Bytes from one process decode to the same clock in another.
    expect(m2.VectorClock.decode(c1.encode()).toString()).toBe(c1.toString());
    expect(m2.VectorClock.decode(c1.encode()).compare(c2)).toBe('equal');
    // And orderings agree across both instances.
    const d1 = c1.increment('mike');
    const d2 = m2.VectorClock.decode(d1.encode());
    expect(d2.compare(c2)).toBe('after');
    expect(c2.compare(d2)).toBe('before');
  });

  it('entries() are sorted by node id and contain no zeros', () => {
    fc.assert(
      fc.property(clockArb, (a) => {
        const ids = a.entries().map(([k]) => k);
        expect(ids).toEqual([...ids].sort());
        expect(a.entries().every(([, v]) => v > 0)).toBe(true);
        expect(a.size).toBe(ids.length);
      }),
    );
  });

  it('counter arbitrary sanity: produces both small and huge counters', () => {
    const samples = fc.sample(counterArb, 500);
    expect(samples.some((x) => x <= 4)).toBe(true);
    expect(samples.some((x) => x > 2 ** 40)).toBe(true);
  });
});
