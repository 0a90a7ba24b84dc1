/**
 * Highest priority: the version whose origin node has the highest configured priority
 * (`ctx.nodePriorities`, missing = 0) wins; equal priorities go to the higher node id (the same
 * direction as last-write-wins' tie-break). Two versions of the same node (only earlier merge results
 * can be concurrent with each other, a node's own writes are causally ordered): the greater content
 * digest. Tombstones take part like any version.
 *
 * The result carries the winner's origin (so that merging it again with another version compares the
 * same priority: the strategy stays associative), the newest hlc of the inputs and the joined clock.
 * When the policy names fields with other per-field rules and every version is a live object, the
 * object is merged field by field (field-merge.ts).
 */
import type { Conflict } from '../conflict/types.js';
import type { Version } from '../conflict/version.js';
import { compareNodes, describeVersion, maxHlc, prepareVersions, priorityOf, resolvedResult } from './common.js';
import { allLiveObjects, compareStrings, hasOtherFieldRules, mergeFieldwise } from './field-merge.js';
import type { ResolutionContext, Strategy, StrategyResult } from './types.js';

/** Highest-priority order: (priority, node id, digest, id), ascending; the last wins. */
export function compareByPriority(ctx: Pick<ResolutionContext, 'nodePriorities'>, a: Version, b: Version): number {
  return compareNodes(ctx, a.origin, b.origin) || compareStrings(a.digest, b.digest) || compareStrings(a.id, b.id);
}

export class HighestPriorityStrategy implements Strategy {
  readonly name = 'highest_priority' as const;
  readonly automatic = true;

  resolve(conflict: Conflict, ctx: ResolutionContext): StrategyResult {
    const sorted = prepareVersions(conflict, this.name);
    if (hasOtherFieldRules(ctx, 'highest_priority') && allLiveObjects(sorted)) {
      const anc = ctx.ancestor && !ctx.ancestor.deleted ? ctx.ancestor.data : undefined;
      const r = mergeFieldwise(sorted, anc, ctx, 'highest_priority');
      return resolvedResult(sorted, { data: r.data, deleted: false, hlc: r.hlc, origin: r.origin }, r.fieldDecisions, [
        `${this.name}: merged field by field (the policy names per-field strategies)`,
        ...r.notes,
      ]);
    }
    let w = sorted[0]!;
    for (const v of sorted) if (compareByPriority(ctx, v, w) > 0) w = v;
    const rank = (v: Version): string => `${v.origin}=${priorityOf(ctx, v.origin)}`;
    const losers = sorted.filter((v) => v !== w);
    const detail = `highest (priority, node id): ${describeVersion(w)} with priority ${priorityOf(ctx, w.origin)}${
      losers.length ? ` over ${losers.map(rank).join(', ')}` : ''
    }`;
    return resolvedResult(
      sorted,
      { data: w.data, deleted: w.deleted, hlc: maxHlc(sorted), origin: w.origin },
      [{ field: '*', rule: this.name, winner: w.id, detail }],
      [`${this.name}: ${w.id} from ${w.origin} (priority ${priorityOf(ctx, w.origin)}) wins; ties go to the higher node id`],
    );
  }
}
