/**
 * `decodeCRDT` on untrusted input, for every type: each bad state is refused with
 * InvalidCrdtStateError (ERR_INVALID_CRDT_STATE) whose message names where and what. And the
 * type-dispatched entry points refuse unknown types and mismatched states.
 */
import { describe, expect, it } from 'vitest';
import { InvalidCrdtStateError } from '../../../src/core/errors.js';
import {
  CRDT_TYPES,
  crdtTypeOf,
  decodeCRDT,
  emptyCRDT,
  GSet,
  mergeCRDT,
  ORSet,
  type CrdtType,
} from '../../../src/core/crdt/index.js';
import { canon } from './helpers.js';

const CTX = { vv: { n1: 2 }, cloud: {} };

const BAD: { readonly [K in CrdtType]: Array<[string, unknown, RegExp]> } = {
  g_counter: [
    ['negative count', { type: 'g_counter', counts: { n1: -1 } }, /g_counter\.counts\.n1: count must not be negative/],
    ['non-integer count', { type: 'g_counter', counts: { n1: 0.5 } }, /g_counter\.counts\.n1: count must be an integer/],
    ['extra field', { type: 'g_counter', counts: {}, p: {} }, /g_counter\.p: unexpected field/],
  ],
  pn_counter: [
    ['negative in p', { type: 'pn_counter', p: { n1: '-3' }, n: {} }, /pn_counter\.p\.n1: count must not be negative/],
    ['n not an object', { type: 'pn_counter', p: {}, n: 5 }, /pn_counter\.n: expected an object, got 5/],
  ],
  g_set: [
    ['element not a string', { type: 'g_set', elements: ['a', 7] }, /g_set\.elements\[1\]: element must be a string, got 7/],
    ['duplicate element', { type: 'g_set', elements: ['a', 'a'] }, /g_set\.elements\[1\]: duplicate element "a"/],
    ['lone surrogate', { type: 'g_set', elements: ['\uDC00'] }, /g_set\.elements\[0\]: element contains a lone UTF-16 surrogate/],
    ['elements not an array', { type: 'g_set', elements: {} }, /g_set\.elements: expected an array/],
  ],
  or_set: [
    ['element not a string', { type: 'or_set', entries: [[1, [['n1', 1]]]], context: CTX }, /or_set\.entries\[0\]\[0\]: element must be a string/],
    ['bad dot', { type: 'or_set', entries: [['a', [['n1', 0]]]], context: CTX }, /or_set\.entries\[0\]\[1\]\[0\]\[1\]: dot counter must be positive/],
    ['dot not a pair', { type: 'or_set', entries: [['a', ['n1:1']]], context: CTX }, /or_set\.entries\[0\]\[1\]\[0\]: expected a dot \[node, counter\]/],
    ['dot node invalid', { type: 'or_set', entries: [['a', [['', 1]]]], context: CTX }, /or_set\.entries\[0\]\[1\]\[0\]\[0\]: expected a node id/],
    ['dot outside the context', { type: 'or_set', entries: [['a', [['n1', 3]]]], context: CTX }, /dot n1:3 is not in the causal context/],
    ['dot used twice', { type: 'or_set', entries: [['a', [['n1', 1]]], ['b', [['n1', 1]]]], context: CTX }, /dot n1:1 tags both "a" and "b"/],
    ['element without dots', { type: 'or_set', entries: [['a', []]], context: CTX }, /or_set\.entries\[0\]\[1\]: element "a" has no dots/],
    ['duplicate element', { type: 'or_set', entries: [['a', [['n1', 1]]], ['a', [['n1', 2]]]], context: CTX }, /duplicate element "a"/],
    ['bad context', { type: 'or_set', entries: [], context: { vv: { n1: -2 }, cloud: {} } }, /or_set\.context\.vv\.n1: dot counter must be positive/],
    ['entry not a pair', { type: 'or_set', entries: ['a'], context: CTX }, /or_set\.entries\[0\]: expected \[element, dots\]/],
  ],
  lww_register: [
    ['bad hlc', { type: 'lww_register', write: { value: 1, hlc: { wall: 1.5, logical: 0 }, node: 'n1' } }, /lww_register\.write\.hlc\.wall: must be a non-negative integer/],
    ['missing node', { type: 'lww_register', write: { value: 1, hlc: { wall: 1, logical: 0 } } }, /lww_register\.write\.node: missing/],
    ['write not an object', { type: 'lww_register', write: 'x' }, /lww_register\.write: expected an object/],
  ],
  mv_register: [
    ['dot outside the context', { type: 'mv_register', entries: [['n1', 3, 'v']], context: CTX }, /mv_register\.entries\[0\]: dot n1:3 is not in the causal context/],
    ['dot twice', { type: 'mv_register', entries: [['n1', 1, 'v'], ['n1', 1, 'w']], context: CTX }, /mv_register\.entries\[1\]: dot n1:1 appears twice/],
    ['bad counter', { type: 'mv_register', entries: [['n1', 'one', 'v']], context: CTX }, /mv_register\.entries\[0\]\[1\]: dot counter must be an integer/],
    ['entry shape', { type: 'mv_register', entries: [['n1', 1]], context: CTX }, /mv_register\.entries\[0\]: expected \[node, counter, value\]/],
  ],
};

describe.each(CRDT_TYPES.map((t) => [t]))('decodeCRDT(%s)', (type: CrdtType) => {
  it.each(BAD[type])('refuses: %s', (_what, value, message) => {
    expect(() => decodeCRDT(type, value)).toThrow(InvalidCrdtStateError);
    expect(() => decodeCRDT(type, value)).toThrow(message);
  });

  it('refuses non-objects, other types and missing fields', () => {
    for (const value of [null, 'text', 42, [], undefined]) {
      expect(() => decodeCRDT(type, value)).toThrow(new RegExp(`^${type}: expected an object`));
    }
    const other = CRDT_TYPES.find((t) => t !== type)!;
    expect(() => decodeCRDT(type, emptyCRDT(other).toJSON())).toThrow(new RegExp(`^${type}\\.type: expected "${type}", got "${other}"`));
    expect(() => decodeCRDT(type, { type })).toThrow(/missing/);
  });

  it('decodes its own empty state', () => {
    const empty = emptyCRDT(type);
    expect(canon(decodeCRDT(type, JSON.parse(canon(empty))))).toBe(canon(empty));
    expect(crdtTypeOf(empty)).toBe(type);
  });
});

describe('type dispatch', () => {
  it('refuses an unknown type everywhere', () => {
    for (const call of [
      () => decodeCRDT('counter' as CrdtType, {}),
      () => mergeCRDT('counter' as CrdtType, GSet.EMPTY, GSet.EMPTY),
      () => emptyCRDT('counter' as CrdtType),
    ]) {
      expect(call).toThrow(/unknown CRDT type "counter" \(expected one of g_counter, pn_counter, g_set, or_set, lww_register, mv_register\)/);
      expect(call).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CRDT_STATE' }));
    }
  });

  it('refuses to merge states of another type', () => {
    expect(() => mergeCRDT('or_set', ORSet.EMPTY, GSet.EMPTY as unknown as ORSet)).toThrow(
      /mergeCRDT b: expected a or_set state \(ORSet\), got a g_set state \(GSet\)/,
    );
    expect(() => mergeCRDT('g_set', { elements: [] } as unknown as GSet, GSet.EMPTY)).toThrow(/mergeCRDT a: expected a g_set state/);
    expect(crdtTypeOf({})).toBeUndefined();
  });
});
