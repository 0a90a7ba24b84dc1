/**
 * The type-dispatched entry points of the spec's CRDT integration: `mergeCRDT(type, a, b)`,
 * `decodeCRDT(type, json)` and `emptyCRDT(type)`. States are immutable values; `toJSON()` of each is
 * canonical (encode with canonicalJson for bytes and digests).
 */
import { GCounter } from './g-counter.js';
import { GSet } from './g-set.js';
import { LWWRegister } from './lww-register.js';
import { MVRegister } from './mv-register.js';
import { ORSet } from './or-set.js';
import { PNCounter } from './pn-counter.js';
import { CRDT_TYPES, type CrdtType, isCrdtType } from './types.js';
import { describe, fail } from './validate.js';

/** The state class of each CRDT type. */
export interface CrdtStates {
  g_counter: GCounter;
  pn_counter: PNCounter;
  g_set: GSet;
  or_set: ORSet;
  lww_register: LWWRegister;
  mv_register: MVRegister;
}

export type CrdtState = CrdtStates[CrdtType];

interface Handler<S> {
  readonly className: string;
  readonly empty: S;
  is(value: unknown): value is S;
  fromJSON(value: unknown, where: string): S;
  merge(a: S, b: S): S;
}

const HANDLERS: { readonly [K in CrdtType]: Handler<CrdtStates[K]> } = {
  g_counter: {
    className: 'GCounter',
    empty: GCounter.EMPTY,
    is: (v): v is GCounter => v instanceof GCounter,
    fromJSON: (v, where) => GCounter.fromJSON(v, where),
    merge: (a, b) => a.merge(b),
  },
  pn_counter: {
    className: 'PNCounter',
    empty: PNCounter.EMPTY,
    is: (v): v is PNCounter => v instanceof PNCounter,
    fromJSON: (v, where) => PNCounter.fromJSON(v, where),
    merge: (a, b) => a.merge(b),
  },
  g_set: {
    className: 'GSet',
    empty: GSet.EMPTY,
    is: (v): v is GSet => v instanceof GSet,
    fromJSON: (v, where) => GSet.fromJSON(v, where),
    merge: (a, b) => a.merge(b),
  },
  or_set: {
    className: 'ORSet',
    empty: ORSet.EMPTY,
    is: (v): v is ORSet => v instanceof ORSet,
    fromJSON: (v, where) => ORSet.fromJSON(v, where),
    merge: (a, b) => a.merge(b),
  },
  lww_register: {
    className: 'LWWRegister',
    empty: LWWRegister.EMPTY,
    is: (v): v is LWWRegister => v instanceof LWWRegister,
    fromJSON: (v, where) => LWWRegister.fromJSON(v, where),
    merge: (a, b) => a.merge(b),
  },
  mv_register: {
    className: 'MVRegister',
    empty: MVRegister.EMPTY,
    is: (v): v is MVRegister => v instanceof MVRegister,
    fromJSON: (v, where) => MVRegister.fromJSON(v, where),
    merge: (a, b) => a.merge(b),
  },
};

function handler<T extends CrdtType>(type: T, where: string): Handler<CrdtStates[T]> {
  if (!isCrdtType(type)) {
    fail(where, `unknown CRDT type ${describe(type)} (expected one of ${CRDT_TYPES.join(', ')})`, { type });
  }
  return HANDLERS[type];
}

/** Merges two states of `type` (the join: commutative, associative, idempotent). */
export function mergeCRDT<T extends CrdtType>(type: T, a: CrdtStates[T], b: CrdtStates[T]): CrdtStates[T] {
  const h = handler(type, 'mergeCRDT type');
  if (!h.is(a)) fail('mergeCRDT a', `expected a ${type} state (${h.className}), got ${nameOf(a)}`, { type });
  if (!h.is(b)) fail('mergeCRDT b', `expected a ${type} state (${h.className}), got ${nameOf(b)}`, { type });
  return h.merge(a, b);
}

/**
 * Validates an untrusted serialized state (the parsed JSON of `toJSON()`) of `type`. Throws
 * InvalidCrdtStateError (ERR_INVALID_CRDT_STATE) naming what is wrong and where.
 */
export function decodeCRDT<T extends CrdtType>(type: T, json: unknown): CrdtStates[T] {
  return handler(type, 'decodeCRDT type').fromJSON(json, type);
}

/** The initial (bottom) state of `type`. */
export function emptyCRDT<T extends CrdtType>(type: T): CrdtStates[T] {
  return handler(type, 'emptyCRDT type').empty;
}

/** The type of a state object, or undefined if it is none of the six. */
export function crdtTypeOf(state: unknown): CrdtType | undefined {
  return CRDT_TYPES.find((t) => HANDLERS[t].is(state));
}

function nameOf(value: unknown): string {
  if (typeof value === 'object' && value !== null) {
    const type = crdtTypeOf(value);
    if (type !== undefined) return `a ${type} state (${HANDLERS[type].className})`;
  }
  return describe(value);
}
