import { describe, expect, it } from 'vitest';
import { parseScenario, runSimulation } from '../../../simulations/index.js';

/** HA managers fail VMs over across a partition; the heal comes after lease + margin. */
const scenario = (leases: boolean): string => `
name: split-brain-small
nodes: 3
duration: 45s
network: { latency: { min: 1ms, max: 10ms } }
workload: { vms: 6, writesPerSecond: 2, conflictingShare: 0, splitBrainAttempts: 2, deleteShare: 0, powerShare: 0 }
agent: { leases: ${leases} }
faults:
  - { at: 5s, partition: "isolate:n1" }
  - { at: 30s, heal: true }
`;

describe('split-brain: the checker against the real code', () => {
  it('without ownership leases, a failover across a partition runs a VM on two hosts and no_split_brain fails', async () => {
    const r = await runSimulation(parseScenario(scenario(false), 'no-leases.yaml'), { seed: 3 });
    const check = r.checks.find((c) => c.name === 'no_split_brain')!;
    expect(check.pass).toBe(false);
    expect(r.report.splitBrainMoments).toBeGreaterThan(0);
    expect(r.report.checkers.no_split_brain).toBe('fail');
    // The quorum decision after the heal fences the loser: the episode ends after the heal.
    const s = r.timeline.splitBrain[0]!;
    expect(s.from).toBeLessThan(30_000);
    expect(s.to).toBeGreaterThan(30_000);
    expect(r.history.entries.some((e) => e.kind === 'hypervisor' && e.text.startsWith('fence'))).toBe(true);
  }, 60_000);

  it('with leases, the same attempts never run a VM twice: the isolated owner stops first', async () => {
    const r = await runSimulation(parseScenario(scenario(true), 'leases.yaml'), { seed: 3 });
    expect(r.report.checkers.no_split_brain).toBe('pass');
    expect(r.report.details.failovers.done).toBeGreaterThan(0);
    expect(r.history.entries.some((e) => e.kind === 'hypervisor' && e.node === 'n1' && e.text.startsWith('stop'))).toBe(true);
  }, 60_000);
});
