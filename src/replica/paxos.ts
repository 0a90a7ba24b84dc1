/**
 * Single-decree Paxos, one instance per decision key (a conflict id, a lease epoch, a split-brain).
 * Acceptor state (promised ballot, accepted ballot and value, decided value) is persisted in the
 * `paxos` sublevel with a synced write BEFORE the acceptor replies, so a restarted acceptor keeps its
 * promises. Only the configured voters accept; quorum = floor(expectedVotes / 2) + 1, so any two
 * quorums intersect and two proposers can never decide different values for one key.
 *
 * Latency: each phase proceeds as soon as a quorum has answered (the slower voters' replies are
 * still read when they come, for their ballots); the proposer's own record of the decision is a
 * cache (the decision is durable in the accepted values of a quorum, and a later prepare finds it),
 * so it is written after `propose` resolves, not before.
 *
 * Fast round (the Multi-Paxos leader's privilege): with a fixed voter set, the first voter in sorted
 * order (the one the coordinator lets propose first) owns round 0 of every key. Ballot (0, owner)
 * is below every other ballot (the others all have n >= 1), so its phase 1 is vacuous: no value can
 * have been accepted at a lower ballot. The owner goes straight to accept, provided its own acceptor
 * has never promised or accepted anything for the key; it records its own acceptance durably
 * before asking anyone else, which is what guarantees ballot 0 carries one value per key even
 * across its restarts (a restarted owner finds that acceptance and falls back to phase 1).
 * Acceptors accept a round-0 ballot only from the owner as they see it, and only with the usual
 * rule (not below their promise). With a voter function (voters learned at run time) there is no
 * owner and every ballot goes through phase 1.
 */
import { canonicalJson } from '../core/codec/canonical.js';
import { DwcpError } from '../core/errors.js';
import { BadMessageError } from './errors.js';
import type { Clock, Random, Store } from './ports.js';
import { decodeRecord, encodeRecord, RecordKind } from './record-codec.js';
import type { RpcRouter } from './rpc.js';

export interface Ballot {
  readonly n: number;
  readonly node: string;
}

export function compareBallots(a: Ballot | null, b: Ballot | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  if (a.n !== b.n) return a.n < b.n ? -1 : 1;
  return a.node === b.node ? 0 : a.node < b.node ? -1 : 1;
}

export function formatBallot(b: Ballot): string {
  return `${b.n}.${b.node}`;
}

interface AcceptorState {
  promised: Ballot | null;
  accepted: { ballot: Ballot; value: unknown } | null;
  decided?: { value: unknown };
}

export interface Decided<T> {
  readonly value: T;
  readonly ballot: string;
  /** The voters whose acceptance formed the quorum (or who reported the decision). */
  readonly voters: readonly string[];
}

export class NoQuorumError extends DwcpError {
  constructor(key: string, detail: string) {
    super('ERR_NO_QUORUM', `no quorum for ${key}: ${detail}`, { key });
  }
}

/** More distinct voters than `expectedVotes`: quorums might not intersect, so no decision is made. */
export class VoterSetError extends DwcpError {
  constructor(message: string) {
    super('ERR_VOTER_SET', message);
  }
}

export interface PaxosOptions {
  readonly nodeId: string;
  /**
   * The voter set (node ids): fixed (cluster.voters), or a function for clusters where every agent
   * votes and the set is learned; then `expectedVotes` caps it so that quorums still intersect.
   */
  readonly voters: readonly string[] | (() => readonly string[]);
  /** Number of votes expected (defaults to the number of voters). */
  readonly expectedVotes?: number;
  /** Per-phase timeout (ms). */
  readonly phaseTimeoutMs?: number;
  /** Attempts before giving up with NoQuorumError. */
  readonly maxAttempts?: number;
}

export interface PaxosComponents {
  readonly rpc: RpcRouter;
  readonly store: Store;
  readonly clock: Clock;
  readonly random: Random;
}

export class Paxos {
  private readonly self: string;
  private readonly voterSource: () => readonly string[];
  private readonly expectedVotes: number | undefined;
  private readonly phaseTimeoutMs: number;
  private readonly maxAttempts: number;
  private readonly states = new Map<string, AcceptorState>();
  private readonly highestSeen = new Map<string, number>();
  private readonly learned = new Map<string, Decided<unknown>>();
  private readonly waiters = new Map<string, Array<(d: Decided<unknown>) => void>>();
  private readonly learnListeners: Array<(key: string, d: Decided<unknown>) => void> = [];
  /** Serialises acceptor updates per key (a promise and an accept must not interleave). */
  private readonly locks = new Map<string, Promise<unknown>>();
  /** The owner of round 0 (a fixed voter set's first voter), if any: see the module comment. */
  private readonly fastOwner: string | undefined;

  constructor(
    options: PaxosOptions,
    private readonly c: PaxosComponents,
  ) {
    this.self = options.nodeId;
    const v = options.voters;
    this.voterSource = typeof v === 'function' ? v : () => v;
    this.expectedVotes = options.expectedVotes;
    this.checkVoters();
    this.fastOwner = typeof v === 'function' ? undefined : this.voters[0];
    this.phaseTimeoutMs = options.phaseTimeoutMs ?? 1_000;
    this.maxAttempts = options.maxAttempts ?? 8;
    c.rpc.handle('px-prepare', (from, b) => this.onPrepare(from, b));
    c.rpc.handle('px-accept', (from, b) => this.onAccept(from, b));
    c.rpc.handle('px-decided', (from, b) => this.onDecided(from, b));
  }

  /** The current voter set, sorted. */
  get voters(): readonly string[] {
    return [...new Set(this.voterSource())].sort();
  }

  /** Votes needed: floor(expectedVotes / 2) + 1. */
  get quorum(): number {
    return Math.floor((this.expectedVotes ?? this.voters.length) / 2) + 1;
  }

  get isVoter(): boolean {
    return this.voters.includes(this.self);
  }

  /** Refuse quorum decisions when more distinct voters are known than expected (quorums might not intersect). */
  private checkVoters(): void {
    const voters = this.voters;
    const expected = this.expectedVotes ?? voters.length;
    if (voters.length > expected) {
      throw new VoterSetError(`${voters.length} distinct voters (${voters.join(', ')}) but expectedVotes is ${expected}: refusing quorum decisions`);
    }
  }

  /** A value already decided for `key` (learned or read from the acceptor state). */
  async decided<T>(key: string): Promise<Decided<T> | undefined> {
    const l = this.learned.get(key);
    if (l) return l as Decided<T>;
    const st = await this.load(key);
    return st.decided ? { value: st.decided.value as T, ballot: 'stored', voters: [] } : undefined;
  }

  /** Resolves when a decision for `key` is learned (from any proposer). */
  whenDecided<T>(key: string): Promise<Decided<T>> {
    const l = this.learned.get(key);
    if (l) return Promise.resolve(l as Decided<T>);
    return new Promise((resolve) => {
      const list = this.waiters.get(key) ?? [];
      list.push(resolve as (d: Decided<unknown>) => void);
      this.waiters.set(key, list);
    });
  }

  /**
   * Propose `value` for `key`; resolves with the value actually decided (which may be another
   * proposer's). Throws NoQuorumError when a quorum cannot be reached within the attempts.
   */
  async propose<T>(key: string, value: T, signal?: AbortSignal): Promise<Decided<T>> {
    const known = await this.decided<T>(key);
    if (known) return known;
    this.checkVoters();
    let lastDetail = 'no attempt';
    if (this.fastOwner === this.self) {
      const fast = await this.fastRound(key, value, signal);
      if (fast) return fast as Decided<T>;
      lastDetail = 'fast round refused';
    }
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      if (signal?.aborted) throw new NoQuorumError(key, 'aborted');
      if (attempt > 0) await this.sleep(this.backoff(attempt));
      const learnedMeanwhile = this.learned.get(key);
      if (learnedMeanwhile) return learnedMeanwhile as Decided<T>;
      const ballot: Ballot = { n: (this.highestSeen.get(key) ?? 0) + 1, node: this.self };
      this.highestSeen.set(key, ballot.n);
      // Phase 1: prepare, until a quorum promised (or someone reports a decision, or a quorum is out of reach).
      const promises = await this.gather('px-prepare', { key, ballot }, signal, (r) => r.decided !== undefined);
      let chosen: unknown = value;
      let best: Ballot | null = null;
      let oks = 0;
      for (const [, r] of promises) {
        if (r.decided !== undefined) return this.learn(key, { value: (r.decided as { value: T }).value, ballot: 'learned', voters: [] }) as Decided<T>;
        this.noteBallot(key, r.promised as Ballot | null);
        if (r.ok !== true) continue;
        oks++;
        const acc = r.accepted as { ballot: Ballot; value: unknown } | null;
        if (acc && compareBallots(acc.ballot, best) > 0) {
          best = acc.ballot;
          chosen = acc.value;
        }
      }
      if (oks < this.quorum) {
        lastDetail = `prepare ${formatBallot(ballot)}: ${oks} of ${this.quorum} promises`;
        continue;
      }
      // Phase 2: accept, until a quorum accepted (or a quorum is out of reach).
      const accepts = await this.gather('px-accept', { key, ballot, value: chosen }, signal);
      const acceptedBy: string[] = [];
      for (const [voter, r] of accepts) {
        this.noteBallot(key, r.promised as Ballot | null);
        if (r.ok === true) acceptedBy.push(voter);
      }
      if (acceptedBy.length < this.quorum) {
        lastDetail = `accept ${formatBallot(ballot)}: ${acceptedBy.length} of ${this.quorum} accepts`;
        continue;
      }
      const decided = this.learn(key, { value: chosen, ballot: formatBallot(ballot), voters: acceptedBy.sort() });
      // Not awaited, and sent after the caller has seen the decision (its messages are off the
      // decision's path): see the module comment. The local acceptor records it through px-decided.
      const announce = { key, value: chosen, ballot: decided.ballot, voters: decided.voters };
      this.c.clock.setTimer(0, () => void this.broadcast(key, 'px-decided', announce).catch(() => undefined));
      return decided as Decided<T>;
    }
    throw new NoQuorumError(key, lastDetail);
  }

  /**
   * Round 0, owner only: accept locally (durably) if this acceptor is pristine for `key`, then ask
   * the other voters to accept. Undefined when the round did not decide (the caller goes on with
   * phase 1 at ballot >= 1, which finds whatever round 0 got accepted).
   */
  private async fastRound<T>(key: string, value: T, signal: AbortSignal | undefined): Promise<Decided<unknown> | undefined> {
    const ballot: Ballot = { n: 0, node: this.self };
    assertValue(value);
    const mine = await this.withLock(key, async () => {
      const st = await this.load(key);
      if (st.decided || st.promised !== null || st.accepted !== null || !this.isVoter) return false;
      st.promised = ballot;
      st.accepted = { ballot, value: value ?? null };
      await this.save(key, st);
      return true;
    });
    if (!mine) return undefined;
    const others = this.voters.filter((v) => v !== this.self);
    const accepts = await this.gather('px-accept', { key, ballot, value }, signal, undefined, { voters: others, quorum: this.quorum - 1 });
    const acceptedBy = [this.self];
    for (const [voter, r] of accepts) {
      this.noteBallot(key, r.promised as Ballot | null);
      if (r.ok === true) acceptedBy.push(voter);
    }
    if (acceptedBy.length < this.quorum) return undefined;
    const decided = this.learn(key, { value: value ?? null, ballot: formatBallot(ballot), voters: acceptedBy.sort() });
    const announce = { key, value: decided.value, ballot: decided.ballot, voters: decided.voters };
    this.c.clock.setTimer(0, () => void this.broadcast(key, 'px-decided', announce).catch(() => undefined));
    return decided;
  }

  // ------------------------------------------------------------------ acceptor

  private onPrepare(_from: string, body: Record<string, unknown>): Promise<unknown> {
    const key = asKey(body.key);
    const ballot = asBallot(body.ballot);
    // Round 0 never prepares (see the module comment).
    if (ballot.n === 0) throw new BadMessageError('paxos prepare at round 0');
    return this.withLock(key, async () => {
      if (!this.isVoter) return { ok: false, promised: null, accepted: null, notVoter: true };
      const st = await this.load(key);
      if (st.decided) return { ok: false, decided: st.decided, promised: st.promised, accepted: st.accepted };
      if (compareBallots(ballot, st.promised) > 0) {
        st.promised = ballot;
        await this.save(key, st);
        return { ok: true, promised: st.promised, accepted: st.accepted };
      }
      return { ok: false, promised: st.promised, accepted: st.accepted };
    });
  }

  private onAccept(from: string, body: Record<string, unknown>): Promise<unknown> {
    const key = asKey(body.key);
    const ballot = asBallot(body.ballot);
    assertValue(body.value);
    // Round 0 belongs to the owner as this acceptor sees it; anyone else's is refused.
    if (ballot.n === 0 && (ballot.node !== this.fastOwner || from !== ballot.node)) return Promise.resolve({ ok: false, promised: null });
    return this.withLock(key, async () => {
      if (!this.isVoter) return { ok: false, promised: null };
      const st = await this.load(key);
      if (st.decided) return { ok: canonicalJson(st.decided.value) === canonicalJson(body.value ?? null), promised: st.promised };
      if (compareBallots(ballot, st.promised) >= 0) {
        st.promised = ballot;
        st.accepted = { ballot, value: body.value ?? null };
        await this.save(key, st);
        return { ok: true, promised: st.promised };
      }
      return { ok: false, promised: st.promised };
    });
  }

  private async onDecided(from: string, body: Record<string, unknown>): Promise<unknown> {
    const key = asKey(body.key);
    if (from !== this.self && !this.voters.includes(from)) throw new BadMessageError(`px-decided from ${from}, which is not a voter`);
    assertValue(body.value);
    this.learn(key, { value: body.value ?? null, ballot: typeof body.ballot === 'string' ? body.ballot : `from ${from}`, voters: [] });
    await this.persistDecided(key, body.value ?? null);
    return {};
  }

  // ------------------------------------------------------------------ plumbing

  /**
   * Sends a phase's request to every voter and resolves, sorted by voter, with the replies in hand
   * as soon as `quorum` voters replied `ok`, or a reply is `final` (e.g. reports a decision), or a
   * quorum can no longer be reached, or every voter answered or failed. Replies arriving later
   * still update the highest ballot seen.
   */
  private gather(
    type: 'px-prepare' | 'px-accept',
    body: Record<string, unknown>,
    signal: AbortSignal | undefined,
    final: (r: Record<string, unknown>) => boolean = () => false,
    among: { voters: readonly string[]; quorum: number } = { voters: this.voters, quorum: this.quorum },
  ): Promise<Array<[string, Record<string, unknown>]>> {
    const key = body.key as string;
    const { voters, quorum } = among;
    return new Promise((resolve) => {
      const out: Array<[string, Record<string, unknown>]> = [];
      let oks = 0;
      let settled = 0;
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        resolve([...out].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
      };
      const check = (): void => {
        if (oks >= quorum || settled === voters.length || settled - oks > voters.length - quorum) finish();
      };
      for (const voter of voters) {
        const call =
          voter === this.self
            ? (this.local(type, body) as Promise<Record<string, unknown>>)
            : this.callWithTimeout(voter, type, body, signal);
        call.then(
          (r) => {
            settled++;
            if (done) {
              this.noteBallot(key, (r.promised as Ballot | null | undefined) ?? null);
              return;
            }
            out.push([voter, r]);
            if (r.ok === true) oks++;
            if (final(r)) finish();
            else check();
          },
          () => {
            // An unreachable voter simply does not count toward the quorum.
            settled++;
            check();
          },
        );
      }
      check();
    });
  }

  private async broadcast(key: string, type: string, body: Record<string, unknown>, signal?: AbortSignal): Promise<Array<[string, Record<string, unknown>]>> {
    const out: Array<[string, Record<string, unknown>]> = [];
    await Promise.all(
      this.voters.map(async (voter) => {
        try {
          const r =
            voter === this.self
              ? ((await this.local(type, body)) as Record<string, unknown>)
              : await this.callWithTimeout(voter, type, body, signal);
          out.push([voter, r]);
        } catch {
          // An unreachable voter simply does not count toward the quorum.
        }
      }),
    );
    void key;
    return out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  }

  private local(type: string, body: Record<string, unknown>): Promise<unknown> {
    if (type === 'px-prepare') return this.onPrepare(this.self, body);
    if (type === 'px-accept') return this.onAccept(this.self, body);
    return this.onDecided(this.self, body);
  }

  private callWithTimeout(peer: string, type: string, body: Record<string, unknown>, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const ctrl = new AbortController();
    const timer = this.c.clock.setTimer(this.phaseTimeoutMs, () => ctrl.abort());
    const onAbort = (): void => ctrl.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    return this.c.rpc.call<Record<string, unknown>>(peer, type, body, ctrl.signal).finally(() => {
      this.c.clock.clearTimer(timer);
      signal?.removeEventListener('abort', onAbort);
    });
  }

  private learn(key: string, d: Decided<unknown>): Decided<unknown> {
    const existing = this.learned.get(key);
    if (existing) return existing;
    this.learned.set(key, d);
    for (const w of this.waiters.get(key) ?? []) w(d);
    this.waiters.delete(key);
    for (const l of this.learnListeners) l(key, d);
    return d;
  }

  /** Be told of every decision this node learns (e.g. lease epochs). */
  onLearn(fn: (key: string, d: Decided<unknown>) => void): void {
    this.learnListeners.push(fn);
  }

  private noteBallot(key: string, b: Ballot | null): void {
    if (b && b.n > (this.highestSeen.get(key) ?? 0)) this.highestSeen.set(key, b.n);
  }

  private backoff(attempt: number): number {
    return (10 + this.c.random.int(40)) * Math.min(attempt, 5);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.c.clock.setTimer(ms, resolve));
  }

  private async load(key: string): Promise<AcceptorState> {
    const cached = this.states.get(key);
    if (cached) return cached;
    const raw = await this.c.store.get('paxos', key);
    const st: AcceptorState = raw ? (decodeRecord(raw, RecordKind.paxos, 'paxos', key) as AcceptorState) : { promised: null, accepted: null };
    this.states.set(key, st);
    return st;
  }

  private async save(key: string, st: AcceptorState): Promise<void> {
    await this.c.store.write([{ type: 'put', sublevel: 'paxos', key, value: encodeRecord(RecordKind.paxos, st) }]);
  }

  private async persistDecided(key: string, value: unknown): Promise<void> {
    await this.withLock(key, async () => {
      const st = await this.load(key);
      if (st.decided) return;
      st.decided = { value };
      await this.save(key, st);
    });
  }

  private withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(key, tail);
    void tail.then(() => {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    });
    return next;
  }
}

/** A proposed value must be plain, finite, shallow enough JSON (checked before any state changes). */
function assertValue(v: unknown): void {
  try {
    canonicalJson(v ?? null);
  } catch (err) {
    throw new BadMessageError(`malformed paxos value: ${err instanceof Error ? err.message : 'not encodable'}`);
  }
}

function asKey(v: unknown): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 256) throw new BadMessageError('paxos key must be a non-empty string');
  return v;
}

function asBallot(v: unknown): Ballot {
  const b = v as { n?: unknown; node?: unknown } | null;
  if (!b || typeof b.n !== 'number' || !Number.isSafeInteger(b.n) || b.n < 0 || typeof b.node !== 'string') {
    throw new BadMessageError('malformed paxos ballot');
  }
  return { n: b.n, node: b.node };
}
