/**
 * One simulated host: the REAL replica code (Replica, RpcRouter, AntiEntropy, FailureDetector, Paxos,
 * Coordinator and, unless disabled, LeaseManager) composed with simulated adapters. The node's
 * MemoryStore and its hypervisor outlive incarnations: a crash kills the agent (its timers, messages
 * and in-memory state), a restart builds new components over the same store. The VMs the hypervisor
 * runs keep running while the agent is down (an agent crash is not a power loss).
 */
import { FakeHypervisor, type HypervisorAction } from '../src/adapters/hypervisor/fake-hypervisor.js';
import { MemoryStore } from '../src/adapters/memory/memory-store.js';
import type { Policy } from '../src/core/policy/types.js';
import { AntiEntropy } from '../src/replica/anti-entropy.js';
import { Coordinator } from '../src/replica/coordinator.js';
import { FailureDetector } from '../src/replica/failure-detector.js';
import { LeaseManager } from '../src/replica/leases.js';
import { Paxos } from '../src/replica/paxos.js';
import type { Hypervisor, RangeOptions, Store, StoreEntry, StoreOp, Sublevel, Transport } from '../src/replica/ports.js';
import { Replica } from '../src/replica/replica.js';
import { createResolver } from '../src/replica/resolver.js';
import { RpcRouter } from '../src/replica/rpc.js';
import { StoreClosedError } from '../src/replica/store-errors.js';
import type { RandomStreams } from './random.js';
import type { EventOwner, Scheduler } from './scheduler.js';
import { SimClock } from './sim-clock.js';
import type { SimNetwork } from './sim-network.js';

/** Agent timings and switches used by every node of a run. */
export interface AgentSettings {
  readonly heartbeatMs: number;
  readonly antiEntropyMs: number;
  /** VM ownership leases (LeaseManager) guard every VM start. */
  readonly leases: boolean;
  readonly leaseMs: number;
  readonly leaseMarginMs: number;
  readonly paxosPhaseTimeoutMs: number;
  /** Node priorities (split-brain keeper, highest_priority strategy). */
  readonly priorities: Readonly<Record<string, number>>;
}

export const DEFAULT_AGENT: AgentSettings = Object.freeze({
  heartbeatMs: 1_000,
  antiEntropyMs: 5_000,
  leases: true,
  leaseMs: 10_000,
  leaseMarginMs: 2_000,
  paxosPhaseTimeoutMs: 1_000,
  priorities: Object.freeze({}),
});

/** The components of one running incarnation. */
export interface NodeParts {
  readonly owner: EventOwner;
  readonly clock: SimClock;
  readonly transport: Transport;
  readonly replica: Replica;
  readonly rpc: RpcRouter;
  readonly antiEntropy: AntiEntropy;
  readonly failureDetector: FailureDetector;
  readonly paxos: Paxos;
  readonly coordinator: Coordinator;
  readonly leases: LeaseManager | undefined;
}

export interface SimNodeEnv {
  readonly scheduler: Scheduler;
  readonly network: SimNetwork;
  readonly streams: RandomStreams;
  readonly voters: readonly string[];
  readonly policy: Policy;
  readonly agent: AgentSettings;
  /** Called when an incarnation's components exist, before they start (attach listeners here). */
  readonly onBoot: (node: SimNode, parts: NodeParts) => void;
  /** Called after every hypervisor action on this node's host. */
  readonly onHypervisor: (node: SimNode, action: HypervisorAction) => void;
}

/**
 * The node's hypervisor: the FakeHypervisor's running set is the host's own view of what runs on it
 * (what the split-brain checker samples); every action is reported as it happens.
 */
export class SimHypervisor implements Hypervisor {
  readonly fake = new FakeHypervisor();

  constructor(private readonly report: (a: HypervisorAction) => void) {}

  get running(): ReadonlySet<string> {
    return this.fake.running;
  }

  fence(vmId: string, reason: string): Promise<void> {
    const p = this.fake.fence(vmId, reason);
    this.report({ action: 'fence', vmId, reason });
    return p;
  }

  start(vmId: string): Promise<void> {
    const p = this.fake.start(vmId);
    this.report({ action: 'start', vmId });
    return p;
  }

  stop(vmId: string): Promise<void> {
    const p = this.fake.stop(vmId);
    this.report({ action: 'stop', vmId });
    return p;
  }
}

/**
 * The store as one incarnation sees it: the node's MemoryStore until the incarnation dies, then
 * closed (a crashed process writes nothing more; whatever it wrote before is durable).
 */
class IncarnationStore implements Store {
  constructor(
    private readonly inner: MemoryStore,
    private readonly alive: () => boolean,
    private readonly where: string,
  ) {}

  open(): Promise<void> {
    return this.alive() ? Promise.resolve() : Promise.reject(new StoreClosedError(this.where));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  get(sublevel: Sublevel, key: string): Promise<Uint8Array | undefined> {
    if (!this.alive()) return Promise.reject(new StoreClosedError(this.where));
    return this.inner.get(sublevel, key);
  }

  write(ops: readonly StoreOp[]): Promise<void> {
    if (!this.alive()) return Promise.reject(new StoreClosedError(this.where));
    return this.inner.write(ops);
  }

  range(sublevel: Sublevel, options?: RangeOptions): AsyncIterable<StoreEntry> {
    if (!this.alive()) throw new StoreClosedError(this.where);
    return this.inner.range(sublevel, options);
  }
}

export type NodeStatus = 'up' | 'crashed';

export class SimNode {
  readonly store = new MemoryStore();
  readonly hypervisor: SimHypervisor;
  incarnation = 0;
  status: NodeStatus = 'crashed';
  /** Virtual time until which the node is paused (processes nothing), if it is. */
  pausedUntil: number | undefined;
  /** The node's clock offset from virtual time (ms); `skew` faults change it. */
  skewMs: number;
  /** The running (or, after a crash, the last) incarnation's components. */
  parts: NodeParts | undefined;

  constructor(
    readonly id: string,
    initialSkewMs: number,
    private readonly env: SimNodeEnv,
  ) {
    this.skewMs = initialSkewMs;
    this.hypervisor = new SimHypervisor((a) => env.onHypervisor(this, a));
  }

  get up(): boolean {
    return this.status === 'up';
  }

  get paused(): boolean {
    return this.pausedUntil !== undefined;
  }

  /** Start a new incarnation over the node's store. */
  async boot(): Promise<NodeParts> {
    if (this.status === 'up') return this.parts!;
    const { scheduler, network, streams, voters, policy, agent } = this.env;
    this.incarnation++;
    this.status = 'up';
    const inc = this.incarnation;
    const owner: EventOwner = { node: this.id, incarnation: inc };
    const tag = `${this.id}#${inc}`;
    await this.store.open();
    const store = new IncarnationStore(this.store, () => this.status === 'up' && this.incarnation === inc, `store of ${tag}`);
    const clock = new SimClock(scheduler, owner, () => this.skewMs, undefined, scheduler.now);
    const transport = network.attach(owner);
    const rpc = new RpcRouter(transport);
    const replica = new Replica(
      { nodeId: this.id },
      {
        store,
        transport,
        clock,
        hypervisor: this.hypervisor,
        resolver: createResolver({ policy: () => policy, nodePriorities: agent.priorities }),
      },
    );
    const antiEntropy = new AntiEntropy({ intervalMs: agent.antiEntropyMs }, { replica, rpc, transport, clock, random: streams.fresh(`ae:${tag}`) });
    const failureDetector = new FailureDetector({ nodeId: this.id, voters, heartbeatMs: agent.heartbeatMs }, { rpc, transport, clock });
    const paxos = new Paxos(
      { nodeId: this.id, voters, phaseTimeoutMs: agent.paxosPhaseTimeoutMs },
      { rpc, store, clock, random: streams.fresh(`paxos:${tag}`) },
    );
    const leases = agent.leases
      ? new LeaseManager(
          { nodeId: this.id, leaseMs: agent.leaseMs, marginMs: agent.leaseMarginMs },
          {
            paxos,
            rpc,
            store,
            clock,
            hypervisor: this.hypervisor,
            failureDetector,
            audit: (kind, data, resourceId) => replica.recordAudit(kind, data, resourceId),
          },
        )
      : undefined;
    const coordinator = new Coordinator(
      { nodeId: this.id, splitBrainResolution: 'quorum', enableAutoRecovery: true, nodePriorities: agent.priorities },
      { replica, paxos, clock, hypervisor: this.hypervisor, leases },
    );
    const parts: NodeParts = { owner, clock, transport, replica, rpc, antiEntropy, failureDetector, paxos, coordinator, leases };
    this.parts = parts;
    this.env.onBoot(this, parts);
    await replica.start();
    await leases?.start();
    failureDetector.start();
    antiEntropy.start();
    coordinator.start();
    return parts;
  }

  /** Kill the agent: its incarnation's timers, messages and memory are gone; the store survives. */
  crash(): void {
    if (this.status !== 'up') return;
    this.status = 'crashed';
    this.pausedUntil = undefined;
    this.env.scheduler.dropHeld(this.id);
    this.env.network.detach(this.id);
  }

  /** True while `owner` is this node's running incarnation. */
  owns(owner: EventOwner): boolean {
    return this.status === 'up' && owner.incarnation === this.incarnation;
  }
}
