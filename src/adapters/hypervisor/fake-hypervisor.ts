import type { Hypervisor } from '../../replica/ports.js';

export interface HypervisorAction {
  readonly action: 'fence' | 'start' | 'stop';
  readonly vmId: string;
  readonly reason?: string;
}

/**
 * The hypervisor used by tests and simulations: records every action, tracks which VMs it runs, and
 * can be told to fail (to test that failures are audited and retried).
 */
export class FakeHypervisor implements Hypervisor {
  readonly actions: HypervisorAction[] = [];
  readonly running = new Set<string>();
  failNext: Error | undefined;

  fence(vmId: string, reason: string): Promise<void> {
    return this.act({ action: 'fence', vmId, reason }, () => this.running.delete(vmId));
  }

  start(vmId: string): Promise<void> {
    return this.act({ action: 'start', vmId }, () => this.running.add(vmId));
  }

  stop(vmId: string): Promise<void> {
    return this.act({ action: 'stop', vmId }, () => this.running.delete(vmId));
  }

  private act(a: HypervisorAction, effect: () => void): Promise<void> {
    const err = this.failNext;
    if (err) {
      this.failNext = undefined;
      return Promise.reject(err);
    }
    this.actions.push(a);
    effect();
    return Promise.resolve();
  }
}

/** The `none` driver: dwcp only tracks state; nothing is done on the host. */
export class NoopHypervisor implements Hypervisor {
  fence(): Promise<void> {
    return Promise.resolve();
  }
  start(): Promise<void> {
    return Promise.resolve();
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
}
