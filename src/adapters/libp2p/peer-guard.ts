/**
 * Per-peer flood protection for inbound gossip, kept apart from libp2p so it can be tested with a
 * manual clock:
 *
 * - token buckets per propagating peer (`ratePerSec` messages a second, bursts up to `burst`), one
 *   for the messages it signed itself and one for those it relays: messages over them are dropped
 *   before any decoding. An honest peer that relays a flood (a rogue's, or others' heavy traffic)
 *   spends its relay bucket, never the one its own updates go through;
 * - strikes: every message the validator refuses as invalid counts against the peer that sent it
 *   (decaying: a strike older than `strikeWindowMs` no longer counts); at `banAfterStrikes` the peer
 *   is banned for `banMs` (the transport then hangs up and refuses its connections);
 * - newcomers: a peer id that has not proven itself yet (it has not delivered a valid message of its
 *   own, correctly bound, or it is known for less than `newcomerMs`) ALSO spends from one budget
 *   shared by all newcomers: a token bucket (`newcomerRatePerSec`, `newcomerBurst`) and a strike
 *   count (`newcomerStrikes` within `strikeWindowMs`). Once the shared strikes are spent, a newcomer
 *   is banned at its first invalid message. So a rogue that rotates peer ids (a fresh Ed25519
 *   identity per connection) gets no fresh budget per identity: whatever the number of identities,
 *   about `newcomerStrikes` invalid messages a window are looked at, plus one per identity. Honest
 *   peers send no invalid messages, so the shared strikes never touch them; only a newcomer's rate is
 *   shared (an honest peer proves itself with its first own valid message after `newcomerMs`);
 * - sustained overuse: a peer that offers at least `overuseFactor` × `ratePerSec` messages of its own
 *   (signed by itself) a second, second after second, for `overuseMs`, is banned (`overuse`); from
 *   half that time on, one of its over-budget messages a second is `penalise`d (the transport counts
 *   an invalid delivery in its gossipsub score; not a strike). Honest peers stay well below the rate
 *   limit itself.
 *
 * Memory is bounded whatever the peers do: at most `maxPeers` peer states, bans and proven peer ids
 * are kept (the least recently seen go first). A disconnected peer's state goes unless it still
 * carries strikes or overuse (so reconnecting does not wipe the slate).
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
  /** Peers tracked at most (states, bans and proven peer ids each). */
  readonly maxPeers: number;
  /** How long a peer id stays a newcomer at least (0: no newcomer budget, every peer has its own). */
  readonly newcomerMs?: number;
  /** Messages a second from all newcomers together (0: no shared rate) and their burst. */
  readonly newcomerRatePerSec?: number;
  readonly newcomerBurst?: number;
  /** Invalid messages from all newcomers together (within `strikeWindowMs`) after which a newcomer is banned at its first. */
  readonly newcomerStrikes?: number;
  /** Sustained overuse: offered rate ≥ `overuseFactor` × `ratePerSec` for `overuseMs` bans (0: never). */
  readonly overuseFactor?: number;
  readonly overuseMs?: number;
}

/**
 * What to do with one offered message: `admit` it (go on decoding), `drop` it (over the peer's
 * rate, not penalised), `drop-newcomer` (over the newcomers' shared rate), `penalise` (drop it, and
 * during sustained overuse: the peer loses gossipsub score) or `ban` the peer
 * (sustained overuse).
 */
export type Admission = 'admit' | 'drop' | 'drop-newcomer' | 'penalise' | 'ban';

/** Why `strike` says a peer earned a ban. */
export type StrikeBan = 'invalid-messages' | 'newcomer-invalid';

interface Bucket {
  tokens: number;
  refilledAt: number;
}

/** A peer's state; its own bucket is the state itself (its own messages), `relay` the other. */
interface PeerState extends Bucket {
  /** The bucket of the messages it relays (signed by others). */
  relay: Bucket;
  /** Strikes, decayed linearly: `strikes` as of `struckAt`, losing `banAfterStrikes` per window. */
  strikes: number;
  struckAt: number;
  /** When this peer was first seen (connected or first message): the start of its probation. */
  since: number;
  /** Whether it delivered a valid message of its own. */
  valid: boolean;
  /** Messages offered in the current one-second measuring window. */
  winStart: number;
  winCount: number;
  /** Start of the current run of over-`overuseFactor` seconds, if any. */
  overSince: number | undefined;
  penalisedAt: number;
}

export class PeerGuard {
  private readonly peers = new Map<string, PeerState>();
  private readonly bans = new Map<string, number>();
  private readonly proven = new Map<string, true>();
  private readonly newcomerBucket: Bucket;
  private newcomerStrikeCount = 0;
  private newcomerStruckAt = 0;
  private readonly newcomerMs: number;
  private readonly newcomerRate: number;
  private readonly newcomerBurst: number;
  private readonly newcomerStrikes: number;
  private readonly overuseRate: number;
  private readonly overuseMs: number;

  constructor(private readonly o: PeerGuardOptions) {
    this.newcomerMs = o.newcomerMs ?? 0;
    this.newcomerRate = o.newcomerRatePerSec ?? 0;
    this.newcomerBurst = Math.max(1, o.newcomerBurst ?? this.newcomerRate * 2);
    this.newcomerStrikes = o.newcomerStrikes ?? o.banAfterStrikes;
    this.overuseRate = o.ratePerSec > 0 && (o.overuseFactor ?? 0) > 0 ? o.ratePerSec * o.overuseFactor! : 0;
    this.overuseMs = this.overuseRate > 0 ? (o.overuseMs ?? 0) : 0;
    this.newcomerBucket = { tokens: this.newcomerBurst, refilledAt: 0 };
  }

  /** Whether one more message from `peer` fits its rate (and takes a token if so). */
  admit(peer: string, now: number): boolean {
    return this.offer(peer, now) === 'admit';
  }

  /**
   * Rates one more message from `peer` (see `Admission`); takes tokens when admitted. `own`: the
   * peer signed it itself. Only its own messages count towards overuse: an honest peer relaying
   * several others' floods (each within its rate) must not look like a flooder.
   */
  offer(peer: string, now: number, own = true): Admission {
    if (this.o.ratePerSec <= 0 && !(this.newcomerRate > 0 && this.isNewcomer(peer, now))) return 'admit';
    const st = this.state(peer, now);
    if (this.o.ratePerSec > 0) {
      const over = this.measure(st, now, own);
      if (over === 'ban') return 'ban';
      if (!take(own ? st : st.relay, now, this.o.ratePerSec, this.o.burst)) {
        if (over === 'penalise' && now - st.penalisedAt >= 1_000) {
          st.penalisedAt = now;
          return 'penalise';
        }
        return 'drop';
      }
    }
    if (this.newcomerRate > 0 && this.isNewcomer(peer, now) && !take(this.newcomerBucket, now, this.newcomerRate, this.newcomerBurst)) return 'drop-newcomer';
    return 'admit';
  }

  /**
   * Counts an invalid message from `peer`; says why when it has earned a ban (the caller bans it):
   * its own strikes, or (a newcomer) the newcomers' shared strikes are spent.
   */
  strike(peer: string, now: number): StrikeBan | false {
    if (this.o.banAfterStrikes <= 0 || this.isBanned(peer, now)) return false;
    const newcomer = this.isNewcomer(peer, now);
    const st = this.state(peer, now);
    const decay = ((now - st.struckAt) / this.o.strikeWindowMs) * this.o.banAfterStrikes;
    st.strikes = Math.max(0, st.strikes - decay) + 1;
    st.struckAt = now;
    if (st.strikes >= this.o.banAfterStrikes) return 'invalid-messages';
    if (!newcomer || this.newcomerStrikes <= 0) return false;
    // The shared count: was it spent before this strike? Then this newcomer goes at once.
    const shared = ((now - this.newcomerStruckAt) / this.o.strikeWindowMs) * this.newcomerStrikes;
    this.newcomerStrikeCount = Math.max(0, this.newcomerStrikeCount - shared);
    this.newcomerStruckAt = now;
    const spent = this.newcomerStrikeCount >= this.newcomerStrikes;
    this.newcomerStrikeCount = Math.min(this.newcomerStrikeCount + 1, 2 * this.newcomerStrikes);
    return spent || this.newcomerStrikeCount >= this.newcomerStrikes ? 'newcomer-invalid' : false;
  }

  /** Records that `peer` delivered a valid, correctly bound message of its own (a step to leaving probation). */
  valid(peer: string, now: number): void {
    if (this.newcomerMs <= 0 || this.proven.has(peer)) return;
    this.state(peer, now).valid = true;
  }

  /** Starts `peer`'s probation (if it is not known yet). */
  connected(peer: string, now: number): void {
    if (this.newcomerMs > 0 && !this.proven.has(peer)) this.state(peer, now);
  }

  /** Whether `peer` still spends from the newcomers' shared budget. */
  isNewcomer(peer: string, now: number): boolean {
    if (this.newcomerMs <= 0) return false;
    if (this.proven.has(peer)) return false;
    const st = this.peers.get(peer);
    if (!st || !st.valid || now - st.since < this.newcomerMs) return true;
    this.proven.set(peer, true);
    if (this.proven.size > this.o.maxPeers) this.proven.delete(this.proven.keys().next().value!);
    return false;
  }

  /** Bans `peer` until `now + banMs` (false when it already was). */
  ban(peer: string, now: number): boolean {
    if (this.isBanned(peer, now)) return false;
    this.bans.delete(peer);
    this.bans.set(peer, now + this.o.banMs);
    this.peers.delete(peer);
    this.proven.delete(peer);
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

  /**
   * Forgets a disconnected peer's bucket (not its ban, nor its proof; its strikes and overuse only
   * once they have decayed, so that reconnecting does not reset them).
   */
  forget(peer: string, now = Infinity): void {
    const st = this.peers.get(peer);
    if (!st) return;
    const decayed = st.strikes - ((now - st.struckAt) / this.o.strikeWindowMs) * this.o.banAfterStrikes;
    if (st.overSince === undefined && (decayed <= 0 || this.o.banAfterStrikes <= 0) && !(st.valid && this.newcomerMs > 0)) this.peers.delete(peer);
  }

  /** Peers with a state, bans held and proven peer ids (for tests of the memory bound). */
  get size(): { peers: number; bans: number; proven: number } {
    return { peers: this.peers.size, bans: this.bans.size, proven: this.proven.size };
  }

  /**
   * Counts one offered message in `st`'s one-second window and says whether the peer is in
   * sustained overuse: `penalise` from `overuseMs / 2` on, `ban` at `overuseMs`.
   */
  private measure(st: PeerState, now: number, own: boolean): 'ok' | 'penalise' | 'ban' {
    if (this.overuseMs <= 0) return 'ok';
    const elapsed = now - st.winStart;
    if (elapsed >= 1_000) {
      const rate = (st.winCount * 1_000) / elapsed;
      if (rate >= this.overuseRate) st.overSince ??= st.winStart;
      else st.overSince = undefined;
      st.winStart = now;
      st.winCount = 0;
    } else if (st.winCount === 0 && st.overSince === undefined) {
      // A run of overuse starts no earlier than its first message (not when the peer connected).
      st.winStart = now;
    }
    if (own) st.winCount++;
    if (st.overSince === undefined) return 'ok';
    const over = now - st.overSince;
    if (over >= this.overuseMs) return 'ban';
    return over >= this.overuseMs / 2 ? 'penalise' : 'ok';
  }

  private state(peer: string, now: number): PeerState {
    let st = this.peers.get(peer);
    if (st) {
      // Most recently seen last: the first entry is the one to evict.
      this.peers.delete(peer);
      this.peers.set(peer, st);
      return st;
    }
    st = { tokens: this.o.burst, refilledAt: now, relay: { tokens: this.o.burst, refilledAt: now }, strikes: 0, struckAt: now, since: now, valid: false, winStart: now, winCount: 0, overSince: undefined, penalisedAt: -Infinity };
    this.peers.set(peer, st);
    if (this.peers.size > this.o.maxPeers) this.peers.delete(this.peers.keys().next().value!);
    return st;
  }
}

/** Refills `b` (rate a second, up to burst) and takes one token if there is one. */
function take(b: Bucket, now: number, ratePerSec: number, burst: number): boolean {
  b.tokens = Math.min(burst, b.tokens + (Math.max(0, now - b.refilledAt) / 1000) * ratePerSec);
  b.refilledAt = now;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}
