import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LevelStore } from '../../src/adapters/level/level-store.js';
import type { Store } from '../../src/replica/ports.js';
import { storeContract } from '../contract/store-contract.js';

const dirs: string[] = [];
function freshDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'dwcp-level-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

storeContract('LevelStore', {
  create: () => new LevelStore({ dir: freshDir() }),
  reopen: (store: Store) => new LevelStore({ dir: (store as LevelStore).dir }),
});

describe('LevelStore', () => {
  it('group-commits concurrent writes into far fewer synced batches', async () => {
    const store = new LevelStore({ dir: freshDir() });
    await store.open();
    const value = new Uint8Array(200);
    await Promise.all(
      Array.from({ length: 500 }, (_, i) => store.write([{ type: 'put', sublevel: 'versions', key: `vm/${i}`, value }])),
    );
    expect(store.syncedBatches).toBeGreaterThan(0);
    expect(store.syncedBatches).toBeLessThan(100);
    await store.close();
  });

  it('acknowledges a committed group in slices, one per turn of the event loop, in order', async () => {
    const store = new LevelStore({ dir: freshDir(), ackSlice: 16 });
    await store.open();
    const value = new Uint8Array(10);
    const put = (key: string) => store.write([{ type: 'put', sublevel: 'versions', key, value }]);
    const first = put('vm/first'); // flushed alone: the 100 below queue behind it and share the next batch
    const order: string[] = [];
    const writes = Array.from({ length: 100 }, (_, i) =>
      put(`vm/${i}`).then(() => {
        order.push(`w${i}`);
        // The first acknowledgement schedules a turn of the event loop: it comes after the first slice, before the last.
        if (i === 0) setImmediate(() => order.push('turn'));
      }),
    );
    await first;
    const batchesBefore = store.syncedBatches;
    await Promise.all(writes);
    expect(store.syncedBatches).toBe(batchesBefore + 1);
    const turn = order.indexOf('turn');
    expect(turn).toBeGreaterThanOrEqual(16);
    expect(turn).toBeLessThan(100);
    expect(order.filter((o) => o !== 'turn')).toEqual(Array.from({ length: 100 }, (_, i) => `w${i}`));
    await store.close();
  });

  it('acknowledges writes in the order they were made, also when a later batch commits while an earlier one is still being acknowledged', async () => {
    const store = new LevelStore({ dir: freshDir(), ackSlice: 1 });
    await store.open();
    const value = new Uint8Array(10);
    const order: number[] = [];
    const put = (i: number) =>
      store.write([{ type: 'put', sublevel: 'versions', key: `vm/${i}`, value }]).then(() => {
        order.push(i);
        // Each acknowledged writer works a while: the first group's acknowledgements span many turns.
        const until = performance.now() + 0.2;
        while (performance.now() < until);
      });
    const first = put(0); // alone in the first batch; 1-200 queue behind it and share the second
    const group = Array.from({ length: 200 }, (_, i) => put(i + 1));
    await first;
    // The second batch is in flight: these share a third, which commits long before the second's
    // 200 acknowledgements (one per turn, 0.2 ms each) are through.
    const late = Array.from({ length: 5 }, (_, i) => put(201 + i));
    await Promise.all([...group, ...late]);
    expect(store.syncedBatches).toBe(3);
    expect(order).toEqual(Array.from({ length: 206 }, (_, i) => i));
    await store.close();
  });

  it('writes one synced batch per write with group commit off', async () => {
    const store = new LevelStore({ dir: freshDir(), groupCommit: false });
    await store.open();
    const value = new Uint8Array(10);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.write([{ type: 'put', sublevel: 'versions', key: `vm/${i}`, value }])),
    );
    expect(store.syncedBatches).toBe(20);
    await store.close();
  });

  it('writes unsynced batches for sync: false writes, and syncs a group a synced write shares', async () => {
    const store = new LevelStore({ dir: freshDir(), groupCommit: false });
    await store.open();
    const value = new Uint8Array(10);
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => store.write([{ type: 'put', sublevel: 'versions', key: `vm/${i}`, value }], { sync: i % 2 === 0 })),
    );
    expect(store.syncedBatches).toBe(5);
    expect(store.unsyncedBatches).toBe(5);
    await store.close();
    const grouped = new LevelStore({ dir: freshDir() });
    await grouped.open();
    // The first write starts a batch at once; the rest queue behind it and go out as one group.
    await Promise.all([
      grouped.write([{ type: 'put', sublevel: 'versions', key: 'first', value }], { sync: false }),
      ...Array.from({ length: 9 }, (_, i) => grouped.write([{ type: 'put', sublevel: 'versions', key: `vm/${i}`, value }], { sync: i === 4 })),
    ]);
    expect(grouped.unsyncedBatches).toBe(1);
    expect(grouped.syncedBatches).toBe(1);
    await grouped.close();
  });

  it('refuses a second opener of the same directory with an error naming it', async () => {
    const dir = freshDir();
    const first = new LevelStore({ dir });
    await first.open();
    const second = new LevelStore({ dir });
    const err = await second.open().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'ERR_STORE_LOCKED' });
    expect((err as Error).message).toContain(dir);
    // The first opener keeps serving.
    await first.write([{ type: 'put', sublevel: 'meta', key: 'still', value: new Uint8Array([1]) }]);
    expect(await first.get('meta', 'still')).toEqual(new Uint8Array([1]));
    await first.close();
  });

  it('flushes queued writes before close resolves', async () => {
    const dir = freshDir();
    const store = new LevelStore({ dir });
    await store.open();
    const writes = Array.from({ length: 50 }, (_, i) =>
      store.write([{ type: 'put', sublevel: 'versions', key: `k${i}`, value: new Uint8Array([i]) }]),
    );
    await store.close();
    await Promise.all(writes);
    const again = new LevelStore({ dir });
    await again.open();
    expect(await again.get('versions', 'k49')).toEqual(new Uint8Array([49]));
    await again.close();
  });

  it('ranges over many entries (read ahead in batches), and lets a caller stop early', async () => {
    const store = new LevelStore({ dir: freshDir() });
    await store.open();
    const key = (i: number): string => `k${String(i).padStart(5, '0')}`;
    await store.write(Array.from({ length: 2_500 }, (_, i) => ({ type: 'put' as const, sublevel: 'history' as const, key: key(i), value: new Uint8Array([i & 0xff]) })));
    await store.write([{ type: 'put', sublevel: 'audit', key: key(0), value: new Uint8Array([7]) }]);
    const all: string[] = [];
    for await (const e of store.range('history')) all.push(e.key);
    expect(all).toEqual(Array.from({ length: 2_500 }, (_, i) => key(i)));
    for (const stopAt of [0, 999, 1_000, 1_500]) {
      const seen: string[] = [];
      for await (const e of store.range('history', { gte: key(0) })) {
        if (seen.length === stopAt) break;
        seen.push(e.key);
      }
      expect(seen).toHaveLength(stopAt);
    }
    const reversed: string[] = [];
    for await (const e of store.range('history', { reverse: true, limit: 1_200 })) reversed.push(e.key);
    expect(reversed).toEqual(Array.from({ length: 1_200 }, (_, i) => key(2_499 - i)));
    // The iterators are closed: writes and the close itself go through.
    await store.write([{ type: 'put', sublevel: 'history', key: 'after', value: new Uint8Array([1]) }]);
    expect(await store.get('audit', key(0))).toEqual(new Uint8Array([7]));
    await store.close();
  });
});
