/**
 * Hostile Paxos messages against a replica with Paxos and the coordinator attached
 * (src/replica/paxos.ts, coordinator.ts): a rogue on the network sends `px-decided` with a value
 * that is not a decision any proposer made (garbage, or 10,000 levels deep) for a conflict's key.
 * Contract: refused (or at least never taken as the decision), no crash (no unhandled rejection:
 * under Node's default `--unhandled-rejections=throw` that ends the agent), and the conflict still
 * gets decided by the voters.
 *
 * 5,000 cases per property by default; long mode: `DWCP_FUZZ_RUNS=100000 npx vitest run --project unit test/unit/fuzz`.
 * Each case builds a cluster and runs a quorum decision (~20 ms): a hundredth of the runs.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VectorClock } from '../../../src/core/clock/vector-clock.js';
import { conflictIdOfPair } from '../../../src/core/conflict/conflict-id.js';
import { createVersion } from '../../../src/core/conflict/version.js';
import { createCluster, vm } from '../../support/cluster.js';
import { enc, fractionOfRuns, hostileJsonArb, params, timeoutFor, toJsonText } from './support.js';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};

describe('fuzz: forged px-decided for a pending conflict', () => {
  beforeAll(() => {
    process.on('unhandledRejection', onUnhandled);
  });
  afterAll(() => {
    process.off('unhandledRejection', onUnhandled);
  });

  const RUNS = fractionOfRuns(100);

  it('a px-decided nobody proposed is not taken as the decision, crashes nothing, and the split-brain is still decided', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(hostileJsonArb, fc.constantFrom<unknown>({}, { version: {}, kind: 'split_brain', winner: 'x' }, '@@DEEP_ARRAY@@')), async (value) => {
        unhandled.length = 0;
        const c = await createCluster({ nodes: 3, coordinator: {} });
        const rogue = c.net.join('rogue');
        const n1 = c.node('n1');
        // Two concurrent versions of one VM, running on two hosts: a split-brain the quorum decides.
        const now = c.clock.now();
        const a = createVersion({ resourceId: 'vm/vm-7', clock: VectorClock.from({ n2: 1 }), hlc: { wall: now, logical: 0 }, origin: 'n2', data: vm('vm-7', { host: 'n2' }) });
        const b = createVersion({ resourceId: 'vm/vm-7', clock: VectorClock.from({ n3: 1 }), hlc: { wall: now, logical: 1 }, origin: 'n3', data: vm('vm-7', { host: 'n3' }) });
        const key = `conflict:${conflictIdOfPair('vm/vm-7', a.id, b.id)}`;
        // The rogue "decides" first (conflict ids are computable by anyone who sees the gossip).
        const sent = rogue.request('n1', enc.encode(toJsonText({ t: 'px-decided', key, value }))).then(
          (r) => ((JSON.parse(new TextDecoder().decode(r)) as { error?: unknown }).error === undefined ? 'accepted' : 'refused'),
          () => 'refused',
        );
        await c.settle(100);
        for (const n of c.nodes) {
          await n.replica.applyRemote('n2', [a]);
          await n.replica.applyRemote('n3', [b]);
        }
        await c.settle(10_000);
        expect({
          unhandledRejections: unhandled.map((e) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e))),
          splitBrainOnN1: n1.replica.conflictList().map((x) => x.status),
          forgedDecision: await sent,
        }).toEqual({ unhandledRejections: [], splitBrainOnN1: ['resolved'], forgedDecision: 'refused' });
      }),
      params(RUNS),
    );
  }, timeoutFor(200, RUNS));
});
