/**
 * The dashboard page (`GET /`) in headless Chromium (Debian's /usr/bin/chromium, driven by
 * playwright-core) against live agents: a split-brain made with the fault endpoint and left for an
 * operator (`recovery.splitBrainResolution: manual`) shows up in the pending list with its resource
 * id and type; clicking it shows its decision record; resolving it with the CLI empties the list.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cli,
  createCluster,
  dumpLogsOnFailure,
  heal,
  partition,
  vmState,
  waitFor,
  waitPeerState,
  type Cluster,
  type ConflictView,
  type VmView,
} from './support.js';

const CHROMIUM = '/usr/bin/chromium';
const ID = 'vm-dash';

let cluster: Cluster | undefined;
let browser: Browser | undefined;
let page: Page | undefined;
const pageErrors: string[] = [];
const c = (): Cluster => cluster!;

dumpLogsOnFailure(() => cluster);

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: the dashboard test needs Debian's chromium; .ci/run must \`apt-get install -y chromium\` (run \`apt-get update && apt-get install -y chromium\` as root here)`);
  }
  cluster = await createCluster('dashboard', { nodes: 2, extraYaml: () => 'recovery: { splitBrainResolution: manual }' });
  [browser] = await Promise.all([
    chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    }),
    cluster.start(),
  ]);
});

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  await cluster?.destroy();
});

describe('the dashboard page in a browser', () => {
  let conflict: ConflictView;

  it('loads against a live agent: health, peers and quorum', async () => {
    const hv01 = c().agent('hv-01');
    page = await browser!.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // Failed requests by URL (the browser's own /favicon.ico probe aside: the page declares none).
    page.on('response', (r) => {
      if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) pageErrors.push(`${r.status()} ${r.url()}`);
    });
    page.on('requestfailed', (r) => pageErrors.push(`failed ${r.url()}: ${r.failure()?.errorText ?? ''}`));
    const res = await page.goto(`${hv01.api}/`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-type']).toMatch(/^text\/html/);
    expect(await page.title()).toBe('dwcp · hv-01');
    await expect.poll(() => page!.locator('#health').textContent(), { timeout: 15_000 }).toMatch(/^\d+ · (healthy|degraded|critical)$/);
    await expect.poll(() => page!.locator('#peers').textContent(), { timeout: 15_000 }).toContain('hv-02');
    expect(await page.locator('#peers').textContent()).toContain('up');
    expect(await page.locator('#quorum').textContent()).toMatch(/quorum 2\/2 ok/);
    expect(await page.locator('#pending tbody').textContent()).toContain('nothing pending');
  });

  it('shows a split-brain conflict made through a partition in the pending list, and its decision record on click', async () => {
    const [hv01, hv02] = [c().agent('hv-01'), c().agent('hv-02')];
    const base = await hv01.send<{ version: { id: string } }>('PUT', `/v1/vms/${ID}`, vmState(ID, { power_state: 'stopped' }));
    expect(base.status, base.text).toBe(200);
    await waitFor(`${ID} on hv-02`, async () => (await hv02.vm(ID))?.version.id === base.body.version.id, 15_000);

    await partition(c(), ['hv-01'], ['hv-02']);
    await Promise.all([waitPeerState(hv01, ['hv-02'], 'down'), waitPeerState(hv02, ['hv-01'], 'down')]);
    for (const [a, host] of [[hv01, 'hv-01'], [hv02, 'hv-02']] as const) {
      const read = await a.get<VmView>(`/v1/vms/${ID}`);
      const w = await a.send('PUT', `/v1/vms/${ID}`, { ...read.body.state, host, power_state: 'running' }, { headers: { 'X-DWCP-Context': read.headers.get('x-dwcp-context')! } });
      expect(w.status, w.text).toBe(200);
    }
    await heal(c());

    conflict = await waitFor(
      'a pending split-brain conflict on hv-01',
      async () => (await hv01.conflicts('pending')).find((x) => x.resourceId === `vm/${ID}`),
      30_000,
      500,
    );
    expect(conflict.severity).toBe('critical');
    expect(conflict.strategy).toBe('manual_intervention');

    // The pending list (refreshed every 2 s) shows the conflict: id, resource and type.
    const row = page!.locator('#pending tbody tr', { hasText: `vm/${ID}` });
    await expect.poll(() => row.count(), { timeout: 15_000 }).toBe(1);
    const cells = await row.locator('td').allTextContents();
    expect(cells).toEqual([conflict.id.slice(0, 12), `vm/${ID}`, conflict.type, conflict.severity]);

    // Clicking it shows the decision record: why it waits for an operator.
    await row.getByRole('button', { name: conflict.id.slice(0, 12) }).click();
    const decision = page!.locator('#decision pre');
    await expect.poll(() => decision.count(), { timeout: 10_000 }).toBe(1);
    const text = (await decision.textContent()) ?? '';
    expect(text).toContain(`conflict ${conflict.id.slice(0, 12)} on vm/${ID}: ${conflict.type}, severity critical`);
    expect(text).toMatch(/split-brain: the VM is running on 2 hosts at once \(hv-01, hv-02\)/);
    expect(text).toMatch(/policy production: /);
    expect(text).toContain(`outcome: waiting for an operator (manual_intervention); resolve with: dwcp conflicts resolve ${conflict.id}`);
    // The page shows what the API says, word for word.
    const api = await hv01.get<ConflictView>(`/v1/conflicts/${conflict.id}`);
    expect(text).toBe(api.body.explanation);

    // Alerts and hotspots name the problem too.
    await expect.poll(() => page!.locator('#hotspots').textContent(), { timeout: 10_000 }).toContain(`vm/${ID}`);
  });

  it('empties the pending list once an operator resolves the conflict with the CLI', async () => {
    const hv01 = c().agent('hv-01');
    const vm = (await hv01.vm(ID))!;
    const keep = [vm.version, ...vm.siblings.map((s) => s.version)].find((v) => v.origin === 'hv-01');
    expect(keep, JSON.stringify(vm)).toBeDefined();
    const r = await cli(hv01.api, 'conflicts', 'resolve', conflict.id.slice(0, 12), '--pick', keep!.id);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`conflict ${conflict.id} resolved`);
    await expect.poll(() => page!.locator('#pending tbody').textContent(), { timeout: 15_000 }).toContain('nothing pending');
    // Both agents converge on the operator's choice.
    for (const a of c().agents) {
      await waitFor(`${a.nodeId} to hold the operator's choice`, async () => {
        const v = await a.vm(ID);
        return v?.siblings.length === 0 && v.state?.host === 'hv-01' && v.state.power_state === 'running';
      }, 20_000);
    }
    expect(pageErrors).toEqual([]);
  });
});
