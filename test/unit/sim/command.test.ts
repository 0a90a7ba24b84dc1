import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSimArgs, runScenarioCommand, simCommand } from '../../../simulations/index.js';

const dir = mkdtempSync(join(tmpdir(), 'dwcp-sim-'));
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

const tiny = file(
  'tiny.yaml',
  `name: tiny
nodes: 3
duration: 12s
seed: 5
network: { latency: { min: 1ms, max: 5ms } }
workload: { vms: 4, writesPerSecond: 4, conflictingShare: 0.5 }
faults:
  - { at: 3s, partition: "isolate:n3" }
  - { at: 7s, heal: true }
`,
);

function capture(isTTY = false) {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    io: {
      stdout: (s: string) => {
        out.stdout += s;
      },
      stderr: (s: string) => {
        out.stderr += s;
      },
      isTTY,
    },
  };
}

describe('dwcp sim (simCommand)', () => {
  it('prints the report as JSON, the same bytes for the same seed, and exits 0 when every checker passes', async () => {
    const a = capture();
    expect(await simCommand({ file: tiny, json: true }, a.io)).toBe(0);
    const b = capture();
    expect(await simCommand({ file: tiny, json: true }, b.io)).toBe(0);
    expect(a.out.stdout).toBe(b.out.stdout);
    expect(a.out.stderr).toBe('');
    const report = JSON.parse(a.out.stdout) as Record<string, unknown>;
    expect(Object.keys(report).slice(0, 11)).toEqual([
      'seed',
      'conflicts',
      'strategies',
      'successRate',
      'manualInterventionRate',
      'resolutionLatencyMs',
      'convergenceMs',
      'acknowledgedWritesLost',
      'splitBrainMoments',
      'checkers',
      'scenario',
    ]);
    expect(report).toMatchObject({ seed: 5, acknowledgedWritesLost: 0, splitBrainMoments: 0, checkers: { convergence: 'pass', no_lost_writes: 'pass' } });
    const other = capture();
    await simCommand({ file: tiny, json: true, seed: 6 }, other.io);
    expect(JSON.parse(other.out.stdout)).toMatchObject({ seed: 6 });
  }, 60_000);

  it('prints a table on a terminal, progress only on stderr, and writes a self-contained HTML report', async () => {
    const c = capture(true);
    const html = join(dir, 'report.html');
    expect(await simCommand({ file: tiny, report: html }, c.io)).toBe(0);
    expect(c.out.stdout).toMatch(/checkers\n\s+convergence\s+pass/);
    expect(c.out.stdout).toMatch(/wall time [\d.]+s for [\d.]+s of virtual time/);
    const page = readFileSync(html, 'utf8');
    expect(page.startsWith('<!doctype html>')).toBe(true);
    expect(page).toContain('<svg');
    expect(page).toContain('isolate:n3');
    expect(page).not.toMatch(/<script|<link|src="http|href="http/);
  }, 60_000);

  it('sweeps seeds and lists the failing ones with a replay command', async () => {
    // Without leases, failovers across the partition run VMs twice: a real, reproducible violation.
    const bad = file(
      'no-leases.yaml',
      `name: no-leases
nodes: 3
duration: 40s
workload: { vms: 4, writesPerSecond: 1, splitBrainAttempts: 1, deleteShare: 0, powerShare: 0 }
agent: { leases: false }
faults:
  - { at: 5s, partition: "isolate:n1" }
  - { at: 25s, heal: true }
`,
    );
    const c = capture();
    expect(await simCommand({ file: bad, seeds: 2, seed: 10 }, c.io)).toBe(1);
    expect(c.out.stdout).toContain('no-leases: 2 seeds (10..11)');
    expect(c.out.stdout).toMatch(/seed 10: [a-z_, ]*no_split_brain[a-z_, ]* failed — replay: dwcp sim .*no-leases\.yaml --seed 10/);
    // The shortest history that shows it: the VM's own events around the violation.
    expect(c.out.stdout).toMatch(/no_split_brain FAILED \(seed 10; replay: /);
    expect(c.out.stdout).toMatch(/history of vm\/vm-\d+ from/);
    const j = capture();
    expect(await simCommand({ file: bad, seeds: 2, seed: 10, json: true }, j.io)).toBe(1);
    expect(JSON.parse(j.out.stdout)).toMatchObject({ scenario: 'no-leases', firstSeed: 10, count: 2, failingSeeds: [10, 11] });
  }, 60_000);

  it('exits 2 with the file, field and expectation for a bad scenario or policy, and for bad usage', async () => {
    const c = capture();
    expect(await simCommand({ file: file('bad.yaml', 'name: x\nnodes: 3\nduration: forever\n') }, c.io)).toBe(2);
    expect(c.out.stderr).toMatch(/bad\.yaml: duration: expected a positive duration like 50ms, 30s, 5m/);
    const p = capture();
    const badPolicy = file('policy.yaml', 'name: p\ndefaultStrategy: coin_flip\n');
    expect(await simCommand({ file: tiny, policy: badPolicy }, p.io)).toBe(2);
    expect(p.out.stderr).toMatch(/policy\.yaml: defaultStrategy: expected a strategy: one of last_write_wins/);
    const m = capture();
    expect(await simCommand({ file: join(dir, 'missing.yaml') }, m.io)).toBe(2);
    expect(m.out.stderr).toContain('missing.yaml: expected a readable scenario file, got ENOENT');
    const u = capture();
    expect(await runScenarioCommand(['--seeds', 'many', tiny], u.io)).toBe(2);
    expect(u.out.stderr).toContain('--seeds expects a number of seeds');
    expect(parseSimArgs([tiny, '--seed=3', '--json', '--report', 'r.html', '--policy', 'development'])).toEqual({
      args: { file: tiny, seed: 3, json: true, report: 'r.html', policy: 'development' },
    });
    expect(parseSimArgs(['a.yaml', 'b.yaml'])).toEqual({ error: 'one scenario file expected, got "a.yaml" and "b.yaml"' });
    expect(parseSimArgs([])).toEqual({ error: 'a scenario file is required' });
  }, 60_000);
});
