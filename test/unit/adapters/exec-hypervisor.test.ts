import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExecHypervisor } from '../../../src/adapters/hypervisor/exec-hypervisor.js';

const dir = mkdtempSync(join(tmpdir(), 'dwcp-exec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ExecHypervisor', () => {
  it('passes the VM id as one argument, never through a shell', async () => {
    const out = join(dir, 'args');
    const hv = new ExecHypervisor({ commands: { fence: `touch ${out}-{vm}`, start: 'true', stop: 'true' } });
    await hv.fence('vm-1', 'test');
    expect(readFileSync(`${out}-vm-1`, 'utf8')).toBe('');
    await expect(hv.fence('vm-1;rm -rf /', 'test')).rejects.toMatchObject({ code: 'ERR_HYPERVISOR' });
  });

  it('reports a non-zero exit, a missing binary and a timeout with the command', async () => {
    const failing = new ExecHypervisor({ commands: { fence: 'sh -c exit', start: 'no-such-binary-dwcp {vm}', stop: 'sleep 5' }, timeoutMs: 200 });
    await expect(new ExecHypervisor({ commands: { fence: 'false {vm}', start: 'true', stop: 'true' } }).fence('vm-2', 'x')).rejects.toThrow(/`false vm-2` exited with 1/);
    await expect(failing.start('vm-2')).rejects.toThrow(/not found/);
    await expect(failing.stop('vm-2')).rejects.toThrow(/timed out after 200 ms/);
  });

  it('refuses an empty command template', () => {
    expect(() => new ExecHypervisor({ commands: { fence: ' ', start: 'true', stop: 'true' } })).toThrow(/hypervisor.commands.fence/);
  });
});
