/**
 * Per-origin replay protection for gossip. Each origin numbers its envelopes with an increasing
 * sequence number. An envelope is fresh if its seq is above everything accepted from that origin,
 * or — to tolerate the reordering of gossip repair (IHAVE/IWANT delivers a missed message after a
 * newer one) — within the last `window` accepted seqs and not among them. Anything else is a
 * replay. The map of origins is bounded (least recently used evicted first).
 */
interface OriginState {
  /** The most recently accepted seqs (at most `window`). */
  readonly recent: Set<number>;
  /** Every seq at or below this is refused (the largest seq evicted from `recent`). */
  floor: number;
  highest: number;
}

export class ReplayGuard {
  private readonly origins = new Map<string, OriginState>();

  constructor(
    private readonly window = 256,
    private readonly maxOrigins = 4096,
  ) {}

  isFresh(origin: string, seq: number): boolean {
    const s = this.origins.get(origin);
    if (!s) return true;
    if (seq > s.highest) return true;
    return seq > s.floor && !s.recent.has(seq);
  }

  /** Records an accepted seq (call only after `isFresh` said yes). */
  accept(origin: string, seq: number): void {
    let s = this.origins.get(origin);
    if (s) {
      this.origins.delete(origin); // re-inserted below: most recently used last
    } else {
      s = { recent: new Set(), floor: -1, highest: -1 };
      if (this.origins.size >= this.maxOrigins) {
        const oldest = this.origins.keys().next().value;
        if (oldest !== undefined) this.origins.delete(oldest);
      }
    }
    this.origins.set(origin, s);
    s.recent.add(seq);
    if (seq > s.highest) s.highest = seq;
    if (s.recent.size > this.window) {
      let min = Infinity;
      for (const v of s.recent) if (v < min) min = v;
      s.recent.delete(min);
      if (min > s.floor) s.floor = min;
    }
  }

  get size(): number {
    return this.origins.size;
  }
}

/**
 * The publisher's sequence numbers: strictly increasing, and increasing across restarts without
 * persisting anything — `max(previous + 1, now × 1000)` — as long as the wall clock does not go back
 * by more than the time the process ran (and fewer than 1000 envelopes a millisecond are published
 * on average). Safe integers until the year 2255.
 */
export class SeqCounter {
  private last = 0;
  constructor(private readonly now: () => number) {}
  next(): number {
    this.last = Math.max(this.last + 1, Math.floor(this.now()) * 1000);
    return this.last;
  }
}
