import '../../support/polyfill.js';
import { afterEach, describe, expect, it } from 'vitest';
import { DwcpError } from '../../../src/core/errors.js';
import { generatePsk, sleep, startNode, stopAll, str, text, waitFor, type TestNode } from './helpers.js';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return err instanceof DwcpError ? err.code : `not a DwcpError: ${String(err)}`;
  }
  return 'resolved';
}

describe('libp2p transport: request/response', () => {
  let nodes: TestNode[] = [];
  afterEach(async () => {
    await stopAll(nodes);
    nodes = [];
  });

  async function pair(extra = {}): Promise<[TestNode, TestNode]> {
    const psk = generatePsk();
    const a = await startNode('hv-a', psk, extra);
    nodes.push(a);
    const b = await startNode('hv-b', psk, { ...extra, bootstrap: [a.addr()] });
    nodes.push(b);
    await waitFor('bound peers', () => a.t.peers().includes('hv-b') && b.t.peers().includes('hv-a'));
    return [a, b];
  }

  it('round-trips requests both ways over one long-lived stream, with the caller’s node id', async () => {
    const [a, b] = await pair();
    a.t.onRequest((from, payload) => Promise.resolve(text(`a answers ${from}: ${str(payload)}`)));
    b.t.onRequest((from, payload) => Promise.resolve(text(`b answers ${from}: ${str(payload)}`)));
    expect(str(await b.t.request('hv-a', text('ping')))).toBe('a answers hv-b: ping');
    expect(str(await a.t.request('hv-b', text('pong')))).toBe('b answers hv-a: pong');

    // Many concurrent requests, answered out of order, multiplexed on the same stream.
    a.t.onRequest(async (_from, payload) => {
      const n = Number(str(payload));
      await sleep((n * 7) % 23);
      return text(String(n * 2));
    });
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => b.t.request('hv-a', text(String(i))).then(str)));
    expect(results).toEqual(Array.from({ length: 200 }, (_, i) => String(i * 2)));
    for (const n of [a, b]) expect(n.t.stats().rpcStreamsOpened + n.t.stats().rpcStreamsAccepted).toBeLessThanOrEqual(2);
    expect(b.t.stats().requestsSent).toBe(201);
    expect(a.t.stats().requestsServed).toBe(201);
  });

  it('carries large payloads (split into many yamux frames)', async () => {
    const [a, b] = await pair();
    a.t.onRequest((_from, payload) => Promise.resolve(payload.slice().reverse()));
    const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 251);
    const back = await b.t.request('hv-a', big);
    expect(back.byteLength).toBe(big.byteLength);
    expect(back[0]).toBe(big[big.length - 1]);
  });

  it('times out, aborts, and reports remote errors with stable codes', async () => {
    const [a, b] = await pair({ requestTimeoutMs: 300 });
    a.t.onRequest(async (_from, payload) => {
      const cmd = str(payload);
      if (cmd === 'hang') return new Promise<Uint8Array>(() => undefined);
      if (cmd === 'fail') throw new DwcpError('ERR_NOPE', 'refused on purpose');
      return text('ok');
    });
    const t0 = performance.now();
    expect(await codeOf(b.t.request('hv-a', text('hang')))).toBe('ERR_REQUEST_TIMEOUT');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    expect(performance.now() - t0).toBeLessThan(1500);
    expect(await codeOf(b.t.request('hv-a', text('hang'), { timeoutMs: 50 }))).toBe('ERR_REQUEST_TIMEOUT');

    const ac = new AbortController();
    const aborted = b.t.request('hv-a', text('hang'), { signal: ac.signal });
    setTimeout(() => ac.abort(), 30);
    expect(await codeOf(aborted)).toBe('ERR_ABORTED');
    expect(await codeOf(b.t.request('hv-a', text('ok'), { signal: AbortSignal.abort() }))).toBe('ERR_ABORTED');

    const remote = b.t.request('hv-a', text('fail'));
    await expect(remote).rejects.toMatchObject({ code: 'ERR_REMOTE', remoteCode: 'ERR_NOPE' });
    expect(await codeOf(b.t.request('hv-nobody', text('x')))).toBe('ERR_UNKNOWN_PEER');
    // The stream survives all of that.
    expect(str(await b.t.request('hv-a', text('ok')))).toBe('ok');
    expect(b.t.stats().requestTimeouts).toBe(2);
  });

  it('fails pending requests when the transport stops, and reports the peer down', async () => {
    const [a, b] = await pair();
    a.t.onRequest(() => new Promise<Uint8Array>(() => undefined));
    const pending = codeOf(b.t.request('hv-a', text('hang')));
    await sleep(50);
    await b.t.stop();
    expect(await pending).toBe('ERR_ABORTED');
    await waitFor('a to see b down', () => a.peerEvents.some((e) => e.peer === 'hv-b' && e.state === 'down'));
    expect(a.t.peers()).toEqual([]);
    expect(await codeOf(b.t.request('hv-a', text('x')))).toBe('ERR_NOT_STARTED');
    await b.t.stop(); // idempotent

    // The same object starts again: it redials its bootstrap peer and hellos again.
    await Promise.all([b.t.start(), b.t.start()]);
    await waitFor('b back up at a', () => a.t.peers().includes('hv-b') && b.t.peers().includes('hv-a'));
    a.t.onRequest((from) => Promise.resolve(text(`again ${from}`)));
    expect(str(await b.t.request('hv-a', text('x')))).toBe('again hv-b');
  });

  it('answers ERR_NO_HANDLER when no request handler is set', async () => {
    const [, b] = await pair();
    await expect(b.t.request('hv-a', text('x'))).rejects.toMatchObject({ code: 'ERR_REMOTE', remoteCode: 'ERR_NO_HANDLER' });
  });
});

describe('libp2p transport: lifecycle', () => {
  it('a start that fails half-way (port taken) stops what it started and rethrows', async () => {
    const psk = generatePsk();
    const a = await startNode('hv-a', psk);
    const port = a.addr().split('/')[4]!;
    const { createLibp2pTransport } = await import('../../../src/adapters/libp2p/index.js');
    const clash = createLibp2pTransport({ nodeId: 'hv-b', cluster: 'test', psk, listen: [`/ip4/127.0.0.1/tcp/${port}`] });
    await expect(clash.start()).rejects.toThrow();
    await clash.stop();
    expect(clash.multiaddrs()).toEqual([]);
    clash.publish(text('while stopped'));
    expect(clash.stats().gossipDropped).toBe(1);
    await a.t.stop();
  });
});
