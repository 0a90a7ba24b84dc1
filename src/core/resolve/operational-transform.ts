/**
 * Operational transform, as a three-way merge of concurrent text edits against their common ancestor
 * (`ctx.ancestor`, read from the version history by the caller): see text-merge.ts for the merge rule
 * (every side's insertions kept, every side's deletions applied, insertions into one gap in version
 * order). It applies to:
 *
 * - values that are themselves strings: the whole value is merged;
 * - objects: the fields the policy names with `operational_transform` (e.g. `document_content`) are
 *   merged as text; every other field by last-write-wins (hlc, then value) or its own per-field rule.
 *
 * Fallbacks, deterministic and noted: with no ancestor (or an ancestor that holds no string for a
 * field), a text is resolved by last-write-wins; with a tombstone among the versions, or values that are
 * neither strings nor objects, the whole conflict is resolved by last-write-wins (hlc, node id).
 */
import type { Conflict } from '../conflict/types.js';
import { assertSameResource, isPlainObject, maxHlc, newestEntry, plural, prepareVersions, resolvedResult } from './common.js';
import { mergeFieldwise } from './field-merge.js';
import { resolveByLww } from './last-write-wins.js';
import { mergeText } from './text-merge.js';
import type { ResolutionContext, Strategy, StrategyResult } from './types.js';

export class OperationalTransformStrategy implements Strategy {
  readonly name = 'operational_transform' as const;
  readonly automatic = true;

  resolve(conflict: Conflict, ctx: ResolutionContext): StrategyResult {
    const sorted = prepareVersions(conflict, this.name);
    const anc = ctx.ancestor;
    if (anc) assertSameResource(conflict.resourceId, anc, this.name, 'ancestor');
    const ancData = anc && !anc.deleted ? anc.data : undefined;
    if (sorted.some((v) => v.deleted)) return resolveByLww(sorted, this.name, 'a tombstone takes part, there is no text to merge');
    if (sorted.every((v) => typeof v.data === 'string')) {
      if (typeof ancData !== 'string') {
        return resolveByLww(sorted, this.name, anc ? 'the common ancestor holds no text' : 'no common ancestor in the version history');
      }
      const texts = sorted.map((v) => v.data as string);
      const m = mergeText(ancData, texts);
      const holders = sorted.filter((v) => v.data === m.text);
      const winner = holders.length > 0 ? holders[holders.length - 1]!.id : 'merged';
      const hunks = m.hunks.reduce((a, b) => a + b, 0);
      return resolvedResult(
        sorted,
        { data: m.text, deleted: false, hlc: maxHlc(sorted), origin: newestEntry(sorted).origin },
        [
          {
            field: '*',
            rule: this.name,
            winner,
            detail: `three-way text merge against ancestor ${anc!.id}: ${plural(hunks, 'hunk')} from ${plural(sorted.length, 'version')}, ${plural(m.overlaps, 'overlapping region')} (insertions kept in version order, deletions applied)`,
          },
        ],
        [`${this.name}: merged ${plural(sorted.length, 'concurrent edit')} against ancestor ${anc!.id} (${plural(m.overlaps, 'overlapping region')})`],
      );
    }
    if (sorted.every((v) => isPlainObject(v.data))) {
      const r = mergeFieldwise(sorted, ancData, ctx, 'last_write_wins');
      return resolvedResult(sorted, { data: r.data, deleted: false, hlc: r.hlc, origin: r.origin }, r.fieldDecisions, [
        `${this.name}: merged field by field; text fields named operational_transform merged against the ancestor, others by their rule or last-write-wins`,
        ...r.notes,
      ]);
    }
    return resolveByLww(sorted, this.name, 'the values are neither texts nor objects');
  }
}
