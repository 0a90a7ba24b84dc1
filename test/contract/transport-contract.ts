/**
 * The Transport port's contract, written once and run against every implementation: the in-memory
 * network (unit project, virtual time) and libp2p (integration project, real TCP), fault shim included.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Transport } from '../../src/replica/ports.js';

export interface TransportHarness {
  /** Transports for these node ids, connected to each other. */
  create(ids: readonly string[]): Promise<Transport[]>;
  /** Wait (in virtual or real time) until `cond` holds; fail naming `what` after a while. */
  waitFor(what: string, cond: () => boolean): Promise<void>;
  /** Let time pass until the promise settles. */
  settle<T>(p: Promise<T>): Promise<T>;
  close(): Promise<void>;
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

export function transportContract(name: string, h: TransportHarness): void {
  describe(`Transport contract: ${name}`, () => {
    afterEach(async () => {
      await h.close();
    });

    it('reports its peers up and lists them', async () => {
      const [a] = await h.create(['t1', 't2', 't3']);
      await h.waitFor('t1 to list t2 and t3', () => [...a!.peers()].sort().join(',') === 't2,t3');
      expect([...a!.peers()].sort()).toEqual(['t2', 't3']);
    });

    it('delivers a published payload to every other node with the sender node id', async () => {
      const ts = await h.create(['t1', 't2', 't3']);
      const got: string[] = [];
      ts.forEach((t, i) => t.onMessage((from, payload) => got.push(`t${i + 1}<-${from}:${dec(payload)}`)));
      await h.waitFor('a full mesh', () => ts.every((t) => t.peers().length === 2));
      ts[0]!.publish(enc('hello'));
      await h.waitFor('delivery to t2 and t3', () => got.length >= 2);
      expect([...new Set(got)].sort()).toEqual(['t2<-t1:hello', 't3<-t1:hello']);
    });

    it('answers a request, naming the requester, and reports a failing handler as an error', async () => {
      const [a, b] = await h.create(['t1', 't2']);
      b!.onRequest((from, payload) => {
        if (dec(payload) === 'boom') return Promise.reject(new Error('handler failed'));
        return Promise.resolve(enc(`${from} asked ${dec(payload)}`));
      });
      a!.onRequest(() => Promise.resolve(enc('unused')));
      await h.waitFor('t1 to see t2', () => a!.peers().includes('t2'));
      expect(dec(await h.settle(a!.request('t2', enc('ping'))))).toBe('t1 asked ping');
      await expect(h.settle(a!.request('t2', enc('boom')))).rejects.toBeInstanceOf(Error);
    });

    it('rejects a request to a node it does not know', async () => {
      const [a] = await h.create(['t1', 't2']);
      await expect(h.settle(a!.request('nobody', enc('x')))).rejects.toBeInstanceOf(Error);
    });
  });
}
