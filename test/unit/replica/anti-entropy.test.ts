import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../src/core/codec/canonical.js';
import { versionToJSON } from '../../../src/core/conflict/version.js';
import { developmentPolicy } from '../../../src/core/policy/presets.js';
import { createCluster, vm, type TestCluster } from '../../support/cluster.js';

function state(c: TestCluster, id: string): string {
  const r = c.node(id).replica;
  return canonicalJson(r.list().map((rid) => [rid, r.get(rid)!.versions.map(versionToJSON)]));
}

const lean = (id: string, over: Record<string, unknown> = {}): Record<string, unknown> =>
  vm(id, { network_config: { interfaces: [] }, disk_config: [], ...over });

describe('anti-entropy', () => {
  it('converges both sides of a healed partition without further writes', async () => {
    const seed = Math.floor(Math.random() * 2 ** 31);
    const c = await createCluster({ nodes: 5, seed, policy: developmentPolicy, antiEntropy: { intervalMs: 0 } });
    for (let i = 0; i < 20; i++) await c.node('n1').replica.putVm(lean(`vm-${i}`));
    await c.settle();
    c.net.partition([
      ['n1', 'n2'],
      ['n3', 'n4', 'n5'],
    ]);
    for (let i = 0; i < 20; i += 2) await c.node('n1').replica.putVm(lean(`vm-${i}`, { cpu_allocation: 8 }));
    for (let i = 0; i < 20; i += 3) await c.node('n4').replica.putVm(lean(`vm-${i}`, { memory_mb: 32768 }));
    for (let i = 20; i < 25; i++) await c.node('n5').replica.putVm(lean(`vm-${i}`));
    await c.settle();
    expect(state(c, 'n1'), `seed ${seed}`).not.toBe(state(c, 'n3'));
    c.net.heal(); // peer-up events start anti-entropy sessions
    await c.settle();
    const s1 = state(c, 'n1');
    for (const n of ['n2', 'n3', 'n4', 'n5']) expect(state(c, n), `seed ${seed}, ${n}`).toBe(s1);
    expect(c.node('n1').replica.list('vm/')).toHaveLength(25);
    // Both sides' writes survived: vm-0 was written on both sides, concurrently.
    const v0 = c.node('n3').replica.get('vm/vm-0')!;
    const datas = v0.versions.map((v) => v.data as { cpu_allocation: number; memory_mb: number });
    expect(datas.some((d) => d.cpu_allocation === 8)).toBe(true);
    expect(datas.some((d) => d.memory_mb === 32768)).toBe(true);
  });

  it('exchanges only what differs', async () => {
    const c = await createCluster({ nodes: 2, antiEntropy: { intervalMs: 0 } });
    for (let i = 0; i < 300; i++) await c.node('n1').replica.putVm(lean(`vm-${i}`));
    await c.settle();
    c.net.loss = 1; // gossip of the next writes is lost (no peer events: only the explicit session runs)
    for (let i = 0; i < 10; i++) await c.node('n1').replica.putVm(lean(`vm-${i}`, { cpu_allocation: 2 }));
    await c.settle();
    c.net.loss = 0;
    const sync = async () => {
      const p = c.node('n2').ae!.syncWith('n1');
      await c.settle();
      return p;
    };
    const r = await sync();
    expect(r.resources).toBe(10);
    expect(r.versionsReceived).toBe(10);
    expect(r.versionsSent).toBe(10);
    // The digest is ~1024 bucket hashes, not 300 VM states.
    expect(r.bytes).toBeLessThan(60_000);
    expect(state(c, 'n2')).toBe(state(c, 'n1'));
    const again = await sync();
    expect(again.resources).toBe(0);
  });

  it('repairs messages lost by gossip through the periodic round', async () => {
    const c = await createCluster({ nodes: 3, antiEntropy: { intervalMs: 1_000 } });
    c.net.loss = 1; // gossip loses everything
    for (let i = 0; i < 5; i++) await c.node('n2').replica.putVm(lean(`vm-${i}`));
    await c.settle(100);
    expect(c.node('n1').replica.list()).toHaveLength(0);
    c.net.loss = 0;
    await c.settle(10_000);
    expect(state(c, 'n1')).toBe(state(c, 'n2'));
    expect(state(c, 'n3')).toBe(state(c, 'n2'));
  });
});
