/**
 * Fuzzing the CRDT state decoders: decodeCRDT for all six types (src/core/crdt/merge.ts) and the
 * binary OR-Set and causal-context codecs (src/core/crdt/or-set-codec.ts decodeORSet, decodeDotSet).
 *
 * 5,000 cases per property by default; long mode: `DWCP_FUZZ_RUNS=100000 npx vitest run --project unit test/unit/fuzz`.
 * A failure prints fast-check's seed and path (seeds are never fixed).
 *
 * Valid states come from random replicated histories (test/unit/crdt/helpers.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../src/core/codec/canonical.js';
import { CRDT_TYPES, decodeCRDT, decodeDotSet, decodeORSet, encodeDotSet, encodeORSet, type CrdtType, type ORSet } from '../../../src/core/crdt/index.js';
import { canon, replicaStates } from '../crdt/helpers.js';
import {
  attempt,
  byteMutationsArb,
  deepMutationArb,
  expand,
  hostileJsonArb,
  jsonMutationsArb,
  mutateBytes,
  mutateJson,
  params,
  protoKeyMutationArb,
  sameBytes,
  timeoutFor,
} from './support.js';

const CRDT_CODES = ['ERR_INVALID_CRDT_STATE'];

type State = { toJSON(): unknown; merge(o: never): unknown };

/** One valid state of `type` (from a short replicated history). */
function stateArb(type: CrdtType): fc.Arbitrary<State> {
  return fc.tuple(replicaStates(type, { maxSteps: 12 }), fc.nat(2)).map(([states, i]) => states[i] as unknown as State);
}

/** An accepted state is a fixed point: its JSON decodes to the same state, and merging it with itself changes nothing. */
function expectSound(type: CrdtType, s: State): void {
  const json = JSON.parse(JSON.stringify(s.toJSON())) as unknown;
  const again = decodeCRDT(type, json) as unknown as State;
  expect(canon(again)).toBe(canon(s));
  expect(canon(s.merge(s as never) as State)).toBe(canon(s));
}

describe.each(CRDT_TYPES.map((t) => [t]))('fuzz: decodeCRDT(%s)', (type) => {
  const decode = (v: unknown) => attempt(`decodeCRDT(${type})`, CRDT_CODES, () => decodeCRDT(type, v) as unknown as State);

  it('round-trips every reachable state', () => {
    fc.assert(
      fc.property(stateArb(type), (s) => {
        const back = decodeCRDT(type, JSON.parse(JSON.stringify(s.toJSON())) as unknown) as unknown as State;
        expect(canon(back)).toBe(canon(s));
      }),
      params(),
    );
  }, timeoutFor());

  it('hostile values anywhere (counters past 2^53 and 2^256, 1e400, -0, 100k-element lists, wrong types): ERR_INVALID_CRDT_STATE, or a sound state', () => {
    fc.assert(
      fc.property(stateArb(type), jsonMutationsArb, (s, muts) => {
        const r = decode(expand(mutateJson(s.toJSON(), muts)));
        if (r.ok) expectSound(type, r.value);
      }),
      params(),
    );
  }, timeoutFor());

  it('10,000 levels of nesting anywhere: ERR_INVALID_CRDT_STATE, no stack overflow', () => {
    fc.assert(
      fc.property(stateArb(type), deepMutationArb, (s, m) => {
        const r = decode(expand(mutateJson(s.toJSON(), [m])));
        if (r.ok) expectSound(type, r.value);
      }),
      params(),
    );
  }, timeoutFor());

  it('keys named after Object.prototype members anywhere: ERR_INVALID_CRDT_STATE, or a sound state', () => {
    fc.assert(
      fc.property(stateArb(type), protoKeyMutationArb, (s, m) => {
        const r = decode(expand(mutateJson(s.toJSON(), [m])));
        if (r.ok) expectSound(type, r.value);
      }),
      params(),
    );
  }, timeoutFor());
});

describe('fuzz: decodeCRDT type dispatch', () => {
  it('unknown type names and mismatched states are refused', () => {
    fc.assert(
      fc.property(fc.oneof(hostileJsonArb, fc.constantFrom('__proto__', 'constructor', 'toString', 'G_COUNTER', 'or-set')), fc.constantFrom(...CRDT_TYPES), (name, type) => {
        const r = attempt('decodeCRDT', CRDT_CODES, () => decodeCRDT(name as CrdtType, { type }));
        expect(r.ok).toBe(false);
      }),
      params(),
    );
  }, timeoutFor());
});

describe('fuzz: binary OR-Set and context codecs', () => {
  const orsetArb = stateArb('or_set') as unknown as fc.Arbitrary<ORSet>;
  const decodeSet = (b: Uint8Array) => attempt('decodeORSet', CRDT_CODES, () => decodeORSet(b));
  const decodeCtx = (b: Uint8Array) => attempt('decodeDotSet', CRDT_CODES, () => decodeDotSet(b));

  it('round-trip every reachable OR-Set and its context', () => {
    fc.assert(
      fc.property(orsetArb, (s) => {
        const bytes = encodeORSet(s);
        expect(canon(decodeORSet(bytes))).toBe(canon(s));
        expect(canonicalJson(decodeDotSet(encodeDotSet(s.context)).toJSON())).toBe(canonicalJson(s.context.toJSON()));
      }),
      params(),
    );
  }, timeoutFor());

  it('mutated OR-Set bytes: ERR_INVALID_CRDT_STATE, or a sound state whose encoding is exactly the input', () => {
    fc.assert(
      fc.property(orsetArb, byteMutationsArb, (s, muts) => {
        const bytes = mutateBytes(encodeORSet(s), muts);
        const r = decodeSet(bytes);
        if (!r.ok) return;
        expect(sameBytes(encodeORSet(r.value), bytes)).toBe(true);
        expectSound('or_set', r.value);
      }),
      params(),
    );
  }, timeoutFor());

  it('mutated context bytes: ERR_INVALID_CRDT_STATE, or a context whose encoding is exactly the input', () => {
    fc.assert(
      fc.property(orsetArb, byteMutationsArb, (s, muts) => {
        const bytes = mutateBytes(encodeDotSet(s.context), muts);
        const r = decodeCtx(bytes);
        if (r.ok) expect(sameBytes(encodeDotSet(r.value), bytes)).toBe(true);
      }),
      params(),
    );
  }, timeoutFor());

  it('random bytes behind either format byte, and unknown formats', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 96 }), (format, rest) => {
        const bytes = Uint8Array.from([format, ...rest]);
        const a = decodeSet(bytes);
        const b = decodeCtx(bytes);
        if (format !== 0x51) expect(a.ok).toBe(false);
        if (format !== 0x43) expect(b.ok).toBe(false);
        if (a.ok) expect(sameBytes(encodeORSet(a.value), bytes)).toBe(true);
        if (b.ok) expect(sameBytes(encodeDotSet(b.value), bytes)).toBe(true);
      }),
      params(),
    );
  }, timeoutFor());

  it('huge counts and counters (past 2^53, counts no input could hold) are refused without allocating them', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 2n ** 31n, max: 2n ** 56n - 1n }), (n) => {
        const v: number[] = [];
        let x = n;
        while (x >= 0x80n) {
          v.push(Number(x & 0x7fn) | 0x80);
          x >>= 7n;
        }
        v.push(Number(x));
        expect(decodeSet(Uint8Array.from([0x51, ...v])).ok).toBe(false);
        expect(decodeCtx(Uint8Array.from([0x43, ...v])).ok).toBe(false);
        expect(decodeCtx(Uint8Array.from([0x43, 1, 1, 0x61, 1, ...v, 1])).ok).toBe(n + 1n <= 2n ** 53n - 1n);
      }),
      params(),
    );
  }, timeoutFor());
});
