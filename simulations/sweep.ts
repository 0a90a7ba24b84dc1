/**
 * Seed sweeps: the same scenario under seeds s, s+1, ..., each a full run with every checker. A
 * failing seed is replayed exactly with `--seed`.
 */
import type { Policy } from '../src/core/policy/types.js';
import type { CheckerName } from './checkers.js';
import { loadSimPolicy } from './policy.js';
import { runSimulation, type RunResult } from './runner.js';
import type { Scenario } from './scenario.js';

export interface SweepRun {
  readonly seed: number;
  readonly failed: readonly CheckerName[];
}

export interface SweepResult {
  readonly scenario: string;
  readonly runs: readonly SweepRun[];
  readonly failingSeeds: readonly number[];
}

export interface SweepOptions {
  readonly policy?: Policy | string;
  /** Every finished run, in seed order (e.g. progress, or to keep the failing ones). */
  readonly onRun?: (result: RunResult, index: number) => void;
}

/** `count` consecutive seeds starting at `first`. */
export function seedRange(first: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => (first + i) >>> 0);
}

export async function sweep(scenario: Scenario, seeds: readonly number[], options: SweepOptions = {}): Promise<SweepResult> {
  const policy = typeof options.policy === 'object' ? options.policy : await loadSimPolicy(options.policy ?? scenario.policy);
  const runs: SweepRun[] = [];
  for (let i = 0; i < seeds.length; i++) {
    const r = await runSimulation(scenario, { seed: seeds[i]!, policy });
    runs.push({ seed: r.seed, failed: r.checks.filter((c) => !c.pass).map((c) => c.name) });
    options.onRun?.(r, i);
  }
  return { scenario: scenario.name, runs, failingSeeds: runs.filter((r) => r.failed.length > 0).map((r) => r.seed) };
}
