/**
 * Regression tests for two src/ bugs the simulator found (fixed; simulations/README.md, "Bugs found
 * in src/"). The same scenarios and seeds that reproduced them; each asserts the fixed behaviour.
 *
 * lease-never-released (src/replica/leases.ts, src/replica/coordinator.ts): a LeaseManager kept
 * renewing a VM's ownership lease after its node stopped the VM (fenced after a split-brain decision,
 * or placed elsewhere by the agreed state), so the host the cluster placed the VM on was refused
 * (ERR_LEASE_HELD) forever; Coordinator.keeperOf kept a split-brain VM on the highest-priority /
 * lowest-id host rather than on the lease holder that ran it. Fixed: LeaseManager.release (called
 * after a stop or a fence), and keeperOf prefers the current lease holder.
 *
 * lease-wall-clock (src/replica/leases.ts): leases were timed with the wall clock, so a clock step
 * larger than leaseMargin + stopBefore let the majority take a VM over while its owner still ran it.
 * Fixed: leases are timed with Clock.monotonic().
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario, runSimulation, type RunResult } from '../../../simulations/index.js';

const SCENARIOS = join(import.meta.dirname, '../../../simulations/scenarios');

async function run(file: string, seed: number): Promise<RunResult> {
  return runSimulation(await loadScenario(join(SCENARIOS, file)), { seed });
}

function failing(r: RunResult): string[] {
  return r.checks.filter((c) => !c.pass).map((c) => `${c.name}: ${c.violations.map((v) => v.message).join('; ')}`);
}

/** The hosts whose hypervisor runs `vm` at the end, replayed from the hypervisor actions in the history. */
function hostsAtEnd(r: RunResult, vm: string): string[] {
  const running = new Set<string>();
  for (const e of r.history.around(`vm/${vm}`, 0, r.stats.virtualMs)) {
    if (e.kind !== 'hypervisor' || e.node === undefined) continue;
    if (e.text.startsWith('start ')) running.add(e.node);
    else if (e.text.startsWith('stop ') || e.text.startsWith('fence ')) running.delete(e.node);
  }
  return [...running].sort();
}

function refusals(r: RunResult, vm: string, host: string, owner: string, from = 0): number {
  const re = new RegExp(`ERR_LEASE_HELD VM ${vm} is owned by ${owner}\\b`);
  return r.history.around(`vm/${vm}`, from, r.stats.virtualMs).filter((e) => e.node === host && e.t >= from && re.test(e.text)).length;
}

describe('lease regressions found by the simulator', () => {
  // dwcp sim simulations/scenarios/repro/keeper-without-lease.yaml --seed 1
  it('lease-never-released, split-brain decision: the quorum keeps the VM on the lease holder n3, fences n1, and the VM runs on n3 only', async () => {
    const r = await run('repro/keeper-without-lease.yaml', 1);
    expect(failing(r)).toEqual([]);
    expect(r.timeline.failovers).toEqual([{ t: expect.any(Number) as number, node: 'n3', vmId: 'vm-0001' }]);
    const events = r.history.around('vm/vm-0001', 0, r.stats.virtualMs);
    const decision = events.find((e) => e.kind === 'decision' && /decided by quorum \(split-brain\)/.test(e.text));
    expect(decision).toBeDefined();
    expect(events.some((e) => e.kind === 'hypervisor' && e.node === 'n1' && e.text.includes('quorum kept vm-0001 on n3'))).toBe(true);
    expect(refusals(r, 'vm-0001', 'n1', 'n3', decision!.t)).toBe(0);
    expect(hostsAtEnd(r, 'vm-0001')).toEqual(['n3']);
  }, 120_000);

  // dwcp sim simulations/scenarios/split-brain.yaml --seed 17
  it('lease-never-released, VM placed back elsewhere: n4 stops vm-0007 and releases its lease, so n2 starts it', async () => {
    const r = await run('split-brain.yaml', 17);
    expect(failing(r)).toEqual([]);
    const events = r.history.around('vm/vm-0007', 0, r.stats.virtualMs);
    const stop = events.find((e) => e.kind === 'hypervisor' && e.node === 'n4' && e.text.startsWith('stop'));
    expect(stop).toBeDefined();
    expect(events.some((e) => e.kind === 'hypervisor' && e.node === 'n2' && e.text.startsWith('start') && e.t > stop!.t)).toBe(true);
    expect(refusals(r, 'vm-0007', 'n2', 'n4')).toBe(0);
    expect(hostsAtEnd(r, 'vm-0007')).toEqual(['n2']);
  }, 120_000);

  // dwcp sim simulations/scenarios/repro/lease-clock-step.yaml --seed 1
  it('lease-wall-clock: a 15 s forward clock step on the majority does not let n3 start vm-0001 before the cut-off owner n1 stopped it', async () => {
    const r = await run('repro/lease-clock-step.yaml', 1);
    expect(failing(r)).toEqual([]);
    expect(r.timeline.splitBrain).toEqual([]);
    const events = r.history.around('vm/vm-0001', 0, r.stats.virtualMs);
    const n1Stop = events.find((e) => e.node === 'n1' && e.kind === 'hypervisor' && e.text === 'stop vm-0001');
    const n3Start = events.find((e) => e.node === 'n3' && e.kind === 'failover' && e.text === 'started vm-0001 on n3');
    expect(n1Stop).toBeDefined();
    expect(n3Start).toBeDefined();
    // n1 stops 2 s before its lease ends; n3 waits lease + margin from when it learned the lease.
    expect(n3Start!.t - n1Stop!.t).toBeGreaterThanOrEqual(2_000);
    expect(hostsAtEnd(r, 'vm-0001')).toEqual(['n3']);
  }, 120_000);

  // dwcp sim simulations/scenarios/clock-skew.yaml --seed 6
  it('lease-wall-clock: clock-skew.yaml seed 6 (forward steps on the majority, a backward step on the cut-off owner) never runs a VM twice', async () => {
    const r = await run('clock-skew.yaml', 6);
    expect(failing(r)).toEqual([]);
    expect(r.timeline.splitBrain).toEqual([]);
    expect(r.timeline.failovers.length).toBeGreaterThan(0);
    for (const f of r.timeline.failovers) expect(hostsAtEnd(r, f.vmId)).toHaveLength(1);
  }, 120_000);

  // dwcp sim simulations/scenarios/majorities-ring.yaml --seed 1035 (found by the long sweep)
  it('coordinator: a conflict whose candidates grew under the same id (a causal violation) is still decided on every node', async () => {
    const r = await run('majorities-ring.yaml', 1035);
    expect(failing(r)).toEqual([]);
    expect(r.report.details.conflictsPending).toBe(0);
  }, 120_000);
});
