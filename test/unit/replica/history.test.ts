/**
 * The bounded version history: the newest few superseded versions in memory, the rest read back when
 * a conflict needs it (or on `loadHistory`) by walking the audit entries that recorded the resource's
 * sets (each names the one before it, `prior`); versions whose set's audit entry is not known (stores
 * of earlier releases) copied into history entries; stores written in the first format (one list per
 * resource) converted at start.
 */
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../src/adapters/memory/memory-store.js';
import { ManualClock } from '../../../src/adapters/memory/manual-clock.js';
import { MemoryNetwork } from '../../../src/adapters/memory/memory-network.js';
import { SeededRandom } from '../../../src/adapters/memory/seeded-random.js';
import { FakeHypervisor } from '../../../src/adapters/hypervisor/fake-hypervisor.js';
import { VectorClock } from '../../../src/core/clock/vector-clock.js';
import { canonicalJson } from '../../../src/core/codec/canonical.js';
import { createVersion, versionToJSON, type Version } from '../../../src/core/conflict/version.js';
import { PolicyBuilder } from '../../../src/core/policy/builder.js';
import { policyPresets } from '../../../src/core/policy/presets.js';
import { decodeGossip, encodeGossip } from '../../../src/replica/codec.js';
import type { Store } from '../../../src/replica/ports.js';
import { auditKey } from '../../../src/replica/audit-log.js';
import { CrdtService } from '../../../src/replica/crdt-service.js';
import { decodeRecord, encodeRecord, RecordKind } from '../../../src/replica/record-codec.js';
import { Replica, type ReplicaObserver } from '../../../src/replica/replica.js';
import { createResolver } from '../../../src/replica/resolver.js';
import { createCluster, vm } from '../../support/cluster.js';

/** The record kinds of the stored history entries of a resource. */
async function historyKinds(store: Store, resourceId: string): Promise<number[]> {
  const out: number[] = [];
  for await (const { value } of store.range('history', { gte: `${resourceId}\u0000`, lt: `${resourceId}\u0001` })) out.push(value[2]!);
  return out;
}

const json = (vs: readonly Version[]): string[] => vs.map((v) => canonicalJson(versionToJSON(v)));

/** A started replica `n1` on `store` (production policy), reporting store errors to `observer`. */
async function openReplica(store: Store, observer?: ReplicaObserver): Promise<Replica> {
  const clock = new ManualClock();
  const replica = new Replica(
    { nodeId: 'n1' },
    {
      store,
      transport: new MemoryNetwork({ clock, random: new SeededRandom(1) }).join('n1'),
      clock,
      hypervisor: new FakeHypervisor(),
      resolver: createResolver({ policy: () => policyPresets.production }),
      ...(observer ? { observer } : {}),
    },
  );
  await replica.start();
  return replica;
}

async function keys(store: Store, sublevel: 'history' | 'versions' | 'meta', prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for await (const { key } of store.range(sublevel, { gte: prefix, lt: `${prefix}\uffff` })) out.push(key);
  return out;
}

const ids = (vs: readonly Version[]): string[] => vs.map((v) => v.id);

/** Three-way text merges (they need the common ancestor from the history). */
const mergePolicy = new PolicyBuilder('merge').withDefaultStrategy('operational_transform').build();
const manualPolicy = new PolicyBuilder('manual').withDefaultStrategy('manual_intervention').build();

describe('Replica: version history', () => {
  it('keeps historyLimit versions of history, the newest in memory, and stores none of it apart from the audit log', async () => {
    const c = await createCluster({ nodes: 1, replica: { historyLimit: 3, historyInMemory: 1 } });
    const n1 = c.node('n1');
    const written: Version[] = [];
    for (let i = 0; i < 5; i++) written.push(await n1.replica.putVm(vm('vm-1', { cpu_allocation: i + 1 })));
    expect(await keys(n1.store, 'history')).toEqual([]);
    expect(ids(n1.replica.history('vm/vm-1'))).toEqual(ids(written.slice(3, 4)));
    expect(ids(await n1.replica.loadHistory('vm/vm-1'))).toEqual(ids(written.slice(1, 4)));
    const rec = decodeRecord((await n1.store.get('versions', 'vm/vm-1'))!, RecordKind.versionSet, 'versions', 'vm/vm-1');
    expect(rec).toEqual({ versions: [versionToJSON(written[4]!)], indexed: true, audit: 5 });

    // After a restart nothing of it is in memory until it is asked for.
    await c.restart('n1');
    expect(n1.replica.history('vm/vm-1')).toEqual([]);
    expect(ids(await n1.replica.loadHistory('vm/vm-1'))).toEqual(ids(written.slice(1, 4)));
    const next = await n1.replica.putVm(vm('vm-1', { cpu_allocation: 9 }));
    expect(next.clock.get('n1')).toBe(6);
    expect(ids(await n1.replica.loadHistory('vm/vm-1'))).toEqual(ids(written.slice(2, 5)));
    expect(await keys(n1.store, 'history')).toEqual([]);
    expect(await n1.replica.audit.verify()).toMatchObject({ ok: true, entries: 6 });
  });

  it('reads an ancestor older than what is in memory from the store: the same merge as with the whole history in memory', async () => {
    const run = async (historyInMemory: number, restart: boolean): Promise<{ data: unknown; id: string; notes: string[] }> => {
      const c = await createCluster({ nodes: 2, policy: mergePolicy, replica: { historyInMemory } });
      const [n1, n2] = [c.node('n1'), c.node('n2')];
      const rid = 'doc/readme';
      const text = (a: string, b: string): string => ['title', a, 'body one', 'body two', b, 'end'].join('\n');
      await n1.replica.put(rid, text('A', 'B'));
      await c.settle();
      c.net.block('n1', 'n2');
      // n1 edits the first line three times (the ancestor is then three entries deep), n2 the last one.
      for (const a of ['A1', 'A2', 'A3']) await n1.replica.put(rid, text(a, 'B'));
      await n2.replica.put(rid, text('A', 'B1'));
      if (restart) await c.restart('n1');
      if (historyInMemory < 3) expect(n1.replica.history(rid).length).toBeLessThan(3);
      await n1.replica.applyRemote('n2', n2.replica.versionsOf(rid));
      const [merged] = n1.replica.versionsOf(rid);
      const record = n1.replica.conflictList()[0]!;
      return { data: merged!.data, id: merged!.id, notes: [...record.decision.notes] };
    };
    const whole = await run(8, false);
    expect(whole.data).toBe(['title', 'A3', 'body one', 'body two', 'B1', 'end'].join('\n'));
    expect(whole.notes.join('\n')).toMatch(/merged 2 concurrent edits against ancestor/);
    expect(await run(1, false)).toEqual(whole);
    expect(await run(0, true)).toEqual(whole);
  });

  it('applies batches in arrival order when one of them waits for stored history', async () => {
    const c = await createCluster({ nodes: 2, policy: mergePolicy, replica: { historyInMemory: 0 } });
    const [n1, n2] = [c.node('n1'), c.node('n2')];
    await n1.replica.put('doc/a', 'one\ntwo\nthree');
    await c.settle();
    c.net.block('n1', 'n2');
    await n1.replica.put('doc/a', 'one\ntwo\nthree!');
    await n2.replica.put('doc/a', 'one!\ntwo\nthree');
    const fresh = await n2.replica.put('doc/b', 'new');
    const order: string[] = [];
    n1.replica.on('conflict', (e) => order.push(`conflict ${e.record.resourceId}`));
    n1.replica.on('applied', (e) => order.push(`applied ${e.version.resourceId}`));
    // The first batch needs doc/a's ancestor from the store; the second needs nothing and must wait.
    const first = n1.replica.applyRemote('n2', n2.replica.versionsOf('doc/a'));
    const second = n1.replica.applyRemote('n2', [fresh]);
    expect(order).toEqual([]);
    await Promise.all([first, second]);
    expect(order).toEqual(['conflict doc/a', 'applied doc/b']);
    expect(n1.replica.versionsOf('doc/a')[0]!.data).toBe('one!\ntwo\nthree!');
    expect(await n1.replica.audit.verify()).toMatchObject({ ok: true });
  });

  it('keeps the whole history of a resource with a pending conflict in memory, also after a restart', async () => {
    const c = await createCluster({ nodes: 2, policy: manualPolicy, replica: { historyInMemory: 1 } });
    const [n1, n2] = [c.node('n1'), c.node('n2')];
    await n1.replica.putVm(vm('vm-1'));
    await c.settle();
    c.net.block('n1', 'n2');
    for (let i = 2; i <= 4; i++) await n1.replica.putVm(vm('vm-1', { cpu_allocation: i }));
    await n2.replica.putVm(vm('vm-1', { memory_mb: 4096 }));
    expect(n1.replica.history('vm/vm-1')).toHaveLength(1);
    await n1.replica.applyRemote('n2', n2.replica.versionsOf('vm/vm-1'));
    expect(n1.replica.conflictList('pending')).toHaveLength(1);
    const whole = ids(await n1.replica.loadHistory('vm/vm-1'));
    expect(whole).toHaveLength(3);
    expect(ids(n1.replica.history('vm/vm-1'))).toEqual(whole);
    await c.restart('n1');
    expect(ids(n1.replica.history('vm/vm-1'))).toEqual(whole);
  });

  it('converts history stored in the first format (one list per resource) at start', async () => {
    const store = new MemoryStore();
    await store.open();
    const mk = (n: number): Version =>
      createVersion({ resourceId: 'vm/vm-1', clock: VectorClock.from({ n1: n }), hlc: { wall: 1_000 + n, logical: 0 }, origin: 'n1', data: vm('vm-1', { cpu_allocation: n }) });
    const [v1, v2, v3] = [mk(1), mk(2), mk(3)];
    await store.write([
      { type: 'put', sublevel: 'versions', key: 'vm/vm-1', value: encodeRecord(RecordKind.versionSet, { versions: [versionToJSON(v3)] }) },
      { type: 'put', sublevel: 'history', key: 'vm/vm-1', value: encodeRecord(RecordKind.history, [versionToJSON(v1), versionToJSON(v2)]) },
    ]);
    const replica = await openReplica(store);
    expect(await keys(store, 'history')).toEqual(['vm/vm-1\u0000000000000000', 'vm/vm-1\u0000000000000001']);
    expect(await keys(store, 'meta', 'history-format')).toEqual(['history-format']);
    expect(ids(await replica.loadHistory('vm/vm-1'))).toEqual([v1.id, v2.id]);
    expect(replica.versionsOf('vm/vm-1')).toEqual([v3]);
    const v4 = await replica.putVm(vm('vm-1', { cpu_allocation: 4 }));
    expect(ids(await replica.loadHistory('vm/vm-1'))).toEqual([v1.id, v2.id, v3.id]);
    expect(v4.clock.compare(v3.clock)).toBe('after');
    await replica.stop();
  });

  it('names the prior set\'s audit entry on every path that changes a set: the history read back after a restart is the one in memory', async () => {
    const c = await createCluster({ nodes: 2, policy: manualPolicy, replica: { historyInMemory: 8 } });
    const [n1, n2] = [c.node('n1'), c.node('n2')];
    // Local writes; a pending conflict (two siblings) closed by an operator; a remote fast-forward.
    await n1.replica.putVm(vm('vm-1'));
    await n1.replica.putVm(vm('vm-1', { cpu_allocation: 2 }));
    await c.settle();
    c.net.block('n1', 'n2');
    await n1.replica.putVm(vm('vm-1', { cpu_allocation: 3 }));
    await n2.replica.putVm(vm('vm-1', { memory_mb: 4096 }));
    await n1.replica.applyRemote('n2', n2.replica.versionsOf('vm/vm-1'));
    const [pending] = n1.replica.conflictList('pending');
    await n1.replica.resolveManually(pending!.id, { pick: n2.replica.versionsOf('vm/vm-1')[0]!.id });
    c.net.unblock('n1', 'n2');
    await c.settle();
    await n2.replica.putVm(vm('vm-1', { memory_mb: 8192 }));
    await c.settle();
    // CRDT merges of concurrent updates.
    const crdt = [new CrdtService(n1.replica), new CrdtService(n2.replica)];
    await crdt[0]!.apply('views', { type: 'pn_counter', op: 'increment', by: 2 });
    await c.settle();
    c.net.block('n1', 'n2');
    await crdt[0]!.apply('views', { type: 'pn_counter', op: 'increment' });
    await crdt[1]!.apply('views', { type: 'pn_counter', op: 'increment' });
    await n1.replica.applyRemote('n2', n2.replica.versionsOf('crdt/views'));
    expect(crdt[0]!.read('views').value).toBe(4);

    const before = new Map(['vm/vm-1', 'crdt/views'].map((rid) => [rid, n1.replica.history(rid)]));
    await c.restart('n1');
    for (const [rid, inMemory] of before) {
      expect(inMemory.length).toBeGreaterThanOrEqual(rid === 'vm/vm-1' ? 5 : 2);
      expect(await historyKinds(n1.store, rid)).toEqual([]);
      // Each entry that records a set of the resource names the previous one as its prior.
      let last = 0;
      for await (const e of n1.replica.audit.entries()) {
        if (e.resourceId !== rid || !Array.isArray((e.data as { set?: unknown }).set)) continue;
        expect((e.data as { prior?: number }).prior).toBe(last === 0 ? undefined : last);
        last = e.seq;
      }
      expect(json(await n1.replica.loadHistory(rid))).toEqual(json(inMemory));
    }
    expect(await n1.replica.audit.verify()).toMatchObject({ ok: true });
  });

  it('copies the version into history where the audit entry of its set is not known (a store of an earlier release), then refers', async () => {
    const c = await createCluster({ nodes: 1 });
    const n1 = c.node('n1');
    const v1 = await n1.replica.putVm(vm('vm-1'));
    // The version set record as earlier releases wrote it: no `audit` field.
    const rec = decodeRecord((await n1.store.get('versions', 'vm/vm-1'))!, RecordKind.versionSet, 'versions', 'vm/vm-1') as { audit?: number };
    expect(rec.audit).toBe(1);
    delete rec.audit;
    await n1.store.write([{ type: 'put', sublevel: 'versions', key: 'vm/vm-1', value: encodeRecord(RecordKind.versionSet, rec) }]);
    await c.restart('n1');
    const v2 = await n1.replica.putVm(vm('vm-1', { cpu_allocation: 2 }));
    await n1.replica.putVm(vm('vm-1', { cpu_allocation: 3 }));
    expect(await historyKinds(n1.store, 'vm/vm-1')).toEqual([RecordKind.history]);
    await c.restart('n1');
    expect(json(await n1.replica.loadHistory('vm/vm-1'))).toEqual(json([v1, v2]));
  });

  it('reads the history while writes of the resource are still on their way to the store', async () => {
    // A store whose writes land a turn of the event loop later (in order), as LevelDB's group commit does.
    const inner = new MemoryStore();
    await inner.open();
    const store: Store = Object.assign(Object.create(inner) as MemoryStore, {
      write: (ops: Parameters<Store['write']>[0]) =>
        new Promise<void>((resolve, reject) =>
          setImmediate(() => {
            inner.write(ops).then(resolve, reject);
          }),
        ),
    });
    const errors: string[] = [];
    let replica = await openReplica(store, { storeError: (err) => errors.push(String(err)) });
    const written: Version[] = [];
    for (let i = 0; i < 3; i++) written.push(await replica.putVm(vm('vm-1', { cpu_allocation: i + 1 })));
    await replica.stop();
    replica = await openReplica(store, { storeError: (err) => errors.push(String(err)) });
    // The read waits for the writes handed to the store before it began; a write issued meanwhile is
    // not in the store yet when the read starts walking.
    const read = replica.loadHistory('vm/vm-1');
    const later = replica.putVm(vm('vm-1', { cpu_allocation: 9 }));
    const [history] = await Promise.all([read, later]);
    expect(errors).toEqual([]);
    expect(ids(history)).toEqual(ids(written));
    await replica.stop();
  });

  it('reports a history chain broken by a missing audit entry, naming it, and serves the history after the break', async () => {
    const store = new MemoryStore();
    await store.open();
    const errors: string[] = [];
    const open = (): Promise<Replica> => openReplica(store, { storeError: (err) => errors.push(err instanceof Error ? err.message : String(err)) });
    let replica = await open();
    const written: Version[] = [];
    for (let i = 0; i < 4; i++) written.push(await replica.putVm(vm('vm-1', { cpu_allocation: i + 1 })));
    await replica.stop();
    // Entries 1-4 recorded the four sets; the one that recorded the second is lost.
    await store.write([{ type: 'del', sublevel: 'audit', key: auditKey(2) }]);
    replica = await open();
    expect(ids(await replica.loadHistory('vm/vm-1'))).toEqual([written[2]!.id]);
    expect(errors).toEqual([expect.stringContaining('the history of vm/vm-1 goes through audit entry 2, which does not exist')]);
    expect(replica.versionsOf('vm/vm-1').map((v) => v.id)).toEqual([written[3]!.id]);
    await replica.stop();
  });

  it('rebuilds versions read back from its own store exactly as they were written', async () => {
    const c = await createCluster({ nodes: 1 });
    const n1 = c.node('n1');
    const written = [await n1.replica.putVm(vm('vm-1')), await n1.replica.put('doc/x', { a: [1, 'two', null] }), await n1.replica.put('doc/y', { b: 1 })];
    written.push(await n1.replica.delete('doc/y'));
    await c.restart('n1');
    for (const v of [written[0]!, written[1]!, written[3]!]) {
      const [loaded] = n1.replica.versionsOf(v.resourceId);
      expect(canonicalJson(versionToJSON(loaded!))).toBe(canonicalJson(versionToJSON(v)));
      expect(Object.isFrozen(loaded)).toBe(true);
      expect(loaded!.clock.compare(v.clock)).toBe('equal');
    }
  });

  it('quarantines a stored version set that is not shaped like one (the checksum alone does not vouch for it)', async () => {
    const c = await createCluster({ nodes: 1 });
    const n1 = c.node('n1');
    const v = await n1.replica.putVm(vm('vm-1'));
    await n1.replica.putVm(vm('vm-2', { network_config: { interfaces: [] }, disk_config: [] }));
    const { clock: _clock, ...noClock } = versionToJSON(v);
    await n1.store.write([{ type: 'put', sublevel: 'versions', key: 'vm/vm-1', value: encodeRecord(RecordKind.versionSet, { versions: [noClock] }) }]);
    await c.restart('n1');
    expect(n1.replica.quarantined).toEqual(['versions/vm/vm-1']);
    expect(n1.replica.get('vm/vm-2')).toBeDefined();
  });

  it('gossips exactly the payload encodeGossip gives for the same versions', async () => {
    const c = await createCluster({ nodes: 2 });
    const n1 = c.node('n1');
    const sent: Uint8Array[] = [];
    const publish = n1.transport.publish.bind(n1.transport);
    n1.transport.publish = (payload: Uint8Array): void => {
      sent.push(payload);
      publish(payload);
    };
    await Promise.all([n1.replica.putVm(vm('vm-1')), n1.replica.put('doc/u1', { text: 'ünïcode ✓ 😀' }), n1.replica.putVm(vm('vm-2', { network_config: { interfaces: [] } }))]);
    await n1.replica.delete('doc/u1');
    await c.settle();
    expect(sent.length).toBeGreaterThan(0);
    for (const payload of sent) expect(payload).toEqual(encodeGossip('n1', decodeGossip(payload).versions));
    expect(c.node('n2').replica.list()).toEqual(n1.replica.list());
  });
});
