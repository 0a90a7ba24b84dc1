import { resolveConflict, type PolicyEngineDeps } from '../core/policy/engine.js';
import type { Policy } from '../core/policy/types.js';
import { SemanticRuleRegistry, strategyFor } from '../core/resolve/index.js';
import type { Resolver } from './replica.js';

export interface ResolverInit {
  /** The active policy (read at every decision, so a policy swap takes effect at once). */
  readonly policy: () => Policy;
  readonly nodePriorities?: Readonly<Record<string, number>>;
  readonly deps?: Partial<PolicyEngineDeps>;
}

/** The replica's resolver: the policy engine's decision tree over the real strategies. */
export function createResolver(init: ResolverInit): Resolver {
  const deps: PolicyEngineDeps = {
    strategies: init.deps?.strategies ?? strategyFor,
    semanticRules: init.deps?.semanticRules ?? new SemanticRuleRegistry(),
  };
  return (conflict, input) =>
    resolveConflict(
      init.policy(),
      conflict,
      { now: input.now, ancestor: input.ancestor, lastKnownGood: input.lastKnownGood, nodePriorities: init.nodePriorities ?? {} },
      deps,
    );
}
