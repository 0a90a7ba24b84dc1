/**
 * Commands that run things on this host: `agent` (what systemd runs), `cluster` (N local agents,
 * what `npm start` runs), `init` (node identity) and `keygen` (cluster pre-shared key).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent } from '../agent/agent.js';
import { ConfigError, loadAgentConfig } from '../agent/config.js';
import { createLogger } from '../agent/logger.js';
import { loadOrCreateIdentity, writePskFile } from '../adapters/libp2p/index.js';
import { assertNodeId } from '../core/clock/node-ids.js';
import { parse, RuntimeFailure, str, UsageError, type Io } from './args.js';

const FLAG_PATHS: Readonly<Record<string, string>> = {
  'node-id': 'node.id',
  'data-dir': 'node.dataDir',
  listen: 'cluster.listen',
  bootstrap: 'cluster.bootstrap',
  'api-listen': 'api.listen',
  'psk-file': 'cluster.pskFile',
  policy: 'policy',
};

export async function agentCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, {
    config: { type: 'string', short: 'c' },
    'node-id': { type: 'string' },
    'data-dir': { type: 'string' },
    listen: { type: 'string' },
    bootstrap: { type: 'string' },
    'api-listen': { type: 'string' },
    'psk-file': { type: 'string' },
    policy: { type: 'string' },
  });
  const flags: Record<string, string> = {};
  for (const [flag, path] of Object.entries(FLAG_PATHS)) {
    const v = str(values[flag]);
    if (v !== undefined) flags[path] = v;
  }
  const file = str(values.config);
  if (!file && !flags['node.id']) throw new UsageError('dwcp agent needs --config FILE (or at least --node-id)');
  let config;
  try {
    config = loadAgentConfig(file, flags, io.env);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
  const log = createLogger(config.log);
  if (config.cluster.insecureNoPsk) {
    log.warn('INSECURE: running without a cluster pre-shared key (cluster.insecureNoPsk); any host that can reach the port can join. Development only.');
  }
  const agent = new Agent(config, { logger: log, faultInjection: io.env.DWCP_TEST_FAULT_INJECTION === '1' });
  let signals = 0;
  const done = new Promise<number>((resolveExit) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      signals++;
      if (signals > 1) {
        log.warn(`second ${sig}: exiting now`);
        process.exit(1);
      }
      log.info(`${sig}: stopping`);
      agent.stop().then(
        () => resolveExit(0),
        (err: unknown) => {
          log.error('stop failed', { err });
          resolveExit(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGHUP', () => {
      agent.reloadPolicy().catch((err: unknown) => log.error('policy reload failed; keeping the current policy', { err }));
    });
  });
  try {
    await agent.start();
  } catch (err) {
    throw new RuntimeFailure(`the agent could not start: ${err instanceof Error ? err.message : String(err)}`);
  }
  return done;
}

export async function initCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { 'data-dir': { type: 'string' }, 'node-id': { type: 'string' } });
  const dir = str(values['data-dir']);
  if (!dir) throw new UsageError('usage: dwcp init --data-dir DIR [--node-id ID]');
  const nodeId = str(values['node-id']);
  if (nodeId !== undefined) {
    try {
      assertNodeId(nodeId);
    } catch (err) {
      throw new UsageError(err instanceof Error ? err.message : String(err));
    }
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const id = await loadOrCreateIdentity(resolve(dir));
  if (nodeId !== undefined) writeFileSync(join(dir, 'node-id'), nodeId + '\n', { mode: 0o644 });
  const out = { nodeId: nodeId ?? null, peerId: id.peerId.toString(), identityFile: id.path, created: id.created };
  io.out(values.json === true ? JSON.stringify(out, null, 2) : `node id: ${nodeId ?? '(set node.id in the config)'}\npeer id: ${id.peerId.toString()}\nidentity: ${id.path}${id.created ? ' (created)' : ' (existing)'}`);
  return 0;
}

export async function keygenCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { out: { type: 'string', short: 'o' }, force: { type: 'boolean', default: false } });
  const out = str(values.out);
  if (!out) throw new UsageError('usage: dwcp keygen --out FILE [--force]');
  if (existsSync(out) && values.force !== true) throw new UsageError(`${out} exists; use --force to replace the cluster key (every agent needs the same key)`);
  await writePskFile(out, { overwrite: values.force === true });
  io.out(values.json === true ? JSON.stringify({ file: resolve(out), mode: '0600' }) : `wrote cluster key ${resolve(out)} (mode 0600); copy it to every host`);
  return 0;
}

/** `dwcp cluster --nodes N`: N agents on loopback with generated configs, until Ctrl-C. */
export async function clusterCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { nodes: { type: 'string', short: 'n', default: '3' }, 'base-port': { type: 'string', default: '9090' }, 'data-dir': { type: 'string', default: '.dwcp' }, policy: { type: 'string', default: 'production' } });
  const n = Number(values.nodes);
  const base = Number(values['base-port']);
  if (!Number.isInteger(n) || n < 1 || n > 20) throw new UsageError(`--nodes must be an integer from 1 to 20, got ${String(values.nodes)}`);
  if (!Number.isInteger(base) || base < 1024 || base > 60000) throw new UsageError(`--base-port must be a port from 1024 to 60000, got ${String(values['base-port'])}`);
  const root = resolve(str(values['data-dir']) ?? '.dwcp');
  const plan = await prepareCluster(root, n, base, str(values.policy) ?? 'production');
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const children: ChildProcess[] = [];
  let stopping = false;
  const exited = plan.map(
    (p) =>
      new Promise<number>((resolveExit) => {
        const child = spawn(process.execPath, [...process.execArgv, main, 'agent', '--config', p.configFile], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DWCP_LOG_FORMAT: 'text' } });
        children.push(child);
        const prefix = (chunk: Buffer, write: (s: string) => void): void => {
          for (const line of chunk.toString().split('\n')) if (line.trim()) write(`[${p.nodeId}] ${line}`);
        };
        child.stdout?.on('data', (c: Buffer) => prefix(c, (l) => io.out(l)));
        child.stderr?.on('data', (c: Buffer) => prefix(c, (l) => io.err(l)));
        child.on('exit', (code, signal) => {
          if (!stopping) {
            io.err(`[${p.nodeId}] exited unexpectedly (${signal ?? code}); stopping the cluster`);
            stop();
          }
          resolveExit(code ?? 1);
        });
      }),
  );
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    for (const c of children) c.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  io.out(
    [
      `dwcp: ${n} agents on loopback, data in ${root}`,
      ...plan.map((p) => `  ${p.nodeId}: dashboard and API http://${p.api}/   (p2p ${p.listen})`),
      `try: dwcp --api http://${plan[0]!.api} status · dwcp vm put vm-1 --set host=${plan[0]!.nodeId} --set power_state=running --set cpu_allocation=2 --set memory_mb=2048`,
      'Ctrl-C stops all agents cleanly.',
    ].join('\n'),
  );
  const codes = await Promise.all(exited);
  return stopping && codes.every((c) => c === 0) ? 0 : 1;
}

export interface ClusterNodePlan {
  readonly nodeId: string;
  readonly dataDir: string;
  readonly configFile: string;
  readonly api: string;
  readonly listen: string;
  readonly peerId: string;
}

/** Create (or reuse) identities, a shared key and one config file per node under `root`. */
export async function prepareCluster(root: string, n: number, basePort: number, policy: string): Promise<ClusterNodePlan[]> {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const psk = join(root, 'cluster.psk');
  if (!existsSync(psk)) await writePskFile(psk);
  const ids = Array.from({ length: n }, (_, i) => `hv-${String(i + 1).padStart(2, '0')}`);
  const plan: ClusterNodePlan[] = [];
  for (let i = 0; i < n; i++) {
    const nodeId = ids[i]!;
    const dataDir = join(root, nodeId);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const identity = await loadOrCreateIdentity(dataDir);
    plan.push({ nodeId, dataDir, configFile: join(dataDir, 'agent.yaml'), api: `127.0.0.1:${basePort + i}`, listen: `/ip4/127.0.0.1/tcp/${basePort + 1000 + i}`, peerId: identity.peerId.toString() });
  }
  for (const p of plan) {
    const bootstrap = plan.filter((o) => o !== p).map((o) => `${o.listen}/p2p/${o.peerId}`);
    const yaml = [
      `# generated by dwcp cluster`,
      `node: { id: ${p.nodeId}, priority: ${100 - plan.indexOf(p)}, dataDir: ${JSON.stringify(p.dataDir)}, capacity: { cpu: 64, memory_mb: 262144 } }`,
      `cluster:`,
      `  name: local`,
      `  voters: [${ids.join(', ')}]`,
      `  expectedVotes: ${n}`,
      `  pskFile: ${JSON.stringify(psk)}`,
      `  listen: [${p.listen}]`,
      `  bootstrap: [${bootstrap.join(', ')}]`,
      `api: { listen: "${p.api}" }`,
      `policy: ${policy}`,
      `log: { level: info, format: text }`,
      '',
    ].join('\n');
    writeFileSync(p.configFile, yaml);
  }
  return plan;
}
