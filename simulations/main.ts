#!/usr/bin/env node
/**
 * A standalone entry for the simulator, the same as `dwcp sim`:
 *
 *   npx tsx simulations/main.ts simulations/scenarios/split-brain.yaml --seed 1 [--seeds N] [--policy FILE] [--report FILE] [--json]
 *   node dist/simulations/main.js ...   (after npm run build)
 */
import { runScenarioCommand } from './command.js';

const code = await runScenarioCommand(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  isTTY: process.stderr.isTTY,
});
process.exitCode = code;
