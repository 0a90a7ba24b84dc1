/**
 * Automatic rollback: back to the last known good state. Defers to `rollback` with
 * `rollbackTarget = ctx.lastKnownGood`; the replica writes one new version with the target's content
 * whose clock dominates every candidate (`dominatingVersion`). Without a last known good version there
 * is nothing to roll back to: it defers to manual intervention and says so.
 */
import type { Conflict } from '../conflict/types.js';
import { assertSameResource, plural, prepareVersions } from './common.js';
import type { ResolutionContext, Strategy, StrategyResult } from './types.js';

export class AutomaticRollbackStrategy implements Strategy {
  readonly name = 'automatic_rollback' as const;
  readonly automatic = false;

  resolve(conflict: Conflict, ctx: ResolutionContext): StrategyResult {
    const sorted = prepareVersions(conflict, this.name);
    const target = ctx.lastKnownGood;
    if (!target) {
      const reason = `no last known good version of ${conflict.resourceId} to roll back to; ${plural(sorted.length, 'candidate')} need an operator's decision`;
      return { outcome: 'deferred', to: 'manual', reason, candidates: sorted, notes: [`${this.name}: ${reason}`] };
    }
    assertSameResource(conflict.resourceId, target, this.name, 'last known good version');
    const reason = `rolling ${conflict.resourceId} back to the last known good version ${target.id}${target.deleted ? ' (a tombstone)' : ''}`;
    return { outcome: 'deferred', to: 'rollback', reason, candidates: sorted, rollbackTarget: target, notes: [`${this.name}: ${reason}`] };
  }
}
