/**
 * The run report (INTERFACE.md): `{ seed, conflicts: { byType, bySeverity }, strategies, successRate,
 * manualInterventionRate, resolutionLatencyMs: { p50, p99 }, convergenceMs, acknowledgedWritesLost,
 * splitBrainMoments, checkers }`, in that order, followed by extra fields (scenario, policy, details).
 * Everything in it is virtual time or a count, so the same seed gives the same bytes.
 */
import { CONFLICT_TYPES, SEVERITIES } from '../src/core/conflict/types.js';
import type { CheckerName, CheckResult, HealMeasurement } from './checkers.js';
import type { ConflictStat, RunStats } from './runner.js';
import type { Scenario } from './scenario.js';

export type CheckerVerdict = 'pass' | 'fail';

export interface Report {
  readonly seed: number;
  readonly conflicts: { readonly byType: Record<string, number>; readonly bySeverity: Record<string, number> };
  readonly strategies: Record<string, number>;
  /** Share of distinct conflicts resolved by the end (automatically or by quorum). */
  readonly successRate: number;
  /** Share of distinct conflicts whose strategy is manual intervention. */
  readonly manualInterventionRate: number;
  /** From a conflict's first detection on any node to its first resolution on any node (virtual ms). */
  readonly resolutionLatencyMs: { readonly p50: number; readonly p99: number };
  /** After each heal that was not interrupted by another fault (virtual ms). */
  readonly convergenceMs: number[];
  readonly acknowledgedWritesLost: number;
  /** Episodes where one VM ran on two hosts at once. */
  readonly splitBrainMoments: number;
  readonly checkers: Record<CheckerName, CheckerVerdict>;
  readonly scenario: string;
  readonly policy: string;
  readonly details: {
    readonly virtualMs: number;
    readonly events: number;
    readonly conflictsTotal: number;
    readonly conflictsPending: number;
    readonly healsInterrupted: number;
    readonly finalConvergenceMs: number | null;
    readonly splitBrainMs: number;
    readonly writes: { readonly attempted: number; readonly acknowledged: number; readonly refused: number; readonly conflictingPairs: number };
    readonly failovers: { readonly attempts: number; readonly done: number };
    readonly messages: { readonly sent: number; readonly delivered: number; readonly lost: number; readonly cut: number; readonly duplicated: number; readonly reordered: number };
    readonly reasons: Record<CheckerName, string>;
  };
}

export interface ReportInput {
  readonly scenario: Scenario;
  readonly seed: number;
  readonly policy: string;
  readonly conflicts: readonly ConflictStat[];
  readonly heals: readonly HealMeasurement[];
  readonly finalConvergenceMs: number | undefined;
  readonly checks: readonly CheckResult[];
  readonly stats: RunStats;
}

/** Nearest-rank percentile of sorted values (0 for none). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

function round4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}

export function buildReport(input: ReportInput): Report {
  const byType: Record<string, number> = {};
  const bySeverity: Record<string, number> = {};
  for (const t of CONFLICT_TYPES) byType[t] = 0;
  for (const s of SEVERITIES) bySeverity[s] = 0;
  const strategyCounts = new Map<string, number>();
  const latencies: number[] = [];
  let resolved = 0;
  let manual = 0;
  const sorted = [...input.conflicts].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const c of sorted) {
    byType[c.type] = (byType[c.type] ?? 0) + 1;
    bySeverity[c.severity] = (bySeverity[c.severity] ?? 0) + 1;
    strategyCounts.set(c.strategy, (strategyCounts.get(c.strategy) ?? 0) + 1);
    if (c.strategy === 'manual_intervention') manual++;
    if (c.resolvedAt !== undefined) {
      resolved++;
      latencies.push(c.resolvedAt - c.detectedAt);
    }
  }
  latencies.sort((a, b) => a - b);
  const strategies: Record<string, number> = {};
  for (const k of [...strategyCounts.keys()].sort()) strategies[k] = strategyCounts.get(k)!;
  const total = sorted.length;
  const checkers = {} as Record<CheckerName, CheckerVerdict>;
  const reasons = {} as Record<CheckerName, string>;
  for (const c of input.checks) {
    checkers[c.name] = c.pass ? 'pass' : 'fail';
    reasons[c.name] = c.reason;
  }
  const lost = input.checks.find((c) => c.name === 'no_lost_writes')?.counts?.lost ?? 0;
  const split = input.checks.find((c) => c.name === 'no_split_brain')?.counts;
  const st = input.stats;
  return {
    seed: input.seed,
    conflicts: { byType, bySeverity },
    strategies,
    successRate: total === 0 ? 1 : round4(resolved / total),
    manualInterventionRate: total === 0 ? 0 : round4(manual / total),
    resolutionLatencyMs: { p50: Math.round(percentile(latencies, 50)), p99: Math.round(percentile(latencies, 99)) },
    convergenceMs: input.heals.filter((h) => h.convergedMs !== undefined).map((h) => h.convergedMs!),
    acknowledgedWritesLost: lost,
    splitBrainMoments: split?.moments ?? 0,
    checkers,
    scenario: input.scenario.name,
    policy: input.policy,
    details: {
      virtualMs: Math.round(st.virtualMs),
      events: st.events,
      conflictsTotal: total,
      conflictsPending: total - resolved,
      healsInterrupted: input.heals.filter((h) => h.interrupted).length,
      finalConvergenceMs: input.finalConvergenceMs === undefined ? null : Math.round(input.finalConvergenceMs),
      splitBrainMs: split?.totalMs ?? 0,
      writes: {
        attempted: st.workload.writesAttempted,
        acknowledged: st.workload.writesAcknowledged,
        refused: st.workload.writesFailed,
        conflictingPairs: st.workload.conflictingPairs,
      },
      failovers: { attempts: st.workload.failoverAttempts, done: st.workload.failoversDone },
      messages: {
        sent: st.network.sent,
        delivered: st.network.delivered,
        lost: st.network.lost,
        cut: st.network.cut,
        duplicated: st.network.duplicated,
        reordered: st.network.reordered,
      },
      reasons,
    },
  };
}

/** The report as JSON text (two-space indent, fixed key order): byte for byte the same for a seed. */
export function reportJson(report: Report): string {
  return JSON.stringify(report, null, 2);
}

/** The report as a terminal table. */
export function renderTable(report: Report): string {
  const rows: Array<[string, string]> = [];
  const add = (k: string, v: string | number): void => {
    rows.push([k, String(v)]);
  };
  add('scenario', `${report.scenario} (seed ${report.seed}, policy ${report.policy})`);
  add('virtual time', `${(report.details.virtualMs / 1000).toFixed(1)}s, ${report.details.events} events`);
  add('writes', `${report.details.writes.acknowledged} acknowledged of ${report.details.writes.attempted} (${report.details.writes.conflictingPairs} concurrent pairs, ${report.details.writes.refused} refused)`);
  if (report.details.failovers.attempts > 0) add('failover attempts', `${report.details.failovers.done} started of ${report.details.failovers.attempts} attempts`);
  const nz = (o: Record<string, number>): string =>
    Object.entries(o)
      .filter(([, v]) => v > 0)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none';
  add('conflicts', `${report.details.conflictsTotal} (${report.details.conflictsPending} pending at the end)`);
  add('  by type', nz(report.conflicts.byType));
  add('  by severity', nz(report.conflicts.bySeverity));
  add('strategies', nz(report.strategies));
  add('success rate', `${(report.successRate * 100).toFixed(2)}%`);
  add('manual intervention rate', `${(report.manualInterventionRate * 100).toFixed(2)}%`);
  add('resolution latency', `p50 ${report.resolutionLatencyMs.p50}ms, p99 ${report.resolutionLatencyMs.p99}ms (virtual)`);
  add('convergence after heals', report.convergenceMs.length ? report.convergenceMs.map((x) => `${x}ms`).join(', ') : 'no heal measured');
  if (report.details.healsInterrupted > 0) add('  interrupted heals', report.details.healsInterrupted);
  add('final convergence', report.details.finalConvergenceMs === null ? 'not reached' : `${report.details.finalConvergenceMs}ms after the final heal`);
  add('acknowledged writes lost', report.acknowledgedWritesLost);
  add('split-brain moments', `${report.splitBrainMoments}${report.splitBrainMoments ? ` (${report.details.splitBrainMs}ms in total)` : ''}`);
  const m = report.details.messages;
  add('messages', `${m.delivered} delivered of ${m.sent} sent (${m.lost} lost, ${m.cut} cut, ${m.duplicated} duplicated, ${m.reordered} reordered)`);
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
  lines.push('', '  checkers');
  const cw = Math.max(...Object.keys(report.checkers).map((k) => k.length));
  for (const [name, verdict] of Object.entries(report.checkers) as Array<[CheckerName, CheckerVerdict]>) {
    lines.push(`    ${name.padEnd(cw)}  ${verdict === 'pass' ? 'pass' : 'FAIL'}  ${report.details.reasons[name]}`);
  }
  return lines.join('\n');
}
