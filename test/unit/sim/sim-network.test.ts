import { describe, expect, it } from 'vitest';
import { cutLinks } from '../../../simulations/partition.js';
import { RandomStreams } from '../../../simulations/random.js';
import { Scheduler, type EventOwner } from '../../../simulations/scheduler.js';
import { SIM_EPOCH_MS, SimClock } from '../../../simulations/sim-clock.js';
import { DEFAULT_NETWORK, SimNetwork, type NetworkModel } from '../../../simulations/sim-network.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

function setup(model: Partial<NetworkModel> = {}, nodes = ['a', 'b', 'c']) {
  const status = new Map<string, 'run' | 'hold' | 'drop'>();
  const scheduler = new Scheduler({ ownerStatus: (o) => status.get(`${o.node}#${o.incarnation}`) ?? 'run' });
  const net = new SimNetwork(scheduler, new RandomStreams(42), { ...DEFAULT_NETWORK, ...model });
  const inbox = new Map<string, string[]>();
  const peers: string[] = [];
  const transports = new Map(
    nodes.map((id) => {
      const owner: EventOwner = { node: id, incarnation: 1 };
      const t = net.attach(owner);
      inbox.set(id, []);
      t.onMessage((from, p) => inbox.get(id)!.push(`${from}:${dec.decode(p)}`));
      t.onRequest((from, p) => Promise.resolve(enc.encode(`${id} got ${dec.decode(p)} from ${from}`)));
      t.onPeer((peer, state) => peers.push(`${id} sees ${peer} ${state}`));
      return [id, t] as const;
    }),
  );
  return { scheduler, net, inbox, peers, status, t: (id: string) => transports.get(id)! };
}

describe('simulated network and scheduler', () => {
  it('keeps each link in order without reordering, and reorders some messages when asked', async () => {
    const s = setup({ latency: { min: 1, max: 50, distribution: 'uniform' } });
    for (let i = 0; i < 50; i++) s.t('a').publish(enc.encode(String(i)));
    await s.scheduler.runUntil(1_000);
    expect(s.inbox.get('b')).toEqual(Array.from({ length: 50 }, (_, i) => `a:${i}`));

    const r = setup({ latency: { min: 1, max: 50, distribution: 'uniform' }, reorder: 0.5 });
    for (let i = 0; i < 50; i++) r.t('a').publish(enc.encode(String(i)));
    await r.scheduler.runUntil(1_000);
    const got = r.inbox.get('b')!.map((m) => Number(m.slice(2)));
    expect(got.slice().sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(got).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(r.net.stats.reordered).toBeGreaterThan(0);
  });

  it('loses and duplicates messages at the configured rates', async () => {
    const s = setup({ loss: 0.3, duplication: 0.3 });
    for (let i = 0; i < 1_000; i++) s.t('a').publish(enc.encode(String(i)));
    await s.scheduler.runUntil(1_000);
    const n = s.inbox.get('b')!.length;
    // 1000 × 0.7 × 1.3 ≈ 910
    expect(n).toBeGreaterThan(800);
    expect(n).toBeLessThan(1_000);
    expect(s.net.stats.lost).toBeGreaterThan(400);
    expect(s.net.stats.duplicated).toBeGreaterThan(300);
  });

  it('cuts links one way: requests over a cut link time out, the other direction works', async () => {
    const s = setup({ requestTimeoutMs: 500 });
    s.net.setCut(cutLinks({ kind: 'one-way', from: ['a'], to: ['b'] }, ['a', 'b', 'c']));
    const ab = s.t('a').request('b', enc.encode('hi')).then(
      () => 'answered',
      (e: { code?: string }) => e.code,
    );
    const delivered = s.net.stats.delivered;
    const ba = s.t('b').request('a', enc.encode('hello')).then(
      () => 'answered',
      (e: { code?: string }) => e.code,
    );
    await s.scheduler.runUntil(1_000);
    // b → a arrives, but a's reply travels a → b and is cut too.
    expect(await ab).toBe('ERR_UNREACHABLE');
    expect(await ba).toBe('ERR_UNREACHABLE');
    expect(s.net.stats.delivered).toBe(delivered + 1);
    const ca = s.t('c').request('a', enc.encode('x')).then((p) => dec.decode(p));
    await s.scheduler.runUntil(2_000);
    expect(await ca).toBe('a got x from c');
  });

  it('announces connectivity changes to both ends, and a peer list that follows them', async () => {
    const s = setup();
    await s.scheduler.runUntil(10);
    s.peers.length = 0;
    s.net.setCut(cutLinks({ kind: 'isolate', node: 'c' }, ['a', 'b', 'c']));
    await s.scheduler.runUntil(20);
    expect(s.peers.sort()).toEqual(['a sees c down', 'b sees c down', 'c sees a down', 'c sees b down']);
    expect(s.t('a').peers()).toEqual(['b']);
    s.peers.length = 0;
    s.net.heal();
    await s.scheduler.runUntil(30);
    expect(s.peers.sort()).toEqual(['a sees c up', 'b sees c up', 'c sees a up', 'c sees b up']);
  });

  it('holds a paused owner’s events and releases them in order; drops a dead incarnation’s', async () => {
    const s = setup();
    const log: string[] = [];
    const a: EventOwner = { node: 'a', incarnation: 1 };
    const b: EventOwner = { node: 'b', incarnation: 1 };
    s.status.set('a#1', 'hold');
    s.status.set('b#1', 'drop');
    s.scheduler.at(10, 't', () => log.push('a1'), a);
    s.scheduler.at(20, 't', () => log.push('a2'), a);
    s.scheduler.at(15, 't', () => log.push('b1'), b);
    s.scheduler.at(30, 't', () => log.push('free'));
    await s.scheduler.runUntil(100);
    expect(log).toEqual(['free']);
    s.status.set('a#1', 'run');
    s.scheduler.release('a');
    await s.scheduler.runUntil(100);
    expect(log).toEqual(['free', 'a1', 'a2']);
  });

  it('gives each node its clock: shared virtual time plus its own, changeable skew', async () => {
    const s = setup();
    let skew = 250;
    const clock = new SimClock(s.scheduler, { node: 'a', incarnation: 1 }, () => skew);
    expect(clock.now()).toBe(SIM_EPOCH_MS + 250);
    const fired: number[] = [];
    clock.setTimer(100, () => fired.push(clock.now()));
    const h = clock.setTimer(50, () => fired.push(-1));
    clock.clearTimer(h);
    await s.scheduler.runUntil(80);
    skew = -1_000;
    await s.scheduler.runUntil(200);
    expect(fired).toEqual([SIM_EPOCH_MS + 100 - 1_000]);
  });
});
