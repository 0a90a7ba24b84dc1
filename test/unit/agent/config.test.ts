import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, guardOptions, loadAgentConfig, parseConfig } from '../../../src/agent/config.js';
import { transportDefaults } from '../../../src/adapters/libp2p/options.js';

const example = readFileSync(new URL('../../../config/agent.example.yaml', import.meta.url), 'utf8');
const minimal = 'node: { id: hv-01 }\ncluster: { insecureNoPsk: true }\n';

function err(fn: () => unknown): { code: string; message: string; meta: Record<string, unknown> } {
  try {
    fn();
  } catch (e) {
    return e as { code: string; message: string; meta: Record<string, unknown> };
  }
  throw new Error('expected an error');
}

describe('agent config', () => {
  it('accepts the shipped example with every key of INTERFACE.md', () => {
    const cfg = parseConfig(example, '/etc/dwcp/agent.yaml');
    expect(cfg.node).toMatchObject({ id: 'hv-01', priority: 100, dataDir: '/var/lib/dwcp', capacity: { cpu: 64, memory_mb: 262144 } });
    expect(cfg.cluster).toMatchObject({ expectedVotes: 5, voters: ['hv-01', 'hv-02', 'hv-03', 'hv-04', 'hv-05'], overcommit: { cpu: 4, memory: 1 } });
    expect(cfg.recovery).toMatchObject({ checkpointInterval: 300_000, partitionHealTimeout: 60_000, splitBrainResolution: 'quorum', snapshotRetention: 10 });
    expect(cfg.api.listen).toBe('127.0.0.1:9090');
    // The example spells out every cluster.guard key with its default.
    expect(cfg.cluster.guard).toEqual(DEFAULT_CONFIG.cluster.guard);
  });

  it.each([
    ['node: { id: hv-01, colour: blue }\ncluster: { insecureNoPsk: true }', 'node.colour', /unknown key/],
    ['node: { id: "bad id!" }\ncluster: { insecureNoPsk: true }', 'node.id', /node id/],
    ['node: { id: hv-01 }\ncluster: { insecureNoPsk: true }\nrecovery: { checkpointInterval: soon }', 'recovery.checkpointInterval', /duration/],
    ['node: { id: hv-01 }\ncluster: { insecureNoPsk: true }\nrecovery: { splitBrainResolution: coin }', 'recovery.splitBrainResolution', /quorum, manual, priority/],
    ['node: { id: hv-01 }\ncluster: { insecureNoPsk: true, expectedVotes: 2, voters: [a, b, c] }', 'cluster.voters', /quorums intersect/],
    ['node: { id: hv-01 }\ncluster: { insecureNoPsk: true }\napi: { listen: "0.0.0.0:9090" }', 'api.tokenFile', /not a loopback/],
    ['node: { id: hv-01 }', 'cluster.pskFile', /pre-shared key/],
    ['cluster: { insecureNoPsk: true }', 'node.id', /required/],
    ['node: { id: hv-01 }\ncluster: { insecureNoPsk: true, bootstrap: [10.0.0.1:7700] }', 'cluster.bootstrap[0]', /multiaddr/],
    ['node: { id: hv-01 }\ncluster: { insecureNoPsk: true, bootstrap: [/ip4/10.0.0.1/tcp/7700] }', 'cluster.bootstrap[0]', /\/p2p\/<peer id>/],
    ['node: { id: hv-01 }\ncluster: { insecureNoPsk: true }\nhypervisor: { driver: kvm }', 'hypervisor.driver', /none, exec/],
    ['node: { id: hv-01 }\ncluster: { insecureNoPsk: true }\nhypervisor: { supervise: yes please }', 'hypervisor.supervise', /true or false/],
  ])('rejects %j naming %s', (text, path, expected) => {
    const e = err(() => parseConfig(text, 'agent.yaml'));
    expect(e.code).toBe('ERR_CONFIG');
    expect(e.meta.path).toBe(path);
    expect(e.message).toMatch(expected);
    expect(e.message).toContain('agent.yaml');
  });

  it('names the line and column of a YAML syntax error', () => {
    const e = err(() => parseConfig('node:\n  id: [unclosed\n', 'agent.yaml'));
    expect(e.code).toBe('ERR_CONFIG');
    expect(e.message).toMatch(/line \d+, column \d+/);
  });

  it('lets DWCP_* variables override the file and flags override both', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dwcp-cfg-'));
    const file = join(dir, 'agent.yaml');
    writeFileSync(file, 'node: { id: from-file, dataDir: data }\ncluster: { insecureNoPsk: true }\napi: { listen: "127.0.0.1:9090" }\n');
    const p1 = '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWRBhwfeP2Y4TCx1SM6s9rUoHhR5STiGwxBhgFRcw3UERE';
    const p2 = '/ip4/127.0.0.1/tcp/2/p2p/12D3KooWRBhwfeP2Y4TCx1SM6s9rUoHhR5STiGwxBhgFRcw3UERE';
    const env = { DWCP_NODE_ID: 'from-env', DWCP_API_LISTEN: '127.0.0.1:9999', DWCP_BOOTSTRAP: `${p1}, ${p2}` };
    const cfg = loadAgentConfig(file, { 'node.id': 'from-flag' }, env);
    expect(cfg.node.id).toBe('from-flag');
    expect(cfg.api.listen).toBe('127.0.0.1:9999');
    expect(cfg.cluster.bootstrap).toEqual([p1, p2]);
    expect(cfg.node.dataDir).toBe(join(dir, 'data')); // relative to the config file
    expect(loadAgentConfig(file, {}, {}).node.id).toBe('from-file');
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports an unreadable config file by name', () => {
    const e = err(() => loadAgentConfig('/nonexistent/dwcp.yaml', {}, {}));
    expect(e).toMatchObject({ code: 'ERR_CONFIG', meta: { file: '/nonexistent/dwcp.yaml' } });
  });

  it('accepts a minimal development config with defaults', () => {
    const cfg = parseConfig(minimal);
    expect(cfg.cluster.insecureNoPsk).toBe(true);
    expect(cfg.policy).toBe('production');
    expect(cfg.hypervisor.driver).toBe('none');
    expect(cfg.hypervisor.supervise).toBe(false);
  });

  describe('cluster.guard', () => {
    const withGuard = (guard: string): string => `node: { id: hv-01 }\ncluster: { insecureNoPsk: true, guard: ${guard} }\n`;

    it('reads every key, durations included, and keeps the defaults of the keys not given', () => {
      const cfg = parseConfig(
        withGuard(
          '{ messagesPerSecond: 500, burst: 1000, invalidLimit: 32, invalidWindow: 5s, banFor: 1h, newcomerProbation: 30s, newcomerMessagesPerSecond: 300, newcomerBurst: 600, newcomerInvalidLimit: 16, overuseFactor: 8, overuseFor: 1m, auditInterval: 30s, auditMaxPeers: 64 }',
        ),
      );
      expect(cfg.cluster.guard).toEqual({
        messagesPerSecond: 500,
        burst: 1000,
        invalidLimit: 32,
        invalidWindow: 5_000,
        banFor: 3_600_000,
        newcomerProbation: 30_000,
        newcomerMessagesPerSecond: 300,
        newcomerBurst: 600,
        newcomerInvalidLimit: 16,
        overuseFactor: 8,
        overuseFor: 60_000,
        auditInterval: 30_000,
        auditMaxPeers: 64,
      });
      const partial = parseConfig(withGuard('{ banFor: 30m }')).cluster.guard;
      expect(partial).toEqual({ ...DEFAULT_CONFIG.cluster.guard, banFor: 1_800_000 });
      // Off switches.
      expect(parseConfig(withGuard('{ messagesPerSecond: 0, invalidLimit: 0, newcomerProbation: 0, overuseFactor: 0 }')).cluster.guard).toMatchObject({
        messagesPerSecond: 0,
        invalidLimit: 0,
        newcomerProbation: 0,
        overuseFactor: 0,
      });
    });

    it('defaults to the transport defaults, and maps onto the transport options', () => {
      const o = guardOptions(DEFAULT_CONFIG.cluster.guard);
      for (const [k, v] of Object.entries(o)) expect(v, k).toBe(transportDefaults[k as keyof typeof transportDefaults]);
      expect(Object.keys(o).sort()).toEqual(
        [
          'peerMessageRate',
          'peerMessageBurst',
          'banAfterInvalid',
          'banStrikeWindowMs',
          'banMs',
          'newcomerMs',
          'newcomerMessageRate',
          'newcomerMessageBurst',
          'newcomerInvalidLimit',
          'overuseFactor',
          'overuseMs',
        ].sort(),
      );
      expect(guardOptions({ ...DEFAULT_CONFIG.cluster.guard, overuseFor: 5_000, newcomerProbation: 0 })).toMatchObject({ overuseMs: 5_000, newcomerMs: 0 });
    });

    it.each([
      ['{ messagesPerScond: 10 }', 'cluster.guard.messagesPerScond', /unknown key/],
      ['{ messagesPerSecond: -1 }', 'cluster.guard.messagesPerSecond', /integer in \[0, /],
      ['{ messagesPerSecond: 1.5 }', 'cluster.guard.messagesPerSecond', /integer/],
      ['{ burst: 0 }', 'cluster.guard.burst', /integer in \[1, /],
      ['{ messagesPerSecond: 2000, burst: 100 }', 'cluster.guard.burst', /a tenth of messagesPerSecond/],
      ['{ invalidLimit: lots }', 'cluster.guard.invalidLimit', /integer/],
      ['{ invalidWindow: 0s }', 'cluster.guard.invalidWindow', /duration above 0/],
      ['{ invalidWindow: soon }', 'cluster.guard.invalidWindow', /duration/],
      ['{ banFor: 30d }', 'cluster.guard.banFor', /duration/],
      ['{ banFor: 8000h }', 'cluster.guard.banFor', /at most 168h/],
      ['{ newcomerProbation: -5s }', 'cluster.guard.newcomerProbation', /duration/],
      ['{ newcomerMessagesPerSecond: 1000, newcomerBurst: 10 }', 'cluster.guard.newcomerBurst', /a tenth/],
      ['{ newcomerInvalidLimit: "64" }', 'cluster.guard.newcomerInvalidLimit', /integer/],
      ['{ overuseFactor: 1.5 }', 'cluster.guard.overuseFactor', /0 \(off\) or a number in \[2, 1000\]/],
      ['{ overuseFactor: "4" }', 'cluster.guard.overuseFactor', /0 \(off\)/],
      ['{ overuseFor: 0 }', 'cluster.guard.overuseFor', /duration above 0/],
      ['{ auditInterval: 0ms }', 'cluster.guard.auditInterval', /duration above 0/],
      ['{ auditMaxPeers: 0 }', 'cluster.guard.auditMaxPeers', /integer in \[1, /],
      ['[64]', 'cluster.guard', /a mapping/],
    ])('rejects guard %s naming %s', (guard, path, expected) => {
      const e = err(() => parseConfig(withGuard(guard), 'agent.yaml'));
      expect(e.code).toBe('ERR_CONFIG');
      expect(e.meta.path).toBe(path);
      expect(e.message).toMatch(expected);
    });
  });
});
