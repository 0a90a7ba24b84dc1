/**
 * Shared by the ops tests (unit file, install scripts, alert rules, dashboard, demo): the repository
 * root, the build, external tools, and the metric names src/observe/metrics.ts registers.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const MAIN_JS = join(ROOT, 'dist/src/cli/main.js');

/** The path of an executable on PATH, or undefined. */
export function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  const path = r.stdout.trim();
  return r.status === 0 && path ? path : undefined;
}

/**
 * Make sure `dist/` exists (`npm run build` otherwise). Test files run in parallel, so a lock
 * directory keeps two of them from building at once; the loser waits for the winner's build.
 */
export function ensureBuilt(): void {
  if (existsSync(MAIN_JS)) return;
  const lock = join(tmpdir(), `dwcp-ops-build-${createHash('sha1').update(ROOT).digest('hex').slice(0, 12)}.lock`);
  const deadline = Date.now() + 240_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Held by another test file (or left by a killed run: stale after 5 minutes).
      if (existsSync(MAIN_JS)) return;
      try {
        if (Date.now() - statSync(lock).mtimeMs > 300_000) rmdirSync(lock);
      } catch {
        // gone meanwhile
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for another test's build (lock ${lock})`);
      spawnSync('sleep', ['1']);
    }
  }
  try {
    if (existsSync(MAIN_JS)) return;
    const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8', timeout: 240_000 });
    if (r.status !== 0) throw new Error(`npm run build failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  } finally {
    rmdirSync(lock);
  }
}

/**
 * Metric names src/observe/metrics.ts registers, as Prometheus exposes them: counters and gauges by
 * their name, histograms also as `_bucket`, `_sum` and `_count`.
 */
export function exposedMetricNames(): Set<string> {
  const text = readFileSync(join(ROOT, 'src/observe/metrics.ts'), 'utf8');
  const names = new Set<string>();
  for (const m of text.matchAll(/new (Counter|Gauge|Histogram|Summary)\(\{\s*name: '([a-z_:][a-z0-9_:]*)'/g)) {
    const [, kind, name] = m;
    names.add(name!);
    if (kind === 'Histogram' || kind === 'Summary') for (const s of ['_bucket', '_sum', '_count']) names.add(name! + s);
  }
  return names;
}

/** The base names (no histogram suffix) src/observe/metrics.ts registers. */
export function registeredMetricNames(): string[] {
  const text = readFileSync(join(ROOT, 'src/observe/metrics.ts'), 'utf8');
  return [...text.matchAll(/new (?:Counter|Gauge|Histogram|Summary)\(\{\s*name: '([a-z_:][a-z0-9_:]*)'/g)].map((m) => m[1]!);
}

/** The dwcp metric names (and `up`) a PromQL expression mentions. */
export function metricsIn(expr: string): string[] {
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const names = withoutStrings.match(/\b(dwcp_[a-z0-9_]+|up)\b/g) ?? [];
  return [...new Set(names)];
}
