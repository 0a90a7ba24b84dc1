/**
 * Replays between real libp2p transports (src/adapters/libp2p) and real replicas.
 *
 * 1. Transport level: a rogue peer captures the signed gossip hv-a publishes and re-sends it,
 *    signature and all (gossipsub cannot tell it from a forward), to hv-b once hv-b's gossipsub
 *    seen-cache has expired. The replay guard (src/adapters/libp2p/replay-guard.ts) must refuse and
 *    count it; hv-b's replica never sees it.
 * 2. Replica level: the rogue wraps the old version batch in a fresh envelope of its own (so the
 *    transport has nothing to object to). The replica must classify it as stale, count it, and keep
 *    its state.
 *
 * gossipsub's seen-cache TTL (2 min) is not an option of the transport, so the test expires it by
 * emptying the cache (helpers.ts expireSeenCache), which is what the TTL passing does.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope, generatePsk } from '../../../src/adapters/libp2p/index.js';
import { canonicalJson } from '../../../src/core/codec/canonical.js';
import { versionToJSON } from '../../../src/core/conflict/version.js';
import { decodeGossip } from '../../../src/replica/codec.js';
import { vm } from '../../support/cluster.js';
import { expireSeenCache, sleep, startAgentNode, startRawRogue, waitFor, type AgentNode, type RawMessage, type RawRogue } from './helpers.js';

describe('hardening: replayed gossip', () => {
  let nodes: AgentNode[] = [];
  let rogues: RawRogue[] = [];
  afterEach(async () => {
    await Promise.all([...nodes.map((n) => n.stop()), ...rogues.map((r) => r.stop())]);
    nodes = [];
    rogues = [];
  });

  const stateOf = (n: AgentNode, id: string): string => canonicalJson((n.replica.get(id)?.versions ?? []).map(versionToJSON));

  it('signed gossip captured and re-sent after the seen-cache expired: refused by the replay guard, counted, state unchanged; old versions in a fresh envelope: stale, counted, state unchanged', async () => {
    const psk = generatePsk();
    const a = await startAgentNode('hv-a', psk);
    nodes.push(a);
    const b = await startAgentNode('hv-b', psk, { bootstrap: [a.addr()] });
    nodes.push(b);
    await waitFor('hv-a and hv-b bound', () => a.t.peers().includes('hv-b') && b.t.peers().includes('hv-a'));
    const rogue = await startRawRogue(psk);
    rogues.push(rogue);
    await rogue.dial(a.addr());
    await rogue.dial(b.addr());
    await rogue.ready(a.t.peerId);
    await rogue.ready(b.t.peerId);

    // hv-a writes vm-1 twice; hv-b applies both; the rogue captures both signed messages.
    // (hv-b may forward hv-a's messages to the rogue too: one copy of each, by seqno.)
    const fromA = (): RawMessage[] => {
      const seen = new Set<string>();
      return rogue.captured.filter((m) => {
        const id = Buffer.from(m.seqno ?? []).toString('hex');
        if (decodeEnvelope(m.data ?? new Uint8Array(0), 1 << 20).node !== 'hv-a' || seen.has(id)) return false;
        seen.add(id);
        return true;
      });
    };
    const v1 = await a.replica.putVm(vm('vm-1', { host: 'hv-a', cpu_allocation: 2 }));
    await waitFor('v1 at hv-b and at the rogue', () => b.replica.versionsOf('vm/vm-1')[0]?.id === v1.id && fromA().length >= 1);
    const v2 = await a.replica.putVm(vm('vm-1', { host: 'hv-a', cpu_allocation: 8 }));
    await waitFor('v2 at hv-b and at the rogue', () => b.replica.versionsOf('vm/vm-1')[0]?.id === v2.id && fromA().length >= 2);
    const [m1, m2] = fromA();
    expect(decodeGossip(decodeEnvelope(m1!.data!, 1 << 20).body).versions.map((v) => v.id)).toEqual([v1.id]);
    const before = stateOf(b, 'vm/vm-1');
    const delivered = b.t.stats().gossipDelivered;
    const outcomes = { ...b.outcomes };

    // 1. Re-send both captured messages, as hv-a signed them, once hv-b's seen-cache has expired.
    expect(expireSeenCache(b.pubsub())).toBeGreaterThan(0);
    expect(rogue.send(b.t.peerId, [m1!])).toBe(true);
    expect(rogue.send(b.t.peerId, [m2!])).toBe(true);
    await waitFor('two replay refusals at hv-b', () => (b.refused.replayed ?? 0) >= 2);
    await sleep(300);
    expect(b.refused.replayed).toBe(2);
    expect(b.t.stats().rejected.replayed).toBe(2);
    expect(b.t.stats().gossipDelivered, 'a replay reached the replica').toBe(delivered);
    expect(b.outcomes, 'the replica saw a replayed message').toEqual(outcomes);
    expect(stateOf(b, 'vm/vm-1')).toBe(before);

    // While the seen-cache holds it again, the same bytes are a plain duplicate (dropped before any validator).
    expect(rogue.send(b.t.peerId, [m1!])).toBe(true);
    await sleep(300);
    expect(b.refused.replayed).toBe(2);

    // 2. The old batch (v1) in a fresh, validly signed envelope of the rogue's own: the transport
    //    delivers it; the replica finds v1 older than v2 and ignores it, counted as stale.
    const oldBatch = decodeEnvelope(m1!.data!, 1 << 20).body;
    const staleBefore = b.outcomes.stale ?? 0;
    expect(rogue.send(b.t.peerId, [rogue.sign(encodeEnvelope({ v: 1, node: 'rogue-1', seq: 1, ts: Date.now(), body: oldBatch }))])).toBe(true);
    await waitFor('the old batch classified at hv-b', () => (b.outcomes.stale ?? 0) > staleBefore, 10_000);
    expect(b.outcomes.stale).toBe(staleBefore + 1);
    expect(b.replicaRejected).toEqual([]);
    expect(stateOf(b, 'vm/vm-1')).toBe(before);
    expect(b.replica.versionsOf('vm/vm-1').map((v) => v.id)).toEqual([v2.id]);

    // hv-b keeps serving: a new write from hv-a still arrives.
    const v3 = await a.replica.putVm(vm('vm-1', { host: 'hv-a', cpu_allocation: 4 }));
    await waitFor('v3 at hv-b', () => b.replica.versionsOf('vm/vm-1')[0]?.id === v3.id);
  }, 60_000);
});
