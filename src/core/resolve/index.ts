/**
 * Resolution strategies: the eight strategies of the spec behind one {@link Strategy} contract
 * (types.ts), a registry by name, the semantic rule registry, and the pure helpers the replica uses to
 * fulfil deferred decisions.
 *
 * Automatic strategies (`automatic: true`) are pure functions of the unordered set of conflicting
 * versions: sorted first, clock = join of the inputs' clocks (no increment), no wall clock, no
 * randomness, so every node computes the same bytes. The others defer (`manual`, `consensus`,
 * `rollback`) and the replica ends the conflict with one `dominatingVersion`.
 */
import { AutomaticRollbackStrategy } from './automatic-rollback.js';
import { ConsensusVoteStrategy } from './consensus-vote.js';
import { UnknownStrategyError } from './errors.js';
import { HighestPriorityStrategy } from './highest-priority.js';
import { LastWriteWinsStrategy } from './last-write-wins.js';
import { ManualInterventionStrategy } from './manual-intervention.js';
import { MultiValueRegisterStrategy } from './multi-value-register.js';
import { OperationalTransformStrategy } from './operational-transform.js';
import { SemanticMergeStrategy } from './semantic-merge.js';
import { SemanticRuleRegistry } from './semantic-rules.js';
import { STRATEGIES, isStrategyName, type ResolutionContext, type Strategy, type StrategyName } from './types.js';

export { AutomaticRollbackStrategy } from './automatic-rollback.js';
export { ConsensusVoteStrategy, dominatingVersion } from './consensus-vote.js';
export { ResolutionError, SemanticRuleFailedError, UnknownSemanticRuleError, UnknownStrategyError } from './errors.js';
export { HighestPriorityStrategy, compareByPriority } from './highest-priority.js';
export { LastWriteWinsStrategy, compareLww, skewAmbiguity } from './last-write-wins.js';
export { ManualInterventionStrategy } from './manual-intervention.js';
export { MultiValueRegisterStrategy } from './multi-value-register.js';
export { OperationalTransformStrategy } from './operational-transform.js';
export { SemanticMergeStrategy, type SemanticMergeInit } from './semantic-merge.js';
export {
  SemanticRuleRegistry,
  VM_CONFIG_RULE,
  defineVersionRule,
  semanticRuleNameFor,
  versionRuleOf,
  vmConfigRule,
  type RuleOutcome,
  type VersionRule,
} from './semantic-rules.js';
export { diffText, applyHunks, type TextHunk } from './text-diff.js';
export { mergeText, type TextMergeResult } from './text-merge.js';

const FACTORIES: Readonly<Record<StrategyName, () => Strategy>> = {
  last_write_wins: () => new LastWriteWinsStrategy(),
  multi_value_register: () => new MultiValueRegisterStrategy(),
  operational_transform: () => new OperationalTransformStrategy(),
  semantic_merge: () => new SemanticMergeStrategy(),
  automatic_rollback: () => new AutomaticRollbackStrategy(),
  manual_intervention: () => new ManualInterventionStrategy(),
  consensus_vote: () => new ConsensusVoteStrategy(),
  highest_priority: () => new HighestPriorityStrategy(),
};

/** A new strategy by name; {@link UnknownStrategyError} for a name that is not one of `STRATEGIES`. */
export function createStrategy(name: string): Strategy {
  if (!isStrategyName(name)) {
    throw new UnknownStrategyError(`unknown strategy ${JSON.stringify(name)}: expected one of ${STRATEGIES.join(', ')}`, {
      strategy: name,
      expected: [...STRATEGIES],
    });
  }
  return FACTORIES[name]();
}

/** One shared, stateless instance of every strategy, by name. */
export const strategies: Readonly<Record<StrategyName, Strategy>> = Object.freeze(
  Object.fromEntries(STRATEGIES.map((n) => [n, createStrategy(n)])) as Record<StrategyName, Strategy>,
);

/** Look a strategy up (the policy engine's `StrategyLookup`); `undefined` for an unknown name. */
export function strategyFor(name: string): Strategy | undefined {
  return isStrategyName(name) ? strategies[name] : undefined;
}

/**
 * A complete context from a partial one. Defaults: no skew window (`maxClockSkewMs: 0`), skew action
 * `siblings`, no priorities, no field strategies, no ancestor, no last known good, and a
 * {@link SemanticRuleRegistry} with the built-in rules.
 */
export function createResolutionContext(init: Partial<ResolutionContext> = {}): ResolutionContext {
  return {
    maxClockSkewMs: init.maxClockSkewMs ?? 0,
    skewAction: init.skewAction ?? 'siblings',
    nodePriorities: init.nodePriorities ?? {},
    fieldStrategies: init.fieldStrategies ?? {},
    ancestor: init.ancestor,
    lastKnownGood: init.lastKnownGood,
    semanticRules: init.semanticRules ?? new SemanticRuleRegistry(),
  };
}
