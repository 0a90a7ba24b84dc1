/**
 * One node process of the network benchmarks (network.bench.ts). Started by net-cluster.ts as
 * `node --import tsx test/bench/support/net-node.ts '<NodeInit JSON>'` with an IPC channel; it
 * answers `Command`s with `Reply`s (net-protocol.ts) and exits when told to, or when the parent goes.
 *
 * Modes: `replica` composes a real Replica with the libp2p transport and a LevelStore (the gossip
 * runs: ReplicaOptions come from the parent); `agent` runs the full Agent with fault injection
 * (consensus and convergence runs).
 *
 * TCP bytes: every socket this process creates or accepts is seen through node:diagnostics_channel
 * (`net.client.socket`, `net.server.socket`), and `bytes` sums their bytesWritten/bytesRead — the
 * libp2p connections' bytes on the wire (TCP payload: pnet + noise + yamux + gossipsub/rpc framing),
 * the only sockets such a process has (the agent's admin API listens, nobody connects to it).
 */
import '../../../src/adapters/libp2p/polyfill.js';
import { createHash } from 'node:crypto';
import { subscribe } from 'node:diagnostics_channel';
import { mkdirSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { createLibp2pTransport, loadOrCreateIdentity, loadPsk, type FaultShim, type Libp2pTransport } from '../../../src/adapters/libp2p/index.js';
import { LevelStore } from '../../../src/adapters/level/level-store.js';
import { SystemClock } from '../../../src/adapters/clock/system-clock.js';
import { NoopHypervisor } from '../../../src/adapters/hypervisor/fake-hypervisor.js';
import { Agent } from '../../../src/agent/agent.js';
import { parseConfig } from '../../../src/agent/config.js';
import { createLogger } from '../../../src/agent/logger.js';
import { productionPolicy } from '../../../src/core/policy/presets.js';
import type { AntiEntropy } from '../../../src/replica/anti-entropy.js';
import type { Paxos } from '../../../src/replica/paxos.js';
import { Replica } from '../../../src/replica/replica.js';
import { createResolver } from '../../../src/replica/resolver.js';
import { benchVm, mainThreadCpuMs, wallMs, type Command, type NodeInit, type Reply } from './net-protocol.js';

const sockets = new Set<Socket>();
subscribe('net.client.socket', (m) => sockets.add((m as { socket: Socket }).socket));
subscribe('net.server.socket', (m) => sockets.add((m as { socket: Socket }).socket));


function send(msg: Reply): void {
  process.send?.(msg);
}

interface Node {
  replica: Replica;
  readonly transport: Libp2pTransport;
  readonly agent?: Agent;
  readonly shim?: FaultShim;
  readonly ae?: AntiEntropy;
  readonly paxos?: Paxos;
  /**
   * replica mode: stop the Replica and start a new one with other gossip options over the SAME
   * transport (connections, gossipsub mesh and node id stay) and a fresh LevelStore.
   */
  reconfigure?(opts: { flushMs?: number; maxBatch?: number; minIntervalMs?: number }): Promise<void>;
  /** Synced LevelDB batches written so far (group commit). */
  syncedBatches(): number;
  stop(): Promise<void>;
}

async function startReplicaNode(init: NodeInit): Promise<Node> {
  mkdirSync(init.dir, { recursive: true });
  const { privateKey } = await loadOrCreateIdentity(init.dir);
  const psk = await loadPsk(init.pskFile);
  const transport = createLibp2pTransport({ nodeId: init.nodeId, cluster: init.cluster, psk, listen: ['/ip4/127.0.0.1/tcp/0'] }, { privateKey });
  const clock = new SystemClock();
  let generation = 0;
  const open = async (opts: { flushMs?: number | undefined; maxBatch?: number | undefined; minIntervalMs?: number | undefined }): Promise<{ replica: Replica; store: LevelStore }> => {
    const store = new LevelStore({ dir: join(init.dir, `store-${generation++}`) });
    await store.open();
    const replica = new Replica(
      {
        nodeId: init.nodeId,
        ...(opts.flushMs !== undefined ? { gossipFlushMs: opts.flushMs } : {}),
        ...(opts.maxBatch !== undefined ? { gossipMaxBatch: opts.maxBatch } : {}),
        ...(opts.minIntervalMs !== undefined ? { gossipMinIntervalMs: opts.minIntervalMs } : {}),
      },
      { store, transport, clock, hypervisor: new NoopHypervisor(), resolver: createResolver({ policy: () => productionPolicy }) },
    );
    await replica.start();
    return { replica, store };
  };
  let current = await open({ flushMs: init.flushMs, maxBatch: init.maxBatch });
  await transport.start();
  const node: Node = {
    replica: current.replica,
    transport,
    async reconfigure(opts) {
      await current.replica.stop();
      await current.store.close();
      current = await open(opts);
      node.replica = current.replica;
    },
    syncedBatches: () => current.store.syncedBatches,
    async stop() {
      await current.replica.stop();
      await transport.stop();
      clock.clearAll();
      await current.store.close();
    },
  };
  return node;
}

async function startAgentNode(init: NodeInit): Promise<Node> {
  const voters = init.voters ?? [init.nodeId];
  const yaml = [
    `node: { id: ${init.nodeId}, dataDir: ${JSON.stringify(init.dir)}, capacity: { cpu: 4096, memory_mb: 16777216 } }`,
    `cluster: { name: ${init.cluster}, voters: [${voters.join(', ')}], pskFile: ${JSON.stringify(init.pskFile)}, listen: [/ip4/127.0.0.1/tcp/0] }`,
    `api: { listen: "127.0.0.1:0" }`,
    `policy: production`,
    `timing: { heartbeat: ${init.heartbeatMs ?? 1000}ms, antiEntropyInterval: ${init.antiEntropyMs ?? 5000}ms }`,
  ].join('\n');
  const cfg = parseConfig(yaml, join(init.dir, 'agent.yaml'));
  const logger = createLogger({ level: 'error', format: 'json', write: (l) => process.stderr.write(l + '\n') });
  const agent = new Agent(cfg, { faultInjection: true, logger });
  await agent.start();
  return {
    replica: agent.replica,
    transport: agent.transport,
    agent,
    ...(agent.shim ? { shim: agent.shim } : {}),
    ...(agent.ae ? { ae: agent.ae } : {}),
    paxos: agent.paxos,
    syncedBatches: () => agent.store.syncedBatches,
    stop: () => agent.stop(),
  };
}

/** Receiver side of a propagation run: when each tracked update (by its `seq` label) was applied. */
class Tracker {
  seqs: number[] = [];
  times: number[] = [];
  private maxSeq = new Float64Array(0);
  private finals: Float64Array | undefined;
  constructor(readonly prefix: string, vms: number) {
    this.maxSeq = new Float64Array(vms).fill(-1);
  }
  note(resourceId: string, data: unknown, t: number): void {
    if (!resourceId.startsWith(this.prefix)) return;
    const seq = Number((data as { labels?: { seq?: unknown } } | null)?.labels?.seq);
    const vm = Number(resourceId.slice(this.prefix.length));
    if (!Number.isInteger(seq) || !Number.isInteger(vm) || vm < 0 || vm >= this.maxSeq.length) return;
    this.seqs.push(seq);
    this.times.push(t);
    if (seq > this.maxSeq[vm]!) this.maxSeq[vm] = seq;
  }
  expect(finals: readonly number[]): void {
    this.finals = Float64Array.from(finals);
  }
  /** VMs whose final update (or a later one) has been applied. */
  covered(): number {
    const f = this.finals;
    if (!f) return 0;
    let n = 0;
    for (let i = 0; i < f.length; i++) if (this.maxSeq[i]! >= f[i]!) n++;
    return n;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The writer's side of the last paced load. */
interface LoadState {
  readonly durable: number[];
  readonly writes: Array<Promise<void>>;
  errors: number;
  firstError: string;
  readonly cpu0: NodeJS.CpuUsage;
  readonly batches0: number;
}
let currentLoad: LoadState | undefined;

/** What to do when the parent goes away (IPC channel closed): exit at once until the node runs. */
let onParentGone = (): void => process.exit(0);
process.on('disconnect', () => onParentGone());

async function main(): Promise<void> {
  const init = JSON.parse(process.argv[2] ?? '{}') as NodeInit;
  const t0 = performance.now();
  const node = init.mode === 'agent' ? await startAgentNode(init) : await startReplicaNode(init);
  const { transport } = node;
  let replica = node.replica;
  let tracker: Tracker | undefined;
  let lastChangeAt = 0;
  const listen = (r: Replica): void => {
    r.on('applied', ({ version }) => {
      const t = wallMs();
      lastChangeAt = t;
      tracker?.note(version.resourceId, version.data, t);
    });
    r.on('conflict', () => {
      lastChangeAt = wallMs();
    });
  };
  listen(replica);

  let stopping = false;
  const shutdown = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    const timer = setTimeout(() => process.exit(code), 5_000);
    try {
      await node.stop();
    } catch (err) {
      process.stderr.write(`stop failed: ${String(err)}\n`);
    }
    clearTimeout(timer);
    process.exit(code);
  };
  onParentGone = () => void shutdown(0);
  if (!process.connected) onParentGone();

  const handlers: Record<string, (a: Record<string, unknown>) => unknown> = {
    info: () => ({ nodeId: init.nodeId, addrs: transport.multiaddrs(), peers: transport.peers() }),
    async connect(a) {
      const addrs = a.addrs as string[];
      await Promise.all(
        addrs.map(async (addr) => {
          for (let attempt = 0; ; attempt++) {
            try {
              await transport.connect(addr);
              return;
            } catch (err) {
              if (attempt >= 4) throw err;
              await sleep(200 * (attempt + 1));
            }
          }
        }),
      );
      return { ok: true };
    },
    peers: () => ({
      transport: transport.peers(),
      fdUp: node.agent ? node.agent.fd.peers().filter((p) => p.state === 'up').map((p) => p.nodeId) : undefined,
    }),
    bytes: () => {
      let written = 0;
      let read = 0;
      for (const s of sockets) {
        written += s.bytesWritten;
        read += s.bytesRead;
      }
      return { written, read, sockets: sockets.size };
    },
    async reconfigure(a) {
      if (!node.reconfigure) throw new Error('reconfigure: replica mode only');
      const t = performance.now();
      await node.reconfigure({ flushMs: a.flushMs as number | undefined, maxBatch: a.maxBatch as number | undefined, minIntervalMs: a.minIntervalMs as number | undefined });
      replica = node.replica;
      listen(replica);
      return { ms: performance.now() - t };
    },
    stats: () => ({ transport: transport.stats(), shim: node.shim ? { ...node.shim.counts } : undefined }),
    track(a) {
      tracker = new Tracker(a.prefix as string, a.vms as number);
      tracker.expect(a.finals as number[]);
      return { ok: true };
    },
    progress: () => ({ covered: tracker?.covered() ?? 0, events: tracker?.seqs.length ?? 0 }),
    events() {
      const out = { seqs: tracker?.seqs ?? [], times: tracker?.times ?? [] };
      tracker = undefined;
      return out;
    },
    /**
     * Paced writes: `rate` updates/s over `vms` VMs round-robin, `total` updates. Resolves once all
     * are issued (not yet durable); `loadResult` collects the acknowledgements.
     */
    async load(a) {
      const prefix = a.prefix as string;
      const vms = a.vms as number;
      const rate = a.rate as number;
      const total = a.total as number;
      const issue = new Array<number>(total);
      const revs = new Int32Array(vms);
      const l: LoadState = { durable: new Array<number>(total).fill(0), writes: [], errors: 0, firstError: '', cpu0: process.cpuUsage(), batches0: node.syncedBatches() };
      currentLoad = l;
      let maxLagMs = 0;
      const start = wallMs();
      let next = 0;
      while (next < total) {
        const due = Math.min(total, Math.floor(((wallMs() - start) * rate) / 1000) + 1);
        while (next < due) {
          const seq = next++;
          const vm = seq % vms;
          const rev = revs[vm]!++;
          const t = wallMs();
          issue[seq] = t;
          maxLagMs = Math.max(maxLagMs, t - (start + (seq * 1000) / rate));
          l.writes.push(
            replica.putVm(benchVm(prefix, vm, rev, seq)).then(
              () => {
                l.durable[seq] = wallMs();
              },
              (err: unknown) => {
                l.errors++;
                l.firstError ||= String(err);
              },
            ),
          );
        }
        await sleep(1);
      }
      return { start, issue, maxLagMs, issueMs: wallMs() - start };
    },
    /** The last load's acknowledgements, waiting at most `waitMs` for the outstanding ones (durable 0: not yet). */
    async loadResult(a) {
      const l = currentLoad;
      if (!l) throw new Error('no load');
      await Promise.race([Promise.all(l.writes), sleep((a.waitMs as number | undefined) ?? 0)]);
      const cpu = process.cpuUsage(l.cpu0);
      const pending = l.durable.filter((d) => d === 0).length - l.errors;
      return { durable: l.durable, errors: l.errors, firstError: l.firstError, pending, cpuMs: (cpu.user + cpu.system) / 1000, batches: node.syncedBatches() - l.batches0 };
    },
    /** VMs [from, from+count) at revision `rev`, `concurrency` writes in flight. */
    async putMany(a) {
      const prefix = a.prefix as string;
      const from = a.from as number;
      const count = a.count as number;
      const rev = a.rev as number;
      const t = performance.now();
      let next = from;
      const writer = async (): Promise<void> => {
        while (next < from + count) {
          const i = next++;
          await replica.putVm(benchVm(prefix, i, rev, i));
        }
      };
      await Promise.all(Array.from({ length: (a.concurrency as number | undefined) ?? 256 }, writer));
      return { ms: performance.now() - t };
    },
    /** Sequential one-op synced writes on a separate LevelStore in this node's directory: the disk's fsync latency now. */
    async fsyncProbe(a) {
      const store = new LevelStore({ dir: join(init.dir, `fsync-probe-${Date.now()}`) });
      await store.open();
      const lat: number[] = [];
      try {
        for (let i = 0; i < ((a.count as number | undefined) ?? 100); i++) {
          const t = performance.now();
          await store.write([{ type: 'put', sublevel: 'meta', key: `k${i}`, value: new Uint8Array(128) }]);
          lat.push(performance.now() - t);
        }
      } finally {
        await store.close();
      }
      lat.sort((x, y) => x - y);
      return { p50: lat[Math.floor(lat.length / 2)], p99: lat[Math.min(lat.length - 1, Math.ceil(lat.length * 0.99) - 1)] };
    },
    cpu: () => {
      const c = process.cpuUsage();
      return { cpuMs: (c.user + c.system) / 1000, mainCpuMs: mainThreadCpuMs(), elu: performance.eventLoopUtilization() };
    },
    count: (a) => replica.list(a.prefix as string).length,
    digest: () => ({
      hash: createHash('sha256').update(replica.digest.summary().join('')).digest('hex').slice(0, 16),
      vms: replica.list('vm/').length,
      lastChangeAt,
    }),
    partition(a) {
      node.shim!.partition(a.reachable as string[]);
      return { at: wallMs() };
    },
    heal() {
      node.shim!.heal();
      return { at: wallMs() };
    },
    /** Heal this node's shim (optional) and run anti-entropy with each peer at once. */
    async sync(a) {
      const t = wallMs();
      if (a.heal === true) node.shim!.heal();
      const results = await Promise.all(
        (a.peers as string[]).map((p) =>
          node.ae!.syncWith(p).then(
            (r) => ({ ...r, doneAt: wallMs() }),
            (err: unknown) => ({ peer: p, error: String(err), doneAt: wallMs() }),
          ),
        ),
      );
      return { at: t, results };
    },
    /** Sequential Paxos decisions on distinct keys; latencies in µs. */
    async paxos(a) {
      const prefix = a.prefix as string;
      const warmup = a.warmup as number;
      const count = a.count as number;
      let failures = 0;
      let firstError = '';
      for (let i = 0; i < warmup; i++) {
        try {
          await node.paxos!.propose(`${prefix}:w${i}`, { i, warm: true });
        } catch (err) {
          failures++;
          firstError ||= String(err);
        }
      }
      const lat: number[] = [];
      const cpu0 = process.cpuUsage();
      const t = performance.now();
      for (let i = 0; i < count; i++) {
        const s = performance.now();
        try {
          const d = await node.paxos!.propose(`${prefix}:${i}`, { i, by: init.nodeId });
          if ((d.value as { i?: unknown }).i !== i) throw new Error(`decided another value for ${prefix}:${i}`);
          lat.push((performance.now() - s) * 1000);
        } catch (err) {
          failures++;
          firstError ||= String(err);
        }
      }
      const cpu = process.cpuUsage(cpu0);
      return { lat, failures, firstError, ms: performance.now() - t, cpuMs: (cpu.user + cpu.system) / 1000 };
    },
    stop: () => {
      setImmediate(() => void shutdown(0));
      return { ok: true };
    },
  };

  process.on('message', (raw) => {
    const msg = raw as Command;
    const h = handlers[msg.cmd];
    if (!h) {
      send({ id: msg.id, ok: false, error: `unknown command ${msg.cmd}` });
      return;
    }
    Promise.resolve()
      .then(() => h(msg.args ?? {}))
      .then(
        (result) => send({ id: msg.id, ok: true, result }),
        (err: unknown) => send({ id: msg.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
      );
  });
  send({ event: 'ready', nodeId: init.nodeId, addrs: transport.multiaddrs(), startMs: performance.now() - t0 });
}

main().catch((err: unknown) => {
  send({ event: 'fatal', error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.stderr.write(`net-node fatal: ${String(err)}\n`);
  setTimeout(() => process.exit(1), 100);
});
