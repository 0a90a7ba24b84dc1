/**
 * scripts/install.sh and scripts/uninstall.sh in a scratch root (`--root DIR`): the files, their
 * modes, the generated config (valid, with the node id, bootstrap and voters filled in), an operator's
 * config never overwritten, a second run changing nothing it should keep, the installed program
 * running an agent from its production-only node_modules, and the uninstall keeping the node's data
 * unless --purge.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/agent/config.js';
import { ensureBuilt, ROOT, which } from './helpers.js';

const INSTALL = join(ROOT, 'scripts/install.sh');
const UNINSTALL = join(ROOT, 'scripts/uninstall.sh');

function run(script: string, args: string[]): SpawnSyncReturns<string> {
  return spawnSync('bash', [script, ...args], { encoding: 'utf8', timeout: 170_000, env: { ...process.env, NO_COLOR: '1' } });
}

function ok(r: SpawnSyncReturns<string>): string {
  expect(r.status, `exit ${r.status ?? r.signal}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

const mode = (path: string): string => (statSync(path).mode & 0o777).toString(8).padStart(4, '0');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('scripts/install.sh and scripts/uninstall.sh: shell', () => {
  it('parse (bash -n)', () => {
    for (const script of [INSTALL, UNINSTALL, join(ROOT, 'scripts/install-lib.sh')]) expect(spawnSync('bash', ['-n', script], { encoding: 'utf8' }).status, script).toBe(0);
  });

  it.skipIf(!which('shellcheck'))('pass shellcheck (skipped when shellcheck is missing; Debian: apt-get install shellcheck)', () => {
    // -x follows the `source` of scripts/install-lib.sh (its directive path is relative to the checkout).
    const r = spawnSync(which('shellcheck')!, ['-x', INSTALL, UNINSTALL, join(ROOT, 'scripts/install-lib.sh')], { encoding: 'utf8', cwd: ROOT });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
});

describe('scripts/install.sh and scripts/uninstall.sh (--root scratch root)', () => {
  let root = '';
  let firstOut = '';
  const at = (p: string): string => join(root, p);
  const PEER = '12D3KooWCpvx2k1A2sTmCec5yxkNjPeFSFPSdisBxEDxEoEDXj8B';
  const BOOTSTRAP = `/ip4/10.0.0.11/tcp/7700/p2p/${PEER},/dns4/hv-02.example/tcp/7700/p2p/${PEER}`;

  beforeAll(() => {
    ensureBuilt();
    root = mkdtempSync(join(tmpdir(), 'dwcp-install-'));
    firstOut = ok(run(INSTALL, ['--root', root, '--node-id', 'hv-07', '--bootstrap', BOOTSTRAP, '--voters', 'hv-07,hv-08,hv-09', '--cluster-name', 'lab']));
  }, 180_000);
  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('installs the program with production dependencies only', () => {
    const prefix = at('opt/dwcp');
    for (const f of ['dist/src/cli/main.js', 'package.json', 'config/agent.example.yaml', 'config/dwcp-agent.service', 'INSTALL_INFO']) {
      expect(existsSync(join(prefix, f)), f).toBe(true);
    }
    const modules = readdirSync(join(prefix, 'node_modules'));
    for (const dep of ['libp2p', 'level', 'prom-client', 'yaml']) expect(modules, dep).toContain(dep);
    for (const dev of ['vitest', 'typescript', 'eslint', 'tsx', 'yjs']) expect(modules, dev).not.toContain(dev);
    // Nothing from the checkout that npm pack leaves out (sources, tests).
    expect(existsSync(join(prefix, 'src'))).toBe(false);
    expect(existsSync(join(prefix, 'test'))).toBe(false);
    expect(readFileSync(join(prefix, 'INSTALL_INFO'), 'utf8')).toMatch(/^prefix=\/opt\/dwcp$/m);
  });

  it('reports what it skipped under --root (user, systemd)', () => {
    expect(firstOut).toMatch(/would run: useradd --system .*dwcp/);
    expect(firstOut).toMatch(/would run: systemctl daemon-reload && systemctl enable --now dwcp-agent\.service/);
  });

  it('creates the directories, identity and cluster key with the right modes', () => {
    expect(mode(at('etc/dwcp'))).toBe('0750');
    expect(mode(at('var/lib/dwcp'))).toBe('0700');
    expect(mode(at('etc/dwcp/cluster.psk'))).toBe('0600');
    expect(mode(at('etc/dwcp/agent.yaml'))).toBe('0640');
    expect(readFileSync(at('etc/dwcp/cluster.psk'), 'utf8')).toMatch(/^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n?$/);
    expect(existsSync(at('var/lib/dwcp/identity.key'))).toBe(true);
    expect(mode(at('var/lib/dwcp/identity.key'))).toBe('0600');
    expect(readFileSync(at('var/lib/dwcp/node-id'), 'utf8').trim()).toBe('hv-07');
    expect(firstOut).toMatch(/peer id 12D3KooW\w+/);
  });

  it('writes a valid config from the example with node id, bootstrap, voters and cluster name', () => {
    const text = readFileSync(at('etc/dwcp/agent.yaml'), 'utf8');
    const cfg = parseConfig(text, '/etc/dwcp/agent.yaml');
    expect(cfg.node.id).toBe('hv-07');
    expect(cfg.node.dataDir).toBe('/var/lib/dwcp');
    expect(cfg.cluster.name).toBe('lab');
    expect(cfg.cluster.bootstrap).toEqual(BOOTSTRAP.split(','));
    expect(cfg.cluster.voters).toEqual(['hv-07', 'hv-08', 'hv-09']);
    expect(cfg.cluster.expectedVotes).toBe(3);
    expect(cfg.cluster.pskFile).toBe('/etc/dwcp/cluster.psk');
    expect(text).toContain('# Generated by scripts/install.sh for hv-07');
    // The example's comments are kept.
    expect(text).toContain('# quorum | manual | priority');
  });

  it('installs the wrapper and the unit', () => {
    const wrapper = readFileSync(at('usr/local/bin/dwcp'), 'utf8');
    expect(mode(at('usr/local/bin/dwcp'))).toBe('0755');
    expect(wrapper).toMatch(/^#!\/bin\/sh\n/);
    expect(wrapper).toContain('"/opt/dwcp/dist/src/cli/main.js" "$@"');
    const unit = readFileSync(at('etc/systemd/system/dwcp-agent.service'), 'utf8');
    expect(unit).toContain('ExecStart=/usr/local/bin/dwcp agent --config /etc/dwcp/agent.yaml');
    expect(unit).toContain('User=dwcp');
  });

  it('runs an agent from the installed copy (production node_modules suffice)', async () => {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        at('opt/dwcp/dist/src/cli/main.js'),
        'agent',
        '--config', at('etc/dwcp/agent.yaml'),
        '--data-dir', at('var/lib/dwcp'),
        '--psk-file', at('etc/dwcp/cluster.psk'),
        '--listen', '/ip4/127.0.0.1/tcp/0',
        '--api-listen', `127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DWCP_LOG_FORMAT: 'json' } },
    );
    let log = '';
    child.stdout.on('data', (c: Buffer) => (log += c.toString()));
    child.stderr.on('data', (c: Buffer) => (log += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 30_000;
      let ready = false;
      while (!ready && Date.now() < deadline && child.exitCode === null) {
        ready = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1_000) }).then(
          (r) => r.ok,
          () => false,
        );
        if (!ready) await new Promise((r) => setTimeout(r, 200));
      }
      expect(ready, log).toBe(true);
      const status = (await (await fetch(`http://127.0.0.1:${port}/v1/status`)).json()) as { nodeId: string };
      expect(status.nodeId).toBe('hv-07');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited, log).toBe(0);
  }, 60_000);

  it('is idempotent and never overwrites the config, the key or the identity', () => {
    const edited = readFileSync(at('etc/dwcp/agent.yaml'), 'utf8').replace('priority: 100', 'priority: 42') + '# operator was here\n';
    writeFileSync(at('etc/dwcp/agent.yaml'), edited);
    const key = readFileSync(at('etc/dwcp/cluster.psk'), 'utf8');
    const identity = readFileSync(at('var/lib/dwcp/identity.key'));
    const out = ok(run(INSTALL, ['--root', root, '--node-id', 'hv-07', '--bootstrap', `/ip4/10.9.9.9/tcp/7700/p2p/${PEER}`]));
    expect(out).toContain('kept the existing file');
    expect(out).toContain('replaced the previous installation');
    expect(readFileSync(at('etc/dwcp/agent.yaml'), 'utf8')).toBe(edited);
    expect(readFileSync(at('etc/dwcp/cluster.psk'), 'utf8')).toBe(key);
    expect(readFileSync(at('var/lib/dwcp/identity.key'))).toEqual(identity);
    expect(readdirSync(at('opt')).sort()).toEqual(['dwcp']); // no staging leftovers
  }, 180_000);

  it('refuses a different node id or a different cluster key before changing anything', () => {
    const before = statSync(at('opt/dwcp/INSTALL_INFO')).mtimeMs;
    const r = run(INSTALL, ['--root', root, '--node-id', 'hv-99']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("already belongs to node 'hv-07'");
    const other = join(root, 'other.psk');
    writeFileSync(other, `/key/swarm/psk/1.0.0/\n/base16/\n${'ab'.repeat(32)}\n`);
    const r2 = run(INSTALL, ['--root', root, '--node-id', 'hv-07', '--psk', other]);
    expect(r2.status).toBe(1);
    expect(r2.stderr).toContain('differs');
    expect(statSync(at('opt/dwcp/INSTALL_INFO')).mtimeMs).toBe(before);
  });

  it('rejects bad usage with exit 2', () => {
    expect(run(INSTALL, ['--root', root, '--node-id', 'bad id!']).status).toBe(2);
    expect(run(INSTALL, ['--root', root, '--bootstrap', '10.0.0.1:7700']).status).toBe(2);
    // The agent refuses bootstrap addresses without a peer id at start: the installer says so first.
    const noPeer = run(INSTALL, ['--root', root, '--bootstrap', '/ip4/10.0.0.11/tcp/7700']);
    expect(noPeer.status).toBe(2);
    expect(noPeer.stderr).toContain('/p2p/');
    expect(run(INSTALL, ['--root', root, '--frobnicate']).status).toBe(2);
    const notAKey = join(root, 'not-a-key');
    writeFileSync(notAKey, 'hello\n');
    expect(run(INSTALL, ['--root', root, '--psk', notAKey]).status).toBe(2);
  });

  it('uninstall removes the program, wrapper and unit but keeps the data; --purge removes it', () => {
    const out = ok(run(UNINSTALL, ['--root', root]));
    expect(out).toContain('kept /etc/dwcp and /var/lib/dwcp');
    expect(existsSync(at('opt/dwcp'))).toBe(false);
    expect(existsSync(at('usr/local/bin/dwcp'))).toBe(false);
    expect(existsSync(at('etc/systemd/system/dwcp-agent.service'))).toBe(false);
    for (const kept of ['etc/dwcp/agent.yaml', 'etc/dwcp/cluster.psk', 'var/lib/dwcp/identity.key', 'var/lib/dwcp/store']) {
      expect(existsSync(at(kept)), kept).toBe(true);
    }
    ok(run(UNINSTALL, ['--root', root])); // again: nothing left to remove, still fine
    const purged = ok(run(UNINSTALL, ['--root', root, '--purge']));
    expect(purged).toContain('would run: userdel dwcp');
    expect(existsSync(at('etc/dwcp'))).toBe(false);
    expect(existsSync(at('var/lib/dwcp'))).toBe(false);
  });

  it('installs with an existing cluster key (--psk) and without voters', () => {
    const second = mkdtempSync(join(tmpdir(), 'dwcp-install-'));
    try {
      const key = join(second, 'cluster.psk');
      writeFileSync(key, `/key/swarm/psk/1.0.0/\n/base16/\n${'cd'.repeat(32)}\n`);
      const r2 = join(second, 'root');
      const out = ok(run(INSTALL, ['--root', r2, '--node-id', 'hv-02', '--psk', key, '--prefix', '/opt/dwcp-test', '--bindir', '/usr/bin', '--with-libvirt']));
      expect(out).toContain('would run: usermod -a -G libvirt dwcp');
      expect(out).toContain(`copied from ${key}`);
      expect(readFileSync(join(r2, 'etc/dwcp/cluster.psk'), 'utf8')).toBe(readFileSync(key, 'utf8'));
      expect(mode(join(r2, 'etc/dwcp/cluster.psk'))).toBe('0600');
      const cfg = parseConfig(readFileSync(join(r2, 'etc/dwcp/agent.yaml'), 'utf8'), '/etc/dwcp/agent.yaml');
      expect(cfg.cluster.voters).toBeNull();
      expect(cfg.cluster.bootstrap).toEqual([]);
      const unit = readFileSync(join(r2, 'etc/systemd/system/dwcp-agent.service'), 'utf8');
      expect(unit).toContain('ExecStart=/usr/bin/dwcp agent --config /etc/dwcp/agent.yaml');
      expect(unit).toMatch(/^SupplementaryGroups=libvirt$/m);
      expect(unit).toContain('Documentation=file:///opt/dwcp-test/README.md');
      expect(readFileSync(join(r2, 'usr/bin/dwcp'), 'utf8')).toContain('"/opt/dwcp-test/dist/src/cli/main.js"');
      ok(run(UNINSTALL, ['--root', r2, '--prefix', '/opt/dwcp-test', '--bindir', '/usr/bin']));
      expect(existsSync(join(r2, 'opt/dwcp-test'))).toBe(false);
      expect(existsSync(join(r2, 'usr/bin/dwcp'))).toBe(false);
    } finally {
      rmSync(second, { recursive: true, force: true });
    }
  }, 180_000);
});
