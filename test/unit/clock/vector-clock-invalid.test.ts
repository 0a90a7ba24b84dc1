/**
 * Malformed clocks, from a local caller or a hostile peer, are refused with InvalidClockError
 * (ERR_INVALID_CLOCK) and a message that names the problem; never a TypeError, never a silent fix-up.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertNodeId } from '../../../src/core/clock/node-ids.js';
import { MAX_CLOCK_ENTRIES, VectorClock } from '../../../src/core/clock/vector-clock.js';
import { InvalidClockError } from '../../../src/core/errors.js';
import { clockArb, expectCode } from './arbitraries.js';

const invalid = (fn: () => unknown, message: RegExp): void => {
  expectCode(fn, 'ERR_INVALID_CLOCK', message);
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidClockError);
    expect((err as Error).name).toBe('InvalidClockError');
  }
};

/** Encode by hand: format byte, count, then [name, counter] pairs with single-byte varints. */
const bytes = (...parts: Array<number | string>): Uint8Array =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === 'number' ? [p] : [p.length, ...Buffer.from(p, 'latin1')])));

describe('VectorClock.from refuses bad counters', () => {
  const cases: Array<[unknown, RegExp]> = [
    [-1, /counter of a must not be negative, got -1/],
    [1.5, /counter of a must be an integer, got 1\.5/],
    [NaN, /counter of a must be an integer, got NaN/],
    [Infinity, /counter of a must be an integer, got Infinity/],
    [-Infinity, /counter of a must be an integer, got -Infinity/],
    [2 ** 53, /counter of a exceeds 2\^53 - 1/],
    [Number.MAX_VALUE, /counter of a exceeds 2\^53 - 1/],
    ['1', /counter of a must be an integer, got "1"/],
    [null, /counter of a must be an integer, got null/],
    [undefined, /counter of a must be an integer, got undefined/],
    [1n, /counter of a must be an integer, got 1n/],
    [{}, /counter of a must be an integer, got an object/],
  ];
  for (const [counter, message] of cases) {
    it(`counter ${typeof counter === 'bigint' ? `${counter}n` : typeof counter === 'string' ? JSON.stringify(counter) : String(counter)}`, () => {
      invalid(() => VectorClock.from({ a: counter as number }), message);
      invalid(() => VectorClock.from([['a', counter as number]]), message);
    });
  }

  it('any non-integer or out-of-range number', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.double().filter((x) => !Number.isInteger(x)), fc.integer({ max: -1 }), fc.double({ min: 2 ** 53, noNaN: true })),
        (x) => {
          invalid(() => VectorClock.from({ a: x }), /counter of a/);
        },
      ),
    );
  });
});

describe('VectorClock.from refuses bad node ids, duplicates and oversized clocks', () => {
  const badIds: unknown[] = ['', '-a', '.a', '_a', 'a b', 'a:b', 'a,b', 'é', 'a\n', 'x'.repeat(65), 7, null, 1n];
  for (const id of badIds) {
    it(`node id ${typeof id === 'string' ? JSON.stringify(id) : typeof id === 'bigint' ? `${id}n` : String(id)}`, () => {
      invalid(() => VectorClock.from([[id as string, 1]]), /invalid node id in vector clock/);
      if (typeof id === 'string') invalid(() => VectorClock.from({ [id]: 1 }), /invalid node id in vector clock/);
      invalid(() => assertNodeId(id), /invalid node id .*expected 1-64 characters/);
    });
  }

  it('accepts the longest and the shortest valid ids', () => {
    expect(VectorClock.from({ ['x'.repeat(64)]: 1, '0': 2 }).size).toBe(2);
  });

  it('duplicate node ids, even when one of them has a zero counter', () => {
    invalid(() => VectorClock.from([['a', 1], ['a', 2]]), /node id a appears twice/);
    invalid(() => VectorClock.from([['a', 1], ['a', 0]]), /node id a appears twice/);
    invalid(() => VectorClock.from([['a', 0], ['a', 3]]), /node id a appears twice/);
    invalid(() => VectorClock.from([['a', 0], ['a', 0]]), /node id a appears twice/);
  });

  it(`more than ${MAX_CLOCK_ENTRIES} entries`, () => {
    const entries = Array.from({ length: MAX_CLOCK_ENTRIES + 1 }, (_, i): [string, number] => [`too-many-${i}`, 0]);
    invalid(() => VectorClock.from(entries), /more than 4096 entries/);
    expect(VectorClock.from(entries.slice(0, MAX_CLOCK_ENTRIES)).size).toBe(0);
  });

  it('inputs that are not clocks at all', () => {
    invalid(() => VectorClock.from(null as unknown as Record<string, number>), /must be an object or an iterable.*got null/);
    invalid(() => VectorClock.from(5 as unknown as Record<string, number>), /must be an object or an iterable.*got 5/);
    invalid(() => VectorClock.from([['a', 1, 2]] as unknown as Array<[string, number]>), /must be a \[nodeId, counter\] pair/);
    invalid(() => VectorClock.from(['a1'] as unknown as Array<[string, number]>), /must be a \[nodeId, counter\] pair, got "a1"/);
    invalid(() => VectorClock.from([null] as unknown as Array<[string, number]>), /must be a \[nodeId, counter\] pair, got null/);
  });
});

describe('VectorClock.decode refuses malformed bytes', () => {
  const valid = bytes(0x01, 2, 'a', 1, 'b', 5);

  it('a hand-built valid encoding decodes (control case)', () => {
    expect(VectorClock.decode(valid).toString()).toBe('a:1,b:5');
  });

  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['empty input', new Uint8Array(0), /empty vector clock encoding/],
    ['unknown format byte 0x02', bytes(0x02, 0), /unknown vector clock encoding 0x2/],
    ['unknown format byte 0x00', bytes(0x00, 0), /unknown vector clock encoding 0x0/],
    ['unknown format byte 0xff', bytes(0xff), /unknown vector clock encoding 0xff/],
    ['missing count', bytes(0x01), /truncated varint/],
    ['count larger than the entries present', bytes(0x01, 3, 'a', 1, 'b', 5), /truncated/],
    ['name running past the end', Uint8Array.from([0x01, 1, 5, 0x61, 0x62]), /truncated vector clock encoding/],
    ['missing counter', bytes(0x01, 1, 'a'), /truncated varint/],
    ['unterminated varint counter', bytes(0x01, 1, 'a', 0x80, 0x80), /truncated varint/],
    ['trailing bytes', bytes(0x01, 1, 'a', 1, 0x00), /1 trailing bytes after vector clock/],
    ['non-canonical order', bytes(0x01, 2, 'b', 1, 'a', 1), /not in canonical order/],
    ['duplicate node id', bytes(0x01, 2, 'a', 1, 'a', 2), /not in canonical order/],
    ['zero counter', bytes(0x01, 1, 'a', 0), /zero counter for a/],
    ['over-long varint counter (1 as 0x81 0x00)', bytes(0x01, 1, 'a', 0x81, 0x00), /non-canonical \(over-long\) varint/],
    ['over-long varint count', bytes(0x01, 0x81, 0x00, 'a', 1), /non-canonical \(over-long\) varint/],
    ['varint longer than 8 bytes', bytes(0x01, 1, 'a', 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01), /varint in vector clock too long/],
    // 2^53 = 0x20000000000000: seven 7-bit groups of zero then 0x10... built from the little-endian groups.
    ['counter 2^53', bytes(0x01, 1, 'a', 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10), /exceeds 2\^53 - 1/],
    ['too many entries', bytes(0x01, 0x81, 0x20), /4097 entries \(limit 4096\)/],
    ['empty node id', bytes(0x01, 1, '', 1), /invalid node id in vector clock encoding ""/],
    ['node id with a space', bytes(0x01, 1, 'a b', 1), /invalid node id.*"a b"/],
    ['node id that is not UTF-8', Uint8Array.from([0x01, 1, 2, 0xc3, 0x28, 1]), /invalid node id/],
    ['node id longer than 64 bytes', bytes(0x01, 1, 'y'.repeat(65), 1), /invalid node id/],
  ];
  for (const [name, input, message] of cases) {
    it(name, () => invalid(() => VectorClock.decode(input), message));
  }

  it('input that is not a byte array', () => {
    invalid(() => VectorClock.decode('0101' as unknown as Uint8Array), /empty vector clock encoding/);
    invalid(() => VectorClock.decode([1, 0] as unknown as Uint8Array), /empty vector clock encoding/);
  });

  it('every proper prefix of a valid non-empty encoding (truncation)', () => {
    fc.assert(
      fc.property(
        clockArb.filter((c) => c.size > 0),
        (c) => {
          const enc = c.encode();
          for (let len = 0; len < enc.length; len++) invalid(() => VectorClock.decode(enc.subarray(0, len)), /truncated|empty/);
        },
      ),
    );
  });

  it('any valid encoding followed by extra bytes', () => {
    fc.assert(
      fc.property(clockArb, fc.uint8Array({ minLength: 1, maxLength: 8 }), (c, extra) => {
        const enc = c.encode();
        const input = new Uint8Array(enc.length + extra.length);
        input.set(enc);
        input.set(extra, enc.length);
        invalid(() => VectorClock.decode(input), /trailing bytes/);
      }),
    );
  });

  it('a valid encoding with any varint padded to a longer form', () => {
    // Hand encoder whose varints can be padded with (0x80 | group)… 0x00: same number, more bytes.
    const varint = (v: number, pad: boolean): number[] => {
      const out: number[] = [];
      let x = v;
      while (x >= 0x80) {
        out.push((x % 0x80) | 0x80);
        x = Math.floor(x / 0x80);
      }
      return pad ? [...out, x | 0x80, 0x00] : [...out, x];
    };
    fc.assert(
      fc.property(
        clockArb.filter((c) => c.size > 0 && c.entries().every(([, v]) => v < 2 ** 48)),
        fc.nat(),
        (c, which) => {
          const entries = c.entries();
          const padAt = which % (entries.length + 1); // 0 pads the count, k pads the k-th counter
          const out = [0x01, ...varint(entries.length, padAt === 0)];
          entries.forEach(([name, v], k) => out.push(name.length, ...Buffer.from(name), ...varint(v, padAt === k + 1)));
          invalid(() => VectorClock.decode(Uint8Array.from(out)), /non-canonical \(over-long\) varint/);
        },
      ),
    );
  });

  it('random bytes either decode to a clock that re-encodes to the same bytes, or are refused', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 24 }), fc.uint8Array({ maxLength: 23 }).map((b) => Uint8Array.from([1, ...b]))),
        (input) => {
          let clock: VectorClock;
          try {
            clock = VectorClock.decode(input);
          } catch (err) {
            expect(err).toBeInstanceOf(InvalidClockError);
            return;
          }
          // Decoding is injective: only the canonical bytes of a clock are accepted.
          expect(clock.encode()).toEqual(input);
        },
      ),
    );
  });
});

describe('VectorClock.parse refuses malformed text', () => {
  const cases: Array<[string, RegExp]> = [
    ['a', /malformed vector clock entry "a": expected name:counter/],
    ['a:', /malformed vector clock entry "a:"/],
    [':1', /invalid node id in vector clock ""/],
    ['a:-1', /malformed vector clock entry "a:-1"/],
    ['a:1.5', /malformed vector clock entry "a:1\.5"/],
    ['a:1e3', /malformed vector clock entry "a:1e3"/],
    ['a:x', /malformed vector clock entry "a:x"/],
    ['a:1,', /malformed vector clock entry ""/],
    [',a:1', /malformed vector clock entry ""/],
    ['a:1,,b:2', /malformed vector clock entry ""/],
    ['a:12345678901234567', /malformed vector clock entry/],
    ['a:9007199254740992', /counter of a exceeds 2\^53 - 1/],
    ['a b:1', /invalid node id in vector clock "a b"/],
    ['a:b:1', /invalid node id in vector clock "a:b"/],
    [' a:1', /invalid node id/],
    ['a:1,a:2', /node id a appears twice/],
    ['a:0,a:2', /node id a appears twice/],
  ];
  for (const [text, message] of cases) {
    it(JSON.stringify(text), () => invalid(() => VectorClock.parse(text), message));
  }

  it('non-string input', () => {
    invalid(() => VectorClock.parse(5 as unknown as string), /vector clock text must be a string/);
  });
});
