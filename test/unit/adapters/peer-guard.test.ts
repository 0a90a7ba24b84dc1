import { describe, expect, it } from 'vitest';
import { PeerGuard, type PeerGuardOptions } from '../../../src/adapters/libp2p/peer-guard.js';

const base: PeerGuardOptions = { ratePerSec: 100, burst: 10, banAfterStrikes: 5, strikeWindowMs: 10_000, banMs: 60_000, maxPeers: 100 };

describe('PeerGuard', () => {
  it('admits a burst, then the sustained rate only', () => {
    const g = new PeerGuard(base);
    let admitted = 0;
    for (let i = 0; i < 50; i++) if (g.admit('p', 0)) admitted++;
    expect(admitted).toBe(10);
    // 100 ms later: 10 more tokens (100/s).
    admitted = 0;
    for (let i = 0; i < 50; i++) if (g.admit('p', 100)) admitted++;
    expect(admitted).toBe(10);
    // Another peer has its own bucket.
    expect(g.admit('q', 100)).toBe(true);
  });

  it("keeps a peer's own messages and those it relays in separate buckets: relaying a flood never starves its own", () => {
    const g = new PeerGuard(base);
    // A relayed flood empties the relay bucket...
    let relayed = 0;
    for (let i = 0; i < 1_000; i++) if (g.offer('p', 0, false) === 'admit') relayed++;
    expect(relayed).toBe(10);
    // ...and the peer's own messages still have their whole burst, then their rate.
    let own = 0;
    for (let i = 0; i < 50; i++) if (g.offer('p', 0, true) === 'admit') own++;
    expect(own).toBe(10);
    for (let t = 1; t <= 1_000; t++) {
      expect(g.offer('p', t, false)).not.toBe('ban');
      if (t % 10 === 0) expect(g.offer('p', t, true), `own message at ${t} ms`).toBe('admit');
    }
    // The own bucket does not lend to relays either.
    const h = new PeerGuard(base);
    for (let i = 0; i < 10; i++) expect(h.offer('q', 0, true)).toBe('admit');
    expect(h.offer('q', 0, true)).toBe('drop');
    expect(h.offer('q', 0, false)).toBe('admit');
  });

  it('does not limit with ratePerSec 0', () => {
    const g = new PeerGuard({ ...base, ratePerSec: 0 });
    for (let i = 0; i < 10_000; i++) expect(g.admit('p', 0)).toBe(true);
  });

  it('reports a ban at banAfterStrikes strikes inside the window, and strikes decay', () => {
    const g = new PeerGuard(base);
    for (let i = 0; i < 4; i++) expect(g.strike('p', 0)).toBe(false);
    expect(g.strike('p', 0)).toBe('invalid-messages');
    // Spread out: 4 strikes decay by the next one (5 per 10 s = one per 2 s).
    const h = new PeerGuard(base);
    for (let i = 0; i < 100; i++) expect(h.strike('p', i * 2_500)).toBe(false);
  });

  it('bans until banMs has passed; a ban survives forget(); strikes of a banned peer do not re-ban', () => {
    const g = new PeerGuard(base);
    expect(g.ban('p', 1_000)).toBe(true);
    expect(g.ban('p', 2_000)).toBe(false);
    g.forget('p');
    expect(g.isBanned('p', 60_999)).toBe(true);
    expect(g.strike('p', 5_000)).toBe(false);
    expect(g.banned(2_000)).toEqual([{ peer: 'p', until: 61_000 }]);
    expect(g.isBanned('p', 61_000)).toBe(false);
    expect(g.size.bans).toBe(0);
  });

  it('keeps memory bounded under many peer ids (the least recently seen go first)', () => {
    const g = new PeerGuard({ ...base, maxPeers: 50 });
    for (let i = 0; i < 10_000; i++) {
      g.admit(`p${i}`, i);
      g.ban(`b${i}`, i);
    }
    expect(g.size).toEqual({ peers: 50, bans: 50, proven: 0 });
    expect(g.isBanned('b9999', 9_999)).toBe(true);
    expect(g.isBanned('b0', 1)).toBe(false);
  });

  describe('newcomers (peer ids that have not proven themselves) share one budget', () => {
    const nc: PeerGuardOptions = { ...base, banAfterStrikes: 64, newcomerMs: 10_000, newcomerRatePerSec: 100, newcomerBurst: 20, newcomerStrikes: 10 };

    it('a rogue rotating peer ids gets no fresh strikes: once the shared strikes are spent, each new id goes at its first invalid message', () => {
      const g = new PeerGuard(nc);
      const verdicts: Array<string | false> = [];
      for (let i = 0; i < 10; i++) verdicts.push(g.strike(`rogue-${i}`, 0));
      expect(verdicts.slice(0, 9)).toEqual(Array(9).fill(false));
      expect(verdicts[9]).toBe('newcomer-invalid');
      for (let i = 10; i < 1_000; i++) expect(g.strike(`rogue-${i}`, i)).toBe('newcomer-invalid');
      // The shared count decays (newcomerStrikes per strikeWindowMs): a quiet window later, newcomers have strikes again.
      expect(g.strike('late', 1_000 + 3 * 10_000)).toBe(false);
    });

    it('a proven peer (a valid message of its own, and newcomerMs known) keeps its own budget while newcomers are spent', () => {
      const g = new PeerGuard(nc);
      g.connected('honest', 0);
      g.valid('honest', 1_000);
      expect(g.isNewcomer('honest', 9_999)).toBe(true);
      expect(g.isNewcomer('honest', 10_000)).toBe(false);
      for (let i = 0; i < 20; i++) g.strike(`rogue-${i}`, 10_000);
      expect(g.strike('honest', 10_000)).toBe(false);
      // Connected long enough but never a valid message: still a newcomer.
      g.connected('idle', 0);
      expect(g.isNewcomer('idle', 60_000)).toBe(true);
      expect(g.strike('idle', 10_000)).toBe('newcomer-invalid');
      // Proof survives a disconnect; a ban takes it away.
      g.forget('honest', 20_000);
      expect(g.isNewcomer('honest', 20_000)).toBe(false);
      g.ban('honest', 20_000);
      expect(g.isNewcomer('honest', 20_000 + 60_000)).toBe(true);
    });

    it('newcomers share one token bucket on top of their own; proven peers do not spend from it', () => {
      const g = new PeerGuard({ ...nc, burst: 1_000, ratePerSec: 1_000 });
      let admitted = 0;
      for (let i = 0; i < 100; i++) for (const p of ['a', 'b', 'c']) if (g.offer(`${p}${i % 5}`, 0) === 'admit') admitted++;
      expect(admitted).toBe(20);
      expect(g.offer('d', 0)).toBe('drop-newcomer');
      expect(g.offer('d', 100)).toBe('admit'); // 100 ms at 100/s: 10 tokens
      g.connected('old', 0);
      g.valid('old', 0);
      for (let i = 0; i < 500; i++) expect(g.offer('old', 10_000)).toBe('admit');
    });

    it('keeps memory bounded under many rotating ids', () => {
      const g = new PeerGuard({ ...nc, maxPeers: 50 });
      for (let i = 0; i < 10_000; i++) {
        g.connected(`p${i}`, i);
        g.offer(`p${i}`, i);
        g.valid(`p${i}`, i);
        g.isNewcomer(`p${i - 20}`, i);
        if (g.strike(`p${i}`, i)) g.ban(`p${i}`, i);
      }
      const s = g.size;
      expect(s.peers).toBeLessThanOrEqual(50);
      expect(s.bans).toBeLessThanOrEqual(50);
      expect(s.proven).toBeLessThanOrEqual(50);
    });
  });

  describe('sustained overuse of the valid-message budget', () => {
    const ov: PeerGuardOptions = { ...base, ratePerSec: 100, burst: 200, overuseFactor: 4, overuseMs: 10_000 };
    /** Offers `perSec` messages a second, evenly, from `from` to `to` ms; returns the verdicts by kind and when the first of each came. */
    function run(g: PeerGuard, perSec: number, from: number, to: number): Record<string, { n: number; first: number }> {
      const out: Record<string, { n: number; first: number }> = {};
      for (let t = from; t < to; t += 1_000 / perSec) {
        const v = g.offer('p', t);
        out[v] ??= { n: 0, first: t };
        out[v].n++;
      }
      return out;
    }

    it('a peer offering 5x its rate is penalised from half overuseMs on (at most one message a second), then banned at overuseMs', () => {
      const v = run(new PeerGuard(ov), 500, 0, 12_000);
      expect(v.ban!.first).toBeGreaterThanOrEqual(10_000);
      expect(v.ban!.first).toBeLessThan(11_100);
      expect(v.penalise!.first).toBeGreaterThanOrEqual(5_000);
      expect(v.penalise!.n).toBeLessThanOrEqual(6);
      expect(v.penalise!.n).toBeGreaterThanOrEqual(4);
    });

    it('never trips for a peer at 3.9x its rate for a long time (merely rate-limited), nor for bursts with pauses', () => {
      const v = run(new PeerGuard(ov), 390, 0, 60_000);
      expect(v.ban).toBeUndefined();
      expect(v.penalise).toBeUndefined();
      expect(v.drop!.n).toBeGreaterThan(0);
      // 8 s at 10x, 2 s quiet, over and over: never 10 s on end.
      const g = new PeerGuard(ov);
      const w: Record<string, { n: number; first: number }> = {};
      for (let c = 0; c < 6; c++) for (const [k, x] of Object.entries(run(g, 1_000, c * 10_000, c * 10_000 + 8_000))) w[k] = { n: (w[k]?.n ?? 0) + x.n, first: w[k]?.first ?? x.first };
      expect(w.ban).toBeUndefined();
    });

    it('times a run of overuse from its first message, not from when the peer connected', () => {
      const g = new PeerGuard({ ...ov, newcomerMs: 10_000 });
      g.connected('p', 0);
      const v = run(g, 1_000, 500, 13_000);
      expect(v.ban!.first).toBeGreaterThanOrEqual(500 + 10_000);
    });

    it('reconnecting does not reset a run of overuse', () => {
      const g = new PeerGuard(ov);
      run(g, 500, 0, 6_000);
      g.forget('p', 6_000);
      expect(run(g, 500, 6_000, 12_000).ban).toBeDefined();
    });

    it('counts only messages the peer signed itself: an honest relay of several floods is rate-limited, never banned', () => {
      const g = new PeerGuard(ov);
      const verdicts = new Set<string>();
      for (let t = 0; t < 60_000; t += 1) verdicts.add(g.offer('relay', t, false));
      expect([...verdicts].sort()).toEqual(['admit', 'drop']);
    });

    it('is off with overuseFactor 0 or without a rate limit', () => {
      expect(run(new PeerGuard({ ...ov, overuseFactor: 0 }), 1_000, 0, 30_000).ban).toBeUndefined();
      expect(run(new PeerGuard({ ...ov, ratePerSec: 0 }), 1_000, 0, 30_000)).toEqual({ admit: { n: 30_000, first: 0 } });
    });
  });
});
