import { describe, expect, it } from 'vitest';
import { evaluateHealth } from '../../../src/observe/health.js';
import { Metrics } from '../../../src/observe/metrics.js';

describe('Metrics', () => {
  it('exposes every metric name INTERFACE.md fixes', async () => {
    const m = new Metrics(() => 1_000_000);
    m.conflictDetected({ type: 'concurrent_update', severity: 'low', resourceId: 'vm/a' });
    m.conflictResolved({ strategy: 'last_write_wins', outcome: 'resolved', latencyMs: 0.4, resourceId: 'vm/a' });
    m.splitBrain();
    const text = await m.registry.metrics();
    for (const name of [
      'dwcp_conflict_detection_rate',
      'dwcp_conflict_resolution_success_rate',
      'dwcp_average_resolution_time_ms',
      'dwcp_manual_intervention_rate',
      'dwcp_pending_conflicts_count',
      'dwcp_conflicts_detected_total{type="concurrent_update",severity="low"} 1',
      'dwcp_resource_conflict_count{resource="vm/a"} 1',
      'dwcp_strategy_usage_total{strategy="last_write_wins"} 1',
      'dwcp_split_brain_detections_total 1',
      'dwcp_conflict_resolution_latency_ms_bucket',
    ]) {
      expect(text).toContain(name);
    }
  });

  it('computes rates: success, manual share, pending, hotspots', () => {
    let t = 0;
    const m = new Metrics(() => t);
    for (let i = 0; i < 10; i++) m.conflictDetected({ type: 'concurrent_update', severity: 'low', resourceId: i < 7 ? 'vm/hot' : `vm/${i}` });
    for (let i = 0; i < 8; i++) m.conflictResolved({ strategy: 'multi_value_register', outcome: 'siblings', latencyMs: 1, resourceId: 'vm/hot' });
    m.conflictResolved({ strategy: 'last_write_wins', outcome: 'failed', latencyMs: 1, resourceId: 'vm/x' });
    m.conflictPending({ strategy: 'manual_intervention', outcome: 'pending_manual' });
    t = 30_000;
    const s = m.snapshot();
    expect(s.successRate).toBeCloseTo(8 / 9);
    expect(s.manualInterventionRate).toBeCloseTo(0.1);
    expect(s.pending).toBe(1);
    expect(s.detectionRate).toBeCloseTo(10 / 60);
    expect(m.hotspots(1)).toEqual([{ resourceId: 'vm/hot', conflicts: 7 }]);
    m.pendingClosed({ strategy: 'manual_intervention', latencyMs: 5000 });
    expect(m.snapshot().pending).toBe(0);
  });
});

describe('health score and alerts', () => {
  const base = new Metrics(() => 0).snapshot();
  it('is 100 and alert-free on a quiet healthy node', () => {
    expect(evaluateHealth({ metrics: base, quorum: { ok: true, have: 3, need: 2 }, readOnly: undefined, now: 0 })).toEqual({
      health: { overall: 'healthy', score: 100 },
      alerts: [],
    });
  });

  it('raises the spec alerts and lowers the score', () => {
    const r = evaluateHealth({
      metrics: { ...base, resolved: 5, failed: 5, successRate: 0.5, p99ResolutionMs: 80, pending: 120, lastSplitBrainAt: 1, splitBrains: 1, dataLossEvents: 0 },
      quorum: { ok: false, have: 1, need: 2 },
      readOnly: undefined,
      now: 1000,
    });
    expect(r.alerts.map((a) => a.id)).toEqual(['low_success_rate', 'slow_resolution', 'pending_backlog', 'split_brain', 'no_quorum']);
    expect(r.health).toEqual({ overall: 'critical', score: 0 });
  });
});
