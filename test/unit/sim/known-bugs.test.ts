/**
 * Bugs in src/ that the simulator found, as reproductions. Each test asserts that the bug is still
 * there, precisely (so that it cannot pass by accident): once the bug is fixed it fails — then turn
 * it into a test of the fixed behaviour and remove the entry from KNOWN_BUGS in
 * test/integration/sim/sweep-support.ts.
 *
 * lease-never-released (src/replica/leases.ts, src/replica/coordinator.ts): a LeaseManager renews a
 * VM's ownership lease for as long as it sees a quorum, even after its node stopped the VM — fenced
 * after a split-brain decision, or because the VM's agreed state now places it on another host.
 * Nothing releases a lease, so the host the cluster placed the VM on is refused (ERR_LEASE_HELD)
 * forever and the VM runs nowhere. Coordinator.keeperOf makes it likely after a partition: it keeps a
 * split-brain VM on the host with the highest priority, then the lowest id, not on the lease holder
 * that actually runs it.
 *
 * lease-wall-clock (src/replica/leases.ts): leases are timed with the wall clock (`clock.now()`), so a
 * clock step — forward on the majority, or backward on a cut-off owner — larger than leaseMargin +
 * stopBefore (2 s + 2 s by default) lets the majority take a VM over while its owner still runs it.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario, runSimulation, type RunResult } from '../../../simulations/index.js';

const SCENARIOS = join(import.meta.dirname, '../../../simulations/scenarios');

function leaseRefusals(r: RunResult, vm: string, host: string): number {
  return r.history.around(`vm/${vm}`, 0, r.stats.virtualMs).filter((e) => e.node === host && /ERR_LEASE_HELD/.test(e.text)).length;
}

describe('known src bugs found by the simulator', () => {
  // dwcp sim simulations/scenarios/repro/keeper-without-lease.yaml --seed 1
  it('BUG lease-never-released, after a split-brain decision: the quorum keeps the VM on n1, fences the lease holder, and n1 can never start it', async () => {
    const r = await runSimulation(await loadScenario(join(SCENARIOS, 'repro/keeper-without-lease.yaml')), { seed: 1 });
    expect(r.report.details.failovers.done).toBe(1);
    expect(r.report.checkers.no_split_brain).toBe('pass');
    const check = r.checks.find((c) => c.name === 'vms_running')!;
    expect(check.violations.map((v) => v.message)).toEqual(['vm-0001: the agreed state runs it on n1, whose hypervisor does not run it']);
    const events = r.history.around('vm/vm-0001', 0, r.stats.virtualMs);
    expect(events.some((e) => e.kind === 'decision' && /decided by quorum \(split-brain\)/.test(e.text))).toBe(true);
    expect(events.some((e) => e.kind === 'hypervisor' && e.text.startsWith('fence'))).toBe(true);
    expect(leaseRefusals(r, 'vm-0001', 'n1')).toBeGreaterThan(5);
  }, 120_000);

  // dwcp sim simulations/scenarios/split-brain.yaml --seed 17
  it('BUG lease-never-released, without a split-brain decision: n4 stopped vm-0007 when it was placed back on n2, but keeps its lease', async () => {
    const r = await runSimulation(await loadScenario(join(SCENARIOS, 'split-brain.yaml')), { seed: 17 });
    const check = r.checks.find((c) => c.name === 'vms_running')!;
    expect(check.violations.map((v) => v.message)).toEqual(['vm-0007: the agreed state runs it on n2, whose hypervisor does not run it']);
    const events = r.history.around('vm/vm-0007', 0, r.stats.virtualMs);
    expect(events.some((e) => e.kind === 'split-brain')).toBe(false);
    expect(events.some((e) => e.kind === 'hypervisor' && e.node === 'n4' && e.text.startsWith('stop'))).toBe(true);
    expect(events.filter((e) => e.node === 'n2' && /ERR_LEASE_HELD VM vm-0007 is owned by n4/.test(e.text)).length).toBeGreaterThan(5);
  }, 120_000);

  // dwcp sim simulations/scenarios/repro/lease-clock-step.yaml --seed 1
  it('BUG lease-wall-clock: a 15 s forward clock step on the majority lets n3 start vm-0001 while the cut-off owner n1 still runs it', async () => {
    const r = await runSimulation(await loadScenario(join(SCENARIOS, 'repro/lease-clock-step.yaml')), { seed: 1 });
    expect(r.report.checkers.no_split_brain).toBe('fail');
    expect(r.timeline.splitBrain).toEqual([{ vmId: 'vm-0001', hosts: ['n1', 'n3'], from: expect.any(Number) as number, to: expect.any(Number) as number }]);
    const [episode] = r.timeline.splitBrain;
    // n1 still inside its lease (it stops 8 s after its last renewal at ~5 s); n3 started well before.
    expect(episode!.from).toBeLessThan(12_000);
    expect(episode!.to - episode!.from).toBeGreaterThan(1_000);
    const events = r.history.around('vm/vm-0001', 0, episode!.to);
    expect(events.some((e) => e.node === 'n3' && e.kind === 'failover' && e.text === 'started vm-0001 on n3')).toBe(true);
    expect(events.some((e) => e.node === 'n1' && e.kind === 'hypervisor' && e.text === 'stop vm-0001' && e.t === episode!.to)).toBe(true);
  }, 120_000);
});
