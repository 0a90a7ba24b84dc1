import type { Conflict, ConflictType, Severity } from '../conflict/types.js';
import type { SkewAction, StrategyName } from '../resolve/types.js';

/**
 * A condition on a conflict, as plain data, so that a policy serialises to YAML and back unchanged.
 * Exactly one key per node (the YAML form is the same object):
 *
 * - `{all: [p, ...]}` / `{any: [p, ...]}` / `{not: p}`: conjunction, disjunction, negation;
 * - `{type: t}`: the conflict's type is `t`; `{severity: s}`: its severity is exactly `s`;
 * - `{severityAtLeast: s}`: its severity ranks at least `s` (low < medium < high < critical);
 * - `{complexityBelow: x}`: its complexity is strictly below `x`;
 * - `{field: f}`: the conflict touches field `f` (`Conflict.fields` lists `f`, or a nested path under
 *   it such as `f.x` or `f[0]`);
 * - `{custom: name}`: a named predicate function supplied in code (builder or engine dependencies);
 *   the only kind of predicate that can throw (recorded as `rule_error`).
 */
export type Predicate =
  | { readonly all: readonly Predicate[] }
  | { readonly any: readonly Predicate[] }
  | { readonly not: Predicate }
  | { readonly type: ConflictType }
  | { readonly severity: Severity }
  | { readonly severityAtLeast: Severity }
  | { readonly complexityBelow: number }
  | { readonly field: string }
  | { readonly custom: string };

/** The keys a predicate node may have (exactly one of them). */
export const PREDICATE_KINDS = [
  'all',
  'any',
  'not',
  'type',
  'severity',
  'severityAtLeast',
  'complexityBelow',
  'field',
  'custom',
] as const;
export type PredicateKind = (typeof PREDICATE_KINDS)[number];

/** A predicate written in code (the spec's `func(c *Conflict) bool`); referenced from data as `{custom: name}`. */
export type PredicateFn = (conflict: Conflict) => boolean;

/** What an escalation does when its predicate matches. */
export const ESCALATION_ACTIONS = ['rollback', 'manual'] as const;
export type EscalationAction = (typeof ESCALATION_ACTIONS)[number];

/** The strategy an escalation action runs. */
export const ESCALATION_STRATEGY: Readonly<Record<EscalationAction, StrategyName>> = Object.freeze({
  rollback: 'automatic_rollback',
  manual: 'manual_intervention',
});

/** "If the predicate matches, use this strategy" (the spec's `WithRule`). */
export interface PolicyRule {
  readonly name: string;
  readonly predicate: Predicate;
  readonly strategy: StrategyName;
  readonly priority: number;
}

/** "If the predicate matches, escalate" (the spec's `WithEscalation`): a rule whose action is rollback or manual. */
export interface PolicyEscalation {
  readonly name: string;
  readonly predicate: Predicate;
  readonly action: EscalationAction;
  readonly priority: number;
}

/**
 * A validated, immutable resolution policy (deeply frozen). Everything except `customPredicates` is plain
 * data and round-trips through YAML (`serializePolicy` / `parsePolicy`).
 */
export interface Policy {
  readonly name: string;
  readonly defaultStrategy: StrategyName;
  /** Field → strategy (e.g. `power_state: highest_priority`), handed to strategies as `ctx.fieldStrategies`. */
  readonly fieldStrategies: Readonly<Record<string, StrategyName>>;
  /** In declaration order; the engine evaluates them by priority (see engine.ts). */
  readonly rules: readonly PolicyRule[];
  readonly escalations: readonly PolicyEscalation[];
  /** A strategy failing with a DwcpError is retried this many times before the fallback runs. */
  readonly maxRetries: number;
  /** Conflicts with complexity strictly above this go to manual intervention. In [0, 1]. */
  readonly manualThreshold: number;
  /** A conflict older than this (now − detectedAt) is resolved by the fallback strategy. */
  readonly timeoutMs: number;
  readonly fallback: StrategyName;
  /** LWW cannot order timestamps closer than this; 0 disables the window. */
  readonly maxClockSkewMs: number;
  readonly skewAction: SkewAction;
  /** Functions behind `{custom: name}` predicates given to the builder or parser. Not serialised. */
  readonly customPredicates: Readonly<Record<string, PredicateFn>>;
}

/** Defaults for everything a policy does not set; the same as the spec's Go builder. */
export const POLICY_DEFAULTS: Readonly<{
  defaultStrategy: StrategyName;
  maxRetries: number;
  manualThreshold: number;
  timeoutMs: number;
  fallback: StrategyName;
  maxClockSkewMs: number;
  skewAction: SkewAction;
}> = Object.freeze({
  defaultStrategy: 'last_write_wins',
  maxRetries: 3,
  manualThreshold: 0.7,
  timeoutMs: 30_000,
  fallback: 'last_write_wins',
  maxClockSkewMs: 0,
  skewAction: 'siblings',
});

/** Upper bound on `maxRetries` (pure strategies fail the same way every time; more is pointless). */
export const MAX_RETRIES_LIMIT = 100;
