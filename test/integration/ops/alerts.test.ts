/**
 * config/alerts.yml: the spec's alerts ("Monitoring & Metrics" > "Alerts") plus the cluster ones, on
 * metric names that src/observe/metrics.ts really registers. With promtool (Debian: apt-get install
 * prometheus), `promtool check rules` validates the file and `promtool test rules` runs every alert
 * against synthetic series: it must fire on a bad value (after its `for`) and stay quiet on a good one.
 * The unit tests run on a copy without annotations (promtool compares rendered annotations, and the
 * prose is not what is under test; `check rules` already parses their templates).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { exposedMetricNames, metricsIn, ROOT, which } from './helpers.js';

const RULES_FILE = join(ROOT, 'config/alerts.yml');
const PROMTOOL = which('promtool');

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
interface RuleFile {
  groups: Array<{ name: string; rules: Rule[] }>;
}

const file = parse(readFileSync(RULES_FILE, 'utf8')) as RuleFile;
const rules = file.groups.flatMap((g) => g.rules);
const byName = new Map(rules.map((r) => [r.alert, r]));

const INSTANCE = { instance: 'hv-01:9090', job: 'dwcp' };
const sel = (metric: string, extra: Record<string, string> = {}): string => {
  const labels = { ...INSTANCE, ...extra };
  return `${metric}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
};

/**
 * One case per alert: series that should make it fire at `at` (and not before `quietAt`, its `for`
 * not yet elapsed), and series of a healthy agent on which it must stay quiet.
 */
interface Case {
  alert: string;
  firing: Array<[string, string]>;
  healthy: Array<[string, string]>;
  at: string;
  quietAt?: string;
  extraLabels?: Record<string, string>;
}

const CASES: Case[] = [
  { alert: 'DwcpConflictResolutionSuccessRateLow', firing: [[sel('dwcp_conflict_resolution_success_rate'), '0.85x20']], healthy: [[sel('dwcp_conflict_resolution_success_rate'), '0.97x20']], at: '6m', quietAt: '3m' },
  {
    alert: 'DwcpConflictResolutionLatencyHigh',
    // 10 resolutions a minute, all between 50 and 100 ms (p99 about 99.5 ms) vs all under 10 ms.
    firing: [
      [sel('dwcp_conflict_resolution_latency_ms_bucket', { strategy: 'consensus_vote', le: '10' }), '0+0x30'],
      [sel('dwcp_conflict_resolution_latency_ms_bucket', { strategy: 'consensus_vote', le: '50' }), '0+0x30'],
      [sel('dwcp_conflict_resolution_latency_ms_bucket', { strategy: 'consensus_vote', le: '100' }), '0+10x30'],
      [sel('dwcp_conflict_resolution_latency_ms_bucket', { strategy: 'consensus_vote', le: '+Inf' }), '0+10x30'],
    ],
    healthy: [
      [sel('dwcp_conflict_resolution_latency_ms_bucket', { strategy: 'last_write_wins', le: '10' }), '0+10x30'],
      [sel('dwcp_conflict_resolution_latency_ms_bucket', { strategy: 'last_write_wins', le: '50' }), '0+10x30'],
      [sel('dwcp_conflict_resolution_latency_ms_bucket', { strategy: 'last_write_wins', le: '100' }), '0+10x30'],
      [sel('dwcp_conflict_resolution_latency_ms_bucket', { strategy: 'last_write_wins', le: '+Inf' }), '0+10x30'],
    ],
    at: '20m',
    quietAt: '8m',
  },
  { alert: 'DwcpPendingConflictsHigh', firing: [[sel('dwcp_pending_conflicts_count'), '150x20']], healthy: [[sel('dwcp_pending_conflicts_count'), '20x20']], at: '6m', quietAt: '3m' },
  { alert: 'DwcpConflictRateHigh', firing: [[sel('dwcp_conflict_detection_rate'), '150x20']], healthy: [[sel('dwcp_conflict_detection_rate'), '5x20']], at: '11m', quietAt: '5m' },
  {
    alert: 'DwcpManualInterventionRateHigh',
    firing: [[sel('dwcp_manual_intervention_rate'), '0.2x40'], [sel('dwcp_pending_conflicts_count'), '3x40']],
    healthy: [[sel('dwcp_manual_intervention_rate'), '0.01x40'], [sel('dwcp_pending_conflicts_count'), '3x40']],
    at: '31m',
    quietAt: '20m',
  },
  { alert: 'DwcpSplitBrainDetected', firing: [[sel('dwcp_split_brain_detections_total'), '0 0 1 1 1']], healthy: [[sel('dwcp_split_brain_detections_total'), '0x4']], at: '3m' },
  { alert: 'DwcpInvariantViolation', firing: [[sel('dwcp_invariant_violations_total'), '0 0 2 2 2']], healthy: [[sel('dwcp_invariant_violations_total'), '0x4']], at: '3m' },
  { alert: 'DwcpDataLoss', firing: [[sel('dwcp_data_loss_events_total'), '0 0 1 1 1']], healthy: [[sel('dwcp_data_loss_events_total'), '0x4']], at: '3m' },
  { alert: 'DwcpAgentDown', firing: [[sel('up'), '1 0 0 0 0 0']], healthy: [[sel('up'), '1x5']], at: '4m', quietAt: '2m' },
  { alert: 'DwcpNoQuorum', firing: [[sel('dwcp_quorum_ok'), '1 0 0 0 0']], healthy: [[sel('dwcp_quorum_ok'), '1x4']], at: '3m', quietAt: '1m' },
  { alert: 'DwcpReadOnly', firing: [[sel('dwcp_read_only'), '0 1 1 1 1']], healthy: [[sel('dwcp_read_only'), '0x4']], at: '3m', quietAt: '1m' },
  { alert: 'DwcpPeersDown', firing: [[sel('dwcp_peers', { state: 'down' }), '1x10']], healthy: [[sel('dwcp_peers', { state: 'down' }), '0x10']], at: '6m', quietAt: '3m', extraLabels: { state: 'down' } },
  {
    alert: 'DwcpFencingFailed',
    firing: [[sel('dwcp_fencing_total', { result: 'failed' }), '0 1 1 1']],
    healthy: [[sel('dwcp_fencing_total', { result: 'failed' }), '0x3'], [sel('dwcp_fencing_total', { result: 'ok' }), '0 1 2 3']],
    at: '2m',
    extraLabels: { result: 'failed' },
  },
  {
    alert: 'DwcpPeerBanned',
    firing: [[sel('dwcp_peers_banned_total', { reason: 'invalid-messages' }), '0 1 1 1']],
    healthy: [[sel('dwcp_peers_banned_total', { reason: 'invalid-messages' }), '0x3']],
    at: '2m',
    extraLabels: { reason: 'invalid-messages' },
  },
  { alert: 'DwcpStoreErrors', firing: [[sel('dwcp_store_errors_total'), '0 2 2 2']], healthy: [[sel('dwcp_store_errors_total'), '0x3']], at: '2m' },
  {
    alert: 'DwcpGossipRejected',
    firing: [[sel('dwcp_gossip_messages_total', { direction: 'rejected' }), '0+60x30']],
    healthy: [[sel('dwcp_gossip_messages_total', { direction: 'rejected' }), '0x30'], [sel('dwcp_gossip_messages_total', { direction: 'in' }), '0+600x30']],
    at: '20m',
    quietAt: '8m',
    extraLabels: { direction: 'rejected' },
  },
];

describe('config/alerts.yml', () => {
  it('has the spec alerts with their thresholds, and the cluster alerts', () => {
    const expr = (name: string): string => {
      const r = byName.get(name);
      expect(r, `alert ${name}`).toBeDefined();
      return r!.expr.replace(/\s+/g, ' ');
    };
    expect(expr('DwcpConflictResolutionSuccessRateLow')).toBe('dwcp_conflict_resolution_success_rate < 0.9');
    expect(expr('DwcpConflictResolutionLatencyHigh')).toMatch(/^histogram_quantile\(0\.99, .*rate\(dwcp_conflict_resolution_latency_ms_bucket\[5m\]\).*> 50$/);
    expect(expr('DwcpPendingConflictsHigh')).toBe('dwcp_pending_conflicts_count > 100');
    expect(expr('DwcpSplitBrainDetected')).toMatch(/increase\(dwcp_split_brain_detections_total\[\w+\]\) > 0/);
    expect(expr('DwcpInvariantViolation')).toMatch(/increase\(dwcp_invariant_violations_total\[\w+\]\) > 0/);
    expect(expr('DwcpDataLoss')).toMatch(/increase\(dwcp_data_loss_events_total\[\w+\]\) > 0/);
    expect(expr('DwcpNoQuorum')).toBe('dwcp_quorum_ok == 0');
    expect(expr('DwcpReadOnly')).toBe('dwcp_read_only == 1');
    expect(expr('DwcpAgentDown')).toMatch(/^up\{job=~"dwcp\.\*"\} == 0$/);
  });

  it('uses only metric names the agent exports', () => {
    const known = exposedMetricNames();
    for (const r of rules) {
      const used = metricsIn(r.expr);
      expect(used.length, r.alert).toBeGreaterThan(0);
      for (const m of used) if (m !== 'up') expect(known.has(m), `${r.alert}: ${m} is not registered in src/observe/metrics.ts`).toBe(true);
    }
  });

  it('gives every alert a severity, a summary and a description, and a unique name', () => {
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
    for (const r of rules) {
      expect(['critical', 'warning'], r.alert).toContain(r.labels.severity);
      expect(r.annotations.summary, r.alert).toBeTruthy();
      expect(r.annotations.description, r.alert).toBeTruthy();
    }
  });

  it('has a promtool test case for every alert', () => {
    expect(CASES.map((c) => c.alert).sort()).toEqual(rules.map((r) => r.alert).sort());
  });

  describe.skipIf(!PROMTOOL)('promtool (skipped when promtool is missing; Debian: apt-get install prometheus)', () => {
    let dir = '';
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'dwcp-alerts-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('check rules accepts the file', () => {
      const r = spawnSync(PROMTOOL!, ['check', 'rules', RULES_FILE], { encoding: 'utf8' });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
    });

    it('test rules: every alert fires on bad values (after its for) and stays quiet on good ones', () => {
      const stripped: RuleFile = {
        groups: file.groups.map((g) => ({ ...g, rules: g.rules.map((r) => ({ ...r, annotations: {} })) })),
      };
      writeFileSync(join(dir, 'rules.yml'), stringify(stripped));
      const labelsOf = (c: Case): Record<string, string> => ({ ...INSTANCE, ...c.extraLabels, ...byName.get(c.alert)!.labels });
      const tests = CASES.flatMap((c) => [
        {
          name: `${c.alert} fires`,
          interval: '1m',
          input_series: c.firing.map(([series, values]) => ({ series, values })),
          alert_rule_test: [
            { eval_time: c.at, alertname: c.alert, exp_alerts: [{ exp_labels: labelsOf(c) }] },
            ...(c.quietAt ? [{ eval_time: c.quietAt, alertname: c.alert, exp_alerts: [] }] : []),
          ],
        },
        {
          name: `${c.alert} stays quiet`,
          interval: '1m',
          input_series: c.healthy.map(([series, values]) => ({ series, values })),
          alert_rule_test: [{ eval_time: c.at, alertname: c.alert, exp_alerts: [] }],
        },
      ]);
      writeFileSync(join(dir, 'tests.yml'), stringify({ rule_files: ['rules.yml'], evaluation_interval: '1m', tests }));
      const r = spawnSync(PROMTOOL!, ['test', 'rules', join(dir, 'tests.yml')], { encoding: 'utf8', cwd: dir });
      expect(r.status, r.stdout + r.stderr).toBe(0);
    });
  });
});
