/**
 * Real multi-host run: three agents in separate network namespaces (veth + bridge), partitioned with
 * nftables by scripts/netns-cluster.sh. Conflicting writes on both sides of the partition converge
 * after the heal. Needs root (CI runs as root); without it the test fails and says why.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SCRIPT = new URL('../../scripts/netns-cluster.sh', import.meta.url).pathname;
const DIR = '/tmp/dwcp-netns-e2e';
let token = '';

function sh(...args: string[]): string {
  return execFileSync('bash', [SCRIPT, ...args], { encoding: 'utf8', timeout: 60_000 });
}

async function api<T>(node: number, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; data: T; headers: Headers }> {
  const res = await fetch(`http://10.77.0.${10 + node}:9090${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(5_000),
  });
  return { status: res.status, data: (await res.json()) as T, headers: res.headers };
}

async function until(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (await cond()) return;
    } catch {
      // not reachable yet
    }
    if (Date.now() > end) {
      const logs = [1, 2, 3].map((i) => `--- hv-0${i}\n${tail(`${DIR}/n${i}/agent.log`)}`).join('\n');
      throw new Error(`timed out waiting for ${what}\n${logs}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

interface VmView {
  state: Record<string, unknown>;
  version: { id: string };
  siblings: Array<{ state: Record<string, unknown> }>;
}

describe('netns cluster (real hosts over TCP, nftables partitions)', () => {
  beforeAll(() => {
    if (process.getuid?.() !== 0) throw new Error('the netns e2e test needs root (network namespaces, nftables); CI runs as root');
    try {
      sh('down');
    } catch {
      // nothing to clean
    }
    sh('up', '3', DIR);
    token = readFileSync(`${DIR}/api.token`, 'utf8').trim();
  }, 90_000);

  afterAll(() => {
    sh('down');
  }, 60_000);

  it('converges after a partition with conflicting writes on both sides', async () => {
    const allUp = async (i: number): Promise<boolean> => {
      const s = await api<{ peers: Array<{ state: string }> }>(i, 'GET', '/v1/status');
      return s.data.peers.length === 2 && s.data.peers.every((p) => p.state === 'up');
    };
    await until(async () => (await allUp(1)) && (await allUp(2)) && (await allUp(3)), 30_000, 'all peers up');
    const base = { host: 'hv-01', power_state: 'running', cpu_allocation: 2, memory_mb: 2048 };
    expect((await api(1, 'PUT', '/v1/vms/vm-net', { id: 'vm-net', ...base })).status).toBe(200);
    await until(async () => (await api(3, 'GET', '/v1/vms/vm-net')).status === 200, 15_000, 'vm-net on hv-03');

    sh('partition', '1', '2,3');
    await until(async () => {
      const s = await api<{ quorum: { ok: boolean } }>(1, 'GET', '/v1/status');
      return !s.data.quorum.ok;
    }, 20_000, 'hv-01 to lose quorum');
    expect((await api(1, 'PUT', '/v1/vms/vm-net', { id: 'vm-net', ...base, memory_mb: 8192 })).status).toBe(200);
    expect((await api(3, 'PUT', '/v1/vms/vm-net', { id: 'vm-net', ...base, cpu_allocation: 8 })).status).toBe(200);
    expect((await api(2, 'PUT', '/v1/vms/vm-side', { id: 'vm-side', ...base, host: 'hv-02' })).status).toBe(200);

    sh('heal');
    const same = async (): Promise<boolean> => {
      const views = await Promise.all([1, 2, 3].map(async (i) => (await api<VmView[]>(i, 'GET', '/v1/vms')).data));
      const key = (v: VmView[]): string => JSON.stringify(v.map((x) => [x.version.id, x.siblings.length]));
      return views.every((v) => v.length === 2) && new Set(views.map(key)).size === 1;
    };
    await until(same, 60_000, 'identical VM sets on all three hosts');
    // Both sides' writes survive (as siblings under the production policy's concurrent_safe rule, or merged).
    const v = (await api<VmView>(2, 'GET', '/v1/vms/vm-net')).data;
    const states = [v.state, ...v.siblings.map((s) => s.state)];
    expect(states.some((s) => s.memory_mb === 8192)).toBe(true);
    expect(states.some((s) => s.cpu_allocation === 8)).toBe(true);
    const conflicts = (await api<Array<{ resourceId: string; type: string }>>(3, 'GET', '/v1/conflicts?status=all')).data;
    expect(conflicts.some((c) => c.resourceId === 'vm/vm-net' && c.type === 'concurrent_update')).toBe(true);
  }, 180_000);
});
