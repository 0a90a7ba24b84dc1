/**
 * The one scheduler a simulation runs under. Every timer of every node, every message delivery and
 * every fault is an event on one virtual timeline, ordered by (time, creation order); after each event
 * the microtasks it caused (promise continuations of the real replica code) run to completion before
 * the next event, exactly as Node runs a timer callback and then drains the microtask queue. Nothing
 * reads the real clock, so a run is a pure function of its seed.
 *
 * Events may belong to a node incarnation. The scheduler asks {@link Scheduler.ownerStatus} before
 * running one: a crashed incarnation's events are dropped, a paused node's events are held and
 * released, in their original order, when the pause ends.
 */
import type { TimerHandle } from '../src/replica/ports.js';

/** A node incarnation (a restart is a new incarnation: the old one's timers and messages die with it). */
export interface EventOwner {
  readonly node: string;
  readonly incarnation: number;
}

/** What happens to an owned event when it is due. */
export type OwnerStatus = 'run' | 'hold' | 'drop';

export interface SimEvent extends TimerHandle {
  readonly id: number;
  at: number;
  seq: number;
  readonly kind: string;
  readonly owner: EventOwner | undefined;
  readonly fn: () => void;
  cancelled: boolean;
}

export interface SchedulerHooks {
  /** Decides whether an owned event runs, waits (paused node) or is dropped (crashed incarnation). */
  ownerStatus?(owner: EventOwner): OwnerStatus;
  /** Called just before an event runs (tracing). */
  beforeEvent?(ev: SimEvent): void;
}

/** Lets the microtasks queued by the last event run to completion (one macrotask turn). */
function drainMicrotasks(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

export class Scheduler {
  private heap: SimEvent[] = [];
  private seq = 0;
  private nextId = 1;
  private time = 0;
  private readonly held = new Map<string, SimEvent[]>();
  private readonly hooks: SchedulerHooks;
  /** Events run so far (held or dropped ones are not counted). */
  eventsRun = 0;

  constructor(hooks: SchedulerHooks = {}) {
    this.hooks = hooks;
  }

  /** Virtual milliseconds since the start of the run. */
  get now(): number {
    return this.time;
  }

  /** Schedule `fn` at virtual time `at` (clamped to now). */
  at(at: number, kind: string, fn: () => void, owner?: EventOwner): SimEvent {
    const ev: SimEvent = { id: this.nextId++, at: Math.max(at, this.time), seq: this.seq++, kind, owner, fn, cancelled: false };
    this.push(ev);
    return ev;
  }

  /** Schedule `fn` after `delayMs` of virtual time. */
  after(delayMs: number, kind: string, fn: () => void, owner?: EventOwner): SimEvent {
    return this.at(this.time + Math.max(0, delayMs), kind, fn, owner);
  }

  cancel(handle: TimerHandle | undefined): void {
    if (handle && isSimEvent(handle)) handle.cancelled = true;
  }

  /** Number of events waiting (including cancelled ones not yet discarded). */
  get pending(): number {
    return this.heap.length;
  }

  /** Release the events held for a paused node: they run now, in their original order. */
  release(node: string): void {
    const list = this.held.get(node);
    if (!list) return;
    this.held.delete(node);
    for (const ev of list) {
      if (ev.cancelled) continue;
      ev.at = this.time;
      ev.seq = this.seq++;
      this.push(ev);
    }
  }

  /** Forget the events held for a node (it crashed while paused). */
  dropHeld(node: string): void {
    this.held.delete(node);
  }

  /**
   * Run events due up to `end` (inclusive), then set the time to `end`. Stops early, before the next
   * event, when `stop` returns true.
   */
  async runUntil(end: number, stop?: () => boolean): Promise<void> {
    for (;;) {
      if (stop?.()) return;
      const ev = this.heap[0];
      if (!ev || ev.at > end) break;
      this.pop();
      if (ev.cancelled) continue;
      if (ev.owner) {
        const status = this.hooks.ownerStatus?.(ev.owner) ?? 'run';
        if (status === 'drop') continue;
        if (status === 'hold') {
          const list = this.held.get(ev.owner.node) ?? [];
          list.push(ev);
          this.held.set(ev.owner.node, list);
          continue;
        }
      }
      if (ev.at > this.time) this.time = ev.at;
      this.hooks.beforeEvent?.(ev);
      this.eventsRun++;
      ev.fn();
      await drainMicrotasks();
    }
    if (end > this.time) this.time = end;
  }

  // ------------------------------------------------------------ binary heap on (at, seq)

  private less(a: SimEvent, b: SimEvent): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(ev: SimEvent): void {
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

function isSimEvent(h: TimerHandle): h is SimEvent {
  return typeof (h as Partial<SimEvent>).cancelled === 'boolean';
}
