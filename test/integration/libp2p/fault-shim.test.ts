import '../../support/polyfill.js';
import { afterEach, describe, expect, it } from 'vitest';
import { FaultShim } from '../../../src/adapters/libp2p/index.js';
import { DwcpError } from '../../../src/core/errors.js';
import { generatePsk, sleep, startNode, stopAll, str, text, waitFor, type TestNode } from './helpers.js';

interface Shimmed {
  readonly node: TestNode;
  readonly shim: FaultShim;
  readonly got: Array<{ from: string; payload: string }>;
}

describe('fault shim over the libp2p transport', () => {
  let nodes: TestNode[] = [];
  let shims: FaultShim[] = [];
  afterEach(async () => {
    for (const s of shims) s.dispose();
    await stopAll(nodes);
    nodes = [];
    shims = [];
  });

  async function cluster(): Promise<Shimmed[]> {
    const psk = generatePsk();
    const out: Shimmed[] = [];
    for (const id of ['hv-a', 'hv-b', 'hv-c']) {
      const node = await startNode(id, psk, { bootstrap: nodes.map((n) => n.addr()) });
      nodes.push(node);
      const shim = new FaultShim(node.t, { blackholeMs: 300 });
      shims.push(shim);
      const got: Shimmed['got'] = [];
      shim.onMessage((from, payload) => got.push({ from, payload: str(payload) }));
      shim.onRequest((from, payload) => Promise.resolve(text(`${id} answers ${from}: ${str(payload)}`)));
      out.push({ node, shim, got });
    }
    await waitFor('full mesh', () => nodes.every((n) => n.t.peers().length === 2));
    return out;
  }

  async function code(p: Promise<unknown>): Promise<string> {
    try {
      await p;
      return 'resolved';
    } catch (err) {
      return err instanceof DwcpError ? err.code : String(err);
    }
  }

  it('cut: nothing crosses the link (gossip or requests); heal: everything does again', async () => {
    const [a, b, c] = await cluster();
    // A link cut both ways: each side drops what comes from the other.
    a!.shim.cut(['hv-b']);
    b!.shim.cut(['hv-a']);
    a!.shim.publish(text('one'));
    b!.shim.publish(text('two'));
    await waitFor('c gets both', () => c!.got.length === 2);
    await sleep(300);
    expect(a!.got.map((m) => m.from)).toEqual([]);
    expect(b!.got.map((m) => m.from)).toEqual([]);
    expect(await code(a!.shim.request('hv-b', text('x')))).toBe('ERR_REQUEST_TIMEOUT');
    expect(await code(b!.shim.request('hv-a', text('x')))).toBe('ERR_REQUEST_TIMEOUT');
    expect(str(await a!.shim.request('hv-c', text('x')))).toBe('hv-c answers hv-a: x');
    expect(a!.shim.counts.cut).toBeGreaterThanOrEqual(2);

    a!.shim.heal();
    b!.shim.heal();
    a!.shim.publish(text('three'));
    await waitFor('b gets a’s message after heal', () => b!.got.some((m) => m.payload === 'three'));
    expect(str(await b!.shim.request('hv-a', text('y')))).toBe('hv-a answers hv-b: y');
  });

  it('partition isolates a node from everyone not listed, and aborts hanging requests', async () => {
    const [a, b, c] = await cluster();
    c!.shim.partition([]); // c alone
    a!.shim.cut(['hv-c']);
    b!.shim.cut(['hv-c']);
    c!.shim.publish(text('from the island'));
    a!.shim.publish(text('from the mainland'));
    await waitFor('b gets a', () => b!.got.length === 1);
    await sleep(300);
    expect(a!.got).toEqual([]);
    expect(c!.got).toEqual([]);
    const ac = new AbortController();
    const pending = code(c!.shim.request('hv-a', text('x'), { signal: ac.signal }));
    ac.abort();
    expect(await pending).toBe('ERR_ABORTED');
    expect(c!.shim.isCut('hv-a')).toBe(true);
    expect(c!.shim.isCut('hv-new-node')).toBe(true);
  });

  it('delay injects latency into what a node receives; drop loses messages', async () => {
    const [a, b] = await cluster();
    a!.shim.delay(150, ['hv-b']);
    const t0 = performance.now();
    expect(str(await a!.shim.request('hv-b', text('slow')))).toBe('hv-b answers hv-a: slow');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(145);
    const sent = performance.now();
    b!.shim.publish(text('late'));
    await waitFor('a gets b’s message', () => a!.got.length === 1);
    expect(performance.now() - sent).toBeGreaterThanOrEqual(145);

    a!.shim.delay(0, ['hv-b']);
    a!.shim.drop(1, ['hv-b']);
    b!.shim.publish(text('lost'));
    await sleep(300);
    expect(a!.got.map((m) => m.payload)).toEqual(['late']);
    expect(a!.shim.counts.dropped).toBe(1);
  });
});
