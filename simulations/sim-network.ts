/**
 * The simulated network: an implementation of the Transport port per node incarnation, on the
 * shared scheduler. Each directed link has its own random stream (loss, duplication, latency,
 * reordering), so one link's traffic never changes another link's draws.
 *
 * - Latency: a distribution clamped to [min, max] ms (`uniform`, `normal`, `exponential`, `pareto`).
 * - Order: a link is FIFO (like a TCP connection) unless a message is picked for reordering (share
 *   `reorder`): it then takes its own, longer path and may overtake or be overtaken.
 * - Loss and duplication apply to gossip messages, requests and responses alike.
 * - Partitions cut directed links. A message is checked when it is sent and again when it arrives,
 *   so one in flight when a link is cut is lost. Requests over a cut link time out.
 * - Payloads are handed over without a copy (receivers only read them: decoding validates and copies
 *   what it keeps); duplicates share the bytes too.
 * - Peer events (`onPeer`) follow connectivity: a pair is connected when both directions work and both
 *   incarnations are alive; every change is announced to both ends (after the link's minimum latency).
 */
import { DwcpError } from '../src/core/errors.js';
import type { SeededRandom } from '../src/adapters/memory/seeded-random.js';
import type { PeerState, Transport } from '../src/replica/ports.js';
import { linkKey } from './partition.js';
import { fnv1aBytes, type RandomStreams } from './random.js';
import type { EventOwner, Scheduler } from './scheduler.js';

export const LATENCY_DISTRIBUTIONS = ['uniform', 'normal', 'exponential', 'pareto'] as const;
export type LatencyDistribution = (typeof LATENCY_DISTRIBUTIONS)[number];

export interface NetworkModel {
  readonly latency: { readonly min: number; readonly max: number; readonly distribution: LatencyDistribution };
  /** Probability that a message is lost. */
  readonly loss: number;
  /** Probability that a message is delivered twice. */
  readonly duplication: number;
  /** Probability that a message leaves the link's FIFO order. */
  readonly reorder: number;
  /** A request with no response after this long fails (ms). */
  readonly requestTimeoutMs: number;
}

export const DEFAULT_NETWORK: NetworkModel = Object.freeze({
  latency: Object.freeze({ min: 1, max: 5, distribution: 'uniform' as const }),
  loss: 0,
  duplication: 0,
  reorder: 0,
  requestTimeoutMs: 2_000,
});

export class UnreachableError extends DwcpError {
  constructor(from: string, to: string) {
    super('ERR_UNREACHABLE', `no response from ${to} to ${from}`, { from, to });
  }
}

export class AbortedError extends DwcpError {
  constructor(from: string, to: string) {
    super('ERR_ABORTED', `request from ${from} to ${to} aborted`, { from, to });
  }
}

/** One line of the network's trace (what happened to a message). */
export interface NetTraceEntry {
  readonly t: number;
  readonly op: 'deliver' | 'drop' | 'peer';
  readonly kind: string;
  readonly from: string;
  readonly to: string;
  readonly bytes?: number;
  readonly hash?: string;
  readonly why?: string;
  readonly state?: PeerState;
}

export interface NetworkStats {
  sent: number;
  delivered: number;
  lost: number;
  cut: number;
  duplicated: number;
  reordered: number;
  bytes: number;
}

interface Endpoint {
  readonly node: string;
  readonly owner: EventOwner;
  alive: boolean;
  onMessage?: (from: string, payload: Uint8Array) => void;
  onRequest?: (from: string, payload: Uint8Array) => Promise<Uint8Array>;
  readonly peerHandlers: Array<(peer: string, state: PeerState) => void>;
}

interface Link {
  readonly key: string;
  readonly random: SeededRandom;
  /** Arrival time of the last in-order message (FIFO watermark). */
  fifo: number;
  /** The link is cut by the current partition. */
  cut: boolean;
}

export class SimNetwork {
  private readonly endpoints = new Map<string, Endpoint>();
  /** from → to → link (nested maps: no string building per message). */
  private readonly links = new Map<string, Map<string, Link>>();
  private cut = new Set<string>();
  /** Currently connected pairs ("a>b" with a < b), for peer events. */
  private connected = new Set<string>();
  model: NetworkModel;
  readonly stats: NetworkStats = { sent: 0, delivered: 0, lost: 0, cut: 0, duplicated: 0, reordered: 0, bytes: 0 };

  constructor(
    private readonly scheduler: Scheduler,
    private readonly streams: RandomStreams,
    model: NetworkModel = DEFAULT_NETWORK,
    private readonly trace?: (e: NetTraceEntry) => void,
  ) {
    this.model = model;
  }

  /** Attach a node incarnation and get its transport (the previous incarnation's endpoint is dead). */
  attach(owner: EventOwner): Transport {
    const old = this.endpoints.get(owner.node);
    if (old) old.alive = false;
    const ep: Endpoint = { node: owner.node, owner, alive: true, peerHandlers: [] };
    this.endpoints.set(owner.node, ep);
    this.updateConnectivity();
    if (old) this.reconnect(owner.node);
    return {
      publish: (payload) => this.publish(ep, payload),
      onMessage: (h) => {
        ep.onMessage = h;
      },
      request: (peer, payload, options) => this.request(ep, peer, payload, options?.signal),
      onRequest: (h) => {
        ep.onRequest = h;
      },
      onPeer: (h) => {
        ep.peerHandlers.push(h);
      },
      peers: () => this.peersOf(ep),
    };
  }

  /** Take a node off the network (crash): its endpoint dies, messages to it are lost. */
  detach(node: string): void {
    const ep = this.endpoints.get(node);
    if (!ep) return;
    ep.alive = false;
    this.endpoints.delete(node);
    this.updateConnectivity();
  }

  /** Replace the set of cut directed links (a new partition replaces the previous one). */
  setCut(cut: ReadonlySet<string>): void {
    this.cut = new Set(cut);
    for (const byTo of this.links.values()) for (const l of byTo.values()) l.cut = this.cut.has(l.key);
    this.updateConnectivity();
  }

  heal(): void {
    this.setCut(new Set());
  }

  get cutLinks(): ReadonlySet<string> {
    return this.cut;
  }

  /** A message from `from` to `to` would get through now. */
  reachable(from: string, to: string): boolean {
    const a = this.endpoints.get(from);
    const b = this.endpoints.get(to);
    return !!a && !!b && a.alive && b.alive && !this.cut.has(linkKey(from, to));
  }

  // ------------------------------------------------------------------ messages

  private publish(ep: Endpoint, payload: Uint8Array): void {
    if (!ep.alive) return;
    for (const target of this.endpoints.values()) {
      if (target === ep) continue;
      this.send(ep, target, 'gossip', payload, () => target.onMessage?.(ep.node, payload));
    }
  }

  private request(ep: Endpoint, peer: string, payload: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      let settled = false;
      const settle = (f: () => void): void => {
        if (settled) return;
        settled = true;
        this.scheduler.cancel(timeout);
        f();
      };
      const timeout = this.scheduler.after(this.model.requestTimeoutMs, 'rpc-timeout', () => settle(() => reject(new UnreachableError(ep.node, peer))), ep.owner);
      if (signal?.aborted) {
        settle(() => reject(new AbortedError(ep.node, peer)));
        return;
      }
      signal?.addEventListener('abort', () => settle(() => reject(new AbortedError(ep.node, peer))), { once: true });
      const target = this.endpoints.get(peer);
      if (!ep.alive || !target) {
        this.stats.sent++;
        this.stats.cut++;
        this.trace?.({ t: this.scheduler.now, op: 'drop', kind: 'req', from: ep.node, to: peer, why: 'no endpoint' });
        return;
      }
      this.send(ep, target, 'req', payload, () => {
        const handler = target.onRequest;
        if (!handler) return;
        handler(ep.node, payload).then(
          (res) => {
            if (target.alive) this.send(target, ep, 'res', res, () => settle(() => resolve(res)));
          },
          (err: unknown) => {
            if (target.alive) this.send(target, ep, 'res', new Uint8Array(0), () => settle(() => reject(err instanceof Error ? err : new Error(String(err)))));
          },
        );
      });
    });
  }

  /** Send one message over the link from `src` to `dst`; `deliver` runs on arrival, owned by `dst`. */
  private send(src: Endpoint, dst: Endpoint, kind: string, payload: Uint8Array, deliver: () => void): void {
    const now = this.scheduler.now;
    this.stats.sent++;
    const link = this.link(src.node, dst.node);
    if (link.cut || !src.alive || !dst.alive || this.endpoints.get(dst.node) !== dst) {
      this.stats.cut++;
      this.trace?.({ t: now, op: 'drop', kind, from: src.node, to: dst.node, why: 'cut' });
      return;
    }
    const m = this.model;
    const r = link.random;
    if (m.loss > 0 && r.next() < m.loss) {
      this.stats.lost++;
      this.trace?.({ t: now, op: 'drop', kind, from: src.node, to: dst.node, why: 'loss' });
      return;
    }
    const copies = m.duplication > 0 && r.next() < m.duplication ? 2 : 1;
    if (copies > 1) this.stats.duplicated++;
    for (let c = 0; c < copies; c++) {
      let at = now + this.latency(r);
      if (m.reorder > 0 && r.next() < m.reorder) {
        this.stats.reordered++;
        at += r.next() * 2 * m.latency.max;
      } else {
        at = Math.max(at, link.fifo);
        link.fifo = at;
      }
      this.scheduler.at(
        at,
        kind,
        () => {
          // A message on the wire arrives even if its sender died since; not over a cut link or at a dead incarnation.
          if (!dst.alive || link.cut) {
            this.stats.cut++;
            this.trace?.({ t: this.scheduler.now, op: 'drop', kind, from: src.node, to: dst.node, why: 'cut in flight' });
            return;
          }
          this.stats.delivered++;
          this.stats.bytes += payload.length;
          this.trace?.({ t: this.scheduler.now, op: 'deliver', kind, from: src.node, to: dst.node, bytes: payload.length, hash: fnv1aBytes(payload) });
          deliver();
        },
        dst.owner,
      );
    }
  }

  private latency(r: SeededRandom): number {
    const { min, max, distribution } = this.model.latency;
    const span = max - min;
    if (span <= 0) return min;
    let x: number;
    switch (distribution) {
      case 'uniform':
        x = r.next();
        break;
      case 'normal': {
        // Box-Muller; mean in the middle, 3 standard deviations to either bound.
        const u = 1 - r.next();
        const v = r.next();
        x = 0.5 + (Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)) / 6;
        break;
      }
      case 'exponential':
        // Mean at a fifth of the span: mostly fast, a tail toward max.
        x = -Math.log(1 - r.next()) / 5;
        break;
      case 'pareto':
        // Heavy tail (alpha 1.5), scaled so the bulk sits near min.
        x = (Math.pow(1 - r.next(), -1 / 1.5) - 1) / 20;
        break;
    }
    return min + Math.min(1, Math.max(0, x)) * span;
  }

  private link(from: string, to: string): Link {
    let byTo = this.links.get(from);
    if (!byTo) {
      byTo = new Map();
      this.links.set(from, byTo);
    }
    let l = byTo.get(to);
    if (!l) {
      const key = linkKey(from, to);
      l = { key, random: this.streams.get(`net:${key}`), fifo: 0, cut: this.cut.has(key) };
      byTo.set(to, l);
    }
    return l;
  }

  // ------------------------------------------------------------------ connectivity

  private peersOf(ep: Endpoint): string[] {
    if (!ep.alive) return [];
    const out: string[] = [];
    for (const other of this.endpoints.values()) {
      if (other !== ep && this.connected.has(pairKey(ep.node, other.node))) out.push(other.node);
    }
    return out.sort();
  }

  /** Recompute which pairs are connected and announce the changes to both ends. */
  private updateConnectivity(): void {
    const next = new Set<string>();
    const eps = [...this.endpoints.values()].filter((e) => e.alive).sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
    for (let i = 0; i < eps.length; i++) {
      for (let j = i + 1; j < eps.length; j++) {
        const a = eps[i]!.node;
        const b = eps[j]!.node;
        if (!this.cut.has(linkKey(a, b)) && !this.cut.has(linkKey(b, a))) next.add(pairKey(a, b));
      }
    }
    const changes: Array<[string, string, PeerState]> = [];
    for (const p of next) if (!this.connected.has(p)) changes.push([...splitPair(p), 'up']);
    for (const p of this.connected) if (!next.has(p)) changes.push([...splitPair(p), 'down']);
    this.connected = next;
    changes.sort((x, y) => (x[0] + x[1] < y[0] + y[1] ? -1 : x[0] + x[1] > y[0] + y[1] ? 1 : x[2] < y[2] ? -1 : 1));
    for (const [a, b, state] of changes) {
      this.announce(a, b, state);
      this.announce(b, a, state);
    }
  }

  /** Tell `node`'s current incarnation that `peer` went up or down. */
  private announce(node: string, peer: string, state: PeerState): void {
    const ep = this.endpoints.get(node);
    if (!ep?.alive) return;
    this.scheduler.after(
      this.model.latency.min,
      'peer',
      () => {
        if (!ep.alive) return;
        this.trace?.({ t: this.scheduler.now, op: 'peer', kind: 'peer', from: peer, to: node, state });
        for (const h of ep.peerHandlers) h(peer, state);
      },
      ep.owner,
    );
  }

  /** A new incarnation of `node` (attached without a crash first) is a new connection to everyone it reaches. */
  private reconnect(node: string): void {
    for (const p of this.connected) {
      const [a, b] = splitPair(p);
      if (a === node || b === node) {
        this.announce(a, b, 'up');
        this.announce(b, a, 'up');
      }
    }
  }
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

function splitPair(p: string): [string, string] {
  const i = p.indexOf('|');
  return [p.slice(0, i), p.slice(i + 1)];
}
