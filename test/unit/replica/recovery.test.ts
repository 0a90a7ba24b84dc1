import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../src/core/codec/canonical.js';
import { versionToJSON } from '../../../src/core/conflict/version.js';
import { developmentPolicy } from '../../../src/core/policy/presets.js';
import { RecoveryManager } from '../../../src/replica/recovery.js';
import { createCluster, vm } from '../../support/cluster.js';

describe('RecoveryManager: checkpoints', () => {
  it('creates, lists (newest first) and restores a checkpoint as a new dominating version', async () => {
    const c = await createCluster({ nodes: 2 });
    const n1 = c.node('n1');
    const rm = new RecoveryManager(n1.replica, n1.store, c.clock, { checkpointIntervalMs: 0 });
    await rm.start();
    const v1 = await n1.replica.putVm(vm('vm-1', { memory_mb: 4096 }));
    const cp1 = await rm.createCheckpoint('vm/vm-1');
    await n1.replica.putVm(vm('vm-1', { memory_mb: 65536 }));
    const cp2 = await rm.createCheckpoint('vm/vm-1', 'before upgrade');
    expect((await rm.list('vm/vm-1')).map((x) => x.id)).toEqual([cp2.id, cp1.id]);
    const restored = await rm.restore(cp1.id);
    await c.settle();
    expect(restored.data).toEqual(v1.data);
    expect(c.node('n2').replica.get('vm/vm-1')!.versions.map((v) => v.id)).toEqual([restored.id]);
    // The restore checkpointed the state it replaced.
    expect((await rm.list('vm/vm-1'))[0]!.reason).toContain(`before restoring ${cp1.id}`);
    await expect(rm.restore('cp-nope')).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
  });

  it('keeps only the newest N checkpoints per resource', async () => {
    const c = await createCluster({ nodes: 1 });
    const n1 = c.node('n1');
    const rm = new RecoveryManager(n1.replica, n1.store, c.clock, { checkpointIntervalMs: 0, snapshotRetention: 3 });
    await rm.start();
    await n1.replica.putVm(vm('vm-1'));
    await n1.replica.putVm(vm('vm-2', { network_config: { interfaces: [] }, disk_config: [] }));
    const made = [];
    for (let i = 0; i < 6; i++) made.push((await rm.createCheckpoint('vm/vm-1')).id);
    await rm.createCheckpoint('vm/vm-2');
    expect((await rm.list('vm/vm-1')).map((x) => x.id)).toEqual(made.slice(3).reverse());
    expect(await rm.list('vm/vm-2')).toHaveLength(1);
    await expect(rm.get(made[0]!)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
  });

  it('checkpoints changed resources on the configured interval', async () => {
    const c = await createCluster({ nodes: 1 });
    const n1 = c.node('n1');
    const rm = new RecoveryManager(n1.replica, n1.store, c.clock, { checkpointIntervalMs: 60_000 });
    await rm.start();
    await n1.replica.putVm(vm('vm-1'));
    await c.settle(59_000);
    expect(await rm.list()).toHaveLength(0);
    await c.settle(2_000);
    const list = await rm.list();
    expect(list.map((x) => [x.resourceId, x.reason])).toEqual([['vm/vm-1', 'interval']]);
    await c.settle(61_000);
    expect(await rm.list()).toHaveLength(1); // nothing changed since: no new checkpoint
    rm.stop();
  });
});

describe('RecoveryManager: state reconstruction', () => {
  it('rebuilds the state at any past moment from the audit log, equal to what was live then', async () => {
    const c = await createCluster({ nodes: 3, policy: developmentPolicy, seed: 7 });
    const n3 = c.node('n3');
    const rm = new RecoveryManager(n3.replica, n3.store, c.clock, { checkpointIntervalMs: 0 });
    await rm.start();
    const seen: Array<{ at: number; live: string | undefined }> = [];
    const snap = (): string | undefined => {
      const r = n3.replica.get('vm/vm-1');
      return r ? canonicalJson(r.versions.map(versionToJSON)) : undefined;
    };
    seen.push({ at: c.clock.now(), live: snap() });
    c.clock.advance(10);
    for (let i = 0; i < 12; i++) {
      const writers = i % 3 === 0 ? ['n1', 'n2'] : [`n${1 + (i % 3)}`];
      await Promise.all(writers.map((w, k) => c.node(w).replica.putVm(vm('vm-1', { cpu_allocation: 1 + i + k, network_config: { interfaces: [] } }))));
      await c.settle();
      c.clock.advance(10);
      seen.push({ at: c.clock.now(), live: snap() });
      c.clock.advance(10);
    }
    expect(n3.replica.conflictList().length).toBeGreaterThan(0);
    for (const { at, live } of seen) {
      const rebuilt = await rm.reconstructState('vm/vm-1', at);
      // Equal content (the stored text's keys are in canonical order; the live objects keep their own).
      expect(rebuilt === undefined ? undefined : canonicalJson(rebuilt.map(versionToJSON)), `at ${at}`).toBe(live);
    }
  });

  it('refuses reconstruction when it is disabled', async () => {
    const c = await createCluster({ nodes: 1 });
    const n1 = c.node('n1');
    const rm = new RecoveryManager(n1.replica, n1.store, c.clock, { enableStateReconstruction: false, checkpointIntervalMs: 0 });
    await expect(rm.reconstructState('vm/vm-1', c.clock.now())).rejects.toMatchObject({ code: 'ERR_RECOVERY' });
  });
});
