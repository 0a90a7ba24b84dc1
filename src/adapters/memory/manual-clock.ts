import type { Clock, TimerHandle } from '../../replica/ports.js';

interface Timer {
  readonly id: number;
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

/**
 * A virtual clock for tests and simulations: time moves only when `advance` / `runUntil` is called,
 * and timers fire in (time, creation order) order, so a run is fully deterministic.
 * Several nodes can share one scheduler with their own skew through {@link ManualClock.view}.
 */
export class ManualClock implements Clock {
  private time: number;
  private readonly startMs: number;
  private timers: Timer[] = [];
  private nextId = 1;
  private seq = 0;

  constructor(startMs = 1_767_225_600_000) {
    this.time = startMs;
    this.startMs = startMs;
  }

  now(): number {
    return this.time;
  }

  /** Virtual time elapsed since the clock was created (a monotonic clock: views' skews do not move it). */
  monotonic(): number {
    return this.time - this.startMs;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const t: Timer = { id: this.nextId++, at: this.time + Math.max(0, delayMs), seq: this.seq++, fn };
    this.insert(t);
    return { id: t.id };
  }

  clearTimer(handle: TimerHandle): void {
    this.timers = this.timers.filter((t) => t.id !== handle.id);
  }

  /** Number of timers waiting. */
  get pending(): number {
    return this.timers.length;
  }

  /** When the next timer fires, or undefined. */
  nextAt(): number | undefined {
    return this.timers[0]?.at;
  }

  /** Fire the next timer (moving time to it). Returns false if none is waiting. */
  step(): boolean {
    const t = this.timers.shift();
    if (!t) return false;
    if (t.at > this.time) this.time = t.at;
    t.fn();
    return true;
  }

  /** Advance virtual time by `ms`, firing every timer due on the way (including ones they schedule). */
  advance(ms: number): void {
    this.runUntil(this.time + ms);
  }

  runUntil(target: number): void {
    while (this.timers.length > 0 && this.timers[0]!.at <= target) this.step();
    if (target > this.time) this.time = target;
  }

  /** A clock port for one node: same timers, wall time offset by `skewMs` (a node with a wrong clock). */
  view(skewMs: () => number): Clock {
    return {
      now: () => this.time + skewMs(),
      monotonic: () => this.monotonic(),
      setTimer: (d, fn) => this.setTimer(d, fn),
      clearTimer: (h) => this.clearTimer(h),
    };
  }

  private insert(t: Timer): void {
    // Binary search on (at, seq): timers due at the same moment keep creation order.
    let lo = 0;
    let hi = this.timers.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = this.timers[mid]!;
      if (m.at < t.at || (m.at === t.at && m.seq < t.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.timers.splice(lo, 0, t);
  }
}
