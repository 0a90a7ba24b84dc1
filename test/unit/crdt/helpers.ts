/**
 * Shared generators for the CRDT property tests: random replicated histories (operations on three
 * replicas, interleaved with merges), for every CRDT type, so that law tests run on reachable states
 * that share dots and history, as real replicas do.
 */
import fc from 'fast-check';
import type { Hlc } from '../../../src/core/clock/hlc.js';
import { canonicalJson } from '../../../src/core/codec/canonical.js';
import {
  GCounter,
  GSet,
  LWWRegister,
  MVRegister,
  ORSet,
  PNCounter,
  type CrdtStates,
  type CrdtType,
  type Mutation,
} from '../../../src/core/crdt/index.js';

export const NODES = ['n1', 'n2', 'n3'] as const;

/** Canonical bytes of a state: equal states give equal strings. */
export function canon(state: { toJSON(): unknown }): string {
  return canonicalJson(state.toJSON());
}

/** Elements: short strings, including non-ASCII and astral characters (exercise UTF-8 paths). */
export const ELEMENTS = ['a', 'b', 'c', 'd', 'é', '𝄞x', ''] as const;
export const elementArb = fc.constantFrom(...ELEMENTS);

/** Per-replica sources of fresh dots and strictly increasing HLC timestamps. */
export interface ReplicaClock {
  readonly node: string;
  nextDot(): { node: string; counter: number };
  /** A timestamp at or after wall time `wall` (ms), strictly after this replica's previous one. */
  tick(wall: number): Hlc;
}

export function replicaClock(node: string): ReplicaClock {
  let counter = 0;
  let last: Hlc = { wall: 0, logical: 0 };
  return {
    node,
    nextDot: () => ({ node, counter: ++counter }),
    tick: (wall) => {
      last = wall > last.wall ? { wall, logical: 0 } : { wall: last.wall, logical: last.logical + 1 };
      return last;
    },
  };
}

/** An operation on a state of type S, performed by the replica owning `clock`. */
export type OpFn<S> = (s: S, clock: ReplicaClock) => Mutation<S>;

const valueArb = fc.oneof(
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom('x', 'y', 'ü'),
  fc.constant(null),
  fc.record({ k: fc.integer({ min: 0, max: 2 }) }),
);

/** A counter increment: small, or large enough to cross 2^53 after a few additions. */
const amountArb = fc.oneof(
  fc.integer({ min: 1, max: 1000 }),
  fc.bigInt({ min: 2n ** 52n, max: 2n ** 54n }),
  fc.constant(Number.MAX_SAFE_INTEGER),
);

export const OPS: { readonly [K in CrdtType]: fc.Arbitrary<OpFn<CrdtStates[K]>> } = {
  g_counter: amountArb.map((by) => (s: GCounter, c: ReplicaClock) => s.increment(c.node, by)),
  pn_counter: fc
    .tuple(fc.boolean(), amountArb)
    .map(([up, by]) => (s: PNCounter, c: ReplicaClock) => (up ? s.increment(c.node, by) : s.decrement(c.node, by))),
  g_set: elementArb.map((e) => (s: GSet) => s.add(e)),
  or_set: fc
    .tuple(fc.boolean(), elementArb)
    .map(([add, e]) => (s: ORSet, c: ReplicaClock) => (add ? s.add(e, c.nextDot()) : s.remove(e))),
  lww_register: fc
    .tuple(valueArb, fc.integer({ min: 0, max: 4 }))
    .map(([v, wall]) => (s: LWWRegister, c: ReplicaClock) => s.set(v, c.tick(wall), c.node)),
  mv_register: valueArb.map((v) => (s: MVRegister, c: ReplicaClock) => s.set(v, c.nextDot())),
};

export const EMPTY: { readonly [K in CrdtType]: CrdtStates[K] } = {
  g_counter: GCounter.EMPTY,
  pn_counter: PNCounter.EMPTY,
  g_set: GSet.EMPTY,
  or_set: ORSet.EMPTY,
  lww_register: LWWRegister.EMPTY,
  mv_register: MVRegister.EMPTY,
};

type Step<S> = { kind: 'op'; replica: number; op: OpFn<S> } | { kind: 'merge'; from: number; to: number };

function stepArb<S>(op: fc.Arbitrary<OpFn<S>>, replicas: number): fc.Arbitrary<Step<S>> {
  const r = fc.nat(replicas - 1);
  return fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('op' as const), replica: r, op }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('merge' as const), from: r, to: r }) },
  );
}

/**
 * The states of `replicas` replicas (one per node of NODES) after a random history of operations and
 * merges. Replica i allocates dots and timestamps as node NODES[i].
 */
export function replicaStates<K extends CrdtType>(
  type: K,
  opts: { replicas?: number; maxSteps?: number } = {},
): fc.Arbitrary<Array<CrdtStates[K]>> {
  const replicas = opts.replicas ?? 3;
  type S = CrdtStates[K];
  const op = OPS[type] as fc.Arbitrary<OpFn<S>>;
  return fc.array(stepArb(op, replicas), { maxLength: opts.maxSteps ?? 25 }).map((steps) => {
    const states: S[] = Array.from({ length: replicas }, () => EMPTY[type]);
    const clocks = Array.from({ length: replicas }, (_, i) => replicaClock(NODES[i]!));
    for (const step of steps) {
      if (step.kind === 'op') states[step.replica] = step.op(states[step.replica]!, clocks[step.replica]!).state;
      else states[step.to] = merge(type, states[step.to]!, states[step.from]!);
    }
    return states;
  });
}

/** `a.merge(b)` for a state of any type. */
export function merge<K extends CrdtType>(_type: K, a: CrdtStates[K], b: CrdtStates[K]): CrdtStates[K] {
  return (a as unknown as { merge(o: CrdtStates[K]): CrdtStates[K] }).merge(b);
}
