/**
 * `dwcp sim SCENARIO_FILE [--seed N] [--seeds N] [--policy FILE] [--report FILE] [--json]`: what the
 * CLI calls. Exit codes (INTERFACE.md): 0 every checker passed; 1 a checker failed (or the run
 * failed); 2 bad usage, a bad scenario or policy file (the message names the file, the field and
 * what was expected). Progress goes to stderr on a terminal only, never with --json.
 */
import { writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { DwcpError } from '../src/core/errors.js';
import { PolicyError } from '../src/core/policy/errors.js';
import type { Policy } from '../src/core/policy/types.js';
import { explainFailures } from './explain.js';
import { loadSimPolicy } from './policy.js';
import { renderHtmlReport } from './report-html.js';
import { renderTable, reportJson } from './report.js';
import { runSimulation, type RunResult } from './runner.js';
import { loadScenario, ScenarioError, type Scenario } from './scenario.js';
import { seedRange } from './sweep.js';

export interface SimCommandArgs {
  /** The scenario file. */
  readonly file: string;
  /** The seed (default: the scenario's). With `seeds`, the first seed of the sweep. */
  readonly seed?: number;
  /** Sweep this many consecutive seeds. */
  readonly seeds?: number;
  /** A policy preset name or file, instead of the scenario's. */
  readonly policy?: string;
  /** Write the HTML report here. */
  readonly report?: string;
  /** Print the report as JSON. */
  readonly json?: boolean;
}

export interface SimCommandOutput {
  /** Receives text chunks, each ending with a newline. */
  stdout(s: string): void;
  stderr(s: string): void;
  /** stderr is a terminal: show progress (never with --json). */
  readonly isTTY?: boolean;
}

export const SIM_USAGE = 'usage: dwcp sim SCENARIO_FILE [--seed N] [--seeds N] [--policy FILE] [--report FILE] [--json]';

const MAX_SEED = 0xffff_ffff;

/** Parse `dwcp sim` arguments (everything after `sim`) and run it. */
export async function runScenarioCommand(argv: readonly string[], out: SimCommandOutput): Promise<number> {
  const parsed = parseSimArgs(argv);
  if ('error' in parsed) {
    out.stderr(`dwcp sim: ${parsed.error}\n${SIM_USAGE}\n`);
    return 2;
  }
  if ('help' in parsed) {
    out.stdout(`${SIM_USAGE}\n`);
    return 0;
  }
  return simCommand(parsed.args, out);
}

export type ParsedSimArgs = { readonly args: SimCommandArgs } | { readonly help: true } | { readonly error: string };

/** Parse `dwcp sim` arguments (everything after `sim`). */
export function parseSimArgs(argv: readonly string[]): ParsedSimArgs {
  let file: string | undefined;
  const args: { file?: string; seed?: number; seeds?: number; policy?: string; report?: string; json?: boolean } = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const value = (): string | undefined => (eq > 0 ? a.slice(eq + 1) : argv[++i]);
    switch (flag) {
      case '-h':
      case '--help':
        return { help: true };
      case '--json':
        args.json = true;
        break;
      case '--seed':
      case '--seeds': {
        const v = value();
        const n = v !== undefined && /^\d+$/.test(v) ? Number(v) : NaN;
        if (flag === '--seed') {
          if (!(n >= 0 && n <= MAX_SEED)) return { error: `--seed expects an integer from 0 to ${MAX_SEED}, got ${JSON.stringify(v ?? null)}` };
          args.seed = n;
        } else {
          if (!(n >= 1 && n <= 1_000_000)) return { error: `--seeds expects a number of seeds from 1 to 1000000, got ${JSON.stringify(v ?? null)}` };
          args.seeds = n;
        }
        break;
      }
      case '--policy':
      case '--report': {
        const v = value();
        if (v === undefined || v === '') return { error: `${flag} expects a file` };
        if (flag === '--policy') args.policy = v;
        else args.report = v;
        break;
      }
      default:
        if (a.startsWith('-')) return { error: `unknown option ${a}` };
        if (file !== undefined) return { error: `one scenario file expected, got ${JSON.stringify(file)} and ${JSON.stringify(a)}` };
        file = a;
    }
  }
  if (file === undefined) return { error: 'a scenario file is required' };
  return { args: { ...args, file } };
}

export async function simCommand(args: SimCommandArgs, out: SimCommandOutput): Promise<number> {
  let scenario: Scenario;
  let policy: Policy;
  try {
    scenario = await loadScenario(args.file);
    policy = await loadSimPolicy(args.policy ?? scenario.policy);
  } catch (err) {
    if (err instanceof ScenarioError || err instanceof PolicyError) {
      out.stderr(`dwcp sim: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const progress = out.isTTY === true && args.json !== true;
  const replay = (seed: number): string => `dwcp sim ${args.file} --seed ${seed}${args.policy ? ` --policy ${args.policy}` : ''}`;
  try {
    if (args.seeds !== undefined) return await sweepCommand(args, scenario, policy, out, progress, replay);
    const seed = args.seed ?? scenario.seed;
    const started = performance.now();
    let lastShown = 0;
    const result = await runSimulation(scenario, {
      seed,
      policy,
      ...(progress
        ? {
            onProgress: (t: number, total: number) => {
              const now = performance.now();
              if (now - lastShown < 200) return;
              lastShown = now;
              out.stderr(`\r  ${scenario.name} seed ${seed}: ${(t / 1000).toFixed(1)}s of ${(total / 1000).toFixed(0)}s virtual`);
            },
          }
        : {}),
    });
    const wallMs = performance.now() - started;
    if (progress) out.stderr('\r\x1b[K');
    const failures = explainFailures(result, { replay: replay(seed) });
    if (args.json) {
      out.stdout(`${reportJson(result.report)}\n`);
      for (const f of failures) out.stderr(`${f}\n`);
    } else {
      out.stdout(`${renderTable(result.report)}\n`);
      out.stdout(`  wall time ${(wallMs / 1000).toFixed(2)}s for ${(result.stats.virtualMs / 1000).toFixed(1)}s of virtual time (${(result.stats.virtualMs / Math.max(1, wallMs)).toFixed(0)}x)\n`);
      if (failures.length > 0) out.stdout(`\n${failures.join('\n\n')}\n`);
    }
    if (args.report) await writeHtml(args.report, result, failures, out, args.json === true, replay(seed));
    return failures.length > 0 || result.checks.some((c) => !c.pass) ? 1 : 0;
  } catch (err) {
    if (progress) out.stderr('\n');
    out.stderr(`dwcp sim: the run failed: ${err instanceof DwcpError ? `${err.code}: ` : ''}${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}

async function sweepCommand(
  args: SimCommandArgs,
  scenario: Scenario,
  policy: Policy,
  out: SimCommandOutput,
  progress: boolean,
  replay: (seed: number) => string,
): Promise<number> {
  const seeds = seedRange(args.seed ?? scenario.seed, args.seeds!);
  const runs: Array<{ seed: number; failed: string[] }> = [];
  let firstFailure: RunResult | undefined;
  let first: RunResult | undefined;
  const started = performance.now();
  for (let i = 0; i < seeds.length; i++) {
    const r = await runSimulation(scenario, { seed: seeds[i]!, policy });
    const failed = r.checks.filter((c) => !c.pass).map((c) => c.name);
    runs.push({ seed: r.seed, failed });
    if (failed.length > 0) firstFailure ??= r;
    if (i === 0) first = r;
    if (progress) out.stderr(`\r  ${scenario.name}: ${i + 1}/${seeds.length} seeds, ${runs.filter((x) => x.failed.length > 0).length} failing`);
  }
  if (progress) out.stderr('\r\x1b[K');
  const failing = runs.filter((r) => r.failed.length > 0);
  const wallMs = performance.now() - started;
  if (args.json) {
    out.stdout(`${JSON.stringify({ scenario: scenario.name, firstSeed: seeds[0], count: seeds.length, failingSeeds: failing.map((f) => f.seed), runs }, null, 2)}\n`);
  } else {
    out.stdout(`${scenario.name}: ${seeds.length} seeds (${seeds[0]}..${seeds.at(-1)}), ${failing.length} failing, ${(wallMs / 1000).toFixed(1)}s wall time\n`);
    for (const f of failing) out.stdout(`  seed ${f.seed}: ${f.failed.join(', ')} failed — replay: ${replay(f.seed)}\n`);
  }
  const explained = firstFailure ? explainFailures(firstFailure, { replay: replay(firstFailure.seed) }) : [];
  if (explained.length > 0) {
    const text = `\n${explained.join('\n\n')}\n`;
    if (args.json) out.stderr(text);
    else out.stdout(text);
  }
  const shown = firstFailure ?? first;
  if (args.report && shown) await writeHtml(args.report, shown, explained, out, args.json === true, replay(shown.seed));
  return failing.length > 0 ? 1 : 0;
}

async function writeHtml(path: string, result: RunResult, failures: readonly string[], out: SimCommandOutput, quiet: boolean, replay: string): Promise<void> {
  await writeFile(path, renderHtmlReport({ report: result.report, checks: result.checks, timeline: result.timeline, failureDetails: failures, replay }));
  if (!quiet) out.stderr(`HTML report of seed ${result.seed} written to ${path}\n`);
}
