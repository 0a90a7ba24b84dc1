/**
 * config/grafana-dashboard.json: valid JSON in Grafana's dashboard model (schemaVersion 39), every
 * panel's query refers to metrics src/observe/metrics.ts registers, every registered metric is on
 * some panel, and (with promtool) every query is valid PromQL once Grafana's variables are filled in.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { exposedMetricNames, metricsIn, registeredMetricNames, ROOT, which } from './helpers.js';

interface Target {
  expr: string;
  refId: string;
  datasource?: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: Target[];
  datasource?: { type: string; uid: string };
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string }> };
  annotations: { list: Array<{ expr?: string }> };
}

const dashboard = JSON.parse(readFileSync(join(ROOT, 'config/grafana-dashboard.json'), 'utf8')) as Dashboard;
const queryPanels = dashboard.panels.filter((p) => p.type !== 'row');
const exprs = [
  ...queryPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr }))),
  ...dashboard.annotations.list.filter((a) => a.expr).map((a) => ({ where: 'annotation', expr: a.expr! })),
];

/** Grafana's variables replaced by values Prometheus accepts. */
function substitute(expr: string): string {
  return expr.replace(/\$__rate_interval|\$__interval|\$__range/g, '5m').replace(/\$\{?instance\}?/g, '.*');
}

describe('config/grafana-dashboard.json', () => {
  it('is a Grafana dashboard model', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.schemaVersion).toBeLessThanOrEqual(41);
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(dashboard.title).toBeTruthy();
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'instance']);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of queryPanels) {
      expect(['timeseries', 'stat', 'gauge', 'bargauge', 'table'], p.title).toContain(p.type);
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
    }
  });

  it('does not overlap panels', () => {
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          const key = `${x},${y}`;
          expect(cells.has(key), `panel "${p.title}" overlaps another at ${key}`).toBe(false);
          cells.add(key);
        }
      }
    }
  });

  it("queries only metrics the agent exports, each query filtered by the $instance variable", () => {
    const known = exposedMetricNames();
    for (const { where, expr } of exprs) {
      const used = metricsIn(expr);
      expect(used.length, `${where}: ${expr}`).toBeGreaterThan(0);
      for (const m of used) if (m !== 'up') expect(known.has(m), `${where}: ${m} is not registered in src/observe/metrics.ts`).toBe(true);
      expect(expr, where).toContain('instance=~"$instance"');
    }
  });

  it('shows every metric the agent registers (the fixed ones and peers, quorum, gossip, anti-entropy, store)', () => {
    const registered = registeredMetricNames();
    // A histogram is shown through its _bucket (or _sum/_count) series.
    const base = (m: string): string => {
      const stem = m.replace(/_(bucket|sum|count)$/, '');
      return stem !== m && registered.includes(stem) ? stem : m;
    };
    const shown = new Set(exprs.flatMap(({ expr }) => metricsIn(expr)).map(base));
    const missing = registered.filter((m) => !shown.has(m));
    expect(missing).toEqual([]);
  });

  it.skipIf(!which('promtool'))('has valid PromQL in every query (promtool check rules; skipped when promtool is missing)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dwcp-dashboard-'));
    try {
      const rules = { groups: [{ name: 'dashboard', rules: exprs.map((e, i) => ({ record: `dwcp:dashboard_query:${i}`, expr: substitute(e.expr) })) }] };
      const file = join(dir, 'queries.yml');
      writeFileSync(file, stringify(rules));
      const r = spawnSync(which('promtool')!, ['check', 'rules', file], { encoding: 'utf8' });
      expect(r.status, r.stdout + r.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
