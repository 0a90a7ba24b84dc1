/**
 * PN-Counter: two G-Counters, one for increments (`p`) and one for decrements (`n`); the value is
 * `sum(p) - sum(n)` and may be negative. Exact at any size (bigint; see counter-amount.ts).
 */
import type { Mutation } from './types.js';
import type { CounterAmount } from './counter-amount.js';
import { countsToJson, parseCounts } from './counter-amount.js';
import { GCounter } from './g-counter.js';
import { expectState } from './validate.js';

export interface PNCounterJson {
  type: 'pn_counter';
  p: Record<string, string>;
  n: Record<string, string>;
}

export class PNCounter {
  private readonly p: GCounter;
  private readonly n: GCounter;

  private constructor(p: GCounter, n: GCounter) {
    this.p = p;
    this.n = n;
  }

  static readonly EMPTY: PNCounter = new PNCounter(GCounter.EMPTY, GCounter.EMPTY);

  increment(node: string, by: CounterAmount = 1): Mutation<PNCounter> {
    const m = this.p.increment(node, by);
    return { state: new PNCounter(m.state, this.n), delta: new PNCounter(m.delta, GCounter.EMPTY) };
  }

  decrement(node: string, by: CounterAmount = 1): Mutation<PNCounter> {
    const m = this.n.increment(node, by);
    return { state: new PNCounter(this.p, m.state), delta: new PNCounter(GCounter.EMPTY, m.delta) };
  }

  merge(other: PNCounter): PNCounter {
    const p = this.p.merge(other.p);
    const n = this.n.merge(other.n);
    return p === this.p && n === this.n ? this : new PNCounter(p, n);
  }

  value(): bigint {
    return this.p.value() - this.n.value();
  }

  toJSON(): PNCounterJson {
    return { type: 'pn_counter', p: countsToJson(this.p.countsView()), n: countsToJson(this.n.countsView()) };
  }

  static fromJSON(value: unknown, where = 'pn_counter'): PNCounter {
    const obj = expectState(value, 'pn_counter', where, ['p', 'n']);
    return new PNCounter(
      GCounter.fromCounts(parseCounts(obj.p, `${where}.p`)),
      GCounter.fromCounts(parseCounts(obj.n, `${where}.n`)),
    );
  }
}
