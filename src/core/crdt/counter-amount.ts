/**
 * Exact counter arithmetic for G-/PN-Counters.
 *
 * Overflow choice: counters are exact at any size up to {@link MAX_COUNT}. Per-node counts are
 * `bigint`s in memory and canonical decimal strings (`"9007199254740993"`) in JSON, so nothing rounds
 * past 2^53. The only limit is MAX_COUNT = 2^256 - 1 per node (about 1.2e77, unreachable by real
 * increments): it stops a hostile peer from making every node parse and add megabyte-long numbers.
 * Going past it is a typed error ({@link InvalidCrdtStateError}, `meta.reason = 'overflow'`), never a
 * wrap or a rounding.
 */
import { compareStrings, describe, expectObject, expectNodeId, fail } from './validate.js';

/** Largest count one node may contribute: 2^256 - 1. */
export const MAX_COUNT: bigint = 2n ** 256n - 1n;
const MAX_COUNT_DIGITS = MAX_COUNT.toString().length;
const DECIMAL = /^(0|[1-9][0-9]*)$/;

/** An increment: a positive safe integer or a positive bigint. */
export type CounterAmount = number | bigint;

export function expectAmount(by: unknown, where: string): bigint {
  let v: bigint;
  if (typeof by === 'bigint') v = by;
  else if (typeof by === 'number' && Number.isSafeInteger(by)) v = BigInt(by);
  else fail(where, `must be a positive integer (a safe integer number or a bigint), got ${describe(by)}`);
  if (v < 1n) fail(where, `must be positive, got ${v}`);
  if (v > MAX_COUNT) fail(where, 'exceeds 2^256 - 1', { reason: 'overflow' });
  return v;
}

/** `current + by`, refusing to pass {@link MAX_COUNT}. */
export function addCount(current: bigint, by: bigint, where: string): bigint {
  const next = current + by;
  if (next > MAX_COUNT) fail(where, `count would exceed 2^256 - 1 (${current} + ${by})`, { reason: 'overflow' });
  return next;
}

/** A count from JSON: a canonical decimal string, or a non-negative safe integer number. */
export function parseCount(value: unknown, where: string): bigint {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) fail(where, `count must be an integer, got ${value}`);
    if (value < 0) fail(where, `count must not be negative, got ${value}`);
    if (!Number.isSafeInteger(value)) fail(where, `count ${value} is beyond 2^53 - 1: write it as a decimal string`);
    return BigInt(value);
  }
  if (typeof value !== 'string') fail(where, `count must be a decimal string, got ${describe(value)}`);
  if (value.startsWith('-')) fail(where, `count must not be negative, got ${JSON.stringify(value)}`);
  if (value.length > MAX_COUNT_DIGITS + 1 || !DECIMAL.test(value)) {
    fail(where, `count must be a canonical decimal string of at most ${MAX_COUNT_DIGITS} digits, got ${describe(value)}`);
  }
  const v = BigInt(value);
  if (v > MAX_COUNT) fail(where, 'count exceeds 2^256 - 1', { reason: 'overflow' });
  return v;
}

/** Per-node counts from JSON `{node: count}`; zero entries are dropped. */
export function parseCounts(value: unknown, where: string): Map<string, bigint> {
  const obj = expectObject(value, where);
  const out = new Map<string, bigint>();
  for (const [node, count] of Object.entries(obj)) {
    expectNodeId(node, `${where} key`);
    const v = parseCount(count, `${where}.${node}`);
    if (v !== 0n) out.set(node, v);
  }
  return out;
}

/** `{node: "decimal"}` with keys sorted and zeros omitted. */
export function countsToJson(counts: ReadonlyMap<string, bigint>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const node of [...counts.keys()].sort(compareStrings)) {
    const v = counts.get(node)!;
    if (v !== 0n) out[node] = v.toString();
  }
  return out;
}

/** Pointwise maximum; returns `a` when it already dominates `b`. */
export function joinCounts(a: ReadonlyMap<string, bigint>, b: ReadonlyMap<string, bigint>): ReadonlyMap<string, bigint> {
  let out: Map<string, bigint> | undefined;
  for (const [node, v] of b) {
    const mine = a.get(node);
    if (mine === undefined || v > mine) {
      out ??= new Map(a);
      out.set(node, v);
    }
  }
  return out ?? a;
}

export function sumCounts(counts: ReadonlyMap<string, bigint>): bigint {
  let sum = 0n;
  for (const v of counts.values()) sum += v;
  return sum;
}
