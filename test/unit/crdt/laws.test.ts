/**
 * The laws every CRDT's merge must satisfy, for all six types, on states reached by random replicated
 * histories: commutative, associative, idempotent (compared by canonical serialization); operations
 * inflate (`old ⊔ delta = new`, so a delta is a valid message); and deltas delivered in any order
 * rebuild the sender's state. Also: serialization round-trips through `decodeCRDT`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CRDT_TYPES, decodeCRDT, mergeCRDT, type CrdtStates, type CrdtType } from '../../../src/core/crdt/index.js';
import { EMPTY, NODES, OPS, canon, merge, replicaClock, replicaStates, type OpFn } from './helpers.js';

const RUNS = 200;

describe.each(CRDT_TYPES.map((t) => [t]))('%s merge laws', (type: CrdtType) => {
  it('is commutative', () => {
    fc.assert(
      fc.property(replicaStates(type), ([a, b]) => {
        expect(canon(mergeCRDT(type, a!, b!))).toBe(canon(mergeCRDT(type, b!, a!)));
      }),
      { numRuns: RUNS },
    );
  });

  it('is associative', () => {
    fc.assert(
      fc.property(replicaStates(type), ([a, b, c]) => {
        const left = mergeCRDT(type, mergeCRDT(type, a!, b!), c!);
        const right = mergeCRDT(type, a!, mergeCRDT(type, b!, c!));
        expect(canon(left)).toBe(canon(right));
      }),
      { numRuns: RUNS },
    );
  });

  it('is idempotent, and the empty state is neutral', () => {
    fc.assert(
      fc.property(replicaStates(type), ([a, b]) => {
        expect(canon(mergeCRDT(type, a!, a!))).toBe(canon(a!));
        const ab = mergeCRDT(type, a!, b!);
        expect(canon(mergeCRDT(type, ab, b!))).toBe(canon(ab));
        expect(canon(mergeCRDT(type, a!, EMPTY[type]))).toBe(canon(a!));
        expect(canon(mergeCRDT(type, EMPTY[type], a!))).toBe(canon(a!));
      }),
      { numRuns: RUNS },
    );
  });

  it('round-trips through toJSON / decodeCRDT, and merges of decoded states agree', () => {
    fc.assert(
      fc.property(replicaStates(type), ([a, b]) => {
        const da = decodeCRDT(type, JSON.parse(canon(a!)));
        const db = decodeCRDT(type, JSON.parse(canon(b!)));
        expect(canon(da)).toBe(canon(a!));
        expect(canon(mergeCRDT(type, da, db))).toBe(canon(mergeCRDT(type, a!, b!)));
      }),
      { numRuns: RUNS },
    );
  });

  it('operations inflate: old ⊔ delta equals the new state', () => {
    const op = OPS[type] as fc.Arbitrary<OpFn<CrdtStates[typeof type]>>;
    fc.assert(
      fc.property(replicaStates(type), fc.nat(2), op, (states, r, fn) => {
        const clock = replicaClock(NODES[r]!);
        // Advance the clock past what replica r has used (its dots/timestamps are in its state).
        const old = states[r]!;
        for (let i = 0; i < 40; i++) clock.nextDot();
        clock.tick(10);
        const m = fn(old, clock);
        expect(canon(merge(type, old, m.delta))).toBe(canon(m.state));
        expect(canon(merge(type, m.state, m.delta))).toBe(canon(m.state));
      }),
      { numRuns: RUNS },
    );
  });

  it("deltas of one replica's operations, delivered in any order, rebuild its state", () => {
    const op = OPS[type] as fc.Arbitrary<OpFn<CrdtStates[typeof type]>>;
    fc.assert(
      fc.property(replicaStates(type), fc.array(op, { maxLength: 12 }), fc.func(fc.integer()), ([start], ops, order) => {
        const clock = replicaClock('n9');
        let sender = start!;
        const deltas: Array<CrdtStates[typeof type]> = [];
        for (const fn of ops) {
          const m = fn(sender, clock);
          sender = m.state;
          deltas.push(m.delta);
        }
        const shuffled = deltas.map((d, i) => [order(i), i, d] as const).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
        let receiver = start!;
        for (const [, , d] of shuffled) receiver = merge(type, receiver, d);
        expect(canon(receiver)).toBe(canon(sender));
      }),
      { numRuns: RUNS },
    );
  });
});
