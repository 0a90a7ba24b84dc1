/**
 * Vector clocks must characterise causality exactly: for any two events e, f of any execution,
 * clock(e) < clock(f) iff e happened before f (Lamport's relation: the transitive closure of program
 * order and send → receive edges). Random executions of 2–6 processes with local events, sends,
 * receives in any order, duplicated deliveries and lost messages; happens-before by graph reachability.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VectorClock, type Ordering } from '../../../src/core/clock/vector-clock.js';

/** Process names: a random choice from this pool, so interned indices are sparse and in random order. */
const NAMES = ['p0', 'p1', 'worker-2', 'host-03', 'n4', 'node.5', 'p6', 'zz7'] as const;

type Step =
  | { kind: 'local'; proc: number }
  | { kind: 'send'; proc: number; to: number }
  | { kind: 'receive'; pick: number }
  | { kind: 'redeliver'; pick: number };

interface Event {
  proc: number;
  clock: VectorClock;
}

interface Message {
  sendEvent: number;
  to: number;
  clock: VectorClock;
}

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('local' as const), proc: fc.nat(5) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('send' as const), proc: fc.nat(5), to: fc.nat(5) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('receive' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('redeliver' as const), pick: fc.nat() }) },
);

const historyArb = fc.record({
  names: fc.shuffledSubarray([...NAMES], { minLength: 2, maxLength: 6 }),
  steps: fc.array(stepArb, { minLength: 1, maxLength: 60 }),
});

/** Run a history; return events with their clocks and the causality graph's edges. */
function simulate(names: readonly string[], steps: readonly Step[]): { events: Event[]; edges: Array<[number, number]> } {
  const n = names.length;
  const current = names.map(() => VectorClock.EMPTY);
  const lastEvent: Array<number | undefined> = names.map(() => undefined);
  const events: Event[] = [];
  const edges: Array<[number, number]> = [];
  const inFlight: Message[] = [];
  const delivered: Message[] = [];

  const record = (proc: number, clock: VectorClock, from?: number): number => {
    const id = events.length;
    events.push({ proc, clock });
    const prev = lastEvent[proc];
    if (prev !== undefined) edges.push([prev, id]); // program order
    if (from !== undefined) edges.push([from, id]); // message
    lastEvent[proc] = id;
    current[proc] = clock;
    return id;
  };
  const receive = (m: Message): void => {
    const clock = current[m.to]!.join(m.clock).increment(names[m.to]!);
    record(m.to, clock, m.sendEvent);
  };

  for (const step of steps) {
    switch (step.kind) {
      case 'local': {
        const p = step.proc % n;
        record(p, current[p]!.increment(names[p]!));
        break;
      }
      case 'send': {
        const p = step.proc % n;
        const to = step.to % n;
        if (to === p) break;
        const clock = current[p]!.increment(names[p]!);
        const id = record(p, clock);
        inFlight.push({ sendEvent: id, to, clock });
        break;
      }
      case 'receive': {
        if (inFlight.length === 0) break;
        // Any in-flight message, not only the oldest: delivery order is arbitrary.
        const [m] = inFlight.splice(step.pick % inFlight.length, 1);
        receive(m!);
        delivered.push(m!);
        break;
      }
      case 'redeliver': {
        if (delivered.length === 0) break;
        receive(delivered[step.pick % delivered.length]!);
        break;
      }
    }
  }
  // Messages still in flight are lost.
  return { events, edges };
}

/** reach[i][j]: there is a non-empty path i → j (Floyd–Warshall transitive closure). */
function transitiveClosure(size: number, edges: ReadonlyArray<readonly [number, number]>): boolean[][] {
  const reach = Array.from({ length: size }, () => new Array<boolean>(size).fill(false));
  for (const [from, to] of edges) reach[from]![to] = true;
  for (let k = 0; k < size; k++) {
    const rk = reach[k]!;
    for (let i = 0; i < size; i++) {
      const ri = reach[i]!;
      if (!ri[k]) continue;
      for (let j = 0; j < size; j++) if (rk[j]) ri[j] = true;
    }
  }
  return reach;
}

function expected(reach: boolean[][], i: number, j: number): Ordering {
  if (i === j) return 'equal';
  if (reach[i]![j]) return 'before';
  if (reach[j]![i]) return 'after';
  return 'concurrent';
}

describe('vector clocks characterise happens-before', () => {
  it('compare agrees with reachability in the causality graph for every pair of events', () => {
    fc.assert(
      fc.property(historyArb, ({ names, steps }) => {
        const { events, edges } = simulate(names, steps);
        const reach = transitiveClosure(events.length, edges);
        for (let i = 0; i < events.length; i++) {
          // The graph is acyclic (edges go forward in time), so happens-before is a strict order.
          expect(reach[i]![i]).toBe(false);
          for (let j = 0; j < events.length; j++) {
            const want = expected(reach, i, j);
            const got = events[i]!.clock.compare(events[j]!.clock);
            if (got !== want) {
              expect.fail(
                `event ${i} (${names[events[i]!.proc]} ${events[i]!.clock.toString()}) vs event ${j} ` +
                  `(${names[events[j]!.proc]} ${events[j]!.clock.toString()}): compare gave ${got}, happens-before says ${want}`,
              );
            }
            expect(events[j]!.clock.dominates(events[i]!.clock)).toBe(want === 'before' || want === 'equal');
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('exercises every relation: the generated histories contain before, after and concurrent pairs', () => {
    // Guard against a generator that only ever produces trivial histories.
    const seen = new Set<Ordering>();
    for (const { names, steps } of fc.sample(historyArb, 50)) {
      const { events } = simulate(names, steps);
      for (const e of events) for (const f of events) seen.add(e.clock.compare(f.clock));
    }
    expect([...seen].sort()).toEqual(['after', 'before', 'concurrent', 'equal']);
  });

  it('a classic example: message chains order events across processes', () => {
    // p sends m1 to q; q sends m2 to r after receiving m1; an independent local event on r before m2 arrives.
    const { events, edges } = simulate(
      ['p', 'q', 'r'],
      [
        { kind: 'send', proc: 0, to: 1 }, // 0: p sends m1
        { kind: 'local', proc: 2 }, // 1: r local
        { kind: 'receive', pick: 0 }, // 2: q receives m1
        { kind: 'send', proc: 1, to: 2 }, // 3: q sends m2
        { kind: 'receive', pick: 0 }, // 4: r receives m2
      ],
    );
    expect(edges.length).toBeGreaterThan(0);
    const c = events.map((e) => e.clock);
    expect(c[0]!.compare(c[4]!)).toBe('before');
    expect(c[1]!.compare(c[0]!)).toBe('concurrent');
    expect(c[1]!.compare(c[4]!)).toBe('before');
    expect(c[4]!.toString()).toBe('p:1,q:2,r:2');
  });
});
