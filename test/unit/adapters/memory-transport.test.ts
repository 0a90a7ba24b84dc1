import { MemoryNetwork } from '../../../src/adapters/memory/memory-network.js';
import { ManualClock } from '../../../src/adapters/memory/manual-clock.js';
import { SeededRandom } from '../../../src/adapters/memory/seeded-random.js';
import { transportContract } from '../../contract/transport-contract.js';
import { flushMicrotasks } from '../../support/cluster.js';

let clock = new ManualClock();

async function step(): Promise<void> {
  await flushMicrotasks();
  clock.step();
  await flushMicrotasks();
}

transportContract('MemoryNetwork', {
  create: (ids) => {
    clock = new ManualClock();
    const net = new MemoryNetwork({ clock, random: new SeededRandom(1), requestTimeoutMs: 500 });
    return Promise.resolve(ids.map((id) => net.join(id)));
  },
  async waitFor(what, cond) {
    for (let i = 0; i < 10_000 && !cond(); i++) await step();
    if (!cond()) throw new Error(`never happened: ${what}`);
  },
  async settle(p) {
    let done = false;
    const out = p.finally(() => (done = true));
    out.catch(() => undefined);
    for (let i = 0; i < 10_000 && !done; i++) await step();
    return out;
  },
  close: () => Promise.resolve(),
});
