import { execFile } from 'node:child_process';
import { DwcpError } from '../../core/errors.js';
import type { Hypervisor } from '../../replica/ports.js';

export interface ExecHypervisorInit {
  /** Command templates; `{vm}` is replaced by the VM id (as one argument, never through a shell). */
  readonly commands: { readonly fence: string; readonly start: string; readonly stop: string };
  readonly timeoutMs?: number;
}

export const VIRSH_COMMANDS = Object.freeze({ fence: 'virsh destroy {vm}', start: 'virsh start {vm}', stop: 'virsh shutdown {vm}' });

export class HypervisorError extends DwcpError {
  constructor(message: string, meta: Record<string, unknown> = {}) {
    super('ERR_HYPERVISOR', message, meta);
  }
}

const VM_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * The `exec` driver: runs a command template per action (e.g. `virsh destroy {vm}`) with a timeout.
 * The template is split on whitespace into argv and run without a shell, so a VM id can never inject
 * a command. A non-zero exit, a timeout or a missing binary rejects with HypervisorError (the caller
 * audits it and retries per recovery.maxRecoveryAttempts).
 */
export class ExecHypervisor implements Hypervisor {
  private readonly timeoutMs: number;

  constructor(private readonly init: ExecHypervisorInit) {
    this.timeoutMs = init.timeoutMs ?? 30_000;
    for (const [action, tpl] of Object.entries(init.commands)) {
      if (typeof tpl !== 'string' || tpl.trim() === '') {
        throw new HypervisorError(`hypervisor.commands.${action} must be a non-empty command template`, { action });
      }
    }
  }

  fence(vmId: string, _reason: string): Promise<void> {
    return this.run('fence', vmId);
  }

  start(vmId: string): Promise<void> {
    return this.run('start', vmId);
  }

  stop(vmId: string): Promise<void> {
    return this.run('stop', vmId);
  }

  private run(action: 'fence' | 'start' | 'stop', vmId: string): Promise<void> {
    if (!VM_ID.test(vmId)) return Promise.reject(new HypervisorError(`refusing to ${action} invalid VM id ${JSON.stringify(vmId)}`, { action, vmId }));
    const argv = this.init.commands[action]
      .trim()
      .split(/\s+/)
      .map((part) => part.replaceAll('{vm}', vmId));
    const [cmd, ...args] = argv as [string, ...string[]];
    return new Promise<void>((resolve, reject) => {
      execFile(cmd, args, { timeout: this.timeoutMs, killSignal: 'SIGKILL' }, (err, _stdout, stderr) => {
        if (!err) return resolve();
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
        const why = e.killed ? `timed out after ${this.timeoutMs} ms` : e.code === 'ENOENT' ? `${cmd} not found` : `exited with ${String(e.code)}`;
        reject(
          new HypervisorError(`${action} ${vmId}: \`${argv.join(' ')}\` ${why}${stderr ? `: ${stderr.trim().slice(0, 500)}` : ''}`, {
            action,
            vmId,
            exitCode: e.code,
          }),
        );
      });
    });
  }
}
