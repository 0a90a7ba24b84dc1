/**
 * Cluster invariants for every new VM version (issue 3): two VMs given the same IP on the two sides of
 * a partition are both fast-forwards (no version conflict), and both nodes must flag the same pair the
 * same way once they have seen both VMs.
 */
import { describe, expect, it } from 'vitest';
import type { Contention } from '../../../src/core/conflict/cluster-index.js';
import { createCluster, vm } from '../../support/cluster.js';

describe('Replica: contention between different VMs', () => {
  it('flags the same IP given to two VMs on the two sides of a partition, identically on both nodes', async () => {
    const c = await createCluster({ nodes: 2 });
    const seen = new Map<string, Contention[]>([
      ['n1', []],
      ['n2', []],
    ]);
    for (const id of ['n1', 'n2']) c.node(id).replica.on('contention', (x) => seen.get(id)!.push(x));
    c.net.partition([['n1'], ['n2']]);
    const nic = (mac: string): Record<string, unknown> => ({ network_config: { interfaces: [{ name: 'eth0', mac, ip: '10.0.1.7' }] } });
    await c.node('n1').replica.putVm(vm('vm-1', nic('52:54:00:00:00:01')));
    await c.node('n2').replica.putVm(vm('vm-2', nic('52:54:00:00:00:02')));
    expect(seen.get('n1')).toEqual([]);
    expect(seen.get('n2')).toEqual([]);
    c.net.heal();
    await c.settle();
    const at1 = seen.get('n1')!;
    const at2 = seen.get('n2')!;
    expect(at1.map((x) => [x.kind, x.key, x.vmIds, x.severity, x.vmId])).toEqual([['ip', '10.0.1.7', ['vm-1', 'vm-2'], 'high', 'vm-2']]);
    expect(at2).toEqual(at1);
  });
});
