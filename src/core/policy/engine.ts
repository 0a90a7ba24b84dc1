/**
 * The policy engine: picks a strategy for a conflict by the spec's decision tree, runs it (with
 * retries, timeout and fallback) and writes down every step it took in a {@link DecisionRecord}.
 *
 * ## The decision tree (spec, "Policy Decision Tree"), step by step
 *
 * 1. `severity_critical` — severity is `critical` → automatic rollback (`automatic_rollback`).
 * 2. `invariant_violation` — type is `invariant_violation` → manual intervention (`manual_intervention`).
 * 3. `complexity_threshold` — complexity strictly above `policy.manualThreshold` → manual intervention.
 * 4. `escalation` / `rule` — the policy's escalations and rules in one list, highest priority first,
 *    ties by name (code-unit order); the first whose predicate matches decides: an escalation's
 *    action (`rollback` → `automatic_rollback`, `manual` → `manual_intervention`) or a rule's strategy.
 * 5. `default` — nothing matched → `policy.defaultStrategy`.
 *
 * Each built-in check (1–3) is recorded whether it matched or not; each escalation and rule evaluated in
 * step 4 is recorded (matched or not) up to the first match.
 *
 * ## How explicit escalations compose with the built-in steps 1–3
 *
 * When a built-in step matches, the policy's escalations (only escalations, never ordinary rules) are
 * consulted before the built-in action is taken, highest priority first, ties by name. The first
 * escalation whose predicate matches decides instead of the built-in action, and is recorded as an
 * `escalation` step right after the built-in step; if none matches, the built-in action stands. So the
 * spec's production policy, whose escalation `critical_conflicts` (critical OR invariant_violation →
 * manual, priority 100) matches every critical conflict, sends critical conflicts to an operator
 * (path: `severity_critical` ✓, `escalation critical_conflicts` ✓ → `manual_intervention`), while the
 * development policy, which has no escalation, rolls them back automatically. A policy may likewise
 * turn the built-in manual of step 2 into a rollback (the spec's `critical_safety` example).
 * Rationale: an escalation is the policy's explicit, safety-only statement of how to escalate; an
 * ordinary rule may name an automatic strategy, and steps 1–3 exist precisely to keep critical,
 * invariant-violating and complex conflicts away from automatic merging, so rules never override them.
 *
 * ## Field strategies, timeout, retries, fallback, rule errors
 *
 * - `field_strategy`: one step per policy field strategy whose field the conflict touches, recorded
 *   after the tree when the choice merges values (not for manual, rollback or consensus, which pick a
 *   whole candidate); all field strategies reach every strategy as `ctx.fieldStrategies`.
 * - `timeout`: core reads no clock; the caller passes `now`. A conflict whose age (`now − detectedAt`)
 *   exceeds `policy.timeoutMs` is resolved by the fallback instead of the chosen strategy — unless the
 *   choice is `manual_intervention` or `automatic_rollback`: a timeout never turns a decision reserved
 *   for an operator or a rollback into an automatic merge.
 * - `retry`: a strategy that throws a {@link DwcpError} is run again, up to `policy.maxRetries` more
 *   times (one `retry` step each); when they are used up, the fallback runs once (`fallback` step).
 *   Anything else thrown (a bug, or no strategy registered under the name) is a `strategy_error` step
 *   and goes to the fallback without retrying. If the fallback is the strategy that just failed, or
 *   fails too, the outcome is `failed`: the result defers to manual intervention, nothing is merged.
 * - `rule_error`: a rule or escalation predicate that throws (only `{custom}` predicates can) never
 *   crashes resolution. In step 4 it is recorded and the fallback strategy decides (the policy's intent
 *   for this conflict cannot be known). While consulting escalations after a built-in step it is
 *   recorded and skipped: the built-in safety action still stands.
 *
 * Everything is a pure function of (policy, conflict, context): the same inputs give the same record
 * on every node.
 */
import type { Conflict } from '../conflict/types.js';
import { DwcpError } from '../errors.js';
import { SemanticRuleRegistry, strategyFor } from '../resolve/index.js';
import type {
  DecisionRecord,
  PolicyStep,
  ResolutionContext,
  SemanticRuleRegistryView,
  Strategy,
  StrategyName,
  StrategyResult,
} from '../resolve/types.js';
import type { Version } from '../conflict/version.js';
import { buildDecisionRecord } from './decision-record.js';
import { compilePredicate, describePredicate, touchesField } from './predicates.js';
import { ESCALATION_STRATEGY, type Policy, type PredicateFn } from './types.js';

/** Finds the strategy implementation for a name; `undefined` (or a throw) when there is none. */
export type StrategyLookup = (name: StrategyName) => Strategy | undefined;

/** Live collaborators of the engine. */
export interface PolicyEngineDeps {
  /** Strategy implementations by name; default: the eight strategies of src/core/resolve. */
  readonly strategies: StrategyLookup;
  /**
   * Semantic merge rules handed to strategies (a decision's context may override them); default: a
   * registry with the built-in rules (`vm_config`, the VM field rules).
   */
  readonly semanticRules?: SemanticRuleRegistryView | undefined;
}

type DefaultDeps = { readonly strategies: StrategyLookup; readonly semanticRules: SemanticRuleRegistryView };
let defaults: DefaultDeps | undefined;

function builtins(): DefaultDeps {
  defaults ??= Object.freeze({ strategies: strategyFor, semanticRules: new SemanticRuleRegistry() });
  return defaults;
}

/** The real strategies (src/core/resolve) and the built-in semantic rules, created once. */
export function defaultPolicyEngineDeps(): PolicyEngineDeps {
  return builtins();
}

/** Per-decision inputs supplied by the caller (the replica). */
export interface DecideContext {
  /** The caller's clock, ms since the epoch: `decidedAt`, and the reference for the timeout. */
  readonly now: number;
  readonly nodePriorities?: Readonly<Record<string, number>> | undefined;
  readonly ancestor?: Version | undefined;
  readonly lastKnownGood?: Version | undefined;
  readonly semanticRules?: SemanticRuleRegistryView | undefined;
}

export interface Decision {
  readonly result: StrategyResult;
  readonly record: DecisionRecord;
}

/** How the decision tree chose (before running anything). */
export interface Selection {
  readonly strategy: StrategyName;
  readonly by: 'severity_critical' | 'invariant_violation' | 'complexity_threshold' | 'escalation' | 'rule' | 'default' | 'rule_error';
  /** The escalation or rule that decided (or threw). */
  readonly rule?: string | undefined;
  readonly path: readonly PolicyStep[];
}

/** Anything that can hand out the current policy (a {@link PolicyManager} is one). */
export interface PolicySource {
  active(): Policy;
}

const EMPTY_RECORD: Readonly<Record<string, number>> = Object.freeze({});
/** Choices a timeout never replaces with an automatic merge. */
const SAFETY_STRATEGIES: ReadonlySet<StrategyName> = new Set<StrategyName>(['manual_intervention', 'automatic_rollback']);
/** Choices that pick one whole candidate (or none yet): field strategies do not apply to them. */
const DEFERRING_STRATEGIES: ReadonlySet<StrategyName> = new Set<StrategyName>([...SAFETY_STRATEGIES, 'consensus_vote']);

interface CompiledEntry {
  readonly kind: 'escalation' | 'rule';
  readonly name: string;
  readonly priority: number;
  readonly strategy: StrategyName;
  readonly test: PredicateFn;
  /** `name (priority P): predicate` */
  readonly label: string;
}

interface CompiledPolicy {
  readonly ordered: readonly CompiledEntry[];
  readonly escalations: readonly CompiledEntry[];
  readonly fields: readonly (readonly [string, StrategyName])[];
}

const compiledCache = new WeakMap<Policy, CompiledPolicy>();

function byPriority(a: CompiledEntry, b: CompiledEntry): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return a.kind === b.kind ? 0 : a.kind === 'escalation' ? -1 : 1;
}

/** Policies are immutable, so their compiled form (closures, sorted rule list) is computed once. */
function compile(policy: Policy): CompiledPolicy {
  const hit = compiledCache.get(policy);
  if (hit) return hit;
  const lookup = (name: string): PredicateFn | undefined =>
    Object.hasOwn(policy.customPredicates, name) ? policy.customPredicates[name] : undefined;
  const entries: CompiledEntry[] = [
    ...policy.escalations.map((e) => ({
      kind: 'escalation' as const,
      name: e.name,
      priority: e.priority,
      strategy: ESCALATION_STRATEGY[e.action],
      test: compilePredicate(e.predicate, lookup),
      label: `${e.name} (priority ${e.priority}): ${describePredicate(e.predicate)}`,
    })),
    ...policy.rules.map((r) => ({
      kind: 'rule' as const,
      name: r.name,
      priority: r.priority,
      strategy: r.strategy,
      test: compilePredicate(r.predicate, lookup),
      label: `${r.name} (priority ${r.priority}): ${describePredicate(r.predicate)}`,
    })),
  ].sort(byPriority);
  const compiled: CompiledPolicy = {
    ordered: entries,
    escalations: entries.filter((e) => e.kind === 'escalation'),
    fields: Object.entries(policy.fieldStrategies),
  };
  compiledCache.set(policy, compiled);
  return compiled;
}

function errorText(err: unknown): string {
  if (err instanceof DwcpError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

/**
 * A built-in step (1–3) matched: the policy's escalations are consulted first, highest priority first;
 * the first that matches decides instead of the built-in `strategy` (see the module comment).
 */
function builtin(
  compiled: CompiledPolicy,
  conflict: Conflict,
  path: PolicyStep[],
  by: Selection['by'],
  strategy: StrategyName,
): Selection {
  for (const e of compiled.escalations) {
    let matched: boolean;
    try {
      matched = e.test(conflict);
    } catch (err) {
      path.push({
        step: 'rule_error',
        matched: true,
        detail: `escalation ${e.name} threw (${errorText(err)}); skipped, the built-in ${strategy} still stands`,
      });
      continue;
    }
    if (matched) {
      path.push({ step: 'escalation', matched: true, detail: `${e.label} → ${e.strategy} (overrides built-in ${strategy})` });
      return { strategy: e.strategy, by: 'escalation', rule: e.name, path };
    }
    path.push({ step: 'escalation', matched: false, detail: e.label });
  }
  return { strategy, by, path };
}

/**
 * Run the decision tree only (steps 1–5), without running a strategy: which strategy the policy picks
 * for this conflict, and the path to it. Never throws for a throwing predicate (see `rule_error`).
 */
export function selectStrategy(policy: Policy, conflict: Conflict): Selection {
  const compiled = compile(policy);
  const path: PolicyStep[] = [];

  // (1) Severity = Critical? → automatic rollback
  if (conflict.severity === 'critical') {
    path.push({
      step: 'severity_critical',
      matched: true,
      detail: 'severity is critical → automatic_rollback (built-in; a matching policy escalation takes precedence)',
    });
    return builtin(compiled, conflict, path, 'severity_critical', 'automatic_rollback');
  }
  path.push({ step: 'severity_critical', matched: false, detail: `severity is ${conflict.severity}` });

  // (2) Type = Invariant Violation? → manual
  if (conflict.type === 'invariant_violation') {
    path.push({
      step: 'invariant_violation',
      matched: true,
      detail: 'type is invariant_violation → manual_intervention (built-in; a matching policy escalation takes precedence)',
    });
    return builtin(compiled, conflict, path, 'invariant_violation', 'manual_intervention');
  }
  path.push({ step: 'invariant_violation', matched: false, detail: `type is ${conflict.type}` });

  // (3) Complexity > Threshold? → manual
  if (conflict.complexity > policy.manualThreshold) {
    path.push({
      step: 'complexity_threshold',
      matched: true,
      detail: `complexity ${conflict.complexity} > threshold ${policy.manualThreshold} → manual_intervention (built-in; a matching policy escalation takes precedence)`,
    });
    return builtin(compiled, conflict, path, 'complexity_threshold', 'manual_intervention');
  }
  path.push({
    step: 'complexity_threshold',
    matched: false,
    detail: `complexity ${conflict.complexity} <= threshold ${policy.manualThreshold}`,
  });

  // (4) Escalations and custom rules, by priority
  for (const e of compiled.ordered) {
    let matched: boolean;
    try {
      matched = e.test(conflict);
    } catch (err) {
      path.push({
        step: 'rule_error',
        matched: true,
        detail: `${e.kind} ${e.name} threw (${errorText(err)}) → fallback ${policy.fallback}`,
      });
      return { strategy: policy.fallback, by: 'rule_error', rule: e.name, path };
    }
    if (matched) {
      path.push({ step: e.kind, matched: true, detail: `${e.label} → ${e.strategy}` });
      return { strategy: e.strategy, by: e.kind, rule: e.name, path };
    }
    path.push({ step: e.kind, matched: false, detail: e.label });
  }

  // (5) Default strategy
  path.push({ step: 'default', matched: true, detail: `no rule matched → default strategy ${policy.defaultStrategy}` });
  return { strategy: policy.defaultStrategy, by: 'default', path };
}

type Attempt = { ok: true; result: StrategyResult } | { ok: false; error: unknown; retryable: boolean };

/** One decision in progress: its inputs, the strategy context, and the path and notes so far. */
interface Run {
  readonly policy: Policy;
  readonly conflict: Conflict;
  readonly now: number;
  readonly deps: PolicyEngineDeps;
  readonly rctx: ResolutionContext;
  readonly path: PolicyStep[];
  readonly notes: string[];
}

function attempt(run: Run, name: StrategyName): Attempt {
  let strategy: Strategy | undefined;
  try {
    strategy = run.deps.strategies(name);
  } catch (error) {
    return { ok: false, error, retryable: false };
  }
  if (!strategy) return { ok: false, error: new Error(`no strategy registered under ${name}`), retryable: false };
  try {
    return { ok: true, result: strategy.resolve(run.conflict, run.rctx) };
  } catch (error) {
    return { ok: false, error, retryable: error instanceof DwcpError };
  }
}

function done(run: Run, strategy: StrategyName, result: StrategyResult, failed = false): Decision {
  const { policy, conflict, path, notes } = run;
  return {
    result,
    record: buildDecisionRecord({ policy, conflict, path, strategy, result, failed, notes, decidedAt: run.now }),
  };
}

function fail(run: Run, strategy: StrategyName, why: string): Decision {
  run.notes.push(`automatic resolution failed: ${why}`);
  return done(
    run,
    strategy,
    {
      outcome: 'deferred',
      to: 'manual',
      reason: `automatic resolution failed (${why}); an operator must pick`,
      candidates: run.conflict.versions,
      notes: [],
    },
    true,
  );
}

/** Run the fallback once; `failed` names the strategy that just failed, if any. */
function fallback(run: Run, reason: string, failed?: StrategyName): Decision {
  const fb = run.policy.fallback;
  if (fb === failed) {
    run.path.push({ step: 'fallback', matched: false, detail: `${reason}; the fallback ${fb} is the strategy that failed, not run again` });
    return fail(run, fb, reason);
  }
  run.path.push({ step: 'fallback', matched: true, detail: `${reason} → fallback ${fb}` });
  const r = attempt(run, fb);
  if (r.ok) return done(run, fb, r.result);
  run.path.push({ step: 'strategy_error', matched: true, detail: `fallback ${fb} failed (${errorText(r.error)})` });
  return fail(run, fb, `${reason}; fallback ${fb} failed too (${errorText(r.error)})`);
}

/**
 * Decide a conflict under a policy: the decision tree, field strategies, timeout, retries and fallback,
 * and the full decision record. Never throws for a failing strategy or predicate: failures are steps
 * in the record and, if nothing succeeds, the `failed` outcome.
 */
export function resolveConflict(
  policy: Policy,
  conflict: Conflict,
  ctx: DecideContext,
  deps: PolicyEngineDeps = defaultPolicyEngineDeps(),
): Decision {
  const selection = selectStrategy(policy, conflict);
  const path = selection.path as PolicyStep[];
  const notes: string[] = [];

  if (!DEFERRING_STRATEGIES.has(selection.strategy)) {
    for (const [f, s] of compile(policy).fields) {
      if (touchesField(conflict.fields, f)) path.push({ step: 'field_strategy', matched: true, detail: `${f} → ${s}` });
    }
  }

  const rctx: ResolutionContext = {
    maxClockSkewMs: policy.maxClockSkewMs,
    skewAction: policy.skewAction,
    nodePriorities: ctx.nodePriorities ?? EMPTY_RECORD,
    fieldStrategies: policy.fieldStrategies,
    ancestor: ctx.ancestor,
    lastKnownGood: ctx.lastKnownGood,
    semanticRules: ctx.semanticRules ?? deps.semanticRules ?? builtins().semanticRules,
  };
  const run: Run = { policy, conflict, now: ctx.now, deps, rctx, path, notes };

  if (selection.by === 'rule_error') return fallback(run, `rule error in ${selection.rule ?? '?'}`);

  const chosen = selection.strategy;
  const age = ctx.now - conflict.detectedAt;
  if (age > policy.timeoutMs && !SAFETY_STRATEGIES.has(chosen)) {
    path.push({
      step: 'timeout',
      matched: true,
      detail: `conflict is ${age} ms old, over the policy timeout of ${policy.timeoutMs} ms; ${chosen} not run`,
    });
    return fallback(run, 'timeout');
  }

  const attempts = policy.maxRetries + 1;
  for (let i = 1; ; i++) {
    const r = attempt(run, chosen);
    if (r.ok) return done(run, chosen, r.result);
    if (!r.retryable) {
      path.push({ step: 'strategy_error', matched: true, detail: `${chosen} failed (${errorText(r.error)}); not retried` });
      return fallback(run, `${chosen} failed`, chosen);
    }
    if (i >= attempts) return fallback(run, `${chosen} failed ${attempts} time(s), last: ${errorText(r.error)}`, chosen);
    path.push({
      step: 'retry',
      matched: true,
      detail: `attempt ${i} of ${attempts} of ${chosen} failed (${errorText(r.error)}); retrying`,
    });
  }
}

/**
 * The engine bound to a policy (or to a {@link PolicySource} such as the {@link PolicyManager}, so a
 * policy swapped at run time applies to the next decision) and to its strategy registry.
 */
export class PolicyEngine {
  private readonly source: Policy | PolicySource;
  readonly deps: PolicyEngineDeps;

  constructor(policy: Policy | PolicySource, deps: PolicyEngineDeps = defaultPolicyEngineDeps()) {
    this.source = policy;
    this.deps = deps;
  }

  /** The policy the next decision uses. */
  get policy(): Policy {
    const s = this.source;
    return 'active' in s && typeof s.active === 'function' ? s.active() : (s as Policy);
  }

  /** Decide and run: see {@link resolveConflict}. */
  decide(conflict: Conflict, ctx: DecideContext): Decision {
    return resolveConflict(this.policy, conflict, ctx, this.deps);
  }

  /** The decision tree only, nothing run: see {@link selectStrategy}. */
  select(conflict: Conflict): Selection {
    return selectStrategy(this.policy, conflict);
  }
}
