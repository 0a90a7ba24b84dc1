import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../src/core/codec/canonical.js';
import { GCounter, MAX_COUNT, PNCounter, decodeCRDT } from '../../../src/core/crdt/index.js';

const MAX = Number.MAX_SAFE_INTEGER;

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('G-Counter', () => {
  it('sums per-node counts and merges by per-node maximum', () => {
    const a = GCounter.EMPTY.increment('n1', 3).state.increment('n2').state;
    const b = GCounter.EMPTY.increment('n1', 5).state;
    expect(a.value()).toBe(4n);
    expect(a.merge(b).value()).toBe(6n);
    expect(a.merge(b).get('n1')).toBe(5n);
    expect(a.merge(b).toJSON()).toEqual({ type: 'g_counter', counts: { n1: '5', n2: '1' } });
  });

  it('the delta of an increment carries only that node', () => {
    const m = GCounter.EMPTY.increment('n1', 2).state.increment('n2', 7).state.increment('n1', 1);
    expect(m.delta.toJSON()).toEqual({ type: 'g_counter', counts: { n1: '3' } });
  });

  it('stays exact beyond 2^53 and serializes decimal strings', () => {
    let c = GCounter.EMPTY;
    for (let i = 0; i < 3; i++) c = c.increment('n1', MAX).state;
    expect(c.value()).toBe(3n * BigInt(MAX));
    expect(canonicalJson(c.toJSON())).toBe('{"counts":{"n1":"27021597764222973"},"type":"g_counter"}');
    expect(decodeCRDT('g_counter', c.toJSON()).value()).toBe(27021597764222973n);
    expect(c.increment('n1', 1n).state.value()).toBe(27021597764222974n);
  });

  it('matches exact arithmetic for any sequence of increments', () => {
    const amount = fc.oneof(fc.integer({ min: 1, max: MAX }), fc.bigInt({ min: 1n, max: 2n ** 80n }));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('n1', 'n2'), amount), { maxLength: 30 }), (incs) => {
        let c = GCounter.EMPTY;
        let sum = 0n;
        for (const [node, by] of incs) {
          c = c.increment(node, by).state;
          sum += BigInt(by);
        }
        expect(c.value()).toBe(sum);
        expect(GCounter.fromJSON(JSON.parse(canonicalJson(c.toJSON()))).value()).toBe(sum);
      }),
    );
  });

  it('refuses to pass 2^256 - 1 per node, with a typed error', () => {
    const c = GCounter.EMPTY.increment('n1', MAX_COUNT).state;
    expect(thrown(() => c.increment('n1', 1))).toMatchObject({ code: 'ERR_INVALID_CRDT_STATE', meta: { reason: 'overflow' } });
    expect(c.increment('n2', 1).state.value()).toBe(MAX_COUNT + 1n);
  });

  it('refuses bad increments', () => {
    for (const by of [0, -1, 1.5, NaN, 2 ** 53, '1', 0n, -5n]) {
      expect(() => GCounter.EMPTY.increment('n1', by as number), String(by)).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_CRDT_STATE' }),
      );
    }
    expect(() => GCounter.EMPTY.increment('not a node!', 1)).toThrow(/node id/);
  });
});

describe('PN-Counter', () => {
  it('counts up and down, may go negative', () => {
    const c = PNCounter.EMPTY.increment('n1', 2).state.decrement('n2', 5).state;
    expect(c.value()).toBe(-3n);
    expect(c.toJSON()).toEqual({ type: 'pn_counter', p: { n1: '2' }, n: { n2: '5' } });
    expect(PNCounter.EMPTY.decrement('n1').delta.toJSON()).toEqual({ type: 'pn_counter', p: {}, n: { n1: '1' } });
  });

  it('does not overflow silently: exact far beyond 2^53 in both directions', () => {
    let c = PNCounter.EMPTY;
    for (let i = 0; i < 4; i++) c = c.increment('n1', MAX).state;
    for (let i = 0; i < 10; i++) c = c.decrement('n2', MAX).state;
    expect(c.value()).toBe(-6n * BigInt(MAX));
    const json = canonicalJson(c.toJSON());
    expect(json).toBe('{"n":{"n2":"90071992547409910"},"p":{"n1":"36028797018963964"},"type":"pn_counter"}');
    expect(decodeCRDT('pn_counter', JSON.parse(json)).value()).toBe(-54043195528445946n);
    // Merging two replicas each past 2^53 stays exact.
    const other = PNCounter.EMPTY.increment('n3', 2n ** 60n).state;
    expect(c.merge(other).value()).toBe(-54043195528445946n + 2n ** 60n);
  });

  it('fails with a typed error rather than wrap at its (unreachable) bound', () => {
    const c = PNCounter.EMPTY.decrement('n1', MAX_COUNT).state;
    expect(() => c.decrement('n1', 1)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CRDT_STATE' }));
  });
});

describe('counter decoding', () => {
  it('accepts canonical decimal strings and safe integers, drops zeros', () => {
    expect(GCounter.fromJSON({ type: 'g_counter', counts: { a: 5, b: '0', c: '18446744073709551616' } }).toJSON()).toEqual({
      type: 'g_counter',
      counts: { a: '5', c: '18446744073709551616' },
    });
  });

  it('rejects bad counts with the path and the problem', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ type: 'g_counter', counts: { a: -1 } }, /g_counter\.counts\.a: count must not be negative/],
      [{ type: 'g_counter', counts: { a: '-1' } }, /g_counter\.counts\.a: count must not be negative/],
      [{ type: 'g_counter', counts: { a: 1.5 } }, /g_counter\.counts\.a: count must be an integer/],
      [{ type: 'g_counter', counts: { a: 2 ** 60 } }, /beyond 2\^53 - 1: write it as a decimal string/],
      [{ type: 'g_counter', counts: { a: '007' } }, /canonical decimal string/],
      [{ type: 'g_counter', counts: { a: '1e3' } }, /canonical decimal string/],
      [{ type: 'g_counter', counts: { a: '9'.repeat(100) } }, /canonical decimal string of at most 78 digits/],
      [{ type: 'g_counter', counts: { a: (2n ** 256n).toString() } }, /exceeds 2\^256 - 1/],
      [{ type: 'g_counter', counts: { a: true } }, /count must be a decimal string, got true/],
      [{ type: 'g_counter', counts: { '-x': 1 } }, /g_counter\.counts key: expected a node id/],
      [{ type: 'g_counter', counts: [] }, /g_counter\.counts: expected an object/],
      [{ type: 'g_counter' }, /g_counter\.counts: missing/],
      [{ type: 'pn_counter', p: {}, n: { a: -2 } }, /pn_counter\.n\.a: count must not be negative/],
      [{ type: 'pn_counter', p: {} }, /pn_counter\.n: missing/],
    ];
    for (const [value, message] of bad) {
      const type = (value as { type: 'g_counter' | 'pn_counter' }).type;
      expect(() => decodeCRDT(type, value), JSON.stringify(value)).toThrow(message);
    }
  });
});
