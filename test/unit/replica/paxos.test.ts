import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryNetwork } from '../../../src/adapters/memory/memory-network.js';
import { MemoryStore } from '../../../src/adapters/memory/memory-store.js';
import { ManualClock } from '../../../src/adapters/memory/manual-clock.js';
import { SeededRandom } from '../../../src/adapters/memory/seeded-random.js';
import { Paxos } from '../../../src/replica/paxos.js';
import { RpcRouter } from '../../../src/replica/rpc.js';
import { flushMicrotasks } from '../../support/cluster.js';

interface Node {
  id: string;
  paxos: Paxos;
  store: MemoryStore;
  rpc: RpcRouter;
}

async function setup(seed: number, n = 5, net: Partial<{ loss: number; duplication: number; latency: { min: number; max: number } }> = {}) {
  const clock = new ManualClock();
  const random = new SeededRandom(seed);
  const network = new MemoryNetwork({ clock, random: random.fork(), latency: net.latency ?? { min: 1, max: 30 }, loss: net.loss ?? 0, duplication: net.duplication ?? 0, requestTimeoutMs: 200 });
  const voters = Array.from({ length: n }, (_, i) => `v${i + 1}`);
  const nodes: Node[] = [];
  for (const id of voters) {
    const store = new MemoryStore();
    await store.open();
    const rpc = new RpcRouter(network.join(id));
    nodes.push({ id, store, rpc, paxos: new Paxos({ nodeId: id, voters, phaseTimeoutMs: 150, maxAttempts: 30 }, { rpc, store, clock, random: random.fork() }) });
  }
  const run = async <T>(promises: Array<Promise<T>>): Promise<Array<PromiseSettledResult<T>>> => {
    const all = Promise.allSettled(promises);
    let done = false;
    void all.then(() => (done = true));
    for (let i = 0; i < 200_000 && !done; i++) {
      await flushMicrotasks();
      if (!clock.step()) await flushMicrotasks();
    }
    return all;
  };
  return { clock, network, nodes, run };
}

describe('Paxos', () => {
  it('decides the single proposal among 5 voters', async () => {
    const { nodes, run } = await setup(1);
    const [r] = await run([nodes[0]!.paxos.propose('k', { winner: 'a' })]);
    expect(r).toMatchObject({ status: 'fulfilled', value: { value: { winner: 'a' } } });
    expect((r as PromiseFulfilledResult<{ voters: readonly string[] }>).value.voters.length).toBeGreaterThanOrEqual(3);
  });

  it('never decides two values under concurrent proposers, loss, duplication and reordering (many seeds)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 2, max: 4 }), async (seed, proposers) => {
        const { nodes, run } = await setup(seed, 5, { loss: 0.2, duplication: 0.3, latency: { min: 1, max: 40 } });
        const results = await run(nodes.slice(0, proposers).map((n, i) => n.paxos.propose('conflict-1', { pick: `value-${i}` })));
        const values = new Set<string>();
        for (const r of results) if (r.status === 'fulfilled') values.add(JSON.stringify(r.value.value));
        // Every learner agrees too.
        for (const n of nodes) {
          const d = await n.paxos.decided('conflict-1');
          if (d) values.add(JSON.stringify(d.value));
        }
        expect(values.size).toBeLessThanOrEqual(1);
        // With 20% loss and 30 attempts, someone decides.
        expect(results.some((r) => r.status === 'fulfilled')).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('decides as soon as a quorum answered, without waiting for unresponsive voters', async () => {
    const { nodes, network, clock, run } = await setup(7);
    // v4 and v5 never answer v1 (their requests hang until the 150 ms phase timeout).
    network.block('v1', 'v4');
    network.block('v1', 'v5');
    const t0 = clock.now();
    const [r] = await run([nodes[0]!.paxos.propose('k', 'fast')]);
    expect(r).toMatchObject({ status: 'fulfilled', value: { value: 'fast' } });
    // Two phases of round trips of at most 2 x 30 ms each: well under one phase timeout.
    expect(clock.now() - t0, 'virtual ms to decide').toBeLessThan(150);
    // The unresponsive voters learn the decision once they can be reached.
    network.heal();
    const [late] = await run([nodes[4]!.paxos.propose('k', 'other')]);
    expect(late).toMatchObject({ status: 'fulfilled', value: { value: 'fast' } });
  });

  it('cannot decide in a minority partition, and the majority still can', async () => {
    const { nodes, network, run } = await setup(3);
    network.partition([
      ['v1', 'v2'],
      ['v3', 'v4', 'v5'],
    ]);
    const [minority, majority] = await run([nodes[0]!.paxos.propose('k', 'minority'), nodes[2]!.paxos.propose('k', 'majority')]);
    expect(minority).toMatchObject({ status: 'rejected', reason: { code: 'ERR_NO_QUORUM' } });
    expect(majority).toMatchObject({ status: 'fulfilled', value: { value: 'majority' } });
    network.heal();
    // After healing, the minority proposer learns the majority's value instead of its own.
    const [late] = await run([nodes[1]!.paxos.propose('k', 'late')]);
    expect(late).toMatchObject({ status: 'fulfilled', value: { value: 'majority' } });
  });

  it('keeps acceptor promises across a restart (persisted before replying)', async () => {
    const { nodes, run, clock } = await setup(5);
    const [first] = await run([nodes[0]!.paxos.propose('k', 'A')]);
    expect(first).toMatchObject({ status: 'fulfilled' });
    // Restart every acceptor from its store: a new proposer must learn A, not decide B.
    const restarted = nodes.map((n) => new Paxos({ nodeId: n.id, voters: nodes.map((x) => x.id), phaseTimeoutMs: 150 }, { rpc: n.rpc, store: n.store, clock, random: new SeededRandom(9) }));
    const [second] = await run([restarted[4]!.propose('k', 'B')]);
    expect(second).toMatchObject({ status: 'fulfilled', value: { value: 'A' } });
  });

  it('fast round: the first voter decides in one round trip; its round-0 value survives its restart; nobody else can use round 0', async () => {
    const { nodes, network, clock, run } = await setup(11);
    const t0 = clock.now();
    const [fast] = await run([nodes[0]!.paxos.propose('k1', 'one-trip')]);
    expect(fast).toMatchObject({ status: 'fulfilled', value: { value: 'one-trip', ballot: '0.v1' } });
    // One round trip of at most 2 x 30 ms (phase 1 skipped).
    expect(clock.now() - t0, 'virtual ms to decide').toBeLessThanOrEqual(60);

    // v1 cut off from everyone: its round-0 acceptance of A stays local and nothing is decided.
    network.partition([['v1'], ['v2', 'v3', 'v4', 'v5']]);
    const [cut] = await run([nodes[0]!.paxos.propose('k2', 'A')]);
    expect(cut).toMatchObject({ status: 'rejected', reason: { code: 'ERR_NO_QUORUM' } });
    // v1 restarts from its store and, healed, proposes B: it must not reuse round 0 for B (ballot
    // 0.v1 would then carry two values), so it goes through phase 1 (A or B may win: A was never
    // chosen), and every learner agrees.
    network.heal();
    const restarted = new Paxos({ nodeId: 'v1', voters: nodes.map((n) => n.id), phaseTimeoutMs: 150 }, { rpc: nodes[0]!.rpc, store: nodes[0]!.store, clock, random: new SeededRandom(3) });
    const [again] = await run([restarted.propose('k2', 'B')]);
    expect(again).toMatchObject({ status: 'fulfilled' });
    const decidedK2 = (again as PromiseFulfilledResult<{ value: string; ballot: string }>).value;
    expect(decidedK2.ballot).not.toBe('0.v1');
    const [late] = await run([nodes[3]!.paxos.propose('k2', 'C')]);
    expect(late).toMatchObject({ status: 'fulfilled', value: { value: decidedK2.value } });

    // Round 0 of anyone but v1, or v1's round 0 sent by someone else, is refused.
    const [other, forged] = await run([
      nodes[1]!.rpc.call<{ ok: boolean }>('v3', 'px-accept', { key: 'k3', ballot: { n: 0, node: 'v2' }, value: 'x' }),
      nodes[1]!.rpc.call<{ ok: boolean }>('v3', 'px-accept', { key: 'k3', ballot: { n: 0, node: 'v1' }, value: 'x' }),
    ]);
    expect(other).toMatchObject({ status: 'fulfilled', value: { ok: false } });
    expect(forged).toMatchObject({ status: 'fulfilled', value: { ok: false } });
  });

  it('refuses quorum decisions when it knows more voters than expectedVotes', () => {
    const network = new MemoryNetwork({ clock: new ManualClock(), random: new SeededRandom(1) });
    const rpc = new RpcRouter(network.join('v1'));
    expect(
      () => new Paxos({ nodeId: 'v1', voters: ['v1', 'v2', 'v3', 'v4'], expectedVotes: 3 }, { rpc, store: new MemoryStore(), clock: new ManualClock(), random: new SeededRandom(1) }),
    ).toThrow(expect.objectContaining({ code: 'ERR_VOTER_SET' }) as Error);
  });
});
