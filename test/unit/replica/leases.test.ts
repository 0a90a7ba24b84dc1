import { describe, expect, it } from 'vitest';
import { FakeHypervisor } from '../../../src/adapters/hypervisor/fake-hypervisor.js';
import { MemoryNetwork } from '../../../src/adapters/memory/memory-network.js';
import { MemoryStore } from '../../../src/adapters/memory/memory-store.js';
import { ManualClock } from '../../../src/adapters/memory/manual-clock.js';
import { SeededRandom } from '../../../src/adapters/memory/seeded-random.js';
import { FailureDetector } from '../../../src/replica/failure-detector.js';
import { LeaseManager } from '../../../src/replica/leases.js';
import { Paxos } from '../../../src/replica/paxos.js';
import { RpcRouter } from '../../../src/replica/rpc.js';
import { flushMicrotasks } from '../../support/cluster.js';

const LEASE = 10_000;
const MARGIN = 2_000;

async function setup(n: number, seed = 1) {
  const clock = new ManualClock();
  /** Per node: its wall-clock offset (a clock step changes it; the monotonic clock does not move). */
  const skew = new Map<string, number>();
  const audits: Array<{ node: string; kind: string; data: unknown }> = [];
  const random = new SeededRandom(seed);
  const net = new MemoryNetwork({ clock, random: random.fork(), latency: { min: 1, max: 5 }, requestTimeoutMs: 300 });
  const voters = Array.from({ length: n }, (_, i) => `n${i + 1}`);
  const nodes = await Promise.all(
    voters.map(async (id) => {
      const transport = net.join(id);
      const rpc = new RpcRouter(transport);
      const store = new MemoryStore();
      await store.open();
      const hypervisor = new FakeHypervisor();
      const paxos = new Paxos({ nodeId: id, voters, phaseTimeoutMs: 200, maxAttempts: 5 }, { rpc, store, clock, random: random.fork() });
      const fd = new FailureDetector({ nodeId: id, voters, heartbeatMs: 500 }, { rpc, transport, clock });
      const view = clock.view(() => skew.get(id) ?? 0);
      const audit = (kind: string, data: unknown): Promise<void> => {
        audits.push({ node: id, kind, data });
        return Promise.resolve();
      };
      const leases = new LeaseManager(
        { nodeId: id, leaseMs: LEASE, marginMs: MARGIN },
        { paxos, rpc, store, clock: view, hypervisor, failureDetector: fd, audit },
      );
      await leases.start();
      fd.start();
      return { id, leases, hypervisor, fd, paxos };
    }),
  );
  const node = (id: string) => nodes.find((x) => x.id === id)!;
  /** Run virtual time while `p` is pending (up to `ms`). */
  const during = async <T>(p: Promise<T>, ms = 20_000): Promise<PromiseSettledResult<T>> => {
    const settled = p.then(
      (value) => ({ status: 'fulfilled', value }) as const,
      (reason: unknown) => ({ status: 'rejected', reason }) as const,
    );
    let done = false;
    void settled.then(() => (done = true));
    const end = clock.now() + ms;
    while (!done) {
      await flushMicrotasks();
      const next = clock.nextAt();
      if (done || next === undefined || next > end) break;
      clock.step();
    }
    await flushMicrotasks();
    return settled;
  };
  const advance = async (ms: number): Promise<void> => {
    const end = clock.now() + ms;
    for (;;) {
      await flushMicrotasks();
      const next = clock.nextAt();
      if (next === undefined || next > end) break;
      clock.step();
    }
    clock.runUntil(end);
  };
  await advance(1_500);
  /** A wall-clock step on one node (NTP, a resumed VM). */
  const step = (id: string, byMs: number): void => {
    skew.set(id, (skew.get(id) ?? 0) + byMs);
  };
  return { clock, net, nodes, node, during, advance, step, audits };
}

describe('VM ownership leases', () => {
  it('grants one owner, refuses others while it is held, and renews with a higher epoch', async () => {
    const c = await setup(3);
    const first = await c.during(c.node('n1').leases.startVm('vm-1'));
    expect(first).toMatchObject({ status: 'fulfilled', value: { owner: 'n1', epoch: 1 } });
    expect(c.node('n1').hypervisor.running.has('vm-1')).toBe(true);
    const second = await c.during(c.node('n2').leases.acquire('vm-1'));
    expect(second).toMatchObject({ status: 'rejected', reason: { code: 'ERR_LEASE_HELD' } });
    await c.advance(LEASE * 2);
    const lease = c.node('n2').leases.current('vm-1')!;
    expect(lease.owner).toBe('n1');
    expect(lease.epoch).toBeGreaterThan(1); // renewed while n1 had quorum
  });

  it('an owner cut off from the quorum stops the VM before its lease runs out; the majority takes over only after lease + margin', async () => {
    const c = await setup(3);
    const t0 = c.clock.now();
    await c.during(c.node('n1').leases.startVm('vm-1'));
    const held = c.node('n1').leases.current('vm-1')!;
    c.net.partition([['n1'], ['n2', 'n3']]);
    const learnedAt = c.clock.now();
    // Too early for the majority.
    await c.advance(held.leaseMs - 1_000);
    expect(await c.during(c.node('n2').leases.acquire('vm-1'))).toMatchObject({ status: 'rejected', reason: { code: 'ERR_LEASE_HELD' } });
    await c.advance(2_000);
    // The isolated owner has stopped its copy, before its own lease ended.
    const stop = c.node('n1').hypervisor.actions.find((a) => a.action === 'stop');
    expect(stop).toBeDefined();
    expect(c.node('n1').hypervisor.running.has('vm-1')).toBe(false);
    await c.advance(MARGIN + held.leaseMs);
    const taken = await c.during(c.node('n2').leases.startVm('vm-1'));
    expect(taken).toMatchObject({ status: 'fulfilled', value: { owner: 'n2' } });
    expect(c.clock.now() - learnedAt).toBeGreaterThanOrEqual(held.leaseMs + MARGIN);
    expect(c.clock.now()).toBeGreaterThan(t0);
  });

  it('a renewal that hangs does not delay the stop: the owner stops stopBefore ahead of its lease end', async () => {
    const c = await setup(3);
    const n1 = c.node('n1');
    const start = c.clock.now();
    await c.during(n1.leases.startVm('vm-1'));
    // From now on n1's proposals never settle (a proposal waiting on voters behind a silent cut,
    // while the failure detector still reports quorum): the renewal hangs.
    const hang = (): Promise<never> => new Promise<never>(() => undefined);
    Object.assign(n1.paxos, { propose: hang });
    await c.advance(LEASE - 2_000 + 10); // up to the stop deadline (default stopBefore = lease / 5)
    const stop = n1.hypervisor.actions.find((a) => a.action === 'stop');
    expect(stop, 'the owner stopped its VM by its deadline').toBeDefined();
    expect(c.clock.now() - start).toBeLessThanOrEqual(LEASE - 2_000 + 50);
    expect(n1.hypervisor.running.has('vm-1')).toBe(false);
    expect(() => n1.leases.assertEpoch('vm-1', n1.leases.current('vm-1')!.epoch)).toThrow(/does not own/);
  });

  it('a paused holder that wakes after expiry cannot act with its old epoch', async () => {
    const c = await setup(3);
    const r = await c.during(c.node('n1').leases.acquire('vm-1'));
    const epoch = (r as PromiseFulfilledResult<{ epoch: number }>).value.epoch;
    c.node('n1').leases.stop(); // the process is paused: no renewals run
    c.net.setUp('n1', false);
    await c.advance(LEASE + MARGIN + 1_000);
    // n1 paused right after its grant, before the decision was broadcast: n3 learns of the lease only
    // when it asks, and from then on waits a full lease + margin. Safe, if slower.
    const early = await c.during(c.node('n3').leases.acquire('vm-1'));
    expect(early).toMatchObject({ status: 'rejected', reason: { code: 'ERR_LEASE_HELD', meta: { owner: 'n1', epoch } } });
    await c.advance(LEASE + MARGIN);
    const taken = await c.during(c.node('n3').leases.acquire('vm-1'));
    expect(taken, JSON.stringify(taken)).toMatchObject({ status: 'fulfilled', value: { owner: 'n3', epoch: epoch + 1 } });
    c.net.setUp('n1', true); // wakes up
    expect(() => c.node('n1').leases.assertEpoch('vm-1', epoch)).toThrow(expect.objectContaining({ code: 'ERR_STALE_EPOCH' }) as Error);
  });

  it.each([
    [4, [['n1', 'n2'], ['n3', 'n4']]],
    [2, [['n1'], ['n2']]],
  ])('a %i-voter cluster split evenly grants no new ownership', async (n, groups) => {
    const c = await setup(n);
    c.net.partition(groups);
    await c.advance(5_000);
    for (const g of groups) {
      const r = await c.during(c.node(g[0]!).leases.acquire('vm-9'));
      expect(r.status).toBe('rejected');
    }
    for (const node of c.nodes) expect(node.leases.current('vm-9')).toBeUndefined();
  });

  it('a released lease stops renewing at once and another node acquires it without waiting lease + margin', async () => {
    const c = await setup(3);
    const r = await c.during(c.node('n1').leases.startVm('vm-1'));
    const epoch = (r as PromiseFulfilledResult<{ epoch: number }>).value.epoch;
    await c.advance(100); // the decision reaches every node
    expect(c.node('n2').leases.holder('vm-1')).toBe('n1');
    await c.node('n1').hypervisor.stop('vm-1'); // placed elsewhere: this host stops it, then releases
    const released = c.node('n1').leases.release('vm-1');
    // At once: the epoch cannot be used any more.
    expect(() => c.node('n1').leases.assertEpoch('vm-1', epoch)).toThrow(expect.objectContaining({ code: 'ERR_STALE_EPOCH' }) as Error);
    expect(await c.during(released)).toMatchObject({ status: 'fulfilled' });
    expect(c.node('n1').leases.current('vm-1')).toMatchObject({ owner: 'n1', epoch: epoch + 1, released: true });
    expect(c.audits).toContainEqual({ node: 'n1', kind: 'lease', data: { vmId: 'vm-1', owner: 'n1', epoch, action: 'released' } });
    const t0 = c.clock.now();
    const taken = await c.during(c.node('n2').leases.startVm('vm-1'));
    expect(taken).toMatchObject({ status: 'fulfilled', value: { owner: 'n2', epoch: epoch + 2 } });
    expect(c.clock.now() - t0).toBeLessThan(1_000);
    await c.advance(100);
    expect(c.node('n3').leases.holder('vm-1')).toBe('n2');
    // n1 renews nothing from now on: n2 keeps the VM.
    await c.advance(LEASE * 3);
    expect(c.node('n1').hypervisor.actions.filter((a) => a.action === 'start')).toHaveLength(1);
    expect(c.node('n3').leases.current('vm-1')).toMatchObject({ owner: 'n2' });
    expect(c.node('n3').leases.current('vm-1')!.epoch).toBeGreaterThan(epoch + 2);
  });

  it('a release during an in-flight renewal wins: the renewed epoch is not used and is released too', async () => {
    const c = await setup(3);
    const r = await c.during(c.node('n1').leases.acquire('vm-1'));
    const epoch = (r as PromiseFulfilledResult<{ epoch: number }>).value.epoch;
    const renewal = c.node('n1').leases.acquire('vm-1');
    await flushMicrotasks(); // the renewal is in flight (its quorum read sent)
    const released = c.node('n1').leases.release('vm-1');
    expect(await c.during(renewal)).toMatchObject({ status: 'rejected', reason: { code: 'ERR_STALE_EPOCH' } });
    expect(await c.during(released)).toMatchObject({ status: 'fulfilled' });
    // The renewal was granted (epoch + 1), then released (epoch + 2).
    expect(c.node('n1').leases.current('vm-1')).toMatchObject({ owner: 'n1', epoch: epoch + 2, released: true });
    expect(c.node('n1').leases.holder('vm-1')).toBeUndefined();
    expect(await c.during(c.node('n3').leases.acquire('vm-1'))).toMatchObject({ status: 'fulfilled', value: { owner: 'n3', epoch: epoch + 3 } });
  });

  it('a release without quorum is not decided: the lease runs out as usual, and is not renewed', async () => {
    const c = await setup(3);
    const r = await c.during(c.node('n1').leases.acquire('vm-1'));
    const epoch = (r as PromiseFulfilledResult<{ epoch: number }>).value.epoch;
    c.net.partition([['n1'], ['n2', 'n3']]);
    expect(await c.during(c.node('n1').leases.release('vm-1'))).toMatchObject({ status: 'fulfilled' });
    expect(c.audits.at(-1)).toMatchObject({ node: 'n1', data: { epoch, action: expect.stringMatching(/no quorum/) as string } });
    c.net.heal();
    expect(await c.during(c.node('n2').leases.acquire('vm-1'))).toMatchObject({ status: 'rejected', reason: { code: 'ERR_LEASE_HELD' } });
    await c.advance(LEASE + MARGIN);
    expect(await c.during(c.node('n2').leases.acquire('vm-1'))).toMatchObject({ status: 'fulfilled', value: { owner: 'n2', epoch: epoch + 1 } });
  });

  it('releasing a lease this node does not hold decides nothing', async () => {
    const c = await setup(3);
    await c.during(c.node('n1').leases.acquire('vm-1'));
    const before = c.node('n1').leases.current('vm-1');
    expect(await c.during(c.node('n2').leases.release('vm-1'))).toMatchObject({ status: 'fulfilled' });
    expect(await c.during(c.node('n3').leases.release('vm-2'))).toMatchObject({ status: 'fulfilled' });
    await c.advance(100);
    expect(c.node('n2').leases.current('vm-1')).toEqual(before);
    expect(c.node('n1').leases.holder('vm-1')).toBe('n1');
    expect(c.audits.filter((a) => a.node !== 'n1')).toEqual([]);
  });

  it('leases are timed on the monotonic clock: a 15 s forward wall-clock step on the majority does not end the owner\'s lease early', async () => {
    const c = await setup(3);
    await c.during(c.node('n1').leases.startVm('vm-1'));
    c.net.partition([['n1'], ['n2', 'n3']]);
    const cut = c.clock.monotonic();
    c.step('n2', 15_000);
    c.step('n3', 15_000);
    await c.advance(LEASE - 1_000);
    const early = await c.during(c.node('n2').leases.acquire('vm-1'));
    expect(early).toMatchObject({ status: 'rejected', reason: { code: 'ERR_LEASE_HELD', meta: { owner: 'n1' } } });
    // Its wall-clock `until` is for people, on n2's (stepped) clock; the lease itself did not move.
    expect((early as PromiseRejectedResult).reason).toMatchObject({ meta: { until: expect.any(Number) as number } });
    await c.advance(LEASE + MARGIN);
    const stop = c.node('n1').hypervisor.actions.findIndex((a) => a.action === 'stop');
    expect(stop).toBeGreaterThan(-1);
    const taken = await c.during(c.node('n2').leases.startVm('vm-1'));
    expect(taken).toMatchObject({ status: 'fulfilled', value: { owner: 'n2' } });
    expect(c.clock.monotonic() - cut).toBeGreaterThanOrEqual(LEASE);
  });

  it('a backward wall-clock step on a cut-off owner does not extend its lease: it stops the VM stopBefore ahead of the lease end', async () => {
    const c = await setup(3);
    const t0 = c.clock.monotonic();
    await c.during(c.node('n1').leases.startVm('vm-1'));
    c.net.partition([['n1'], ['n2', 'n3']]);
    c.step('n1', -6_000);
    let stoppedAt: number | undefined;
    while (stoppedAt === undefined && c.clock.monotonic() - t0 < 3 * LEASE) {
      await c.advance(100);
      if (!c.node('n1').hypervisor.running.has('vm-1')) stoppedAt = c.clock.monotonic();
    }
    // Granted at ~t0 and never renewed (cut off): stopped at lease − stopBefore (8 s), not 6 s later.
    expect(stoppedAt).toBeDefined();
    expect(stoppedAt! - t0).toBeGreaterThanOrEqual(LEASE - LEASE / 5);
    expect(stoppedAt! - t0).toBeLessThan(LEASE);
    // The majority still waits for lease + margin from when it learned the lease.
    expect(await c.during(c.node('n3').leases.acquire('vm-1'))).toMatchObject({ status: 'rejected', reason: { code: 'ERR_LEASE_HELD' } });
  });

  it('a renewal that skips the quorum read and loses its epoch to another node falls back to the read and gives the lease up', async () => {
    const c = await setup(3);
    const r = await c.during(c.node('n1').leases.acquire('vm-1'));
    const epoch = (r as PromiseFulfilledResult<{ epoch: number }>).value.epoch;
    await c.advance(100);
    // The next epoch is decided for n2 by n2 and n3; n1 does not hear of it (n1 <-> n2 cut).
    c.net.block('n1', 'n2');
    const other = { vmId: 'vm-1', owner: 'n2', epoch: epoch + 1, leaseMs: LEASE };
    expect(await c.during(c.node('n2').paxos.propose(`lease:vm-1:${epoch + 1}`, other))).toMatchObject({ status: 'fulfilled', value: { value: other } });
    expect(c.node('n1').leases.current('vm-1')).toMatchObject({ owner: 'n1', epoch });
    const renewal = await c.during(c.node('n1').leases.acquire('vm-1'));
    expect(renewal).toMatchObject({ status: 'rejected', reason: { code: 'ERR_LEASE_HELD', meta: { owner: 'n2', epoch: epoch + 1 } } });
    expect(c.node('n1').leases.current('vm-1')).toMatchObject({ owner: 'n2', epoch: epoch + 1 });
    expect(() => c.node('n1').leases.assertEpoch('vm-1', epoch)).toThrow(expect.objectContaining({ code: 'ERR_STALE_EPOCH' }) as Error);
  });
});
