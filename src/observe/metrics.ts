/**
 * Metrics behind a small typed interface (the replica's ReplicaObserver and a few agent hooks), backed
 * by a dedicated prom-client Registry — never the global one. The names INTERFACE.md fixes are here
 * exactly; the rest is what operators need (peers, quorum, gossip, anti-entropy, store).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ConflictType, Severity } from '../core/conflict/types.js';
import type { StrategyName } from '../core/resolve/types.js';
import type { ReplicaObserver } from '../replica/replica.js';

/** How many hot resources `dwcp_resource_conflict_count` exposes (bounded label cardinality). */
export const HOT_RESOURCES = 20;
/** Window for rates and hotspots. */
export const RATE_WINDOW_MS = 60_000;
export const HOTSPOT_WINDOW_MS = 60 * 60_000;

export interface MetricsSnapshot {
  readonly detected: number;
  readonly resolved: number;
  readonly failed: number;
  readonly manual: number;
  readonly pending: number;
  readonly successRate: number;
  readonly manualInterventionRate: number;
  readonly averageResolutionMs: number;
  readonly detectionRate: number;
  readonly p99ResolutionMs: number;
  readonly splitBrains: number;
  readonly lastSplitBrainAt: number | undefined;
  readonly invariantViolations: number;
  readonly lastInvariantViolationAt: number | undefined;
  readonly dataLossEvents: number;
  readonly storeErrors: number;
  readonly byType: Readonly<Record<string, number>>;
}

export class Metrics implements ReplicaObserver {
  readonly registry = new Registry();
  private readonly detectedTotal: Counter<'type' | 'severity'>;
  private readonly strategyUsage: Counter<'strategy'>;
  private readonly splitBrainTotal: Counter;
  private readonly latency: Histogram<'strategy'>;
  private readonly resourceConflicts: Gauge<'resource'>;
  private readonly gossipMessages: Counter<'direction'>;
  private readonly gossipVersions: Counter<'direction'>;
  private readonly gossipBytes: Counter<'direction'>;
  private readonly transportRejections: Counter<'reason'>;
  private readonly peersBanned: Counter<'reason'>;
  private readonly remoteVersions: Counter<'outcome'>;
  private readonly storeErrorsTotal: Counter;
  private readonly quarantinedTotal: Counter<'sublevel'>;
  private readonly aeRounds: Counter;
  private readonly aeRepairs: Counter;
  private readonly aeBytes: Counter;
  private readonly convergence: Gauge;
  private readonly peers: Gauge<'state'>;
  private readonly quorumOk: Gauge;
  private readonly quorumHave: Gauge;
  private readonly quorumNeed: Gauge;
  private readonly readOnly: Gauge;
  private readonly fencing: Counter<'result'>;
  private readonly dataLoss: Counter;
  private readonly invariantTotal: Counter;

  private detected = 0;
  private resolved = 0;
  private failed = 0;
  private manual = 0;
  private pending = 0;
  private latencySum = 0;
  private latencyCount = 0;
  private readonly recentLatencies: number[] = [];
  private readonly detections: number[] = [];
  private readonly perResource = new Map<string, number[]>();
  private readonly byType: Record<string, number> = {};
  private splitBrains = 0;
  private lastSplitBrainAt: number | undefined;
  private invariantViolations = 0;
  private lastInvariantViolationAt: number | undefined;
  private dataLossEvents = 0;
  private storeErrors = 0;

  constructor(private readonly now: () => number = Date.now) {
    const r = [this.registry];
    const detectionRate = (): number => this.detectionRate();
    const successRate = (): number => this.successRate();
    const averageMs = (): number => this.averageResolutionMs();
    const manualRate = (): number => this.manualRate();
    const pending = (): number => this.pending;
    const hotspots = (n: number): Array<{ resourceId: string; conflicts: number }> => this.hotspots(n);
    new Gauge({ name: 'dwcp_conflict_detection_rate', help: `Conflicts detected per second over the last ${RATE_WINDOW_MS / 1000} s`, registers: r, collect() { this.set(detectionRate()); } });
    new Gauge({ name: 'dwcp_conflict_resolution_success_rate', help: 'Share of decided conflicts that were resolved (not failed), 0..1', registers: r, collect() { this.set(successRate()); } });
    new Gauge({ name: 'dwcp_average_resolution_time_ms', help: 'Mean time to resolve a conflict (ms)', registers: r, collect() { this.set(averageMs()); } });
    new Gauge({ name: 'dwcp_manual_intervention_rate', help: 'Share of conflicts that needed an operator, 0..1', registers: r, collect() { this.set(manualRate()); } });
    new Gauge({ name: 'dwcp_pending_conflicts_count', help: 'Conflicts waiting for an operator or a quorum', registers: r, collect() { this.set(pending()); } });
    this.detectedTotal = new Counter({ name: 'dwcp_conflicts_detected_total', help: 'Conflicts detected, by type and severity', labelNames: ['type', 'severity'], registers: r });
    this.resourceConflicts = new Gauge({
      name: 'dwcp_resource_conflict_count',
      help: `Conflicts in the last hour on the ${HOT_RESOURCES} hottest resources`,
      labelNames: ['resource'],
      registers: r,
      collect() {
        this.reset();
        for (const h of hotspots(HOT_RESOURCES)) this.set({ resource: h.resourceId }, h.conflicts);
      },
    });
    this.strategyUsage = new Counter({ name: 'dwcp_strategy_usage_total', help: 'Resolutions by strategy', labelNames: ['strategy'], registers: r });
    this.splitBrainTotal = new Counter({ name: 'dwcp_split_brain_detections_total', help: 'VMs seen running on two hosts', registers: r });
    this.latency = new Histogram({
      name: 'dwcp_conflict_resolution_latency_ms',
      help: 'Time from detection to resolution (ms), by strategy',
      labelNames: ['strategy'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000, 5000, 30000, 300000],
      registers: r,
    });
    this.gossipMessages = new Counter({ name: 'dwcp_gossip_messages_total', help: 'Gossip messages by direction (in, out, rejected)', labelNames: ['direction'], registers: r });
    this.gossipVersions = new Counter({ name: 'dwcp_gossip_versions_total', help: 'Versions carried by gossip, by direction', labelNames: ['direction'], registers: r });
    this.gossipBytes = new Counter({ name: 'dwcp_gossip_bytes_total', help: 'Gossip payload bytes by direction', labelNames: ['direction'], registers: r });
    this.transportRejections = new Counter({
      name: 'dwcp_transport_rejections_total',
      help: 'Gossip messages and rpc hellos refused by the transport, by reason (oversized, undecodable, unsigned, wrong-binding, replayed, stale, wrong-cluster, rate-limited, newcomer-limited, banned)',
      labelNames: ['reason'],
      registers: r,
    });
    this.peersBanned = new Counter({ name: 'dwcp_peers_banned_total', help: 'Peers banned (disconnected, connections refused) for flooding gossip, by reason (invalid-messages, score, newcomer-invalid, overuse)', labelNames: ['reason'], registers: r });
    this.remoteVersions = new Counter({ name: 'dwcp_remote_versions_total', help: 'Remote versions by detector outcome', labelNames: ['outcome'], registers: r });
    this.storeErrorsTotal = new Counter({ name: 'dwcp_store_errors_total', help: 'Failed store writes', registers: r });
    this.quarantinedTotal = new Counter({ name: 'dwcp_quarantined_records_total', help: 'Undecodable records quarantined', labelNames: ['sublevel'], registers: r });
    this.aeRounds = new Counter({ name: 'dwcp_antientropy_rounds_total', help: 'Anti-entropy sessions completed', registers: r });
    this.aeRepairs = new Counter({ name: 'dwcp_antientropy_repairs_total', help: 'Resources repaired by anti-entropy', registers: r });
    this.aeBytes = new Counter({ name: 'dwcp_antientropy_bytes_total', help: 'Bytes exchanged by anti-entropy', registers: r });
    this.convergence = new Gauge({ name: 'dwcp_convergence_time_ms', help: 'Time from a partition heal (peer back up) to identical digests (ms), last observed', registers: r });
    this.peers = new Gauge({ name: 'dwcp_peers', help: 'Peers by failure-detector state', labelNames: ['state'], registers: r });
    this.quorumOk = new Gauge({ name: 'dwcp_quorum_ok', help: '1 when this agent sees a quorum of voters', registers: r });
    this.quorumHave = new Gauge({ name: 'dwcp_quorum_have', help: 'Reachable voters (this one included)', registers: r });
    this.quorumNeed = new Gauge({ name: 'dwcp_quorum_need', help: 'Voters needed for a quorum', registers: r });
    this.readOnly = new Gauge({ name: 'dwcp_read_only', help: '1 when the agent refuses writes after a store failure', registers: r });
    this.fencing = new Counter({ name: 'dwcp_fencing_total', help: 'Fencing actions by result', labelNames: ['result'], registers: r });
    this.dataLoss = new Counter({ name: 'dwcp_data_loss_events_total', help: 'Acknowledged data found missing (should stay 0)', registers: r });
    this.invariantTotal = new Counter({ name: 'dwcp_invariant_violations_total', help: 'Invariant violations found in merged states', registers: r });
  }

  // ------------------------------------------------------------- ReplicaObserver

  conflictDetected(c: { type: ConflictType; severity: Severity; resourceId: string }): void {
    const t = this.now();
    this.detected++;
    this.byType[c.type] = (this.byType[c.type] ?? 0) + 1;
    this.detectedTotal.inc({ type: c.type, severity: c.severity });
    this.detections.push(t);
    trim(this.detections, t - RATE_WINDOW_MS);
    const list = this.perResource.get(c.resourceId) ?? [];
    list.push(t);
    this.perResource.set(c.resourceId, list);
    if (this.perResource.size > 10_000) this.pruneResources(t);
    if (c.type === 'invariant_violation') {
      this.invariantViolations++;
      this.lastInvariantViolationAt = t;
      this.invariantTotal.inc();
    }
  }

  /** An IP, MAC or disk held by two VMs (uniqueness invariant), found when a VM version was stored. */
  contentionFound(): void {
    this.invariantViolations++;
    this.lastInvariantViolationAt = this.now();
    this.invariantTotal.inc();
  }

  conflictPending(c: { strategy: StrategyName; outcome: string; resourceId?: string }): void {
    this.pending++;
    if (c.outcome === 'pending_manual' || c.outcome === 'failed' || c.strategy === 'manual_intervention') this.manual++;
    this.strategyUsage.inc({ strategy: c.strategy });
  }

  conflictResolved(c: { strategy: StrategyName; outcome: string; latencyMs: number; resourceId?: string }): void {
    if (c.outcome === 'failed') {
      this.failed++;
      return;
    }
    this.strategyUsage.inc({ strategy: c.strategy });
    this.recordResolution(c.strategy, c.latencyMs);
  }

  /** A pending conflict was closed (by an operator, a quorum or a superseding write). */
  pendingClosed(c: { strategy: StrategyName; latencyMs: number }): void {
    this.pending = Math.max(0, this.pending - 1);
    this.recordResolution(c.strategy, c.latencyMs);
  }

  private recordResolution(strategy: StrategyName, latencyMs: number): void {
    this.resolved++;
    this.latency.observe({ strategy }, latencyMs);
    this.latencySum += latencyMs;
    this.latencyCount++;
    this.recentLatencies.push(latencyMs);
    if (this.recentLatencies.length > 2_000) this.recentLatencies.splice(0, 1_000);
  }

  splitBrain(): void {
    this.splitBrains++;
    this.lastSplitBrainAt = this.now();
    this.splitBrainTotal.inc();
  }

  remoteVersion(outcome: string): void {
    this.remoteVersions.inc({ outcome });
  }

  gossip(direction: 'in' | 'out' | 'rejected', versions: number, bytes: number): void {
    this.gossipMessages.inc({ direction });
    this.gossipVersions.inc({ direction }, versions);
    this.gossipBytes.inc({ direction }, bytes);
  }

  /** A transport-level refusal (also counted as a rejected gossip message). */
  transportRejected(reason: string): void {
    this.transportRejections.inc({ reason });
    this.gossipMessages.inc({ direction: 'rejected' });
  }

  peerBanned(reason: string): void {
    this.peersBanned.inc({ reason });
  }

  storeError(): void {
    this.storeErrors++;
    this.storeErrorsTotal.inc();
  }

  quarantined(sublevel: string): void {
    this.quarantinedTotal.inc({ sublevel });
  }

  // ------------------------------------------------------------- agent hooks

  antiEntropyRound(r: { resources: number; bytes: number }): void {
    this.aeRounds.inc();
    this.aeRepairs.inc(r.resources);
    this.aeBytes.inc(r.bytes);
  }

  convergedAfter(ms: number): void {
    this.convergence.set(ms);
  }

  setPeers(states: ReadonlyArray<{ state: string }>): void {
    this.peers.reset();
    for (const s of ['up', 'suspect', 'down']) this.peers.set({ state: s }, states.filter((p) => p.state === s).length);
  }

  setQuorum(q: { have: number; need: number; ok: boolean }): void {
    this.quorumOk.set(q.ok ? 1 : 0);
    this.quorumHave.set(q.have);
    this.quorumNeed.set(q.need);
  }

  setReadOnly(on: boolean): void {
    this.readOnly.set(on ? 1 : 0);
  }

  fenced(ok: boolean): void {
    this.fencing.inc({ result: ok ? 'ok' : 'failed' });
  }

  dataLossEvent(): void {
    this.dataLossEvents++;
    this.dataLoss.inc();
  }

  /** Set the pending count from the replica's own queue (authoritative after a restart). */
  setPending(n: number): void {
    this.pending = n;
  }

  // ------------------------------------------------------------- derived figures

  detectionRate(): number {
    const t = this.now();
    trim(this.detections, t - RATE_WINDOW_MS);
    return this.detections.length / (RATE_WINDOW_MS / 1000);
  }

  successRate(): number {
    const decided = this.resolved + this.failed;
    return decided === 0 ? 1 : this.resolved / decided;
  }

  manualRate(): number {
    return this.detected === 0 ? 0 : Math.min(1, this.manual / this.detected);
  }

  averageResolutionMs(): number {
    return this.latencyCount === 0 ? 0 : this.latencySum / this.latencyCount;
  }

  p99ResolutionMs(): number {
    if (this.recentLatencies.length === 0) return 0;
    const s = [...this.recentLatencies].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.ceil(0.99 * s.length) - 1)]!;
  }

  /** The pattern detector: resources with the most conflicts in the last hour. */
  hotspots(limit = 10): Array<{ resourceId: string; conflicts: number }> {
    const t = this.now();
    this.pruneResources(t);
    return [...this.perResource.entries()]
      .map(([resourceId, ts]) => ({ resourceId, conflicts: ts.length }))
      .sort((a, b) => b.conflicts - a.conflicts || (a.resourceId < b.resourceId ? -1 : 1))
      .slice(0, limit);
  }

  snapshot(): MetricsSnapshot {
    return {
      detected: this.detected,
      resolved: this.resolved,
      failed: this.failed,
      manual: this.manual,
      pending: this.pending,
      successRate: this.successRate(),
      manualInterventionRate: this.manualRate(),
      averageResolutionMs: this.averageResolutionMs(),
      detectionRate: this.detectionRate(),
      p99ResolutionMs: this.p99ResolutionMs(),
      splitBrains: this.splitBrains,
      lastSplitBrainAt: this.lastSplitBrainAt,
      invariantViolations: this.invariantViolations,
      lastInvariantViolationAt: this.lastInvariantViolationAt,
      dataLossEvents: this.dataLossEvents,
      storeErrors: this.storeErrors,
      byType: { ...this.byType },
    };
  }

  private pruneResources(t: number): void {
    for (const [r, ts] of this.perResource) {
      trim(ts, t - HOTSPOT_WINDOW_MS);
      if (ts.length === 0) this.perResource.delete(r);
    }
  }
}

function trim(sortedTimes: number[], before: number): void {
  let i = 0;
  while (i < sortedTimes.length && sortedTimes[i]! < before) i++;
  if (i > 0) sortedTimes.splice(0, i);
}
