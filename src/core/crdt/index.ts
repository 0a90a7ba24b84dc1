/**
 * The six CRDTs of the spec's "CRDT Integration": G-Counter, PN-Counter, G-Set, OR-Set (add-wins,
 * tombstone-free, delta-state), LWW-Register, MV-Register.
 *
 * All are pure and immutable: no I/O, no clock reads, no randomness. Unique tags are dots
 * `(nodeId, counter)` and timestamps are HLCs, both supplied by the caller. Every operation returns
 * `{state, delta}`; a delta is a state of the same type, merged like any other. `toJSON()` is canonical
 * (equal states give equal canonicalJson bytes on every node); `decodeCRDT` validates untrusted input.
 *
 * Counters are exact beyond 2^53 (bigint, decimal strings in JSON); see counter-amount.ts.
 */
export { CRDT_TYPES, isCrdtType, type CrdtType, type Mutation } from './types.js';
export { mergeCRDT, decodeCRDT, emptyCRDT, crdtTypeOf, type CrdtStates, type CrdtState } from './merge.js';
export { type Dot, type DotJson, dot, compareDots, formatDot } from './dot.js';
export { DotSet, type DotSetJson } from './dot-set.js';
export { GCounter, type GCounterJson } from './g-counter.js';
export { PNCounter, type PNCounterJson } from './pn-counter.js';
export { MAX_COUNT, type CounterAmount } from './counter-amount.js';
export { GSet, type GSetJson } from './g-set.js';
export { ORSet, type ORSetJson, orsetDeltaSince } from './or-set.js';
export { encodeORSet, decodeORSet, encodeDotSet, decodeDotSet } from './or-set-codec.js';
export { LWWRegister, type LWWRegisterJson, type LwwWrite } from './lww-register.js';
export { MVRegister, type MVRegisterJson, type MvEntry } from './mv-register.js';
export { MAX_ELEMENT_LENGTH } from './validate.js';
