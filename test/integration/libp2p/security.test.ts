import '../../support/polyfill.js';
import { deflateRawSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeEnvelope } from '../../../src/adapters/libp2p/index.js';
import { generatePsk, sleep, startNode, startRogue, stopAll, str, text, waitFor, type Rogue, type TestNode } from './helpers.js';


describe('libp2p transport: membership and message security', () => {
  let nodes: TestNode[] = [];
  let rogues: Rogue[] = [];
  afterEach(async () => {
    await stopAll(nodes);
    await Promise.all(rogues.map((r) => r.stop()));
    nodes = [];
    rogues = [];
  });

  it('refuses to start without a PSK unless insecureNoPsk is set, and then warns loudly', async () => {
    const { createLibp2pTransport } = await import('../../../src/adapters/libp2p/index.js');
    const t = createLibp2pTransport({ nodeId: 'hv-x', cluster: 'test' });
    await expect(t.start()).rejects.toMatchObject({ code: 'ERR_PSK_REQUIRED' });
    await t.stop();
    const dev = await startNode('hv-dev', undefined, { insecureNoPsk: true });
    nodes.push(dev);
    expect(dev.log.lines.some((l) => l.level === 'warn' && l.message.startsWith('INSECURE'))).toBe(true);
  });

  it('no connection and no message between nodes with different PSKs, or with and without one', async () => {
    const a = await startNode('hv-a', generatePsk());
    nodes.push(a);
    const wrong = await startNode('hv-wrong', generatePsk(), { bootstrap: [a.addr()] });
    nodes.push(wrong);
    const none = await startNode('hv-none', undefined, { insecureNoPsk: true, bootstrap: [a.addr()] });
    nodes.push(none);
    await expect(wrong.t.connect(a.addr())).rejects.toThrow();
    await expect(none.t.connect(a.addr())).rejects.toThrow();
    wrong.t.publish(text('let me in'));
    none.t.publish(text('let me in'));
    await sleep(1_000); // several redial rounds
    expect(a.t.peers()).toEqual([]);
    expect(a.t.bindings().filter((b) => !b.self)).toEqual([]);
    expect(a.received).toEqual([]);
    expect(wrong.t.peers()).toEqual([]);
    expect(none.t.peers()).toEqual([]);
  });

  it('refuses peers that are not on the allowlist, both ways', async () => {
    const psk = generatePsk();
    const b = await startNode('hv-b', psk);
    nodes.push(b);
    const outsider = await startNode('hv-out', psk);
    nodes.push(outsider);
    const a = await startNode('hv-a', psk, { allowPeers: [b.t.peerId] });
    nodes.push(a);
    await b.t.connect(a.addr());
    await waitFor('a and b bound', () => a.t.peers().includes('hv-b'));
    // Inbound: a closes it right after the noise handshake (the dialer may briefly think it connected).
    await outsider.t.connect(a.addr()).catch(() => undefined);
    // Outbound: the dial is denied before it starts.
    await expect(a.t.connect(outsider.addr())).rejects.toThrow();
    outsider.t.publish(text('hi'));
    await sleep(500);
    expect(a.t.peers()).toEqual(['hv-b']);
    expect(a.t.bindings().map((x) => x.nodeId).sort()).toEqual(['hv-a', 'hv-b']);
    expect(outsider.t.peers()).toEqual([]);
    expect(a.received).toEqual([]);
    const denials = a.log.lines.filter((l) => l.message.includes('not on the allowlist')).map((l) => l.meta?.direction);
    expect(denials).toContain('inbound');
    expect(denials).toContain('dial');
  });

  it('rejects and counts an envelope whose node id belongs to another peer, and never delivers it', async () => {
    const psk = generatePsk();
    const a = await startNode('hv-a', psk);
    nodes.push(a);
    const b = await startNode('hv-b', psk, { bootstrap: [a.addr()] });
    nodes.push(b);
    await waitFor('a and b bound', () => a.t.peers().includes('hv-b'));
    const rogue = await startRogue(psk);
    rogues.push(rogue);
    await rogue.dial(a.addr());
    await rogue.ready(a.t.peerId);

    // 1. A first valid signed gossip binds a fresh node id to the rogue's peer id: delivered.
    await rogue.publish(encodeEnvelope({ v: 1, node: 'rogue-1', seq: 1, ts: Date.now(), body: text('hello') }));
    await waitFor('the rogue’s own message', () => a.received.length === 1);
    expect(a.received[0]!.from).toBe('rogue-1');
    // 2. Claiming hv-b (bound to b's peer id): a second peer claiming an existing node id.
    await rogue.publish(encodeEnvelope({ v: 1, node: 'hv-b', seq: 2, ts: Date.now(), body: text('I am b') }));
    // 3. Claiming a fresh node id while bound as rogue-1.
    await rogue.publish(encodeEnvelope({ v: 1, node: 'hv-new', seq: 3, ts: Date.now(), body: text('I am new') }));
    await waitFor('two wrong-binding rejections', () => a.t.stats().rejected['wrong-binding'] === 2);
    await sleep(100);
    expect(a.received.map((m) => m.from)).toEqual(['rogue-1']);
    expect(a.t.stats().bindingConflicts).toBe(1);
    expect(a.rejections).toEqual([
      { reason: 'wrong-binding', peer: rogue.peerId },
      { reason: 'wrong-binding', peer: rogue.peerId },
    ]);
    // b still gets through as hv-b.
    b.t.publish(text('the real b'));
    await waitFor('the real b', () => a.received.some((m) => m.from === 'hv-b'));
  });

  it('rejects oversized, compression bombs, undecodable, replayed, stale and unsigned gossip before the handler', async () => {
    const psk = generatePsk();
    const a = await startNode('hv-a', psk, { maxMessageBytes: 1024, replayWindow: 4 });
    nodes.push(a);
    const rogue = await startRogue(psk);
    rogues.push(rogue);
    await rogue.dial(a.addr());
    await rogue.ready(a.t.peerId);
    const env = (seq: number, body: Uint8Array, ts = Date.now()): Uint8Array => encodeEnvelope({ v: 1, node: 'rogue-1', seq, ts, body }, { compressAbove: Infinity });

    await rogue.publish(env(10, text('ok'))); // binds rogue-1
    await waitFor('first message', () => a.received.length === 1);

    const noise = new Uint8Array(4096).map(() => Math.floor(Math.random() * 256));
    await rogue.publish(env(11, noise)); // oversized on the wire
    const bomb = encodeEnvelope({ v: 1, node: 'rogue-1', seq: 12, ts: Date.now(), body: new Uint8Array(0) });
    const bombBody = deflateRawSync(new Uint8Array(256 * 1024)); // ~260 bytes that inflate to 256 KiB
    const bombBytes = new Uint8Array(bomb.byteLength + bombBody.byteLength);
    bombBytes.set(bomb);
    bombBytes[1] = 1; // deflated flag
    bombBytes.set(bombBody, bomb.byteLength);
    await rogue.publish(bombBytes);
    await rogue.publish(text('not an envelope at all'));
    await rogue.publish(env(10, text('ok'))); // same seq again: replayed
    await rogue.publish(env(13, text('old'), Date.now() - 3_600_000)); // an hour old
    for (let s = 20; s < 26; s++) await rogue.publish(env(s, text(`m${s}`))); // pushes seq 10-13 out of the window
    await rogue.publish(env(14, text('below the window')));
    await waitFor('rejections', () => {
      const r = a.t.stats().rejected;
      return r.oversized === 2 && r.undecodable === 1 && r.replayed === 2 && r.stale === 1;
    });
    await waitFor('the in-window messages', () => a.received.length === 7);
    expect(a.received.map((m) => str(m.payload))).toEqual(['ok', 'm20', 'm21', 'm22', 'm23', 'm24', 'm25']);

    // Unsigned: gossipsub drops it before any validator; the transport counts it from gossipsub's report.
    const unsigned = await startRogue(psk, { signaturePolicy: 'StrictNoSign' });
    rogues.push(unsigned);
    await unsigned.dial(a.addr());
    await unsigned.ready(a.t.peerId);
    await unsigned.publish(env(30, text('unsigned')));
    await waitFor('an unsigned rejection', () => a.t.stats().rejected.unsigned === 1);
    await sleep(100);
    expect(a.received.length).toBe(7);
    expect(a.rejections.map((r) => r.reason).sort()).toEqual(['oversized', 'oversized', 'replayed', 'replayed', 'stale', 'undecodable', 'unsigned']);
  });

  it('refuses a second peer that claims a bound node id in its rpc hello', async () => {
    const psk = generatePsk();
    const a = await startNode('hv-a', psk);
    nodes.push(a);
    const b = await startNode('hv-b', psk, { bootstrap: [a.addr()] });
    nodes.push(b);
    await waitFor('a and b bound', () => a.t.peers().includes('hv-b'));
    const impostor = await startNode('hv-b', psk);
    nodes.push(impostor);
    await impostor.t.connect(a.addr()).catch(() => undefined);
    await waitFor('a binding conflict', () => a.t.stats().bindingConflicts === 1);
    expect(a.t.stats().rejected['wrong-binding']).toBe(1);
    expect(a.t.bindings().find((x) => x.nodeId === 'hv-b')!.peerId).toBe(b.t.peerId);
    expect(a.t.peers()).toEqual(['hv-b']);
    impostor.t.publish(text('I am hv-b too'));
    await sleep(500);
    expect(a.received).toEqual([]);
    expect(a.t.stats().bindingConflicts).toBeGreaterThanOrEqual(1);
  });
});
