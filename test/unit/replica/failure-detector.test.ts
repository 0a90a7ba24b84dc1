import { describe, expect, it } from 'vitest';
import { MemoryNetwork } from '../../../src/adapters/memory/memory-network.js';
import { ManualClock } from '../../../src/adapters/memory/manual-clock.js';
import { SeededRandom } from '../../../src/adapters/memory/seeded-random.js';
import { FailureDetector } from '../../../src/replica/failure-detector.js';
import { RpcRouter } from '../../../src/replica/rpc.js';
import { flushMicrotasks } from '../../support/cluster.js';

async function advance(clock: ManualClock, ms: number): Promise<void> {
  const end = clock.now() + ms;
  for (;;) {
    await flushMicrotasks();
    const next = clock.nextAt();
    if (next === undefined || next > end) break;
    clock.step();
  }
  clock.runUntil(end);
}

describe('FailureDetector', () => {
  it('marks a silent peer suspect then down, tracks quorum on both sides, and recovers on heal', async () => {
    const clock = new ManualClock();
    const net = new MemoryNetwork({ clock, random: new SeededRandom(4), latency: { min: 1, max: 3 }, requestTimeoutMs: 500 });
    const voters = ['n1', 'n2', 'n3'];
    const fds = voters.map((id) => {
      const transport = net.join(id);
      return new FailureDetector({ nodeId: id, voters, heartbeatMs: 1_000 }, { rpc: new RpcRouter(transport), transport, clock });
    });
    const quorumEvents: string[] = [];
    fds.forEach((fd, i) => fd.on('quorum', (q) => quorumEvents.push(`n${i + 1}:${q.ok}`)));
    fds.forEach((fd) => fd.start());
    await advance(clock, 3_000);
    expect(fds[0]!.peers()).toEqual([
      { nodeId: 'n2', state: 'up' },
      { nodeId: 'n3', state: 'up' },
    ]);
    expect(fds[0]!.quorum()).toEqual({ have: 3, need: 2, ok: true });

    // A silent partition: no 'down' event from the transport is needed, heartbeats decide.
    net.partition([['n1', 'n2'], ['n3']]);
    await advance(clock, 3_500);
    expect(fds[0]!.state('n3')).toBe('suspect');
    await advance(clock, 3_500);
    expect(fds[0]!.state('n3')).toBe('down');
    expect(fds[0]!.quorum().ok).toBe(true);
    expect(fds[2]!.quorum()).toEqual({ have: 1, need: 2, ok: false });
    expect(quorumEvents).toContain('n3:false');

    net.heal();
    await advance(clock, 2_000);
    expect(fds[2]!.quorum().ok).toBe(true);
    expect(fds[0]!.state('n3')).toBe('up');
    fds.forEach((fd) => fd.stop());
  });
});
