import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  assertHlc,
  compareHlc,
  DEFAULT_MAX_DRIFT_MS,
  formatHlc,
  type Hlc,
  HLC_ZERO,
  HlcClock,
  MAX_LOGICAL,
  parseHlc,
} from '../../../src/core/clock/hlc.js';
import { ClockDriftError, InvalidClockError } from '../../../src/core/errors.js';
import { expectCode } from './arbitraries.js';

const T0 = 1_732_800_000_000;

const hlcArb = (maxLogical = MAX_LOGICAL): fc.Arbitrary<Hlc> =>
  fc.record({ wall: fc.integer({ min: 0, max: 2 ** 45 }), logical: fc.integer({ min: 0, max: maxLogical }) });

/** Physical time moves forward, stands still, or jumps back (NTP steps, VM migration). */
const physicalSteps = fc.array(
  fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: 0, max: 5 }) },
    { weight: 1, arbitrary: fc.integer({ min: -100_000, max: -1 }) },
    { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 100_000 }) },
    { weight: 1, arbitrary: fc.double({ min: -2, max: 2, noNaN: true }) },
  ),
  { minLength: 1, maxLength: 200 },
);

/** Local events and receives; remote timestamps are behind, level with or ahead of local physical time (within the drift bound). */
const opsArb = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('now' as const), dt: fc.integer({ min: -5_000, max: 50 }) }),
    fc.record({
      kind: fc.constant('update' as const),
      dt: fc.integer({ min: -5_000, max: 50 }),
      ahead: fc.oneof(fc.integer({ min: -DEFAULT_MAX_DRIFT_MS * 3, max: DEFAULT_MAX_DRIFT_MS }), fc.integer({ min: -3, max: 3 })),
      logical: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 1_000 })),
    }),
  ),
  { minLength: 1, maxLength: 200 },
);

describe('compareHlc', () => {
  it('orders by (wall, logical), a total order', () => {
    fc.assert(
      fc.property(hlcArb(), hlcArb(), hlcArb(), (a, b, c) => {
        const ab = compareHlc(a, b);
        expect(compareHlc(b, a)).toBe(-ab === 0 ? 0 : -ab);
        expect(ab).toBe(a.wall !== b.wall ? Math.sign(a.wall - b.wall) : Math.sign(a.logical - b.logical));
        expect(ab === 0).toBe(a.wall === b.wall && a.logical === b.logical);
        if (ab <= 0 && compareHlc(b, c) <= 0) expect(compareHlc(a, c)).toBeLessThanOrEqual(0);
      }),
    );
  });
});

describe('HlcClock.now', () => {
  it('issues strictly increasing timestamps even when physical time steps backwards', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 44 }), physicalSteps, (start, steps) => {
        const clock = new HlcClock();
        let pt = start;
        let maxPt = -Infinity;
        let prev = clock.peek();
        for (const dt of steps) {
          pt += dt;
          maxPt = Math.max(maxPt, Math.floor(pt));
          const t = clock.now(pt);
          expect(compareHlc(prev, t)).toBe(-1);
          expect(clock.peek()).toEqual(t);
          // Never behind physical time, never ahead of the latest physical time seen (no overflow here).
          expect(t.wall).toBeGreaterThanOrEqual(Math.floor(pt));
          expect(t.wall).toBeLessThanOrEqual(Math.max(maxPt, 0));
          assertHlc(t);
          prev = t;
        }
      }),
    );
  });

  it('uses physical time with logical 0 when physical time moves ahead', () => {
    const clock = new HlcClock();
    expect(clock.now(T0)).toEqual({ wall: T0, logical: 0 });
    expect(clock.now(T0)).toEqual({ wall: T0, logical: 1 });
    expect(clock.now(T0 + 0.9)).toEqual({ wall: T0, logical: 2 });
    expect(clock.now(T0 - 10)).toEqual({ wall: T0, logical: 3 });
    expect(clock.now(T0 + 1)).toEqual({ wall: T0 + 1, logical: 0 });
  });

  it('resumes from a persisted timestamp, staying monotonic across restarts', () => {
    const clock = new HlcClock({ last: { wall: T0, logical: 7 } });
    expect(clock.now(T0 - 60_000)).toEqual({ wall: T0, logical: 8 });
  });

  it('advances the wall component by one on logical overflow instead of wrapping', () => {
    const clock = new HlcClock({ last: { wall: T0, logical: MAX_LOGICAL - 1 } });
    expect(clock.now(T0)).toEqual({ wall: T0, logical: MAX_LOGICAL });
    expect(clock.now(T0)).toEqual({ wall: T0 + 1, logical: 0 });
    expect(clock.now(T0)).toEqual({ wall: T0 + 1, logical: 1 });
  });

  it('stays strictly increasing through many overflows at a frozen physical time', () => {
    const clock = new HlcClock();
    let prev = clock.now(T0);
    for (let i = 0; i < 3 * (MAX_LOGICAL + 1); i++) {
      const t = clock.now(T0);
      if (compareHlc(prev, t) !== -1) expect.fail(`not increasing at ${i}: ${formatHlc(prev)} then ${formatHlc(t)}`);
      prev = t;
    }
    expect(prev.wall).toBe(T0 + 3);
  });
});

describe('HlcClock.update', () => {
  it('returns a timestamp above both the last local and the remote one, and keeps the wall bounded', () => {
    fc.assert(
      fc.property(fc.integer({ min: DEFAULT_MAX_DRIFT_MS * 4, max: 2 ** 44 }), opsArb, (start, ops) => {
        const clock = new HlcClock();
        let pt = start;
        let maxPt = 0;
        let maxRemote = 0;
        for (const op of ops) {
          pt += op.dt;
          maxPt = Math.max(maxPt, pt);
          const last = clock.peek();
          let t: Hlc;
          if (op.kind === 'now') {
            t = clock.now(pt);
          } else {
            const remote = { wall: Math.max(0, pt + op.ahead), logical: op.logical };
            t = clock.update(remote, pt);
            maxRemote = Math.max(maxRemote, remote.wall);
            expect(compareHlc(remote, t)).toBe(-1);
          }
          expect(compareHlc(last, t)).toBe(-1);
          expect(t.wall).toBeGreaterThanOrEqual(pt);
          // Bounded drift: the wall component never exceeds the latest physical or remote time seen,
          // which is itself at most maxDriftMs ahead of physical time.
          expect(t.wall).toBeLessThanOrEqual(Math.max(maxPt, maxRemote));
          expect(t.wall - maxPt).toBeLessThanOrEqual(clock.maxDriftMs);
        }
      }),
    );
  });

  it('follows the HLC receive rule on hand-picked cases', () => {
    const at = (last: Hlc): HlcClock => new HlcClock({ last });
    // Remote ahead of everything: take its wall, logical + 1.
    expect(at({ wall: T0, logical: 5 }).update({ wall: T0 + 10, logical: 3 }, T0 + 5)).toEqual({ wall: T0 + 10, logical: 4 });
    // Local and remote level, physical behind: max logical + 1.
    expect(at({ wall: T0, logical: 5 }).update({ wall: T0, logical: 9 }, T0 - 1)).toEqual({ wall: T0, logical: 10 });
    // Local ahead: local logical + 1.
    expect(at({ wall: T0, logical: 5 }).update({ wall: T0 - 7, logical: 90 }, T0 - 1)).toEqual({ wall: T0, logical: 6 });
    // Physical time ahead of both: physical time, logical 0.
    expect(at({ wall: T0, logical: 5 }).update({ wall: T0 + 1, logical: 90 }, T0 + 2)).toEqual({ wall: T0 + 2, logical: 0 });
  });

  it('advances the wall component when the merged logical counter overflows', () => {
    expect(new HlcClock({ last: { wall: T0, logical: 3 } }).update({ wall: T0, logical: MAX_LOGICAL }, T0)).toEqual({
      wall: T0 + 1,
      logical: 0,
    });
    expect(new HlcClock().update({ wall: T0, logical: MAX_LOGICAL }, T0 - 5)).toEqual({ wall: T0 + 1, logical: 0 });
  });

  it('refuses a remote timestamp more than maxDriftMs ahead and keeps its state', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 1, max: 2 ** 40 }),
        fc.integer({ min: 0, max: MAX_LOGICAL }),
        fc.integer({ min: 0, max: 2 ** 44 }),
        hlcArb(1_000),
        (maxDriftMs, excess, logical, pt, last) => {
          const clock = new HlcClock({ maxDriftMs, last });
          const twin = new HlcClock({ maxDriftMs, last });
          const before = clock.peek();
          const remote = { wall: pt + maxDriftMs + excess, logical };
          let thrown: unknown;
          try {
            clock.update(remote, pt);
          } catch (err) {
            thrown = err;
          }
          expect(thrown).toBeInstanceOf(ClockDriftError);
          expect((thrown as ClockDriftError).code).toBe('ERR_CLOCK_DRIFT');
          expect((thrown as ClockDriftError).message).toMatch(/ahead of local time/);
          expect(clock.peek()).toEqual(before);
          // Later behaviour is exactly that of a clock that never saw the bad timestamp.
          expect(clock.now(pt)).toEqual(twin.now(pt));
        },
      ),
    );
  });

  it('accepts a remote timestamp exactly maxDriftMs ahead', () => {
    const clock = new HlcClock({ maxDriftMs: 1_000 });
    expect(clock.update({ wall: T0 + 1_000, logical: 2 }, T0)).toEqual({ wall: T0 + 1_000, logical: 3 });
    expectCode(() => new HlcClock({ maxDriftMs: 1_000 }).update({ wall: T0 + 1_001, logical: 0 }, T0), 'ERR_CLOCK_DRIFT', /1001 ms ahead/);
    expect(new HlcClock().maxDriftMs).toBe(DEFAULT_MAX_DRIFT_MS);
  });

  it('refuses a malformed remote timestamp with InvalidClockError and keeps its state', () => {
    const clock = new HlcClock({ last: { wall: T0, logical: 1 } });
    const bad: unknown[] = [null, 5, { wall: -1, logical: 0 }, { wall: T0, logical: MAX_LOGICAL + 1 }, { wall: NaN, logical: 0 }];
    for (const remote of bad) {
      expectCode(() => clock.update(remote as Hlc, T0), 'ERR_INVALID_CLOCK', /remote hlc/);
      expect(clock.peek()).toEqual({ wall: T0, logical: 1 });
    }
  });
});

describe('HLC bad input', () => {
  it('assertHlc refuses anything but {wall: safe integer ≥ 0, logical: integer in [0, MAX_LOGICAL]}', () => {
    const cases: Array<[unknown, RegExp]> = [
      [null, /must be an object/],
      ['1.2', /must be an object/],
      [{}, /wall must be a non-negative integer.*got undefined/],
      [{ wall: -1, logical: 0 }, /wall must be a non-negative integer.*got -1/],
      [{ wall: 1.5, logical: 0 }, /wall.*got 1\.5/],
      [{ wall: NaN, logical: 0 }, /wall.*got NaN/],
      [{ wall: Infinity, logical: 0 }, /wall.*got Infinity/],
      [{ wall: 2 ** 53, logical: 0 }, /wall.*got 9007199254740992/],
      [{ wall: '5', logical: 0 }, /wall.*got "5"/],
      [{ wall: 5n, logical: 0 }, /wall.*got 5n/],
      [{ wall: 5, logical: -1 }, /logical must be an integer in \[0, 65535\].*got -1/],
      [{ wall: 5, logical: MAX_LOGICAL + 1 }, /logical.*got 65536/],
      [{ wall: 5, logical: 0.5 }, /logical.*got 0\.5/],
      [{ wall: 5 }, /logical.*got undefined/],
    ];
    for (const [value, message] of cases) expectCode(() => assertHlc(value, 'hlc'), 'ERR_INVALID_CLOCK', message);
    expectCode(() => assertHlc({ wall: -1, logical: 0 }, 'version.hlc'), 'ERR_INVALID_CLOCK', /^version\.hlc\.wall/);
  });

  it('formatHlc/parseHlc round-trip', () => {
    fc.assert(
      fc.property(hlcArb(), (h) => {
        expect(parseHlc(formatHlc(h))).toEqual(h);
      }),
    );
    expect(formatHlc({ wall: T0, logical: 3 })).toBe(`${T0}.0003`);
    expect(formatHlc(HLC_ZERO)).toBe('0.0000');
  });

  it('parseHlc refuses malformed text', () => {
    for (const text of ['', '1', '1.', '.1', '1.2.3', '-1.0', 'a.b', ' 1.0', '1.0 ', '1e3.0', '1.65536', '12345678901234567.0', '1.123456']) {
      expectCode(() => parseHlc(text), 'ERR_INVALID_CLOCK', /hlc/);
    }
    expectCode(() => parseHlc('x'), 'ERR_INVALID_CLOCK', /malformed hlc "x": expected <wall>\.<logical>/);
    expectCode(() => parseHlc(12 as unknown as string), 'ERR_INVALID_CLOCK', /malformed hlc 12/);
  });

  it('refuses non-finite physical time, which would otherwise poison the clock', () => {
    for (const pt of [NaN, Infinity, -Infinity, 2 ** 60]) {
      const clock = new HlcClock({ last: { wall: T0, logical: 0 } });
      expectCode(() => clock.now(pt), 'ERR_INVALID_CLOCK', /physical time/);
      expectCode(() => clock.update({ wall: T0, logical: 0 }, pt), 'ERR_INVALID_CLOCK', /physical time/);
      expect(clock.peek()).toEqual({ wall: T0, logical: 0 });
    }
  });

  it('refuses a malformed initial timestamp or drift bound', () => {
    expectCode(() => new HlcClock({ last: { wall: -5, logical: 0 } }), 'ERR_INVALID_CLOCK', /initial hlc\.wall/);
    expectCode(() => new HlcClock({ maxDriftMs: NaN }), 'ERR_INVALID_CLOCK', /maxDriftMs.*NaN/);
    expectCode(() => new HlcClock({ maxDriftMs: -1 }), 'ERR_INVALID_CLOCK', /maxDriftMs.*-1/);
    expect(() => new HlcClock({ last: HLC_ZERO })).not.toThrow();
    expect(new InvalidClockError('x').name).toBe('InvalidClockError');
  });
});
