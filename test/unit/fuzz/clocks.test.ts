/**
 * Fuzzing the clock decoders: vector clocks (src/core/clock/vector-clock.ts VectorClock.decode,
 * parse, from) and hybrid logical timestamps (src/core/clock/hlc.ts assertHlc, parseHlc).
 *
 * 5,000 cases per property by default; long mode: `DWCP_FUZZ_RUNS=100000 npx vitest run --project unit test/unit/fuzz`.
 * A failure prints fast-check's seed and path (seeds are never fixed).
 *
 * Valid clocks use a small pool of node ids (node ids are interned for the life of the process);
 * mutations can still make new ones, a few per case.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertHlc, formatHlc, MAX_LOGICAL, parseHlc, type Hlc } from '../../../src/core/clock/hlc.js';
import { NODE_ID_PATTERN } from '../../../src/core/clock/node-ids.js';
import { MAX_CLOCK_ENTRIES, VectorClock } from '../../../src/core/clock/vector-clock.js';
import { clockArb, hlcArb, nodeIdArb } from './arbitraries.js';
import {
  attempt,
  byteMutationsArb,
  deepArray,
  expand,
  hostileJsonArb,
  jsonMutationsArb,
  mutateBytes,
  mutateJson,
  mutateText,
  params,
  protoKeyMutationArb,
  sameBytes,
  timeoutFor,
  WIDE,
} from './support.js';

const CLOCK_CODES = ['ERR_INVALID_CLOCK'];

/** An accepted clock is a valid one: node ids match, counters are positive safe integers, at most the entry limit. */
function expectValidClock(c: VectorClock): void {
  const entries = c.entries();
  expect(entries.length).toBeLessThanOrEqual(MAX_CLOCK_ENTRIES);
  for (const [id, n] of entries) {
    expect(id).toMatch(NODE_ID_PATTERN);
    expect(Number.isSafeInteger(n) && n > 0).toBe(true);
  }
}

describe('fuzz: VectorClock.decode (binary)', () => {
  const decode = (b: Uint8Array) => attempt('VectorClock.decode', CLOCK_CODES, () => VectorClock.decode(b));

  it('round-trips every clock', () => {
    fc.assert(
      fc.property(clockArb, (c) => {
        expect(VectorClock.decode(c.encode()).equals(c)).toBe(true);
      }),
      params(),
    );
  }, timeoutFor());

  it('bit flips, truncations, insertions: ERR_INVALID_CLOCK, or a valid clock whose encoding is exactly the input', () => {
    fc.assert(
      fc.property(clockArb, byteMutationsArb, (c, muts) => {
        const bytes = mutateBytes(c.encode(), muts);
        const r = decode(bytes);
        if (!r.ok) return;
        expectValidClock(r.value);
        expect(sameBytes(r.value.encode(), bytes)).toBe(true);
      }),
      params(),
    );
  }, timeoutFor());

  it('random bytes and unknown formats: ERR_INVALID_CLOCK or a valid canonical clock', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 64 }), (format, rest) => {
        const bytes = Uint8Array.from([format, ...rest]);
        const r = decode(bytes);
        if (format !== 1) expect(r.ok).toBe(false);
        if (r.ok) expect(sameBytes(r.value.encode(), bytes)).toBe(true);
      }),
      params(),
    );
  }, timeoutFor());

  it('huge clocks: an entry count past the limit, counters past 2^53, over-long varints are refused', () => {
    const varint = (v: bigint): number[] => {
      const out: number[] = [];
      let x = v;
      while (x >= 0x80n) {
        out.push(Number(x & 0x7fn) | 0x80);
        x >>= 7n;
      }
      out.push(Number(x));
      return out;
    };
    fc.assert(
      fc.property(fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n }), fc.integer({ min: MAX_CLOCK_ENTRIES + 1, max: 2 ** 31 }), (counter, count) => {
        expect(decode(Uint8Array.from([1, 1, 1, 0x61, ...varint(counter)])).ok).toBe(false);
        expect(decode(Uint8Array.from([1, ...varint(BigInt(count)), 1, 0x61, 1])).ok).toBe(false);
        expect(decode(Uint8Array.from([1, 1, 1, 0x61, 0x81, 0x00])).ok).toBe(false);
      }),
      params(),
    );
  }, timeoutFor());
});

describe('fuzz: VectorClock.parse (text)', () => {
  const parse = (t: string) => attempt('VectorClock.parse', CLOCK_CODES, () => VectorClock.parse(t));

  it('round-trips every clock', () => {
    fc.assert(
      fc.property(clockArb, (c) => {
        expect(VectorClock.parse(c.toString()).equals(c)).toBe(true);
      }),
      params(),
    );
  }, timeoutFor());

  it('mutated text: ERR_INVALID_CLOCK, or a valid clock that parses back to itself', () => {
    fc.assert(
      fc.property(clockArb, byteMutationsArb, (c, muts) => {
        const r = parse(mutateText(c.toString(), muts));
        if (!r.ok) return;
        expectValidClock(r.value);
        expect(VectorClock.parse(r.value.toString()).equals(r.value)).toBe(true);
      }),
      params(),
    );
  }, timeoutFor());

  it('hostile text: counters past 2^53, 100,000 entries, non-strings are refused', () => {
    fc.assert(
      fc.property(nodeIdArb, fc.bigInt({ min: 2n ** 53n, max: 10n ** 16n - 1n }), (id, big) => {
        expect(parse(`${id}:${big}`).ok).toBe(false);
        expect(parse(`${id}:1,${id}:2`).ok).toBe(false);
        expect(parse(`${id}:-1`).ok).toBe(false);
        expect(parse(`${id}:1.5`).ok).toBe(false);
      }),
      params(),
    );
    const wide = Array.from({ length: WIDE }, (_, i) => `z${i % 4000}-${Math.floor(i / 4000)}:1`).join(',');
    expect(parse(wide).ok).toBe(false);
    for (const v of [null, 1, {}, [], deepArray()]) expect(parse(v as unknown as string).ok).toBe(false);
  });
});

describe('fuzz: VectorClock.from (untrusted objects and entries)', () => {
  const from = (v: unknown) => attempt('VectorClock.from', CLOCK_CODES, () => VectorClock.from(v as Record<string, number>));

  it('mutated clock objects (hostile counters and keys): ERR_INVALID_CLOCK or a valid clock', () => {
    fc.assert(
      fc.property(clockArb, jsonMutationsArb, (c, muts) => {
        const r = from(expand(mutateJson(c.toJSON(), muts)));
        if (r.ok) expectValidClock(r.value);
      }),
      params(),
    );
  }, timeoutFor());

  it('keys named after Object.prototype members: ERR_INVALID_CLOCK, or exactly the entries given', () => {
    // `constructor`, `toString`, `hasOwnProperty` are valid node ids; `__proto__` is not.
    fc.assert(
      fc.property(clockArb, protoKeyMutationArb, (c, m) => {
        const input = expand(mutateJson(c.toJSON(), [{ ...m, pick: 0 }])) as Record<string, unknown>;
        const r = from(input);
        if (!r.ok) return;
        expectValidClock(r.value);
        expect(r.value.entries()).toEqual(Object.entries(input).filter(([, v]) => v !== 0).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
      }),
      params(),
    );
  }, timeoutFor());

  it('entry lists with hostile pairs, repeated ids, 10,000-level values: ERR_INVALID_CLOCK or a valid clock', () => {
    const pairArb = fc.oneof(
      fc.tuple(nodeIdArb, fc.integer({ min: 0, max: 9 })),
      fc.tuple(nodeIdArb, hostileJsonArb),
      fc.tuple(hostileJsonArb, fc.integer({ min: 0, max: 9 })),
      hostileJsonArb,
      fc.constant('@@DEEP_ARRAY@@'),
    );
    fc.assert(
      fc.property(fc.array(pairArb, { maxLength: 8 }), (pairs) => {
        const r = from(expand(pairs));
        if (r.ok) expectValidClock(r.value);
      }),
      params(),
    );
  }, timeoutFor());

  it('huge clocks: 100,000 entries, counters past 2^53 are refused', () => {
    const entries = Array.from({ length: WIDE }, (_, i): [string, number] => [`w${i % 5000}`, 1 + Math.floor(i / 5000)]);
    expect(from(entries).ok).toBe(false);
    expect(from(Object.fromEntries(entries.slice(0, 5000))).ok).toBe(false);
    for (const n of [2 ** 53, 2 ** 53 + 2, 1e308, Infinity, NaN, -1, 0.5]) expect(from({ n1: n }).ok).toBe(false);
  });
});

describe('fuzz: HLC (assertHlc, parseHlc)', () => {
  const check = (v: unknown) => attempt('assertHlc', CLOCK_CODES, () => assertHlc(v));
  const parse = (t: unknown) => attempt('parseHlc', CLOCK_CODES, () => parseHlc(t as string));
  const expectValidHlc = (h: Hlc): void => {
    expect(Number.isSafeInteger(h.wall) && h.wall >= 0).toBe(true);
    expect(Number.isInteger(h.logical) && h.logical >= 0 && h.logical <= MAX_LOGICAL).toBe(true);
  };

  it('round-trips every timestamp through its text form', () => {
    fc.assert(
      fc.property(hlcArb, (h) => {
        expect(parseHlc(formatHlc(h))).toEqual(h);
      }),
      params(),
    );
  }, timeoutFor());

  it('hostile objects: ERR_INVALID_CLOCK, or a valid timestamp', () => {
    fc.assert(
      fc.property(hlcArb, jsonMutationsArb, (h, muts) => {
        const v = expand(mutateJson(h, muts));
        if (check(v).ok) expectValidHlc(v as Hlc);
      }),
      params(),
    );
    for (const v of [null, 1, 'x', [], deepArray(), { wall: 2 ** 53, logical: 0 }, { wall: 1, logical: MAX_LOGICAL + 1 }, { wall: -0.5, logical: 0 }]) {
      expect(check(v).ok).toBe(false);
    }
  }, timeoutFor());

  it('mutated text: ERR_INVALID_CLOCK, or a valid timestamp that formats and parses back to itself', () => {
    fc.assert(
      fc.property(hlcArb, byteMutationsArb, (h, muts) => {
        const r = parse(mutateText(formatHlc(h), muts));
        if (!r.ok) return;
        expectValidHlc(r.value);
        expect(parseHlc(formatHlc(r.value))).toEqual(r.value);
      }),
      params(),
    );
    for (const t of ['9007199254740993.0', '1.65536', '', '.', '1.', '-1.0', null, 5, deepArray()]) expect(parse(t).ok).toBe(false);
  }, timeoutFor());
});
