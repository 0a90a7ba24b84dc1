/**
 * config/dwcp-agent.service: parsed here (every line is a section, a comment or Key=Value; the
 * settings the deployment relies on are present), then checked by `systemd-analyze verify` and
 * `systemd-analyze security --offline` when systemd-analyze is installed (Debian: the systemd
 * package; it works without systemd running).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, which } from './helpers.js';

const UNIT_FILE = join(ROOT, 'config/dwcp-agent.service');
const UNIT = readFileSync(UNIT_FILE, 'utf8');
const ANALYZE = which('systemd-analyze');

type Unit = Map<string, Map<string, string[]>>;

function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const header = /^\[([A-Za-z]+)\]$/.exec(line);
    if (header) {
      section = new Map();
      unit.set(header[1]!, section);
      return;
    }
    const kv = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(line);
    if (!kv || !section) throw new Error(`dwcp-agent.service:${i + 1}: not a section header or Key=Value: ${raw}`);
    section.set(kv[1]!, [...(section.get(kv[1]!) ?? []), kv[2]!]);
  });
  return unit;
}

describe('config/dwcp-agent.service', () => {
  const unit = parseUnit(UNIT);
  const service = unit.get('Service')!;
  const one = (key: string): string | undefined => service.get(key)?.at(-1);

  it('has the Unit, Service and Install sections', () => {
    expect([...unit.keys()]).toEqual(['Unit', 'Service', 'Install']);
    expect(unit.get('Install')!.get('WantedBy')).toEqual(['multi-user.target']);
    expect(unit.get('Unit')!.get('After')).toContain('network-online.target');
  });

  it('runs `dwcp agent --config /etc/dwcp/agent.yaml` as the dwcp user, restarting on failure', () => {
    expect(one('Type')).toBe('simple');
    expect(one('User')).toBe('dwcp');
    expect(one('Group')).toBe('dwcp');
    expect(one('ExecStart')).toBe('/usr/local/bin/dwcp agent --config /etc/dwcp/agent.yaml');
    expect(one('Restart')).toBe('on-failure');
    expect(one('RestartSec')).toMatch(/^\d+s?$/);
    expect(one('RestartPreventExitStatus')).toBe('2');
    expect(one('KillSignal')).toBe('SIGTERM');
    expect(one('TimeoutStopSec')).toMatch(/^\d+s?$/);
    expect(Number(one('LimitNOFILE'))).toBeGreaterThanOrEqual(65536);
    expect(one('ExecReload')).toContain('-HUP');
  });

  it('is hardened', () => {
    const expected: Record<string, string> = {
      ProtectSystem: 'strict',
      ReadWritePaths: '/var/lib/dwcp',
      NoNewPrivileges: 'yes',
      PrivateTmp: 'yes',
      ProtectHome: 'yes',
      ProtectKernelTunables: 'yes',
      ProtectKernelModules: 'yes',
      ProtectControlGroups: 'yes',
      LockPersonality: 'yes',
      // V8's JIT needs W+X memory: "yes" would make node abort.
      MemoryDenyWriteExecute: 'no',
      CapabilityBoundingSet: '',
    };
    for (const [key, value] of Object.entries(expected)) expect(one(key), key).toBe(value);
    expect(one('RestrictAddressFamilies')!.split(/\s+/)).toEqual(expect.arrayContaining(['AF_INET', 'AF_INET6', 'AF_UNIX']));
    expect(service.get('SystemCallFilter')![0]!.split(' ')).toContain('@system-service');
    expect(service.get('SystemCallFilter')).toContain('~@privileged');
    // The libvirt group is documented and opt-in (install.sh --with-libvirt uncomments it).
    expect(UNIT).toMatch(/^#SupplementaryGroups=libvirt$/m);
  });

  describe.skipIf(!ANALYZE)('systemd-analyze (skipped when it is missing; Debian: apt-get install systemd)', () => {
    let dir = '';
    let file = '';
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'dwcp-unit-'));
      // verify checks that ExecStart's program exists: point it at a stand-in.
      const stub = join(dir, 'dwcp');
      writeFileSync(stub, '#!/bin/sh\nexit 0\n');
      chmodSync(stub, 0o755);
      file = join(dir, 'dwcp-agent.service');
      writeFileSync(file, UNIT.replace(/^ExecStart=\/usr\/local\/bin\/dwcp /m, `ExecStart=${stub} `));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('verify reports nothing about the unit', () => {
      const r = spawnSync(ANALYZE!, ['verify', '--man=no', file], { encoding: 'utf8' });
      // Warnings about our file ("Unknown key", "Failed to parse ...") name it; other lines may be
      // about the host's own units.
      const ours = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.includes('dwcp-agent.service') || l.includes(file));
      expect(ours).toEqual([]);
      expect(r.status).toBe(0);
    });

    it('security --offline rates the exposure at most 3.0 ("OK")', (ctx) => {
      const r = spawnSync(ANALYZE!, ['security', '--offline=true', '--no-pager', file], { encoding: 'utf8' });
      if (/unrecognized option|unknown option/i.test(r.stderr)) ctx.skip(); // systemd < 250 has no --offline
      const m = /Overall exposure level for dwcp-agent\.service:\s*([\d.]+)/.exec(r.stdout + r.stderr);
      expect(m, r.stdout + r.stderr).not.toBeNull();
      expect(Number(m![1])).toBeLessThanOrEqual(3);
    });
  });
});
