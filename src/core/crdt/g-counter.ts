/**
 * G-Counter: a grow-only counter, one monotonically growing count per node; merge takes the maximum per
 * node, the value is the sum. Exact at any size (bigint; see counter-amount.ts for the overflow rule).
 */
import type { Mutation } from './types.js';
import {
  addCount,
  countsToJson,
  expectAmount,
  joinCounts,
  parseCounts,
  sumCounts,
  type CounterAmount,
} from './counter-amount.js';
import { expectNodeId, expectState } from './validate.js';

export interface GCounterJson {
  type: 'g_counter';
  /** Per-node counts as canonical decimal strings, keys sorted, zeros omitted. */
  counts: Record<string, string>;
}

export class GCounter {
  private readonly counts: ReadonlyMap<string, bigint>;

  private constructor(counts: ReadonlyMap<string, bigint>) {
    this.counts = counts;
  }

  static readonly EMPTY: GCounter = new GCounter(new Map());

  /** Node `node` counts `by` (default 1) more. The delta carries that node's new total. */
  increment(node: string, by: CounterAmount = 1): Mutation<GCounter> {
    expectNodeId(node, 'g_counter.increment node');
    const amount = expectAmount(by, 'g_counter.increment by');
    const next = addCount(this.counts.get(node) ?? 0n, amount, `g_counter.counts.${node}`);
    const counts = new Map(this.counts);
    counts.set(node, next);
    return { state: new GCounter(counts), delta: new GCounter(new Map([[node, next]])) };
  }

  merge(other: GCounter): GCounter {
    const joined = joinCounts(this.counts, other.counts);
    return joined === this.counts ? this : new GCounter(joined);
  }

  /** The counter's value: the sum over nodes. */
  value(): bigint {
    return sumCounts(this.counts);
  }

  /** What one node has counted. */
  get(node: string): bigint {
    return this.counts.get(node) ?? 0n;
  }

  toJSON(): GCounterJson {
    return { type: 'g_counter', counts: countsToJson(this.counts) };
  }

  /** Validates an untrusted state (see {@link GCounterJson}; counts may also be safe integer numbers). */
  static fromJSON(value: unknown, where = 'g_counter'): GCounter {
    const obj = expectState(value, 'g_counter', where, ['counts']);
    return new GCounter(parseCounts(obj.counts, `${where}.counts`));
  }

  /** @internal The per-node counts (read-only view, for the PN-Counter). */
  countsView(): ReadonlyMap<string, bigint> {
    return this.counts;
  }

  /** @internal */
  static fromCounts(counts: ReadonlyMap<string, bigint>): GCounter {
    return new GCounter(counts);
  }
}
