/** The CRDT type names, as used by `mergeCRDT`, `decodeCRDT`, the API and every serialized state. */
export const CRDT_TYPES = ['g_counter', 'pn_counter', 'g_set', 'or_set', 'lww_register', 'mv_register'] as const;
export type CrdtType = (typeof CRDT_TYPES)[number];

export function isCrdtType(value: unknown): value is CrdtType {
  return typeof value === 'string' && (CRDT_TYPES as readonly string[]).includes(value);
}

/**
 * The result of an operation: the new state, and the delta to replicate. The delta is itself a state
 * of the same type (a delta-state CRDT, Almeida et al.), so peers apply it with an ordinary merge, in
 * any order, any number of times: `old.merge(delta)` equals `state`.
 */
export interface Mutation<T> {
  readonly state: T;
  readonly delta: T;
}
