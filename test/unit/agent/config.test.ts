import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAgentConfig, parseConfig } from '../../../src/agent/config.js';

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
});
