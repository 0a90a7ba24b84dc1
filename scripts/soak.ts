/**
 * Soak run (not in CI): 5 real agents on loopback, a steady write mix, periodic partitions, for
 * DWCP_SOAK_MINUTES (default 30). Every minute it samples each agent's RSS, pending conflicts and
 * VM count; at the end it heals, waits for convergence and checks that every acknowledged write is
 * held (or dominated) everywhere. Prints a table and exits 1 if a check failed or memory kept growing.
 *
 *   npm run build && DWCP_SOAK_MINUTES=30 node --import tsx scripts/soak.ts
 */
import { readFileSync } from 'node:fs';
import { createCluster, sleep, vmState, waitFor, type AgentProc } from '../test/e2e/support.js';

const minutes = Number(process.env.DWCP_SOAK_MINUTES ?? 30);
const rate = Number(process.env.DWCP_SOAK_WRITES_PER_SECOND ?? 50);

function rssMb(a: AgentProc): number {
  const status = readFileSync(`/proc/${a.child!.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

const dominates = (a: Record<string, number>, b: Record<string, number>): boolean => Object.entries(b).every(([k, n]) => (a[k] ?? 0) >= n);

async function main(): Promise<number> {
  const cluster = await createCluster('dwcp-soak', { nodes: 5, extraYaml: () => 'timing: { heartbeat: 500ms, antiEntropyInterval: 2s }' });
  const agents = cluster.agents;
  await cluster.start();
  const acked = new Map<string, { id: string; clock: Record<string, number> }>();
  const samples: Array<{ minute: number; rss: number[]; pending: number[]; vms: number }> = [];
  const end = Date.now() + minutes * 60_000;
  let writes = 0;
  let failures = 0;
  let partitioned = false;
  let nextFault = Date.now() + 45_000;
  let nextSample = Date.now();
  while (Date.now() < end) {
    const t = Date.now();
    if (t >= nextFault) {
      if (!partitioned) {
        const minority = agents.slice(0, 2).map((a) => a.nodeId);
        const majority = agents.slice(2).map((a) => a.nodeId);
        for (const a of agents) await a.fault({ partition: minority.includes(a.nodeId) ? minority.filter((x) => x !== a.nodeId) : majority.filter((x) => x !== a.nodeId) });
      } else {
        for (const a of agents) await a.fault({ heal: true });
      }
      partitioned = !partitioned;
      nextFault = t + (partitioned ? 20_000 : 40_000);
    }
    if (t >= nextSample) {
      const pending = await Promise.all(agents.map(async (a) => (await a.conflicts('pending')).length));
      const vms = ((await agents[0]!.get<unknown[]>('/v1/vms')).body ?? []).length;
      samples.push({ minute: samples.length, rss: agents.map(rssMb), pending, vms });
      process.stdout.write(`minute ${samples.length - 1}: rss ${agents.map((a) => rssMb(a).toFixed(0)).join('/')} MB, pending ${pending.join('/')}, vms ${vms}, writes ${writes}, failed ${failures}\n`);
      nextSample = t + 60_000;
    }
    const a = agents[writes % agents.length]!;
    const id = `vm-s${writes % 500}`;
    try {
      const r = await a.send<{ version: { id: string; clock: Record<string, number> } }>('PUT', `/v1/vms/${id}`, vmState(id, { host: a.nodeId, cpu_allocation: 1 + (writes % 8), network_config: { interfaces: [] }, disk_config: [] }), { timeoutMs: 5_000 });
      if (r.status === 200) acked.set(`${a.nodeId}/${id}`, r.body.version);
      else failures++;
    } catch {
      failures++;
    }
    writes++;
    await sleep(Math.max(0, 1000 / rate - (Date.now() - t)));
  }
  for (const a of agents) await a.fault({ heal: true });
  await waitFor(
    'all agents to hold identical VM sets',
    async () => {
      const views = await Promise.all(agents.map(async (a) => JSON.stringify((await a.get<Array<{ version: { id: string } }>>('/v1/vms')).body.map((v) => v.version.id))));
      return new Set(views).size === 1;
    },
    120_000,
    1_000,
  );
  let lost = 0;
  for (const [key, ack] of acked) {
    const id = key.split('/')[1]!;
    for (const a of agents) {
      const v = await a.vm(id);
      const held = v ? [v.version, ...v.siblings.map((s) => s.version)] : [];
      if (!held.some((h) => h.id === ack.id || dominates(h.clock, ack.clock))) lost++;
    }
  }
  const first = samples[Math.min(2, samples.length - 1)]!;
  const last = samples.at(-1)!;
  const growth = last.rss.map((r, i) => r - first.rss[i]!);
  process.stdout.write(`\nwrites ${writes} (failed ${failures}), acknowledged keys ${acked.size}, lost ${lost}\nRSS growth after warm-up (MB): ${growth.map((g) => g.toFixed(0)).join(' / ')}\n`);
  await cluster.stop();
  await cluster.destroy();
  const memoryFlat = growth.every((g) => g < 100);
  return lost === 0 && memoryFlat ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
