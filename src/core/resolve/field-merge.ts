/**
 * Field-by-field merging of object values, and the per-field choice rules it (and the VM field rules)
 * use. Every rule here is a join: commutative, associative and idempotent over the inputs, once the
 * result version carries the right hlc and origin — which is why the tie-breaks below look at values,
 * not at node ids:
 *
 * - `last_write_wins` per field: the value of the newest version by hlc; on an exact hlc tie, the larger
 *   value in canonical-JSON order. A field missing from the newest version is missing from the result
 *   (a write replaces the whole object). The merged version carries the newest hlc, so merging it again
 *   gives the same answer.
 * - `highest_priority` per field: the value of the version whose origin has the highest configured
 *   priority (ties by the higher node id); between versions of that same node, the larger value. When
 *   any field uses it, the merged version's origin is that node, so merging it again gives the same
 *   answer.
 * - `operational_transform` per field: a three-way text merge against the ancestor's value (see
 *   text-merge.ts); when a value is not a string, or the ancestor has none, the field falls back to
 *   `last_write_wins` and a note says so.
 */
import { compareHlc, type Hlc } from '../clock/hlc.js';
import { canonicalJson, canonicalJsonPrefix } from '../codec/canonical.js';
import {
  compareEntries,
  compareNodes,
  isPlainObject,
  maxHlc,
  newestEntry,
  plural,
  topPriorityOrigin,
  type MergeEntry,
} from './common.js';
import { mergeText } from './text-merge.js';
import type { FieldDecision, ResolutionContext, StrategyName } from './types.js';

/** A field that a version does not have. Sorts below every value. */
export const ABSENT: unique symbol = Symbol('dwcp.absent');

export type NodeContext = Pick<ResolutionContext, 'nodePriorities'>;
export type FieldContext = Pick<ResolutionContext, 'nodePriorities' | 'fieldStrategies'>;

/** One input's value of a field, with its canonical encoding ('' for {@link ABSENT}). */
export interface Candidate {
  readonly entry: MergeEntry;
  readonly value: unknown;
  readonly canonical: string;
}

export interface Picked {
  readonly value: unknown;
  readonly canonical: string;
  /** The input whose value won (the last in version order among equal values). */
  readonly winner: MergeEntry;
}

export function fieldOf(data: unknown, field: string): unknown {
  if (!isPlainObject(data) || !Object.prototype.hasOwnProperty.call(data, field)) return ABSENT;
  const v = data[field];
  return v === undefined ? ABSENT : v;
}

export function canonicalOf(value: unknown): string {
  if (value === ABSENT) return '';
  // Fast paths for the common scalar fields; objects and arrays go through the canonical encoder.
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' && Number.isFinite(value)) return Object.is(value, -0) ? '0' : String(value);
  if (value === null) return 'null';
  return canonicalJson(value);
}

/** A candidate whose canonical encoding is computed only when an order or a detail needs it. */
class LazyCandidate implements Candidate {
  /** The canonical encoding, once something needed it. */
  encoded: string | undefined = undefined;
  constructor(
    readonly entry: MergeEntry,
    readonly value: unknown,
  ) {}
  get canonical(): string {
    return (this.encoded ??= canonicalOf(this.value));
  }
}

export function candidates(entries: readonly MergeEntry[], get: (e: MergeEntry) => unknown): Candidate[] {
  const out: Candidate[] = new Array<Candidate>(entries.length);
  for (let i = 0; i < entries.length; i++) out[i] = new LazyCandidate(entries[i]!, get(entries[i]!));
  return out;
}

export function candidate(entry: MergeEntry, value: unknown): Candidate {
  return new LazyCandidate(entry, value);
}

/**
 * Equality of JSON values as the canonical encoding sees it (key order and keys holding `undefined`
 * do not matter), without encoding them.
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let nx = 0;
  for (const k in x) {
    if (!Object.prototype.hasOwnProperty.call(x, k) || x[k] === undefined) continue;
    nx++;
    if (!Object.prototype.hasOwnProperty.call(y, k) || !jsonEqual(x[k], y[k])) return false;
  }
  let ny = 0;
  for (const k in y) if (Object.prototype.hasOwnProperty.call(y, k) && y[k] !== undefined) ny++;
  return nx === ny;
}

/** True when every candidate has the same value (absence included). */
export function unanimous(cands: readonly Candidate[]): boolean {
  const v = cands[0]!.value;
  for (const x of cands) if (!jsonEqual(x.value, v)) return false;
  return true;
}

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A pick that encodes the winning value only when asked (an order or a detail may not need it). */
class PickedCandidate implements Picked {
  readonly value: unknown;
  readonly winner: MergeEntry;
  constructor(readonly candidate: Candidate) {
    this.value = candidate.value;
    this.winner = candidate.entry;
  }
  get canonical(): string {
    return this.candidate.canonical;
  }
}

/**
 * The greatest candidate under `compare`; among equal ones, the last in version order (candidates come
 * sorted by version order).
 */
export function pickBy(cands: readonly Candidate[], compare: (a: Candidate, b: Candidate) => number): Picked {
  let best = cands[0]!;
  for (let i = 1; i < cands.length; i++) {
    const c = cands[i]!;
    const o = compare(c, best);
    if (o > 0 || (o === 0 && compareEntries(c.entry, best.entry) > 0)) best = c;
  }
  return new PickedCandidate(best);
}

function byLww(a: Candidate, b: Candidate): number {
  return compareHlc(a.entry.hlc, b.entry.hlc) || compareStrings(a.canonical, b.canonical);
}

/** Newest hlc, then larger value. */
export function pickLww(cands: readonly Candidate[]): Picked {
  return pickBy(cands, byLww);
}

/** Highest (priority, node id) of the origin, then larger value. */
export function pickHighestPriority(cands: readonly Candidate[], ctx: NodeContext): Picked {
  return pickBy(cands, (a, b) => compareNodes(ctx, a.entry.origin, b.entry.origin) || compareStrings(a.canonical, b.canonical));
}

/** Largest by `rank`, then larger value. */
export function pickRanked(cands: readonly Candidate[], rank: (value: unknown) => number): Picked {
  return pickBy(cands, (a, b) => rank(a.value) - rank(b.value) || compareStrings(a.canonical, b.canonical));
}

/** Longer renderings are shortened to this many characters (57 and `...`). */
const SHOW_MAX = 60;

/** A short rendering of a value for decision details (pass its canonical form when known). */
export function show(value: unknown, canonical?: string): string {
  if (value === ABSENT) return '(absent)';
  // Only the first SHOW_MAX + 1 characters of the encoding matter: large values are encoded that far.
  const c = canonical ?? (typeof value === 'object' && value !== null ? canonicalJsonPrefix(value, SHOW_MAX) : canonicalOf(value));
  return c.length > SHOW_MAX ? `${c.slice(0, SHOW_MAX - 3)}...` : c;
}

/** {@link show} of a candidate's or a pick's value, reusing its encoding when it was computed already. */
export function showOf(x: Candidate | Picked): string {
  if (x instanceof PickedCandidate) return showOf(x.candidate);
  if (x instanceof LazyCandidate) return show(x.value, x.encoded);
  return show(x.value, x.canonical);
}

/** Whether a strategy can decide one field on its own. */
export type FieldRule = 'last_write_wins' | 'highest_priority' | 'operational_transform';

export function isFieldRule(s: StrategyName | undefined): s is FieldRule {
  return s === 'last_write_wins' || s === 'highest_priority' || s === 'operational_transform';
}

/** True when the result's origin must be the highest-priority node (see the module comment). */
export function usesHighestPriority(ctx: Pick<ResolutionContext, 'fieldStrategies'>, defaultRule?: string): boolean {
  if (defaultRule === 'highest_priority') return true;
  for (const s of Object.values(ctx.fieldStrategies)) if (s === 'highest_priority') return true;
  return false;
}

/** The result origin of a field-wise merge: the highest-priority node when that rule is in play, else the newest version's. */
export function mergedOrigin(entries: readonly MergeEntry[], ctx: FieldContext, defaultRule?: string): string {
  return usesHighestPriority(ctx, defaultRule) ? topPriorityOrigin(ctx, entries) : newestEntry(entries).origin;
}

export interface FieldwiseResult {
  readonly data: Record<string, unknown>;
  readonly hlc: Hlc;
  readonly origin: string;
  readonly fieldDecisions: FieldDecision[];
  readonly notes: string[];
}

/**
 * Merge plain-object values field by field. `entries` are sorted by version order, none is a
 * tombstone, every `data` is a plain object. Each top-level field uses `ctx.fieldStrategies[field]`
 * when that strategy can decide one field (`last_write_wins`, `highest_priority`,
 * `operational_transform`), else `defaultRule` (and a note says why).
 */
export function mergeFieldwise(
  entries: readonly MergeEntry[],
  ancestorData: unknown,
  ctx: FieldContext,
  defaultRule: 'last_write_wins' | 'highest_priority',
): FieldwiseResult {
  const fields = new Set<string>();
  for (const e of entries) for (const k of Object.keys(e.data as Record<string, unknown>)) fields.add(k);
  const data: Record<string, unknown> = {};
  const fieldDecisions: FieldDecision[] = [];
  const notes: string[] = [];
  for (const field of [...fields].sort()) {
    const configured = ctx.fieldStrategies[field];
    let rule: FieldRule = defaultRule;
    if (configured !== undefined) {
      if (isFieldRule(configured)) rule = configured;
      else notes.push(`field ${field}: strategy ${configured} cannot decide a single field; used ${defaultRule}`);
    }
    const d = decideObjectField(field, rule, entries, fieldOf(ancestorData, field), ctx, notes);
    if (d.value !== ABSENT) data[field] = d.value;
    fieldDecisions.push(d.decision);
  }
  return {
    data,
    hlc: maxHlc(entries),
    origin: mergedOrigin(entries, ctx, defaultRule),
    fieldDecisions,
    notes,
  };
}

/**
 * {@link decideField} for the field `field` of the entries' data (see {@link fieldOf}); builds no
 * candidates when every version holds the same value. Exported for the VM rules' unknown fields.
 */
export function decideObjectField(
  field: string,
  rule: FieldRule,
  entries: readonly MergeEntry[],
  ancestorValue: unknown,
  ctx: NodeContext,
  notes: string[],
): { value: unknown; decision: FieldDecision } {
  const n = entries.length;
  const first = fieldOf(entries[0]!.data, field);
  let same = true;
  for (let i = 1; i < n && same; i++) same = jsonEqual(fieldOf(entries[i]!.data, field), first);
  if (!same) return decideField(field, rule, candidates(entries, (e) => fieldOf(e.data, field)), ancestorValue, ctx, notes);
  const last = entries[n - 1]!;
  const value = n === 1 ? first : fieldOf(last.data, field);
  return { value, decision: { field, rule, winner: last.id, detail: `all versions agree: ${show(value)}` } };
}

/** Decide one field by a per-field rule. */
export function decideField(
  field: string,
  rule: FieldRule,
  cands: readonly Candidate[],
  ancestorValue: unknown,
  ctx: NodeContext,
  notes: string[],
): { value: unknown; decision: FieldDecision } {
  if (unanimous(cands)) {
    const last = cands[cands.length - 1]!;
    return { value: last.value, decision: { field, rule, winner: last.entry.id, detail: `all versions agree: ${showOf(last)}` } };
  }
  if (rule === 'operational_transform') {
    const texts = cands.map((c) => c.value);
    if (texts.every((t): t is string => typeof t === 'string') && typeof ancestorValue === 'string') {
      const merged = mergeText(ancestorValue, texts);
      const same = cands.filter((c) => c.value === merged.text);
      const winner = same.length > 0 ? same[same.length - 1]!.entry.id : 'merged';
      return {
        value: merged.text,
        decision: {
          field,
          rule,
          winner,
          detail: `three-way text merge against the ancestor: ${plural(merged.hunks.reduce((a, b) => a + b, 0), 'hunk')} from ${plural(cands.length, 'version')}, ${plural(merged.overlaps, 'overlapping region')} (insertions kept in version order, deletions applied)`,
        },
      };
    }
    const why =
      typeof ancestorValue === 'string'
        ? 'not every version holds a string'
        : 'no common ancestor holds a string for it';
    notes.push(`field ${field}: text merge not possible (${why}); resolved by last_write_wins (hlc, then value)`);
    const p = pickLww(cands);
    return {
      value: p.value,
      decision: { field, rule: 'last_write_wins', winner: p.winner.id, detail: `text merge not possible (${why}); newest write: ${showOf(p)}` },
    };
  }
  if (rule === 'highest_priority') {
    const p = pickHighestPriority(cands, ctx);
    return {
      value: p.value,
      decision: { field, rule, winner: p.winner.id, detail: `value of the highest-priority node ${p.winner.origin}: ${showOf(p)}` },
    };
  }
  const p = pickLww(cands);
  return {
    value: p.value,
    decision: { field, rule, winner: p.winner.id, detail: `newest write (hlc, then value): ${showOf(p)}` },
  };
}

/**
 * True when the policy names some field with a per-field rule other than `defaultRule`: then an
 * object value is merged field by field instead of picking one whole version.
 */
export function hasOtherFieldRules(ctx: Pick<ResolutionContext, 'fieldStrategies'>, defaultRule: FieldRule): boolean {
  for (const s of Object.values(ctx.fieldStrategies)) if (isFieldRule(s) && s !== defaultRule) return true;
  return false;
}

/** Every entry is live and holds a plain object. */
export function allLiveObjects(entries: readonly MergeEntry[]): boolean {
  for (const e of entries) if (e.deleted || !isPlainObject(e.data)) return false;
  return true;
}
