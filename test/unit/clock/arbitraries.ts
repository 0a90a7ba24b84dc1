/**
 * fast-check arbitraries and a reference model shared by the clock tests (and the version tests).
 *
 * Node ids come from a small fixed pool on purpose: node ids are interned for the life of the process,
 * so random names would grow the intern table with every run, and a small pool makes equal and ordered
 * clocks (not only concurrent ones) common.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { VectorClock, type Ordering } from '../../../src/core/clock/vector-clock.js';

export const NODE_POOL = ['a', 'b', 'c', 'host-1', 'host-2', 'host-10', 'n.7', 'x_y', 'Z9', '42'] as const;

export const nodeIdArb: fc.Arbitrary<string> = fc.constantFrom(...NODE_POOL);

/** Mostly small counters (so clocks relate often), sometimes huge ones (near 2^53 - 1). */
export const counterArb: fc.Arbitrary<number> = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 4 }), weight: 8 },
  { arbitrary: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), weight: 1 },
  { arbitrary: fc.constant(Number.MAX_SAFE_INTEGER), weight: 1 },
);

/** `{nodeId: counter}` including zero counters (which a clock drops). */
export const clockRecordArb: fc.Arbitrary<Record<string, number>> = fc.dictionary(nodeIdArb, counterArb, {
  maxKeys: NODE_POOL.length,
  noNullPrototype: true,
});

export const clockArb: fc.Arbitrary<VectorClock> = clockRecordArb.map((r) => VectorClock.from(r));

/** Reference model: a clock as a Map without zero entries. */
export function model(clock: VectorClock): Map<string, number> {
  return new Map(clock.entries());
}

/** Brute-force comparison straight from the definition, over the union of node ids. */
export function modelCompare(a: Map<string, number>, b: Map<string, number>): Ordering {
  let less = false;
  let greater = false;
  for (const id of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(id) ?? 0;
    const y = b.get(id) ?? 0;
    if (x < y) less = true;
    if (x > y) greater = true;
  }
  if (less && greater) return 'concurrent';
  if (less) return 'before';
  if (greater) return 'after';
  return 'equal';
}

export function mirror(o: Ordering): Ordering {
  return o === 'before' ? 'after' : o === 'after' ? 'before' : o;
}

/** Assert that `fn` throws a DwcpError with `code` whose message matches `message`. */
export function expectCode(fn: () => unknown, code: string, message?: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown, 'expected an error to be thrown').toBeInstanceOf(Error);
  expect((thrown as { code?: unknown }).code).toBe(code);
  if (message) expect((thrown as Error).message).toMatch(message);
}
