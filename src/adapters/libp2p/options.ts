import type { TopicScoreParams } from '@libp2p/gossipsub/score';
import type { PrivateKey } from '@libp2p/interface';
import type { TransportLogger } from './logger.js';

/** Why an inbound gossip message (or an rpc hello) was refused before reaching the replica. */
export type RejectReason =
  /** Larger than `maxMessageBytes` (on the wire, or once inflated). */
  | 'oversized'
  /** Not a well-formed envelope (or hello). */
  | 'undecodable'
  /** Not signed, or the signature, seqno or signer field is invalid (counted from gossipsub's own check). */
  | 'unsigned'
  /** The envelope's node id is bound to another peer, or the signing peer is bound to another node id. */
  | 'wrong-binding'
  /** A sequence number already accepted from that origin, or older than the replay window. */
  | 'replayed'
  /** Published longer than `maxEnvelopeAgeMs` ago by the publisher's clock. */
  | 'stale'
  /** An rpc hello for another cluster. */
  | 'wrong-cluster'
  /** Over the propagating peer's rate (`peerMessageRate`): dropped before decoding, not penalised. */
  | 'rate-limited'
  /** From a newcomer (a peer id on probation) over the rate all newcomers share (`newcomerMessageRate`): dropped before decoding. */
  | 'newcomer-limited'
  /** From a peer banned for sending invalid messages (until its connections are closed). */
  | 'banned';

export const REJECT_REASONS: readonly RejectReason[] = [
  'oversized',
  'undecodable',
  'unsigned',
  'wrong-binding',
  'replayed',
  'stale',
  'wrong-cluster',
  'rate-limited',
  'newcomer-limited',
  'banned',
];

/** Why a peer was banned. */
export type BanReason =
  /** `banAfterInvalid` invalid messages within `banStrikeWindowMs`, counted by the topic validator. */
  | 'invalid-messages'
  /** Its gossipsub score fell below the graylist threshold (invalid signatures count there). */
  | 'score'
  /** A newcomer's invalid message once all newcomers together had sent `newcomerInvalidLimit` (peer-id rotation). */
  | 'newcomer-invalid'
  /** It offered `overuseFactor` × `peerMessageRate` messages a second or more for `overuseMs` (a flood of valid messages). */
  | 'overuse';

export const BAN_REASONS: readonly BanReason[] = ['invalid-messages', 'score', 'newcomer-invalid', 'overuse'];

/** Plain, cloneable options (the live collaborators are in `Libp2pTransportComponents`). */
export interface Libp2pTransportInit {
  /** This node's id: a short configured name such as `hv-01`. */
  readonly nodeId: string;
  /** The cluster name: the gossip topic is `/dwcp/<cluster>/gossip/1`, and hellos carry it. */
  readonly cluster: string;
  /** Listen multiaddrs (default `/ip4/127.0.0.1/tcp/0`). */
  readonly listen?: readonly string[];
  /** Addresses to announce instead of the listen addresses (behind NAT). */
  readonly announce?: readonly string[];
  /** Peers to connect to, as multiaddrs ending in `/p2p/<peer id>`; redialled while disconnected. */
  readonly bootstrap?: readonly string[];
  /** The private-network key, in the pnet file format (`loadPsk`). Required unless `insecureNoPsk`. */
  readonly psk?: Uint8Array;
  /** Development only: run without a private network (anyone who can reach the port can join). */
  readonly insecureNoPsk?: boolean;
  /** When non-empty, only these peer ids may connect (both directions), through the connection gater. */
  readonly allowPeers?: readonly string[];
  /** Known bindings, node id → peer id, fixed from the start (never taken by another peer). */
  readonly pinnedBindings?: Readonly<Record<string, string>>;
  /** Largest replica payload in a gossip envelope, after inflation (default 1 MiB). */
  readonly maxMessageBytes?: number;
  /** Largest request or response payload (default 16 MiB). */
  readonly maxRequestBytes?: number;
  /** Per-request timeout when the caller gives none shorter (default 5 s). */
  readonly requestTimeoutMs?: number;
  /** How long an rpc stream may go without the remote's hello (default 5 s). */
  readonly helloTimeoutMs?: number;
  /** Inbound requests handled at once per rpc stream (default 256). */
  readonly maxInflightRequests?: number;
  /** How long a publish nobody could receive yet is retried before it is dropped (default 10 s). */
  readonly publishRetryMs?: number;
  /**
   * A publish waits (at most this long after a peer connected) until every connected peer has
   * announced its subscription, so that a peer that just connected does not miss it (default 2 s).
   */
  readonly subscribeGraceMs?: number;
  /** Publishes signed and sent per event-loop turn (default 64). */
  readonly publishBatchSize?: number;
  /** Publishes waiting at most; beyond this the oldest are dropped (default 10,000). */
  readonly maxQueuedPublishes?: number;
  /** Gossip bodies at least this long are deflated when that helps (default 512 bytes). */
  readonly compressAbove?: number;
  /** Gossip older than this by the publisher's clock is ignored (default 10 min; 0 disables). */
  readonly maxEnvelopeAgeMs?: number;
  /** Out-of-order tolerance of the replay guard, in messages per origin (default 256). */
  readonly replayWindow?: number;
  /** Inbound connections per second accepted from one host (libp2p's default is 5; default here 200). */
  readonly inboundConnectionThreshold?: number;
  /** How often disconnected bootstrap and bound peers are redialled at most (default 2 s, with backoff to 30 s). */
  readonly redialIntervalMs?: number;
  /** Dial timeout (default 5 s). */
  readonly dialTimeoutMs?: number;
  /** gossipsub heartbeat (default 700 ms: mesh repair and IHAVE gossip come sooner than libp2p's 1 s). */
  readonly gossipHeartbeatMs?: number;
  /**
   * gossipsub mesh degree D (default 2; mesh kept between max(1, D - 1) and 2·D peers). Publishing
   * floods to every connected peer, so in a cluster whose agents all connect to each other the mesh
   * only relays around a missing link; each mesh peer forwards a copy of every message, which every
   * receiver decrypts and drops as a duplicate. libp2p's default of 6 made each receiver of a 10-agent
   * cluster handle ~6 copies of every update batch (see the gossip.propagation benchmarks).
   */
  readonly gossipMeshDegree?: number;
  /**
   * Gossip messages a second accepted from one propagating peer (default 2,000; 0: no limit), as
   * many again of those it relays (a separate bucket: relaying a flood does not starve the peer's
   * own messages); the excess is dropped before decoding, without penalty (anti-entropy repairs
   * what an honest burst loses). Bursts up to `peerMessageBurst` (default 4,000).
   */
  readonly peerMessageRate?: number;
  readonly peerMessageBurst?: number;
  /**
   * Invalid gossip messages (refused by the validator) from one peer within `banStrikeWindowMs`
   * (default 10 s) that get it banned (default 64; 0: never). A banned peer, or one whose gossipsub
   * score falls below the graylist threshold, is disconnected and its connections refused for `banMs`
   * (default 10 min).
   */
  readonly banAfterInvalid?: number;
  readonly banStrikeWindowMs?: number;
  readonly banMs?: number;
  /**
   * Peer-id rotation: a peer id is a newcomer until it has delivered a valid, correctly bound message
   * of its own and is known for at least `newcomerMs` (default 10 s; 0: no newcomer budget). All
   * newcomers together share one token bucket (`newcomerMessageRate`, default 2,000 a second, burst
   * `newcomerMessageBurst`, default 4,000) and one strike count: once they have sent
   * `newcomerInvalidLimit` invalid messages (default 64) within `banStrikeWindowMs`, a newcomer is
   * banned at its first invalid message (`newcomer-invalid`). Proven peer ids are remembered for the
   * transport's lifetime (bounded).
   */
  readonly newcomerMs?: number;
  readonly newcomerMessageRate?: number;
  readonly newcomerMessageBurst?: number;
  readonly newcomerInvalidLimit?: number;
  /**
   * Sustained overuse: a peer that offers at least `overuseFactor` × `peerMessageRate` messages of
   * its own (signed by itself) a second (default 4, i.e. 8,000/s; 0: never), every second for `overuseMs` (default 30 s), is
   * banned (`overuse`); from half that time on, each second, one invalid delivery is counted in its
   * gossipsub score (a penalty; no strike).
   */
  readonly overuseFactor?: number;
  readonly overuseMs?: number;
}

/** Live collaborators. */
export interface Libp2pTransportComponents {
  /** The node's Ed25519 key (`loadOrCreateIdentity`). Without it, an ephemeral key is generated (warned). */
  readonly privateKey?: PrivateKey;
  readonly logger?: TransportLogger;
  /** Wall clock in ms (envelope timestamps, sequence numbers, staleness). */
  readonly now?: () => number;
  /** Called for every refused gossip message or hello; `peerId` is the signer or remote peer when known. */
  readonly onRejected?: (reason: RejectReason, peerId: string | undefined) => void;
  /** Called when a peer is banned (and disconnected) until `until` (the `now` clock's ms). */
  readonly onPeerBanned?: (peerId: string, reason: BanReason, until: number) => void;
}

export const transportDefaults = {
  listen: ['/ip4/127.0.0.1/tcp/0'] as readonly string[],
  maxMessageBytes: 1024 * 1024,
  maxRequestBytes: 16 * 1024 * 1024,
  requestTimeoutMs: 5_000,
  helloTimeoutMs: 5_000,
  maxInflightRequests: 256,
  publishRetryMs: 10_000,
  subscribeGraceMs: 2_000,
  publishBatchSize: 64,
  maxQueuedPublishes: 10_000,
  compressAbove: 512,
  maxEnvelopeAgeMs: 10 * 60_000,
  replayWindow: 256,
  inboundConnectionThreshold: 200,
  redialIntervalMs: 2_000,
  dialTimeoutMs: 5_000,
  gossipHeartbeatMs: 700,
  gossipMeshDegree: 2,
  peerMessageRate: 2_000,
  peerMessageBurst: 4_000,
  banAfterInvalid: 64,
  banStrikeWindowMs: 10_000,
  banMs: 10 * 60_000,
  newcomerMs: 10_000,
  newcomerMessageRate: 2_000,
  newcomerMessageBurst: 4_000,
  newcomerInvalidLimit: 64,
  overuseFactor: 4,
  overuseMs: 30_000,
} as const;

/**
 * gossipsub peer scoring for the dwcp topic. Only misbehaviour is scored: an invalid message (one
 * the validator refuses, or a bad signature) costs its propagating peer P4 = -(invalid deliveries)²,
 * decaying by 10% a second, so about nine invalid messages in a row cross the graylist threshold
 * (-80: the peer's RPCs are then dropped unread) and a peer with a stray invalid message recovers in
 * seconds. Mesh-delivery penalties (P3, P3b) are off: a quiet cluster delivers few messages, and an
 * honest idle peer must not lose score for it. Small positive terms for time in mesh and first
 * deliveries (capped at 10 in all).
 */
export const GOSSIP_SCORE_THRESHOLDS = {
  gossipThreshold: -10,
  publishThreshold: -50,
  graylistThreshold: -80,
  acceptPXThreshold: 10,
  opportunisticGraftThreshold: 5,
} as const;

export function gossipTopicScoreParams(): TopicScoreParams {
  return {
    topicWeight: 1,
    timeInMeshWeight: 0.01,
    timeInMeshQuantum: 1_000,
    timeInMeshCap: 300,
    firstMessageDeliveriesWeight: 0.1,
    firstMessageDeliveriesDecay: 0.9,
    firstMessageDeliveriesCap: 70,
    meshMessageDeliveriesWeight: 0,
    meshMessageDeliveriesDecay: 0.5,
    meshMessageDeliveriesCap: 100,
    meshMessageDeliveriesThreshold: 1,
    meshMessageDeliveriesWindow: 10,
    meshMessageDeliveriesActivation: 5_000,
    meshFailurePenaltyWeight: 0,
    meshFailurePenaltyDecay: 0.5,
    invalidMessageDeliveriesWeight: -1,
    invalidMessageDeliveriesDecay: 0.9,
  };
}

/**
 * gossipsub's mesh bounds for a mesh degree `d` (an integer ≥ 1): keep between max(1, d - 1) and 2·d
 * mesh peers, retain max(1, d - 1) of them by score when pruning, and require outbound mesh peers
 * (Dout, which gossipsub needs below Dlo and at most d / 2) only when the mesh is large enough to
 * have some.
 */
export function meshDegrees(d: number): { D: number; Dlo: number; Dhi: number; Dscore: number; Dout: number } {
  if (!Number.isInteger(d) || d < 1) throw new RangeError(`gossipMeshDegree must be an integer >= 1, got ${String(d)}`);
  const Dlo = Math.max(1, d - 1);
  return { D: d, Dlo, Dhi: 2 * d, Dscore: Dlo, Dout: Math.min(Math.floor(d / 2), Dlo - 1) };
}

export const RPC_PROTOCOL = '/dwcp/rpc/1';

export function gossipTopic(cluster: string): string {
  return `/dwcp/${cluster}/gossip/1`;
}

/** Counters, all monotonic since start. */
export interface Libp2pTransportStats {
  /** Refused gossip messages and hellos, by reason. */
  readonly rejected: Readonly<Record<RejectReason, number>>;
  /** Of those: a second peer claiming a node id bound to another peer (gossip or hello). */
  readonly bindingConflicts: number;
  readonly gossipPublished: number;
  /** Times the publish queue waited: nobody subscribed yet, or a newly connected peer not yet subscribed. */
  readonly gossipRetries: number;
  /** Publishes given up after `publishRetryMs`, or dropped from a full queue, or while stopped. */
  readonly gossipDropped: number;
  /** Publishes refused because the payload exceeds `maxMessageBytes`. */
  readonly gossipOversized: number;
  readonly gossipDelivered: number;
  /** Publishes whose body was deflated. */
  readonly gossipCompressed: number;
  /** rpc streams this node opened / accepted (one long-lived stream per peer is the norm). */
  readonly rpcStreamsOpened: number;
  readonly rpcStreamsAccepted: number;
  readonly requestsSent: number;
  readonly requestsServed: number;
  readonly requestFailures: number;
  readonly requestTimeouts: number;
  /** Peers banned (and disconnected) since start, by reason. */
  readonly peersBanned: Readonly<Record<BanReason, number>>;
  /** Publishes waiting for a retry right now. */
  readonly queuedPublishes: number;
}
