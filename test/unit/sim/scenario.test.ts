import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario, parseScenario, ScenarioError, type Scenario } from '../../../simulations/index.js';

const SCENARIO_DIR = join(import.meta.dirname, '../../../simulations/scenarios');

/** The INTERFACE.md example, verbatim. */
const INTERFACE_EXAMPLE = `
name: partition-heal
nodes: 5                       # node ids n1..n5 (or a list of ids)
duration: 600s                 # virtual time
seed: 1                        # --seed overrides
network: { latency: { min: 1ms, max: 20ms }, loss: 0.01, duplication: 0.0, reorder: 0.0 }
clockSkew: 50ms                # each node's clock is off by up to this much
policy: production             # a preset name or a policy file path; --policy overrides
workload: { vms: 200, writesPerSecond: 50, conflictingShare: 0.2 }
faults:                        # at: virtual time; one action each
  - { at: 60s, partition: halves }              # halves | majorities-ring | bridge | isolate:<id> | [[n1,n2],[n3,n4,n5]]
  - { at: 120s, heal: true }
  - { at: 300s, crash: n3 }
  - { at: 320s, restart: n3 }
  - { at: 400s, pause: { node: n2, for: 30s } }
  - { at: 450s, skew: { node: n4, by: 5s } }
`;

function issueOf(text: string, file = 'bad.yaml'): ScenarioError {
  try {
    parseScenario(text, file);
  } catch (err) {
    if (err instanceof ScenarioError) return err;
    throw err;
  }
  throw new Error('expected a ScenarioError');
}

const base = (extra: string): string => `name: t\nnodes: 3\nduration: 60s\n${extra}`;

describe('scenario files', () => {
  it('reads the INTERFACE.md example', () => {
    const s: Scenario = parseScenario(INTERFACE_EXAMPLE, 'partition-heal.yaml');
    expect(s.nodes).toEqual(['n1', 'n2', 'n3', 'n4', 'n5']);
    expect(s.durationMs).toBe(600_000);
    expect(s.network.latency).toEqual({ min: 1, max: 20, distribution: 'uniform' });
    expect(s.network.loss).toBe(0.01);
    expect(s.clockSkewMs).toBe(50);
    expect(s.workload).toMatchObject({ vms: 200, writesPerSecond: 50, conflictingShare: 0.2 });
    expect(s.faults.map((f) => [f.atMs, f.action.type])).toEqual([
      [60_000, 'partition'],
      [120_000, 'heal'],
      [300_000, 'crash'],
      [320_000, 'restart'],
      [400_000, 'pause'],
      [450_000, 'skew'],
    ]);
    expect(s.faults[4]!.action).toEqual({ type: 'pause', node: 'n2', forMs: 30_000 });
    expect(s.faults[5]!.action).toEqual({ type: 'skew', node: 'n4', byMs: 5_000 });
  });

  it('accepts durations as 50ms, 30s, 5m and plain milliseconds, node lists, explicit groups and one-way cuts', () => {
    const s = parseScenario(
      `name: x\nnodes: [a, b, c, d]\nduration: 5m\nclockSkew: 250\nfaults:\n  - { at: 50ms, partition: [[a, b], [c, d]] }\n  - { at: 1s, partition: { from: a, to: [c] } }\n  - { at: 2s, skew: { node: b, by: -1500ms } }\n  - { at: 3s, flap: { partition: "isolate:d", down: 1s, up: 2s, times: 2 } }\n`,
      'x.yaml',
    );
    expect(s.nodes).toEqual(['a', 'b', 'c', 'd']);
    expect(s.durationMs).toBe(300_000);
    expect(s.clockSkewMs).toBe(250);
    expect(s.faults.map((f) => `${f.atMs}:${f.action.type}`)).toEqual(['50:partition', '1000:partition', '2000:skew', '3000:partition', '4000:heal', '6000:partition', '7000:heal']);
    expect(s.faults[1]!.action).toEqual({ type: 'partition', spec: { kind: 'one-way', from: ['a'], to: ['c'] } });
    expect(s.faults[2]!.action).toEqual({ type: 'skew', node: 'b', byMs: -1500 });
  });

  it('every shipped scenario is valid', async () => {
    const files = readdirSync(SCENARIO_DIR).filter((f) => f.endsWith('.yaml'));
    expect(files.sort()).toEqual(
      ['benchmark-10min', 'clock-skew', 'crash-restart', 'flapping-links', 'majorities-ring', 'no-majority-2-2', 'partition-heal', 'split-brain'].map((n) => `${n}.yaml`),
    );
    for (const f of files) {
      const s = await loadScenario(join(SCENARIO_DIR, f));
      expect(s.name).toBe(f.replace(/\.yaml$/, ''));
    }
  });

  it.each([
    ['an unknown key', base('netwrok: {}'), 'bad.yaml: netwrok: expected no such key (known keys: name, nodes, duration'],
    ['a bad duration', 'name: t\nnodes: 3\nduration: 10 minutes\n', 'bad.yaml: duration: expected a positive duration like 50ms, 30s, 5m or a number of milliseconds, got "10 minutes" (line 3, column 11)'],
    ['a missing duration', 'name: t\nnodes: 3\n', 'bad.yaml: duration: expected a duration like 600s (required)'],
    ['a node count of 0', 'name: t\nnodes: 0\nduration: 1s\n', 'bad.yaml: nodes: expected an integer from 1 to 64, got 0'],
    ['a repeated node id', 'name: t\nnodes: [a, b, a]\nduration: 1s\n', 'bad.yaml: nodes[2]: expected a node id not listed before, got "a"'],
    ['a crash of an unknown node', base('faults:\n  - { at: 1s, crash: n9 }\n'), 'bad.yaml: faults[0].crash: expected one of the node ids n1, n2, n3, got "n9" (line 5, column 22)'],
    ['two actions in one fault', base('faults:\n  - { at: 1s, crash: n1, heal: true }\n'), 'bad.yaml: faults[0]: expected exactly one action of partition, heal, crash, restart, pause, skew, flap, got heal and crash'],
    ['a fault after the end', base('faults:\n  - { at: 2m, heal: true }\n'), 'bad.yaml: faults[0].at: expected a duration of at most 60000ms, got "2m"'],
    ['a restart of a running node', base('faults:\n  - { at: 1s, restart: n2 }\n'), 'bad.yaml: faults[0].restart: expected a node that is crashed at 1000ms (crash it first), got "n2"'],
    ['a double crash', base('faults:\n  - { at: 1s, crash: n2 }\n  - { at: 2s, crash: n2 }\n'), 'bad.yaml: faults[1].crash: expected a node that is up at 2000ms (n2 crashed at 1000ms and was not restarted), got "n2"'],
    ['an unknown partition shape', base('faults:\n  - { at: 1s, partition: thirds }\n'), 'bad.yaml: faults[0].partition: expected a partition: halves, majorities-ring, bridge, isolate:<node id>, groups'],
    ['isolate of an unknown node', base('faults:\n  - { at: 1s, partition: "isolate:n7" }\n'), 'here: unknown node n7 (nodes are n1, n2, n3)'],
    ['groups that miss a node', base('faults:\n  - { at: 1s, partition: [[n1], [n2]] }\n'), 'here: every node must be in exactly one group; missing n3'],
    ['majorities-ring on 3 nodes', base('faults:\n  - { at: 1s, partition: majorities-ring }\n'), 'here: majorities-ring needs at least 4 nodes'],
    ['latency max below min', base('network: { latency: { min: 20ms, max: 5ms } }\n'), 'bad.yaml: network.latency.max: expected a duration not below latency.min (20ms), got "5ms"'],
    ['an unknown latency distribution', base('network: { latency: { min: 1ms, max: 5ms, distribution: gauss } }\n'), 'network.latency.distribution: expected one of uniform, normal, exponential, pareto, got "gauss"'],
    ['a loss of 1', base('network: { loss: 1 }\n'), 'network.loss: expected a loss probability below 1'],
    ['a share above 1', base('workload: { conflictingShare: 1.5 }\n'), 'bad.yaml: workload.conflictingShare: expected a number from 0 to 1, got 1.5'],
    ['a pause without a length', base('faults:\n  - { at: 1s, pause: { node: n1 } }\n'), 'bad.yaml: faults[0].pause.for: expected how long the node is paused, like 30s'],
    ['a skew without a node', base('faults:\n  - { at: 1s, skew: { by: 5s } }\n'), 'bad.yaml: faults[0].skew.node: expected one of the node ids n1, n2, n3, got nothing'],
    ['a YAML syntax error', 'name: t\nnodes: [n1\n', 'bad.yaml: expected valid YAML, got a syntax error'],
    ['a document that is not a mapping', '- 1\n- 2\n', 'bad.yaml: expected a scenario (a mapping with name, nodes, duration, ...), got [1,2]'],
  ])('rejects %s, naming the file, the field and what was expected', (_what, text, message) => {
    const err = issueOf(text);
    expect(err.code).toBe('ERR_SCENARIO');
    expect(err.meta.file).toBe('bad.yaml');
    expect(err.message).toContain(message);
  });

  it('reports every problem at once', () => {
    const err = issueOf('name: t\nnodes: 3\nduration: 1s\nclockSkew: soon\nworkload: { vms: -1 }\n');
    expect(err.meta.issues.map((i) => i.path)).toEqual(['clockSkew', 'workload.vms']);
    expect(err.message.split('\n')).toHaveLength(2);
  });

  it('a missing file is a ScenarioError naming it', async () => {
    await expect(loadScenario('/nonexistent/dir/x.yaml')).rejects.toMatchObject({ code: 'ERR_SCENARIO', message: expect.stringContaining('/nonexistent/dir/x.yaml: expected a readable scenario file, got ENOENT') as unknown });
  });

  it('resolves a policy file path against the scenario file', () => {
    const s = parseScenario(base('policy: policies/p.yaml\n'), '/data/scenarios/s.yaml');
    expect(s.policy).toBe('/data/scenarios/policies/p.yaml');
    expect(parseScenario(base('policy: development\n'), '/data/s.yaml').policy).toBe('development');
  });
});
