import type { PeerState, Transport } from '../../replica/ports.js';
import { RequestAbortedError, RequestTimeoutError } from './errors.js';

export interface FaultShimInit {
  /** Uniform [0, 1) source for drops and delay jitter (default Math.random; pass a seeded one to replay). */
  readonly random?: () => number;
  /**
   * How long a request into a cut or dropped link hangs before it fails with ERR_REQUEST_TIMEOUT, as
   * a real partition would (default 1 s; the caller's signal ends it sooner).
   */
  readonly blackholeMs?: number;
  /**
   * Also report cut peers as `down` (and `up` when restored) and leave them out of `peers()`.
   * Off by default: a real partition leaves libp2p connections open, and only heartbeats notice.
   */
  readonly reportCuts?: boolean;
}

type Latency = { readonly min: number; readonly max: number };

/**
 * Fault injection for tests, around any Transport (kernel netem does not exist here). Every fault
 * applies to what THIS node receives from the given peers — gossip, requests, responses — and to
 * its own requests to them:
 *
 * - `cut(ids)`: nothing from them arrives; requests to them hang and time out.
 * - `drop(p, ids?)`: each message from them (and each request to them) is lost with probability `p`.
 * - `delay(ms | {min, max}, ids?)`: each message from them (and each response) arrives that much later.
 * - `partition(ids)`: only `ids` stay reachable; every other peer, present or future, is cut.
 * - `heal()`: all links restored, drops and delays cleared.
 *
 * gossipsub cannot leave a peer out of a publish, so a cut takes effect at the receiving end: to cut a
 * link both ways, cut it in both nodes' shims (what `partition` on each side of a split does).
 */
export class FaultShim implements Transport {
  private readonly inner: Transport;
  private readonly random: () => number;
  private readonly blackholeMs: number;
  private readonly reportCuts: boolean;
  private readonly cuts = new Set<string>();
  private only: Set<string> | undefined;
  private readonly dropRates = new Map<string, number>();
  private defaultDrop = 0;
  private readonly delays = new Map<string, Latency>();
  private defaultDelay: Latency = { min: 0, max: 0 };
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly peerHandlers: Array<(peer: string, state: PeerState) => void> = [];
  private disposed = false;
  /** Messages and requests lost to cuts and drops, and deliveries delayed. */
  readonly counts = { cut: 0, dropped: 0, delayed: 0 };

  constructor(inner: Transport, init: FaultShimInit = {}) {
    this.inner = inner;
    this.random = init.random ?? Math.random;
    this.blackholeMs = init.blackholeMs ?? 1_000;
    this.reportCuts = init.reportCuts ?? false;
    inner.onPeer((peer, state) => {
      if (this.reportCuts && this.isCut(peer)) return;
      this.emit(peer, state);
    });
  }

  // ---- fault control -----------------------------------------------------------------------------

  cut(nodeIds: readonly string[]): void {
    const before = this.snapshot();
    for (const id of nodeIds) this.cuts.add(id);
    this.reportChanges(before);
  }

  restore(nodeIds: readonly string[]): void {
    const before = this.snapshot();
    for (const id of nodeIds) this.cuts.delete(id);
    this.reportChanges(before);
  }

  /** Only `reachable` stay reachable from this node; everyone else is cut until `heal()`. */
  partition(reachable: readonly string[]): void {
    const before = this.snapshot();
    this.only = new Set(reachable);
    this.reportChanges(before);
  }

  /** Restores every link and clears drops and delays. */
  heal(): void {
    const before = this.snapshot();
    this.cuts.clear();
    this.only = undefined;
    this.dropRates.clear();
    this.defaultDrop = 0;
    this.delays.clear();
    this.defaultDelay = { min: 0, max: 0 };
    this.reportChanges(before);
  }

  /** Loses each message from (and request to) `nodeIds` — every peer if omitted — with probability `p`. */
  drop(probability: number, nodeIds?: readonly string[]): void {
    if (!(probability >= 0 && probability <= 1)) throw new RangeError(`drop probability must be in [0, 1], got ${probability}`);
    if (nodeIds) for (const id of nodeIds) this.dropRates.set(id, probability);
    else this.defaultDrop = probability;
  }

  /** Delays what arrives from `nodeIds` (every peer if omitted): a fixed delay or uniform in [min, max]. */
  delay(ms: number | Latency, nodeIds?: readonly string[]): void {
    const lat = typeof ms === 'number' ? { min: ms, max: ms } : ms;
    if (!(lat.min >= 0 && lat.max >= lat.min)) throw new RangeError(`invalid delay ${JSON.stringify(ms)}`);
    if (nodeIds) for (const id of nodeIds) this.delays.set(id, lat);
    else this.defaultDelay = lat;
  }

  isCut(nodeId: string): boolean {
    return this.cuts.has(nodeId) || (this.only !== undefined && !this.only.has(nodeId));
  }

  /** Cancels every delayed delivery; nothing is delivered afterwards. */
  dispose(): void {
    this.disposed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  // ---- the Transport port ------------------------------------------------------------------------

  publish(payload: Uint8Array): void {
    this.inner.publish(payload);
  }

  onMessage(handler: (from: string, payload: Uint8Array) => void): void {
    this.inner.onMessage((from, payload) => {
      if (this.lost(from)) return;
      this.later(from, () => handler(from, payload));
    });
  }

  async request(peer: string, payload: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    if (this.lost(peer)) return this.blackhole(peer, options.signal);
    const response = await this.inner.request(peer, payload, options);
    if (this.isCut(peer)) return this.blackhole(peer, options.signal); // cut while in flight
    const d = this.pickDelay(peer);
    if (d > 0) await this.sleep(d, options.signal, peer);
    return response;
  }

  onRequest(handler: (from: string, payload: Uint8Array) => Promise<Uint8Array>): void {
    this.inner.onRequest(async (from, payload) => {
      if (this.lost(from)) return this.blackhole(from, undefined);
      const d = this.pickDelay(from);
      if (d > 0) await this.sleep(d, undefined, from);
      return handler(from, payload);
    });
  }

  onPeer(handler: (peer: string, state: PeerState) => void): void {
    this.peerHandlers.push(handler);
  }

  peers(): readonly string[] {
    const all = this.inner.peers();
    return this.reportCuts ? all.filter((p) => !this.isCut(p)) : all;
  }

  // ---- internals ---------------------------------------------------------------------------------

  private lost(peer: string): boolean {
    if (this.isCut(peer)) {
      this.counts.cut++;
      return true;
    }
    const p = this.dropRates.get(peer) ?? this.defaultDrop;
    if (p > 0 && this.random() < p) {
      this.counts.dropped++;
      return true;
    }
    return false;
  }

  private pickDelay(peer: string): number {
    const { min, max } = this.delays.get(peer) ?? this.defaultDelay;
    return max <= 0 ? 0 : min + this.random() * (max - min);
  }

  private later(peer: string, fn: () => void): void {
    const d = this.pickDelay(peer);
    if (d <= 0) {
      fn();
      return;
    }
    this.counts.delayed++;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.disposed && !this.isCut(peer)) fn();
    }, d);
    this.timers.add(t);
  }

  private sleep(ms: number, signal: AbortSignal | undefined, peer: string): Promise<void> {
    this.counts.delayed++;
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        clearTimeout(t);
        this.timers.delete(t);
        reject(new RequestAbortedError(peer, 'caller', { cause: signal?.reason }));
      };
      const t = setTimeout(() => {
        this.timers.delete(t);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      this.timers.add(t);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** What a request into a partition looks like: nothing, then a timeout. */
  private blackhole(peer: string, signal: AbortSignal | undefined): Promise<never> {
    return new Promise<never>((_resolve, reject) => {
      if (signal?.aborted) {
        reject(new RequestAbortedError(peer, 'caller', { cause: signal.reason }));
        return;
      }
      const onAbort = (): void => {
        clearTimeout(t);
        this.timers.delete(t);
        reject(new RequestAbortedError(peer, 'caller', { cause: signal?.reason }));
      };
      const t = setTimeout(() => {
        this.timers.delete(t);
        signal?.removeEventListener('abort', onAbort);
        reject(new RequestTimeoutError(peer, this.blackholeMs));
      }, this.blackholeMs);
      this.timers.add(t);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private snapshot(): Set<string> {
    return new Set(this.inner.peers().filter((p) => this.isCut(p)));
  }

  private reportChanges(cutBefore: Set<string>): void {
    if (!this.reportCuts) return;
    for (const p of this.inner.peers()) {
      const now = this.isCut(p);
      if (now && !cutBefore.has(p)) this.emit(p, 'down');
      if (!now && cutBefore.has(p)) this.emit(p, 'up');
    }
  }

  private emit(peer: string, state: PeerState): void {
    for (const h of this.peerHandlers) h(peer, state);
  }
}
