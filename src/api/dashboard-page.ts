/**
 * The dashboard page for a person (`GET /`): one self-contained HTML document, no build step, no
 * external assets. It polls /v1/dashboard and /v1/status and shows health, peers and quorum,
 * conflicts by type over time, the pending queue (each opening its decision record), and alerts.
 * A bearer token, when the API needs one, is read from the page's fragment: `/#token=...`.
 */
export function renderDashboardPage(nodeId: string): string {
  const title = `dwcp · ${escapeHtml(nodeId)}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:10px 20px;display:flex;gap:20px;align-items:baseline}
header h1{font-size:18px;margin:0}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:14px;padding:14px}
section{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 2px #0002}
h2{font-size:14px;margin:0 0 8px;text-transform:uppercase;letter-spacing:.04em;color:#556}
.score{font-size:40px;font-weight:700}.healthy{color:#17803d}.degraded{color:#b26b00}.critical{color:#c0262d}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:3px 6px;border-bottom:1px solid #eee;font-size:13px}
button.link{background:none;border:0;color:#1a5fb4;cursor:pointer;padding:0;font:inherit;text-decoration:underline}
pre{white-space:pre-wrap;background:#f0f2f5;padding:8px;border-radius:6px;font-size:12px}
.alert{padding:6px 8px;border-radius:6px;margin:4px 0}.alert.critical{background:#fde8e8}.alert.warning{background:#fff4d6}
.muted{color:#778}
</style></head>
<body>
<header><h1>${title}</h1><span id="quorum" class="muted"></span><span id="updated" class="muted"></span></header>
<main>
<section><h2>Health</h2><div id="health" class="score">…</div><div id="summary" class="muted"></div></section>
<section><h2>Peers and quorum</h2><table id="peers"><tbody></tbody></table></section>
<section><h2>Alerts</h2><div id="alerts"><span class="muted">none</span></div></section>
<section style="grid-column:1/-1"><h2>Conflicts by type over time</h2><svg id="chart" width="100%" height="180" role="img" aria-label="conflicts by type per minute"></svg><div id="legend" class="muted"></div></section>
<section><h2>Pending conflicts</h2><table id="pending"><thead><tr><th>conflict</th><th>resource</th><th>type</th><th>severity</th></tr></thead><tbody></tbody></table></section>
<section><h2>Hotspots</h2><table id="hotspots"><tbody></tbody></table></section>
<section style="grid-column:1/-1"><h2>Decision record</h2><div id="decision" class="muted">Select a conflict to see why it was resolved the way it was.</div></section>
</main>
<script>
const token = new URLSearchParams(location.hash.slice(1)).get('token');
const headers = token ? { Authorization: 'Bearer ' + token } : {};
const get = (p) => fetch(p, { headers }).then((r) => r.json());
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const colors = { concurrent_update: '#1a5fb4', causal_violation: '#9141ac', semantic: '#c0262d', invariant_violation: '#e66100', resource_contention: '#26a269' };
async function showConflict(id) {
  const c = await get('/v1/conflicts/' + encodeURIComponent(id));
  document.getElementById('decision').innerHTML = '<pre>' + esc(c.explanation || JSON.stringify(c, null, 2)) + '</pre>';
}
window.showConflict = showConflict;
function chart(timeline) {
  const svg = document.getElementById('chart');
  const w = svg.clientWidth || 800, h = 180, pad = 24;
  const n = Math.max(timeline.length, 1);
  const totals = timeline.map((r) => Object.values(r.counts).reduce((a, b) => a + b, 0));
  const max = Math.max(1, ...totals);
  const bw = (w - pad * 2) / n;
  let out = '';
  timeline.forEach((row, i) => {
    let y = h - pad;
    for (const [type, count] of Object.entries(row.counts)) {
      const bh = (count / max) * (h - pad * 2);
      y -= bh;
      out += '<rect x="' + (pad + i * bw) + '" y="' + y + '" width="' + Math.max(1, bw - 2) + '" height="' + bh + '" fill="' + (colors[type] || '#888') + '"><title>' + esc(row.at + ' ' + type + ': ' + count) + '</title></rect>';
    }
  });
  out += '<text x="' + pad + '" y="14" font-size="11" fill="#778">max ' + max + '/min</text>';
  svg.innerHTML = out;
  document.getElementById('legend').innerHTML = Object.entries(colors).map(([t, c]) => '<span style="color:' + c + '">■</span> ' + t).join(' &nbsp; ');
}
async function refresh() {
  try {
    const [d, s] = await Promise.all([get('/v1/dashboard'), get('/v1/status')]);
    const hEl = document.getElementById('health');
    hEl.textContent = d.health.score + ' · ' + d.health.overall;
    hEl.className = 'score ' + d.health.overall;
    const m = d.metricsSummary;
    document.getElementById('summary').textContent = 'success ' + (m.successRate * 100).toFixed(1) + '% · pending ' + m.pendingConflicts + ' · manual ' + (m.manualInterventionRate * 100).toFixed(1) + '% · avg ' + m.averageResolutionMs.toFixed(2) + ' ms · ' + m.detectionRate.toFixed(2) + ' conflicts/s';
    document.getElementById('quorum').textContent = 'quorum ' + d.quorum.have + '/' + d.quorum.need + (d.quorum.ok ? ' ok' : ' LOST');
    document.querySelector('#peers tbody').innerHTML = s.peers.map((p) => '<tr><td>' + esc(p.nodeId) + '</td><td>' + esc(p.state) + '</td><td class="muted">' + esc(p.peerId || '') + '</td></tr>').join('') || '<tr><td class="muted">no peers yet</td></tr>';
    document.getElementById('alerts').innerHTML = d.alerts.map((a) => '<div class="alert ' + a.severity + '">' + esc(a.message) + '</div>').join('') || '<span class="muted">none</span>';
    document.querySelector('#pending tbody').innerHTML = d.pending.map((c) => '<tr><td><button class="link" onclick="showConflict(\\'' + esc(c.id) + '\\')">' + esc(c.id.slice(0, 12)) + '</button></td><td>' + esc(c.resourceId) + '</td><td>' + esc(c.type) + '</td><td>' + esc(c.severity) + '</td></tr>').join('') || '<tr><td class="muted" colspan="4">nothing pending</td></tr>';
    document.querySelector('#hotspots tbody').innerHTML = d.hotspots.map((h) => '<tr><td>' + esc(h.resourceId) + '</td><td>' + h.conflicts + '</td></tr>').join('') || '<tr><td class="muted">no conflicts</td></tr>';
    chart(d.timeline);
    const recent = await get('/v1/conflicts?status=all');
    if (!document.getElementById('decision').dataset.touched && recent.length) {
      const last = recent[recent.length - 1];
      document.getElementById('decision').innerHTML = '<button class="link" onclick="showConflict(\\'' + esc(last.id) + '\\')">latest: ' + esc(last.resourceId) + ' · ' + esc(last.type) + ' · ' + esc(last.status) + '</button>';
    }
    document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  } catch (e) {
    document.getElementById('updated').textContent = 'agent unreachable: ' + e;
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body></html>
`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}
