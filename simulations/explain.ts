/**
 * What a failing check saw: for each violation, the seed to replay it and the shortest history that
 * shows it — the events of the affected resource (every node's writes, applies, conflicts, decisions,
 * hypervisor actions, leases) and the faults, trimmed to the window around the violation.
 */
import { formatEntries } from './history.js';
import type { RunResult } from './runner.js';

export interface ExplainOptions {
  /** Violations explained per failing checker. */
  readonly perChecker?: number;
  /** History lines per violation. */
  readonly maxLines?: number;
  /** How to replay (defaults to `dwcp sim <scenario file> --seed <seed>`). */
  readonly replay?: string;
}

export function explainFailures(result: RunResult, options: ExplainOptions = {}): string[] {
  const per = options.perChecker ?? 2;
  const maxLines = options.maxLines ?? 60;
  const replay = options.replay ?? `dwcp sim ${result.scenario.file} --seed ${result.seed}`;
  const out: string[] = [];
  for (const c of result.checks) {
    if (c.pass) continue;
    for (const v of c.violations.slice(0, per)) {
      const lines = [`${c.name} FAILED (seed ${result.seed}; replay: ${replay})`, `  ${v.message}`];
      const all = result.history.around(v.resourceId, Math.max(0, v.from), v.to);
      // Too long: leave out the routine replication (applies) first, then duplicate conflict reports.
      let entries = all;
      const left: string[] = [];
      for (const kinds of [['apply'], ['conflict']]) {
        if (entries.length <= maxLines) break;
        const kept = entries.filter((e) => !kinds.includes(e.kind));
        left.push(`${entries.length - kept.length} ${kinds.join('/')} events`);
        entries = kept;
      }
      if (all.length > 0) {
        const omitted = left.length > 0 ? `; left out: ${left.join(', ')}` : '';
        lines.push(`  history${v.resourceId ? ` of ${v.resourceId}` : ''} from ${(Math.max(0, v.from) / 1000).toFixed(3)}s to ${(v.to / 1000).toFixed(3)}s (${all.length} events${omitted}):`);
        lines.push(...formatEntries(entries, maxLines));
      }
      out.push(lines.join('\n'));
    }
    if (c.violations.length > per) out.push(`${c.name}: ${c.violations.length - per} more violation(s) not shown`);
  }
  return out;
}
