/**
 * Decision records: why a conflict was resolved the way it was, as plain serialisable data (audit log,
 * API), and {@link formatDecision}, the few lines `dwcp conflicts show` prints.
 */
import { formatHlc } from '../clock/hlc.js';
import type { Conflict } from '../conflict/types.js';
import type { Version } from '../conflict/version.js';
import { sortedCopy } from '../resolve/common.js';
import type {
  DecisionOutcome,
  DecisionRecord,
  PolicyStep,
  StrategyName,
  StrategyResult,
  VersionSummary,
} from '../resolve/types.js';
import type { Policy } from './types.js';

/** Version ids are shown shortened to this many characters in words (records keep them whole). */
export const SHORT_ID = 12;

export function shortId(id: string): string {
  return id.slice(0, SHORT_ID);
}

export function summarizeVersion(v: Version): VersionSummary {
  return {
    versionId: v.id,
    clock: v.clock.toJSON(),
    hlc: { wall: v.hlc.wall, logical: v.hlc.logical },
    origin: v.origin,
    digest: v.digest,
    deleted: v.deleted,
  };
}

/**
 * How the inputs relate, in words: their clocks (concurrent, or how many pairs are), then the
 * deterministic order `(hlc, node id)` that LWW and every tie-break use, e.g.
 * `clocks concurrent; by (hlc, node id): 3f2a9b1c0d4e (n1 @ 1732800000000.0001) < 9bc14f2e7a10 (n2 @ 1732800000000.0002)`.
 */
export function describeOrdering(versions: readonly Version[]): string {
  let clocks: string;
  if (versions.length === 2) {
    clocks = `clocks ${versions[0]!.clock.compare(versions[1]!.clock)}`;
  } else {
    let pairs = 0;
    let concurrent = 0;
    for (let i = 0; i < versions.length; i++) {
      for (let j = i + 1; j < versions.length; j++) {
        pairs++;
        if (versions[i]!.clock.compare(versions[j]!.clock) === 'concurrent') concurrent++;
      }
    }
    clocks = concurrent === pairs ? 'clocks pairwise concurrent' : `clocks concurrent in ${concurrent} of ${pairs} pairs`;
  }
  let order = '';
  for (const v of sortedCopy(versions, byHlcThenOrigin)) {
    order += `${order === '' ? '' : ' < '}${shortId(v.id)} (${v.origin} @ ${formatHlc(v.hlc)})`;
  }
  return `${clocks}; by (hlc, node id): ${order}`;
}

function byHlcThenOrigin(a: Version, b: Version): number {
  if (a.hlc.wall !== b.hlc.wall) return a.hlc.wall - b.hlc.wall;
  if (a.hlc.logical !== b.hlc.logical) return a.hlc.logical - b.hlc.logical;
  if (a.origin !== b.origin) return a.origin < b.origin ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The record's outcome for a strategy result. */
export function outcomeOf(result: StrategyResult, failed = false): DecisionOutcome {
  if (failed) return 'failed';
  switch (result.outcome) {
    case 'resolved':
      return 'resolved';
    case 'siblings':
      return 'siblings';
    case 'deferred':
      return result.to === 'manual' ? 'pending_manual' : result.to === 'consensus' ? 'pending_consensus' : 'rollback';
  }
}

export interface DecisionRecordInput {
  readonly policy: Policy;
  readonly conflict: Conflict;
  readonly path: readonly PolicyStep[];
  /** The strategy whose result is used (the fallback, when it ran). */
  readonly strategy: StrategyName;
  readonly result: StrategyResult;
  /** Every strategy failed; `result` defers to manual intervention. */
  readonly failed?: boolean;
  /** Notes from the engine, before the strategy's own. */
  readonly notes?: readonly string[];
  readonly decidedAt: number;
}

export function buildDecisionRecord(input: DecisionRecordInput): DecisionRecord {
  const { conflict, result, strategy } = input;
  const failed = input.failed ?? false;
  let resultVersions: readonly Version[] = [];
  const discarded: { versionId: string; reason: string }[] = [];
  const notes = [...(input.notes ?? []), ...result.notes];
  let fieldDecisions: DecisionRecord['fieldDecisions'] = [];

  if (result.outcome === 'resolved') {
    const v = result.version;
    resultVersions = [v];
    fieldDecisions = result.fieldDecisions;
    const winner = conflict.versions.find((c) => c.digest === v.digest && c.deleted === v.deleted);
    for (const d of result.discarded) {
      let reason: string;
      if (d.digest === v.digest && d.deleted === v.deleted) reason = `same content as the result ${shortId(v.id)}; its clock is superseded`;
      else if (winner) reason = `lost to ${shortId(winner.id)} from ${winner.origin} under ${strategy}`;
      else reason = `merged into ${shortId(v.id)} by ${strategy}`;
      discarded.push({ versionId: d.id, reason });
    }
  } else if (result.outcome === 'siblings') {
    resultVersions = result.versions;
  } else {
    if (!failed && !result.notes.some((n) => n.includes(result.reason))) notes.unshift(`deferred to ${result.to}: ${result.reason}`);
    if (!failed && result.to === 'rollback' && result.rollbackTarget) {
      const target = result.rollbackTarget;
      resultVersions = [target];
      for (const c of result.candidates) {
        if (c.id !== target.id) discarded.push({ versionId: c.id, reason: `rolled back to last known good ${shortId(target.id)}` });
      }
    }
  }

  return {
    conflictId: conflict.id,
    resourceId: conflict.resourceId,
    inputs: conflict.versions.map(summarizeVersion),
    ordering: describeOrdering(conflict.versions),
    type: conflict.type,
    severity: conflict.severity,
    complexity: conflict.complexity,
    reasons: conflict.reasons,
    policy: input.policy.name,
    path: input.path.slice(),
    strategy,
    fieldDecisions,
    outcome: outcomeOf(result, failed),
    result: resultVersions.map(summarizeVersion),
    discarded,
    notes,
    decidedAt: input.decidedAt,
  };
}

const DECIDING_STEPS = new Set([
  'severity_critical',
  'invariant_violation',
  'complexity_threshold',
  'escalation',
  'rule',
  'default',
]);
const AFTER_STEPS = new Set(['rule_error', 'timeout', 'retry', 'strategy_error', 'fallback']);

function stepLabel(s: PolicyStep): string {
  if (s.step === 'escalation' || s.step === 'rule') {
    const name = /^(\S+) \(priority/.exec(s.detail)?.[1];
    return name ? `${s.step} ${name}` : s.step;
  }
  if (s.step === 'field_strategy') return `field ${s.detail.split(' ')[0] ?? ''}`;
  return s.step;
}

function formatComplexity(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(2);
}

/**
 * A few human lines: what conflicted, which rule applied, why the result is what it is. This is what
 * `dwcp conflicts show` prints under the conflict.
 */
export function formatDecision(record: DecisionRecord): string {
  const lines: string[] = [];
  lines.push(
    `conflict ${shortId(record.conflictId)} on ${record.resourceId}: ${record.type}, severity ${record.severity}, complexity ${formatComplexity(record.complexity)}`,
  );
  lines.push(
    `  versions: ${record.inputs
      .map((v) => `${shortId(v.versionId)} from ${v.origin} at ${formatHlc(v.hlc)}${v.deleted ? ' (delete)' : ''}`)
      .join(', ')}`,
  );
  lines.push(`  ordering: ${record.ordering}`);
  if (record.reasons.length > 0) lines.push(`  why a conflict: ${record.reasons.join('; ')}`);

  const deciding = record.path.filter((s) => s.matched && DECIDING_STEPS.has(s.step));
  const decided = deciding.length > 0 ? deciding.map((s) => `${s.step === 'escalation' || s.step === 'rule' ? `${s.step} ` : ''}${s.detail}`).join('; then ') : 'no step matched';
  lines.push(`policy ${record.policy}: ${decided}`);
  const fields = record.path.filter((s) => s.step === 'field_strategy').map((s) => s.detail);
  if (fields.length > 0) lines.push(`  field strategies: ${fields.join(', ')}`);
  for (const s of record.path) if (AFTER_STEPS.has(s.step)) lines.push(`  ${s.step}: ${s.detail}`);
  lines.push(`  path: ${record.path.map((s) => `${stepLabel(s)} ${s.matched ? 'yes' : 'no'}`).join(' > ')}`);

  const results = record.result.map((v) => shortId(v.versionId)).join(', ');
  switch (record.outcome) {
    case 'resolved':
      lines.push(`outcome: resolved by ${record.strategy} into ${results}`);
      break;
    case 'siblings':
      lines.push(`outcome: ${record.result.length} versions kept as siblings by ${record.strategy}: ${results}`);
      break;
    case 'pending_manual':
      lines.push(`outcome: waiting for an operator (${record.strategy}); resolve with: dwcp conflicts resolve ${record.conflictId}`);
      break;
    case 'pending_consensus':
      lines.push(`outcome: waiting for a quorum decision (${record.strategy})${record.ballot ? `, ballot ${record.ballot}` : ''}`);
      break;
    case 'rollback':
      lines.push(
        results === ''
          ? `outcome: rollback (${record.strategy}); no last known good version, an operator must pick`
          : `outcome: rollback to last known good ${results}`,
      );
      break;
    case 'failed':
      lines.push(`outcome: FAILED: no strategy could resolve it; waiting for an operator (dwcp conflicts resolve ${record.conflictId})`);
      break;
  }
  for (const d of record.fieldDecisions) {
    const winner = d.winner === 'merged' ? 'merged' : shortId(d.winner);
    lines.push(`  field ${d.field}: ${d.rule} -> ${winner}${d.detail ? ` (${d.detail})` : ''}`);
  }
  for (const d of record.discarded) lines.push(`  discarded ${shortId(d.versionId)}: ${d.reason}`);
  for (const n of record.notes) lines.push(`  note: ${n}`);
  lines.push(`decided at ${Math.abs(record.decidedAt) <= 8.64e15 ? new Date(record.decidedAt).toISOString() : String(record.decidedAt)}`);
  return lines.join('\n');
}
