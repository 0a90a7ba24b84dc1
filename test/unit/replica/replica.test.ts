import { describe, expect, it } from 'vitest';
import { VectorClock } from '../../../src/core/clock/vector-clock.js';
import { versionToJSON } from '../../../src/core/conflict/version.js';
import { canonicalJson } from '../../../src/core/codec/canonical.js';
import { developmentPolicy } from '../../../src/core/policy/presets.js';
import { encodeRecord, RecordKind } from '../../../src/replica/record-codec.js';
import { createCluster, vm, type TestCluster } from '../../support/cluster.js';

function snapshot(c: TestCluster, id: string): string {
  const r = c.node(id).replica;
  return canonicalJson(r.list().map((rid) => [rid, r.get(rid)!.versions.map(versionToJSON)]));
}

describe('Replica: local writes', () => {
  it('makes a write durable (version set, history, audit) before acknowledging it', async () => {
    const c = await createCluster({ nodes: 1 });
    const n1 = c.node('n1');
    const v1 = await n1.replica.putVm(vm('vm-1'));
    expect(await n1.store.get('versions', 'vm/vm-1')).toBeDefined();
    const v2 = await n1.replica.putVm(vm('vm-1', { memory_mb: 16384 }));
    expect(v2.clock.compare(v1.clock)).toBe('after');
    expect(n1.replica.history('vm/vm-1').map((v) => v.id)).toEqual([v1.id]);
    expect(await n1.replica.audit.verify()).toMatchObject({ ok: true, entries: 2 });
  });

  it('refuses a write whose context does not cover the current version, accepts one that does', async () => {
    const c = await createCluster({ nodes: 1 });
    const r = c.node('n1').replica;
    const v1 = await r.putVm(vm('vm-1'));
    await r.putVm(vm('vm-1', { cpu_allocation: 8 }));
    await expect(r.putVm(vm('vm-1', { cpu_allocation: 2 }), { context: v1.clock })).rejects.toMatchObject({ code: 'ERR_STALE_CONTEXT' });
    const ok = await r.putVm(vm('vm-1', { cpu_allocation: 2 }), { context: r.contextOf('vm/vm-1') });
    expect(r.get('vm/vm-1')!.versions).toEqual([ok]);
  });

  it('rejects a VM state with wrong types, naming the field, and keeps the old state', async () => {
    const c = await createCluster({ nodes: 1 });
    const r = c.node('n1').replica;
    const v1 = await r.putVm(vm('vm-1'));
    await expect(r.putVm({ ...vm('vm-1'), cpu_allocation: 'four' })).rejects.toMatchObject({
      code: 'ERR_INVALID_VM_STATE',
      meta: { field: 'vm.cpu_allocation' },
    });
    expect(r.get('vm/vm-1')!.versions).toEqual([v1]);
  });

  it('writes a tombstone on delete and replicates it', async () => {
    const c = await createCluster({ nodes: 2 });
    await c.node('n1').replica.putVm(vm('vm-1'));
    await c.settle();
    const t = await c.node('n1').replica.delete('vm/vm-1');
    await c.settle();
    expect(t.deleted).toBe(true);
    expect(c.node('n2').replica.get('vm/vm-1')!.versions.map((v) => v.id)).toEqual([t.id]);
    await expect(c.node('n1').replica.delete('vm/nope')).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
  });
});

describe('Replica: replication', () => {
  it('gossips a write to every peer in batches', async () => {
    const c = await createCluster({ nodes: 3 });
    const writes = [];
    for (let i = 0; i < 50; i++) writes.push(c.node('n1').replica.putVm(vm(`vm-${i}`, { network_config: { interfaces: [] } })));
    await Promise.all(writes);
    await c.settle();
    expect(snapshot(c, 'n2')).toBe(snapshot(c, 'n1'));
    expect(snapshot(c, 'n3')).toBe(snapshot(c, 'n1'));
    expect(c.node('n2').replica.list('vm/')).toHaveLength(50);
    // 50 writes in one event-loop turn: far fewer than 50 gossip messages per peer.
    expect(c.net.sent).toBeLessThan(50);
  });

  it('resolves concurrent writes to identical bytes on every replica', async () => {
    const c = await createCluster({ nodes: 3, policy: developmentPolicy });
    await c.node('n1').replica.putVm(vm('vm-1'));
    await c.settle();
    // Concurrent: both write before seeing the other's write.
    await Promise.all([
      c.node('n1').replica.putVm(vm('vm-1', { memory_mb: 16384 })),
      c.node('n2').replica.putVm(vm('vm-1', { cpu_allocation: 8 })),
    ]);
    await c.settle();
    const s1 = snapshot(c, 'n1');
    expect(snapshot(c, 'n2')).toBe(s1);
    expect(snapshot(c, 'n3')).toBe(s1);
    const conflicts = c.node('n3').replica.conflictList();
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]).toMatchObject({ type: 'concurrent_update', status: 'resolved' });
    expect(conflicts[0]!.decision.path.length).toBeGreaterThan(0);
  });

  it('detects a split-brain, keeps both versions pending, and converges on the operator decision', async () => {
    const c = await createCluster({ nodes: 3 });
    const events: string[] = [];
    for (const n of c.nodes) n.replica.on('split-brain', (e) => events.push(`${n.id}:${e.hosts.join('+')}`));
    await Promise.all([
      c.node('n1').replica.putVm(vm('vm-9', { host: 'n1' })),
      c.node('n2').replica.putVm(vm('vm-9', { host: 'n2' })),
    ]);
    await c.settle();
    expect(events.sort()).toEqual(['n1:n1+n2', 'n2:n1+n2', 'n3:n1+n2']);
    const pending = c.node('n3').replica.conflictList('pending');
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatchObject({ type: 'semantic', severity: 'critical' });
    expect(c.node('n3').replica.get('vm/vm-9')!.versions).toHaveLength(2);
    const keep = pending[0]!.candidates.find((v) => (v.data as { host: string }).host === 'n1')!;
    const decided = await c.node('n1').replica.resolveManually(pending[0]!.id, { pick: keep.id });
    await c.settle();
    for (const n of c.nodes) {
      expect(n.replica.get('vm/vm-9')!.versions.map((v) => v.id)).toEqual([decided.id]);
      expect(n.replica.conflict(pending[0]!.id)!.status).toBe('resolved');
    }
    await expect(c.node('n1').replica.resolveManually(pending[0]!.id, { pick: keep.id })).rejects.toMatchObject({
      code: 'ERR_CONFLICT_STATE',
    });
  });

  it('rejects a malformed gossip payload without applying anything', async () => {
    const c = await createCluster({ nodes: 2 });
    await c.node('n1').replica.putVm(vm('vm-1'));
    await c.settle();
    const before = snapshot(c, 'n2');
    const reasons: string[] = [];
    c.node('n2').replica.on('rejected', (e) => reasons.push(e.reason));
    c.node('n2').replica.receive('n1', new TextEncoder().encode('{"v":1,"from":"n1","versions":[{"id":"x"}]}'));
    c.node('n2').replica.receive('n1', new Uint8Array([0xff, 0x00]));
    await c.settle();
    expect(reasons).toHaveLength(2);
    expect(snapshot(c, 'n2')).toBe(before);
  });
});

describe('Replica: restart and storage faults', () => {
  it('restarts from its store with the same state and continues the audit chain', async () => {
    const c = await createCluster({ nodes: 2 });
    for (let i = 0; i < 10; i++) await c.node('n1').replica.putVm(vm(`vm-${i}`, { network_config: { interfaces: [] } }));
    await c.settle();
    const before = snapshot(c, 'n1');
    await c.restart('n1');
    expect(snapshot(c, 'n1')).toBe(before);
    const v = await c.node('n1').replica.putVm(vm('vm-0', { network_config: { interfaces: [] }, cpu_allocation: 1 }));
    expect(v.clock.get('n1')).toBe(2);
    expect(await c.node('n1').replica.audit.verify()).toMatchObject({ ok: true, entries: 11 });
  });

  it('quarantines an undecodable record at load and keeps serving the rest', async () => {
    const c = await createCluster({ nodes: 1 });
    const n1 = c.node('n1');
    await n1.replica.putVm(vm('vm-1'));
    await n1.replica.putVm(vm('vm-2', { network_config: { interfaces: [] }, disk_config: [] }));
    const corrupt = encodeRecord(RecordKind.versionSet, { versions: 'nope' });
    corrupt[corrupt.length - 1]! ^= 0xff;
    await n1.store.write([{ type: 'put', sublevel: 'versions', key: 'vm/vm-1', value: corrupt }]);
    await c.restart('n1');
    expect(n1.replica.quarantined).toEqual(['versions/vm/vm-1']);
    expect(n1.replica.get('vm/vm-2')).toBeDefined();
    expect(await n1.store.get('quarantine', 'versions/vm/vm-1')).toEqual(corrupt);
    expect(n1.replica.get('vm/vm-1')).toBeUndefined();
  });

  it('goes read-only when the store fails a write, refusing writes with a typed error', async () => {
    const c = await createCluster({ nodes: 1 });
    const n1 = c.node('n1');
    await n1.replica.putVm(vm('vm-1'));
    const orig = n1.store.write.bind(n1.store);
    n1.store.write = () => Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }));
    await expect(n1.replica.putVm(vm('vm-1', { cpu_allocation: 2 }))).rejects.toThrow(/ENOSPC/);
    n1.store.write = orig;
    await expect(n1.replica.putVm(vm('vm-1', { cpu_allocation: 3 }))).rejects.toMatchObject({ code: 'ERR_READ_ONLY' });
    expect(n1.replica.get('vm/vm-1')).toBeDefined();
  });
});

describe('Replica: write durability', () => {
  it('syncs its own (acknowledged) writes and writes applied remote versions unsynced', async () => {
    const c = await createCluster({ nodes: 2 });
    const calls: Array<{ node: string; sync: boolean; sublevels: string[] }> = [];
    for (const id of ['n1', 'n2']) {
      const store = c.node(id).store;
      const orig = store.write.bind(store);
      store.write = (ops, options) => {
        calls.push({ node: id, sync: options?.sync ?? true, sublevels: ops.map((o) => o.sublevel) });
        return orig(ops, options);
      };
    }
    await c.node('n1').replica.putVm(vm('vm-1'));
    await c.settle();
    expect(c.node('n2').replica.get('vm/vm-1')).toBeDefined();
    const own = calls.filter((x) => x.node === 'n1' && x.sublevels.includes('versions'));
    const applied = calls.filter((x) => x.node === 'n2' && x.sublevels.includes('versions'));
    expect(own.length).toBeGreaterThan(0);
    expect(own.every((x) => x.sync)).toBe(true);
    expect(applied.length).toBeGreaterThan(0);
    expect(applied.every((x) => !x.sync)).toBe(true);
    expect(await c.node('n2').replica.audit.verify()).toMatchObject({ ok: true });
  });
});

describe('Replica: determinism', () => {
  async function run(seed: number): Promise<string[]> {
    const c = await createCluster({ nodes: 3, seed, policy: developmentPolicy });
    c.net.loss = 0.1;
    c.net.duplication = 0.2;
    const trace: string[] = [];
    for (const n of c.nodes) {
      n.replica.on('applied', (e) => trace.push(`${c.clock.now()} ${n.id} applied ${e.version.id}`));
      n.replica.on('conflict', (e) => trace.push(`${c.clock.now()} ${n.id} conflict ${e.record.id} ${e.record.decision.outcome}`));
    }
    for (let round = 0; round < 20; round++) {
      const writer = c.nodes[c.random.int(3)]!;
      const id = `vm-${c.random.int(4)}`;
      const ctx = writer.replica.get(`vm/${id}`) ? writer.replica.contextOf(`vm/${id}`) : VectorClock.EMPTY;
      await writer.replica.putVm(vm(id, { cpu_allocation: 1 + c.random.int(16), network_config: { interfaces: [] } }), { context: ctx });
      await c.settle(c.random.int(10));
    }
    await c.settle();
    for (const n of c.nodes) trace.push(`${n.id} ${snapshot(c, n.id)}`);
    return trace;
  }

  it('gives the same trace and final state for the same seed', async () => {
    const seed = Math.floor(Math.random() * 2 ** 31);
    const a = await run(seed);
    const b = await run(seed);
    expect(b, `seed ${seed}`).toEqual(a);
    expect(a.length).toBeGreaterThan(20);
  });
});

describe('Replica: stored form and load', () => {
  it("stores a local write's data as its canonical text (the text its digest hashed)", async () => {
    const c = await createCluster({ nodes: 1 });
    const n1 = c.node('n1');
    const v = await n1.replica.putVm(vm('vm-order', { labels: { zone: 'b', app: 'web' }, cpu_allocation: 2 }));
    const raw = await n1.store.get('versions', 'vm/vm-order');
    const text = new TextDecoder().decode(raw!.subarray(7));
    expect(text).toContain(`"data":${canonicalJson(v.data)}`);
  });

  it('shares one labels object between loaded VM states with equal labels, and the data stays equal', async () => {
    const c = await createCluster({ nodes: 1 });
    const labels = { tier: 'web', owner: 'team-1' };
    await c.node('n1').replica.putVm(vm('vm-a', { labels: { ...labels } }));
    await c.node('n1').replica.putVm(vm('vm-b', { labels: { ...labels } }));
    await c.node('n1').replica.putVm(vm('vm-c', { labels: { tier: 'db', owner: 'team-1' } }));
    const before = ['vm-a', 'vm-b', 'vm-c'].map((id) => canonicalJson(c.node('n1').replica.get(`vm/${id}`)!.versions.map(versionToJSON)));
    const n1 = await c.restart('n1');
    const data = (id: string): { labels: object } => n1.replica.get(`vm/${id}`)!.versions[0]!.data as { labels: object };
    expect(data('vm-a').labels).toBe(data('vm-b').labels);
    expect(data('vm-c').labels).not.toBe(data('vm-a').labels);
    expect(data('vm-c').labels).toEqual({ tier: 'db', owner: 'team-1' });
    const after = ['vm-a', 'vm-b', 'vm-c'].map((id) => canonicalJson(n1.replica.get(`vm/${id}`)!.versions.map(versionToJSON)));
    expect(after).toEqual(before);
  });
});
