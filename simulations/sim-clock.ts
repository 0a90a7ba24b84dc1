/**
 * A node's Clock port in a simulation: the shared virtual time plus the node's own skew (which a
 * `skew` fault can change at run time), with timers on the shared scheduler owned by the node's
 * current incarnation (so a pause holds them and a crash drops them).
 *
 * `monotonic()` is the incarnation's own monotonic clock (like `performance.now()`: 0 when the process
 * started): it runs at the node's rate — every node runs at the rate of virtual time, no drift is
 * modelled — and a skew step does not move it.
 */
import type { Clock, TimerHandle } from '../src/replica/ports.js';
import type { EventOwner, Scheduler } from './scheduler.js';

/** Virtual time 0 is this wall-clock instant (2026-01-01T00:00:00Z), as ManualClock. */
export const SIM_EPOCH_MS = 1_767_225_600_000;

export class SimClock implements Clock {
  constructor(
    private readonly scheduler: Scheduler,
    private readonly owner: EventOwner,
    /** The node's current skew in ms (read at every `now()`). */
    private readonly skewMs: () => number,
    private readonly epochMs: number = SIM_EPOCH_MS,
    /** Virtual time at which the incarnation started (its monotonic zero). */
    private readonly bootMs: number = scheduler.now,
  ) {}

  now(): number {
    return Math.floor(this.epochMs + this.scheduler.now + this.skewMs());
  }

  monotonic(): number {
    return this.scheduler.now - this.bootMs;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    return this.scheduler.after(delayMs, 'timer', fn, this.owner);
  }

  clearTimer(handle: TimerHandle): void {
    this.scheduler.cancel(handle);
  }
}
