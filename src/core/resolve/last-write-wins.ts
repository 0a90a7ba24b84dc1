/**
 * Last-write-wins: the version with the newest hybrid logical timestamp wins; an exact tie goes to the
 * higher node id (then the greater content digest, which only matters for two versions of one node
 * with one timestamp, i.e. earlier merge results). Tombstones take part like any version.
 *
 * Skew: hlc wall times of different nodes are only as good as their clocks. When a version with other
 * content is less than `ctx.maxClockSkewMs` (wall time) older than the newest, LWW cannot know which
 * write was last and does not guess: `ctx.skewAction` `siblings` keeps every version as a sibling,
 * `escalate` defers to manual intervention; the note gives both timestamps and how far apart they are.
 * `maxClockSkewMs <= 0` turns the check off. Versions with the same content as the newest never count.
 *
 * When the policy names fields with other per-field rules (e.g. `power_state: highest_priority`) and
 * every version is a live object, the object is merged field by field (field-merge.ts): those fields by
 * their rule, every other field by LWW (hlc, then value). That merge is associative among live
 * objects; when a tombstone or a non-object takes part, the whole version is chosen instead
 * (commutative, but merging pairwise in an order that meets the tombstone late can give another result).
 */
import { formatHlc } from '../clock/hlc.js';
import { canonicalJson } from '../codec/canonical.js';
import type { Conflict } from '../conflict/types.js';
import type { Version } from '../conflict/version.js';
import {
  describeVersion,
  isPlainObject,
  plural,
  prepareVersions,
  resolvedResult,
  sameContent,
  unanimousResult,
} from './common.js';
import { allLiveObjects, compareStrings, hasOtherFieldRules, isFieldRule, mergeFieldwise } from './field-merge.js';
import type { ResolutionContext, Strategy, StrategyName, StrategyResult } from './types.js';

/** LWW order: (hlc, node id, digest, id), ascending; the last wins. */
export function compareLww(a: Version, b: Version): number {
  if (a.hlc.wall !== b.hlc.wall) return a.hlc.wall < b.hlc.wall ? -1 : 1;
  if (a.hlc.logical !== b.hlc.logical) return a.hlc.logical < b.hlc.logical ? -1 : 1;
  return compareStrings(a.origin, b.origin) || compareStrings(a.digest, b.digest) || compareStrings(a.id, b.id);
}

export function lwwWinner(sorted: readonly Version[]): Version {
  let best = sorted[0]!;
  for (const v of sorted) if (compareLww(v, best) > 0) best = v;
  return best;
}

/**
 * Whole-version LWW without the skew check (also the fallback of other strategies, which say why in
 * `reason`).
 */
export function resolveByLww(sorted: readonly Version[], strategy: StrategyName, reason?: string): StrategyResult {
  const w = lwwWinner(sorted);
  const older = sorted.filter((v) => v !== w);
  const detail = `newest write by (hlc, node id): ${describeVersion(w)}${older.length ? ` over ${older.map(describeVersion).join(', ')}` : ''}`;
  const notes = reason ? [`${strategy}: ${reason}; resolved by last-write-wins`] : [];
  notes.push(`${strategy}: ${w.id} wins by (hlc, node id) over ${plural(older.length, 'version')}`);
  return resolvedResult(
    sorted,
    { data: w.data, deleted: w.deleted, hlc: w.hlc, origin: w.origin },
    [{ field: '*', rule: 'last_write_wins', winner: w.id, detail }],
    notes,
  );
}

export class LastWriteWinsStrategy implements Strategy {
  readonly name = 'last_write_wins' as const;
  readonly automatic = true;

  resolve(conflict: Conflict, ctx: ResolutionContext): StrategyResult {
    const sorted = prepareVersions(conflict, this.name);
    const fieldwise = hasOtherFieldRules(ctx, 'last_write_wins') && allLiveObjects(sorted);
    if (!fieldwise && sameContent(sorted)) return unanimousResult(sorted, this.name);
    const skew = skewAmbiguity(sorted, ctx, fieldwise);
    if (skew) {
      if (ctx.skewAction === 'escalate') {
        const note = `${skew}; escalating to manual intervention`;
        return { outcome: 'deferred', to: 'manual', reason: note, candidates: sorted, notes: [`${this.name}: ${note}`] };
      }
      return { outcome: 'siblings', versions: sorted, notes: [`${this.name}: ${skew}; keeping ${plural(sorted.length, 'sibling')}`] };
    }
    if (!fieldwise) return resolveByLww(sorted, this.name);
    const anc = ctx.ancestor && !ctx.ancestor.deleted ? ctx.ancestor.data : undefined;
    const r = mergeFieldwise(sorted, anc, ctx, 'last_write_wins');
    return resolvedResult(sorted, { data: r.data, deleted: false, hlc: r.hlc, origin: r.origin }, r.fieldDecisions, [
      `${this.name}: merged field by field (the policy names per-field strategies); other fields by (hlc, then value)`,
      ...r.notes,
    ]);
  }
}

/**
 * `undefined` when LWW can order the writes; else the reason it cannot (two timestamps closer than the
 * maximum clock skew, with different content).
 */
export function skewAmbiguity(sorted: readonly Version[], ctx: ResolutionContext, fieldwise = false): string | undefined {
  const window = ctx.maxClockSkewMs;
  if (!(window > 0) || sorted.length < 2) return undefined;
  const w = lwwWinner(sorted);
  const key = fieldwise ? lwwProjection(ctx) : (v: Version): string => v.digest;
  const wk = key(w);
  let runnerUp: Version | undefined;
  for (const v of sorted) {
    if (v === w || w.hlc.wall - v.hlc.wall >= window || key(v) === wk) continue;
    if (!runnerUp || compareLww(v, runnerUp) > 0) runnerUp = v;
  }
  if (!runnerUp) return undefined;
  const apart = w.hlc.wall - runnerUp.hlc.wall;
  return (
    `timestamps ${formatHlc(w.hlc)} (${w.origin}) and ${formatHlc(runnerUp.hlc)} (${runnerUp.origin}) are ${apart} ms apart, ` +
    `within the maximum clock skew of ${window} ms: last-write-wins cannot tell which write was last`
  );
}

/** The part of an object that LWW decides when other fields have their own rules. */
function lwwProjection(ctx: ResolutionContext): (v: Version) => string {
  const own = new Set(
    Object.entries(ctx.fieldStrategies)
      .filter(([, s]) => isFieldRule(s) && s !== 'last_write_wins')
      .map(([f]) => f),
  );
  return (v) => {
    if (!isPlainObject(v.data)) return v.digest;
    const rest: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v.data)) if (!own.has(k)) rest[k] = x;
    return canonicalJson(rest);
  };
}
