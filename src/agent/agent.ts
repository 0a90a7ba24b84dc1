/**
 * The agent: one per hypervisor host. All production wiring is here — the replica composed with
 * libp2p, LevelDB, the system clock and the hypervisor driver, plus anti-entropy, failure detection,
 * Paxos, the coordinator, leases, recovery, metrics and the admin API — and the lifecycle: start in
 * order (and undo on a half-way failure), stop in reverse, reload the policy on demand.
 */
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createLibp2pTransport, FaultShim, loadOrCreateIdentity, loadPsk, RejectionAuditor, type Libp2pTransport } from '../adapters/libp2p/index.js';
import { LevelStore } from '../adapters/level/level-store.js';
import { CryptoRandom, SystemClock } from '../adapters/clock/system-clock.js';
import { ExecHypervisor } from '../adapters/hypervisor/exec-hypervisor.js';
import { NoopHypervisor } from '../adapters/hypervisor/fake-hypervisor.js';
import { ApiServer } from '../api/server.js';
import { HttpError } from '../api/http-errors.js';
import type { ApiBackend } from '../api/backend.js';
import type { StatusView } from '../api/views.js';
import { renderDashboardPage } from '../api/dashboard-page.js';
import { canonicalJson } from '../core/codec/canonical.js';
import { PolicyManager } from '../core/policy/manager.js';
import type { Policy } from '../core/policy/types.js';
import { parseHostRecord } from '../core/vm/state.js';
import { evaluateHealth } from '../observe/health.js';
import { Metrics } from '../observe/metrics.js';
import { AntiEntropy, type SyncResult } from '../replica/anti-entropy.js';
import { Coordinator } from '../replica/coordinator.js';
import { CrdtService } from '../replica/crdt-service.js';
import { FailureDetector } from '../replica/failure-detector.js';
import { LeaseManager } from '../replica/leases.js';
import { TrackedHost, VmSupervisor } from '../replica/vm-supervisor.js';
import { Paxos } from '../replica/paxos.js';
import type { Hypervisor } from '../replica/ports.js';
import { RecoveryManager } from '../replica/recovery.js';
import { Replica } from '../replica/replica.js';
import { createResolver } from '../replica/resolver.js';
import { RpcRouter } from '../replica/rpc.js';
import { guardOptions, type AgentConfig } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { loadPolicy } from './policy-file.js';

export interface AgentDeps {
  readonly logger?: Logger;
  readonly hypervisor?: Hypervisor;
  /**
   * Test only: wrap the transport in a fault shim and expose `POST /v1/test/faults`
   * (`{partition: [node ids]}`, `{cut: [...]}`, `{heal: true}`). The CLI turns it on with
   * DWCP_TEST_FAULT_INJECTION=1; never in production.
   */
  readonly faultInjection?: boolean;
}

type State = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

export class Agent {
  readonly log: Logger;
  readonly clock = new SystemClock();
  readonly metrics: Metrics;
  readonly policies: PolicyManager;
  private state: State = 'created';
  private readonly stack: Array<{ name: string; stop: () => Promise<void> | void }> = [];
  private readonly priorities: Record<string, number> = {};
  private readonly knownNodes = new Set<string>();
  private readonly reconnectedAt = new Map<string, number>();
  // Set during start():
  store!: LevelStore;
  transport!: Libp2pTransport;
  replica!: Replica;
  recovery!: RecoveryManager;
  fd!: FailureDetector;
  paxos!: Paxos;
  leases!: LeaseManager;
  hypervisor!: Hypervisor;
  ae: AntiEntropy | undefined;
  shim: FaultShim | undefined;
  crdts!: CrdtService;
  api!: ApiServer;

  constructor(
    readonly config: AgentConfig,
    private readonly deps: AgentDeps = {},
  ) {
    this.log = deps.logger ?? createLogger(config.log);
    this.metrics = new Metrics(() => this.clock.now());
    this.policies = new PolicyManager({});
  }

  get nodeId(): string {
    return this.config.node.id;
  }

  /** Start every component in order; if one fails, stop those already started and rethrow. */
  async start(): Promise<void> {
    if (this.state !== 'created') return;
    this.state = 'starting';
    try {
      await this.startComponents();
      this.state = 'running';
      this.log.info('agent started', { nodeId: this.nodeId, peerId: this.transport.peerId, api: this.config.api.listen, addresses: this.transport.multiaddrs() });
    } catch (err) {
      this.log.error('agent failed to start', { err });
      await this.unwind();
      this.state = 'stopped';
      throw err;
    }
  }

  /** Stop accepting requests, flush gossip and writes, close streams, close the store. Idempotent. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping' || this.state === 'created') return;
    this.state = 'stopping';
    await this.unwind();
    this.state = 'stopped';
    this.log.info('agent stopped', { nodeId: this.nodeId });
  }

  /** Re-read the policy (SIGHUP). A bad file leaves the current policy active and is reported. */
  async reloadPolicy(): Promise<Policy> {
    const policy = await loadPolicy(this.config.policy);
    this.policies.register(policy, { replace: true });
    this.policies.setActive(policy.name);
    this.log.info('policy loaded', { policy: policy.name, source: this.config.policy });
    return policy;
  }

  private async startComponents(): Promise<void> {
    const cfg = this.config;
    await mkdir(cfg.node.dataDir, { recursive: true, mode: 0o700 });
    await this.reloadPolicy();

    const store = new LevelStore({ dir: join(cfg.node.dataDir, 'store') });
    await store.open();
    this.store = store;
    this.push('store', () => store.close());

    const identity = await loadOrCreateIdentity(cfg.node.dataDir, { logger: this.log.child('identity') });
    const psk = cfg.cluster.pskFile ? await loadPsk(cfg.cluster.pskFile) : undefined;
    // Transport refusals and bans go to the audit log, aggregated (a flood must not fill the disk).
    const guard = cfg.cluster.guard;
    const rejections = new RejectionAuditor(
      { intervalMs: guard.auditInterval, maxKeys: guard.auditMaxPeers },
      {
        clock: this.clock,
        // Called only once the transport runs, which it does after the replica exists.
        write: (kind, data) => this.replica.recordAudit(kind, data),
        onError: (err) => this.log.warn('could not audit transport refusals', { error: String(err) }),
      },
    );
    const transport = createLibp2pTransport(
      {
        nodeId: cfg.node.id,
        cluster: cfg.cluster.name,
        listen: cfg.cluster.listen,
        bootstrap: cfg.cluster.bootstrap,
        allowPeers: cfg.cluster.allowPeers,
        insecureNoPsk: cfg.cluster.insecureNoPsk,
        ...guardOptions(guard),
        ...(psk ? { psk } : {}),
      },
      {
        privateKey: identity.privateKey,
        logger: this.log.child('libp2p'),
        // The transport logs refusals itself (at most one line a second per reason).
        onRejected: (reason, peerId) => {
          this.metrics.transportRejected(reason);
          rejections.note(reason, peerId);
        },
        onPeerBanned: (peerId, reason, until) => {
          this.metrics.peerBanned(reason);
          void rejections.banned(peerId, reason, until);
        },
      },
    );
    this.transport = transport;
    const shim = this.deps.faultInjection ? new FaultShim(transport, { blackholeMs: 1_000 }) : undefined;
    if (shim) this.log.warn('TEST FAULT INJECTION ENABLED (DWCP_TEST_FAULT_INJECTION): /v1/test/faults can cut links, /v1/test/lease can drive leases');
    const net = shim ?? transport;
    this.shim = shim;

    const rawHypervisor = this.deps.hypervisor ?? this.makeHypervisor();
    // Supervised, every action (starts under leases, stops, fencing) goes through the tracked view of
    // what this host runs.
    const tracked = cfg.hypervisor.supervise ? new TrackedHost(rawHypervisor) : undefined;
    const hypervisor: Hypervisor = tracked ?? rawHypervisor;
    this.hypervisor = hypervisor;
    const random = new CryptoRandom();
    const replica = new Replica(
      { nodeId: cfg.node.id, overcommit: cfg.cluster.overcommit },
      {
        store,
        transport: net,
        clock: this.clock,
        hypervisor,
        resolver: createResolver({ policy: () => this.policies.active(), nodePriorities: this.priorities }),
        observer: this.metrics,
      },
    );
    this.replica = replica;
    replica.on('degraded', (e) => {
      this.metrics.setReadOnly(true);
      this.log.error('store failed: agent is read-only', { reason: e.reason });
    });
    replica.on('split-brain', (e) => this.log.warn('split-brain detected', { ...e }));
    // An IP, MAC or disk held by two VMs (e.g. assigned on both sides of a partition): the same
    // finding on every node (same id); counted as an invariant violation, logged and audited once.
    const contentions = new Set<string>();
    replica.on('contention', (c) => {
      if (contentions.has(c.id)) return;
      if (contentions.size >= 10_000) contentions.clear();
      contentions.add(c.id);
      this.metrics.contentionFound();
      this.log.warn('resource contention', { id: c.id, kind: c.kind, key: c.key, vmIds: c.vmIds, severity: c.severity });
      void replica
        .recordAudit('contention', { id: c.id, kind: c.kind, key: c.key, vmIds: c.vmIds, severity: c.severity, field: c.finding.field, detail: c.finding.detail }, `vm/${c.vmId}`)
        .catch((err: unknown) => this.log.error('could not audit a contention', { id: c.id, err }));
    });
    replica.on('conflict', (e) => this.log.info('conflict', { id: e.record.id, resourceId: e.record.resourceId, type: e.record.type, severity: e.record.severity, strategy: e.record.strategy, status: e.record.status }));
    replica.on('rejected', (e) => this.log.warn('message rejected', { ...e }));
    const trackHost = (resourceId: string, data: unknown): void => {
      if (!resourceId.startsWith('host/')) return;
      try {
        const h = parseHostRecord(data);
        this.knownNodes.add(h.id);
        this.priorities[h.id] = h.priority ?? 0;
      } catch {
        // not a valid host record: ignored
      }
    };
    replica.on('write', (e) => trackHost(e.version.resourceId, e.version.data));
    replica.on('applied', (e) => trackHost(e.version.resourceId, e.version.data));
    await replica.start();
    this.push('replica', () => replica.stop());
    for (const rid of replica.list('host/')) trackHost(rid, replica.get(rid)?.versions.at(-1)?.data);
    this.knownNodes.add(cfg.node.id);

    await transport.start();
    this.push('transport', () => transport.stop());
    this.push('transport refusal audit', () => rejections.stop());

    const rpc = new RpcRouter(net);
    const voters = cfg.cluster.voters ?? ((): string[] => [...this.knownNodes]);
    const expectedVotes = cfg.cluster.expectedVotes ?? undefined;
    this.fd = new FailureDetector(
      { nodeId: cfg.node.id, voters: cfg.cluster.voters ?? [...this.knownNodes], ...(expectedVotes ? { expectedVotes } : {}), heartbeatMs: cfg.timing.heartbeat },
      { rpc, transport: net, clock: this.clock },
    );
    this.fd.on('peer', ({ peer, state }) => {
      this.metrics.setPeers(this.fd.peers());
      this.log.info('peer', { peer, state });
      if (state === 'down') this.reconnectedAt.delete(peer);
      if (state === 'up') {
        this.reconnectedAt.set(peer, this.clock.now());
        // A silent partition healed (heartbeats are back): repair now rather than at the next round.
        void this.ae?.syncWith(peer).then((r) => this.onRound(r), () => undefined);
      }
    });
    this.fd.on('quorum', (q) => {
      this.metrics.setQuorum(q);
      this.log[q.ok ? 'info' : 'warn'](q.ok ? 'quorum reached' : 'quorum lost', { ...q });
    });
    this.fd.start();
    this.push('failure detector', () => this.fd.stop());
    this.metrics.setQuorum(this.fd.quorum());

    this.paxos = new Paxos({ nodeId: cfg.node.id, voters, ...(expectedVotes ? { expectedVotes } : {}) }, { rpc, store, clock: this.clock, random });

    this.ae = new AntiEntropy(
      { intervalMs: cfg.timing.antiEntropyInterval },
      {
        replica,
        rpc,
        transport: net,
        clock: this.clock,
        random,
        onRound: (r) => this.onRound(r),
      },
    );
    const ae = this.ae;
    ae.start();
    this.push('anti-entropy', () => ae.stop());

    const coordinator = new Coordinator(
      {
        nodeId: cfg.node.id,
        splitBrainResolution: cfg.recovery.splitBrainResolution,
        enableAutoRecovery: cfg.recovery.enableAutoRecovery,
        nodePriorities: this.priorities,
        maxRecoveryAttempts: cfg.recovery.maxRecoveryAttempts,
      },
      {
        replica,
        paxos: this.paxos,
        clock: this.clock,
        hypervisor,
        // The lease manager is built below; the coordinator only uses it once the agent runs.
        leases: { holder: (vmId) => this.leases.holder(vmId), release: (vmId) => this.leases.release(vmId) },
        onFenceFailed: (vmId, err) => this.log.error('fencing failed', { vmId, err }),
      },
    );
    coordinator.start();
    this.push('coordinator', () => coordinator.stop());

    this.leases = new LeaseManager(
      { nodeId: cfg.node.id, leaseMs: cfg.timing.lease, marginMs: cfg.timing.leaseMargin },
      { paxos: this.paxos, rpc, store, clock: this.clock, hypervisor, failureDetector: this.fd, audit: (k, d, r) => replica.recordAudit(k, d, r) },
    );
    await this.leases.start();
    this.push('leases', () => this.leases.stop());

    if (tracked) {
      const supervisor = new VmSupervisor(
        { nodeId: cfg.node.id },
        {
          replica,
          hypervisor,
          clock: this.clock,
          leases: this.leases,
          host: tracked,
          onRefused: (vmId, what, err) => this.log.warn('vm supervisor: action refused, retried on the next sweep', { vmId, what, err }),
        },
      );
      // A VM outlives an agent restart: what the agreed state runs here is assumed to run (its lease
      // is reclaimed, or the VM stopped if another node holds it).
      for (const id of supervisor.placedHere()) tracked.assume(id);
      supervisor.start();
      this.push('supervisor', () => supervisor.stop());
    }

    this.recovery = new RecoveryManager(replica, store, this.clock, {
      enableAutoRecovery: cfg.recovery.enableAutoRecovery,
      checkpointIntervalMs: cfg.recovery.checkpointInterval,
      maxRecoveryAttempts: cfg.recovery.maxRecoveryAttempts,
      quorumSize: cfg.recovery.quorumSize ?? this.paxos.quorum,
      partitionHealTimeoutMs: cfg.recovery.partitionHealTimeout,
      splitBrainResolution: cfg.recovery.splitBrainResolution,
      enableStateReconstruction: cfg.recovery.enableStateReconstruction,
      snapshotRetention: cfg.recovery.snapshotRetention,
    });
    await this.recovery.start();
    this.push('recovery', () => this.recovery.stop());
    this.crdts = new CrdtService(replica);
    this.metrics.setPending(replica.conflictList('pending').length);

    await this.announceHost();

    const token = cfg.api.tokenFile ? readFileSync(cfg.api.tokenFile, 'utf8').trim() : undefined;
    this.api = new ApiServer({ listen: cfg.api.listen, token, onError: (err, req) => this.log.error('api error', { err, ...req }) }, this.backend());
    if (shim) {
      this.api.addJsonRoute('POST', '/v1/test/faults', (body) => this.applyFault(shim, body));
      this.api.addJsonRoute('POST', '/v1/test/lease', (body) => this.leaseAction(body));
    }
    await this.api.start();
    this.push('api', () => this.api.stop());
  }

  /** Announce this host's record (capacity, priority, labels) when it changed. */
  private async announceHost(): Promise<void> {
    const cfg = this.config;
    const record = { id: cfg.node.id, capacity: cfg.node.capacity, labels: cfg.node.labels, priority: cfg.node.priority };
    this.priorities[cfg.node.id] = cfg.node.priority;
    const rid = `host/${cfg.node.id}`;
    const current = this.replica.get(rid)?.versions;
    if (current?.length === 1 && canonicalJson(current[0]!.data) === canonicalJson(record)) return;
    await this.replica.put(rid, record);
  }

  private onRound(r: SyncResult): void {
    this.metrics.antiEntropyRound(r);
    if (r.resources > 0) {
      this.log.info('anti-entropy repaired', { ...r });
      // Confirm convergence with a follow-up round.
      this.clock.setTimer(200, () => void this.ae?.syncWith(r.peer).then((x) => this.onConverged(x.peer, x.resources), () => undefined));
    } else {
      this.onConverged(r.peer, 0);
    }
  }

  private onConverged(peer: string, differing: number): void {
    const since = this.reconnectedAt.get(peer);
    if (differing === 0 && since !== undefined) {
      this.reconnectedAt.delete(peer);
      const ms = this.clock.now() - since;
      this.metrics.convergedAfter(ms);
      this.log.info('converged with peer', { peer, ms });
    }
  }

  private applyFault(shim: FaultShim, body: unknown): { ok: true } {
    const b = (body ?? {}) as { partition?: unknown; cut?: unknown; heal?: unknown };
    const ids = (v: unknown): string[] => {
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new HttpError(400, 'ERR_BAD_REQUEST', 'expected a list of node ids');
      return v;
    };
    if (b.heal === true) shim.heal();
    else if (b.partition !== undefined) shim.partition(ids(b.partition));
    else if (b.cut !== undefined) shim.cut(ids(b.cut));
    else throw new HttpError(400, 'ERR_BAD_REQUEST', 'expected {partition: [ids]} | {cut: [ids]} | {heal: true}');
    this.log.warn('test fault applied', { fault: b });
    return { ok: true };
  }

  /**
   * Test only (with fault injection): drive the lease manager from outside, as a VM supervisor would.
   * `start` acquires the VM's lease and starts it; `act` starts it under a given epoch (the fencing
   * token check an action makes), so a test can show that a stale epoch is refused.
   */
  private async leaseAction(body: unknown): Promise<{ lease: unknown } | { ok: true }> {
    const b = (body ?? {}) as { vmId?: unknown; action?: unknown; epoch?: unknown };
    if (typeof b.vmId !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(b.vmId)) throw new HttpError(400, 'ERR_BAD_REQUEST', 'vmId: expected a VM id');
    if (b.action === 'start') return { lease: await this.leases.startVm(b.vmId) };
    if (b.action === 'act' && typeof b.epoch === 'number') {
      this.leases.assertEpoch(b.vmId, b.epoch);
      await this.hypervisor.start(b.vmId);
      return { ok: true };
    }
    throw new HttpError(400, 'ERR_BAD_REQUEST', "expected {vmId, action: 'start'} | {vmId, action: 'act', epoch: number}");
  }

  private makeHypervisor(): Hypervisor {
    const h = this.config.hypervisor;
    if (h.driver === 'exec') return new ExecHypervisor({ commands: h.commands, timeoutMs: h.timeout });
    return new NoopHypervisor();
  }

  private backend(): ApiBackend {
    return {
      replica: this.replica,
      recovery: this.recovery,
      metrics: this.metrics,
      crdts: this.crdts,
      readiness: () => {
        const transport = this.state === 'running';
        const store = !this.replica.readOnly;
        return { ready: transport && store, store, transport, ...(this.replica.readOnly ? { reason: this.replica.readOnly } : {}) };
      },
      status: () => this.status(),
      dashboard: () => this.dashboard(),
      dashboardPage: () => renderDashboardPage(this.nodeId),
    };
  }

  status(): StatusView {
    const quorum = this.fd.quorum();
    const { health } = this.health();
    const bindings = new Map(this.transport.bindings().map((b) => [b.nodeId, b.peerId]));
    const s = this.metrics.snapshot();
    return {
      nodeId: this.nodeId,
      peerId: this.transport.peerId,
      addresses: this.transport.multiaddrs(),
      peers: this.fd.peers().map((p) => ({ nodeId: p.nodeId, peerId: bindings.get(p.nodeId) ?? null, state: p.state })),
      quorum,
      health,
      policy: this.policies.active().name,
      readOnly: this.replica.readOnly ?? null,
      metrics: {
        vms: this.replica.list('vm/').length,
        conflictsDetected: s.detected,
        pendingConflicts: s.pending,
        successRate: s.successRate,
        manualInterventionRate: s.manualInterventionRate,
        averageResolutionMs: s.averageResolutionMs,
        detectionRate: s.detectionRate,
        splitBrains: s.splitBrains,
      },
    };
  }

  private health(): ReturnType<typeof evaluateHealth> {
    return evaluateHealth({ metrics: this.metrics.snapshot(), quorum: this.fd.quorum(), readOnly: this.replica.readOnly, now: this.clock.now() });
  }

  dashboard(): Record<string, unknown> {
    const s = this.metrics.snapshot();
    const { health, alerts } = this.health();
    const conflicts = this.replica.conflictList('all');
    const byMinute = new Map<number, Record<string, number>>();
    for (const c of conflicts) {
      const minute = Math.floor(c.detectedAt / 60_000) * 60_000;
      const row = byMinute.get(minute) ?? {};
      row[c.type] = (row[c.type] ?? 0) + 1;
      byMinute.set(minute, row);
    }
    return {
      nodeId: this.nodeId,
      health,
      metricsSummary: {
        successRate: s.successRate,
        pendingConflicts: s.pending,
        manualInterventionRate: s.manualInterventionRate,
        averageResolutionMs: s.averageResolutionMs,
        detectionRate: s.detectionRate,
      },
      hotspots: this.metrics.hotspots(10),
      alerts,
      quorum: this.fd.quorum(),
      peers: this.fd.peers(),
      conflictsByType: s.byType,
      timeline: [...byMinute.entries()].sort((a, b) => a[0] - b[0]).slice(-120).map(([t, counts]) => ({ at: new Date(t).toISOString(), counts })),
      pending: this.replica.conflictList('pending').map((c) => ({ id: c.id, resourceId: c.resourceId, type: c.type, severity: c.severity, strategy: c.strategy, detectedAt: new Date(c.detectedAt).toISOString() })),
    };
  }

  private push(name: string, stop: () => Promise<void> | void): void {
    this.stack.push({ name, stop });
  }

  private async unwind(): Promise<void> {
    while (this.stack.length > 0) {
      const c = this.stack.pop()!;
      try {
        await c.stop();
      } catch (err) {
        this.log.warn(`stopping ${c.name} failed`, { err });
      }
    }
    this.clock.clearAll();
  }
}
