/**
 * Refused gossip must not use up what the replica needs to keep serving. Node ids are interned for
 * the life of the process, up to MAX_INTERNED_NODE_IDS (src/core/clock/node-ids.ts); a version's
 * clock is interned while it is decoded, before its digest is checked. This file has the process's
 * intern table to itself (vitest isolates test files), because the attack fills it.
 * (An example test: the attack is one precise sequence, not a random one.)
 */
import { describe, expect, it } from 'vitest';
import { formatHlc } from '../../../src/core/clock/hlc.js';
import { MAX_INTERNED_NODE_IDS } from '../../../src/core/clock/node-ids.js';
import { sha256Hex } from '../../../src/core/codec/canonical.js';
import { contentDigest } from '../../../src/core/conflict/version.js';
import { MAX_CLOCK_ENTRIES } from '../../../src/core/clock/vector-clock.js';
import { GOSSIP_FORMAT } from '../../../src/replica/codec.js';
import { createCluster, vm } from '../../support/cluster.js';
import { enc } from './support.js';

describe('fuzz: node-id capacity under refused gossip', () => {
  it('gossip refused for a bad digest does not use up node-id capacity: new nodes and local writes still work', async () => {
    const c = await createCluster({ nodes: ['n1', 'n2'] });
    const n1 = c.node('n1');
    const rogue = c.net.join('rogue');
    c.net.block('rogue', 'n2');
    const rejected: string[] = [];
    n1.replica.on('rejected', (e) => rejected.push(e.reason));
    // Each refused message names 4,096 node ids nobody has; 17 of them name more than the table holds.
    const messages = Math.ceil(MAX_INTERNED_NODE_IDS / MAX_CLOCK_ENTRIES) + 1;
    let k = 0;
    for (let m = 0; m < messages; m++) {
      const clock: Record<string, number> = {};
      for (let i = 0; i < MAX_CLOCK_ENTRIES; i++) clock[`ghost-${k++}`] = 1;
      const forged = { id: 'x', resourceId: 'vm/ghost', clock, hlc: { wall: 1, logical: 0 }, origin: 'ghost-0', data: null, digest: 'not-the-digest' };
      rogue.publish(enc.encode(JSON.stringify({ v: GOSSIP_FORMAT, from: 'rogue', versions: [forged] })));
      await c.settle(50);
    }
    expect(rejected).toHaveLength(messages);

    // A node that joins later gossips its first version: it must be applied. (Built by hand: building
    // it with createVersion would intern its node id in this process before the replica sees it.)
    const hlc = { wall: c.clock.now(), logical: 0 };
    const data = vm('vm-after', { host: 'hv-new' });
    const digest = contentDigest(data, false);
    const id = sha256Hex(`vm/vm-after\nhv-new:1\n${formatHlc(hlc)}\nhv-new\n${digest}`).slice(0, 24);
    const honest = { id, resourceId: 'vm/vm-after', clock: { 'hv-new': 1 }, hlc, origin: 'hv-new', data, digest };
    rogue.publish(enc.encode(JSON.stringify({ v: GOSSIP_FORMAT, from: 'hv-new', versions: [honest] })));
    await c.settle(50);
    expect(rejected.slice(messages), 'refusals of the honest version').toEqual([]);
    expect(n1.replica.versionsOf('vm/vm-after').map((v) => v.id)).toEqual([id]);

    // The replica's own first write after the attack (its node id was never interned before).
    await expect(n1.replica.putVm(vm('vm-local', { host: 'n1' }))).resolves.toBeDefined();
  }, 60_000);
});
