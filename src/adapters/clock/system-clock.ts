import { randomInt } from 'node:crypto';
import type { Clock, Random, TimerHandle } from '../../replica/ports.js';

/** Wall-clock time and real timers (production). Timers do not keep the process alive. */
export class SystemClock implements Clock {
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private nextId = 1;

  now(): number {
    return Date.now();
  }

  monotonic(): number {
    return performance.now();
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const id = this.nextId++;
    const t = setTimeout(() => {
      this.timers.delete(id);
      fn();
    }, delayMs);
    t.unref();
    this.timers.set(id, t);
    return { id };
  }

  clearTimer(handle: TimerHandle): void {
    const t = this.timers.get(handle.id);
    if (t) clearTimeout(t);
    this.timers.delete(handle.id);
  }

  /** Cancel every timer (on stop). */
  clearAll(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}

/** Randomness from the operating system's CSPRNG (production). */
export class CryptoRandom implements Random {
  next(): number {
    // randomInt's range is [min, max) with max - min < 2^48: 47 random bits scaled into [0, 1).
    return randomInt(0, 2 ** 47) / 2 ** 47;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}
