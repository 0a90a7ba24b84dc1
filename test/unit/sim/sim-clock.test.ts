import { describe, expect, it } from 'vitest';
import { Scheduler } from '../../../simulations/scheduler.js';
import { SIM_EPOCH_MS, SimClock } from '../../../simulations/sim-clock.js';

describe('SimClock', () => {
  it('wall time follows the node skew; the monotonic clock starts at the incarnation and ignores skew steps', async () => {
    const scheduler = new Scheduler();
    let skew = 250;
    await scheduler.runUntil(1_000);
    const clock = new SimClock(scheduler, { node: 'n1', incarnation: 2 }, () => skew, SIM_EPOCH_MS, scheduler.now);
    expect(clock.now()).toBe(SIM_EPOCH_MS + 1_250);
    expect(clock.monotonic()).toBe(0);
    await scheduler.runUntil(4_000);
    skew -= 15_000; // an NTP step backwards
    expect(clock.now()).toBe(SIM_EPOCH_MS + 4_000 + 250 - 15_000);
    expect(clock.monotonic()).toBe(3_000);
    skew += 60_000; // and forwards
    await scheduler.runUntil(4_500);
    expect(clock.monotonic()).toBe(3_500);
    expect(clock.now()).toBe(SIM_EPOCH_MS + 4_500 + 250 + 45_000);
  });
});
