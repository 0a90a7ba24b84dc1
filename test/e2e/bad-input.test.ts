/**
 * Bad input against the real CLI and a real agent: invalid config files (exit 2, the message names the
 * file and the key), invalid API bodies and ids (400/404/413 with `{error: {code, message}}`), path
 * traversal in ids, a second agent on a data directory in use (refused, the first keeps serving, the
 * store intact), a non-loopback API without a token (exit 2), and bearer tokens (401 / 200).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCluster,
  dumpLogsOnFailure,
  freePorts,
  http,
  rawRequest,
  removeDir,
  runCli,
  tempDir,
  vmState,
  type ApiErrorBody,
  type Cluster,
  type HttpReply,
  type VmView,
} from './support.js';

let cluster: Cluster | undefined;
let secured: Cluster | undefined;
let scratch = '';
const c = (): Cluster => cluster!;

dumpLogsOnFailure(() => ({ dumpLogs: () => [cluster, secured].forEach((x) => x?.dumpLogs()) }));

beforeAll(async () => {
  scratch = tempDir('bad-config');
  cluster = await createCluster('bad-input', { nodes: 1 });
  secured = await createCluster('token', { nodes: 1, apiHost: '0.0.0.0', token: 's3cret-token-for-e2e' });
  await Promise.all([cluster.start(), secured.start()]);
});

afterAll(async () => {
  await Promise.all([cluster?.destroy(), secured?.destroy()]);
  if (scratch) removeDir(scratch);
});

function expectApiError(r: HttpReply, status: number, code?: string, message?: RegExp): void {
  expect(r.status, r.text).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/json/);
  const body = r.body as ApiErrorBody;
  expect(body, r.text).toEqual({ error: { code: expect.any(String) as string, message: expect.any(String) as string } });
  if (code !== undefined) expect(body.error.code).toBe(code);
  if (message !== undefined) expect(body.error.message).toMatch(message);
}

describe('invalid config files: `dwcp agent --config` exits 2 naming the file and the key', () => {
  const base = (extra: string): string =>
    [`node: { id: hv-09, dataDir: ${JSON.stringify(join(scratch, 'data'))} }`, `cluster: { pskFile: ${JSON.stringify(join(scratch, 'none.psk'))} }`, extra, ''].join('\n');
  const cases: Array<{ name: string; yaml: () => string; expect: RegExp[] }> = [
    { name: 'an unknown key', yaml: () => base('recovery: { splitBrainResolutoin: quorum }'), expect: [/recovery\.splitBrainResolutoin/, /unknown key/] },
    { name: 'an unknown top-level key', yaml: () => base('colour: blue'), expect: [/colour/, /unknown key/] },
    { name: 'a bad enum value', yaml: () => base('recovery: { splitBrainResolution: coinflip }'), expect: [/recovery\.splitBrainResolution/, /one of quorum, manual, priority/, /coinflip/] },
    { name: 'a value of the wrong type', yaml: () => base('recovery: { maxRecoveryAttempts: lots }'), expect: [/recovery\.maxRecoveryAttempts/, /an integer/] },
    { name: 'a bad duration', yaml: () => base('recovery: { checkpointInterval: soon }'), expect: [/recovery\.checkpointInterval/, /a duration/] },
    {
      name: 'an unknown cluster.guard key',
      yaml: () => base('').replace('cluster: {', 'cluster: { guard: { banForever: true },'),
      expect: [/cluster\.guard\.banForever/, /unknown key/],
    },
    {
      name: 'a bad cluster.guard duration',
      yaml: () => base('').replace('cluster: {', 'cluster: { guard: { banFor: 0s },'),
      expect: [/cluster\.guard\.banFor/, /a duration above 0/],
    },
    { name: 'a YAML syntax error', yaml: () => 'node: { id: hv-09\ncluster: [\n', expect: [/line \d+, column \d+/, /valid YAML/] },
    {
      name: 'a non-loopback api.listen without a tokenFile',
      yaml: () => base('api: { listen: "0.0.0.0:9999" }'),
      expect: [/api\.tokenFile/, /0\.0\.0\.0:9999 is not a loopback address/],
    },
  ];

  // Each case is its own short-lived process: run them side by side.
  it.concurrent.for(cases.map((x) => [x.name, x] as const))('%s', async ([, tc], { expect }) => {
    const file = join(scratch, `${tc.name.replace(/\W+/g, '-')}.yaml`);
    writeFileSync(file, tc.yaml());
    const r = await runCli(['agent', '--config', file]);
    expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(2);
    expect(r.stderr).toContain(file);
    for (const re of tc.expect) expect(r.stderr).toMatch(re);
    // It stopped before opening anything: no store was created.
    expect(r.stdout).not.toMatch(/agent started/);
  });

  it('a missing config file', async () => {
    const file = join(scratch, 'does-not-exist.yaml');
    const r = await runCli(['agent', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(file);
  });
});

describe('invalid API requests', () => {
  const ID = 'vm-good';

  beforeAll(async () => {
    const r = await c().agents[0]!.send('PUT', `/v1/vms/${ID}`, vmState(ID));
    expect(r.status, r.text).toBe(200);
  });

  it('malformed JSON → 400', async () => {
    const a = c().agents[0]!;
    expectApiError(await a.send('PUT', '/v1/vms/vm-x', undefined, { raw: '{"id": "vm-x", "host": ' }), 400, 'ERR_BAD_REQUEST', /malformed JSON/);
    expectApiError(await a.send('PUT', '/v1/vms/vm-x', undefined, { raw: '' }), 400, 'ERR_BAD_REQUEST', /empty/);
    expectApiError(await a.send('PUT', '/v1/vms/vm-x', [1, 2]), 400, 'ERR_BAD_REQUEST');
    expectApiError(await a.send('POST', '/v1/conflicts/0123456789abcdef/resolve', undefined, { raw: 'nope' }), 400, 'ERR_BAD_REQUEST', /malformed JSON/);
  });

  it('wrong field types and values → 400 naming the field', async () => {
    const a = c().agents[0]!;
    expectApiError(await a.send('PUT', '/v1/vms/vm-x', vmState('vm-x', { cpu_allocation: 'four' })), 400, 'ERR_INVALID_VM_STATE', /cpu_allocation/);
    expectApiError(await a.send('PUT', '/v1/vms/vm-x', vmState('vm-x', { memory_mb: -1 })), 400, 'ERR_INVALID_VM_STATE', /memory_mb/);
    expectApiError(await a.send('PUT', '/v1/vms/vm-x', vmState('vm-x', { power_state: 'exploded' })), 400, 'ERR_INVALID_VM_STATE', /power_state/);
    expectApiError(await a.send('PUT', '/v1/vms/vm-x', vmState('vm-x', { network_config: { interfaces: [{ name: 'eth0', mac: 'not-a-mac' }] } })), 400, 'ERR_INVALID_VM_STATE', /mac/);
    // Nothing was written.
    expectApiError(await a.get('/v1/vms/vm-x'), 404, 'ERR_NOT_FOUND');
  });

  it('a body id that differs from the path id → 400', async () => {
    const a = c().agents[0]!;
    expectApiError(await a.send('PUT', `/v1/vms/${ID}`, vmState('vm-other')), 400, 'ERR_BAD_REQUEST', /vm-other.*does not match.*vm-good/);
    expect((await a.vm(ID))?.state).toEqual(vmState(ID));
  });

  it('a body over 1 MiB → 413, and the agent keeps serving', async () => {
    const a = c().agents[0]!;
    const big = JSON.stringify(vmState('vm-big', { padding: 'x'.repeat(1024 * 1024) }));
    let r: HttpReply | undefined;
    try {
      r = await a.send('PUT', '/v1/vms/vm-big', undefined, { raw: big });
    } catch (err) {
      throw new Error(`the 413 answer was not received: ${String(err)}`, { cause: err });
    }
    expectApiError(r, 413, 'ERR_TOO_LARGE', /1048576/);
    // Without a Content-Length (chunked), the limit is enforced while reading.
    const chunked = await rawRequest(a.apiPort, 'PUT', '/v1/vms/vm-big', { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' }, big);
    expectApiError(chunked, 413, 'ERR_TOO_LARGE');
    expect((await a.get('/healthz')).status).toBe(200);
    expectApiError(await a.get('/v1/vms/vm-big'), 404);
  });

  it('an unknown VM id → 404; an unknown conflict → 404', async () => {
    const a = c().agents[0]!;
    expectApiError(await a.get('/v1/vms/vm-nobody'), 404, 'ERR_NOT_FOUND', /vm-nobody/);
    expectApiError(await a.get('/v1/conflicts/0123456789abcdef0123456789abcdef'), 404, 'ERR_NOT_FOUND');
    const cliGet = await runCli(['--api', a.api, 'vm', 'get', 'vm-nobody']);
    expect(cliGet.code).toBe(1);
    expect(cliGet.stderr).toMatch(/404 ERR_NOT_FOUND/);
  });

  it('path traversal in ids → 400, never a lookup', async () => {
    const a = c().agents[0]!;
    for (const [method, path] of [
      ['GET', '/v1/vms/..%2Fetc'],
      ['GET', '/v1/vms/..%2F..%2Fstore'],
      ['GET', '/v1/vms/%2e%2e%2fetc%2fpasswd'],
      ['PUT', '/v1/vms/..%2Fetc'],
      ['DELETE', '/v1/vms/..%2Fetc'],
      ['GET', '/v1/conflicts/..%2F..%2Fetc'],
      ['POST', '/v1/checkpoints/..%2Fcp/restore'],
      ['GET', '/v1/crdts/..%2Fsecret'],
    ] as const) {
      const r = await rawRequest(a.apiPort, method, path, {}, method === 'GET' || method === 'DELETE' ? undefined : JSON.stringify(vmState('etc')));
      expectApiError(r, 400, 'ERR_BAD_REQUEST');
      expect((r.body as ApiErrorBody).error.message, `${method} ${path}`).toMatch(/invalid|malformed/);
    }
    // A whole `..` segment (plain or percent-encoded) is resolved as URL syntax: it leaves /v1/vms
    // altogether and names no endpoint.
    for (const path of ['/v1/vms/%2e%2e', '/v1/vms/%2E%2E/%2e%2e/etc/passwd', '/v1/vms/../../etc/passwd']) {
      expectApiError(await rawRequest(a.apiPort, 'GET', path), 404, 'ERR_NOT_FOUND', /no such endpoint/);
    }
    expect((await a.get<VmView[]>('/v1/vms')).body.map((v) => v.id)).toEqual([ID]);
  });

  it('other malformed input: bad X-DWCP-Context, bad conflict status filter, wrong method', async () => {
    const a = c().agents[0]!;
    expectApiError(await a.send('PUT', `/v1/vms/${ID}`, vmState(ID), { headers: { 'X-DWCP-Context': 'garbage!!' } }), 400, 'ERR_BAD_REQUEST', /X-DWCP-Context/);
    expectApiError(await a.get('/v1/conflicts?status=maybe'), 400, 'ERR_BAD_REQUEST', /status/);
    expectApiError(await a.send('PATCH', `/v1/vms/${ID}`, {}), 405);
    expectApiError(await a.send('PUT', `/v1/vms/${ID}`, undefined, { raw: '{}', headers: { 'Content-Type': 'text/plain' } }), 415);
  });
});

describe('a second agent on a data directory in use', () => {
  it('exits non-zero naming the directory; the first keeps serving; the store is intact', async () => {
    const first = c().agents[0]!;
    const [api, p2p] = await freePorts(2);
    const r = await runCli(['agent', '--config', first.configFile, '--api-listen', `127.0.0.1:${api!}`, '--listen', `/ip4/127.0.0.1/tcp/${p2p!}`], { timeoutMs: 30_000 });
    expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).not.toBe(0);
    expect(r.code).not.toBeNull();
    expect(r.stderr).toContain(first.dataDir);
    expect(first.running).toBe(true);
    expect((await first.get('/readyz')).status).toBe(200);
    const w = await first.send('PUT', '/v1/vms/vm-after', vmState('vm-after'));
    expect(w.status, w.text).toBe(200);

    // Stop cleanly and start again over the same directory: everything is there.
    expect((await first.stop()).code).toBe(0);
    await c().start();
    const ids = (await first.get<VmView[]>('/v1/vms')).body.map((v) => v.id);
    expect(ids).toEqual(['vm-after', 'vm-good']);
    expect((await first.vm('vm-good'))?.state).toEqual(vmState('vm-good'));
  });
});

describe('bearer tokens on a non-loopback API', () => {
  it('missing or wrong token → 401; the right token → 200; /healthz stays open', async () => {
    const a = secured!.agents[0]!;
    const url = a.api;
    expectApiError(await http('GET', `${url}/v1/status`), 401, 'ERR_UNAUTHORIZED', /missing bearer token/);
    expectApiError(await http('GET', `${url}/v1/vms`, { headers: { Authorization: 'Bearer wrong-token' } }), 401, 'ERR_UNAUTHORIZED', /wrong bearer token/);
    expectApiError(await http('GET', `${url}/v1/vms`, { headers: { Authorization: 's3cret-token-for-e2e' } }), 401, 'ERR_UNAUTHORIZED');
    expectApiError(await http('PUT', `${url}/v1/vms/vm-t`, { json: vmState('vm-t') }), 401, 'ERR_UNAUTHORIZED');
    expectApiError(await http('GET', `${url}/metrics`), 401);
    expect((await http('GET', `${url}/healthz`)).status).toBe(200);

    const ok = await http('GET', `${url}/v1/status`, { headers: { Authorization: 'Bearer s3cret-token-for-e2e' } });
    expect(ok.status, ok.text).toBe(200);
    const put = await http('PUT', `${url}/v1/vms/vm-t`, { json: vmState('vm-t'), headers: { Authorization: 'Bearer s3cret-token-for-e2e' } });
    expect(put.status, put.text).toBe(200);

    // The CLI carries it with --token or DWCP_TOKEN.
    const denied = await runCli(['--api', url, 'vm', 'list']);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/401 ERR_UNAUTHORIZED/);
    const withFlag = await runCli(['--api', url, '--token', 's3cret-token-for-e2e', 'vm', 'list']);
    expect(withFlag.code, withFlag.stderr).toBe(0);
    expect(withFlag.stdout).toMatch(/^vm-t\s+running/);
    const withEnv = await runCli(['--api', url, 'status'], { env: { DWCP_TOKEN: 's3cret-token-for-e2e' } });
    expect(withEnv.code, withEnv.stderr).toBe(0);
  });
});
