/**
 * Three real agents (`dwcp agent --config FILE`), joined through bootstrap peers: replication of
 * writes made with the CLI and over HTTP, a partition with conflicting writes on both sides that heals
 * into the spec's VM field-rule merge (semantic_merge), the decision record (`dwcp conflicts show`),
 * the metrics, a clean SIGTERM, and a restart over the same data directories that loses nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cli,
  createCluster,
  dumpLogsOnFailure,
  heal,
  metricValue,
  nicOf,
  partition,
  vmState,
  waitFor,
  type AgentProc,
  type Cluster,
  type ConflictView,
  type VmView,
} from './support.js';

/** The spec's vm_config field rules as the default strategy; nothing is complex enough for an operator. */
const MERGE_POLICY = `# e2e: the VM field rules decide every concurrent update
name: e2e-semantic-merge
defaultStrategy: semantic_merge
maxRetries: 2
manualThreshold: 1
timeout: 30s
fallback: last_write_wins
`;

let cluster: Cluster | undefined;
const c = (): Cluster => cluster!;

dumpLogsOnFailure(() => cluster);

beforeAll(async () => {
  cluster = await createCluster('cluster', { nodes: 3, policyFile: MERGE_POLICY });
  await cluster.start();
});

afterAll(async () => {
  await cluster?.destroy();
});

describe('a three-agent cluster started from config files', () => {
  it('joins through the bootstrap peers: every agent sees the others up and has quorum', async () => {
    const r = await cli(c().agent('hv-02').api, 'status');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('node hv-02');
    expect(r.stdout).toMatch(/quorum ok: 3 voters reachable, 2 needed; policy e2e-semantic-merge/);
    expect(r.stdout).toMatch(/hv-01=up/);
    expect(r.stdout).toMatch(/hv-03=up/);
    const json = await cli(c().agent('hv-03').api, 'status', '--json');
    expect(json.code, json.stderr).toBe(0);
    const s = JSON.parse(json.stdout) as { nodeId: string; peers: Array<{ nodeId: string; peerId: string | null; state: string }> };
    expect(s.nodeId).toBe('hv-03');
    expect(s.peers.filter((p) => p.state === 'up').map((p) => p.nodeId).sort()).toEqual(['hv-01', 'hv-02']);
    // The membership binds each node id to exactly the peer id `dwcp init` created for it.
    const hv01 = await c().agent('hv-01').status();
    expect(s.peers.find((p) => p.nodeId === 'hv-01')?.peerId).toBe(hv01.peerId);
  });

  it('replicates a VM written with `dwcp vm put` to every agent', async () => {
    const hv01 = c().agent('hv-01');
    const put = await cli(hv01.api, 'vm', 'put', 'vm-cli', '--set', 'host=hv-01', '--set', 'power_state=running', '--set', 'cpu_allocation=2', '--set', 'memory_mb=2048');
    expect(put.code, put.stderr).toBe(0);
    expect(put.stdout).toMatch(/^vm-cli: version [0-9a-f]+ clock hv-01:\d+/);
    for (const other of ['hv-02', 'hv-03']) {
      const v = await waitFor(`vm-cli on ${other}`, () => c().agent(other).vm('vm-cli'), 15_000);
      expect(v.state).toMatchObject({ id: 'vm-cli', host: 'hv-01', power_state: 'running', cpu_allocation: 2, memory_mb: 2048 });
      expect(v.version.origin).toBe('hv-01');
    }
    const got = await cli(c().agent('hv-03').api, 'vm', 'get', 'vm-cli', '--json');
    expect(got.code, got.stderr).toBe(0);
    expect((JSON.parse(got.stdout) as VmView).state).toMatchObject({ cpu_allocation: 2, memory_mb: 2048 });
    const list = await cli(c().agent('hv-02').api, 'vm', 'list');
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/vm-cli\s+running\s+hv-01\s+2 vCPU 2048 MiB/);
  });

  it('replicates a VM written with PUT /v1/vms/{id} to every agent', async () => {
    const hv02 = c().agent('hv-02');
    const r = await hv02.send<{ id: string; version: { id: string; origin: string } }>('PUT', '/v1/vms/vm-http', vmState('vm-http', { host: 'hv-02' }));
    expect(r.status, r.text).toBe(200);
    expect(r.body.version.origin).toBe('hv-02');
    for (const other of ['hv-01', 'hv-03']) {
      const v = await waitFor(`vm-http on ${other}`, () => c().agent(other).vm('vm-http'), 15_000);
      expect(v.state).toEqual(vmState('vm-http', { host: 'hv-02' }));
      expect(v.version.id).toBe(r.body.version.id);
    }
  });
});

describe('a partition with conflicting writes on both sides', () => {
  const ID = 'vm-merge';
  let conflict: ConflictView;
  let merged: VmView;
  /** An agent that recorded the conflict. */
  let holder: AgentProc;

  it('heals into the VM field-rule merge, identical on every agent', async () => {
    const [hv01, hv02, hv03] = [c().agent('hv-01'), c().agent('hv-02'), c().agent('hv-03')];
    const base = vmState(ID, { host: 'hv-01', cpu_allocation: 4, memory_mb: 8192 });
    const w = await hv01.send<{ version: { id: string } }>('PUT', `/v1/vms/${ID}`, base);
    expect(w.status, w.text).toBe(200);
    for (const a of c().agents) await waitFor(`${ID} base on ${a.nodeId}`, async () => (await a.vm(ID))?.version.id === w.body.version.id, 15_000);

    await partition(c(), ['hv-01'], ['hv-02', 'hv-03']);

    // Side A (hv-01 alone): more memory and a second NIC. Read-modify-write with the read context.
    const readA = await hv01.get<VmView>(`/v1/vms/${ID}`);
    const ctxA = readA.headers.get('x-dwcp-context')!;
    const stateA = structuredClone(readA.body.state!) as ReturnType<typeof vmState> & { network_config: { interfaces: unknown[] } };
    stateA.memory_mb = 16384;
    stateA.network_config.interfaces.push(nicOf(ID, 'eth1'));
    const putA = await hv01.send('PUT', `/v1/vms/${ID}`, stateA, { headers: { 'X-DWCP-Context': ctxA } });
    expect(putA.status, putA.text).toBe(200);

    // Side B (hv-02, hv-03): more CPUs and a bigger disk.
    const readB = await hv02.get<VmView>(`/v1/vms/${ID}`);
    const ctxB = readB.headers.get('x-dwcp-context')!;
    const stateB = structuredClone(readB.body.state!) as ReturnType<typeof vmState> & { disk_config: Array<{ path: string; size_gb: number }> };
    stateB.cpu_allocation = 8;
    stateB.disk_config[0]!.size_gb = 80;
    const putB = await hv02.send('PUT', `/v1/vms/${ID}`, stateB, { headers: { 'X-DWCP-Context': ctxB } });
    expect(putB.status, putB.text).toBe(200);

    // The partition holds: hv-03 gets side B's write, and hv-01's write reaches nobody.
    await waitFor(`side B's write on hv-03`, async () => (await hv03.vm(ID))?.state?.cpu_allocation === 8, 15_000);
    expect((await hv03.vm(ID))?.state?.memory_mb).toBe(8192);
    expect((await hv01.vm(ID))?.state?.cpu_allocation).toBe(4);

    await heal(c());

    const expected = {
      ...base,
      memory_mb: 16384,
      cpu_allocation: 8,
      network_config: {
        interfaces: [nicOf(ID, 'eth0'), nicOf(ID, 'eth1')],
      },
      disk_config: [{ path: `/var/lib/vms/${ID}.qcow2`, size_gb: 80 }],
    };
    const views = await waitFor(
      'every agent to hold one identical merged version',
      async () => {
        const vs = await Promise.all(c().agents.map((a) => a.vm(ID)));
        const ok = vs.every((v) => v && v.siblings.length === 0 && v.conflictId === null && v.version.id === vs[0]!.version.id);
        if (!ok) throw new Error(`versions: ${JSON.stringify(vs.map((v) => ({ version: v?.version.id, siblings: v?.siblings.length, state: v?.state })))}`);
        return vs as VmView[];
      },
      45_000,
      500,
    );
    merged = views[0]!;
    for (const v of views) {
      expect(v.state).toEqual(expected);
      // The merge's clock is the join of both writes: it dominates side A's and side B's.
      expect(v.version.clock['hv-01']).toBeGreaterThanOrEqual(2);
      expect(v.version.clock['hv-02']).toBeGreaterThanOrEqual(1);
    }

    // Whichever agent saw both concurrent versions first detected and resolved the conflict; an
    // agent that received the merged version first just fast-forwarded. Every record agrees.
    const records = (await Promise.all(c().agents.map(async (a) => (await a.conflicts('all')).filter((x) => x.resourceId === `vm/${ID}`).map((x) => ({ at: a, x }))))).flat();
    expect(records.length, 'no agent recorded the conflict').toBeGreaterThanOrEqual(1);
    expect(new Set(records.map((r) => r.x.id)).size, JSON.stringify(records.map((r) => r.x))).toBe(1);
    holder = records[0]!.at;
    conflict = records[0]!.x;
    expect(conflict).toMatchObject({ type: 'concurrent_update', strategy: 'semantic_merge', status: 'resolved' });
    expect(conflict.decision.policy).toBe('e2e-semantic-merge');
    expect(conflict.decision.outcome).toBe('resolved');
    expect((conflict.decision.result as Array<{ versionId: string }>).map((v) => v.versionId)).toEqual([merged.version.id]);
    const rules = Object.fromEntries(conflict.decision.fieldDecisions.map((d) => [d.field, d.rule]));
    expect(rules).toMatchObject({
      memory_mb: 'maximum',
      cpu_allocation: 'maximum',
      network_config: 'network_semantic_merge',
      disk_config: 'disk_union',
    });
  });

  it('`dwcp conflicts show ID` explains the decision: type, policy path and strategy, field decisions', async () => {
    const r = await cli(holder.api, 'conflicts', 'show', conflict.id);
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout;
    expect(out).toContain(`on vm/${ID}: concurrent_update`);
    expect(out).toMatch(/policy e2e-semantic-merge: no rule matched → default strategy semantic_merge/);
    expect(out).toMatch(/path: .*default yes/);
    expect(out).toContain(`outcome: resolved by semantic_merge into ${merged.version.id.slice(0, 12)}`);
    expect(out).toMatch(/field memory_mb: maximum -> \S+ \(16384 is the maximum/);
    expect(out).toMatch(/field cpu_allocation: maximum -> \S+ \(8 is the maximum/);
    expect(out).toMatch(/field network_config: network_semantic_merge -> \S+ \(union of interfaces by name: \[eth0, eth1\]/);
    expect(out).toMatch(/field disk_config: disk_union -> \S+ \(union by path, larger size per path: \[[^\]]*\(80 GB\)\]/);
    expect(out).toMatch(/status: resolved/);
    // A unique prefix works too (as `conflicts list` prints it).
    const list = await cli(holder.api, 'conflicts', 'list', '--status', 'resolved');
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`${conflict.id.slice(0, 12)}\\s+resolved\\s+vm/${ID}\\s+concurrent_update\\s+\\w+\\s+semantic_merge`));
    const short = await cli(holder.api, 'conflicts', 'show', conflict.id.slice(0, 12));
    expect(short.code, short.stderr).toBe(0);
    expect(short.stdout).toContain(`on vm/${ID}: concurrent_update`);
  });

  it('/metrics counts the conflict and the strategy', async () => {
    let detected = 0;
    for (const a of c().agents) {
      const m = await a.metrics();
      const mine = (await a.conflicts('all')).filter((x) => x.resourceId === `vm/${ID}`);
      const n = metricValue(m, 'dwcp_conflicts_detected_total') ?? 0;
      expect(n, `${a.nodeId} counts what it lists\n${m}`).toBe(mine.length);
      if (a === holder) expect(n, m).toBe(1);
      if (n > 0) {
        expect(metricValue(m, 'dwcp_conflicts_detected_total', { type: conflict.type }), m).toBe(n);
        expect(metricValue(m, 'dwcp_strategy_usage_total', { strategy: 'semantic_merge' }), m).toBeGreaterThanOrEqual(1);
      }
      expect(metricValue(m, 'dwcp_pending_conflicts_count'), a.nodeId).toBe(0);
      expect(metricValue(m, 'dwcp_split_brain_detections_total'), a.nodeId).toBe(0);
      detected += n;
    }
    expect(detected).toBeGreaterThanOrEqual(1);
  });
});

describe('stop and restart', () => {
  const before: Record<string, { vms: VmView[]; conflicts: ConflictView[] }> = {};

  it('SIGTERM stops every agent with exit code 0', async () => {
    for (const a of c().agents) {
      before[a.nodeId] = { vms: (await a.get<VmView[]>('/v1/vms')).body, conflicts: await a.conflicts('all') };
    }
    const codes = await c().stop();
    expect(codes).toEqual({ 'hv-01': 0, 'hv-02': 0, 'hv-03': 0 });
    for (const a of c().agents) expect(a.output).toMatch(/SIGTERM: stopping[\s\S]*agent stopped/);
  });

  it('a restart over the same data directories serves the same VMs and conflicts (nothing lost)', async () => {
    await c().start();
    for (const a of c().agents) {
      const r = await a.get<VmView[]>('/v1/vms');
      expect(r.status).toBe(200);
      const byId = Object.fromEntries(r.body.map((v) => [v.id, v]));
      expect(Object.keys(byId).sort(), a.nodeId).toEqual(['vm-cli', 'vm-http', 'vm-merge']);
      expect(byId['vm-cli']!.state).toMatchObject({ cpu_allocation: 2, memory_mb: 2048 });
      expect(byId['vm-http']!.state).toEqual(vmState('vm-http', { host: 'hv-02' }));
      expect(byId['vm-merge']!.state).toMatchObject({ memory_mb: 16384, cpu_allocation: 8 });
      expect(byId['vm-merge']!.siblings).toHaveLength(0);
      // Exactly what it served before the stop: the same versions, the same conflict records.
      expect(r.body, a.nodeId).toEqual(before[a.nodeId]!.vms);
      expect(await a.conflicts('all'), a.nodeId).toEqual(before[a.nodeId]!.conflicts);
    }
    const versions = await Promise.all(c().agents.map(async (a) => (await a.vm('vm-merge'))!.version.id));
    expect(new Set(versions).size).toBe(1);
    const codes = await c().stop();
    expect(codes).toEqual({ 'hv-01': 0, 'hv-02': 0, 'hv-03': 0 });
  });
});
