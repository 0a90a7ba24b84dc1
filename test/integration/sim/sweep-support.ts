/**
 * The CI seed sweep over the shipped scenarios (120 s of virtual time each, run as they are, so that
 * every failing seed replays exactly with `dwcp sim simulations/scenarios/<name>.yaml --seed <seed>`).
 *
 * Seeds: DWCP_SIM_SEEDS in total (default 200), spread evenly over the scenarios, starting at
 * DWCP_SIM_FIRST_SEED (default 1). The 10,000-seed sweep (not run in CI; hours on 2 cores):
 *
 *   DWCP_SIM_SEEDS=10000 npx vitest run --project integration test/integration/sim
 */
import { join } from 'node:path';
import { explainFailures, loadScenario, runSimulation, type CheckerName, type RunResult } from '../../../simulations/index.js';

export const SCENARIO_DIR = join(import.meta.dirname, '../../../simulations/scenarios');

export const SWEEP_SCENARIOS = ['partition-heal', 'split-brain', 'flapping-links', 'clock-skew', 'crash-restart', 'majorities-ring', 'no-majority-2-2'] as const;
export type SweepScenario = (typeof SWEEP_SCENARIOS)[number];

export const TOTAL_SEEDS = Number(process.env.DWCP_SIM_SEEDS ?? 200);
export const FIRST_SEED = Number(process.env.DWCP_SIM_FIRST_SEED ?? 1);
export const SEEDS_PER_SCENARIO = Math.ceil(TOTAL_SEEDS / SWEEP_SCENARIOS.length);
/** Generous: the machine may be shared (a run takes ~1-3 s of CPU). */
export const SWEEP_TIMEOUT_MS = Math.max(900_000, SEEDS_PER_SCENARIO * 30_000);

/**
 * A known bug in src/ (not in the simulator), reported on every occurrence but not failing the sweep.
 * Each has a reproduction in test/unit/sim/known-bugs.test.ts (a test asserting the bug, which starts
 * failing when the bug is fixed, so that this entry is removed).
 */
export interface KnownBug {
  readonly id: string;
  readonly checker: CheckerName;
  readonly matches: (r: RunResult) => boolean;
  readonly summary: string;
}

export const KNOWN_BUGS: readonly KnownBug[] = [
  {
    id: 'lease-never-released',
    checker: 'vms_running',
    // Only: VMs the agreed state places on a live host H that H cannot start because another node
    // keeps renewing its ownership lease (H's starts refused with ERR_LEASE_HELD naming that owner).
    matches: (r) =>
      r.checks
        .find((c) => c.name === 'vms_running')!
        .violations.every((v) => {
          const host = /runs it on (\S+), whose hypervisor does not run it/.exec(v.message)?.[1];
          if (host === undefined) return false;
          return r.history.around(v.resourceId, v.from, r.stats.virtualMs).some((e) => {
            const owner = e.node === host ? /ERR_LEASE_HELD VM \S+ is owned by (\S+)/.exec(e.text)?.[1] : undefined;
            return owner !== undefined && owner !== host;
          });
        }),
    summary:
      'LeaseManager renews a VM ownership lease for as long as it has quorum, even after its node stopped the VM (fenced after a split-brain decision, or the VM placed elsewhere); nothing releases it, so the host the cluster placed the VM on is refused (ERR_LEASE_HELD) forever and the VM runs nowhere. Coordinator.keeperOf also keeps a split-brain VM on the host with the highest priority/lowest id rather than on the lease holder that runs it.',
  },
  {
    id: 'lease-wall-clock',
    checker: 'no_split_brain',
    // Only: split-brain episodes of a VM an HA manager failed over across a partition while some
    // node's wall clock had just stepped (a skew fault in the window before the episode).
    matches: (r) =>
      r.checks
        .find((c) => c.name === 'no_split_brain')!
        .violations.every((v) => {
          const events = r.history.around(v.resourceId, v.from, v.to);
          return events.some((e) => e.kind === 'fault' && e.text.startsWith('skew ')) && events.some((e) => e.kind === 'failover' && e.text.startsWith('started '));
        }),
    summary:
      'LeaseManager times leases with the wall clock (Clock.now()): a forward step on the majority (or a backward step on the owner) larger than leaseMargin + stopBefore lets the majority take over a VM while its cut-off owner still runs it — a real split-brain. Lease expiry needs a monotonic clock (a Clock port method such as monotonic(), performance.now() in production).',
  },
];

export interface SeedOutcome {
  readonly seed: number;
  readonly failed: readonly CheckerName[];
  readonly known: readonly string[];
  readonly explanation: string;
}

/** Run `count` seeds of a shipped scenario; report each failing seed with its replay command. */
export async function sweepScenario(name: SweepScenario, first = FIRST_SEED, count = SEEDS_PER_SCENARIO): Promise<SeedOutcome[]> {
  const file = join(SCENARIO_DIR, `${name}.yaml`);
  const scenario = await loadScenario(file);
  const replayFile = `simulations/scenarios/${name}.yaml`;
  const out: SeedOutcome[] = [];
  for (let seed = first; seed < first + count; seed++) {
    const r = await runSimulation(scenario, { seed });
    const failedChecks = r.checks.filter((c) => !c.pass);
    if (failedChecks.length === 0) continue;
    const known = KNOWN_BUGS.filter((b) => failedChecks.some((c) => c.name === b.checker) && b.matches(r)).map((b) => b.id);
    const knownCheckers = new Set(KNOWN_BUGS.filter((b) => known.includes(b.id)).map((b) => b.checker));
    const failed = failedChecks.map((c) => c.name).filter((n) => !knownCheckers.has(n));
    const replay = `dwcp sim ${replayFile} --seed ${seed}`;
    const explanation = explainFailures(r, { replay, perChecker: 1, maxLines: 40 }).join('\n');
    out.push({ seed, failed, known, explanation });
    process.stderr.write(
      `[sim sweep] ${name} seed ${seed}: ${failedChecks.map((c) => c.name).join(', ')} failed${known.length ? ` (known: ${known.join(', ')})` : ''} — replay: ${replay}\n`,
    );
  }
  return out;
}

/** The message an assertion prints: each new failure with its replay command and history. */
export function describeFailures(name: string, outcomes: readonly SeedOutcome[]): string {
  const fresh = outcomes.filter((o) => o.failed.length > 0);
  return `${name}: ${fresh.length} failing seed(s): ${fresh.map((o) => o.seed).join(', ')}\n\n${fresh.map((o) => o.explanation).join('\n\n')}`;
}
