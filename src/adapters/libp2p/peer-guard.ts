/**
 * Per-peer flood protection for inbound gossip, kept apart from libp2p so it can be tested with a
 * manual clock:
 *
 * - a token bucket per propagating peer (`ratePerSec` messages a second, bursts up to `burst`):
 *   messages over it are dropped before any decoding;
 * - strikes: every message the validator refuses as invalid counts against the peer that sent it
 *   (decaying: a strike older than `strikeWindowMs` no longer counts); at `banAfterStrikes` the peer
 *   is banned for `banMs` (the transport then hangs up and refuses its connections).
 *
 * Memory is bounded whatever the peers do: at most `maxPeers` buckets and bans are kept (the
 * least recently seen go first), and a peer's bucket and strikes go when it disconnects.
 */
export interface PeerGuardOptions {
  /** Sustained gossip messages a second accepted from one peer (0: no rate limit). */
  readonly ratePerSec: number;
  /** Largest burst from one peer (the bucket's size). */
  readonly burst: number;
  /** Invalid messages from one peer (within `strikeWindowMs`) that get it banned (0: never). */
  readonly banAfterStrikes: number;
  readonly strikeWindowMs: number;
  /** How long a ban lasts. */
  readonly banMs: number;
  /** Peers tracked at most (buckets, strikes and bans each). */
  readonly maxPeers: number;
}

interface PeerState {
  tokens: number;
  refilledAt: number;
  /** Strikes, decayed linearly: `strikes` as of `struckAt`, losing `banAfterStrikes` per window. */
  strikes: number;
  struckAt: number;
}

export class PeerGuard {
  private readonly peers = new Map<string, PeerState>();
  private readonly bans = new Map<string, number>();

  constructor(private readonly o: PeerGuardOptions) {}

  /** Whether one more message from `peer` fits its rate (and takes a token if so). */
  admit(peer: string, now: number): boolean {
    if (this.o.ratePerSec <= 0) return true;
    const st = this.state(peer, now);
    st.tokens = Math.min(this.o.burst, st.tokens + ((now - st.refilledAt) / 1000) * this.o.ratePerSec);
    st.refilledAt = now;
    if (st.tokens < 1) return false;
    st.tokens -= 1;
    return true;
  }

  /** Counts an invalid message from `peer`; true when it has earned a ban (the caller bans it). */
  strike(peer: string, now: number): boolean {
    if (this.o.banAfterStrikes <= 0 || this.isBanned(peer, now)) return false;
    const st = this.state(peer, now);
    const decay = ((now - st.struckAt) / this.o.strikeWindowMs) * this.o.banAfterStrikes;
    st.strikes = Math.max(0, st.strikes - decay) + 1;
    st.struckAt = now;
    return st.strikes >= this.o.banAfterStrikes;
  }

  /** Bans `peer` until `now + banMs` (false when it already was). */
  ban(peer: string, now: number): boolean {
    if (this.isBanned(peer, now)) return false;
    this.bans.delete(peer);
    this.bans.set(peer, now + this.o.banMs);
    this.peers.delete(peer);
    if (this.bans.size > this.o.maxPeers) this.bans.delete(this.bans.keys().next().value!);
    return true;
  }

  isBanned(peer: string, now: number): boolean {
    const until = this.bans.get(peer);
    if (until === undefined) return false;
    if (now < until) return true;
    this.bans.delete(peer);
    return false;
  }

  /** Peers banned right now, with when their ban ends. */
  banned(now: number): Array<{ peer: string; until: number }> {
    const out: Array<{ peer: string; until: number }> = [];
    for (const [peer, until] of this.bans) if (now < until) out.push({ peer, until });
    return out;
  }

  /** Forgets a disconnected peer's bucket and strikes (not its ban). */
  forget(peer: string): void {
    this.peers.delete(peer);
  }

  /** Peers with a bucket or strikes, and bans held (for tests of the memory bound). */
  get size(): { peers: number; bans: number } {
    return { peers: this.peers.size, bans: this.bans.size };
  }

  private state(peer: string, now: number): PeerState {
    let st = this.peers.get(peer);
    if (st) {
      // Most recently seen last: the first entry is the one to evict.
      this.peers.delete(peer);
      this.peers.set(peer, st);
      return st;
    }
    st = { tokens: this.o.burst, refilledAt: now, strikes: 0, struckAt: now };
    this.peers.set(peer, st);
    if (this.peers.size > this.o.maxPeers) this.peers.delete(this.peers.keys().next().value!);
    return st;
  }
}
