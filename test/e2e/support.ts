/**
 * e2e support: real `dwcp agent --config FILE` processes (the built CLI in dist/), a small HTTP
 * client for their admin API, and `runCli` for the `dwcp` client commands.
 *
 * Every process started here is registered and killed by {@link killAll} (called from each file's
 * afterAll, and as a last resort on process exit), so a failing test never leaves agents behind.
 * Agent output is kept in memory and in `<dir>/<node>.log`; {@link dumpLogsOnFailure} prints it
 * when a test fails. Each cluster lives in its own temp dir (configs, identities, key, logs, data),
 * deleted afterwards unless DWCP_E2E_KEEP=1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach } from 'vitest';

export const ROOT = resolve(import.meta.dirname, '../..');
export const CLI = join(ROOT, 'dist/src/cli/main.js');

const children = new Set<ChildProcess>();

/** SIGKILL every process started by this module that is still running. */
export function killAll(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
  children.clear();
}
process.once('exit', killAll);

export function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm run test:e2e does)`);
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `dwcp-e2e-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

/** A TCP port that was free a moment ago on 127.0.0.1 (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

export async function freePorts(n: number): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < n) out.add(await freePort());
  return [...out];
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `check` until it returns a value other than `undefined`/`false`, or fail with the last reason. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const why = last === undefined ? '' : `: ${last instanceof Error ? last.message : JSON.stringify(last)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

export interface HttpReply<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly text: string;
  readonly headers: Headers;
}

export interface RequestOptions {
  readonly headers?: Record<string, string>;
  /** A raw body (sent as is); otherwise `json` is serialised. */
  readonly raw?: string | Buffer;
  readonly json?: unknown;
  readonly timeoutMs?: number;
}

export async function http<T = unknown>(method: string, url: string, opts: RequestOptions = {}): Promise<HttpReply<T>> {
  const hasBody = opts.raw !== undefined || opts.json !== undefined;
  const res = await fetch(url, {
    method,
    headers: { ...(hasBody ? { 'Content-Type': 'application/json' } : {}), ...opts.headers },
    ...(opts.raw !== undefined ? { body: opts.raw } : opts.json !== undefined ? { body: JSON.stringify(opts.json) } : {}),
    signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON (metrics, the dashboard page)
  }
  return { status: res.status, body: body as T, text, headers: res.headers };
}

/**
 * One request with the path sent byte for byte (fetch normalises `%2e%2e` and `..` segments away;
 * a client probing path traversal does not).
 */
export async function rawRequest(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<HttpReply> {
  return new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { ...(body !== undefined && !('Transfer-Encoding' in headers) ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) } : {}), ...headers }, timeout: 15_000 }, (r) => {
      let text = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => (text += c));
      r.on('end', () => {
        let parsed: unknown = text;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          // not JSON
        }
        const h = new Headers();
        for (const [k, v] of Object.entries(r.headers)) if (typeof v === 'string') h.set(k, v);
        res({ status: r.statusCode ?? 0, body: parsed, text, headers: h });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.on('error', rej);
    req.end(body);
  });
}

/** The error body every API error has. */
export interface ApiErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}

export interface VersionView {
  readonly id: string;
  readonly clock: Record<string, number>;
  readonly hlc: { wall: number; logical: number };
  readonly origin: string;
  readonly deleted?: boolean;
}

export interface VmView {
  readonly id: string;
  readonly state: Record<string, unknown> | null;
  readonly deleted: boolean;
  readonly version: VersionView;
  readonly siblings: Array<{ state: unknown; version: VersionView }>;
  readonly conflictId: string | null;
}

export interface ConflictView {
  readonly id: string;
  readonly resourceId: string;
  readonly type: string;
  readonly severity: string;
  readonly complexity: number;
  readonly strategy: string;
  readonly status: string;
  readonly detectedAt: string;
  readonly resolvedAt: string | null;
  readonly decision: {
    readonly policy: string;
    readonly strategy: string;
    readonly outcome: string;
    readonly ballot?: string;
    readonly path: Array<{ step: string; matched: boolean; detail: string }>;
    readonly fieldDecisions: Array<{ field: string; rule: string; winner: string; detail?: string }>;
    readonly notes: string[];
    readonly [k: string]: unknown;
  };
  readonly explanation?: string;
}

export interface StatusView {
  readonly nodeId: string;
  readonly peerId: string;
  readonly peers: Array<{ nodeId: string; peerId: string | null; state: string }>;
  readonly quorum: { have: number; need: number; ok: boolean };
  readonly [k: string]: unknown;
}

/** A sample value from Prometheus text (`name{labels} value`); labels must match exactly those given. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let total: number | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have: Record<string, string> = {};
    for (const pair of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) have[pair[1]!] = pair[2]!;
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) total = (total ?? 0) + Number(m[4]);
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// The CLI
// ---------------------------------------------------------------------------------------------

/** This process's environment without any DWCP_* variable (they would override configs and flags). */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DWCP_')));
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run `dwcp ARGS` to completion (killed after `timeoutMs`). */
export async function runCli(args: readonly string[], opts: { env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...cleanEnv(), ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((res) => child.once('close', (c, s) => res([c, s])));
  clearTimeout(timer);
  children.delete(child);
  return { code, signal, stdout, stderr };
}

/** Run a client command against `api` (`--api URL`), asserting nothing. */
export function cli(api: string, ...args: string[]): Promise<CliResult> {
  return runCli(['--api', api, ...args]);
}

// ---------------------------------------------------------------------------------------------
// Agent processes
// ---------------------------------------------------------------------------------------------

/** One `dwcp agent` process (or its plan while it is not running). */
export class AgentProc {
  child: ChildProcess | undefined;
  output = '';
  /** Resolves with the exit code (or null on a signal) of the current process. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> = Promise.resolve({ code: null, signal: null });
  starts = 0;
  /** Sent as `Authorization: Bearer` by get/send/status/... when set (not by the bare `http`). */
  token: string | undefined;

  constructor(
    readonly nodeId: string,
    readonly configFile: string,
    readonly apiPort: number,
    readonly p2pPort: number,
    readonly dataDir: string,
    readonly logFile: string,
    readonly env: Record<string, string> = {},
  ) {}

  get api(): string {
    return `http://127.0.0.1:${this.apiPort}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Spawn `dwcp agent --config FILE [extra]`. */
  start(extra: readonly string[] = []): void {
    if (this.running) throw new Error(`${this.nodeId} is already running`);
    this.starts++;
    const child = spawn(process.execPath, [CLI, 'agent', '--config', this.configFile, ...extra], {
      cwd: ROOT,
      env: { ...cleanEnv(), DWCP_TEST_FAULT_INJECTION: '1', DWCP_LOG_FORMAT: 'text', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    this.child = child;
    const tag = `--- ${this.nodeId} start #${this.starts} (pid ${child.pid ?? '?'}) ---\n`;
    this.output += tag;
    const append = (c: Buffer): void => {
      const s = c.toString();
      this.output += s;
      try {
        writeFileSync(this.logFile, s, { flag: 'a' });
      } catch {
        // the directory is gone (cleanup): keep the in-memory copy
      }
    };
    writeFileSync(this.logFile, tag, { flag: 'a' });
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    this.exited = new Promise((res) =>
      child.once('close', (code, signal) => {
        children.delete(child);
        res({ code, signal });
      }),
    );
  }

  private auth(opts: RequestOptions): RequestOptions {
    return this.token === undefined ? opts : { ...opts, headers: { Authorization: `Bearer ${this.token}`, ...opts.headers } };
  }

  async get<T = unknown>(path: string, opts: RequestOptions = {}): Promise<HttpReply<T>> {
    return http<T>('GET', this.api + path, this.auth(opts));
  }

  async send<T = unknown>(method: string, path: string, json?: unknown, opts: RequestOptions = {}): Promise<HttpReply<T>> {
    return http<T>(method, this.api + path, this.auth({ ...opts, ...(json !== undefined ? { json } : {}) }));
  }

  async status(): Promise<StatusView> {
    const r = await this.get<StatusView>('/v1/status');
    if (r.status !== 200) throw new Error(`${this.nodeId} /v1/status: ${r.status} ${r.text}`);
    return r.body;
  }

  async vm(id: string): Promise<VmView | undefined> {
    const r = await this.get<VmView>(`/v1/vms/${id}`);
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new Error(`${this.nodeId} GET /v1/vms/${id}: ${r.status} ${r.text}`);
    return r.body;
  }

  async conflicts(status = 'all'): Promise<ConflictView[]> {
    const r = await this.get<ConflictView[]>(`/v1/conflicts?status=${status}`);
    if (r.status !== 200) throw new Error(`${this.nodeId} /v1/conflicts: ${r.status} ${r.text}`);
    return r.body;
  }

  async metrics(): Promise<string> {
    return (await this.get('/metrics')).text;
  }

  /** Test-only fault injection (DWCP_TEST_FAULT_INJECTION=1). */
  async fault(body: { partition: string[] } | { cut: string[] } | { heal: true }): Promise<void> {
    const r = await this.send('POST', '/v1/test/faults', body);
    if (r.status !== 200) throw new Error(`${this.nodeId} fault ${JSON.stringify(body)}: ${r.status} ${r.text}`);
  }

  /** /readyz answers 200. */
  async waitReady(timeoutMs = 30_000): Promise<void> {
    await waitFor(
      `${this.nodeId} /readyz`,
      async () => {
        if (!this.running) throw new Error(`${this.nodeId} exited (${this.child?.exitCode ?? this.child?.signalCode ?? '?'})`);
        return (await this.get('/readyz', { timeoutMs: 2_000 })).status === 200;
      },
      timeoutMs,
      200,
    );
  }

  /** SIGTERM and wait for the exit (SIGKILL after `timeoutMs`). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const child = this.child;
    if (!child || !this.running) return this.exited;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const r = await this.exited;
    clearTimeout(timer);
    return r;
  }
}

export interface ClusterOptions {
  readonly nodes?: number;
  /** `policy:` of every config: a preset name or a file path. */
  readonly policy?: string;
  /** A policy file's YAML: written to `<dir>/policy.yaml`, which every config then names (wins over `policy`). */
  readonly policyFile?: string;
  /** Extra YAML lines appended to each node's config (e.g. `recovery: {...}`). */
  readonly extraYaml?: (nodeId: string) => string;
  /** Test-only fault injection endpoint (default on). */
  readonly faultInjection?: boolean;
  /** The API's listen host (default 127.0.0.1; the agents are still reached on 127.0.0.1). */
  readonly apiHost?: string;
  /** A bearer token: written to `<dir>/api.token` and named by `api.tokenFile`; the helpers send it. */
  readonly token?: string;
}

export interface Cluster {
  readonly dir: string;
  readonly psk: string;
  /** What every config's `policy:` says (a preset name or the policy file's path). */
  readonly policy: string;
  readonly agents: AgentProc[];
  agent(nodeId: string): AgentProc;
  /** Start every agent (or the given ones) and wait until all are ready and see each other up. */
  start(only?: readonly AgentProc[]): Promise<void>;
  /** Wait until each running agent sees every other running agent `up` and has quorum. */
  waitConnected(timeoutMs?: number): Promise<void>;
  /** SIGTERM every running agent; resolves with their exit codes by node id. */
  stop(): Promise<Record<string, number | null>>;
  /** Print each agent's output (on failure). */
  dumpLogs(): void;
  /** Kill what still runs and delete the directory. */
  destroy(): Promise<void>;
}

/**
 * Plan a cluster of N agents under a new temp dir: a cluster key (`dwcp keygen`), one identity per
 * node (`dwcp init`, whose peer id pins the bootstrap addresses), free ports, one config file each.
 * Nothing runs yet: call `start()`.
 */
export async function createCluster(name: string, opts: ClusterOptions = {}): Promise<Cluster> {
  assertBuilt();
  const n = opts.nodes ?? 3;
  const dir = tempDir(name);
  const ids = Array.from({ length: n }, (_, i) => `hv-${String(i + 1).padStart(2, '0')}`);
  const psk = join(dir, 'cluster.psk');
  let policy = opts.policy ?? 'production';
  if (opts.policyFile !== undefined) {
    policy = join(dir, 'policy.yaml');
    writeFileSync(policy, opts.policyFile);
  }
  let tokenFile: string | null = null;
  if (opts.token !== undefined) {
    tokenFile = join(dir, 'api.token');
    writeFileSync(tokenFile, opts.token + '\n', { mode: 0o600 });
  }
  const ports = await freePorts(2 * n);
  const [keygen, ...inits] = await Promise.all([
    runCli(['keygen', '--out', psk]),
    ...ids.map((id) => runCli(['init', '--data-dir', join(dir, id), '--node-id', id, '--json'])),
  ]);
  if (keygen.code !== 0) throw new Error(`dwcp keygen failed (${keygen.code}): ${keygen.stderr}`);
  const peerIds = inits.map((r, i) => {
    if (r.code !== 0) throw new Error(`dwcp init ${ids[i]} failed (${r.code}): ${r.stderr}`);
    return (JSON.parse(r.stdout) as { peerId: string }).peerId;
  });
  const agents = ids.map((id, i) => {
    const dataDir = join(dir, id);
    mkdirSync(dataDir, { recursive: true });
    const a = new AgentProc(id, join(dir, `${id}.yaml`), ports[i]!, ports[n + i]!, dataDir, join(dir, `${id}.log`), opts.faultInjection === false ? { DWCP_TEST_FAULT_INJECTION: '' } : {});
    a.token = opts.token;
    return a;
  });
  for (const a of agents) {
    const bootstrap = agents.filter((o) => o !== a).map((o) => `/ip4/127.0.0.1/tcp/${o.p2pPort}/p2p/${peerIds[agents.indexOf(o)]!}`);
    const yaml = [
      `node:`,
      `  id: ${a.nodeId}`,
      `  priority: ${100 - agents.indexOf(a)}`,
      `  dataDir: ${JSON.stringify(a.dataDir)}`,
      `  capacity: { cpu: 64, memory_mb: 262144 }`,
      `cluster:`,
      `  name: e2e`,
      `  voters: [${ids.join(', ')}]`,
      `  expectedVotes: ${n}`,
      `  pskFile: ${JSON.stringify(psk)}`,
      `  listen: [/ip4/127.0.0.1/tcp/${a.p2pPort}]`,
      `  bootstrap: [${bootstrap.join(', ')}]`,
      `api: { listen: "${opts.apiHost ?? '127.0.0.1'}:${a.apiPort}", tokenFile: ${JSON.stringify(tokenFile)} }`,
      `policy: ${JSON.stringify(policy)}`,
      `log: { level: info, format: text }`,
      opts.extraYaml?.(a.nodeId) ?? '',
      '',
    ].join('\n');
    writeFileSync(a.configFile, yaml);
  }

  const cluster: Cluster = {
    dir,
    psk,
    policy,
    agents,
    agent(nodeId) {
      const a = agents.find((x) => x.nodeId === nodeId);
      if (!a) throw new Error(`no agent ${nodeId}`);
      return a;
    },
    async start(only = agents) {
      for (const a of only) a.start();
      await Promise.all(only.map((a) => a.waitReady()));
      await cluster.waitConnected();
    },
    async waitConnected(timeoutMs = 30_000) {
      const running = agents.filter((a) => a.running);
      await waitFor(
        `every agent to see ${running.map((a) => a.nodeId).join(', ')} up`,
        async () => {
          for (const a of running) {
            const s = await a.status();
            const up = new Set(s.peers.filter((p) => p.state === 'up').map((p) => p.nodeId));
            const missing = running.filter((o) => o !== a && !up.has(o.nodeId)).map((o) => o.nodeId);
            if (missing.length > 0) throw new Error(`${a.nodeId} does not see ${missing.join(', ')} up (peers: ${JSON.stringify(s.peers)})`);
            if (running.length * 2 > n && !s.quorum.ok) throw new Error(`${a.nodeId} has no quorum: ${JSON.stringify(s.quorum)}`);
          }
          return true;
        },
        timeoutMs,
        300,
      );
    },
    async stop() {
      const codes = await Promise.all(agents.map(async (a) => [a.nodeId, a.running ? (await a.stop()).code : null] as const));
      return Object.fromEntries(codes);
    },
    dumpLogs() {
      for (const a of agents) {
        process.stderr.write(`\n===== ${a.nodeId} (config ${a.configFile}, log ${a.logFile}) =====\n${a.output.slice(-40_000)}\n`);
      }
    },
    async destroy() {
      await Promise.all(agents.map((a) => a.stop('SIGKILL', 5_000)));
      killAll();
      if (process.env.DWCP_E2E_KEEP !== '1') removeDir(dir);
    },
  };
  return cluster;
}

/** Print the cluster's agent logs after each failed test (call at the top level of a test file). */
export function dumpLogsOnFailure(get: () => { dumpLogs(): void } | undefined): void {
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') get()?.dumpLogs();
  });
}

/** A MAC and an IP derived from the VM id, so that two test VMs never share one (resource contention). */
export function nicOf(id: string, name = 'eth0'): { name: string; mac: string; ip: string } {
  const h = createHash('sha256').update(`${id}/${name}`).digest();
  const hex = (i: number): string => h[i]!.toString(16).padStart(2, '0');
  return { name, mac: `52:54:00:${hex(0)}:${hex(1)}:${hex(2)}`, ip: `10.${h[3]! % 250}.${h[4]! % 250}.${(h[5]! % 250) + 2}` };
}

/** A VM state as in INTERFACE.md (its NIC's MAC and IP are unique to the id). */
export function vmState(id: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    host: 'hv-01',
    power_state: 'running',
    cpu_allocation: 4,
    memory_mb: 8192,
    network_config: { interfaces: [nicOf(id)] },
    disk_config: [{ path: `/var/lib/vms/${id}.qcow2`, size_gb: 40 }],
    snapshot_id: 'snap-7',
    migration_status: 'none',
    ...over,
  };
}

/**
 * Split the running agents into two sides: each agent keeps only its own side reachable
 * (the fault shim cuts what it receives from, and sends to, everyone else).
 */
export async function partition(cluster: Cluster, sideA: readonly string[], sideB: readonly string[]): Promise<void> {
  await Promise.all([
    ...sideA.map((id) => cluster.agent(id).fault({ partition: sideA.filter((x) => x !== id) })),
    ...sideB.map((id) => cluster.agent(id).fault({ partition: sideB.filter((x) => x !== id) })),
  ]);
}

export async function heal(cluster: Cluster): Promise<void> {
  await Promise.all(cluster.agents.filter((a) => a.running).map((a) => a.fault({ heal: true })));
}

/** Wait until `observer` sees each of `peers` in `state`. */
export async function waitPeerState(observer: AgentProc, peers: readonly string[], state: string, timeoutMs = 20_000): Promise<void> {
  await waitFor(
    `${observer.nodeId} to see ${peers.join(', ')} ${state}`,
    async () => {
      const s = await observer.status();
      const bad = peers.filter((p) => s.peers.find((x) => x.nodeId === p)?.state !== state);
      if (bad.length > 0) throw new Error(`peers: ${JSON.stringify(s.peers)}`);
      return true;
    },
    timeoutMs,
    250,
  );
}
