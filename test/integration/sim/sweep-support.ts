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
import { describe, expect, it } from 'vitest';
import { explainFailures, loadScenario, runSimulation, type CheckerName } from '../../../simulations/index.js';

export const SCENARIO_DIR = join(import.meta.dirname, '../../../simulations/scenarios');

export const SWEEP_SCENARIOS = ['partition-heal', 'split-brain', 'flapping-links', 'clock-skew', 'crash-restart', 'majorities-ring', 'no-majority-2-2'] as const;
export type SweepScenario = (typeof SWEEP_SCENARIOS)[number];

export const TOTAL_SEEDS = Number(process.env.DWCP_SIM_SEEDS ?? 200);
export const FIRST_SEED = Number(process.env.DWCP_SIM_FIRST_SEED ?? 1);
export const SEEDS_PER_SCENARIO = Math.ceil(TOTAL_SEEDS / SWEEP_SCENARIOS.length);
/** Generous: the machine may be shared (a run takes ~1-3 s of CPU). */
export const SWEEP_TIMEOUT_MS = Math.max(900_000, SEEDS_PER_SCENARIO * 30_000);

export interface SeedOutcome {
  readonly seed: number;
  readonly failed: readonly CheckerName[];
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
    const failed = r.checks.filter((c) => !c.pass).map((c) => c.name);
    if (failed.length === 0) continue;
    const replay = `dwcp sim ${replayFile} --seed ${seed}`;
    const explanation = explainFailures(r, { replay, perChecker: 1, maxLines: 40 }).join('\n');
    out.push({ seed, failed, explanation });
    process.stderr.write(`[sim sweep] ${name} seed ${seed}: ${failed.join(', ')} failed — replay: ${replay}\n`);
  }
  return out;
}

/** The message an assertion prints: each new failure with its replay command and history. */
export function describeFailures(name: string, outcomes: readonly SeedOutcome[]): string {
  return `${name}: ${outcomes.length} failing seed(s): ${outcomes.map((o) => o.seed).join(', ')}\n\n${outcomes.map((o) => o.explanation).join('\n\n')}`;
}

/** One test per scenario: every checker passes on every seed of the sweep (failures print their replay). */
export function defineSweep(scenarios: readonly SweepScenario[]): void {
  describe(`seed sweep (${SEEDS_PER_SCENARIO} seeds per scenario from ${FIRST_SEED}; DWCP_SIM_SEEDS sets the total)`, () => {
    for (const name of scenarios) {
      it(
        `${name}: every checker passes on every seed`,
        async () => {
          const outcomes = await sweepScenario(name);
          expect(outcomes.map((o) => o.seed), describeFailures(name, outcomes)).toEqual([]);
        },
        SWEEP_TIMEOUT_MS,
      );
    }
  });
}
