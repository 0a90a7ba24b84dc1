/**
 * Parent side of the network benchmarks: spawns node processes (net-node.ts) with an IPC channel,
 * calls their commands with timeouts, and always cleans up — every child is SIGKILLed if it does
 * not stop in time, and on the parent's exit; the children exit by themselves when the IPC channel
 * closes (parent gone). Temporary directories are removed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writePskFile } from '../../../src/adapters/libp2p/index.js';
import type { Command, NodeInit, Reply } from './net-protocol.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..', '..', '..');
const NODE_SCRIPT = join(HERE, 'net-node.ts');

const live = new Set<ChildProcess>();
const roots = new Set<string>();
let exitHook = false;
/** On exit, and on SIGINT/SIGTERM (then exiting as the default action would), kill every child and remove the temporary roots. */
function registerExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  const cleanup = (): void => {
    for (const c of live) c.kill('SIGKILL');
    for (const r of roots) rmSync(r, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      cleanup();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export class NodeProc {
  addrs: string[] = [];
  startMs = 0;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly tail: string[] = [];
  private exited = false;
  readonly exit: Promise<number | null>;

  constructor(
    readonly nodeId: string,
    readonly child: ChildProcess,
  ) {
    this.exit = new Promise((res) => {
      child.once('exit', (code, signal) => {
        this.exited = true;
        live.delete(child);
        const why = new Error(`node ${nodeId} exited (code ${code}, signal ${signal})${this.stderrTail()}`);
        for (const [, p] of this.pending) {
          clearTimeout(p.timer);
          p.reject(why);
        }
        this.pending.clear();
        res(code);
      });
    });
    const keep = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        this.tail.push(line.slice(0, 400));
        if (this.tail.length > 30) this.tail.shift();
      }
    };
    child.stderr?.on('data', keep);
    child.stdout?.on('data', keep);
    child.on('message', (raw) => {
      const m = raw as Reply;
      if (!('id' in m)) return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`${nodeId}: ${m.error}`));
    });
  }

  stderrTail(): string {
    return this.tail.length ? `\n  ${this.nodeId} stderr:\n  ${this.tail.slice(-12).join('\n  ')}` : '';
  }

  call<T>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`node ${this.nodeId} has exited${this.stderrTail()}`));
    const id = this.nextId++;
    return new Promise<T>((res, rej) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        rej(new Error(`${this.nodeId}: ${cmd} timed out after ${timeoutMs} ms${this.stderrTail()}`));
      }, timeoutMs);
      this.pending.set(id, { resolve: res, reject: rej, timer });
      this.child.send({ id, cmd, args } satisfies Command);
    });
  }

  /** Ask the node to stop; SIGKILL it if it has not exited within `graceMs`. */
  async stop(graceMs = 6_000): Promise<void> {
    if (this.exited) return;
    this.call('stop', {}, graceMs).catch(() => undefined);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exit;
    clearTimeout(timer);
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }
}

/** Spawn one node process and wait for its `ready` announcement. */
export function spawnNode(init: NodeInit, timeoutMs = 90_000): Promise<NodeProc> {
  registerExitHook();
  // DWCP_BENCH_NET_PROF=<dir>: every node process writes a V8 CPU profile into <dir>/<node id>/ when it stops.
  const prof = process.env.DWCP_BENCH_NET_PROF;
  const profArgs = prof ? ['--cpu-prof', `--cpu-prof-dir=${join(resolve(prof), init.nodeId)}`] : [];
  const child = spawn(process.execPath, [...profArgs, '--import', 'tsx', NODE_SCRIPT, JSON.stringify(init)], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  live.add(child);
  const proc = new NodeProc(init.nodeId, child);
  return new Promise<NodeProc>((res, rej) => {
    const timer = setTimeout(() => {
      proc.kill();
      rej(new Error(`node ${init.nodeId} not ready after ${timeoutMs} ms${proc.stderrTail()}`));
    }, timeoutMs);
    const onMessage = (raw: unknown): void => {
      const m = raw as Reply;
      if ('event' in m && m.event === 'ready') {
        clearTimeout(timer);
        child.off('message', onMessage);
        proc.addrs = [...m.addrs];
        proc.startMs = m.startMs;
        res(proc);
      } else if ('event' in m && m.event === 'fatal') {
        clearTimeout(timer);
        child.off('message', onMessage);
        proc.kill();
        rej(new Error(`node ${init.nodeId} failed to start: ${m.error}`));
      }
    };
    child.on('message', onMessage);
    void proc.exit.then((code) => {
      clearTimeout(timer);
      rej(new Error(`node ${init.nodeId} exited during start (code ${code})${proc.stderrTail()}`));
    });
  });
}

/** A set of node processes sharing a temporary root and a pnet key. */
export class ProcCluster {
  readonly nodes: NodeProc[] = [];
  private constructor(
    readonly root: string,
    readonly pskFile: string,
    readonly cluster: string,
  ) {}

  static async create(cluster: string): Promise<ProcCluster> {
    registerExitHook();
    const root = mkdtempSync(join(tmpdir(), 'dwcp-netbench-'));
    roots.add(root);
    const pskFile = join(root, 'cluster.psk');
    await writePskFile(pskFile);
    return new ProcCluster(root, pskFile, cluster);
  }

  init(nodeId: string, extra: Omit<Partial<NodeInit>, 'nodeId'> & Pick<NodeInit, 'mode'>): NodeInit {
    return { nodeId, dir: join(this.root, nodeId), pskFile: this.pskFile, cluster: this.cluster, ...extra };
  }

  /** Spawn nodes in parallel (all are killed if one fails). */
  async spawn(inits: readonly NodeInit[]): Promise<NodeProc[]> {
    const settled = await Promise.allSettled(inits.map((i) => spawnNode(i)));
    const ok = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    this.nodes.push(...ok);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
    return ok;
  }

  /** Each node dials every earlier one (as the integration tests bootstrap), then every node must see all others bound and connected. */
  async connectAll(nodes: readonly NodeProc[], earlier: readonly NodeProc[] = [], timeoutMs = 45_000): Promise<void> {
    const all = [...earlier, ...nodes];
    await Promise.all(
      nodes.map((n) => {
        const before = all.slice(0, all.indexOf(n));
        return before.length ? n.call('connect', { addrs: before.flatMap((b) => b.addrs) }, timeoutMs) : Promise.resolve();
      }),
    );
    await waitFor(
      async () => {
        const peers = await Promise.all(all.map((n) => n.call<{ transport: string[] }>('peers')));
        return peers.every((p) => p.transport.length >= all.length - 1);
      },
      timeoutMs,
      'every node connected to every other (transport peers)',
      100,
    );
  }

  remove(node: NodeProc): void {
    const i = this.nodes.indexOf(node);
    if (i >= 0) this.nodes.splice(i, 1);
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.splice(0).map((n) => n.stop()));
    rmSync(this.root, { recursive: true, force: true });
    roots.delete(this.root);
  }
}

export async function waitFor(cond: () => Promise<boolean> | boolean, timeoutMs: number, what: string, everyMs = 50): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await cond()) return performance.now() - start;
    if (performance.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Sum of every node's TCP bytes written (and read). */
export async function tcpBytes(nodes: readonly NodeProc[]): Promise<{ written: number; read: number }> {
  const all = await Promise.all(nodes.map((n) => n.call<{ written: number; read: number }>('bytes')));
  return { written: all.reduce((s, x) => s + x.written, 0), read: all.reduce((s, x) => s + x.read, 0) };
}
