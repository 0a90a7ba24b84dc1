/**
 * Helpers shared by the strategies: input validation, the deterministic orders, and building the one
 * result version of an automatic strategy (clock = join of the inputs' clocks, no increment).
 */
import { compareHlc, formatHlc, type Hlc } from '../clock/hlc.js';
import { VectorClock } from '../clock/vector-clock.js';
import type { Conflict } from '../conflict/types.js';
import { compareVersions, createVersion, type Version } from '../conflict/version.js';
import { ResourceMismatchError } from '../errors.js';
import { ResolutionError } from './errors.js';
import type { FieldDecision, ResolutionContext, StrategyName, StrategyResult } from './types.js';

/**
 * What the merge rules read of a version. A {@link Version} is one; the values-only form of a semantic
 * rule builds them from bare values.
 */
export interface MergeEntry {
  readonly id: string;
  readonly hlc: Hlc;
  readonly origin: string;
  readonly data: unknown;
  readonly deleted: boolean;
}

/** The order of `compareVersions` — (hlc, origin, id) — for any {@link MergeEntry}. */
export function compareEntries(a: MergeEntry, b: MergeEntry): number {
  const h = compareHlc(a.hlc, b.hlc);
  if (h !== 0) return h;
  if (a.origin !== b.origin) return a.origin < b.origin ? -1 : 1;
  if (a.id !== b.id) return a.id < b.id ? -1 : 1;
  return 0;
}

/**
 * The conflict's versions, validated, without duplicates (same id), sorted by `compareVersions`.
 * Every strategy starts here, so that no result depends on the order the versions arrived in.
 * Throws {@link ResolutionError} when there is no version and {@link ResourceMismatchError} when a
 * version belongs to another resource than the conflict.
 */
export function prepareVersions(conflict: Conflict, strategy: StrategyName): Version[] {
  const input = conflict.versions;
  if (input.length === 0) {
    throw new ResolutionError(`${strategy}: conflict ${conflict.id} on ${conflict.resourceId} has no versions`, {
      strategy,
      conflictId: conflict.id,
      resourceId: conflict.resourceId,
      reason: 'no_versions',
    });
  }
  for (const v of input) assertSameResource(conflict.resourceId, v, strategy);
  const sorted = sortedCopy(input, compareVersions);
  let w = 1;
  for (let r = 1; r < sorted.length; r++) {
    if (sorted[r]!.id !== sorted[w - 1]!.id) sorted[w++] = sorted[r]!;
  }
  sorted.length = w;
  return sorted;
}

/**
 * `[...xs].sort(compare)`: a stable sort, by insertion for the short lists of versions a conflict has
 * (no work for an input that is already in order).
 */
export function sortedCopy<T>(xs: readonly T[], compare: (a: T, b: T) => number): T[] {
  const out = xs.slice();
  if (out.length > 16) return out.sort(compare);
  for (let i = 1; i < out.length; i++) {
    const x = out[i]!;
    let j = i - 1;
    while (j >= 0 && compare(out[j]!, x) > 0) {
      out[j + 1] = out[j]!;
      j--;
    }
    out[j + 1] = x;
  }
  return out;
}

export function assertSameResource(resourceId: string, v: Version, strategy: string, role = 'version'): void {
  if (v.resourceId !== resourceId) {
    throw new ResourceMismatchError(
      `${strategy}: ${role} ${v.id} belongs to ${v.resourceId}, not to ${resourceId}: only versions of one resource can be resolved together`,
      { strategy, expected: resourceId, got: v.resourceId, versionId: v.id },
    );
  }
}

export function joinClocks(versions: readonly Version[]): VectorClock {
  return VectorClock.joinAll(versions.map((v) => v.clock));
}

/** The largest hlc of the entries (they must not be empty). */
export function maxHlc(entries: readonly MergeEntry[]): Hlc {
  let best = entries[0]!.hlc;
  for (const e of entries) if (compareHlc(e.hlc, best) > 0) best = e.hlc;
  return best;
}

/** The entry last in `compareEntries` order: newest hlc, ties by the higher node id. */
export function newestEntry<E extends MergeEntry>(entries: readonly E[]): E {
  let best = entries[0]!;
  for (const e of entries) if (compareEntries(e, best) > 0) best = e;
  return best;
}

/** Configured priority of a node (missing = 0). */
export function priorityOf(ctx: Pick<ResolutionContext, 'nodePriorities'>, nodeId: string): number {
  const p = ctx.nodePriorities[nodeId];
  return typeof p === 'number' && Number.isFinite(p) ? p : 0;
}

/** (priority, node id): the higher priority wins, ties by the higher node id (as LWW's tie-break). */
export function compareNodes(ctx: Pick<ResolutionContext, 'nodePriorities'>, a: string, b: string): number {
  const pa = priorityOf(ctx, a);
  const pb = priorityOf(ctx, b);
  if (pa !== pb) return pa < pb ? -1 : 1;
  if (a !== b) return a < b ? -1 : 1;
  return 0;
}

/** The node that highest_priority favours among the entries' origins. */
export function topPriorityOrigin(ctx: Pick<ResolutionContext, 'nodePriorities'>, entries: readonly MergeEntry[]): string {
  let best = entries[0]!.origin;
  for (const e of entries) if (compareNodes(ctx, e.origin, best) > 0) best = e.origin;
  return best;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** `id (origin @ hlc)`: how versions are named in notes and decisions. */
export function describeVersion(v: MergeEntry): string {
  return `${v.id} (${v.origin} @ ${formatHlc(v.hlc)}${v.deleted ? ', tombstone' : ''})`;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export interface ResolvedInit {
  readonly data: unknown;
  readonly deleted: boolean;
  readonly hlc: Hlc;
  readonly origin: string;
}

/**
 * The result of an automatic strategy: one new version with the join of the inputs' clocks (no
 * increment: every node computing it gets the same bytes), the given content, hlc and origin.
 */
export function resolvedResult(
  sorted: readonly Version[],
  init: ResolvedInit,
  fieldDecisions: readonly FieldDecision[],
  notes: readonly string[],
): StrategyResult {
  const first = sorted[0]!;
  const version = createVersion({
    resourceId: first.resourceId,
    clock: joinClocks(sorted),
    hlc: init.hlc,
    origin: init.origin,
    data: init.data,
    deleted: init.deleted,
  });
  return { outcome: 'resolved', version, discarded: sorted.filter((v) => v.id !== version.id), fieldDecisions, notes };
}

/** True when every version carries the same content (data and tombstone flag). */
export function sameContent(sorted: readonly Version[]): boolean {
  const d = sorted[0]!.digest;
  for (const v of sorted) if (v.digest !== d) return false;
  return true;
}

/**
 * Every version has the same content: nothing to choose. The result keeps that content with the joined
 * clock, the newest hlc and its origin.
 */
export function unanimousResult(sorted: readonly Version[], strategy: StrategyName): StrategyResult {
  const newest = sorted[sorted.length - 1]!;
  return resolvedResult(
    sorted,
    { data: newest.data, deleted: newest.deleted, hlc: newest.hlc, origin: newest.origin },
    [{ field: '*', rule: strategy, winner: newest.id, detail: 'every version carries the same content' }],
    [`${strategy}: all ${plural(sorted.length, 'version')} carry the same content; merged their clocks`],
  );
}
