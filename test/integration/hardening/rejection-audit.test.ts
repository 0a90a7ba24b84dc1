/**
 * Transport refusals are audited, and a flood cannot fill the disk with audit entries.
 *
 * 1. A real libp2p transport and replica over a real LevelDB directory (wired as the agent wires
 *    them: helpers.ts startAgentNode) receive invalid gossip from a rogue peer (undecodable, wrongly
 *    bound, oversized, forged): the audit log then holds one `transport-rejected` entry per
 *    (peer, reason) with counts adding up to what the transport refused, a `peer-banned` entry for
 *    the rogue, and the chain verifies after a reopen.
 * 2. The aggregation bound, on LevelDB: 200,000 refusals from 5,000 peer ids in one interval write at
 *    most `maxKeys` + one entry per reason, and no refusal goes uncounted.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LevelStore } from '../../../src/adapters/level/level-store.js';
import { encodeEnvelope, generatePsk, OTHER_PEERS, REJECT_REASONS, RejectionAuditor, type RejectReason } from '../../../src/adapters/libp2p/index.js';
import { ManualClock } from '../../../src/adapters/memory/manual-clock.js';
import { AuditLog, type AuditEntry } from '../../../src/replica/audit-log.js';
import { sleep, startAgentNode, startRawRogue, waitFor, type AgentNode, type RawRogue } from './helpers.js';

async function auditOf(dir: string): Promise<{ entries: AuditEntry[]; ok: boolean }> {
  const store = new LevelStore({ dir });
  await store.open();
  try {
    const log = new AuditLog(store);
    await log.load();
    const entries: AuditEntry[] = [];
    for await (const e of log.entries()) entries.push(e);
    return { entries, ok: (await log.verify()).ok };
  } finally {
    await store.close();
  }
}

describe('hardening: transport refusals in the audit log', () => {
  const dirs: string[] = [];
  let nodes: AgentNode[] = [];
  let rogue: RawRogue | undefined;
  afterEach(async () => {
    await rogue?.stop();
    rogue = undefined;
    await Promise.all(nodes.map((n) => n.stop()));
    nodes = [];
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('refused gossip from a rogue: one entry per (peer, reason) with the counts the transport refused, the ban audited, the chain intact', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dwcp-rejection-audit-'));
    dirs.push(dir);
    const psk = generatePsk();
    const maxMessageBytes = 4_096;
    const victim = await startAgentNode('hv-1', psk, { maxMessageBytes }, { store: new LevelStore({ dir }), auditIntervalMs: 60_000 });
    nodes.push(victim);
    rogue = await startRawRogue(psk);
    await rogue.dial(victim.addr());
    await rogue.ready(victim.t.peerId);

    // 400 invalid messages, 100 of each kind, in RPCs of 50: the rogue is banned after 64 strikes.
    const kinds = ['undecodable', 'wrong-binding', 'oversized', 'forged'] as const;
    const r = rogue;
    const messages = Array.from({ length: 400 }, (_, i) => {
      const kind = kinds[i % kinds.length]!;
      const env = (node: string, bytes: number): Uint8Array => encodeEnvelope({ v: 1, node, seq: i + 1, ts: Date.now(), body: randomBytes(bytes) }, { compressAbove: Infinity });
      if (kind === 'undecodable') return r.sign(randomBytes(64));
      if (kind === 'wrong-binding') return r.sign(env('hv-1', 64));
      if (kind === 'oversized') return r.sign(env('rogue-1', maxMessageBytes + 1_024));
      return r.forge(env('rogue-1', 64));
    });
    for (let i = 0; i < messages.length; i += 50) {
      if (r.trySend(victim.t.peerId, messages.slice(i, i + 50)) === 'gone') break;
      await sleep(5);
    }
    await waitFor('the rogue banned', () => victim.bans.length > 0, 10_000);
    await sleep(300); // what was in flight is refused too
    const stats = victim.t.stats();
    const refusedTotal = Object.values(stats.rejected).reduce((a, b) => a + b, 0);
    expect(refusedTotal, 'refusals counted by the transport').toBeGreaterThanOrEqual(64);

    // Stopping flushes the pending summaries (the interval is 60 s: nothing was written before).
    await victim.stop();
    nodes = [];
    const { entries, ok } = await auditOf(dir);
    expect(ok, 'audit chain verifies').toBe(true);
    const summaries = entries.filter((e) => e.kind === 'transport-rejected').map((e) => e.data as { peer: string; reason: RejectReason; count: number; firstAt: number; lastAt: number });
    const bans = entries.filter((e) => e.kind === 'peer-banned').map((e) => e.data as { peer: string; reason: string; until: number });
    expect(bans, 'the ban audited').toEqual([expect.objectContaining({ peer: r.peerId, reason: expect.stringMatching(/^(invalid-messages|score)$/) as string })]);
    // One entry per (peer, reason), counts equal to the transport's own counters.
    const keys = summaries.map((s) => `${s.peer}|${s.reason}`);
    expect(new Set(keys).size, 'one entry per (peer, reason)').toBe(keys.length);
    for (const reason of REJECT_REASONS) {
      const audited = summaries.filter((s) => s.reason === reason).reduce((a, s) => a + s.count, 0);
      expect(audited, `audited ${reason} refusals`).toBe(stats.rejected[reason]);
    }
    expect(summaries.length, 'a handful of entries for hundreds of refusals').toBeLessThanOrEqual(REJECT_REASONS.length * 2);
    for (const s of summaries) {
      expect(s.count).toBeGreaterThan(0);
      expect(s.lastAt).toBeGreaterThanOrEqual(s.firstAt);
      // Refusals seen by the validator name the rogue; gossipsub's signature check names nobody.
      expect([r.peerId, 'unknown']).toContain(s.peer);
    }
  });

  it('200,000 refusals from 5,000 peer ids in one interval: at most maxKeys + one entry per reason, every refusal counted (LevelDB)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dwcp-rejection-audit-'));
    dirs.push(dir);
    const store = new LevelStore({ dir });
    await store.open();
    const log = new AuditLog(store);
    await log.load();
    const clock = new ManualClock();
    const maxKeys = 64;
    const auditor = new RejectionAuditor({ intervalMs: 10_000, maxKeys }, { clock, write: (kind, data) => store.write(log.append(kind, clock.now(), data).ops) });
    const reasons: RejectReason[] = ['undecodable', 'oversized', 'unsigned', 'wrong-binding'];
    for (let i = 0; i < 200_000; i++) auditor.note(reasons[i % reasons.length]!, `peer-${i % 5_000}`);
    // The interval ends: the timer writes the summaries.
    clock.advance(10_000);
    await auditor.stop();
    await store.close();
    const { entries, ok } = await auditOf(dir);
    expect(ok).toBe(true);
    expect(entries.length, 'entries written').toBeLessThanOrEqual(maxKeys + reasons.length);
    const data = entries.map((e) => e.data as { peer: string; reason: string; count: number });
    expect(data.reduce((a, d) => a + d.count, 0), 'refusals counted').toBe(200_000);
    expect(data.filter((d) => d.peer === OTHER_PEERS).length, 'overflow entries, one per reason').toBe(reasons.length);
  });
});
