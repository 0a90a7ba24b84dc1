/**
 * Consensus vote: cannot be decided by one node alone. The strategy defers to `consensus`; the replica
 * fulfils it with a quorum decision ({@link ConsensusVoter}: single-decree Paxos keyed by the conflict
 * id), which picks exactly one candidate, the same on every node, and then writes ONE new version built
 * by {@link dominatingVersion} from the winner's content.
 */
import type { Hlc } from '../clock/hlc.js';
import type { Conflict } from '../conflict/types.js';
import { createVersion, type Version } from '../conflict/version.js';
import { assertSameResource, joinClocks, plural, prepareVersions } from './common.js';
import { ResolutionError } from './errors.js';
import type { ResolutionContext, Strategy, StrategyResult } from './types.js';

export class ConsensusVoteStrategy implements Strategy {
  readonly name = 'consensus_vote' as const;
  readonly automatic = false;

  resolve(conflict: Conflict, _ctx: ResolutionContext): StrategyResult {
    const sorted = prepareVersions(conflict, this.name);
    const reason = `a quorum decision must pick one of ${plural(sorted.length, 'candidate')} for ${conflict.resourceId} (consensus keyed by conflict ${conflict.id})`;
    return { outcome: 'deferred', to: 'consensus', reason, candidates: sorted, notes: [`${this.name}: ${reason}`] };
  }
}

/**
 * The one new version that ends a conflict decided by a person, a quorum or a rollback: `data` (or a
 * tombstone), origin `decider`, timestamp `hlc`, clock = join of the candidates' clocks incremented at
 * `decider`, so it dominates every candidate. Pure: every node given the same arguments builds the same
 * bytes, so the decider and hlc must come from the decision itself (e.g. the decided consensus value),
 * not from each node's own clock.
 */
export function dominatingVersion(
  candidates: readonly Version[],
  data: unknown,
  decider: string,
  hlc: Hlc,
  deleted = false,
): Version {
  const first = candidates[0];
  if (!first) {
    throw new ResolutionError('dominatingVersion: no candidates', { reason: 'no_versions' });
  }
  for (const c of candidates) assertSameResource(first.resourceId, c, 'dominatingVersion', 'candidate');
  return createVersion({
    resourceId: first.resourceId,
    clock: joinClocks(candidates).increment(decider),
    hlc,
    origin: decider,
    data: deleted ? null : data,
    deleted,
  });
}
