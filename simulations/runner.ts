/**
 * Runs one scenario with one seed: builds the nodes (real replica code, simulated adapters) under one
 * scheduler, drives the workload and the faults, measures convergence after every heal, heals
 * everything at the end and waits for the final convergence, then runs the checkers and builds the
 * report. The same scenario and seed give the same run, event for event.
 */
import { canonicalJson } from '../src/core/codec/canonical.js';
import type { VectorClock } from '../src/core/clock/vector-clock.js';
import { loadSimPolicy } from './policy.js';
import type { Policy } from '../src/core/policy/types.js';
import type { ConflictRecord } from '../src/replica/replica.js';
import { decodeRecord, RecordKind } from '../src/replica/record-codec.js';
import { runCheckers, type CheckInput, type CheckResult, type ConflictInfo, type HealMeasurement, type NodeFinal, type VersionInfo } from './checkers.js';
import { formatT, History } from './history.js';
import { cutLinks, describePartition, partitionGroups, type PartitionSpec } from './partition.js';
import { RandomStreams } from './random.js';
import { buildReport, type Report } from './report.js';
import type { Fault, Scenario } from './scenario.js';
import { Scheduler, type EventOwner, type OwnerStatus } from './scheduler.js';
import { SimNetwork, type NetworkStats } from './sim-network.js';
import { SimNode, type NodeParts } from './sim-node.js';
import { VmSupervisor } from '../src/replica/vm-supervisor.js';
import { Workload, type WorkloadStats } from './workload.js';

export interface RunOptions {
  /** Overrides the scenario's seed. */
  readonly seed?: number;
  /** A loaded policy, or a preset name / file path; overrides the scenario's policy. */
  readonly policy?: Policy | string;
  /** Receives the full event trace, one JSON object per line (slow: for determinism tests). */
  readonly trace?: (line: string) => void;
  /** Called now and then with the virtual time reached (progress display). */
  readonly onProgress?: (virtualMs: number, totalMs: number) => void;
}

/** What the HTML report draws. */
export interface Timeline {
  readonly nodes: readonly string[];
  /** When the run ended (after the final convergence and placement phases). */
  endMs: number;
  readonly durationMs: number;
  readonly partitions: Array<{ from: number; to: number; label: string; groups?: string[][] | undefined }>;
  readonly nodeStates: Array<{ node: string; from: number; to: number; state: 'crashed' | 'paused' }>;
  readonly conflicts: Array<{ t: number; node: string; id: string; resourceId: string; severity: string; splitBrain: boolean }>;
  readonly resolutions: Array<{ t: number; node: string; id: string; strategy: string }>;
  readonly convergence: Array<{ healAt: number; node: string; at: number }>;
  readonly faults: Array<{ t: number; label: string }>;
  readonly splitBrain: Array<{ vmId: string; hosts: string[]; from: number; to: number }>;
  readonly failovers: Array<{ t: number; node: string; vmId: string }>;
  readonly fences: Array<{ t: number; node: string; vmId: string }>;
}

export interface RunStats {
  readonly events: number;
  readonly virtualMs: number;
  readonly network: NetworkStats;
  readonly workload: WorkloadStats;
}

export interface RunResult {
  readonly scenario: Scenario;
  readonly seed: number;
  readonly policy: string;
  readonly report: Report;
  readonly checks: readonly CheckResult[];
  readonly history: History;
  readonly timeline: Timeline;
  readonly stats: RunStats;
}

/** Per distinct conflict, across nodes (report statistics). */
export interface ConflictStat {
  readonly id: string;
  readonly resourceId: string;
  readonly type: string;
  readonly severity: string;
  strategy: string;
  readonly detectedAt: number;
  resolvedAt?: number;
}

const PROBE_MS = 50;
const FINAL_PROBE_MS = 100;

export async function runSimulation(scenario: Scenario, options: RunOptions = {}): Promise<RunResult> {
  const policy = typeof options.policy === 'object' ? options.policy : await loadSimPolicy(options.policy ?? scenario.policy);
  const run = new Run(scenario, options.seed ?? scenario.seed, policy, options);
  return run.execute();
}

interface ActiveHeal {
  readonly atMs: number;
  readonly needed: Map<string, VectorClock>;
  readonly pending: Map<string, Set<string>>;
  readonly doneAt: Map<string, number>;
  finished: boolean;
}

class Run {
  private readonly scheduler: Scheduler;
  private readonly streams: RandomStreams;
  private readonly network: SimNetwork;
  private readonly history: History;
  private readonly nodes: SimNode[];
  private readonly byId = new Map<string, SimNode>();
  private readonly workload: Workload;
  private partition: PartitionSpec | undefined;
  private readonly conflictStats = new Map<string, ConflictStat>();
  private readonly reported = new Map<string, Set<string>>();
  private readonly decisions: Array<{ node: string; key: string; value: string; t: number }> = [];
  private readonly openSplit = new Map<string, { hosts: Set<string>; from: number }>();
  private readonly heals: HealMeasurement[] = [];
  private activeHeal: ActiveHeal | undefined;
  private readonly timeline: Timeline;
  private readonly trace: ((line: string) => void) | undefined;

  constructor(
    private readonly scenario: Scenario,
    private readonly seed: number,
    private readonly policy: Policy,
    private readonly options: RunOptions,
  ) {
    this.trace = options.trace;
    const trace = this.trace;
    this.scheduler = new Scheduler({
      ownerStatus: (o) => this.ownerStatus(o),
      beforeEvent: trace ? (ev) => trace(JSON.stringify({ e: ev.kind, t: ev.at, o: ev.owner?.node, i: ev.owner?.incarnation })) : undefined,
    });
    this.streams = new RandomStreams(seed);
    this.history = new History(trace);
    this.network = new SimNetwork(this.scheduler, this.streams, scenario.network, trace ? (e) => trace(JSON.stringify(e)) : undefined);
    const voters = [...scenario.nodes];
    this.nodes = scenario.nodes.map((id) => {
      const r = this.streams.get(`skew:${id}`);
      const skew = Math.round((2 * r.next() - 1) * scenario.clockSkewMs);
      const node = new SimNode(id, skew, {
        scheduler: this.scheduler,
        network: this.network,
        streams: this.streams,
        voters,
        policy,
        agent: scenario.agent,
        onBoot: (n, parts) => this.onBoot(n, parts),
        onHypervisor: (n, a) => this.onHypervisor(n.id, a.action, a.vmId, a.reason),
      });
      this.byId.set(id, node);
      this.reported.set(id, new Set());
      return node;
    });
    this.workload = new Workload({
      scheduler: this.scheduler,
      streams: this.streams,
      history: this.history,
      nodes: this.nodes,
      spec: scenario.workload,
      groups: () => this.sides() ?? [scenario.nodes],
      endMs: scenario.durationMs,
      onFailover: (node, vmId) => this.timeline.failovers.push({ t: this.now, node, vmId }),
    });
    this.timeline = {
      nodes: scenario.nodes,
      endMs: scenario.durationMs,
      durationMs: scenario.durationMs,
      partitions: [],
      nodeStates: [],
      conflicts: [],
      resolutions: [],
      convergence: [],
      faults: [],
      splitBrain: [],
      failovers: [],
      fences: [],
    };
  }

  private ownerStatus(o: EventOwner): OwnerStatus {
    const n = this.byId.get(o.node);
    if (!n || !n.owns(o)) return 'drop';
    return n.paused ? 'hold' : 'run';
  }

  private get now(): number {
    return this.scheduler.now;
  }

  // ------------------------------------------------------------------ the run

  async execute(): Promise<RunResult> {
    const s = this.scenario;
    for (const n of this.nodes) await n.boot();
    for (const f of s.faults) this.scheduler.at(f.atMs, 'fault', () => this.applyFault(f));
    this.workload.start();
    const progress = this.options.onProgress;
    let tick = 0;
    const onEvent = progress
      ? (): boolean => {
          if (++tick % 2000 === 0) progress(this.now, s.durationMs);
          return false;
        }
      : undefined;
    await this.scheduler.runUntil(s.durationMs, onEvent);

    // The final heal: the network made whole, every pause ended; then wait for identical replicas.
    const healAt = this.now;
    this.interruptHeal('the run ended');
    if (this.network.cutLinks.size > 0) {
      this.network.heal();
      this.closePartition();
    }
    for (const n of this.nodes) if (n.paused) this.resume(n);
    this.history.add({ t: healAt, kind: 'fault', text: 'end of the workload: final heal (network whole, pauses over)' });
    this.timeline.faults.push({ t: healAt, label: 'final heal' });
    const bound = s.checks.convergenceBoundMs;
    let finalConverged: number | undefined;
    let pendingWhy: string | undefined;
    while (this.now <= healAt + bound) {
      const why = this.finalDifference();
      if (why === undefined) {
        finalConverged = this.now - healAt;
        break;
      }
      pendingWhy = why;
      await this.scheduler.runUntil(this.now + FINAL_PROBE_MS);
      if (progress && ++tick % 20 === 0) progress(this.now, s.durationMs);
    }
    // Then give the hosts time to act on the agreed state (leases to run out, supervisors to sweep).
    const agent = s.agent;
    const grace = (agent.leases ? 2 * (agent.leaseMs + agent.leaseMarginMs) : 0) + 5_000;
    const placeFrom = this.now;
    let placement = this.placementProblems(placeFrom);
    while (placement.length > 0 && this.now < placeFrom + grace) {
      await this.scheduler.runUntil(this.now + 500);
      placement = this.placementProblems(placeFrom);
    }
    const endMs = this.now;
    // Show each placement problem from the last decision about the VM (what put it there).
    placement = placement.map((p) => {
      const last = this.history
        .around(`vm/${p.vmId}`, 0, placeFrom)
        .filter((e) => e.kind === 'decision' || e.kind === 'split-brain' || e.kind === 'failover')
        .at(-1);
      return { ...p, since: Math.max(0, (last?.t ?? placeFrom) - 5_000) };
    });
    for (const [vmId, o] of this.openSplit) this.closeSplit(vmId, o, endMs);
    this.openSplit.clear();
    this.timeline.endMs = endMs;
    this.closePartition();
    for (const st of this.timeline.nodeStates) if (!Number.isFinite(st.to)) st.to = endMs;

    const input = await this.checkInput(
      { healAtMs: healAt, convergedMs: finalConverged, pending: finalConverged === undefined ? pendingWhy : undefined },
      endMs,
      placement,
    );
    const checks = runCheckers(input);
    const stats: RunStats = { events: this.scheduler.eventsRun, virtualMs: endMs, network: { ...this.network.stats }, workload: { ...this.workload.stats } };
    const report = buildReport({
      scenario: s,
      seed: this.seed,
      policy: this.policy.name,
      conflicts: [...this.conflictStats.values()],
      heals: this.heals,
      finalConvergenceMs: finalConverged,
      checks,
      stats,
    });
    return { scenario: s, seed: this.seed, policy: this.policy.name, report, checks, history: this.history, timeline: this.timeline, stats };
  }

  // ------------------------------------------------------------------ node wiring

  private onBoot(node: SimNode, parts: NodeParts): void {
    const id = node.id;
    const { replica, paxos } = parts;
    this.history.add({ t: this.now, kind: 'note', node: id, text: `agent incarnation ${parts.owner.incarnation} starts (clock skew ${node.skewMs}ms)` });
    replica.on('conflict', ({ record }) => this.onConflict(id, record));
    replica.on('decision', ({ record }) => this.onDecision(id, record));
    replica.on('split-brain', (e) =>
      this.history.add({ t: this.now, kind: 'split-brain', node: id, resourceId: e.resourceId, text: `split-brain detected: running on ${e.hosts.join(' and ')} (conflict ${e.conflictId})` }),
    );
    replica.on('applied', ({ version, from }) =>
      this.history.add({ t: this.now, kind: 'apply', node: id, resourceId: version.resourceId, text: `applied ${version.id} from ${from}` }),
    );
    replica.on('rejected', (e) => this.history.add({ t: this.now, kind: 'note', node: id, text: `rejected a message from ${e.from}: ${e.reason}` }));
    paxos.onLearn((key, d) => {
      const value = canonicalJson(d.value);
      this.decisions.push({ node: id, key, value, t: this.now });
      if (key.startsWith('conflict:')) this.history.add({ t: this.now, kind: 'paxos', node: id, text: `learned ${key} (ballot ${d.ballot})` });
    });
    // The agent's own VM supervisor, over the node's fake hypervisor (what the host really runs).
    const hv = node.hypervisor;
    new VmSupervisor(
      { nodeId: id, sweepMs: 2_000 },
      {
        replica: parts.replica,
        hypervisor: hv,
        clock: parts.clock,
        leases: parts.leases,
        host: { runs: (vmId) => hv.running.has(vmId), running: () => hv.running },
        onRefused: (vmId, what, err) => {
          const code = (err as { code?: unknown }).code;
          this.history.add({
            t: this.now,
            kind: 'lease',
            node: id,
            resourceId: `vm/${vmId}`,
            text: `${what} refused: ${typeof code === 'string' ? code : 'error'} ${err instanceof Error ? err.message : String(err)}`,
          });
        },
      },
    ).start();
  }

  private onConflict(node: string, record: ConflictRecord): void {
    this.reported.get(node)!.add(record.id);
    let st = this.conflictStats.get(record.id);
    if (!st) {
      st = { id: record.id, resourceId: record.resourceId, type: record.type, severity: record.severity, strategy: record.strategy, detectedAt: this.now };
      this.conflictStats.set(record.id, st);
    }
    if (record.status === 'resolved') st.resolvedAt ??= this.now;
    const runningOn = new Set(
      record.candidates.map((c) => c.data as { power_state?: string; host?: string } | null).filter((d) => d?.power_state === 'running').map((d) => d!.host),
    );
    const splitBrain = record.resourceId.startsWith('vm/') && runningOn.size > 1;
    this.timeline.conflicts.push({ t: this.now, node, id: record.id, resourceId: record.resourceId, severity: record.severity, splitBrain });
    this.history.add({
      t: this.now,
      kind: 'conflict',
      node,
      resourceId: record.resourceId,
      text: `${record.type}/${record.severity} ${record.id} → ${record.strategy} (${record.decision.outcome}) candidates ${record.candidates.map((c) => c.id).join(', ')}`,
    });
  }

  private onDecision(node: string, record: ConflictRecord): void {
    const st = this.conflictStats.get(record.id);
    if (st) st.resolvedAt ??= this.now;
    this.timeline.resolutions.push({ t: this.now, node, id: record.id, strategy: record.strategy });
    const how = record.decision.notes.at(-1) ?? record.decision.outcome;
    this.history.add({ t: this.now, kind: 'decision', node, resourceId: record.resourceId, text: `${record.id} ${record.status}: ${how} → [${record.decision.result.map((r) => r.versionId).join(', ')}]` });
  }

  private onHypervisor(node: string, action: string, vmId: string, reason?: string): void {
    this.history.add({ t: this.now, kind: 'hypervisor', node, resourceId: `vm/${vmId}`, text: `${action} ${vmId}${reason ? ` (${reason})` : ''}` });
    if (action === 'fence') this.timeline.fences.push({ t: this.now, node, vmId });
    const hosts = this.nodes.filter((n) => n.hypervisor.running.has(vmId)).map((n) => n.id);
    const open = this.openSplit.get(vmId);
    if (hosts.length >= 2) {
      if (open) for (const h of hosts) open.hosts.add(h);
      else {
        this.openSplit.set(vmId, { hosts: new Set(hosts), from: this.now });
        this.history.add({ t: this.now, kind: 'note', resourceId: `vm/${vmId}`, text: `SPLIT-BRAIN: ${vmId} now runs on ${hosts.join(' and ')}` });
      }
    } else if (open) {
      this.closeSplit(vmId, open, this.now);
      this.openSplit.delete(vmId);
    }
  }

  private closeSplit(vmId: string, o: { hosts: Set<string>; from: number }, to: number): void {
    this.timeline.splitBrain.push({ vmId, hosts: [...o.hosts].sort(), from: o.from, to });
  }

  // ------------------------------------------------------------------ faults

  /** Groups of nodes on either side of the current partition (for the workload), if it has sides. */
  private sides(): string[][] | undefined {
    const p = this.partition;
    if (!p) return undefined;
    const g = partitionGroups(p, this.scenario.nodes);
    if (g) return g;
    if (p.kind === 'bridge') {
      const n = this.scenario.nodes;
      const mid = Math.floor(n.length / 2);
      return [n.slice(0, mid), n.slice(mid + 1)];
    }
    if (p.kind === 'one-way') return [[...p.from], [...p.to]];
    return undefined;
  }

  private applyFault(f: Fault): void {
    const a = f.action;
    const label = faultLabel(f);
    this.history.add({ t: this.now, kind: 'fault', node: 'node' in a ? a.node : undefined, text: label });
    this.timeline.faults.push({ t: this.now, label });
    switch (a.type) {
      case 'partition': {
        this.interruptHeal(label);
        this.closePartition();
        this.partition = a.spec;
        this.network.setCut(cutLinks(a.spec, this.scenario.nodes));
        const sides = this.sides();
        this.timeline.partitions.push({ from: this.now, to: Infinity, label: describePartition(a.spec), groups: sides });
        if (sides) this.workload.onPartition(sides);
        return;
      }
      case 'heal':
        this.network.heal();
        this.closePartition();
        this.workload.onHeal();
        this.startHeal();
        return;
      case 'crash': {
        const n = this.byId.get(a.node)!;
        this.interruptHeal(label);
        n.crash();
        this.timeline.nodeStates.push({ node: a.node, from: this.now, to: Infinity, state: 'crashed' });
        return;
      }
      case 'restart': {
        const n = this.byId.get(a.node)!;
        this.endState(a.node, 'crashed');
        n.boot().catch((err: unknown) => this.history.add({ t: this.now, kind: 'note', node: a.node, text: `restart failed: ${err instanceof Error ? err.message : String(err)}` }));
        return;
      }
      case 'pause': {
        const n = this.byId.get(a.node)!;
        if (!n.up) return;
        this.interruptHeal(label);
        n.pausedUntil = this.now + a.forMs;
        this.timeline.nodeStates.push({ node: a.node, from: this.now, to: Infinity, state: 'paused' });
        this.scheduler.after(a.forMs, 'resume', () => {
          if (n.paused) this.resume(n);
        });
        return;
      }
      case 'skew': {
        const n = this.byId.get(a.node)!;
        n.skewMs += a.byMs;
        return;
      }
    }
  }

  private resume(n: SimNode): void {
    n.pausedUntil = undefined;
    this.endState(n.id, 'paused');
    this.history.add({ t: this.now, kind: 'fault', node: n.id, text: `${n.id} resumes` });
    this.scheduler.release(n.id);
  }

  private endState(node: string, state: 'crashed' | 'paused'): void {
    for (const st of this.timeline.nodeStates) if (st.node === node && st.state === state && !Number.isFinite(st.to)) st.to = this.now;
  }

  private closePartition(): void {
    for (const p of this.timeline.partitions) if (!Number.isFinite(p.to)) p.to = this.now;
    this.partition = undefined;
  }

  // ------------------------------------------------------------------ convergence after a heal

  private liveNodes(): SimNode[] {
    return this.nodes.filter((n) => n.up && n.parts);
  }

  private startHeal(): void {
    this.interruptHeal('another heal');
    if (this.nodes.some((n) => n.paused)) {
      this.heals.push({ atMs: this.now, interrupted: true });
      return;
    }
    const needed = new Map<string, VectorClock>();
    const live = this.liveNodes();
    for (const n of live) {
      const r = n.parts!.replica;
      for (const res of r.list()) {
        const c = r.contextOf(res);
        const prev = needed.get(res);
        needed.set(res, prev ? prev.join(c) : c);
      }
    }
    const pending = new Map<string, Set<string>>();
    for (const n of live) pending.set(n.id, new Set(needed.keys()));
    const h: ActiveHeal = { atMs: this.now, needed, pending, doneAt: new Map(), finished: false };
    this.activeHeal = h;
    this.probeHeal(h);
  }

  private probeHeal(h: ActiveHeal): void {
    if (h.finished) return;
    const bound = this.scenario.checks.convergenceBoundMs;
    let all = true;
    for (const [nodeId, set] of h.pending) {
      const node = this.byId.get(nodeId)!;
      if (!node.up || !node.parts) continue;
      const r = node.parts.replica;
      for (const res of set) {
        const o = r.contextOf(res).compare(h.needed.get(res)!);
        if (o === 'after' || o === 'equal') set.delete(res);
      }
      if (set.size === 0) {
        if (!h.doneAt.has(nodeId)) {
          h.doneAt.set(nodeId, this.now);
          this.timeline.convergence.push({ healAt: h.atMs, node: nodeId, at: this.now });
        }
      } else all = false;
    }
    if (all) {
      h.finished = true;
      this.activeHeal = undefined;
      const ms = Math.round(this.now - h.atMs);
      this.heals.push({ atMs: h.atMs, convergedMs: ms });
      this.history.add({ t: this.now, kind: 'converged', text: `every live replica knows every pre-heal version, ${ms}ms after the heal at ${formatT(h.atMs)}` });
      return;
    }
    if (this.now - h.atMs >= bound) {
      h.finished = true;
      this.activeHeal = undefined;
      const [nodeId, set] = [...h.pending].find(([, s]) => s.size > 0)!;
      const res = [...set].sort()[0]!;
      const pendingText = `${res}: ${nodeId} has {${this.byId.get(nodeId)!.parts!.replica.contextOf(res).toString()}}, needs {${h.needed.get(res)!.toString()}}`;
      this.heals.push({ atMs: h.atMs, pending: pendingText });
      return;
    }
    this.scheduler.after(PROBE_MS, 'probe', () => this.probeHeal(h));
  }

  private interruptHeal(why: string): void {
    const h = this.activeHeal;
    if (!h || h.finished) return;
    h.finished = true;
    this.activeHeal = undefined;
    this.heals.push({ atMs: h.atMs, interrupted: true });
    this.history.add({ t: this.now, kind: 'note', text: `convergence measurement of the heal at ${formatT(h.atMs)} interrupted: ${why}` });
  }

  /** Why the live replicas are not (yet) in their final state, or undefined when they are. */
  private finalDifference(): string | undefined {
    const live = this.liveNodes();
    const [first, ...rest] = live;
    if (!first) return undefined;
    const ref = first.parts!.replica;
    const refList = ref.list();
    for (const n of rest) {
      const r = n.parts!.replica;
      const list = r.list();
      if (list.length !== refList.length) {
        const missing = refList.find((x) => !list.includes(x)) ?? list.find((x) => !refList.includes(x));
        return `${missing ?? '?'}: known to ${refList.length > list.length ? first.id : n.id} only`;
      }
      for (let i = 0; i < list.length; i++) {
        const res = list[i]!;
        if (res !== refList[i] || r.digest.hashOf(res) !== ref.digest.hashOf(res)) {
          const ids = (rr: typeof r): string => rr.versionsOf(res).map((v) => v.id).join(',');
          return `${res}: ${first.id} has [${ids(ref)}], ${n.id} has [${ids(r)}]`;
        }
      }
    }
    for (const n of live) {
      for (const c of n.parts!.replica.conflictList('pending')) {
        const kind = n.parts!.coordinator.kindOf(c);
        if (kind) return `${c.resourceId}: conflict ${c.id} on ${n.id} waits for a ${kind} decision`;
      }
    }
    return undefined;
  }

  // ------------------------------------------------------------------ collection

  /** VMs not running where the agreed state places them, or running where it does not. */
  private placementProblems(since: number): CheckInput['placement'] {
    const ref = this.liveNodes()[0]?.parts?.replica;
    if (!ref) return [];
    const out: Array<{ vmId: string; problem: string; since: number }> = [];
    const placed = (vmId: string): { host: string; running: boolean } | undefined => {
      const vs = ref.versionsOf(`vm/${vmId}`);
      if (vs.length !== 1) return undefined;
      const v = vs[0]!;
      if (v.deleted) return { host: '', running: false };
      const d = v.data as { host: string; power_state: string };
      return { host: d.host, running: d.power_state === 'running' };
    };
    for (const res of ref.list('vm/')) {
      const vmId = res.slice(3);
      const p = placed(vmId);
      if (!p?.running) continue;
      const host = this.byId.get(p.host);
      if (host?.up && !host.hypervisor.running.has(vmId)) out.push({ vmId, problem: `the agreed state runs it on ${p.host}, whose hypervisor does not run it`, since });
    }
    for (const n of this.nodes) {
      for (const vmId of [...n.hypervisor.running].sort()) {
        const p = placed(vmId);
        if (p === undefined) continue;
        if (!p.running || p.host !== n.id) {
          out.push({ vmId, problem: `runs on ${n.id}${n.up ? '' : ' (agent down)'}, but the agreed state ${p.running ? `places it on ${p.host}` : 'says it is not running'}`, since });
        }
      }
    }
    return out.sort((a, b) => (a.vmId < b.vmId ? -1 : a.vmId > b.vmId ? 1 : 0));
  }

  private async checkInput(final: CheckInput['final'], endMs: number, placement: CheckInput['placement']): Promise<CheckInput> {
    const finals: NodeFinal[] = [];
    const decisions = [...this.decisions];
    for (const n of this.nodes) {
      const parts = n.parts;
      const sets = new Map<string, VersionInfo[]>();
      const conflicts: ConflictInfo[] = [];
      if (parts) {
        const r = parts.replica;
        for (const res of r.list()) sets.set(res, r.versionsOf(res).map((v) => ({ id: v.id, clock: v.clock.toJSON(), deleted: v.deleted })));
        for (const c of r.conflictList('all')) {
          conflicts.push({
            id: c.id,
            resourceId: c.resourceId,
            status: c.status,
            outcome: c.decision.outcome,
            hasDecision: typeof c.decision === 'object' && c.decision !== null,
            versionIds: [...c.candidates.map((x) => x.id), ...c.decision.inputs.map((x) => x.versionId)],
            awaitsQuorum: c.status === 'pending' ? parts.coordinator.kindOf(c) : undefined,
            referenced: r.get(c.resourceId)?.conflict?.id === c.id,
          });
        }
      }
      // Decisions an acceptor recorded as final (durable, also on crashed nodes).
      for await (const { key, value } of n.store.range('paxos')) {
        const st = decodeRecord(value, RecordKind.paxos, 'paxos', key) as { decided?: { value: unknown } };
        if (st.decided) decisions.push({ node: `${n.id}(acceptor)`, key, value: canonicalJson(st.decided.value), t: endMs });
      }
      finals.push({ node: n.id, live: n.up, sets, conflicts, reported: this.reported.get(n.id)! });
    }
    const liveVoters = this.nodes.filter((n) => n.up).length;
    return {
      nodes: finals,
      acked: this.history.acked,
      decisions,
      splitBrain: this.timeline.splitBrain,
      heals: this.heals,
      final,
      boundMs: this.scenario.checks.convergenceBoundMs,
      quorum: { live: liveVoters, need: Math.floor(this.scenario.nodes.length / 2) + 1 },
      endMs,
      placement,
    };
  }
}

export function faultLabel(f: Fault): string {
  const a = f.action;
  switch (a.type) {
    case 'partition':
      return `partition ${describePartition(a.spec)}`;
    case 'heal':
      return 'heal';
    case 'crash':
      return `crash ${a.node}`;
    case 'restart':
      return `restart ${a.node}`;
    case 'pause':
      return `pause ${a.node} for ${a.forMs}ms`;
    case 'skew':
      return `skew ${a.node} by ${a.byMs}ms`;
  }
}
