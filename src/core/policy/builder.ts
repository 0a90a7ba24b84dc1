/**
 * The spec's `NewPolicyBuilder(name).With...().Build()`, in TypeScript. The builder is immutable (each
 * `with*` returns a new builder, so a base policy can be branched), and `build()` runs the same
 * validator as policy files: an unknown strategy, a bad threshold or a malformed predicate throws a
 * {@link PolicyError} (code `ERR_POLICY`) whose `meta.path` names the offending setting, e.g.
 * `rules[0].strategy`.
 */
import type { SkewAction, StrategyName } from '../resolve/types.js';
import type { EscalationAction, Policy, Predicate, PredicateFn } from './types.js';
import { policyFromDocument } from './validate.js';

/** A predicate as data, or a function (the spec's `func(c *Conflict) bool`), registered as `{custom: <rule name>}`. */
export type PredicateInput = Predicate | PredicateFn;

interface Entry {
  readonly name: string;
  readonly predicate: Predicate;
  readonly priority: number;
}
interface RuleEntry extends Entry {
  readonly strategy: StrategyName;
}
interface EscalationEntry extends Entry {
  readonly action: EscalationAction;
}

interface Draft {
  readonly name: string;
  readonly defaultStrategy?: StrategyName;
  readonly fieldStrategies: readonly (readonly [string, StrategyName])[];
  readonly rules: readonly RuleEntry[];
  readonly escalations: readonly EscalationEntry[];
  readonly maxRetries?: number;
  readonly manualThreshold?: number;
  readonly timeout?: number | string;
  readonly fallback?: StrategyName;
  readonly maxClockSkew?: number | string;
  readonly skewAction?: SkewAction;
  readonly predicates: Readonly<Record<string, PredicateFn>>;
}

export class PolicyBuilder {
  private readonly draft: Draft;

  constructor(name: string, draft?: Draft) {
    this.draft = draft ?? { name, fieldStrategies: [], rules: [], escalations: [], predicates: {} };
  }

  /** A builder that starts from an existing policy (to derive a variant of it). */
  static from(policy: Policy): PolicyBuilder {
    return new PolicyBuilder(policy.name, {
      name: policy.name,
      defaultStrategy: policy.defaultStrategy,
      fieldStrategies: Object.entries(policy.fieldStrategies),
      rules: policy.rules,
      escalations: policy.escalations,
      maxRetries: policy.maxRetries,
      manualThreshold: policy.manualThreshold,
      timeout: policy.timeoutMs,
      fallback: policy.fallback,
      maxClockSkew: policy.maxClockSkewMs,
      skewAction: policy.skewAction,
      predicates: policy.customPredicates,
    });
  }

  private with(patch: Partial<Draft>): PolicyBuilder {
    return new PolicyBuilder(this.draft.name, { ...this.draft, ...patch });
  }

  private predicate(name: string, input: PredicateInput): { predicate: Predicate; predicates: Draft['predicates'] } {
    if (typeof input !== 'function') return { predicate: input, predicates: this.draft.predicates };
    return { predicate: { custom: name }, predicates: { ...this.draft.predicates, [name]: input } };
  }

  /** The strategy used when no built-in step and no rule decides. Default `last_write_wins`. */
  withDefaultStrategy(strategy: StrategyName): PolicyBuilder {
    return this.with({ defaultStrategy: strategy });
  }

  /** A strategy for one field, handed to strategies as `ctx.fieldStrategies` (a later call for the same field wins). */
  withFieldStrategy(field: string, strategy: StrategyName): PolicyBuilder {
    return this.with({ fieldStrategies: [...this.draft.fieldStrategies.filter(([f]) => f !== field), [field, strategy]] });
  }

  /** A custom rule: when `predicate` matches, use `strategy`. Higher priority is evaluated first; ties by name. */
  withRule(name: string, predicate: PredicateInput, strategy: StrategyName, priority: number): PolicyBuilder {
    const p = this.predicate(name, predicate);
    return this.with({ rules: [...this.draft.rules, { name, predicate: p.predicate, strategy, priority }], predicates: p.predicates });
  }

  /** An escalation: when `predicate` matches, roll back or go to manual intervention. */
  withEscalation(name: string, predicate: PredicateInput, action: EscalationAction, priority: number): PolicyBuilder {
    const p = this.predicate(name, predicate);
    return this.with({
      escalations: [...this.draft.escalations, { name, predicate: p.predicate, action, priority }],
      predicates: p.predicates,
    });
  }

  /** Register a named predicate function, usable as `custom(name)` in rules. */
  withPredicate(name: string, fn: PredicateFn): PolicyBuilder {
    return this.with({ predicates: { ...this.draft.predicates, [name]: fn } });
  }

  withMaxRetries(retries: number): PolicyBuilder {
    return this.with({ maxRetries: retries });
  }

  /** Complexity strictly above this goes to manual intervention. */
  withManualThreshold(threshold: number): PolicyBuilder {
    return this.with({ manualThreshold: threshold });
  }

  /** Milliseconds, or a duration string such as `30s`. */
  withTimeout(timeout: number | string): PolicyBuilder {
    return this.with({ timeout });
  }

  withFallback(strategy: StrategyName): PolicyBuilder {
    return this.with({ fallback: strategy });
  }

  /** Milliseconds, or a duration string such as `250ms`. */
  withMaxClockSkew(skew: number | string): PolicyBuilder {
    return this.with({ maxClockSkew: skew });
  }

  withSkewAction(action: SkewAction): PolicyBuilder {
    return this.with({ skewAction: action });
  }

  /** Validate and return the immutable policy. Throws {@link PolicyError} (code `ERR_POLICY`). */
  build(): Policy {
    const d = this.draft;
    const doc: Record<string, unknown> = { name: d.name };
    if (d.defaultStrategy !== undefined) doc.defaultStrategy = d.defaultStrategy;
    if (d.fieldStrategies.length > 0) doc.fieldStrategies = Object.fromEntries(d.fieldStrategies);
    if (d.rules.length > 0) doc.rules = d.rules;
    if (d.escalations.length > 0) doc.escalations = d.escalations;
    if (d.maxRetries !== undefined) doc.maxRetries = d.maxRetries;
    if (d.manualThreshold !== undefined) doc.manualThreshold = d.manualThreshold;
    if (d.timeout !== undefined) doc.timeout = d.timeout;
    if (d.fallback !== undefined) doc.fallback = d.fallback;
    if (d.maxClockSkew !== undefined) doc.maxClockSkew = d.maxClockSkew;
    if (d.skewAction !== undefined) doc.skewAction = d.skewAction;
    return policyFromDocument(doc, `PolicyBuilder(${JSON.stringify(d.name)})`, { customPredicates: d.predicates });
  }
}

