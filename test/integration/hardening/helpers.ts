/**
 * Agents without the agent: a real libp2p transport (src/adapters/libp2p) composed with a real
 * replica the way src/agent/agent.ts composes them (gossip and rejections wired the same way),
 * over an in-memory store and the system clock; and a "raw" rogue: a bare libp2p node with
 * gossipsub that can capture the signed messages it receives and send any RPC to a peer, signed
 * messages of other peers included (a replay), bypassing every check of its own gossipsub.
 */
import '../../support/polyfill.js';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys';
import { gossipsub, type GossipSub } from '@libp2p/gossipsub';
import { RPC } from '@libp2p/gossipsub/message';
import { identify } from '@libp2p/identify';
import type { PeerId, PrivateKey } from '@libp2p/interface';
import { preSharedKey } from '@libp2p/pnet';
import { tcp } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p, type Libp2p } from 'libp2p';
import { fork, type ChildProcess } from 'node:child_process';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { FakeHypervisor } from '../../../src/adapters/hypervisor/fake-hypervisor.js';
import { SystemClock } from '../../../src/adapters/clock/system-clock.js';
import {
  createLibp2pTransport,
  gossipTopic,
  RejectionAuditor,
  type Libp2pTransport,
  type Libp2pTransportInit,
  type RejectReason,
} from '../../../src/adapters/libp2p/index.js';
import { MemoryStore } from '../../../src/adapters/memory/memory-store.js';
import { policyPresets } from '../../../src/core/policy/presets.js';
import type { Store } from '../../../src/replica/ports.js';
import { AuditLog, type AuditEntry } from '../../../src/replica/audit-log.js';
import { Replica, type ReplicaObserver } from '../../../src/replica/replica.js';
import { createResolver } from '../../../src/replica/resolver.js';
import { vm } from '../../support/cluster.js';

export const CLUSTER = 'hardening';
export const TOPIC = gossipTopic(CLUSTER);

export interface AgentNode {
  readonly nodeId: string;
  readonly t: Libp2pTransport;
  readonly replica: Replica;
  readonly store: Store;
  /** Transport refusals and bans to the audit log, aggregated, wired as the agent wires them. */
  readonly rejections: RejectionAuditor;
  /** Transport-level refusals by reason (the transport's onRejected, as the agent counts them). */
  readonly refused: Record<string, number>;
  /** The same by `<reason> <peer>` (peer `unknown` when the transport could not say). */
  readonly refusedBy: Record<string, number>;
  /** The replica's classification of remote versions (stale, duplicate, fast_forward, …). */
  readonly outcomes: Record<string, number>;
  /** Gossip payloads the replica refused (its `rejected` events). */
  readonly replicaRejected: Array<{ from: string; reason: string }>;
  /** Peers the transport banned (its onPeerBanned). */
  readonly bans: Array<{ peer: string; reason: string; at: number }>;
  addr(): string;
  pubsub(): GossipSub;
  stop(): Promise<void>;
}

export interface AgentNodeOptions {
  /** The replica's store (default: a MemoryStore), opened here and closed by `stop`. */
  readonly store?: Store;
  /** The refusal auditor's interval (default 10 s, the agent's). */
  readonly auditIntervalMs?: number;
  /** The replica's gossip batching (default: flush after 5 ms, the product's batch size). */
  readonly gossipFlushMs?: number;
  readonly gossipMaxBatch?: number;
}

export async function startAgentNode(nodeId: string, psk: Uint8Array, init: Partial<Libp2pTransportInit> = {}, options: AgentNodeOptions = {}): Promise<AgentNode> {
  const ref: { replica?: Replica } = {};
  const clock = new SystemClock();
  const rejections = new RejectionAuditor(
    { intervalMs: options.auditIntervalMs ?? 10_000 },
    { clock, write: (kind, data) => ref.replica?.recordAudit(kind, data) ?? Promise.reject(new Error('no replica')) },
  );
  const refused: Record<string, number> = {};
  const refusedBy: Record<string, number> = {};
  const outcomes: Record<string, number> = {};
  const replicaRejected: Array<{ from: string; reason: string }> = [];
  const bans: Array<{ peer: string; reason: string; at: number }> = [];
  const t = createLibp2pTransport(
    {
      nodeId,
      cluster: CLUSTER,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      psk,
      requestTimeoutMs: 5_000,
      helloTimeoutMs: 5_000,
      dialTimeoutMs: 5_000,
      redialIntervalMs: 500,
      ...init,
    },
    {
      onRejected: (reason: RejectReason, peer) => {
        refused[reason] = (refused[reason] ?? 0) + 1;
        const key = `${reason} ${peer ?? 'unknown'}`;
        refusedBy[key] = (refusedBy[key] ?? 0) + 1;
        rejections.note(reason, peer);
      },
      onPeerBanned: (peer, reason, until) => {
        bans.push({ peer, reason, at: performance.now() });
        void rejections.banned(peer, reason, until);
      },
    },
  );
  const store = options.store ?? new MemoryStore();
  await store.open();
  const observer: ReplicaObserver = { remoteVersion: (o) => (outcomes[o] = (outcomes[o] ?? 0) + 1) };
  const replica = new Replica(
    { nodeId, gossipFlushMs: options.gossipFlushMs ?? 5, ...(options.gossipMaxBatch !== undefined ? { gossipMaxBatch: options.gossipMaxBatch } : {}) },
    { store, transport: t, clock, hypervisor: new FakeHypervisor(), resolver: createResolver({ policy: () => policyPresets.production }), observer },
  );
  ref.replica = replica;
  replica.on('rejected', (e) => replicaRejected.push(e));
  await replica.start();
  await t.start();
  return {
    nodeId,
    t,
    replica,
    store,
    rejections,
    refused,
    refusedBy,
    outcomes,
    replicaRejected,
    bans,
    addr: () => t.multiaddrs()[0]!,
    pubsub: () => pubsubOf(t),
    async stop() {
      await rejections.stop();
      await replica.stop();
      await t.stop();
      clock.clearAll();
      await store.close();
    },
  };
}

/** The transport's gossipsub (private to the transport: tests only, to read scores and age the seen-cache). */
export function pubsubOf(t: Libp2pTransport): GossipSub {
  const node = (t as unknown as { node?: Libp2p<{ pubsub: GossipSub }> }).node;
  if (!node) throw new Error('transport not started');
  return node.services.pubsub;
}

/**
 * Expires every entry of gossipsub's seen-cache now. The transport has no option for gossipsub's
 * `seenTTL` (2 minutes), and a test cannot wait that long, so the cache is emptied: what happens
 * when its TTL has passed.
 */
export function expireSeenCache(ps: GossipSub): number {
  const cache = (ps as unknown as { seenCache?: { clear(): void; size: number } }).seenCache;
  if (!cache || typeof cache.clear !== 'function') throw new Error('gossipsub has no seenCache to expire (internals changed?)');
  const n = cache.size;
  cache.clear();
  // With a fastMsgIdFn, gossipsub also remembers (fast id -> message id) for the same TTL: it expires too.
  (ps as unknown as { fastMsgIdCache?: { clear(): void } }).fastMsgIdCache?.clear();
  return n;
}

/** Members of the GossipSub class that its exported interface does not declare. */
interface GossipSubInternals {
  getScore(peerId: string): number;
  readonly streamsOutbound: Map<string, unknown>;
  sendRpc(id: string, rpc: RPC): boolean;
  handleReceivedRpc(from: PeerId, rpc: RPC): Promise<void>;
}

function internals(ps: GossipSub): GossipSubInternals {
  return ps as unknown as GossipSubInternals;
}

/** A gossipsub score (0 for a peer it has no record of). */
export function scoreOf(ps: GossipSub, peerId: string): number {
  return internals(ps).getScore(peerId);
}

export type RawMessage = RPC.Message;

export interface RawRogue {
  readonly peerId: string;
  /** Signed messages received on the topic, exactly as they arrived (signature, seqno, key). */
  readonly captured: RawMessage[];
  dial(addr: string): Promise<void>;
  /** Waits until the rogue can send gossipsub RPCs to `peerId` and `peerId` knows its subscription. */
  ready(peerId: string, timeoutMs?: number): Promise<void>;
  /** A message signed with the rogue's own key (a fresh seqno each time). */
  sign(data: Uint8Array): RawMessage;
  /** A message with the rogue's key as author but a signature that does not verify. */
  forge(data: Uint8Array): RawMessage;
  /** Sends messages to one peer in one RPC (no seen-cache, no validation on the rogue's side). */
  send(peerId: string, messages: readonly RawMessage[]): boolean;
  /**
   * Like `send`, respecting backpressure as a careful attacker would (a stream whose write buffer
   * overflows is reset by libp2p): 'busy' when the stream to `peerId` must drain first (nothing
   * sent), 'gone' when there is no stream.
   */
  trySend(peerId: string, messages: readonly RawMessage[]): 'sent' | 'busy' | 'gone';
  stop(): Promise<void>;
}

const SIGN_PREFIX = new TextEncoder().encode('libp2p-pubsub:');

export async function startRawRogue(psk: Uint8Array): Promise<RawRogue> {
  const privateKey: PrivateKey = await generateKeyPair('Ed25519');
  const node = await createLibp2p({
    privateKey,
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionProtector: preSharedKey({ psk }),
    services: {
      identify: identify(),
      pubsub: gossipsub({ globalSignaturePolicy: 'StrictSign', allowPublishToZeroTopicPeers: true, fallbackToFloodsub: false, emitSelf: false }),
    },
  });
  const ps = node.services.pubsub;
  ps.subscribe(TOPIC);
  const captured: RawMessage[] = [];
  // Capture inbound RPC messages before the rogue's own gossipsub looks at them.
  const inner = internals(ps);
  const original = inner.handleReceivedRpc.bind(ps);
  inner.handleReceivedRpc = (from, rpc) => {
    for (const m of rpc.messages) if (m.topic === TOPIC && m.signature !== undefined) captured.push(m);
    return original(from, rpc);
  };
  const author = node.peerId.toMultihash().bytes;
  const key = publicKeyToProtobuf(privateKey.publicKey);
  let seq = BigInt(Date.now()) * 1_000_000n;
  const seqno = (): Uint8Array => {
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, ++seq, false);
    return out;
  };
  const sendRpc = inner.sendRpc.bind(ps);
  const sign = (data: Uint8Array): RawMessage => {
    const msg: RawMessage = { from: author, data, seqno: seqno(), topic: TOPIC, signature: undefined, key: undefined };
    const signature = privateKey.sign(concatBytes(SIGN_PREFIX, RPC.Message.encode(msg)));
    if (signature instanceof Promise) throw new Error('expected a synchronous Ed25519 signer');
    return { ...msg, signature, key };
  };
  return {
    peerId: node.peerId.toString(),
    captured,
    async dial(addr) {
      await node.dial(multiaddr(addr));
    },
    async ready(peerId, timeoutMs = 10_000) {
      const end = Date.now() + timeoutMs;
      while (!(inner.streamsOutbound.has(peerId) && ps.getSubscribers(TOPIC).some((p) => p.toString() === peerId))) {
        if (Date.now() > end) throw new Error(`rogue: no gossipsub stream to ${peerId} after ${timeoutMs} ms`);
        await sleep(20);
      }
      await sleep(200); // the peer has processed the rogue's subscription too
    },
    sign,
    forge(data) {
      const m = sign(data);
      const signature = m.signature!.slice();
      signature[0]! ^= 0xff;
      return { ...m, signature };
    },
    send(peerId, messages) {
      return sendRpc(peerId, { subscriptions: [], messages: [...messages] });
    },
    trySend(peerId, messages) {
      const out = inner.streamsOutbound.get(peerId) as { rawStream?: { writableNeedsDrain: boolean; send(b: Uint8Array): boolean } } | undefined;
      const raw = out?.rawStream;
      if (!raw) return 'gone';
      if (raw.writableNeedsDrain) return 'busy';
      const body = RPC.encode({ subscriptions: [], messages: [...messages] });
      try {
        raw.send(concatBytes(varint(body.length), body));
      } catch {
        return 'gone';
      }
      return 'sent';
    },
    async stop() {
      await node.stop();
    },
  };
}

/** An unsigned varint (the length prefix of gossipsub's stream framing). */
function varint(n: number): Uint8Array {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Uint8Array.from(out);
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000, stepMs = 20): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

/** A full garbage collection (V8's `gc`, reached without starting node with --expose-gc). */
export function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
}

/** The p-th percentile (nearest rank) of `xs`. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/**
 * A test helper process (`node --import tsx <script>`) driven over IPC: `ask` sends one message
 * and resolves with the next answer (`{type: 'error', message}` rejects). `stop` asks it to exit,
 * and kills it if it has not within 2 s.
 */
export class HelperProcess<To extends { type: string }, From extends { type: string }> {
  private readonly waiters: Array<(m: From) => void> = [];
  readonly child: ChildProcess;

  constructor(script: string) {
    this.child = fork(script, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m: From) => {
      for (const w of this.waiters.splice(0)) w(m);
    });
  }

  ask(m: To, timeoutMs: number): Promise<From> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`helper process: no answer to ${m.type} in ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push((r) => {
        clearTimeout(timer);
        if (r.type === 'error') reject(new Error(`helper process: ${(r as unknown as { message: string }).message}`));
        else resolve(r);
      });
      this.child.send(m);
    });
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.connected) this.child.send({ type: 'stop' });
    setTimeout(() => {
      if (this.child.exitCode === null && this.child.pid !== undefined) this.child.kill('SIGKILL');
    }, 2_000).unref();
  }
}

/** Audit entries in a running node's store (read through a second AuditLog over the same store). */
export async function auditEntriesOf(store: Store): Promise<AuditEntry[]> {
  const log = new AuditLog(store);
  await log.load();
  const entries: AuditEntry[] = [];
  for await (const e of log.entries()) entries.push(e);
  return entries;
}

/**
 * Three agents hv-1..hv-3, each bootstrapping from the ones before it, once fully connected. Each is
 * pushed onto `nodes` as it starts (the caller's list for cleanup).
 */
export async function startTrio(psk: Uint8Array, init: Partial<Libp2pTransportInit>, nodes: AgentNode[]): Promise<AgentNode[]> {
  const trio: AgentNode[] = [];
  for (let i = 1; i <= 3; i++) {
    const n = await startAgentNode(`hv-${i}`, psk, { ...init, bootstrap: trio.map((x) => x.addr()) });
    trio.push(n);
    nodes.push(n);
  }
  await waitFor('a full mesh of bound peers', () => trio.every((n) => n.t.peers().length === 2), 15_000);
  return trio;
}

export interface HonestWrite {
  readonly id: string;
  readonly by: AgentNode;
  readonly at: number;
}

/** Honest VM writes round-robin over `nodes`, with when each arrived at every other node. */
export interface HonestWrites {
  readonly writes: HonestWrite[];
  /** The next node writes the next VM (`honest-<k>`). */
  readonly write: () => Promise<void>;
  /** Applied on every node but its writer. */
  readonly arrived: (w: HonestWrite) => boolean;
  /** Time until the last other node applied it (ms), or Infinity. */
  readonly latency: (w: HonestWrite) => number;
}

export function trackHonestWrites(nodes: readonly AgentNode[]): HonestWrites {
  const arrivals = new Map<string, Map<string, number>>(nodes.map((n) => [n.nodeId, new Map()]));
  for (const n of nodes) n.replica.on('applied', (e) => arrivals.get(n.nodeId)!.set(e.version.id, performance.now()));
  const writes: HonestWrite[] = [];
  let k = 0;
  const arrived = (w: HonestWrite): boolean => nodes.every((n) => n === w.by || arrivals.get(n.nodeId)!.has(w.id));
  return {
    writes,
    write: async () => {
      const by = nodes[k % nodes.length]!;
      const at = performance.now();
      const v = await by.replica.putVm(vm(`honest-${k++}`, { host: by.nodeId }));
      writes.push({ id: v.id, by, at });
    },
    arrived,
    latency: (w) => (arrived(w) ? Math.max(...nodes.filter((n) => n !== w.by).map((n) => arrivals.get(n.nodeId)!.get(w.id)!)) - w.at : Infinity),
  };
}
