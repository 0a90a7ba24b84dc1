import { describe, expect, it } from 'vitest';
import { parseScenario, reportJson, runSimulation } from '../../../simulations/index.js';

/** Every fault kind, a lossy network that duplicates and reorders, skewed clocks, split-brain attempts. */
const SCENARIO = `
name: determinism
nodes: 5
duration: 25s
network: { latency: { min: 1ms, max: 20ms, distribution: normal }, loss: 0.05, duplication: 0.05, reorder: 0.1 }
clockSkew: 100ms
workload: { vms: 8, writesPerSecond: 8, conflictingShare: 0.3, splitBrainAttempts: 2 }
faults:
  - { at: 3s, partition: halves }
  - { at: 8s, crash: n2 }
  - { at: 11s, heal: true }
  - { at: 12s, restart: n2 }
  - { at: 14s, pause: { node: n4, for: 3s } }
  - { at: 16s, skew: { node: n5, by: 2s } }
  - { at: 18s, partition: { from: [n1], to: [n3] } }
  - { at: 20s, heal: true }
`;

async function traced(seed: number): Promise<{ lines: string[]; report: string }> {
  const lines: string[] = [];
  const r = await runSimulation(parseScenario(SCENARIO, 'determinism.yaml'), { seed, trace: (l) => lines.push(l) });
  return { lines, report: reportJson(r.report) };
}

describe('simulation determinism', () => {
  it('the same seed gives the same run: full event traces and reports are equal byte for byte', async () => {
    const a = await traced(7);
    const b = await traced(7);
    expect(a.lines.length).toBeGreaterThan(1_000);
    // Compare line by line first so that a difference is reported where it starts.
    const firstDiff = a.lines.findIndex((l, i) => l !== b.lines[i]);
    expect(firstDiff, `traces differ from line ${firstDiff}: ${a.lines[firstDiff]} vs ${b.lines[firstDiff]}`).toBe(-1);
    expect(a.lines.join('\n')).toBe(b.lines.join('\n'));
    expect(a.report).toBe(b.report);
  }, 60_000);

  it('another seed gives another run', async () => {
    const a = await traced(7);
    const c = await traced(8);
    expect(c.lines.join('\n')).not.toBe(a.lines.join('\n'));
    expect(JSON.parse(c.report)).toMatchObject({ seed: 8 });
  }, 60_000);
});
