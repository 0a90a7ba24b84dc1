import { describe, expect, it } from 'vitest';
import { PolicyBuilder } from '../../../src/core/policy/builder.js';
import { conflictId } from '../../../src/core/conflict/conflict-id.js';
import { Coordinator, decisionKey } from '../../../src/replica/coordinator.js';
import { createCluster, vm } from '../../support/cluster.js';

describe('Coordinator: quorum decisions', () => {
  it('resolves a split-brain by quorum on every node and fences the losing host', async () => {
    const seed = Math.floor(Math.random() * 2 ** 31);
    const c = await createCluster({ nodes: 3, seed, coordinator: {}, priorities: { n1: 10, n2: 50, n3: 1 } });
    await Promise.all([
      c.node('n1').replica.putVm(vm('vm-7', { host: 'n1' })),
      c.node('n2').replica.putVm(vm('vm-7', { host: 'n2' })),
    ]);
    await c.settle();
    const ids = c.nodes.map((n) => n.replica.get('vm/vm-7')!.versions.map((v) => v.id).join(','));
    expect(new Set(ids).size, `seed ${seed}`).toBe(1);
    const final = c.node('n3').replica.get('vm/vm-7')!;
    expect(final.versions).toHaveLength(1);
    // n2 has the higher priority: the quorum keeps the VM there, n1 fences its copy.
    expect((final.versions[0]!.data as { host: string }).host).toBe('n2');
    expect(c.node('n1').hypervisor.actions).toEqual([expect.objectContaining({ action: 'fence', vmId: 'vm-7' })]);
    expect(c.node('n2').hypervisor.actions).toEqual([]);
    for (const n of c.nodes) {
      const rec = n.replica.conflictList()[0]!;
      expect(rec.status).toBe('resolved');
      expect(rec.decision.ballot).toBeDefined();
      expect(rec.decision.notes.join(' ')).toMatch(/decided by quorum \(split-brain\)/);
    }
  });

  it('fulfils the consensus-vote strategy with one decided version', async () => {
    const policy = new PolicyBuilder('vote').withDefaultStrategy('consensus_vote').withManualThreshold(1).build();
    const c = await createCluster({ nodes: 5, policy, coordinator: {} });
    await c.node('n1').replica.putVm(vm('vm-1', { network_config: { interfaces: [] } }));
    await c.settle();
    await Promise.all([
      c.node('n2').replica.putVm(vm('vm-1', { network_config: { interfaces: [] }, cpu_allocation: 2 })),
      c.node('n4').replica.putVm(vm('vm-1', { network_config: { interfaces: [] }, cpu_allocation: 6 })),
    ]);
    await c.settle();
    const sets = c.nodes.map((n) => n.replica.get('vm/vm-1')!.versions.map((v) => v.id));
    expect(sets.every((s) => s.length === 1 && s[0] === sets[0]![0])).toBe(true);
    const cpu = (c.node('n5').replica.get('vm/vm-1')!.versions[0]!.data as { cpu_allocation: number }).cpu_allocation;
    expect([2, 6]).toContain(cpu);
    expect(c.node('n5').replica.conflictList('pending')).toHaveLength(0);
  });

  it('leaves a split-brain pending for an operator when the cluster has no quorum', async () => {
    const c = await createCluster({ nodes: 4, coordinator: {} });
    c.net.partition([
      ['n1', 'n2'],
      ['n3', 'n4'],
    ]);
    await c.node('n1').replica.putVm(vm('vm-3', { host: 'n1' }));
    await c.node('n3').replica.putVm(vm('vm-3', { host: 'n3' }));
    await c.settle();
    // Gossip is cut, so nobody sees both versions: show each side the other's version directly.
    const v3 = c.node('n3').replica.get('vm/vm-3')!.versions[0]!;
    await c.node('n1').replica.applyRemote('n3', [v3]);
    await c.settle(30_000);
    expect(c.node('n1').replica.conflictList('pending')).toHaveLength(1);
    expect(c.node('n1').hypervisor.actions).toEqual([]);
  });

  it('keeps a split-brain VM on the host holding its lease (over priority), and the fenced loser releases its lease', async () => {
    const seed = Math.floor(Math.random() * 2 ** 31);
    const c = await createCluster({ nodes: 3, seed, coordinator: {}, priorities: { n1: 10, n2: 50, n3: 1 } });
    const released: string[] = [];
    // Every node knows n1 holds vm-7's lease; n2 (higher priority) runs it too, without a lease.
    for (const n of c.nodes) {
      n.coordinator!.stop();
      n.coordinator = new Coordinator(
        { nodeId: n.id, splitBrainResolution: 'quorum', enableAutoRecovery: true, nodePriorities: { n1: 10, n2: 50, n3: 1 } },
        {
          replica: n.replica,
          paxos: n.paxos!,
          clock: c.clock,
          hypervisor: n.hypervisor,
          leases: {
            holder: (vmId) => (vmId === 'vm-7' ? 'n1' : undefined),
            release: (vmId) => {
              released.push(`${n.id}:${vmId}`);
              return Promise.resolve();
            },
          },
        },
      );
      n.coordinator.start();
    }
    await Promise.all([
      c.node('n1').replica.putVm(vm('vm-7', { host: 'n1' })),
      c.node('n2').replica.putVm(vm('vm-7', { host: 'n2' })),
    ]);
    await c.settle();
    const final = c.node('n3').replica.get('vm/vm-7')!;
    expect(final.versions, `seed ${seed}`).toHaveLength(1);
    expect((final.versions[0]!.data as { host: string }).host, `seed ${seed}`).toBe('n1');
    expect(c.node('n2').hypervisor.actions).toEqual([expect.objectContaining({ action: 'fence', vmId: 'vm-7' })]);
    expect(c.node('n1').hypervisor.actions).toEqual([]);
    expect(released).toEqual(['n2:vm-7']);
  });

  it('decides a conflict under conflict:<id>, unless its id is not that of its candidates (then the candidate set is in the key)', () => {
    const cands = (...ids: string[]) => ids.map((id) => ({ id }) as never);
    const plain = conflictId('vm/vm-1', ['b', 'a']);
    expect(decisionKey({ id: plain, resourceId: 'vm/vm-1', type: 'concurrent_update', candidates: cands('a', 'b', 'b') })).toBe(`conflict:${plain}`);
    const findings = conflictId('vm/vm-1', ['a', 'b'], 'findings:invariant_violation');
    expect(decisionKey({ id: findings, resourceId: 'vm/vm-1', type: 'invariant_violation', candidates: cands('b', 'a') })).toBe(`conflict:${findings}`);
    // A causal violation raised by a and b that has since gathered c: same id, other candidates.
    const grown = decisionKey({ id: plain, resourceId: 'vm/vm-1', type: 'causal_violation', candidates: cands('a', 'b', 'c') });
    expect(grown).toBe(`conflict:${plain}:${conflictId('vm/vm-1', ['a', 'b', 'c'])}`);
  });
});
