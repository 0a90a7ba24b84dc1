/**
 * Multi-value register: keep every concurrent version as a sibling; the application (or an operator)
 * merges them later. Siblings come sorted by version order, so every node keeps the same list. When
 * every version carries the same content there is nothing to keep apart: it resolves to that content
 * with the joined clock.
 */
import type { Conflict } from '../conflict/types.js';
import { plural, prepareVersions, sameContent, unanimousResult } from './common.js';
import type { ResolutionContext, Strategy, StrategyResult } from './types.js';

export class MultiValueRegisterStrategy implements Strategy {
  readonly name = 'multi_value_register' as const;
  readonly automatic = true;

  resolve(conflict: Conflict, _ctx: ResolutionContext): StrategyResult {
    const sorted = prepareVersions(conflict, this.name);
    if (sameContent(sorted)) return unanimousResult(sorted, this.name);
    return {
      outcome: 'siblings',
      versions: sorted,
      notes: [`${this.name}: keeping ${plural(sorted.length, 'concurrent version')} as siblings (${sorted.map((v) => v.id).join(', ')})`],
    };
  }
}
