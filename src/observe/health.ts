/**
 * The health score (0–100) and the spec's alert conditions, computed from a metrics snapshot.
 *
 * | condition (spec "Alerts")            | alert id              | severity | score penalty |
 * |--------------------------------------|-----------------------|----------|---------------|
 * | resolution success rate < 90%        | low_success_rate      | warning  | 30            |
 * | resolution latency p99 > 50 ms       | slow_resolution       | warning  | 15            |
 * | pending conflicts > 100              | pending_backlog       | warning  | 20 (10 if > 50) |
 * | split-brain in the last 10 minutes   | split_brain           | critical | 25            |
 * | invariant violation in last 10 min   | invariant_violation   | critical | 15            |
 * | data loss events > 0                 | data_loss             | critical | 40            |
 * | no quorum of voters                  | no_quorum             | critical | 30            |
 * | store failed: agent is read-only     | read_only             | critical | 40            |
 *
 * score = max(0, 100 − sum of penalties); overall = healthy (≥ 80), degraded (≥ 50), critical (< 50).
 */
import type { MetricsSnapshot } from './metrics.js';

export const RECENT_MS = 10 * 60_000;

export interface Alert {
  readonly id: string;
  readonly severity: 'warning' | 'critical';
  readonly message: string;
}

export interface Health {
  readonly overall: 'healthy' | 'degraded' | 'critical';
  readonly score: number;
}

export interface HealthInput {
  readonly metrics: MetricsSnapshot;
  readonly quorum: { readonly ok: boolean; readonly have: number; readonly need: number };
  readonly readOnly: string | undefined;
  readonly now: number;
}

export function evaluateHealth(input: HealthInput): { health: Health; alerts: Alert[] } {
  const m = input.metrics;
  const alerts: Alert[] = [];
  let penalty = 0;
  const recent = (t: number | undefined): boolean => t !== undefined && input.now - t <= RECENT_MS;
  if (m.resolved + m.failed > 0 && m.successRate < 0.9) {
    penalty += 30;
    alerts.push({ id: 'low_success_rate', severity: 'warning', message: `conflict resolution success rate ${(m.successRate * 100).toFixed(1)}% is below 90%` });
  }
  if (m.p99ResolutionMs > 50) {
    penalty += 15;
    alerts.push({ id: 'slow_resolution', severity: 'warning', message: `resolution latency p99 ${m.p99ResolutionMs.toFixed(1)} ms exceeds 50 ms` });
  }
  if (m.pending > 100) {
    penalty += 20;
    alerts.push({ id: 'pending_backlog', severity: 'warning', message: `${m.pending} conflicts pending (more than 100)` });
  } else if (m.pending > 50) {
    penalty += 10;
  }
  if (recent(m.lastSplitBrainAt)) {
    penalty += 25;
    alerts.push({ id: 'split_brain', severity: 'critical', message: `split-brain detected (${m.splitBrains} in total); see dwcp conflicts list --status pending` });
  }
  if (recent(m.lastInvariantViolationAt)) {
    penalty += 15;
    alerts.push({ id: 'invariant_violation', severity: 'critical', message: `invariant violations detected (${m.invariantViolations} in total)` });
  }
  if (m.dataLossEvents > 0) {
    penalty += 40;
    alerts.push({ id: 'data_loss', severity: 'critical', message: `${m.dataLossEvents} data loss events` });
  }
  if (!input.quorum.ok) {
    penalty += 30;
    alerts.push({ id: 'no_quorum', severity: 'critical', message: `no quorum: ${input.quorum.have} of ${input.quorum.need} voters reachable` });
  }
  if (input.readOnly) {
    penalty += 40;
    alerts.push({ id: 'read_only', severity: 'critical', message: input.readOnly });
  }
  const score = Math.max(0, 100 - penalty);
  const overall = score >= 80 ? 'healthy' : score >= 50 ? 'degraded' : 'critical';
  return { health: { overall, score }, alerts };
}
