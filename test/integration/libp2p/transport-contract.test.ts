import { createLibp2pTransport, FaultShim, generatePsk, type Libp2pTransport } from '../../../src/adapters/libp2p/index.js';
import type { Transport } from '../../../src/replica/ports.js';
import { transportContract } from '../../contract/transport-contract.js';
import { fastInit, waitFor } from './helpers.js';

let started: Libp2pTransport[] = [];

async function createMesh(ids: readonly string[]): Promise<Libp2pTransport[]> {
  const psk = generatePsk();
  const out: Libp2pTransport[] = [];
  for (const id of ids) {
    const t = createLibp2pTransport(fastInit(id, psk, { bootstrap: out.flatMap((o) => o.multiaddrs()) }));
    await t.start();
    started.push(t);
    out.push(t);
  }
  return out;
}

const harness = (wrap: (t: Libp2pTransport) => Transport) => ({
  create: async (ids: readonly string[]) => (await createMesh(ids)).map(wrap),
  waitFor: (what: string, cond: () => boolean) => waitFor(what, cond, 15_000),
  settle: <T>(p: Promise<T>) => p,
  close: async () => {
    const ts = started;
    started = [];
    await Promise.all(ts.map((t) => t.stop()));
  },
});

transportContract('Libp2pTransport', harness((t) => t));
transportContract('FaultShim over Libp2pTransport', harness((t) => new FaultShim(t)));
