/**
 * Failure detection by the agent's own heartbeats (libp2p does not notice a silently partitioned
 * TCP connection quickly). Every `heartbeatMs` each known peer is pinged; a peer not heard from for
 * `suspectAfterMs` is `suspect`, for `downAfterMs` is `down`. Quorum is judged over the fixed voter
 * set: have = this node (if it votes) + voters that are `up`; need = floor(expectedVotes / 2) + 1.
 */
import { TypedEmitter } from './events.js';
import type { Clock, PeerState, TimerHandle, Transport } from './ports.js';
import type { RpcRouter } from './rpc.js';

export interface FailureDetectorOptions {
  readonly nodeId: string;
  readonly voters: readonly string[];
  readonly expectedVotes?: number;
  readonly heartbeatMs?: number;
  readonly suspectAfterMs?: number;
  readonly downAfterMs?: number;
}

export interface QuorumStatus {
  readonly have: number;
  readonly need: number;
  readonly ok: boolean;
}

export interface FailureDetectorEvents extends Record<string, unknown> {
  peer: { peer: string; state: PeerState };
  quorum: QuorumStatus;
}

export class FailureDetector extends TypedEmitter<FailureDetectorEvents> {
  private readonly lastSeen = new Map<string, number>();
  private readonly states = new Map<string, PeerState>();
  private readonly known = new Set<string>();
  private timer: TimerHandle | undefined;
  private running = false;
  private lastQuorumOk: boolean | undefined;
  private readonly heartbeatMs: number;
  private readonly suspectAfterMs: number;
  private readonly downAfterMs: number;
  readonly voters: readonly string[];
  readonly need: number;

  constructor(
    private readonly opts: FailureDetectorOptions,
    private readonly c: { readonly rpc: RpcRouter; readonly transport: Transport; readonly clock: Clock },
  ) {
    super();
    this.voters = [...new Set(opts.voters)].sort();
    this.need = Math.floor((opts.expectedVotes ?? this.voters.length) / 2) + 1;
    this.heartbeatMs = opts.heartbeatMs ?? 1_000;
    this.suspectAfterMs = opts.suspectAfterMs ?? 3 * this.heartbeatMs;
    this.downAfterMs = opts.downAfterMs ?? 6 * this.heartbeatMs;
    for (const v of this.voters) if (v !== opts.nodeId) this.known.add(v);
    c.rpc.handle('hb', (from) => {
      this.heard(from);
      return { node: opts.nodeId };
    });
    c.transport.onPeer((peer, state) => {
      this.known.add(peer);
      if (state === 'up') this.heard(peer);
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.tick();
  }

  stop(): void {
    this.running = false;
    if (this.timer) this.c.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  /** Note that a peer is alive (any message from it counts). */
  heard(peer: string): void {
    if (peer === this.opts.nodeId) return;
    this.known.add(peer);
    this.lastSeen.set(peer, this.c.clock.now());
    this.set(peer, 'up');
  }

  state(peer: string): PeerState {
    return this.states.get(peer) ?? 'down';
  }

  peers(): Array<{ nodeId: string; state: PeerState }> {
    return [...this.known].sort().map((nodeId) => ({ nodeId, state: this.state(nodeId) }));
  }

  /** Voters (this node included when it votes) currently reachable. */
  reachableVoters(): string[] {
    return this.voters.filter((v) => v === this.opts.nodeId || this.state(v) === 'up');
  }

  quorum(): QuorumStatus {
    const have = this.reachableVoters().length;
    return { have, need: this.need, ok: have >= this.need };
  }

  private tick(): void {
    if (!this.running) return;
    const now = this.c.clock.now();
    for (const peer of this.known) {
      const seen = this.lastSeen.get(peer);
      const silent = seen === undefined ? Infinity : now - seen;
      if (silent >= this.downAfterMs) this.set(peer, 'down');
      else if (silent >= this.suspectAfterMs) this.set(peer, 'suspect');
      this.ping(peer);
    }
    this.checkQuorum();
    this.timer = this.c.clock.setTimer(this.heartbeatMs, () => this.tick());
  }

  private ping(peer: string): void {
    const ctrl = new AbortController();
    const t = this.c.clock.setTimer(this.heartbeatMs, () => ctrl.abort());
    this.c.rpc.call(peer, 'hb', {}, ctrl.signal).then(
      () => {
        this.c.clock.clearTimer(t);
        this.heard(peer);
      },
      () => this.c.clock.clearTimer(t),
    );
  }

  private set(peer: string, state: PeerState): void {
    if (this.states.get(peer) === state) return;
    this.states.set(peer, state);
    this.emit('peer', { peer, state });
    this.checkQuorum();
  }

  private checkQuorum(): void {
    const q = this.quorum();
    if (q.ok !== this.lastQuorumOk) {
      this.lastQuorumOk = q.ok;
      this.emit('quorum', q);
    }
  }
}
