/**
 * Split-brain with real agents and the production policy: during a partition {hv-01} | {hv-02, hv-03}
 * hv-01 starts a VM on hv-01 and hv-02 starts it on hv-02. After the heal the split-brain is detected
 * (critical) and, with `recovery.splitBrainResolution` at its default (quorum), decided once by a
 * quorum (Paxos): every agent converges to one version, running on one host, and the conflict's
 * decision carries the ballot; `dwcp conflicts show` says so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cli,
  createCluster,
  dumpLogsOnFailure,
  heal,
  metricValue,
  partition,
  vmState,
  waitFor,
  waitPeerState,
  type AgentProc,
  type Cluster,
  type ConflictView,
  type VmView,
} from './support.js';

let cluster: Cluster | undefined;
const c = (): Cluster => cluster!;
const ID = 'vm-sb';

dumpLogsOnFailure(() => cluster);

beforeAll(async () => {
  cluster = await createCluster('split-brain', { nodes: 3, policy: 'production' });
  await cluster.start();
});

afterAll(async () => {
  await cluster?.destroy();
});

describe('a VM started on two hosts during a partition', () => {
  let records: Array<{ at: AgentProc; conflict: ConflictView }> = [];
  let final: VmView;

  it('is detected after the heal and decided by a quorum: all agents converge to one running host', async () => {
    const [hv01, hv02, hv03] = [c().agent('hv-01'), c().agent('hv-02'), c().agent('hv-03')];
    const base = await hv01.send<{ version: { id: string } }>('PUT', `/v1/vms/${ID}`, vmState(ID, { host: 'hv-01', power_state: 'stopped' }));
    expect(base.status, base.text).toBe(200);
    for (const a of c().agents) await waitFor(`${ID} on ${a.nodeId}`, async () => (await a.vm(ID))?.version.id === base.body.version.id, 15_000);

    await partition(c(), ['hv-01'], ['hv-02', 'hv-03']);
    // Each side notices (heartbeats): hv-01 loses its quorum, the majority side keeps it.
    await Promise.all([waitPeerState(hv01, ['hv-02', 'hv-03'], 'down'), waitPeerState(hv02, ['hv-01'], 'down')]);
    expect((await hv01.status()).quorum.ok).toBe(false);
    expect((await hv02.status()).quorum.ok).toBe(true);

    const readA = await hv01.get<VmView>(`/v1/vms/${ID}`);
    const a = await hv01.send('PUT', `/v1/vms/${ID}`, { ...readA.body.state, host: 'hv-01', power_state: 'running' }, { headers: { 'X-DWCP-Context': readA.headers.get('x-dwcp-context')! } });
    expect(a.status, a.text).toBe(200);
    const readB = await hv02.get<VmView>(`/v1/vms/${ID}`);
    const b = await hv02.send('PUT', `/v1/vms/${ID}`, { ...readB.body.state, host: 'hv-02', power_state: 'running' }, { headers: { 'X-DWCP-Context': readB.headers.get('x-dwcp-context')! } });
    expect(b.status, b.text).toBe(200);
    await waitFor(`hv-02's start on hv-03`, async () => (await hv03.vm(ID))?.state?.host === 'hv-02', 15_000);
    expect((await hv01.vm(ID))?.state).toMatchObject({ host: 'hv-01', power_state: 'running' });

    await heal(c());

    const views = await waitFor(
      'every agent to converge to one decided version',
      async () => {
        const vs = await Promise.all(c().agents.map((x) => x.vm(ID)));
        const ok = vs.every((v) => v && v.siblings.length === 0 && v.conflictId === null && v.version.id === vs[0]!.version.id);
        if (!ok) throw new Error(JSON.stringify(vs.map((v) => ({ version: v?.version.id, siblings: v?.siblings.length, conflictId: v?.conflictId, state: v?.state }))));
        return vs as VmView[];
      },
      60_000,
      500,
    );
    final = views[0]!;
    for (const v of views) expect(v.state).toEqual(final.state);
    // Running on exactly one host: the running host with the highest priority keeps it (hv-01 has
    // priority 100, hv-02 99 in these configs); hv-02's copy is gone.
    expect(final.state?.power_state).toBe('running');
    expect(final.state?.host).toBe('hv-01');
    // The decided version dominates both starts.
    expect(final.version.clock['hv-01']).toBeGreaterThanOrEqual(2);
    expect(final.version.clock['hv-02']).toBeGreaterThanOrEqual(1);
  });

  it('records the split-brain conflict, resolved by a quorum decision with its ballot', async () => {
    records = await waitFor(
      'the conflict to be resolved on every agent that recorded it',
      async () => {
        const all = (await Promise.all(c().agents.map(async (at) => (await at.conflicts('all')).filter((x) => x.resourceId === `vm/${ID}`).map((conflict) => ({ at, conflict }))))).flat();
        if (all.length === 0) throw new Error('no agent recorded a conflict');
        const open = all.filter((r) => r.conflict.status !== 'resolved' || r.conflict.decision.ballot === undefined);
        if (open.length > 0) {
          const show = open.map((r) => ({ node: r.at.nodeId, status: r.conflict.status, ballot: r.conflict.decision.ballot, outcome: r.conflict.decision.outcome, result: r.conflict.decision.result, notes: r.conflict.decision.notes }));
          throw new Error(`not resolved with a ballot yet: ${JSON.stringify(show)}`);
        }
        return all;
      },
      30_000,
      500,
    );
    expect(new Set(records.map((r) => r.conflict.id)).size, JSON.stringify(records.map((r) => r.conflict))).toBe(1);
    expect(new Set(records.map((r) => r.conflict.decision.ballot)).size).toBe(1);
    for (const { at, conflict } of records) {
      expect(conflict.severity, at.nodeId).toBe('critical');
      expect(conflict.decision.policy, at.nodeId).toBe('production');
      // The production policy sends critical conflicts to an operator; the quorum decides instead.
      expect(conflict.decision.path.some((s) => s.step === 'severity_critical' && s.matched), at.nodeId).toBe(true);
      expect(conflict.decision.notes.join('\n'), at.nodeId).toMatch(/decided by quorum \(split-brain\): \S+ won, ballot \S+/);
      expect((conflict.decision.result as Array<{ versionId: string }>).map((v) => v.versionId), at.nodeId).toEqual([final.version.id]);
    }
  });

  it('`dwcp conflicts show` explains the split-brain and the quorum decision', async () => {
    const { at, conflict } = records[0]!;
    const r = await cli(at.api, 'conflicts', 'show', conflict.id);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`on vm/${ID}:`);
    expect(r.stdout).toContain('severity critical');
    expect(r.stdout).toMatch(/split-brain: the VM is running on 2 hosts at once \(hv-01, hv-02\)/);
    expect(r.stdout).toMatch(/policy production: /);
    expect(r.stdout).toContain(`ballot ${conflict.decision.ballot!}`);
    expect(r.stdout).toMatch(/note: decided by quorum \(split-brain\)/);
    expect(r.stdout).toMatch(/status: resolved/);
  });

  it('/metrics counts the split-brain', async () => {
    let total = 0;
    for (const a of c().agents) {
      const m = await a.metrics();
      const n = metricValue(m, 'dwcp_split_brain_detections_total') ?? 0;
      if (records.some((r) => r.at === a)) expect(n, `${a.nodeId}\n${m}`).toBeGreaterThanOrEqual(1);
      expect(metricValue(m, 'dwcp_pending_conflicts_count'), a.nodeId).toBe(0);
      total += n;
    }
    expect(total).toBeGreaterThanOrEqual(1);
  });

  it('every agent stops cleanly on SIGTERM', async () => {
    expect(await c().stop()).toEqual({ 'hv-01': 0, 'hv-02': 0, 'hv-03': 0 });
  });
});
