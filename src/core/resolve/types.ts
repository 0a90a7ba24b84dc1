import type { Hlc } from '../clock/hlc.js';
import type { Conflict, ConflictType, Severity } from '../conflict/types.js';
import type { Version } from '../conflict/version.js';

export const STRATEGIES = [
  'last_write_wins',
  'multi_value_register',
  'operational_transform',
  'semantic_merge',
  'automatic_rollback',
  'manual_intervention',
  'consensus_vote',
  'highest_priority',
] as const;
export type StrategyName = (typeof STRATEGIES)[number];

export function isStrategyName(s: unknown): s is StrategyName {
  return typeof s === 'string' && (STRATEGIES as readonly string[]).includes(s);
}

/** A named, pure merge rule for semantic merge: (values of the conflicting versions, ancestor) → merged value. */
export type SemanticRule = (values: readonly unknown[], ancestor: unknown) => unknown;

/** What LWW does when two timestamps are closer than `maxClockSkewMs`: keep siblings or escalate. */
export type SkewAction = 'siblings' | 'escalate';

/**
 * Everything a strategy may use besides the conflict itself. All of it is plain data supplied by the
 * caller (the policy engine / replica); strategies read no clock, no randomness, no node-local state,
 * so every node that sees the same conflict computes the same bytes.
 */
export interface ResolutionContext {
  /** LWW: timestamps closer than this (ms) cannot be ordered reliably. */
  readonly maxClockSkewMs: number;
  readonly skewAction: SkewAction;
  /** highest_priority / power_state: configured node priorities (missing = 0); ties by node id. */
  readonly nodePriorities: Readonly<Record<string, number>>;
  /** Per-field strategies from the policy (e.g. `document_content: operational_transform`). */
  readonly fieldStrategies: Readonly<Record<string, StrategyName>>;
  /** The common ancestor of the conflicting versions, when the version history has it. */
  readonly ancestor?: Version | undefined;
  /** The newest version known to satisfy the invariants (for automatic rollback). */
  readonly lastKnownGood?: Version | undefined;
  /** Named semantic merge rules (VM configuration rules are registered by default). */
  readonly semanticRules: SemanticRuleRegistryView;
}

export interface SemanticRuleRegistryView {
  get(name: string): SemanticRule | undefined;
  names(): string[];
}

/** How one field was decided (VM field rules, field strategies). */
export interface FieldDecision {
  readonly field: string;
  /** The rule or strategy applied, e.g. `maximum`, `power_state_priority`, `last_write_wins`. */
  readonly rule: string;
  /** The version id whose value won, or `merged` when the value is a combination. */
  readonly winner: string;
  readonly detail: string;
}

/** The outcome of one strategy on one conflict. */
export type StrategyResult =
  /** One version that replaces all candidates (automatic strategies: clock = join of the inputs' clocks). */
  | {
      readonly outcome: 'resolved';
      readonly version: Version;
      readonly discarded: readonly Version[];
      readonly fieldDecisions: readonly FieldDecision[];
      readonly notes: readonly string[];
    }
  /** Keep every candidate as a sibling (multi-value register, or LWW inside the skew window). */
  | { readonly outcome: 'siblings'; readonly versions: readonly Version[]; readonly notes: readonly string[] }
  /**
   * Cannot be decided purely: a person (manual), a quorum (consensus) or a rollback decision must pick.
   * `rollbackTarget` is set for rollback when a last known good version exists.
   */
  | {
      readonly outcome: 'deferred';
      readonly to: 'manual' | 'consensus' | 'rollback';
      readonly reason: string;
      readonly candidates: readonly Version[];
      readonly rollbackTarget?: Version | undefined;
      readonly notes: readonly string[];
    };

export interface Strategy {
  readonly name: StrategyName;
  /** True for strategies that are pure functions of the unordered set of versions. */
  readonly automatic: boolean;
  resolve(conflict: Conflict, ctx: ResolutionContext): StrategyResult;
}

/**
 * The consensus-vote strategy's contract with the replica: a quorum decision (single-decree Paxos
 * keyed by the conflict id) that picks exactly one candidate, the same on every node.
 */
export interface ConsensusVoter {
  decide(
    request: { readonly conflictId: string; readonly resourceId: string; readonly candidates: readonly Version[] },
    options?: { readonly signal?: AbortSignal },
  ): Promise<{ readonly winnerId: string; readonly ballot: string; readonly voters: readonly string[] }>;
}

/** One step of the policy path, in the order taken. */
export interface PolicyStep {
  /** e.g. `severity_critical`, `invariant_violation`, `complexity_threshold`, `escalation`, `rule`, `default`, `field_strategy`, `retry`, `fallback`, `timeout`, `rule_error` */
  readonly step: string;
  readonly matched: boolean;
  readonly detail: string;
}

export interface VersionSummary {
  readonly versionId: string;
  readonly clock: Record<string, number>;
  readonly hlc: Hlc;
  readonly origin: string;
  readonly digest: string;
  readonly deleted: boolean;
}

export type DecisionOutcome = 'resolved' | 'siblings' | 'pending_manual' | 'pending_consensus' | 'rollback' | 'failed';

/**
 * Why a conflict was resolved the way it was: plain, serializable data, written to the audit log and
 * printed by `dwcp conflicts show`.
 */
export interface DecisionRecord {
  readonly conflictId: string;
  readonly resourceId: string;
  readonly inputs: readonly VersionSummary[];
  /** How the inputs were ordered, in words (e.g. "by (hlc, node id): a < b"). */
  readonly ordering: string;
  readonly type: ConflictType;
  readonly severity: Severity;
  readonly complexity: number;
  readonly reasons: readonly string[];
  readonly policy: string;
  readonly path: readonly PolicyStep[];
  readonly strategy: StrategyName;
  readonly fieldDecisions: readonly FieldDecision[];
  readonly outcome: DecisionOutcome;
  /** The resulting version (resolved / rollback) or the kept siblings. */
  readonly result: readonly VersionSummary[];
  readonly discarded: readonly { readonly versionId: string; readonly reason: string }[];
  readonly notes: readonly string[];
  /** Filled in by the replica for quorum decisions. */
  readonly ballot?: string;
  readonly decidedAt: number;
}
