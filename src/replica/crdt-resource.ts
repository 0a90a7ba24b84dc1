/**
 * Named CRDTs as replicated resources (`crdt/<name>`): a version's data is `{type, state}` (the
 * CRDT's canonical JSON). Local operations produce a new state and are written like any version;
 * concurrent versions are merged with the CRDT's own join — no conflict, no policy — into one version
 * whose clock is the join of theirs, so every replica computes the same bytes.
 */
import type { Hlc } from '../core/clock/hlc.js';
import { VectorClock } from '../core/clock/vector-clock.js';
import { compareVersions, createVersion, type Version } from '../core/conflict/version.js';
import { type GCounter } from '../core/crdt/g-counter.js';
import { type GSet } from '../core/crdt/g-set.js';
import { type LWWRegister } from '../core/crdt/lww-register.js';
import { decodeCRDT, emptyCRDT, mergeCRDT, type CrdtState } from '../core/crdt/merge.js';
import { type MVRegister } from '../core/crdt/mv-register.js';
import { type ORSet } from '../core/crdt/or-set.js';
import { type PNCounter } from '../core/crdt/pn-counter.js';
import { isCrdtType, type CrdtType } from '../core/crdt/types.js';
import { DwcpError, InvalidCrdtStateError } from '../core/errors.js';

export const CRDT_PREFIX = 'crdt/';

export interface CrdtData {
  readonly type: CrdtType;
  readonly state: unknown;
}

export class CrdtTypeError extends DwcpError {
  constructor(name: string, have: string, want: string) {
    super('ERR_CRDT_TYPE', `CRDT ${name} is a ${have}; its type is fixed at first write (asked for ${want})`, { name, have, want });
  }
}

export function isCrdtData(data: unknown): data is CrdtData {
  return typeof data === 'object' && data !== null && isCrdtType((data as { type?: unknown }).type) && 'state' in data;
}

/** Decode a version's CRDT state (validated). */
export function stateOf(v: Version): { type: CrdtType; state: CrdtState } {
  if (!isCrdtData(v.data)) throw new InvalidCrdtStateError(`${v.resourceId} version ${v.id} does not hold a CRDT`, { resourceId: v.resourceId });
  return { type: v.data.type, state: decodeCRDT(v.data.type, v.data.state) };
}

/** The merged state of a resource's current versions (empty when there are none). */
export function currentState(versions: readonly Version[]): { type: CrdtType; state: CrdtState } | undefined {
  let acc: { type: CrdtType; state: CrdtState } | undefined;
  for (const v of versions) {
    if (v.deleted) continue;
    const s = stateOf(v);
    if (!acc) acc = s;
    else if (acc.type !== s.type) throw new CrdtTypeError(v.resourceId, acc.type, s.type);
    else acc = { type: acc.type, state: mergeAny(acc.type, acc.state, s.state) };
  }
  return acc;
}

/**
 * Merge concurrent CRDT versions into one: data = join of their states, clock = join of their
 * clocks, hlc and origin of the greatest version. Undefined if they are not all CRDTs of one type
 * (then it is a real conflict for the policy).
 */
export function mergeCrdtVersions(candidates: readonly Version[]): Version | undefined {
  if (candidates.length === 0 || candidates.some((c) => c.deleted || !isCrdtData(c.data))) return undefined;
  const sorted = [...candidates].sort(compareVersions);
  const types = new Set(sorted.map((c) => (c.data as CrdtData).type));
  if (types.size !== 1) return undefined;
  const merged = currentState(sorted);
  if (!merged) return undefined;
  const top = sorted[sorted.length - 1]!;
  return createVersion({
    resourceId: top.resourceId,
    clock: VectorClock.joinAll(sorted.map((c) => c.clock)),
    hlc: top.hlc,
    origin: top.origin,
    data: { type: merged.type, state: toJson(merged.state) },
  });
}

export interface CrdtOp {
  readonly type: CrdtType;
  readonly op: string;
  readonly by?: unknown;
  readonly element?: unknown;
  readonly value?: unknown;
}

/** Validate an API body `{type, op, ...}`. */
export function parseCrdtOp(body: unknown): CrdtOp {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InvalidCrdtStateError('the body must be {type, op, ...}');
  const o = body as Record<string, unknown>;
  if (!isCrdtType(o.type)) throw new InvalidCrdtStateError(`type must be one of g_counter, pn_counter, g_set, or_set, lww_register, mv_register; got ${JSON.stringify(o.type)}`);
  if (typeof o.op !== 'string') throw new InvalidCrdtStateError('op must be a string');
  for (const k of Object.keys(o)) {
    if (!['type', 'op', 'by', 'element', 'value'].includes(k)) throw new InvalidCrdtStateError(`unknown field ${JSON.stringify(k)} (expected type, op, by, element, value)`);
  }
  return { type: o.type, op: o.op, by: o.by, element: o.element, value: o.value };
}

/**
 * Apply an operation to the current state. `dot` is this write's unique tag (node, counter) — the
 * counter of the version about to be written — and `hlc` its timestamp.
 */
export function applyCrdtOp(name: string, current: { type: CrdtType; state: CrdtState } | undefined, op: CrdtOp, node: string, dotCounter: number, hlc: Hlc): CrdtData {
  if (current && current.type !== op.type) throw new CrdtTypeError(name, current.type, op.type);
  const state = current?.state ?? emptyCRDT(op.type);
  const by = op.by === undefined ? 1 : typeof op.by === 'string' && /^\d+$/.test(op.by) ? BigInt(op.by) : op.by;
  const dot = { node, counter: dotCounter };
  const bad = (): never => {
    throw new InvalidCrdtStateError(`op ${JSON.stringify(op.op)} is not defined for ${op.type}`, { type: op.type, op: op.op });
  };
  const element = (): string => {
    if (typeof op.element !== 'string') throw new InvalidCrdtStateError('element must be a string');
    return op.element;
  };
  let next: CrdtState;
  switch (op.type) {
    case 'g_counter':
      next = op.op === 'increment' ? (state as GCounter).increment(node, by as number).state : bad();
      break;
    case 'pn_counter':
      next =
        op.op === 'increment'
          ? (state as PNCounter).increment(node, by as number).state
          : op.op === 'decrement'
            ? (state as PNCounter).decrement(node, by as number).state
            : bad();
      break;
    case 'g_set':
      next = op.op === 'add' ? (state as GSet).add(element()).state : bad();
      break;
    case 'or_set':
      next = op.op === 'add' ? (state as ORSet).add(element(), dot).state : op.op === 'remove' ? (state as ORSet).remove(element()).state : bad();
      break;
    case 'lww_register':
      next = op.op === 'set' ? (state as LWWRegister).set(op.value ?? null, hlc, node).state : bad();
      break;
    case 'mv_register':
      next = op.op === 'set' ? (state as MVRegister).set(op.value ?? null, dot).state : bad();
      break;
  }
  return { type: op.type, state: toJson(next) };
}

/** The value an API client sees: counters as numbers (strings beyond 2^53), sets as sorted arrays. */
export function crdtValue(type: CrdtType, state: CrdtState): unknown {
  switch (type) {
    case 'g_counter':
    case 'pn_counter': {
      const v = (state as GCounter | PNCounter).value();
      return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v.toString();
    }
    case 'g_set':
      return (state as GSet).value();
    case 'or_set':
      return (state as ORSet).value();
    case 'lww_register':
      return (state as LWWRegister).value() ?? null;
    case 'mv_register':
      return (state as MVRegister).value();
  }
}

function mergeAny(type: CrdtType, a: CrdtState, b: CrdtState): CrdtState {
  return mergeCRDT(type, a, b);
}

function toJson(state: CrdtState): unknown {
  return JSON.parse(JSON.stringify(state)) as unknown;
}
