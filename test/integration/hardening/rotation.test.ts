/**
 * A rogue holding the cluster key rotates peer ids: a fresh Ed25519 identity per connection, each
 * flooding invalid gossip (rotation-rogue.ts, a process of its own), against three real libp2p
 * agents (transport + replica, helpers.ts) with the default guard settings.
 *
 * Without a shared newcomer budget every identity would get its own `banAfterInvalid` (64) invalid
 * messages decoded before its ban, N × 64 in all. Expected here: every identity is banned, and the
 * invalid messages that reach decoding at a victim stay within the newcomers' shared budget
 * (`newcomerInvalidLimit` per `banStrikeWindowMs`, the time of the attack included) plus a couple
 * per identity; honest updates keep propagating (p99 < 2 s); the victims' heap stays bounded; every
 * ban is counted (`peersBanned`) and audited (`peer-banned`), the refusals too (`transport-rejected`).
 *
 * DWCP_ROTATION_IDENTITIES (default 20) and DWCP_ROTATION_PER_IDENTITY (invalid messages each
 * identity tries to send to each victim, default 600).
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { generatePsk, transportDefaults } from '../../../src/adapters/libp2p/index.js';
import type { FromRotationRogue, ToRotationRogue } from './rotation-rogue.js';
import { auditEntriesOf, collectGarbage, HelperProcess, percentile, sleep, startTrio, trackHonestWrites, waitFor, type AgentNode } from './helpers.js';

const IDENTITIES = Number(process.env.DWCP_ROTATION_IDENTITIES ?? 20);
const PER_IDENTITY = Number(process.env.DWCP_ROTATION_PER_IDENTITY ?? 600);
const MAX_MESSAGE_BYTES = 4_096;
const P99_BOUND_MS = 2_000;
const HEAP_BOUND_MB = 64;
/** Refusal reasons of messages that were decoded (not dropped unread by the guard). */
const DECODED_REASONS = ['undecodable', 'oversized', 'wrong-binding', 'unsigned'] as const;

describe('hardening: a rogue rotating peer ids', () => {
  let nodes: AgentNode[] = [];
  let rogue: HelperProcess<ToRotationRogue, FromRotationRogue> | undefined;
  afterEach(async () => {
    rogue?.stop();
    rogue = undefined;
    await Promise.all(nodes.map((n) => n.stop()));
    nodes = [];
  });

  it(`${IDENTITIES} fresh peer ids flooding invalid gossip share one newcomer budget: all banned, decoding bounded, honest p99 < ${P99_BOUND_MS} ms, heap bounded, audited`, async ({ annotate }) => {
    const psk = generatePsk();
    await startTrio(psk, { maxMessageBytes: MAX_MESSAGE_BYTES }, nodes);
    const { writes, write, arrived, latency } = trackHonestWrites(nodes);
    // Warm-up: every honest node writes, so the honest peers have proven themselves to one another.
    for (let i = 0; i < nodes.length; i++) await write();
    await waitFor('the warm-up writes everywhere', () => writes.every(arrived), 15_000);
    await sleep(transportDefaults.newcomerMs + 500);
    await write();
    await waitFor('a write after the probation everywhere', () => writes.every(arrived), 15_000);
    for (const a of nodes) for (const b of nodes) if (a !== b) expect(isNewcomer(a, b.t.peerId), `${a.nodeId} still sees ${b.nodeId} as a newcomer`).toBe(false);

    collectGarbage();
    const heapBefore = process.memoryUsage().heapUsed;
    const start = performance.now();
    rogue = new HelperProcess<ToRotationRogue, FromRotationRogue>(fileURLToPath(new URL('./rotation-rogue.ts', import.meta.url)));
    const attack = rogue.ask(
      {
        type: 'rotate',
        psk: Buffer.from(psk).toString('base64'),
        victims: nodes.map((n) => ({ addr: n.addr(), peerId: n.t.peerId })),
        identities: IDENTITIES,
        perIdentity: PER_IDENTITY,
        maxMessageBytes: MAX_MESSAGE_BYTES,
        boundNode: 'hv-1',
      },
      IDENTITIES * 20_000 + 30_000,
    );
    let attacking = true;
    void attack.finally(() => (attacking = false)).catch(() => undefined);
    const honestStart = writes.length;
    while (attacking) {
      await write();
      await sleep(100);
    }
    const done = await attack;
    if (done.type !== 'done') throw new Error(`unexpected ${done.type}`);
    const attackMs = performance.now() - start;
    const honest = writes.slice(honestStart);
    await waitFor('every honest write everywhere', () => honest.every(arrived), 10_000).catch(() => undefined);
    const latencies = honest.map(latency);

    const roguePeers = done.identities.map((i) => i.peerId);
    // Every refusal is counted before the victim's next event-loop turns; wait for the bans to be noted.
    await waitFor('every identity banned at every victim', () => nodes.every((n) => roguePeers.every((p) => n.bans.some((b) => b.peer === p))), 10_000).catch(() => undefined);
    // What the audit must account for: the refusals counted when the pending summaries are flushed.
    const refusedAtFlush: number[] = [];
    for (const n of nodes) {
      refusedAtFlush.push(Object.values(n.refused).reduce((a, b) => a + b, 0));
      await n.rejections.flush();
    }
    const decoded = nodes.map((n) => DECODED_REASONS.reduce((a, r) => a + (n.refused[r] ?? 0), 0));
    const deliveredTo = nodes.map((n) => done.identities.reduce((a, i) => a + (i.delivered[n.t.peerId] ?? 0), 0));
    const contained = done.identities.flatMap((i) => Object.values(i.containedMs));
    const audits = await Promise.all(nodes.map((n) => auditEntriesOf(n.store)));
    rogue.stop();
    await sleep(300);
    collectGarbage();
    const heapGrowthMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
    const guardSizes = nodes.map((n) => guardOf(n).size);

    // The newcomers' budget over the attack: newcomerInvalidLimit per window, plus a couple per identity.
    const window = transportDefaults.banStrikeWindowMs;
    const bound = Math.ceil(transportDefaults.newcomerInvalidLimit * (1 + attackMs / window)) + 2 * IDENTITIES;
    const p99 = percentile(latencies, 99);
    const figures = {
      identities: IDENTITIES,
      perIdentityTried: PER_IDENTITY,
      attackMs: Math.round(attackMs),
      deliveredPerVictim: Object.fromEntries(nodes.map((n, i) => [n.nodeId, deliveredTo[i]])),
      decodedInvalidPerVictim: Object.fromEntries(nodes.map((n, i) => [n.nodeId, decoded[i]])),
      decodedBound: bound,
      withoutSharedBudgetAtLeast: IDENTITIES * transportDefaults.banAfterInvalid,
      refusedByReason: Object.fromEntries(nodes.map((n) => [n.nodeId, n.refused])),
      bansByReason: Object.fromEntries(nodes.map((n) => [n.nodeId, n.t.stats().peersBanned])),
      containedMsP50: Math.round(percentile(contained, 50)),
      containedMsMax: Math.round(Math.max(...contained)),
      unreachable: done.identities.reduce((a, i) => a + i.unreachable.length, 0),
      honestWrites: honest.length,
      honestP50Ms: Math.round(percentile(latencies, 50)),
      honestP99Ms: Math.round(p99),
      heapGrowthMb: +heapGrowthMb.toFixed(1),
      guardSizes,
      loadAverage: (await import('node:os')).loadavg().map((x) => +x.toFixed(1)),
    };
    await annotate(`rotation figures: ${JSON.stringify(figures)}`, 'notice');
    process.stdout.write(`rotation figures: ${JSON.stringify(figures, null, 1)}\n`);

    expect(honest.length, 'honest writes during the attack').toBeGreaterThan(0);
    expect(p99, `honest p99 (figures: ${JSON.stringify(figures)})`).toBeLessThan(P99_BOUND_MS);
    expect(heapGrowthMb, 'heap growth (MB) after GC').toBeLessThan(HEAP_BOUND_MB);
    for (const [i, n] of nodes.entries()) {
      const reached = done.identities.filter((id) => (id.delivered[n.t.peerId] ?? 0) > 0).map((id) => id.peerId);
      expect(reached.length, `${n.nodeId}: identities that got messages through`).toBeGreaterThanOrEqual(IDENTITIES - 1);
      expect(decoded[i], `${n.nodeId}: invalid messages decoded (figures: ${JSON.stringify(figures)})`).toBeLessThanOrEqual(bound);
      expect(decoded[i], `${n.nodeId}: some were decoded and refused`).toBeGreaterThan(0);
      // Every identity that reached the victim was banned, and only rogue identities.
      const banned = new Set(n.bans.map((b) => b.peer));
      for (const p of reached) expect(banned.has(p), `${n.nodeId}: ${p} banned`).toBe(true);
      expect([...banned].every((p) => roguePeers.includes(p)), `${n.nodeId}: only rogue identities banned`).toBe(true);
      const stats = n.t.stats();
      expect(Object.values(stats.peersBanned).reduce((a, b) => a + b, 0), `${n.nodeId}: bans counted`).toBe(n.bans.length);
      expect(stats.peersBanned['newcomer-invalid'], `${n.nodeId}: most bans are newcomer bans (rotation recognised)`).toBeGreaterThanOrEqual(reached.length / 2);
      // Audited: a peer-banned entry per ban, and the refusals summarised per (peer, reason).
      const auditedBans = audits[i]!.filter((e) => e.kind === 'peer-banned').map((e) => (e.data as { peer: string }).peer);
      expect(new Set(auditedBans), `${n.nodeId}: bans audited`).toEqual(banned);
      const summarised = audits[i]!.filter((e) => e.kind === 'transport-rejected').reduce((a, e) => a + (e.data as { count: number }).count, 0);
      expect(summarised, `${n.nodeId}: refusals audited`).toBe(refusedAtFlush[i]);
      expect(n.replicaRejected, `${n.nodeId}: honest gossip refused`).toEqual([]);
      // Honest peers were never banned nor demoted to newcomers.
      for (const m of nodes) if (m !== n) expect(isNewcomer(n, m.t.peerId), `${n.nodeId} sees ${m.nodeId} as a newcomer`).toBe(false);
      expect(guardSizes[i]!.peers, `${n.nodeId}: peer states kept`).toBeLessThanOrEqual(IDENTITIES + nodes.length);
    }
  }, 180_000);
});

interface GuardView {
  isNewcomer(peer: string, now: number): boolean;
  readonly size: { peers: number; bans: number; proven: number };
}

/** The transport's PeerGuard (private: tests only). */
function guardOf(n: AgentNode): GuardView {
  return (n.t as unknown as { peerGuard: GuardView }).peerGuard;
}

function isNewcomer(n: AgentNode, peer: string): boolean {
  return guardOf(n).isNewcomer(peer, Date.now());
}
