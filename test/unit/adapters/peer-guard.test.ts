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

  it('does not limit with ratePerSec 0', () => {
    const g = new PeerGuard({ ...base, ratePerSec: 0 });
    for (let i = 0; i < 10_000; i++) expect(g.admit('p', 0)).toBe(true);
  });

  it('reports a ban at banAfterStrikes strikes inside the window, and strikes decay', () => {
    const g = new PeerGuard(base);
    for (let i = 0; i < 4; i++) expect(g.strike('p', 0)).toBe(false);
    expect(g.strike('p', 0)).toBe(true);
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
    expect(g.size).toEqual({ peers: 50, bans: 50 });
    expect(g.isBanned('b9999', 9_999)).toBe(true);
    expect(g.isBanned('b0', 1)).toBe(false);
  });
});
