/**
 * Real network layers in one process: 3 and 5 agents with real libp2p over TCP on loopback and real
 * LevelDB, a fault shim to cut links. Gossip is delivered, anti-entropy converges after a partition,
 * and a quorum decision is made once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { parseConfig } from '../../src/agent/config.js';
import { createLogger } from '../../src/agent/logger.js';
import { canonicalJson } from '../../src/core/codec/canonical.js';
import { versionToJSON } from '../../src/core/conflict/version.js';
import { writePskFile } from '../../src/adapters/libp2p/index.js';
import { FakeHypervisor } from '../../src/adapters/hypervisor/fake-hypervisor.js';

const running: Agent[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((a) => a.stop()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function startCluster(n: number, policy = 'production', extra: { yaml?: string; hypervisors?: FakeHypervisor[] } = {}): Promise<Agent[]> {
  const root = mkdtempSync(join(tmpdir(), 'dwcp-net-'));
  dirs.push(root);
  const psk = join(root, 'cluster.psk');
  await writePskFile(psk);
  const ids = Array.from({ length: n }, (_, i) => `hv-${i + 1}`);
  const agents: Agent[] = [];
  const logs: string[] = [];
  for (const id of ids) {
    const bootstrap = agents.flatMap((a) => a.transport.multiaddrs());
    const cfg = parseConfig(
      [
        `node: { id: ${id}, dataDir: ${JSON.stringify(join(root, id))}, capacity: { cpu: 64, memory_mb: 262144 } }`,
        `cluster: { name: itest, voters: [${ids.join(', ')}], pskFile: ${JSON.stringify(psk)}, listen: [/ip4/127.0.0.1/tcp/0], bootstrap: [${bootstrap.join(', ')}] }`,
        `api: { listen: "127.0.0.1:0" }`,
        `policy: ${policy}`,
        `timing: { heartbeat: 200ms, antiEntropyInterval: 1s }`,
        extra.yaml ?? '',
      ].join('\n'),
      join(root, 'agent.yaml'),
    );
    const agent = new Agent(cfg, { faultInjection: true, hypervisor: extra.hypervisors?.[agents.length], logger: createLogger({ level: 'warn', format: 'json', write: (l) => logs.push(l) }) });
    await agent.start();
    running.push(agent);
    agents.push(agent);
  }
  await until(() => agents.every((a) => a.fd.peers().filter((p) => p.state === 'up').length === n - 1), 15_000, () => `peers never all up:\n${logs.slice(-20).join('\n')}`);
  return agents;
}

async function until(cond: () => boolean, ms: number, what: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const vm = (id: string, host: string, over: Record<string, unknown> = {}): Record<string, unknown> => ({
  id,
  host,
  power_state: 'running',
  cpu_allocation: 2,
  memory_mb: 2048,
  ...over,
});

function stateOf(a: Agent): string {
  return canonicalJson(a.replica.list('vm/').map((r) => [r, a.replica.get(r)!.versions.map(versionToJSON)]));
}

describe('network layers over real libp2p and LevelDB', () => {
  it('3 agents: gossip reaches every replica', async () => {
    const agents = await startCluster(3);
    for (let i = 0; i < 30; i++) await agents[i % 3]!.replica.putVm(vm(`vm-${i}`, `hv-${(i % 3) + 1}`));
    await until(() => agents.every((a) => a.replica.list('vm/').length === 30), 10_000, () => agents.map((a) => a.replica.list('vm/').length).join(','));
    await until(() => new Set(agents.map(stateOf)).size === 1, 10_000, () => 'states differ');
  });

  it('5 agents: conflicting writes on both sides of a partition converge after the heal, and a split-brain is decided once by quorum', async () => {
    const agents = await startCluster(5);
    const [a1, a2, a3, a4, a5] = agents as [Agent, Agent, Agent, Agent, Agent];
    await a1.replica.putVm(vm('vm-x', 'hv-1'));
    await until(() => agents.every((a) => a.replica.get('vm/vm-x') !== undefined), 10_000, () => 'vm-x not everywhere');
    // Split {hv-1, hv-2} | {hv-3, hv-4, hv-5}.
    a1.shim!.partition(['hv-2']);
    a2.shim!.partition(['hv-1']);
    for (const a of [a3, a4, a5]) a.shim!.partition(['hv-3', 'hv-4', 'hv-5'].filter((x) => x !== a.nodeId));
    await a1.replica.putVm(vm('vm-x', 'hv-1', { memory_mb: 4096 }), { context: a1.replica.contextOf('vm/vm-x') });
    await a4.replica.putVm(vm('vm-x', 'hv-4', { cpu_allocation: 6 }), { context: a4.replica.contextOf('vm/vm-x') });
    for (let i = 0; i < 20; i++) await (i % 2 ? a2 : a5).replica.putVm(vm(`vm-p${i}`, i % 2 ? 'hv-2' : 'hv-5'));
    await new Promise((r) => setTimeout(r, 500));
    expect(stateOf(a1)).not.toBe(stateOf(a4));
    for (const a of agents) a.shim!.heal();
    await until(() => new Set(agents.map(stateOf)).size === 1 && agents.every((a) => a.replica.conflictList('pending').length === 0), 20_000, () =>
      agents.map((a) => `${a.nodeId}: ${a.replica.list('vm/').length} vms, pending ${a.replica.conflictList('pending').length}`).join('; '),
    );
    const final = a3.replica.get('vm/vm-x')!.versions;
    expect(final).toHaveLength(1);
    const rec = a3.replica.conflictList().find((c) => c.resourceId === 'vm/vm-x')!;
    expect(rec).toMatchObject({ type: 'semantic', severity: 'critical', status: 'resolved' });
    expect(rec.decision.ballot, JSON.stringify(a3.replica.conflictList().map((c) => [c.id, c.type, c.status, c.decision.outcome, c.decision.strategy, c.decision.notes]), null, 1)).toBeDefined();
    // Decided once: every node holds the same decision for this conflict key.
    const decided = await Promise.all(agents.map((a) => a.paxos.decided<{ version: { id: string } }>(`conflict:${rec.id}`)));
    expect(new Set(decided.map((d) => d?.value.version.id)).size).toBe(1);
    // Counted where it was detected: a node that receives the decided version before the other
    // side's candidate never sees the two hosts at once, so not necessarily on hv-1.
    expect(agents.reduce((n, a) => n + a.metrics.snapshot().splitBrains, 0)).toBeGreaterThanOrEqual(1);
  });
  it('3 agents: the same IP given to two VMs on both sides of a partition is found on every node after the heal (counted, audited once, same id)', async () => {
    const agents = await startCluster(3);
    const [a1, a2, a3] = agents as [Agent, Agent, Agent];
    a1.shim!.partition(['hv-1']);
    for (const a of [a2, a3]) a.shim!.partition(['hv-2', 'hv-3'].filter((x) => x !== a.nodeId));
    const nic = (mac: string) => ({ network_config: { interfaces: [{ name: 'eth0', mac, ip: '10.9.0.5' }] } });
    await a1.replica.putVm(vm('vm-left', 'hv-1', nic('52:54:00:00:00:01')));
    await a2.replica.putVm(vm('vm-right', 'hv-2', nic('52:54:00:00:00:02')));
    await new Promise((r) => setTimeout(r, 300));
    // Each side alone holds one VM with that IP: nothing to report yet.
    expect(agents.map((a) => a.metrics.snapshot().invariantViolations)).toEqual([0, 0, 0]);
    for (const a of agents) a.shim!.heal();
    await until(() => agents.every((a) => a.replica.list('vm/').length === 2 && a.metrics.snapshot().invariantViolations >= 1), 15_000, () =>
      agents.map((a) => `${a.nodeId}: ${a.replica.list('vm/').length} vms, violations ${a.metrics.snapshot().invariantViolations}`).join('; '),
    );
    const contentionsAudited = (a: Agent) => async (): Promise<Array<{ resourceId?: string; data: unknown }>> => {
      const found: Array<{ resourceId?: string; data: unknown }> = [];
      for await (const e of a.replica.audit.entries()) if (e.kind === 'contention') found.push({ resourceId: e.resourceId, data: e.data });
      return found;
    };
    // The audit entry is written right after the finding is counted (asynchronously): wait for it.
    let audited: Array<Array<{ resourceId?: string; data: unknown }>> = [];
    for (let i = 0; i < 100; i++) {
      audited = await Promise.all(agents.map((a) => contentionsAudited(a)()));
      if (audited.every((f) => f.length > 0)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const found of audited) {
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({ resourceId: 'vm/vm-right', data: { kind: 'ip', key: '10.9.0.5', vmIds: ['vm-left', 'vm-right'], severity: 'high' } });
    }
    expect(new Set(audited.map((f) => (f[0]!.data as { id: string }).id)).size).toBe(1);
    // Further writes of the VMs do not report it again.
    await a3.replica.putVm(vm('vm-left', 'hv-1', { ...nic('52:54:00:00:00:01'), cpu_allocation: 4 }), { context: a3.replica.contextOf('vm/vm-left') });
    await new Promise((r) => setTimeout(r, 300));
    expect(a3.metrics.snapshot().invariantViolations).toBe(1);
  });
  it('3 agents with hypervisor.supervise: a VM placed on a host is started there under a lease; moved, it stops on the old host first and starts on the new one', async () => {
    const hv = [new FakeHypervisor(), new FakeHypervisor(), new FakeHypervisor()];
    const agents = await startCluster(3, 'production', { yaml: 'hypervisor: { supervise: true }', hypervisors: hv });
    const [a1, a2] = agents as [Agent, Agent, Agent];
    /** Hosts running the VM, sampled on every hypervisor action: never two at once. */
    const hostsRunning = (): string[] => hv.flatMap((h, i) => (h.running.has('vm-s') ? [`hv-${i + 1}`] : []));
    let most = 0;
    const timer = setInterval(() => (most = Math.max(most, hostsRunning().length)), 5);
    try {
      await a1.replica.putVm(vm('vm-s', 'hv-1'));
      await until(() => hv[0]!.running.has('vm-s'), 15_000, () => `not started on hv-1: ${JSON.stringify(hv[0]!.actions)}`);
      expect(a1.leases.current('vm-s')).toMatchObject({ owner: 'hv-1' });
      await a2.replica.putVm(vm('vm-s', 'hv-2'), { context: a2.replica.contextOf('vm/vm-s') });
      await until(() => hv[1]!.running.has('vm-s') && !hv[0]!.running.has('vm-s'), 15_000, () => `not moved: ${hostsRunning().join(',')}`);
      // The old host released its lease (a quorum decision), so the new one did not wait lease + margin.
      expect(a2.leases.current('vm-s')).toMatchObject({ owner: 'hv-2' });
      expect(hv[0]!.actions.map((a) => a.action)).toEqual(['start', 'stop']);
      expect(hv[1]!.actions.map((a) => a.action)).toEqual(['start']);
      expect(hv[2]!.actions).toEqual([]);
    } finally {
      clearInterval(timer);
    }
    expect(most).toBe(1);
  });
});
