/**
 * The HTML report (`dwcp sim --report FILE`): one self-contained file (inline CSS and SVG, no script,
 * no external assets) with the verdicts, the figures, and a timeline of the run: per node, the
 * partition side it was on, crashes and pauses, conflicts detected and resolved (binned), and when it
 * converged after each heal; above it the faults and any split-brain episode.
 */
import type { CheckResult } from './checkers.js';
import type { Report } from './report.js';
import type { Timeline } from './runner.js';

export interface HtmlReportInput {
  readonly report: Report;
  readonly checks: readonly CheckResult[];
  readonly timeline: Timeline;
  /** Text blocks shown under the checkers (e.g. the history around each violation). */
  readonly failureDetails?: readonly string[];
  /** The command that replays this run. */
  readonly replay?: string;
}

const GROUP_COLORS = ['#dbeafe', '#dcfce7', '#fae8ff', '#ffedd5', '#e0f2fe', '#fef9c3'];
const SEVERITY_COLORS: Readonly<Record<string, string>> = { low: '#60a5fa', medium: '#f59e0b', high: '#ef4444', critical: '#7f1d1d' };

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
}

/** A "nice" tick step (1, 2, 5 × 10^k ms) giving about `n` ticks over `span`. */
function tickStep(span: number, n: number): number {
  const raw = span / Math.max(1, n);
  const p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1))));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

export function renderTimelineSvg(tl: Timeline): string {
  const W = 1100;
  const left = 70;
  const right = 20;
  const top = 54;
  const rowH = 34;
  const splitRows = [...new Set(tl.splitBrain.map((s) => s.vmId))].sort();
  const splitTop = top + tl.nodes.length * rowH + 16;
  const H = splitTop + (splitRows.length > 0 ? 18 + splitRows.length * 14 : 0) + 34;
  const span = Math.max(1, tl.endMs);
  const x = (t: number): number => left + (Math.min(Math.max(t, 0), span) / span) * (W - left - right);
  const rowY = (node: string): number => top + tl.nodes.indexOf(node) * rowH;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="timeline of the run">`);
  out.push(
    '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="3" height="6" fill="#f3f4f6"/></pattern>' +
      '<pattern id="paused" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="4" height="8" fill="#8b5cf6" fill-opacity="0.55"/></pattern></defs>',
  );
  // Node rows and partition sides.
  for (const node of tl.nodes) {
    const y = rowY(node);
    out.push(`<rect x="${left}" y="${y}" width="${W - left - right}" height="${rowH - 6}" fill="#f9fafb" stroke="#e5e7eb"/>`);
    out.push(`<text x="${left - 8}" y="${y + rowH / 2}" text-anchor="end" class="lbl">${esc(node)}</text>`);
  }
  for (const p of tl.partitions) {
    const to = Number.isFinite(p.to) ? p.to : tl.endMs;
    for (const node of tl.nodes) {
      const gi = p.groups?.findIndex((g) => g.includes(node)) ?? -1;
      const fill = gi >= 0 ? GROUP_COLORS[gi % GROUP_COLORS.length]! : 'url(#hatch)';
      out.push(
        `<rect x="${x(p.from)}" y="${rowY(node)}" width="${Math.max(1, x(to) - x(p.from))}" height="${rowH - 6}" fill="${fill}"><title>${esc(`${p.label}: ${secs(p.from)} – ${secs(to)}${gi >= 0 ? `, side ${gi + 1}` : ''}`)}</title></rect>`,
      );
    }
  }
  for (const s of tl.nodeStates) {
    const to = Number.isFinite(s.to) ? s.to : tl.endMs;
    const fill = s.state === 'crashed' ? '#374151' : 'url(#paused)';
    out.push(
      `<rect x="${x(s.from)}" y="${rowY(s.node) + 4}" width="${Math.max(1, x(to) - x(s.from))}" height="${rowH - 14}" fill="${fill}" fill-opacity="${s.state === 'crashed' ? 0.75 : 1}"><title>${esc(`${s.node} ${s.state} ${secs(s.from)} – ${secs(to)}`)}</title></rect>`,
    );
  }
  // Conflicts (above the row's middle) and resolutions (below), binned per 3 px.
  const bin = (t: number): number => Math.floor((x(t) - left) / 3);
  const binned = <T extends { t: number; node: string }>(items: readonly T[]): Map<string, { count: number; first: T }> => {
    const m = new Map<string, { count: number; first: T }>();
    for (const it of items) {
      const k = `${it.node}|${bin(it.t)}`;
      const e = m.get(k);
      if (e) e.count++;
      else m.set(k, { count: 1, first: it });
    }
    return m;
  };
  for (const { count, first } of binned(tl.conflicts).values()) {
    const y = rowY(first.node);
    const h = Math.min(12, 3 + Math.log2(count) * 3);
    const color = first.splitBrain ? '#b91c1c' : (SEVERITY_COLORS[first.severity] ?? '#6b7280');
    out.push(`<rect x="${x(first.t)}" y="${y + 14 - h}" width="2.5" height="${h}" fill="${color}"><title>${esc(`${count} conflict(s) on ${first.node} near ${secs(first.t)}, e.g. ${first.resourceId} (${first.severity})`)}</title></rect>`);
  }
  for (const { count, first } of binned(tl.resolutions).values()) {
    const y = rowY(first.node);
    const h = Math.min(12, 3 + Math.log2(count) * 3);
    out.push(`<rect x="${x(first.t)}" y="${y + 15}" width="2.5" height="${h}" fill="#16a34a"><title>${esc(`${count} resolution(s) on ${first.node} near ${secs(first.t)}, e.g. ${first.strategy}`)}</title></rect>`);
  }
  for (const c of tl.convergence) {
    const cx = x(c.at);
    const cy = rowY(c.node) + (rowH - 6) / 2;
    out.push(`<path d="M${cx} ${cy - 5} L${cx + 5} ${cy} L${cx} ${cy + 5} L${cx - 5} ${cy} Z" fill="#2563eb"><title>${esc(`${c.node} converged ${Math.round(c.at - c.healAt)}ms after the heal at ${secs(c.healAt)}`)}</title></path>`);
  }
  for (const f of tl.failovers) {
    const fx = x(f.t);
    const fy = rowY(f.node) + 2;
    out.push(`<path d="M${fx - 4} ${fy} L${fx + 4} ${fy} L${fx} ${fy + 7} Z" fill="#7c3aed"><title>${esc(`HA manager started ${f.vmId} on ${f.node} at ${secs(f.t)}`)}</title></path>`);
  }
  for (const f of tl.fences) {
    const fx = x(f.t);
    const fy = rowY(f.node) + rowH - 12;
    out.push(`<path d="M${fx - 3} ${fy - 3} L${fx + 3} ${fy + 3} M${fx - 3} ${fy + 3} L${fx + 3} ${fy - 3}" stroke="#111827" stroke-width="2"><title>${esc(`${f.node} fenced ${f.vmId} at ${secs(f.t)}`)}</title></path>`);
  }
  // Faults on top.
  for (const f of tl.faults) {
    const fx = x(f.t);
    out.push(`<line x1="${fx}" y1="${top - 6}" x2="${fx}" y2="${top + tl.nodes.length * rowH}" stroke="#9ca3af" stroke-dasharray="3 3"/>`);
    out.push(`<text x="${fx + 2}" y="${top - 10}" class="flt" transform="rotate(-25 ${fx + 2} ${top - 10})">${esc(f.label)}</text>`);
  }
  // Split-brain lanes.
  if (splitRows.length > 0) {
    out.push(`<text x="${left}" y="${splitTop + 8}" class="lbl">split-brain (VM running on two hosts)</text>`);
    for (const s of tl.splitBrain) {
      const y = splitTop + 14 + splitRows.indexOf(s.vmId) * 14;
      out.push(`<rect x="${x(s.from)}" y="${y}" width="${Math.max(2, x(s.to) - x(s.from))}" height="10" fill="#dc2626"><title>${esc(`${s.vmId} on ${s.hosts.join(' and ')}: ${secs(s.from)} – ${secs(s.to)}`)}</title></rect>`);
    }
    splitRows.forEach((vm, i) => out.push(`<text x="${left - 8}" y="${splitTop + 23 + i * 14}" text-anchor="end" class="sm">${esc(vm)}</text>`));
  }
  // Axis.
  const axisY = H - 22;
  out.push(`<line x1="${left}" y1="${axisY}" x2="${W - right}" y2="${axisY}" stroke="#6b7280"/>`);
  const step = tickStep(span, 10);
  for (let t = 0; t <= span; t += step) {
    out.push(`<line x1="${x(t)}" y1="${axisY}" x2="${x(t)}" y2="${axisY + 4}" stroke="#6b7280"/><text x="${x(t)}" y="${axisY + 16}" text-anchor="middle" class="sm">${secs(t)}</text>`);
  }
  if (tl.durationMs < tl.endMs) {
    out.push(`<line x1="${x(tl.durationMs)}" y1="${top - 6}" x2="${x(tl.durationMs)}" y2="${axisY}" stroke="#111827"/>`);
  }
  out.push('</svg>');
  return out.join('\n');
}

export function renderHtmlReport(input: HtmlReportInput): string {
  const { report: r, checks, timeline } = input;
  const failed = checks.filter((c) => !c.pass);
  const verdict = failed.length === 0 ? '<span class="ok">all checkers pass</span>' : `<span class="bad">${failed.length} checker(s) failed</span>`;
  const kv = (rows: Array<[string, string]>): string => `<table>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>`;
  const nz = (o: Record<string, number>): string =>
    Object.entries(o)
      .filter(([, v]) => v > 0)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none';
  const figures = kv([
    ['virtual time', `${secs(r.details.virtualMs)} (${r.details.events} events)`],
    ['writes', `${r.details.writes.acknowledged} acknowledged of ${r.details.writes.attempted}; ${r.details.writes.conflictingPairs} concurrent pairs`],
    ['failovers', `${r.details.failovers.done} started of ${r.details.failovers.attempts} attempts`],
    ['conflicts by type', nz(r.conflicts.byType)],
    ['conflicts by severity', nz(r.conflicts.bySeverity)],
    ['strategies', nz(r.strategies)],
    ['success rate', `${(r.successRate * 100).toFixed(2)}%`],
    ['manual intervention rate', `${(r.manualInterventionRate * 100).toFixed(2)}%`],
    ['resolution latency', `p50 ${r.resolutionLatencyMs.p50}ms, p99 ${r.resolutionLatencyMs.p99}ms`],
    ['convergence after heals', r.convergenceMs.map((c) => `${c}ms`).join(', ') || 'none measured'],
    ['final convergence', r.details.finalConvergenceMs === null ? 'not reached' : `${r.details.finalConvergenceMs}ms`],
    ['acknowledged writes lost', String(r.acknowledgedWritesLost)],
    ['split-brain moments', `${r.splitBrainMoments} (${r.details.splitBrainMs}ms)`],
    ['messages', `${r.details.messages.delivered} delivered / ${r.details.messages.sent} sent; ${r.details.messages.lost} lost, ${r.details.messages.cut} cut`],
  ]);
  const checkRows = checks.map((c) => `<tr><th>${esc(c.name)}</th><td class="${c.pass ? 'ok' : 'bad'}">${c.pass ? 'pass' : 'FAIL'}</td><td>${esc(c.reason)}</td></tr>`).join('');
  const details = (input.failureDetails ?? []).map((d) => `<pre>${esc(d)}</pre>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dwcp sim: ${esc(r.scenario)} seed ${r.seed}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#111827;max-width:1200px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
table{border-collapse:collapse}th,td{text-align:left;padding:3px 10px;border-bottom:1px solid #e5e7eb;vertical-align:top}
th{font-weight:600;white-space:nowrap}.ok{color:#15803d;font-weight:600}.bad{color:#b91c1c;font-weight:600}
pre{background:#f3f4f6;padding:10px;overflow:auto;font-size:12px}
.lbl{font-size:12px;fill:#374151}.sm{font-size:10px;fill:#4b5563}.flt{font-size:10px;fill:#374151}
.legend span{display:inline-block;margin-right:14px;font-size:12px}.sw{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
</style></head><body>
<h1>${esc(r.scenario)} — seed ${r.seed}, policy ${esc(r.policy)}</h1>
<p>${verdict}. Replay: <code>${esc(input.replay ?? `dwcp sim <scenario file> --seed ${r.seed}`)}</code></p>
<h2>Checkers</h2><table>${checkRows}</table>
${details ? `<h2>What the failing checks saw</h2>${details}` : ''}
<h2>Timeline (virtual time)</h2>
<div class="legend"><span><i class="sw" style="background:${GROUP_COLORS[0]}"></i><i class="sw" style="background:${GROUP_COLORS[1]}"></i>partition side</span><span><i class="sw" style="background:#374151"></i>crashed</span><span><i class="sw" style="background:#a78bfa"></i>paused</span><span><i class="sw" style="background:${SEVERITY_COLORS.low}"></i><i class="sw" style="background:${SEVERITY_COLORS.high}"></i>conflicts (by severity)</span><span><i class="sw" style="background:#b91c1c"></i>split-brain conflict</span><span><i class="sw" style="background:#16a34a"></i>resolutions</span><span><i class="sw" style="background:#2563eb"></i>node converged after a heal</span><span><i class="sw" style="background:#7c3aed"></i>failover start</span><span><i class="sw" style="background:#111827"></i>fence</span></div>
${renderTimelineSvg(timeline)}
<h2>Figures</h2>${figures}
</body></html>
`;
}
