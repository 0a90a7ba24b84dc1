/**
 * The Store port's contract, written once and run against every implementation (MemoryStore in the
 * unit project, LevelStore with a real LevelDB in the integration project).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../src/replica/ports.js';

export interface StoreHarness {
  /** A new, empty, unopened store. */
  create(): Promise<Store> | Store;
  /** A store over the same data as `store` after it was closed (a restart). */
  reopen(store: Store): Promise<Store> | Store;
  cleanup?(): Promise<void> | void;
}

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : new TextDecoder().decode(b));

export function storeContract(name: string, harness: StoreHarness): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;

    beforeEach(async () => {
      store = await harness.create();
      await store.open();
    });

    afterEach(async () => {
      await store.close();
      await harness.cleanup?.();
    });

    it('returns what was written and undefined for a missing key', async () => {
      await store.write([{ type: 'put', sublevel: 'versions', key: 'vm/a', value: bytes('A') }]);
      expect(text(await store.get('versions', 'vm/a'))).toBe('A');
      expect(await store.get('versions', 'vm/missing')).toBeUndefined();
    });

    it('keeps sublevels apart', async () => {
      await store.write([
        { type: 'put', sublevel: 'versions', key: 'k', value: bytes('v') },
        { type: 'put', sublevel: 'audit', key: 'k', value: bytes('a') },
      ]);
      expect(text(await store.get('versions', 'k'))).toBe('v');
      expect(text(await store.get('audit', 'k'))).toBe('a');
      expect(await store.get('history', 'k')).toBeUndefined();
    });

    it('applies puts and deletes of one batch together', async () => {
      await store.write([{ type: 'put', sublevel: 'meta', key: 'x', value: bytes('1') }]);
      await store.write([
        { type: 'del', sublevel: 'meta', key: 'x' },
        { type: 'put', sublevel: 'meta', key: 'y', value: bytes('2') },
      ]);
      expect(await store.get('meta', 'x')).toBeUndefined();
      expect(text(await store.get('meta', 'y'))).toBe('2');
    });

    it('ranges in key order with bounds, reverse and limit', async () => {
      const keys = ['b', 'a', 'd', 'c', 'e'];
      await store.write(keys.map((k) => ({ type: 'put' as const, sublevel: 'audit' as const, key: k, value: bytes(k) })));
      const collect = async (opts: Parameters<Store['range']>[1]): Promise<string[]> => {
        const out: string[] = [];
        for await (const e of store.range('audit', opts)) out.push(`${e.key}=${text(e.value)}`);
        return out;
      };
      expect(await collect({})).toEqual(['a=a', 'b=b', 'c=c', 'd=d', 'e=e']);
      expect(await collect({ gte: 'b', lt: 'e' })).toEqual(['b=b', 'c=c', 'd=d']);
      expect(await collect({ reverse: true, limit: 2 })).toEqual(['e=e', 'd=d']);
      expect(await collect({ gte: 'z' })).toEqual([]);
    });

    it('stores a copy of the value, not the caller buffer', async () => {
      const v = bytes('abc');
      await store.write([{ type: 'put', sublevel: 'versions', key: 'k', value: v }]);
      v[0] = 0x7a;
      expect(text(await store.get('versions', 'k'))).toBe('abc');
    });

    it('lands every one of many concurrent writes', async () => {
      await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          store.write([{ type: 'put', sublevel: 'versions', key: `k${String(i).padStart(3, '0')}`, value: bytes(String(i)) }]),
        ),
      );
      let n = 0;
      for await (const e of store.range('versions')) {
        expect(text(e.value)).toBe(String(Number(e.key.slice(1))));
        n++;
      }
      expect(n).toBe(200);
    });

    it('rejects a malformed write without holding up or failing the writes around it', async () => {
      const good1 = store.write([{ type: 'put', sublevel: 'meta', key: 'a', value: bytes('1') }]);
      const bad = store.write([{ type: 'put', sublevel: 'meta', key: 'c' }]);
      const good2 = store.write([{ type: 'put', sublevel: 'meta', key: 'b', value: bytes('2') }]);
      await expect(bad).rejects.toMatchObject({ code: 'ERR_STORE_WRITE' });
      await good1;
      await good2;
      expect(text(await store.get('meta', 'b'))).toBe('2');
      expect(await store.get('meta', 'c')).toBeUndefined();
    });

    it('keeps its data across close and reopen', async () => {
      await store.write([{ type: 'put', sublevel: 'checkpoints', key: 'c1', value: bytes('state') }]);
      await store.close();
      store = await harness.reopen(store);
      await store.open();
      expect(text(await store.get('checkpoints', 'c1'))).toBe('state');
    });

    it('gives concurrent writes of the same key the effect of their order: the last one wins', async () => {
      await store.write([{ type: 'put', sublevel: 'meta', key: 'gone', value: bytes('old') }]);
      await Promise.all([
        ...Array.from({ length: 50 }, (_, i) => store.write([{ type: 'put', sublevel: 'meta', key: 'head', value: bytes(String(i)) }])),
        store.write([{ type: 'put', sublevel: 'meta', key: 'back', value: bytes('1') }]),
        store.write([{ type: 'del', sublevel: 'meta', key: 'back' }]),
        store.write([{ type: 'put', sublevel: 'meta', key: 'back', value: bytes('2') }]),
        store.write([
          { type: 'put', sublevel: 'meta', key: 'gone', value: bytes('new') },
          { type: 'put', sublevel: 'versions', key: 'gone', value: bytes('other sublevel') },
        ]),
        store.write([{ type: 'del', sublevel: 'meta', key: 'gone' }]),
        ...Array.from({ length: 20 }, (_, i) => store.write([{ type: 'put', sublevel: 'versions', key: 'vm/x', value: bytes(`v${i}`) }])),
      ]);
      expect(text(await store.get('versions', 'vm/x'))).toBe('v19');
      expect(text(await store.get('meta', 'head'))).toBe('49');
      expect(text(await store.get('meta', 'back'))).toBe('2');
      expect(await store.get('meta', 'gone')).toBeUndefined();
      expect(text(await store.get('versions', 'gone'))).toBe('other sublevel');
    });

    it('applies unsynced writes at once and in order with synced ones, and keeps them across close and reopen', async () => {
      const first = store.write([{ type: 'put', sublevel: 'versions', key: 'r', value: bytes('1') }], { sync: false });
      const second = store.write([{ type: 'put', sublevel: 'versions', key: 'r', value: bytes('2') }]);
      const third = store.write(
        [
          { type: 'put', sublevel: 'versions', key: 'r', value: bytes('3') },
          { type: 'put', sublevel: 'audit', key: 'a', value: bytes('x') },
        ],
        { sync: false },
      );
      await Promise.all([first, second, third]);
      expect(text(await store.get('versions', 'r'))).toBe('3');
      await store.write([{ type: 'del', sublevel: 'audit', key: 'a' }], { sync: false });
      expect(await store.get('audit', 'a')).toBeUndefined();
      await store.close();
      store = await harness.reopen(store);
      await store.open();
      expect(text(await store.get('versions', 'r'))).toBe('3');
      expect(await store.get('audit', 'a')).toBeUndefined();
    });

    it('refuses use after close with a typed error', async () => {
      await store.close();
      await expect(async () => store.get('meta', 'x')).rejects.toMatchObject({ code: 'ERR_STORE_CLOSED' });
      store = await harness.reopen(store);
      await store.open();
    });
  });
}
