/**
 * Contract suites for the small ports (Clock, Random, Hypervisor), written once and run against
 * every implementation: the simulated/fake ones in the unit project, the production ones too.
 */
import { describe, expect, it } from 'vitest';
import type { Clock, Hypervisor, Random } from '../../src/replica/ports.js';

export interface ClockHarness {
  create(): Clock;
  /** Let `ms` pass (virtual or real) and run what is due. */
  pass(clock: Clock, ms: number): Promise<void>;
}

export function clockContract(name: string, h: ClockHarness): void {
  describe(`Clock contract: ${name}`, () => {
    it('fires timers after their delay, in order, and not cancelled ones', async () => {
      const clock = h.create();
      const fired: string[] = [];
      const t0 = clock.now();
      clock.setTimer(30, () => fired.push('b'));
      clock.setTimer(10, () => fired.push('a'));
      const cancelled = clock.setTimer(20, () => fired.push('x'));
      clock.clearTimer(cancelled);
      await h.pass(clock, 5);
      expect(fired).toEqual([]);
      await h.pass(clock, 60);
      expect(fired).toEqual(['a', 'b']);
      expect(clock.now() - t0).toBeGreaterThanOrEqual(30);
    });

    it('tells time in milliseconds since the epoch', () => {
      const now = h.create().now();
      expect(now).toBeGreaterThan(Date.UTC(2020, 0, 1));
      expect(Number.isFinite(now)).toBe(true);
    });
  });
}

export function randomContract(name: string, create: () => Random): void {
  describe(`Random contract: ${name}`, () => {
    it('draws floats in [0, 1) and integers in [0, n), covering the range', () => {
      const r = create();
      const counts = new Array<number>(10).fill(0);
      for (let i = 0; i < 10_000; i++) {
        const x = r.next();
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThan(1);
        const k = r.int(10);
        expect(Number.isInteger(k)).toBe(true);
        counts[k]!++;
      }
      for (const c of counts) expect(c).toBeGreaterThan(800); // ~1,000 each
    });
  });
}

export interface HypervisorHarness {
  create(): Hypervisor;
  /** A hypervisor whose actions fail (if the implementation can fail). */
  failing?(): Hypervisor;
}

export function hypervisorContract(name: string, h: HypervisorHarness): void {
  describe(`Hypervisor contract: ${name}`, () => {
    it('fences, starts and stops a VM', async () => {
      const hv = h.create();
      await expect(hv.start('vm-1')).resolves.toBeUndefined();
      await expect(hv.stop('vm-1')).resolves.toBeUndefined();
      await expect(hv.fence('vm-1', 'split-brain')).resolves.toBeUndefined();
    });

    if (h.failing) {
      it('rejects with an error when the action fails', async () => {
        await expect(h.failing!().fence('vm-1', 'test')).rejects.toBeInstanceOf(Error);
      });
    }
  });
}
