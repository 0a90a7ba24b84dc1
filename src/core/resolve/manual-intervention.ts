/**
 * Manual intervention: an operator decides (`dwcp conflicts resolve ID --pick VERSION | --file F`). The
 * strategy defers to `manual` with every candidate; the replica writes the operator's choice as one new
 * version built by `dominatingVersion`.
 */
import type { Conflict } from '../conflict/types.js';
import { plural, prepareVersions } from './common.js';
import type { ResolutionContext, Strategy, StrategyResult } from './types.js';

export class ManualInterventionStrategy implements Strategy {
  readonly name = 'manual_intervention' as const;
  readonly automatic = false;

  resolve(conflict: Conflict, _ctx: ResolutionContext): StrategyResult {
    const sorted = prepareVersions(conflict, this.name);
    const why = conflict.reasons.length ? ` (${conflict.reasons.join('; ')})` : '';
    const reason = `${plural(sorted.length, 'concurrent version')} of ${conflict.resourceId} need an operator's decision${why}: dwcp conflicts resolve ${conflict.id} --pick VERSION_ID`;
    return { outcome: 'deferred', to: 'manual', reason, candidates: sorted, notes: [`${this.name}: ${reason}`] };
  }
}
