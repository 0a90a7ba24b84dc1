import './polyfill.js';
import './xsalsa20-fix.js';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { bootstrap } from '@libp2p/bootstrap';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { gossipsub, TopicValidatorResult, type GossipSub, type Message, type SubscriptionChangeData } from '@libp2p/gossipsub';
import { identify, type Identify } from '@libp2p/identify';
import type { Connection, ConnectionGater, PeerId, PrivateKey, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { ping, type Ping } from '@libp2p/ping';
import { preSharedKey } from '@libp2p/pnet';
import { tcp } from '@libp2p/tcp';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { Buffer } from 'node:buffer';
import { createLibp2p, type Libp2p } from 'libp2p';
import { NODE_ID_PATTERN } from '../../core/clock/node-ids.js';
import { DwcpError } from '../../core/errors.js';
import type { PeerState, Transport } from '../../replica/ports.js';
import { NodeBindings } from './bindings.js';
import { decodeEnvelope, encodeEnvelope, type DecodedEnvelope } from './envelope.js';
import {
  PayloadTooLargeError,
  PskRequiredError,
  RequestAbortedError,
  RequestTimeoutError,
  TransportNotStartedError,
  UnknownPeerError,
} from './errors.js';
import { rejectionMetricsRegister } from './gossip-metrics.js';
import { silentLogger, type TransportLogger } from './logger.js';
import {
  BAN_REASONS,
  GOSSIP_SCORE_THRESHOLDS,
  meshDegrees,
  gossipTopic,
  gossipTopicScoreParams,
  REJECT_REASONS,
  RPC_PROTOCOL,
  transportDefaults,
  type Libp2pTransportComponents,
  type Libp2pTransportInit,
  type BanReason,
  type Libp2pTransportStats,
  type RejectReason,
} from './options.js';
import { PeerGuard } from './peer-guard.js';
import { parsePsk } from './psk.js';
import { ReplayGuard, SeqCounter } from './replay-guard.js';
import { RpcChannel, type RpcChannelComponents } from './rpc-channel.js';
import { decodeHello, encodeHello, helloSigningBytes } from './rpc-codec.js';

type Services = { identify: Identify; ping: Ping; pubsub: GossipSub };
type Status = 'stopped' | 'starting' | 'started' | 'stopping';
type Resolved = Required<Omit<Libp2pTransportInit, 'psk' | 'announce'>> & Pick<Libp2pTransportInit, 'psk' | 'announce'>;

interface QueuedPublish {
  readonly data: Uint8Array;
  readonly since: number;
}

interface RedialState {
  nextAt: number;
  delay: number;
}

/** Envelope header (3 bytes + node id up to 64 + seq + ts) on top of the body. */
const ENVELOPE_OVERHEAD = 3 + 64 + 16;
const RETRY_MIN_MS = 25;
const RETRY_MAX_MS = 1_000;
const REDIAL_MAX_MS = 30_000;
/** Rejections logged at most once a second per reason (a flood must not flood the log too). */
const REJECT_LOG_INTERVAL_MS = 1_000;
/** Peers (buckets, strikes, bans) the flood guard tracks at most. */
const GUARD_MAX_PEERS = 4_096;
/** gossipsub's own signature/format checks, as reported by its metric (see gossip-metrics.ts). */
const GOSSIPSUB_FORMAT_ERRORS = new Set(['invalid_signature', 'invalid_seqno', 'invalid_peerid', 'signature_present', 'seqno_present', 'from_present']);

/**
 * gossipsub's fast message id: the signer and sequence number, as StrictSign's message id is. Known
 * ids are recorded only for messages whose signature checked out, so a copy of a message already
 * received (every mesh peer forwards one) is dropped as a duplicate before its signature is verified
 * again; a forged message with a known id was dropped before too (as invalid) and is now ignored.
 */
function fastMsgId(msg: { readonly from?: Uint8Array; readonly seqno?: Uint8Array }): string {
  if (msg.from === undefined || msg.seqno === undefined) return '';
  return Buffer.from(msg.from.buffer, msg.from.byteOffset, msg.from.byteLength).toString('base64') + '/' + Buffer.from(msg.seqno.buffer, msg.seqno.byteOffset, msg.seqno.byteLength).toString('hex');
}

/** The parts of gossipsub 17's seen-caches that `forgetSeen` uses (not in its exported types). */
interface GossipsubSeenInternals {
  readonly seenCache?: { readonly entries?: Map<string, unknown> };
  readonly fastMsgIdCache?: { readonly entries?: Map<string, unknown> };
  readonly msgIdFn?: (msg: Message) => Uint8Array | Promise<Uint8Array>;
  readonly msgIdToStrFn?: (id: Uint8Array) => string;
}

/**
 * The production `Transport`: libp2p over TCP with noise, yamux and a private network (pnet).
 *
 * - `publish` signs (StrictSign) and gossips a versioned envelope on `/dwcp/<cluster>/gossip/1`;
 *   a publish nobody could receive yet is retried with backoff for `publishRetryMs`.
 * - `request` runs over one long-lived `/dwcp/rpc/1` stream per peer with multiplexed request ids.
 * - Peers are addressed by node id; the node id ↔ peer id binding comes from a signed hello on the
 *   rpc stream, or from the first valid signed gossip, or from `pinnedBindings`.
 * - `onPeer` reports `up` when a connected peer's node id is known and `down` when its last
 *   connection closes. Liveness beyond that is the agent's heartbeats' business.
 */
export class Libp2pTransport implements Transport {
  readonly nodeId: string;
  readonly topic: string;
  private readonly opts: Resolved;
  private readonly log: TransportLogger;
  private readonly now: () => number;
  private readonly components: Libp2pTransportComponents;
  private status: Status = 'stopped';
  private transition: Promise<void> | undefined;
  private node: Libp2p<Services> | undefined;
  private privateKey: PrivateKey | undefined;
  private selfPeerId = '';
  private shutdown = new AbortController();
  private binding: NodeBindings | undefined;
  private readonly guard: ReplayGuard;
  private readonly seq: SeqCounter;

  private messageHandler: ((from: string, payload: Uint8Array) => void) | undefined;
  private requestHandler: ((from: string, payload: Uint8Array) => Promise<Uint8Array>) | undefined;
  private readonly peerHandlers: Array<(peer: string, state: PeerState) => void> = [];

  /** Connected peers and when they connected (performance.now()). */
  private readonly connected = new Map<string, number>();
  private readonly up = new Set<string>();
  private readonly channels = new Map<string, Set<RpcChannel>>();
  private readonly opening = new Map<string, Promise<RpcChannel>>();
  private readonly decoded = new WeakMap<Message, DecodedEnvelope>();
  private readonly channelComponents: RpcChannelComponents;

  private queue: QueuedPublish[] = [];
  private pumping = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay = RETRY_MIN_MS;
  private redialTimer: NodeJS.Timeout | undefined;
  private readonly redialState = new Map<string, RedialState>();
  private readonly bootstrapAddrs: Array<{ peer: string; addr: Multiaddr }>;
  private readonly detach: Array<() => void> = [];

  private readonly rejected: Record<RejectReason, number>;
  private readonly peerGuard: PeerGuard;
  private readonly banCounts = Object.fromEntries(BAN_REASONS.map((r) => [r, 0])) as Record<BanReason, number>;
  /** Per reject reason: when it was last logged, and how many went unlogged since. */
  private readonly rejectLog = new Map<RejectReason, { at: number; suppressed: number }>();
  private readonly counters = {
    bindingConflicts: 0,
    gossipPublished: 0,
    gossipRetries: 0,
    gossipDropped: 0,
    gossipOversized: 0,
    gossipDelivered: 0,
    gossipCompressed: 0,
    rpcStreamsOpened: 0,
    rpcStreamsAccepted: 0,
    requestsSent: 0,
    requestsServed: 0,
    requestFailures: 0,
    requestTimeouts: 0,
  };

  constructor(init: Libp2pTransportInit, components: Libp2pTransportComponents = {}) {
    if (!NODE_ID_PATTERN.test(init.nodeId)) {
      throw new DwcpError('ERR_INVALID_CONFIG', `invalid node id ${JSON.stringify(init.nodeId)}: expected 1-64 characters of [A-Za-z0-9._-]`, {
        field: 'nodeId',
      });
    }
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(init.cluster)) {
      throw new DwcpError('ERR_INVALID_CONFIG', `invalid cluster name ${JSON.stringify(init.cluster)}: expected 1-64 characters of [A-Za-z0-9._-]`, {
        field: 'cluster',
      });
    }
    this.opts = {
      ...transportDefaults,
      allowPeers: [],
      bootstrap: [],
      pinnedBindings: {},
      insecureNoPsk: false,
      ...stripUndefined(init),
    } as Resolved;
    this.nodeId = init.nodeId;
    this.topic = gossipTopic(init.cluster);
    this.components = components;
    this.log = components.logger ?? silentLogger;
    this.now = components.now ?? Date.now;
    this.guard = new ReplayGuard(this.opts.replayWindow);
    this.seq = new SeqCounter(this.now);
    this.rejected = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>;
    this.peerGuard = new PeerGuard({
      ratePerSec: this.opts.peerMessageRate,
      burst: Math.max(1, this.opts.peerMessageBurst),
      banAfterStrikes: this.opts.banAfterInvalid,
      strikeWindowMs: Math.max(1, this.opts.banStrikeWindowMs),
      banMs: this.opts.banMs,
      maxPeers: GUARD_MAX_PEERS,
      newcomerMs: this.opts.newcomerMs,
      newcomerRatePerSec: this.opts.newcomerMessageRate,
      newcomerBurst: Math.max(1, this.opts.newcomerMessageBurst),
      newcomerStrikes: this.opts.newcomerInvalidLimit,
      overuseFactor: this.opts.overuseFactor,
      overuseMs: this.opts.overuseMs,
    });
    this.bootstrapAddrs = this.opts.bootstrap.map((s) => {
      const addr = multiaddr(s);
      const peer = addr.getComponents().findLast((c) => c.name === 'p2p')?.value;
      if (peer === undefined) {
        throw new DwcpError('ERR_INVALID_CONFIG', `bootstrap address ${s} has no /p2p/<peer id>`, { field: 'bootstrap', value: s });
      }
      return { peer, addr };
    });
    this.channelComponents = {
      log: this.log,
      makeHello: (remote) => this.makeHello(remote),
      acceptHello: (remote, payload) => this.acceptHello(remote, payload),
      requestHandler: () => (this.requestHandler ? this.servedHandler : undefined),
      onReady: (ch) => this.maybeUp(ch.remotePeerId),
      onClose: (ch) => this.channels.get(ch.remotePeerId)?.delete(ch),
    };
  }

  // ---- lifecycle ---------------------------------------------------------------------------------

  /** Starts libp2p, subscribes to the gossip topic, starts redialling. Idempotent. */
  async start(): Promise<void> {
    if (this.status === 'started') return;
    if (this.status === 'starting') return this.transition;
    if (this.status === 'stopping') await this.transition;
    this.status = 'starting';
    this.transition = this.doStart().then(
      () => {
        this.status = 'started';
      },
      async (err: unknown) => {
        this.log.error('libp2p transport failed to start', { error: String(err) });
        await this.teardown();
        this.status = 'stopped';
        throw err;
      },
    );
    return this.transition;
  }

  /** Stops everything in reverse order; pending requests fail with ERR_ABORTED. Idempotent. */
  async stop(): Promise<void> {
    if (this.status === 'stopped') return;
    if (this.status === 'stopping') return this.transition;
    if (this.status === 'starting') await this.transition?.catch(() => undefined);
    if (this.status !== 'started') return;
    this.status = 'stopping';
    this.transition = this.teardown().finally(() => {
      this.status = 'stopped';
    });
    return this.transition;
  }

  private async doStart(): Promise<void> {
    const psk = this.opts.psk ? parsePsk(this.opts.psk, 'psk option') : undefined;
    if (!psk) {
      if (!this.opts.insecureNoPsk) throw new PskRequiredError();
      this.log.warn(
        'INSECURE: the libp2p transport runs WITHOUT a private-network key (insecureNoPsk); anyone who can reach its port can join the cluster. Development only.',
        { nodeId: this.nodeId },
      );
    }
    let privateKey = this.components.privateKey ?? this.privateKey;
    if (!privateKey) {
      privateKey = await generateKeyPair('Ed25519');
      this.log.warn('no identity key given: using an ephemeral one (a new peer id for every transport object)', { nodeId: this.nodeId });
    }
    this.privateKey = privateKey;
    this.shutdown = new AbortController();
    const maxWire = this.opts.maxMessageBytes + ENVELOPE_OVERHEAD;

    const node = await createLibp2p<Services>({
      start: false,
      privateKey,
      addresses: { listen: [...this.opts.listen], ...(this.opts.announce ? { announce: [...this.opts.announce] } : {}) },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      ...(psk ? { connectionProtector: preSharedKey({ psk }) } : {}),
      connectionGater: this.gater(),
      connectionManager: {
        inboundConnectionThreshold: this.opts.inboundConnectionThreshold,
        maxIncomingPendingConnections: 64,
        dialTimeout: this.opts.dialTimeoutMs,
      },
      peerDiscovery:
        this.bootstrapAddrs.length > 0
          ? [bootstrap({ list: this.opts.bootstrap.map(String), timeout: 10, tagName: 'keep-alive-dwcp-bootstrap' })]
          : [],
      services: {
        identify: identify(),
        ping: ping(),
        pubsub: gossipsub({
          globalSignaturePolicy: 'StrictSign',
          allowPublishToZeroTopicPeers: false,
          emitSelf: false,
          fallbackToFloodsub: false,
          floodPublish: true,
          ...meshDegrees(this.opts.gossipMeshDegree),
          // No IDONTWANT: with flood publishing and a mesh of 2, a receiver's IDONTWANT seldom reaches a
          // mesh peer before it forwarded anyway, and each one costs that peer an RPC to decrypt and
          // decode (gossip.propagation.5, two runs each: receivers 278 vs 282-303 µs CPU per update).
          idontwantMinDataSize: Number.MAX_SAFE_INTEGER,
          heartbeatInterval: this.opts.gossipHeartbeatMs,
          maxInboundDataLength: Math.max(4 * 1024 * 1024, 2 * maxWire + 64 * 1024),
          allowedTopics: [this.topic],
          fastMsgIdFn: fastMsgId,
          // Agents of one cluster often share an address (tests, NAT): no IP colocation penalty.
          // Invalid messages on the dwcp topic are scored (see gossipTopicScoreParams).
          scoreParams: { IPColocationFactorWeight: 0, topics: { [this.topic]: gossipTopicScoreParams() } },
          scoreThresholds: { ...GOSSIP_SCORE_THRESHOLDS },
          metricsRegister: rejectionMetricsRegister((error) => this.onGossipsubInvalid(error)),
          metricsTopicStrToLabel: new Map([[this.topic, 'gossip']]),
        }),
      },
    });
    this.node = node;
    this.selfPeerId = node.peerId.toString();
    this.binding = new NodeBindings({ nodeId: this.nodeId, peerId: this.selfPeerId }, this.opts.pinnedBindings);

    const onConnect = (evt: CustomEvent<PeerId>): void => this.onConnect(evt.detail.toString());
    const onDisconnect = (evt: CustomEvent<PeerId>): void => this.onDisconnect(evt.detail.toString());
    const onConnectionOpen = (evt: CustomEvent<Connection>): void => this.onConnectionOpen(evt.detail);
    node.addEventListener('peer:connect', onConnect);
    node.addEventListener('peer:disconnect', onDisconnect);
    node.addEventListener('connection:open', onConnectionOpen);
    const pubsub = node.services.pubsub;
    const onMessage = (evt: CustomEvent<Message>): void => this.onGossip(evt.detail);
    const onSubscription = (evt: CustomEvent<SubscriptionChangeData>): void => this.onSubscriptionChange(evt.detail);
    const onHeartbeat = (): void => this.banLowScores(pubsub);
    pubsub.addEventListener('message', onMessage);
    pubsub.addEventListener('subscription-change', onSubscription);
    pubsub.addEventListener('gossipsub:heartbeat', onHeartbeat);
    pubsub.topicValidators.set(this.topic, (source, msg) => this.validate(source.toString(), msg));
    this.detach.push(() => {
      node.removeEventListener('peer:connect', onConnect);
      node.removeEventListener('peer:disconnect', onDisconnect);
      node.removeEventListener('connection:open', onConnectionOpen);
      pubsub.removeEventListener('message', onMessage);
      pubsub.removeEventListener('subscription-change', onSubscription);
      pubsub.removeEventListener('gossipsub:heartbeat', onHeartbeat);
      pubsub.topicValidators.delete(this.topic);
    });
    await node.handle(RPC_PROTOCOL, (stream, connection) => this.onInboundStream(stream, connection), {
      maxInboundStreams: 8,
      maxOutboundStreams: 8,
    });
    await node.start();
    pubsub.subscribe(this.topic);
    this.scheduleRedial(0);
    this.log.info('libp2p transport started', {
      nodeId: this.nodeId,
      peerId: this.selfPeerId,
      addresses: node.getMultiaddrs().map(String),
      privateNetwork: psk !== undefined,
    });
  }

  private async teardown(): Promise<void> {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    clearTimeout(this.redialTimer);
    this.redialTimer = undefined;
    this.shutdown.abort(new TransportNotStartedError('continue'));
    for (const set of this.channels.values()) for (const ch of [...set]) ch.close(undefined, false, true);
    this.channels.clear();
    this.counters.gossipDropped += this.queue.length;
    this.queue = [];
    const node = this.node;
    if (node) {
      try {
        await node.stop();
      } catch (err) {
        this.log.warn('libp2p stop failed', { error: String(err) });
      }
    }
    for (const off of this.detach.splice(0)) off();
    this.node = undefined;
    this.connected.clear();
    this.up.clear();
    this.redialState.clear();
    if (node) this.log.info('libp2p transport stopped', { nodeId: this.nodeId });
  }

  // ---- the Transport port ------------------------------------------------------------------------

  publish(payload: Uint8Array): void {
    if (this.status !== 'started') {
      this.counters.gossipDropped++;
      this.log.debug('publish while the transport is not started: dropped', { status: this.status });
      return;
    }
    if (payload.byteLength > this.opts.maxMessageBytes) {
      this.counters.gossipOversized++;
      this.log.error('publish refused: payload exceeds maxMessageBytes', { bytes: payload.byteLength, limit: this.opts.maxMessageBytes });
      return;
    }
    const now = this.now();
    const data = encodeEnvelope({ v: 1, node: this.nodeId, seq: this.seq.next(), ts: now, body: payload }, { compressAbove: this.opts.compressAbove });
    if ((data[1]! & 1) !== 0) this.counters.gossipCompressed++;
    this.queue.push({ data, since: now });
    if (this.queue.length > this.opts.maxQueuedPublishes) {
      this.queue.shift();
      this.counters.gossipDropped++;
    }
    this.kickPublisher();
  }

  onMessage(handler: (from: string, payload: Uint8Array) => void): void {
    this.messageHandler = handler;
  }

  /**
   * A request to the peer bound to node id `peer`, over its long-lived rpc stream (opened, and the
   * peer dialled, if needed). Fails with ERR_UNKNOWN_PEER (no binding), ERR_REQUEST_TIMEOUT (after
   * `timeoutMs`, default `requestTimeoutMs`), ERR_ABORTED (the signal, or `stop()`),
   * ERR_PEER_DISCONNECTED, or ERR_REMOTE (the peer's handler failed).
   */
  async request(peer: string, payload: Uint8Array, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<Uint8Array> {
    if (this.status !== 'started') throw new TransportNotStartedError('send a request');
    if (payload.byteLength > this.opts.maxRequestBytes) throw new PayloadTooLargeError('request', payload.byteLength, this.opts.maxRequestBytes);
    const peerId = this.binding?.peerOf(peer);
    if (peerId === undefined || peerId === this.selfPeerId) throw new UnknownPeerError(peer);
    if (options.signal?.aborted) throw new RequestAbortedError(peer, 'caller', { cause: options.signal.reason });
    this.counters.requestsSent++;
    const timeoutMs = options.timeoutMs ?? this.opts.requestTimeoutMs;
    const deadline = performance.now() + timeoutMs;
    try {
      const channel = this.readyChannel(peerId) ?? (await this.waitForChannel(peerId, peer, options.signal, deadline, timeoutMs));
      return await channel.request(payload, Math.max(1, deadline - performance.now()), options.signal, peer);
    } catch (err) {
      this.counters.requestFailures++;
      if (err instanceof RequestTimeoutError) this.counters.requestTimeouts++;
      throw err;
    }
  }

  onRequest(handler: (from: string, payload: Uint8Array) => Promise<Uint8Array>): void {
    this.requestHandler = handler;
  }

  onPeer(handler: (peer: string, state: PeerState) => void): void {
    this.peerHandlers.push(handler);
  }

  /** Node ids of the connected peers whose binding is known. */
  peers(): readonly string[] {
    const out: string[] = [];
    for (const p of this.up) {
      const n = this.binding?.nodeOf(p);
      if (n !== undefined) out.push(n);
    }
    return out;
  }

  // ---- extras for the agent and tests ------------------------------------------------------------

  /** This node's peer id (empty before the first start). */
  get peerId(): string {
    return this.selfPeerId;
  }

  /** Listen addresses, each ending in `/p2p/<peer id>` (usable as another node's bootstrap entry). */
  multiaddrs(): string[] {
    return this.node?.getMultiaddrs().map(String) ?? [];
  }

  /** Dials an address now (bootstrap entries are also redialled on their own). */
  async connect(addr: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const node = this.node;
    if (!node || this.status !== 'started') throw new TransportNotStartedError('dial');
    await node.dial(multiaddr(addr), { signal: this.dialSignal(options.signal) });
  }

  /** Every known binding with its connection state (for `/v1/status`). */
  bindings(): Array<{ nodeId: string; peerId: string; connected: boolean; self: boolean }> {
    return (this.binding?.entries() ?? []).map(([nodeId, peerId]) => ({
      nodeId,
      peerId,
      connected: this.connected.has(peerId),
      self: peerId === this.selfPeerId,
    }));
  }

  stats(): Libp2pTransportStats {
    return { ...this.counters, rejected: { ...this.rejected }, peersBanned: { ...this.banCounts }, queuedPublishes: this.queue.length };
  }

  // ---- connections and peer state ----------------------------------------------------------------

  /** Refuses banned peers (both directions) and, when `allowPeers` is set, every peer not on it. */
  private gater(): ConnectionGater {
    const allow = new Set(this.opts.allowPeers);
    const deny = (peer: PeerId, direction: string): boolean => {
      const id = peer.toString();
      if (this.peerGuard.isBanned(id, this.now())) {
        this.log.debug('connection refused: peer is banned', { peer: id, direction });
        return true;
      }
      const denied = allow.size > 0 && !allow.has(id);
      if (denied) this.log.warn('connection refused: peer not on the allowlist', { peer: id, direction });
      return denied;
    };
    return {
      denyDialPeer: (peer) => deny(peer, 'dial'),
      denyInboundEncryptedConnection: (peer) => deny(peer, 'inbound'),
      denyOutboundEncryptedConnection: (peer) => deny(peer, 'outbound'),
    };
  }

  private onConnect(peer: string): void {
    if (!this.connected.has(peer)) this.connected.set(peer, performance.now());
    this.peerGuard.connected(peer, this.now());
    this.redialState.delete(peer);
    this.maybeUp(peer);
  }

  private onDisconnect(peer: string): void {
    this.connected.delete(peer);
    this.peerGuard.forget(peer, this.now());
    for (const ch of [...(this.channels.get(peer) ?? [])]) ch.close(new Error('peer disconnected'));
    if (this.up.delete(peer)) {
      const nodeId = this.binding?.nodeOf(peer);
      if (nodeId !== undefined) this.emitPeer(nodeId, 'down');
    }
  }

  /** The dialling side opens the rpc stream right away, so hellos (and bindings) come early. */
  private onConnectionOpen(connection: Connection): void {
    if (connection.direction !== 'outbound') return;
    const peer = connection.remotePeer.toString();
    if (this.readyChannel(peer) || this.pendingChannel(peer)) return;
    this.openChannel(peer).catch((err: unknown) => {
      this.log.debug('could not open an rpc stream after connecting', { peer, error: String(err) });
    });
  }

  private maybeUp(peer: string): void {
    if (!this.connected.has(peer) || this.up.has(peer) || peer === this.selfPeerId) return;
    const nodeId = this.binding?.nodeOf(peer);
    if (nodeId === undefined) return;
    this.up.add(peer);
    this.emitPeer(nodeId, 'up');
  }

  private emitPeer(nodeId: string, state: PeerState): void {
    this.log.debug('peer state', { nodeId, state });
    for (const h of this.peerHandlers) {
      try {
        h(nodeId, state);
      } catch (err) {
        this.log.error('onPeer handler threw', { error: String(err) });
      }
    }
  }

  private scheduleRedial(delay = this.opts.redialIntervalMs): void {
    if (this.status === 'stopping' || this.status === 'stopped') return;
    this.redialTimer = setTimeout(() => {
      this.redial().then(
        () => this.scheduleRedial(),
        (err: unknown) => {
          this.log.warn('redial round failed', { error: String(err) });
          this.scheduleRedial();
        },
      );
    }, delay);
    this.redialTimer.unref();
  }

  /** Dials bootstrap peers and bound peers that are not connected, each with its own backoff. */
  private async redial(): Promise<void> {
    const node = this.node;
    if (!node || this.status !== 'started') return;
    const targets = new Map<string, Multiaddr | PeerId>();
    for (const { peer, addr } of this.bootstrapAddrs) if (peer !== this.selfPeerId) targets.set(peer, addr);
    for (const [, peer] of this.binding?.entries() ?? []) {
      if (peer !== this.selfPeerId && !targets.has(peer)) targets.set(peer, peerIdFromString(peer));
    }
    const now = performance.now();
    const dials: Array<Promise<void>> = [];
    for (const [peer, target] of targets) {
      if (this.connected.has(peer)) continue;
      const st = this.redialState.get(peer);
      if (st && now < st.nextAt) continue;
      dials.push(
        node.dial(target, { signal: this.dialSignal() }).then(
          () => {
            this.redialState.delete(peer);
          },
          (err: unknown) => {
            const delay = Math.min(REDIAL_MAX_MS, (st?.delay ?? this.opts.redialIntervalMs / 2) * 2);
            this.redialState.set(peer, { nextAt: performance.now() + delay, delay });
            this.log.debug('redial failed', { peer, retryInMs: delay, error: String(err) });
          },
        ),
      );
    }
    await Promise.all(dials);
  }

  private dialSignal(caller?: AbortSignal): AbortSignal {
    const signals = [this.shutdown.signal, AbortSignal.timeout(this.opts.dialTimeoutMs)];
    if (caller) signals.push(caller);
    return AbortSignal.any(signals);
  }

  // ---- rpc ---------------------------------------------------------------------------------------

  private readonly servedHandler = (from: string, payload: Uint8Array): Promise<Uint8Array> => {
    const handler = this.requestHandler;
    if (!handler) return Promise.reject(new DwcpError('ERR_NO_HANDLER', 'no request handler is registered'));
    this.counters.requestsServed++;
    return handler(from, payload);
  };

  private readyChannel(peer: string): RpcChannel | undefined {
    const set = this.channels.get(peer);
    if (!set) return undefined;
    let best: RpcChannel | undefined;
    for (const ch of set) {
      if (!ch.isReady) continue;
      if (ch.opener) return ch; // prefer the stream this node opened
      best ??= ch;
    }
    return best;
  }

  private pendingChannel(peer: string): RpcChannel | undefined {
    for (const ch of this.channels.get(peer) ?? []) if (!ch.isClosed && !ch.isReady) return ch;
    return undefined;
  }

  private openChannel(peer: string): Promise<RpcChannel> {
    const existing = this.opening.get(peer);
    if (existing) return existing;
    const node = this.node;
    if (!node) return Promise.reject(new TransportNotStartedError('open a stream'));
    const p = node
      .dialProtocol(peerIdFromString(peer), RPC_PROTOCOL, { signal: this.dialSignal() })
      .then((stream) => {
        if (this.status !== 'started') {
          stream.abort(new TransportNotStartedError('open a stream'));
          throw new TransportNotStartedError('open a stream');
        }
        return this.attach(stream, peer, true);
      })
      .finally(() => this.opening.delete(peer));
    this.opening.set(peer, p);
    return p;
  }

  private async waitForChannel(peer: string, nodeId: string, signal: AbortSignal | undefined, deadline: number, timeoutMs: number): Promise<RpcChannel> {
    const get = async (): Promise<RpcChannel> => {
      const ch = this.pendingChannel(peer) ?? (await this.openChannel(peer));
      await ch.whenReady();
      return ch;
    };
    return raceDeadline(get(), { signal, shutdown: this.shutdown.signal, deadline, timeoutMs, nodeId });
  }

  private onInboundStream(stream: Stream, connection: Connection): void {
    if (this.status !== 'started' && this.status !== 'starting') {
      stream.abort(new TransportNotStartedError('accept a stream'));
      return;
    }
    this.attach(stream, connection.remotePeer.toString(), false);
  }

  private attach(stream: Stream, peer: string, opener: boolean): RpcChannel {
    const ch = new RpcChannel(
      {
        stream,
        remotePeerId: peer,
        opener,
        maxFrameBytes: this.opts.maxRequestBytes,
        helloTimeoutMs: this.opts.helloTimeoutMs,
        maxInflight: this.opts.maxInflightRequests,
      },
      this.channelComponents,
    );
    if (opener) this.counters.rpcStreamsOpened++;
    else this.counters.rpcStreamsAccepted++;
    let set = this.channels.get(peer);
    if (!set) this.channels.set(peer, (set = new Set()));
    set.add(ch);
    ch.start();
    return ch;
  }

  private async makeHello(remotePeerId: string): Promise<Uint8Array> {
    const key = this.privateKey;
    if (!key) throw new TransportNotStartedError('sign a hello');
    const signature = await key.sign(helloSigningBytes(this.opts.cluster, this.nodeId, this.selfPeerId, remotePeerId));
    return encodeHello({ cluster: this.opts.cluster, nodeId: this.nodeId, signature });
  }

  private async acceptHello(remotePeerId: string, payload: Uint8Array): Promise<string | undefined> {
    let hello;
    try {
      hello = decodeHello(payload);
    } catch (err) {
      this.reject('undecodable', remotePeerId, 'hello', { error: String(err) });
      return undefined;
    }
    if (hello.cluster !== this.opts.cluster) {
      this.reject('wrong-cluster', remotePeerId, 'hello', { cluster: hello.cluster });
      return undefined;
    }
    const remote = peerIdFromString(remotePeerId);
    if (remote.type !== 'Ed25519') {
      this.reject('unsigned', remotePeerId, 'hello', { keyType: remote.type });
      return undefined;
    }
    const ok = await remote.publicKey.verify(helloSigningBytes(hello.cluster, hello.nodeId, remotePeerId, this.selfPeerId), hello.signature);
    if (!ok) {
      this.reject('unsigned', remotePeerId, 'hello');
      return undefined;
    }
    if (!this.bindOrRefuse(hello.nodeId, remotePeerId, 'hello')) return undefined;
    return hello.nodeId;
  }

  /** Records the binding, or counts and refuses a conflicting claim. */
  private bindOrRefuse(nodeId: string, peer: string, via: 'hello' | 'gossip'): boolean {
    const binding = this.binding;
    if (!binding) return false;
    const outcome = binding.bind(nodeId, peer);
    if (outcome === 'node-taken' || outcome === 'peer-taken') {
      if (outcome === 'node-taken') this.counters.bindingConflicts++;
      this.reject('wrong-binding', peer, via, {
        claimed: nodeId,
        ...(outcome === 'node-taken' ? { boundTo: binding.peerOf(nodeId) } : { peerIsBoundAs: binding.nodeOf(peer) }),
      });
      return false;
    }
    if (outcome === 'bound') {
      this.log.info('bound node id to peer', { nodeId, peer, via });
      this.maybeUp(peer);
    }
    return true;
  }

  // ---- gossip ------------------------------------------------------------------------------------

  /**
   * The topic validator: runs in gossipsub before delivery and before forwarding (and after
   * gossipsub's own signature check: gossipsub 17 offers no per-peer hook before it). Cheap checks
   * first: a banned or over-rate propagating peer's message is dropped before it is decoded. Every
   * message refused as invalid is a strike against the peer that sent it (see PeerGuard), and
   * gossipsub's score penalises it too (a `Reject`). Newcomers (peer ids on probation) also spend
   * from one shared budget; a valid message of a peer's own is a step out of probation.
   */
  private validate(source: string, msg: Message): TopicValidatorResult {
    const now = this.now();
    if (this.peerGuard.isBanned(source, now)) {
      // Ignore, not Reject: the message may be valid, and gossipsub would penalise honest relays of it too.
      this.forgetSeen(msg);
      this.reject('banned', source, 'gossip');
      return TopicValidatorResult.Ignore;
    }
    const admission = this.peerGuard.offer(source, now, msg.type === 'signed' && msg.from.toString() === source);
    if (admission !== 'admit') {
      // Dropped unread: the message may be an honest one relayed by this peer; another copy must not be a "duplicate".
      this.forgetSeen(msg);
      if (admission === 'ban') {
        this.banPeer(source, 'overuse', now);
        this.reject('banned', source, 'gossip');
        return TopicValidatorResult.Ignore;
      }
      this.reject(admission === 'drop-newcomer' ? 'newcomer-limited' : 'rate-limited', source, 'gossip');
      if (admission === 'penalise') this.penalise(source);
      return TopicValidatorResult.Ignore;
    }
    const verdict = this.check(msg);
    if (verdict === TopicValidatorResult.Reject) {
      const ban = this.peerGuard.strike(source, now);
      if (ban) this.banPeer(source, ban, now);
    } else if (verdict === TopicValidatorResult.Accept && msg.type === 'signed' && msg.from.toString() === source) {
      this.peerGuard.valid(source, now);
    }
    return verdict;
  }

  /**
   * gossipsub marks a message seen before the validator runs, so a copy from another peer is
   * dropped as a duplicate. A message the guard drops unread (over a peer's rate, from a banned
   * peer) may be an honest message that this peer relayed first: it is forgotten, so that the copy
   * from its publisher is still validated (a rogue could otherwise suppress honest gossip by
   * relaying it over its rate). Uses gossipsub 17 internals; without them, nothing happens.
   */
  private forgetSeen(msg: Message): void {
    if (msg.type !== 'signed') return;
    const ps = this.node?.services.pubsub as unknown as GossipsubSeenInternals | undefined;
    try {
      const id = ps?.msgIdFn?.(msg);
      if (id instanceof Uint8Array && ps?.msgIdToStrFn) ps.seenCache?.entries?.delete(ps.msgIdToStrFn(id));
      const seqno = new Uint8Array(8);
      new DataView(seqno.buffer).setBigUint64(0, BigInt.asUintN(64, msg.sequenceNumber));
      ps?.fastMsgIdCache?.entries?.delete(fastMsgId({ from: msg.from.toMultihash().bytes, seqno }));
    } catch (err) {
      this.log.debug('could not forget a dropped message in the seen-cache', { error: String(err) });
    }
  }

  /**
   * Sustained overuse: one invalid delivery in `peer`'s gossipsub score (not a strike). Not by
   * answering `Reject`: the message itself may be valid, and gossipsub would then also penalise the
   * honest peers that relay it.
   */
  private penalise(peer: string): void {
    const score = (this.node?.services.pubsub as unknown as { score?: { rejectInvalidMessage?: (from: string, topic: string) => void } } | undefined)?.score;
    if (typeof score?.rejectInvalidMessage === 'function') score.rejectInvalidMessage(peer, this.topic);
    else this.log.debug('cannot penalise a peer in the gossipsub score (internals changed?)', { peer });
  }

  /** Bans `peer`: counted, reported, disconnected, its connections refused until the ban ends. */
  private banPeer(peer: string, reason: BanReason, now: number): void {
    if (peer === this.selfPeerId || !this.peerGuard.ban(peer, now)) return;
    this.banCounts[reason]++;
    const until = now + this.opts.banMs;
    this.log.warn('peer banned: disconnected, its connections refused', { peer, reason, banMs: this.opts.banMs });
    try {
      this.components.onPeerBanned?.(peer, reason, until);
    } catch (err) {
      this.log.error('onPeerBanned callback threw', { error: String(err) });
    }
    this.node?.hangUp(peerIdFromString(peer)).catch((err: unknown) => this.log.debug('hang-up of a banned peer failed', { peer, error: String(err) }));
  }

  /**
   * At every heartbeat: bans the connected peers whose gossipsub score fell below the graylist
   * threshold (gossipsub then already ignores them; a ban also stops the decryption and decoding of
   * what they send). This is how invalid signatures, which never reach the validator, get a peer banned.
   */
  private banLowScores(pubsub: GossipSub): void {
    const getScore = (pubsub as unknown as { getScore?: (peer: string) => number }).getScore;
    if (typeof getScore !== 'function' || this.opts.banAfterInvalid <= 0) return;
    const now = this.now();
    for (const p of pubsub.getPeers()) {
      const peer = p.toString();
      if (getScore.call(pubsub, peer) < GOSSIP_SCORE_THRESHOLDS.graylistThreshold) this.banPeer(peer, 'score', now);
    }
  }

  /** The validator's checks of one message (see `validate`). */
  private check(msg: Message): TopicValidatorResult {
    if (msg.type !== 'signed') return this.reject('unsigned', undefined, 'gossip');
    const signer = msg.from.toString();
    if (msg.data.byteLength > this.opts.maxMessageBytes + ENVELOPE_OVERHEAD) {
      return this.reject('oversized', signer, 'gossip', { bytes: msg.data.byteLength });
    }
    let env: DecodedEnvelope;
    try {
      env = decodeEnvelope(msg.data, this.opts.maxMessageBytes);
    } catch (err) {
      return this.reject(err instanceof PayloadTooLargeError ? 'oversized' : 'undecodable', signer, 'gossip', { error: String(err) });
    }
    const binding = this.binding;
    if (!binding) return TopicValidatorResult.Ignore;
    const outcome = binding.check(env.node, signer);
    if (outcome === 'node-taken' || outcome === 'peer-taken') {
      this.bindOrRefuse(env.node, signer, 'gossip'); // counts and reports
      return TopicValidatorResult.Reject;
    }
    if (this.opts.maxEnvelopeAgeMs > 0 && this.now() - env.ts > this.opts.maxEnvelopeAgeMs) {
      this.reject('stale', signer, 'gossip', { node: env.node, ageMs: this.now() - env.ts });
      return TopicValidatorResult.Ignore;
    }
    if (!this.guard.isFresh(env.node, env.seq)) {
      this.reject('replayed', signer, 'gossip', { node: env.node, seq: env.seq });
      return TopicValidatorResult.Ignore;
    }
    if (outcome === 'bound' && !this.bindOrRefuse(env.node, signer, 'gossip')) return TopicValidatorResult.Reject;
    this.guard.accept(env.node, env.seq);
    this.decoded.set(msg, env);
    return TopicValidatorResult.Accept;
  }

  private onGossip(msg: Message): void {
    if (msg.topic !== this.topic) return;
    const env = this.decoded.get(msg);
    if (!env) return;
    this.decoded.delete(msg);
    this.counters.gossipDelivered++;
    const handler = this.messageHandler;
    if (!handler) return;
    try {
      handler(env.node, env.body);
    } catch (err) {
      this.log.error('onMessage handler threw', { from: env.node, error: String(err) });
    }
  }

  private onGossipsubInvalid(error: string): void {
    if (GOSSIPSUB_FORMAT_ERRORS.has(error)) this.reject('unsigned', undefined, 'gossip', { gossipsub: error });
    else if (error === 'transform_failed') this.reject('undecodable', undefined, 'gossip', { gossipsub: error });
  }

  private reject(reason: RejectReason, peer: string | undefined, via: 'hello' | 'gossip', meta: Record<string, unknown> = {}): TopicValidatorResult {
    this.rejected[reason]++;
    const now = performance.now();
    const logged = this.rejectLog.get(reason);
    if (!logged || now - logged.at >= REJECT_LOG_INTERVAL_MS) {
      const suppressed = logged?.suppressed ?? 0;
      this.rejectLog.set(reason, { at: now, suppressed: 0 });
      this.log.warn(`${via} rejected: ${reason}`, { peer, ...meta, ...(suppressed > 0 ? { alsoRejectedSinceLastLog: suppressed } : {}) });
    } else {
      logged.suppressed++;
    }
    try {
      this.components.onRejected?.(reason, peer);
    } catch (err) {
      this.log.error('onRejected callback threw', { error: String(err) });
    }
    return TopicValidatorResult.Reject;
  }

  private onSubscriptionChange(data: SubscriptionChangeData): void {
    if (!data.subscriptions.some((s) => s.subscribe && s.topic === this.topic)) return;
    // Someone can receive now: retry the queue at once rather than at the end of the backoff.
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      this.retryDelay = RETRY_MIN_MS;
    }
    this.kickPublisher();
  }

  private kickPublisher(): void {
    if (this.pumping || this.retryTimer || this.queue.length === 0) return;
    this.pumping = true;
    this.pump()
      .catch((err: unknown) => this.log.error('gossip publisher failed', { error: String(err) }))
      .finally(() => {
        this.pumping = false;
      });
  }

  /**
   * Publishes the queue in order, `publishBatchSize` messages per event-loop turn (a burst must not
   * starve the connection monitor). When nobody is subscribed yet, the queue waits for a subscription
   * or a backoff timer; entries older than `publishRetryMs` are dropped.
   */
  /**
   * How long to hold the queue so that every connected peer gets the next publish: the longest
   * remaining grace of a connected peer that has not announced its subscription yet (0: none).
   */
  private subscriptionWait(pubsub: GossipSub): number {
    if (this.connected.size === 0) return 0;
    const subscribed = new Set(pubsub.getSubscribers(this.topic).map(String));
    // gossipsub sends only to peers it has an outbound stream to, and that stream may open after
    // the peer's subscription arrived. `streamsOutbound` is internal: used when present.
    const outbound = (pubsub as unknown as { streamsOutbound?: unknown }).streamsOutbound;
    const canSend = outbound instanceof Map ? (peer: string) => outbound.has(peer) : () => true;
    const now = performance.now();
    let wait = 0;
    for (const [peer, since] of this.connected) {
      if (subscribed.has(peer) && canSend(peer)) continue;
      wait = Math.max(wait, since + this.opts.subscribeGraceMs - now);
    }
    return wait;
  }

  /** Retries the queue after a backoff (capped by `atMostMs`), or sooner on a subscription. */
  private holdQueue(atMostMs: number): void {
    this.counters.gossipRetries++;
    const delay = Math.max(1, Math.min(this.retryDelay, atMostMs));
    this.retryDelay = Math.min(RETRY_MAX_MS, this.retryDelay * 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.kickPublisher();
    }, delay);
    this.retryTimer.unref();
  }

  private async pump(): Promise<void> {
    const pubsub = this.node?.services.pubsub;
    if (!pubsub) return;
    while (this.queue.length > 0 && this.status === 'started') {
      const hold = this.subscriptionWait(pubsub);
      if (hold > 0) {
        this.holdQueue(hold);
        return;
      }
      for (let i = 0; i < this.opts.publishBatchSize && this.queue.length > 0; i++) {
        const item = this.queue[0]!;
        if (this.now() - item.since > this.opts.publishRetryMs) {
          this.queue.shift();
          this.counters.gossipDropped++;
          this.log.debug('publish dropped: nobody subscribed in time', { waitedMs: this.now() - item.since });
          continue;
        }
        let delivered: boolean;
        try {
          delivered = (await pubsub.publish(this.topic, item.data)).recipients.length > 0;
        } catch (err) {
          if (!isNoPeersError(err)) {
            this.queue.shift();
            this.counters.gossipDropped++;
            this.log.warn('publish failed', { error: String(err) });
            continue;
          }
          delivered = false;
        }
        if (this.status !== 'started') return;
        if (!delivered) {
          this.holdQueue(Infinity);
          return;
        }
        this.queue.shift();
        this.counters.gossipPublished++;
        this.retryDelay = RETRY_MIN_MS;
      }
      if (this.queue.length > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}

/** Creates (does not start) a libp2p transport. */
export function createLibp2pTransport(init: Libp2pTransportInit, components: Libp2pTransportComponents = {}): Libp2pTransport {
  return new Libp2pTransport(init, components);
}

function isNoPeersError(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return message.includes('NoPeersSubscribedToTopic') || message.includes('InsufficientPeers');
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Races `p` against the caller's signal, the shutdown signal and a deadline (performance.now() ms). */
function raceDeadline<T>(
  p: Promise<T>,
  o: { signal: AbortSignal | undefined; shutdown: AbortSignal; deadline: number; timeoutMs: number; nodeId: string },
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      o.shutdown.removeEventListener('abort', onShutdown);
    };
    const onAbort = (): void => {
      cleanup();
      reject(new RequestAbortedError(o.nodeId, 'caller', { cause: o.signal?.reason }));
    };
    const onShutdown = (): void => {
      cleanup();
      reject(new RequestAbortedError(o.nodeId, 'stopped'));
    };
    const timer = setTimeout(
      () => {
        cleanup();
        reject(new RequestTimeoutError(o.nodeId, o.timeoutMs));
      },
      Math.max(0, o.deadline - performance.now()),
    );
    o.signal?.addEventListener('abort', onAbort, { once: true });
    o.shutdown.addEventListener('abort', onShutdown, { once: true });
    p.then(
      (v) => {
        cleanup();
        resolve(v);
      },
      (err: unknown) => {
        cleanup();
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
