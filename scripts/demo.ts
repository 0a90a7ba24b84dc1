/**
 * `npm run demo`: the scripted partition tour (INTERFACE.md, "Setup").
 *
 * On a local three-agent cluster (real agent processes, real libp2p and LevelDB, in a temporary
 * directory) it cuts a partition {hv-01} | {hv-02, hv-03}, writes conflicting VM updates on both
 * sides — including a split-brain: the same VM running on hv-01 and on hv-02 — heals, waits until
 * the three agents agree, and prints what was detected, how each conflict was resolved and why (the
 * decision record in words, from `GET /v1/conflicts/{id}`). Then it stops the agents with SIGTERM and
 * exits 0; any step that does not happen in time stops everything and exits 1 with the reason.
 *
 * The partition uses the agents' test-only fault injection (DWCP_TEST_FAULT_INJECTION=1,
 * `POST /v1/test/faults`), which cuts what each agent RECEIVES: both sides are told.
 *
 * Usage: node --import tsx scripts/demo.ts [--keep] [--verbose]   (needs `npm run build` first)
 *   --keep     keep the temporary directory (configs, stores, agent logs) and print its path
 *   --verbose  echo the agents' logs
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, appendFileSync, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { findFreeBasePort } from './demo-ports.js';
import type { ConflictView, StatusView, VersionView, VmView } from '../src/api/views.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join(ROOT, 'dist/src/cli/main.js');
const COMMANDS = join(ROOT, 'dist/src/cli/agent-commands.js');
const NODES = ['hv-01', 'hv-02', 'hv-03'] as const;
type NodeId = (typeof NODES)[number];

/** The demo must finish well within a minute; each wait has its own, shorter budget. */
const TOTAL_BUDGET_MS = 55_000;

interface ClusterNodePlan {
  readonly nodeId: string;
  readonly dataDir: string;
  readonly configFile: string;
  readonly api: string;
  readonly listen: string;
  readonly peerId: string;
}
type PrepareCluster = (root: string, n: number, basePort: number, policy: string) => Promise<ClusterNodePlan[]>;


class DemoError extends Error {
  override readonly name = 'DemoError';
}

const started = Date.now();
const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`;
const say = (line = ''): void => {
  console.log(line);
};
const step = (title: string): void => say(`\n[${elapsed()}] ${title}`);

interface Agent {
  readonly plan: ClusterNodePlan;
  readonly child: ChildProcess;
  readonly log: WriteStream;
  readonly logFile: string;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited: boolean;
}

class Demo {
  private readonly agents = new Map<string, Agent>();
  private stopping = false;

  constructor(private readonly verbose: boolean) {}

  api(node: string): string {
    const a = this.agents.get(node);
    if (!a) throw new DemoError(`no agent ${node}`);
    return `http://${a.plan.api}`;
  }

  async request<T>(node: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
    const url = this.api(node) + path;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? null : JSON.stringify(body),
        signal: AbortSignal.timeout(5_000),
      });
    } catch (err) {
      throw new DemoError(`${method} ${url} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return { status: res.status, json: json as T };
  }

  async call<T>(node: string, method: string, path: string, body?: unknown): Promise<T> {
    const r = await this.request<T>(node, method, path, body);
    if (r.status >= 300) throw new DemoError(`${node}: ${method} ${path} answered ${r.status}: ${JSON.stringify(r.json)}`);
    return r.json;
  }

  start(plan: readonly ClusterNodePlan[]): void {
    for (const p of plan) {
      const logFile = join(p.dataDir, 'agent.log');
      const log = createWriteStream(logFile);
      const child = spawn(process.execPath, [MAIN, 'agent', '--config', p.configFile], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, DWCP_TEST_FAULT_INJECTION: '1', DWCP_LOG_FORMAT: 'text', DWCP_LOG_LEVEL: 'info' },
      });
      const agent: Agent = {
        plan: p,
        child,
        log,
        logFile,
        exited: false,
        exit: new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal }))),
      };
      void agent.exit.then(({ code, signal }) => {
        agent.exited = true;
        if (!this.stopping) say(`  !! ${p.nodeId} exited unexpectedly (${signal ?? `code ${String(code)}`}); its log: ${logFile}`);
      });
      const forward = (chunk: Buffer): void => {
        log.write(chunk);
        if (this.verbose) for (const line of chunk.toString().split('\n')) if (line.trim()) say(`    [${p.nodeId}] ${line}`);
      };
      child.stdout?.on('data', forward);
      child.stderr?.on('data', forward);
      this.agents.set(p.nodeId, agent);
    }
  }

  /** Poll `check` every 200 ms until it returns a value (not undefined) or `ms` pass. */
  async until<T>(what: string, ms: number, check: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + ms;
    let last = '';
    for (;;) {
      for (const a of this.agents.values()) if (a.exited) throw new DemoError(`${a.plan.nodeId} exited while waiting for ${what} (log: ${a.logFile})`);
      try {
        const v = await check();
        if (v !== undefined) return v;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
      if (Date.now() > deadline) throw new DemoError(`timed out after ${ms / 1000} s waiting for ${what}${last ? ` (last error: ${last})` : ''}`);
      await sleep(200);
    }
  }

  async status(node: string): Promise<StatusView> {
    return this.call<StatusView>(node, 'GET', '/v1/status');
  }

  async fault(node: string, body: unknown): Promise<void> {
    await this.call(node, 'POST', '/v1/test/faults', body);
  }

  async putVm(node: string, state: Record<string, unknown>): Promise<VersionView> {
    const r = await this.call<{ version: VersionView }>(node, 'PUT', `/v1/vms/${String(state.id)}`, state);
    return r.version;
  }

  async getVm(node: string, id: string): Promise<VmView | undefined> {
    const r = await this.request<VmView>(node, 'GET', `/v1/vms/${id}`);
    if (r.status === 404) return undefined;
    if (r.status >= 300) throw new DemoError(`${node}: GET /v1/vms/${id} answered ${r.status}`);
    return r.json;
  }

  /** SIGTERM every agent and wait for each to exit 0 (SIGKILL after 15 s). */
  async stop(): Promise<boolean> {
    this.stopping = true;
    let clean = true;
    await Promise.all(
      [...this.agents.values()].map(async (a) => {
        if (!a.exited) a.child.kill('SIGTERM');
        const timer = setTimeout(() => {
          say(`  !! ${a.plan.nodeId} did not stop within 15 s of SIGTERM: killing it`);
          a.child.kill('SIGKILL');
        }, 15_000);
        const { code, signal } = await a.exit;
        clearTimeout(timer);
        a.log.end();
        if (code !== 0) {
          clean = false;
          say(`  !! ${a.plan.nodeId} exited with ${signal ?? `code ${String(code)}`} (log: ${a.logFile})`);
        }
      }),
    );
    return clean;
  }

  tailLogs(lines = 15): void {
    for (const a of this.agents.values()) {
      if (!existsSync(a.logFile)) continue;
      const tail = readFileSync(a.logFile, 'utf8').trimEnd().split('\n').slice(-lines);
      say(`  --- last ${tail.length} lines of ${a.plan.nodeId}'s log (${a.logFile})`);
      for (const l of tail) say(`  ${l}`);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Each VM gets its own MAC and IP (the same one on two VMs is a resource_contention conflict). */
const ADDRESSES: Record<string, number> = { 'vm-db': 10, 'vm-web': 11, 'vm-cache': 12 };

function vm(id: string, host: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  const n = ADDRESSES[id] ?? 99;
  return {
    id,
    host,
    power_state: 'running',
    cpu_allocation: 4,
    memory_mb: 8192,
    network_config: { interfaces: [{ name: 'eth0', mac: `52:54:00:00:00:${n.toString(16).padStart(2, '0')}`, ip: `10.0.1.${n}` }] },
    disk_config: [{ path: `/var/lib/vms/${id}.qcow2`, size_gb: 40 }],
    snapshot_id: 'snap-1',
    migration_status: 'none',
    ...over,
  };
}

const short = (id: string): string => id.slice(0, 12);
const describeVm = (s: Record<string, unknown> | null): string =>
  s === null ? '(deleted)' : `${String(s.power_state)} on ${String(s.host)}, ${String(s.cpu_allocation)} vCPU, ${String(s.memory_mb)} MB, snapshot ${String(s.snapshot_id)}`;

async function run(demo: Demo, dir: string): Promise<void> {
  step('Starting three agents on loopback');
  const { prepareCluster } = (await import(pathToFileURL(COMMANDS).href)) as { prepareCluster: PrepareCluster };
  const base = await findFreeBasePort(NODES.length);
  const plan = await prepareCluster(dir, NODES.length, base, 'production');
  // Faster heartbeats and anti-entropy than production so the tour stays short.
  for (const p of plan) appendFileSync(p.configFile, 'timing: { heartbeat: 300ms, antiEntropyInterval: 2s }\n');
  demo.start(plan);
  for (const p of plan) say(`  ${p.nodeId}: API http://${p.api}  p2p ${p.listen}`);
  await demo.until('all three agents ready with a quorum', 35_000, async () => {
    for (const n of NODES) {
      const r = await demo.request(n, 'GET', '/readyz');
      if (r.status !== 200) return undefined;
      const s = await demo.status(n);
      if (!s.quorum.ok || s.peers.filter((p) => p.state === 'up').length < NODES.length - 1) return undefined;
    }
    return true;
  });
  say(`  all ready: every agent sees 2 peers up and a quorum (2 of 3 votes needed)`);

  step('Writing three VMs on hv-01 and waiting until every agent has them');
  const vms = [vm('vm-db', 'hv-01'), vm('vm-web', 'hv-02'), vm('vm-cache', 'hv-03', { memory_mb: 4096 })];
  const written = new Map<string, string>();
  for (const v of vms) {
    const version = await demo.putVm('hv-01', v);
    written.set(String(v.id), version.id);
    say(`  ${String(v.id)}: ${describeVm(v)}  (version ${short(version.id)})`);
  }
  await demo.until('the three VMs to replicate', 15_000, async () => {
    for (const n of NODES) for (const [id, vid] of written) if ((await demo.getVm(n, id))?.version.id !== vid) return undefined;
    return true;
  });
  say('  replicated to hv-01, hv-02 and hv-03');

  step('Partition: {hv-01} | {hv-02, hv-03}');
  await demo.fault('hv-01', { partition: [] });
  await demo.fault('hv-02', { partition: ['hv-03'] });
  await demo.fault('hv-03', { partition: ['hv-02'] });
  await demo.until('both sides to notice the partition', 15_000, async () => {
    const s1 = await demo.status('hv-01');
    const s2 = await demo.status('hv-02');
    const down1 = s1.peers.filter((p) => p.state === 'down').length === 2;
    const down2 = s2.peers.find((p) => p.nodeId === 'hv-01')?.state === 'down';
    return down1 && down2 && !s1.quorum.ok && s2.quorum.ok ? true : undefined;
  });
  const q1 = (await demo.status('hv-01')).quorum;
  const q2 = (await demo.status('hv-02')).quorum;
  say(`  hv-01 sees hv-02 and hv-03 down: ${q1.have} of 3 votes, ${q1.need} needed -> NO quorum (minority side)`);
  say(`  hv-02 sees hv-01 down:           ${q2.have} of 3 votes, ${q2.need} needed -> quorum (majority side)`);

  step('Conflicting writes on both sides of the partition');
  const writes: Array<[NodeId, Record<string, unknown>, string]> = [
    ['hv-01', vm('vm-db', 'hv-01', { memory_mb: 16384 }), 'hv-01 keeps vm-db running on hv-01 and grows it to 16 GB'],
    ['hv-02', vm('vm-db', 'hv-02'), 'hv-02 thinks hv-01 died and restarts vm-db on hv-02   <- split-brain'],
    ['hv-01', vm('vm-web', 'hv-02', { cpu_allocation: 8 }), 'hv-01 gives vm-web 8 vCPUs'],
    ['hv-03', vm('vm-web', 'hv-02', { memory_mb: 16384, snapshot_id: 'snap-2' }), 'hv-03 gives vm-web 16 GB and takes snapshot snap-2'],
    [
      'hv-01',
      vm('vm-cache', 'hv-03', { cpu_allocation: 2, memory_mb: 2048, snapshot_id: 'snap-3', disk_config: [{ path: '/var/lib/vms/vm-cache.qcow2', size_gb: 80 }], migration_status: 'pending' }),
      'hv-01 shrinks vm-cache, grows its disk and plans a migration',
    ],
    [
      'hv-02',
      vm('vm-cache', 'hv-03', { cpu_allocation: 6, memory_mb: 6144, snapshot_id: 'snap-4', disk_config: [{ path: '/var/lib/vms/vm-cache.qcow2', size_gb: 60 }], power_state: 'paused' }),
      'hv-02 resizes vm-cache differently and pauses it',
    ],
  ];
  for (const [node, state, what] of writes) {
    const v = await demo.putVm(node, state);
    say(`  ${node}: PUT ${String(state.id)} -> version ${short(v.id)}   ${what}`);
  }

  step('Healing the partition');
  const healedAt = Date.now();
  for (const n of NODES) await demo.fault(n, { heal: true });
  const converged = await demo.until('the three agents to converge (same versions, no pending conflict)', 25_000, async () => {
    const views = new Map<string, VmView[]>();
    for (const n of NODES) {
      const list = await demo.call<VmView[]>(n, 'GET', '/v1/vms');
      if (list.some((v) => v.conflictId !== null)) return undefined;
      const pending = await demo.call<ConflictView[]>(n, 'GET', '/v1/conflicts?status=pending');
      if (pending.length > 0) return undefined;
      views.set(n, list);
    }
    // The same version set everywhere: current version and siblings (a multi-value register keeps some).
    const key = (l: VmView[]): string => JSON.stringify(l.map((v) => [v.id, v.version.id, ...v.siblings.map((s) => s.version.id).sort()]).sort());
    const first = key(views.get('hv-01')!);
    return NODES.every((n) => key(views.get(n)!) === first) ? views.get('hv-01')! : undefined;
  });
  say(`  converged ${((Date.now() - healedAt) / 1000).toFixed(1)} s after the heal: all three agents hold the same versions of every VM, no conflict is pending`);

  step('What was detected');
  const known = new Map<string, string[]>();
  const perNode: string[] = [];
  for (const n of NODES) {
    const list = await demo.call<ConflictView[]>(n, 'GET', '/v1/conflicts?status=all');
    const vmConflicts = list.filter((c) => c.resourceId.startsWith('vm/'));
    perNode.push(`${n}: ${vmConflicts.length}`);
    for (const c of vmConflicts) known.set(c.id, [...(known.get(c.id) ?? []), n]);
  }
  const metrics = await Promise.all(NODES.map(async (n) => [n, await metricValue(demo, n, 'dwcp_split_brain_detections_total')] as const));
  say(`  VM conflicts known per agent: ${perNode.join(', ')} (${known.size} distinct; conflict ids are the same on every agent)`);
  say(`  dwcp_split_brain_detections_total: ${metrics.map(([n, v]) => `${n}=${v}`).join(', ')}`);
  if (known.size === 0) throw new DemoError('no conflict was detected after the heal');

  step('How each conflict was resolved, and why (the decision record from GET /v1/conflicts/{id})');
  // Every agent records the conflict; the one whose quorum proposal won has the fullest account.
  const records: Array<{ node: string; c: ConflictView }> = [];
  for (const [id, nodes] of known) {
    const views = await Promise.all(nodes.map(async (node) => ({ node, c: await demo.call<ConflictView>(node, 'GET', `/v1/conflicts/${id}`) })));
    records.push(views.find((v) => (v.c.explanation ?? '').includes('decided by quorum')) ?? views[0]!);
  }
  records.sort((a, b) => a.c.resourceId.localeCompare(b.c.resourceId) || a.c.detectedAt.localeCompare(b.c.detectedAt));
  let splitBrains = 0;
  for (const { node, c } of records) {
    const explanation = c.explanation ?? '(no explanation)';
    const split = explanation.includes('split-brain');
    if (split) splitBrains++;
    say(`\n  ${c.resourceId}  conflict ${short(c.id)}  (as recorded by ${node})`);
    say(`    ${c.type}, severity ${c.severity}, complexity ${c.complexity.toFixed(2)}, strategy ${c.strategy}, ${c.status}${split ? '   <- SPLIT-BRAIN' : ''}`);
    const lines = explanation.split('\n');
    const how = lines.find((l) => l.includes('decided by quorum')) ?? lines.find((l) => l.includes('superseded by'));
    const verdict = [lines.find((l) => l.startsWith('outcome:')), how?.replace(/^\s*note:\s*/, '')].filter(Boolean);
    if (verdict.length > 0) say(`    => ${verdict.join('; ')}`);
    say('    decision record:');
    for (const line of lines) say(`    | ${line}`);
  }

  step('Final state (identical on hv-01, hv-02, hv-03)');
  for (const v of converged.sort((a, b) => a.id.localeCompare(b.id))) {
    say(`  ${v.id.padEnd(9)} ${describeVm(v.state)}  (version ${short(v.version.id)})`);
    for (const s of v.siblings) say(`  ${''.padEnd(9)} + sibling ${describeVm(s.state)}  (version ${short(s.version.id)}; kept by the multi-value register until a write or an operator picks one)`);
  }
  const db = converged.find((v) => v.id === 'vm-db');
  const totalSplit = metrics.reduce((s, [, v]) => s + v, 0);
  if (totalSplit === 0 && splitBrains === 0) throw new DemoError('the split-brain of vm-db was not detected');
  const keeper = String(db?.state?.host);
  const priority = (node: string): string => /priority: (\d+)/.exec(readFileSync(plan.find((p) => p.nodeId === node)!.configFile, 'utf8'))?.[1] ?? '?';
  say(`\n  split-brain: vm-db ran on hv-01 and hv-02 at once; detected ${totalSplit} time(s) across the agents; kept on ${keeper}.`);
  say(`  The quorum keeps the running copy on the host with the highest node.priority (hv-01: ${priority('hv-01')}, hv-02: ${priority('hv-02')});`);
  say(`  the agent on the other host fences its copy through the hypervisor driver (driver "none" in this demo).`);
}

async function metricValue(demo: Demo, node: string, name: string): Promise<number> {
  const res = await fetch(`${demo.api(node)}/metrics`, { signal: AbortSignal.timeout(5_000) });
  const text = await res.text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

async function main(argv: string[]): Promise<number> {
  const keep = argv.includes('--keep');
  const verbose = argv.includes('--verbose');
  const unknown = argv.filter((a) => a !== '--keep' && a !== '--verbose');
  if (unknown.length > 0) {
    console.error(`demo: unknown option ${unknown.join(' ')}\nusage: node --import tsx scripts/demo.ts [--keep] [--verbose]`);
    return 2;
  }
  if (!existsSync(MAIN) || !existsSync(COMMANDS)) {
    console.error(`demo: ${MAIN} is missing: run \`npm run build\` first (npm run demo does)`);
    return 1;
  }
  say('dwcp demo: a partition, conflicting writes on both sides, a split-brain, and the heal');
  const dir = await mkdtemp(join(tmpdir(), 'dwcp-demo-'));
  const demo = new Demo(verbose);
  let ok = false;
  const budget = setTimeout(() => {
    say(`\ndemo: FAILED: still running after ${TOTAL_BUDGET_MS / 1000} s`);
    demo.tailLogs();
    void demo.stop().finally(() => process.exit(1));
  }, TOTAL_BUDGET_MS);
  const interrupt = (): void => {
    say('\ndemo: interrupted; stopping the agents');
    void demo.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    await run(demo, dir);
    ok = true;
  } catch (err) {
    say(`\ndemo: FAILED: ${err instanceof Error ? err.message : String(err)}`);
    demo.tailLogs();
  }
  step('Stopping the agents (SIGTERM)');
  const clean = await demo.stop();
  clearTimeout(budget);
  if (clean) say('  all three agents exited 0');
  if (keep || !ok || !clean) say(`  data, configs and agent logs kept in ${dir}`);
  else await rm(dir, { recursive: true, force: true });
  const good = ok && clean;
  say(`\n[${elapsed()}] demo ${good ? 'finished' : 'FAILED'}`);
  return good ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`demo: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  },
);
