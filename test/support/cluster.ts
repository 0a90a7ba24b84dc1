/**
 * A deterministic in-memory cluster for replica tests: N replicas over a MemoryNetwork, one
 * ManualClock, one seeded PRNG, MemoryStores, the real policy engine and strategies.
 */
import { MemoryNetwork } from '../../src/adapters/memory/memory-network.js';
import { MemoryStore } from '../../src/adapters/memory/memory-store.js';
import { ManualClock } from '../../src/adapters/memory/manual-clock.js';
import { SeededRandom } from '../../src/adapters/memory/seeded-random.js';
import { FakeHypervisor } from '../../src/adapters/hypervisor/fake-hypervisor.js';
import { policyPresets } from '../../src/core/policy/presets.js';
import type { Policy } from '../../src/core/policy/types.js';
import { createResolver } from '../../src/replica/resolver.js';
import { Replica, type ReplicaOptions } from '../../src/replica/replica.js';
import { AntiEntropy } from '../../src/replica/anti-entropy.js';
import { RpcRouter } from '../../src/replica/rpc.js';
import type { Transport } from '../../src/replica/ports.js';
import { Paxos } from '../../src/replica/paxos.js';
import { Coordinator, type CoordinatorOptions } from '../../src/replica/coordinator.js';

export interface TestNode {
  readonly id: string;
  replica: Replica;
  readonly store: MemoryStore;
  readonly hypervisor: FakeHypervisor;
  readonly transport: Transport;
  /** Present when the cluster was created with `antiEntropy`. */
  ae?: AntiEntropy;
  rpc?: RpcRouter;
  paxos?: Paxos;
  coordinator?: Coordinator;
}

export interface TestCluster {
  readonly clock: ManualClock;
  readonly random: SeededRandom;
  readonly net: MemoryNetwork;
  readonly nodes: TestNode[];
  node(id: string): TestNode;
  /** Run timers and microtasks for `maxMs` of virtual time (stopping early work at that horizon). */
  settle(maxMs?: number): Promise<void>;
  /** Stop a node and start a new replica over the same store (a restart). */
  restart(id: string): Promise<TestNode>;
}

export async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
}

export async function createCluster(opts: {
  nodes: number | string[];
  seed?: number;
  policy?: Policy;
  replica?: Partial<ReplicaOptions>;
  /** Per node: the offset of its replica's wall clock from the shared virtual time (may change: a clock step). */
  skew?: Record<string, () => number>;
  priorities?: Record<string, number>;
  /** Attach anti-entropy (RPC router + AntiEntropy) to every node; `intervalMs` 0 = only on demand/peer-up. */
  antiEntropy?: { intervalMs: number };
  /** Attach Paxos (all nodes vote) and the coordinator to every node. */
  coordinator?: Partial<Omit<CoordinatorOptions, 'nodeId'>>;
}): Promise<TestCluster> {
  const clock = new ManualClock();
  const random = new SeededRandom(opts.seed ?? 1);
  const net = new MemoryNetwork({ clock, random: random.fork(), latency: { min: 1, max: 5 } });
  const ids = typeof opts.nodes === 'number' ? Array.from({ length: opts.nodes }, (_, i) => `n${i + 1}`) : opts.nodes;
  const policy = opts.policy ?? policyPresets.production;
  const transports = new Map(ids.map((id) => [id, net.join(id)]));

  const make = async (id: string, store: MemoryStore, hypervisor: FakeHypervisor): Promise<Replica> => {
    const replica = new Replica(
      { nodeId: id, ...opts.replica },
      {
        store,
        transport: transports.get(id)!,
        clock: opts.skew?.[id] ? clock.view(opts.skew[id]) : clock,
        hypervisor,
        resolver: createResolver({ policy: () => policy, nodePriorities: opts.priorities ?? {} }),
      },
    );
    await store.open();
    await replica.start();
    return replica;
  };

  const attach = (n: TestNode): void => {
    if (!opts.antiEntropy && !opts.coordinator) return;
    n.rpc ??= new RpcRouter(n.transport);
    if (opts.antiEntropy) {
      n.ae?.stop();
      n.ae = new AntiEntropy({ intervalMs: opts.antiEntropy.intervalMs }, { replica: n.replica, rpc: n.rpc, transport: n.transport, clock, random: random.fork() });
      n.ae.start();
    }
    if (opts.coordinator) {
      n.paxos = new Paxos({ nodeId: n.id, voters: ids, phaseTimeoutMs: 200 }, { rpc: n.rpc, store: n.store, clock, random: random.fork() });
      n.coordinator?.stop();
      n.coordinator = new Coordinator(
        { nodeId: n.id, splitBrainResolution: 'quorum', enableAutoRecovery: true, nodePriorities: opts.priorities ?? {}, ...opts.coordinator },
        { replica: n.replica, paxos: n.paxos, clock, hypervisor: n.hypervisor },
      );
      n.coordinator.start();
    }
  };

  const nodes: TestNode[] = [];
  for (const id of ids) {
    const store = new MemoryStore();
    const hypervisor = new FakeHypervisor();
    const n: TestNode = { id, store, hypervisor, transport: transports.get(id)!, replica: await make(id, store, hypervisor) };
    attach(n);
    nodes.push(n);
  }

  const cluster: TestCluster = {
    clock,
    random,
    net,
    nodes,
    node(id) {
      const n = nodes.find((x) => x.id === id);
      if (!n) throw new Error(`no node ${id}`);
      return n;
    },
    async settle(maxMs = 60_000) {
      const end = clock.now() + maxMs;
      for (;;) {
        await flushMicrotasks();
        const next = clock.nextAt();
        if (next === undefined || next > end) break;
        clock.step();
      }
      await flushMicrotasks();
      clock.runUntil(end);
    },
    async restart(id) {
      const n = cluster.node(id);
      await n.replica.stop();
      await n.store.close();
      n.replica = await make(id, n.store, n.hypervisor);
      attach(n);
      return n;
    },
  };
  return cluster;
}

export function vm(id: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    host: 'n1',
    power_state: 'running',
    cpu_allocation: 4,
    memory_mb: 8192,
    network_config: { interfaces: [{ name: 'eth0', mac: '52:54:00:12:34:56', ip: '10.0.1.100' }] },
    disk_config: [{ path: `/var/lib/vms/${id}.qcow2`, size_gb: 40 }],
    snapshot_id: 'snap-1',
    migration_status: 'none',
    ...over,
  };
}
