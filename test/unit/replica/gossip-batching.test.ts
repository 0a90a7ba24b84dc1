import { describe, expect, it } from 'vitest';
import { decodeGossip } from '../../../src/replica/codec.js';
import { createCluster, vm } from '../../support/cluster.js';

const flushMicrotasks = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

/** Wrap n1's transport so every gossip message it publishes is recorded with its time and size. */
async function writerCluster(
  replica: { gossipFlushMs?: number; gossipMinIntervalMs?: number; gossipIntervalPerPeerMs?: number },
  nodes = 2,
  skew?: Record<string, () => number>,
) {
  const c = await createCluster({ nodes, replica, ...(skew ? { skew } : {}) });
  const t = c.node('n1').transport;
  const published: Array<{ at: number; versions: number }> = [];
  const publish = t.publish.bind(t);
  t.publish = (payload: Uint8Array) => {
    published.push({ at: c.clock.now(), versions: decodeGossip(payload).versions.length });
    publish(payload);
  };
  return { c, published };
}

/** One write every millisecond of virtual time for `ms` ms, each awaited (acknowledged). */
async function steadyWrites(c: Awaited<ReturnType<typeof createCluster>>, ms: number, from = 0): Promise<void> {
  for (let i = 0; i < ms; i++) {
    await c.node('n1').replica.putVm(vm(`vm-${from + i}`, { network_config: { interfaces: [] } }));
    c.clock.advance(1);
    await flushMicrotasks();
  }
}

describe('Replica: gossip batching', () => {
  it('sends a write after a quiet spell gossipFlushMs later', async () => {
    const { c, published } = await writerCluster({ gossipFlushMs: 5, gossipMinIntervalMs: 20 });
    const t0 = c.clock.now();
    await c.node('n1').replica.putVm(vm('vm-a'));
    c.clock.advance(5);
    await flushMicrotasks();
    expect(published).toEqual([{ at: t0 + 5, versions: 1 }]);
    // Quiet for longer than the interval: the next write is not held back either.
    c.clock.advance(100);
    await c.node('n1').replica.putVm(vm('vm-b'));
    c.clock.advance(5);
    await flushMicrotasks();
    expect(published).toEqual([
      { at: t0 + 5, versions: 1 },
      { at: t0 + 110, versions: 1 },
    ]);
  });

  it('under sustained writes sends at most one message per gossipMinIntervalMs, with every write in one', async () => {
    const { c, published } = await writerCluster({ gossipFlushMs: 5, gossipMinIntervalMs: 20 });
    await steadyWrites(c, 200);
    await c.settle();
    const gaps = published.slice(1).map((p, i) => p.at - published[i]!.at);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(20);
    // 200 writes over 200 ms: about 10 messages (not 40, as gossipFlushMs alone would give).
    expect(published.length).toBeGreaterThanOrEqual(9);
    expect(published.length).toBeLessThanOrEqual(12);
    expect(published.reduce((s, p) => s + p.versions, 0)).toBe(200);
    expect(c.node('n2').replica.list('vm/')).toHaveLength(200);
  });

  it('with gossipMinIntervalMs 0 batches by gossipFlushMs alone', async () => {
    const { c, published } = await writerCluster({ gossipFlushMs: 5, gossipMinIntervalMs: 0, gossipIntervalPerPeerMs: 0 });
    await steadyWrites(c, 200);
    await c.settle();
    expect(published.length).toBeGreaterThanOrEqual(30);
    expect(published.reduce((s, p) => s + p.versions, 0)).toBe(200);
    expect(c.node('n2').replica.list('vm/')).toHaveLength(200);
  });

  it('stretches the interval with the number of peers (gossipIntervalPerPeerMs × peers)', async () => {
    const { c, published } = await writerCluster({ gossipFlushMs: 5, gossipMinIntervalMs: 20, gossipIntervalPerPeerMs: 5 }, 10);
    await steadyWrites(c, 200);
    await c.settle();
    const gaps = published.slice(1).map((p, i) => p.at - published[i]!.at);
    // 9 peers: one message per 45 ms at most.
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(45);
    expect(published.length).toBeLessThanOrEqual(6);
    expect(published.reduce((s, p) => s + p.versions, 0)).toBe(200);
    for (const n of c.nodes.slice(1)) expect(n.replica.list('vm/')).toHaveLength(200);
  });

  it('holds gossip no longer than one interval when the wall clock steps back', async () => {
    let skew = 0;
    const { c, published } = await writerCluster({ gossipFlushMs: 5, gossipMinIntervalMs: 20, gossipIntervalPerPeerMs: 0 }, 2, { n1: () => skew });
    await steadyWrites(c, 50);
    await c.settle();
    const before = published.length;
    // n1's clock steps back 60 s right after a flush: measured on that clock, its last flush now lies
    // 60 s in the future. The next write still goes out within one interval (20 ms), not 60 s later.
    skew = -60_000;
    const t0 = c.clock.now();
    await c.node('n1').replica.putVm(vm('vm-after-step', { network_config: { interfaces: [] } }));
    c.clock.advance(20);
    await flushMicrotasks();
    expect(published.length).toBe(before + 1);
    expect(published[before]!.at - t0).toBeLessThanOrEqual(20);
    await c.settle();
    expect(c.node('n2').replica.get('vm/vm-after-step')).toBeDefined();
  });
});
