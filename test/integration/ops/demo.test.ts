/**
 * scripts/demo.ts (`npm run demo`): three real agent processes, a partition, conflicting writes on
 * both sides including a split-brain, the heal. It must exit 0 within a minute after stopping the
 * agents cleanly, and say what was detected and how each conflict was resolved and why.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from './helpers.js';

function runDemo(): Promise<{ code: number | null; output: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/demo.ts')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    // The demo has its own 55 s budget; this is the backstop.
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output, ms: Date.now() - started });
    });
  });
}

describe('npm run demo (scripts/demo.ts)', () => {
  beforeAll(() => ensureBuilt(), 240_000);

  it('tours a partition with a split-brain and exits 0', async () => {
    const { code, output, ms } = await runDemo();
    expect(code, output).toBe(0);
    expect(ms, output).toBeLessThan(60_000);
    // The tour's steps.
    expect(output).toContain('Partition: {hv-01} | {hv-02, hv-03}');
    expect(output).toMatch(/hv-01 sees hv-02 and hv-03 down: 1 of 3 votes, 2 needed -> NO quorum/);
    expect(output).toContain('Healing the partition');
    expect(output).toMatch(/converged [\d.]+ s after the heal/);
    // What was detected: the split-brain, counted by the metric, and the other conflicts.
    expect(output).toMatch(/dwcp_split_brain_detections_total: hv-01=\d, hv-02=\d, hv-03=\d/);
    expect(output).toMatch(/vm\/vm-db .*\n.*semantic, severity critical.*SPLIT-BRAIN/);
    expect(output).toContain('split-brain: the VM is running on 2 hosts at once (hv-01, hv-02)');
    expect(output).toMatch(/vm\/vm-web .*\n.*concurrent_update/);
    // How each was resolved, and why: the decision records.
    expect(output).toMatch(/policy production: /);
    expect(output).toMatch(/path: severity_critical/);
    expect(output).toMatch(/=> outcome: resolved .*; (decided by quorum \(split-brain\)|superseded by)/);
    expect(output).toContain('kept as siblings by multi_value_register');
    expect(output).toMatch(/split-brain: vm-db ran on hv-01 and hv-02 at once; detected [1-9]\d* time\(s\) across the agents; kept on hv-0[12]\./);
    // Clean stop.
    expect(output).toContain('all three agents exited 0');
    expect(output).toMatch(/demo finished/);
  }, 120_000);
});
