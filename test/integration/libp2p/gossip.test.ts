import '../../support/polyfill.js';
import { afterEach, describe, expect, it } from 'vitest';
import { generatePsk, startNode, stopAll, str, text, waitFor, type TestNode } from './helpers.js';

describe('libp2p transport: gossip', () => {
  let nodes: TestNode[] = [];
  afterEach(async () => {
    await stopAll(nodes);
    nodes = [];
  });

  it('delivers gossip among 3 nodes sharing a PSK, with the sender node id', async () => {
    const psk = generatePsk();
    const a = await startNode('hv-01', psk);
    nodes.push(a);
    const b = await startNode('hv-02', psk, { bootstrap: [a.addr()] });
    nodes.push(b);
    const c = await startNode('hv-03', psk, { bootstrap: [a.addr(), b.addr()] });
    nodes.push(c);
    await waitFor('a full mesh of bound peers', () => nodes.every((n) => n.t.peers().length === 2));
    expect([...a.t.peers()].sort()).toEqual(['hv-02', 'hv-03']);
    expect(b.peerEvents).toContainEqual({ peer: 'hv-01', state: 'up' });

    a.t.publish(text('from a'));
    b.t.publish(text('from b'));
    c.t.publish(text('x'.repeat(4000))); // compressible: travels deflated
    await waitFor('every message everywhere', () => nodes.every((n) => n.received.length === 2));

    const seen = (n: TestNode): string[] => n.received.map((m) => `${m.from}:${str(m.payload).slice(0, 6)}`).sort();
    expect(seen(a)).toEqual(['hv-02:from b', 'hv-03:xxxxxx']);
    expect(seen(b)).toEqual(['hv-01:from a', 'hv-03:xxxxxx']);
    expect(seen(c)).toEqual(['hv-01:from a', 'hv-02:from b']);
    expect(str(a.received.find((m) => m.from === 'hv-03')!.payload)).toBe('x'.repeat(4000));
    expect(c.t.stats().gossipCompressed).toBe(1);
    for (const n of nodes) expect(Object.values(n.t.stats().rejected).every((v) => v === 0)).toBe(true);
  });

  it('keeps a publish made while alone and delivers it when the first peer subscribes', async () => {
    const psk = generatePsk();
    const a = await startNode('hv-01', psk);
    nodes.push(a);
    a.t.publish(text('early')); // gossipsub: NoPeersSubscribedToTopic; the transport queues it
    expect(a.t.stats().queuedPublishes).toBe(1);
    const b = await startNode('hv-02', psk, { bootstrap: [a.addr()] });
    nodes.push(b);
    await waitFor('the early message', () => b.received.length === 1);
    expect(b.received[0]!.from).toBe('hv-01');
    expect(str(b.received[0]!.payload)).toBe('early');
    expect(a.t.stats().gossipRetries).toBeGreaterThan(0);
    expect(a.t.stats().queuedPublishes).toBe(0);
  });

  it('delivers publishes made the moment a peer comes up, before subscriptions are exchanged (5 nodes)', async () => {
    const psk = generatePsk();
    for (let i = 1; i <= 4; i++) nodes.push(await startNode(`n${i}`, psk, { bootstrap: nodes.map((x) => x.addr()) }));
    await waitFor('4 connected nodes', () => nodes.every((n) => n.t.peers().length === 3));
    // Each of n1..n4 publishes from inside its onPeer callback, the moment n5 comes up.
    for (const n of nodes) {
      n.t.onPeer((peer, state) => {
        if (peer === 'n5' && state === 'up') n.t.publish(text(`welcome from ${n.t.nodeId}`));
      });
    }
    const n5Up = new Set<string>();
    const fifth = await startNode('n5', psk, { bootstrap: nodes.map((x) => x.addr()) });
    const n5 = fifth;
    fifth.t.onPeer((peer, state) => {
      if (state !== 'up') return;
      n5Up.add(peer);
      if (n5Up.size === 4) fifth.t.publish(text('hello from n5'));
    });
    nodes.push(fifth);
    await waitFor(
      'n5 to receive every welcome and everyone to receive n5’s hello',
      () => n5.received.length === 4 && nodes.slice(0, 4).every((n) => n.received.some((m) => m.from === 'n5')),
      15_000,
    );
    expect(n5.received.map((m) => str(m.payload)).sort()).toEqual(['welcome from n1', 'welcome from n2', 'welcome from n3', 'welcome from n4']);
    expect(n5.received.map((m) => m.from).sort()).toEqual(['n1', 'n2', 'n3', 'n4']);
  });

  it('publishes a burst in batches without starving the event loop', async () => {
    const psk = generatePsk();
    const a = await startNode('hv-01', psk);
    nodes.push(a);
    const b = await startNode('hv-02', psk, { bootstrap: [a.addr()] });
    nodes.push(b);
    await waitFor('connected', () => a.t.peers().length === 1 && b.t.peers().length === 1);
    await waitFor('subscriptions exchanged', () => {
      a.t.publish(text('probe'));
      return b.received.length > 0;
    });
    const burst = (): string[] => b.received.map((m) => str(m.payload)).filter((s) => s.startsWith('m'));

    let maxGap = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 5);
    const N = 2_000;
    for (let i = 0; i < N; i++) a.t.publish(text(`m${i}`));
    await waitFor('the whole burst', () => burst().length >= N, 20_000);
    clearInterval(ticker);
    expect(new Set(burst()).size).toBe(N);
    expect(maxGap).toBeLessThan(500);
  });
});
