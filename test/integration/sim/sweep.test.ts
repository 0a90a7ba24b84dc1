import { describe, expect, it } from 'vitest';
import { describeFailures, SEEDS_PER_SCENARIO, sweepScenario, SWEEP_TIMEOUT_MS, FIRST_SEED, type SweepScenario } from './sweep-support.js';

// Split over two files so that vitest runs them on both cores (see sweep-2.test.ts).
const SCENARIOS: readonly SweepScenario[] = ['partition-heal', 'split-brain', 'flapping-links'];

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
