import { describe, expect, it } from 'vitest';
import { CrdtService } from '../../../src/replica/crdt-service.js';
import { createCluster } from '../../support/cluster.js';

describe('named CRDTs as replicated resources', () => {
  it('merges concurrent counter and OR-Set updates without conflicts, identically everywhere', async () => {
    const c = await createCluster({ nodes: 3 });
    const s = c.nodes.map((n) => new CrdtService(n.replica));
    await s[0]!.apply('views', { type: 'pn_counter', op: 'increment', by: 5 });
    await s[0]!.apply('cart', { type: 'or_set', op: 'add', element: 'apple' });
    await c.settle();
    await Promise.all([
      s[0]!.apply('views', { type: 'pn_counter', op: 'increment', by: 3 }),
      s[1]!.apply('views', { type: 'pn_counter', op: 'decrement', by: 1 }),
      s[2]!.apply('views', { type: 'pn_counter', op: 'increment' }),
      s[1]!.apply('cart', { type: 'or_set', op: 'remove', element: 'apple' }),
      s[2]!.apply('cart', { type: 'or_set', op: 'add', element: 'apple' }), // concurrent re-add wins
      s[0]!.apply('cart', { type: 'or_set', op: 'add', element: 'pear' }),
    ]);
    await c.settle();
    for (const svc of s) {
      expect(svc.read('views')).toEqual({ name: 'views', type: 'pn_counter', value: 8 });
      expect(svc.read('cart')).toEqual({ name: 'cart', type: 'or_set', value: ['apple', 'pear'] });
    }
    for (const n of c.nodes) {
      expect(n.replica.conflictList()).toEqual([]);
      expect(n.replica.get('crdt/views')!.versions).toHaveLength(1);
    }
    const ids = c.nodes.map((n) => n.replica.get('crdt/cart')!.versions[0]!.id);
    expect(new Set(ids).size).toBe(1);
  });

  it('supports every type and keeps the type fixed at first write', async () => {
    const c = await createCluster({ nodes: 2 });
    const s = new CrdtService(c.node('n1').replica);
    await s.apply('g', { type: 'g_counter', op: 'increment', by: '9007199254740993' });
    expect(s.read('g').value).toBe('9007199254740993');
    await s.apply('tags', { type: 'g_set', op: 'add', element: 'prod' });
    await s.apply('cfg', { type: 'lww_register', op: 'set', value: { replicas: 3 } });
    await s.apply('mv', { type: 'mv_register', op: 'set', value: 'x' });
    expect(s.read('tags').value).toEqual(['prod']);
    expect(s.read('cfg').value).toEqual({ replicas: 3 });
    expect(s.read('mv').value).toEqual(['x']);
    await expect(s.apply('g', { type: 'or_set', op: 'add', element: 'x' })).rejects.toMatchObject({ code: 'ERR_CRDT_TYPE' });
    await expect(s.apply('g', { type: 'g_counter', op: 'decrement' })).rejects.toMatchObject({ code: 'ERR_INVALID_CRDT_STATE' });
    await expect(s.apply('x', { type: 'nope', op: 'add' })).rejects.toMatchObject({ code: 'ERR_INVALID_CRDT_STATE' });
    expect(() => s.read('missing')).toThrow(expect.objectContaining({ code: 'ERR_NOT_FOUND' }) as Error);
  });
});
