import { describe, expect, it } from 'vitest';
import { describeFailures, SEEDS_PER_SCENARIO, sweepScenario, SWEEP_TIMEOUT_MS, FIRST_SEED, type SweepScenario } from './sweep-support.js';

// The other half of the sweep (see sweep.test.ts).
const SCENARIOS: readonly SweepScenario[] = ['clock-skew', 'crash-restart', 'majorities-ring', 'no-majority-2-2'];

describe(`seed sweep (${SEEDS_PER_SCENARIO} seeds per scenario from ${FIRST_SEED}; DWCP_SIM_SEEDS sets the total)`, () => {
  for (const name of SCENARIOS) {
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
