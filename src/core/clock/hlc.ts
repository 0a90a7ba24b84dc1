import { describeValue } from '../codec/describe.js';
import { ClockDriftError, InvalidClockError } from '../errors.js';

/**
 * A hybrid logical clock timestamp (Kulkarni et al.): `wall` is milliseconds since the epoch (never
 * behind any timestamp this node has seen), `logical` orders events within one millisecond.
 * Ordered by (wall, logical); LWW breaks remaining ties by node id.
 */
export interface Hlc {
  readonly wall: number;
  readonly logical: number;
}

/** Largest logical counter; past it the wall component is advanced by one millisecond. */
export const MAX_LOGICAL = 0xffff;
/** Default bound on how far a remote timestamp may be ahead of local physical time. */
export const DEFAULT_MAX_DRIFT_MS = 60_000;

export const HLC_ZERO: Hlc = Object.freeze({ wall: 0, logical: 0 });

export function compareHlc(a: Hlc, b: Hlc): -1 | 0 | 1 {
  if (a.wall !== b.wall) return a.wall < b.wall ? -1 : 1;
  if (a.logical !== b.logical) return a.logical < b.logical ? -1 : 1;
  return 0;
}

/** Validate an untrusted HLC timestamp. */
export function assertHlc(value: unknown, where = 'hlc'): asserts value is Hlc {
  if (typeof value !== 'object' || value === null) {
    throw new InvalidClockError(`${where} must be an object {wall, logical}`, { where });
  }
  const { wall, logical } = value as Record<string, unknown>;
  if (typeof wall !== 'number' || !Number.isSafeInteger(wall) || wall < 0) {
    throw new InvalidClockError(`${where}.wall must be a non-negative integer (ms), got ${describeValue(wall)}`, { where });
  }
  if (typeof logical !== 'number' || !Number.isInteger(logical) || logical < 0 || logical > MAX_LOGICAL) {
    throw new InvalidClockError(`${where}.logical must be an integer in [0, ${MAX_LOGICAL}], got ${describeValue(logical)}`, {
      where,
    });
  }
}

/** Text form `<wall>.<logical>` with the logical part zero-padded, e.g. `1732800000000.0003`. */
export function formatHlc(h: Hlc): string {
  return `${h.wall}.${h.logical.toString().padStart(4, '0')}`;
}

/** Parse {@link formatHlc}'s output (the logical part may also be written without padding). */
export function parseHlc(text: string): Hlc {
  const m = typeof text === 'string' ? /^(\d{1,16})\.(\d{1,5})$/.exec(text) : null;
  if (!m) throw new InvalidClockError(`malformed hlc ${describeValue(text)}: expected <wall>.<logical>`, { text });
  const h = { wall: Number(m[1]), logical: Number(m[2]) };
  assertHlc(h);
  return h;
}

export interface HlcClockInit {
  /** Remote timestamps further than this ahead of local physical time are refused. */
  readonly maxDriftMs?: number;
  /** Start from this timestamp (e.g. the last one persisted), so restarts stay monotonic. */
  readonly last?: Hlc;
}

/**
 * A node's hybrid logical clock. Pure: physical time is passed in by the caller, so it is
 * deterministic under a simulated clock. Timestamps it issues are strictly increasing even when the
 * wall clock steps back, and stay within `maxDriftMs` of physical time when peers behave.
 */
export class HlcClock {
  private last: Hlc;
  readonly maxDriftMs: number;

  constructor(init: HlcClockInit = {}) {
    const last = init.last ?? HLC_ZERO;
    assertHlc(last, 'initial hlc');
    const maxDriftMs = init.maxDriftMs ?? DEFAULT_MAX_DRIFT_MS;
    // A NaN bound would silently switch the drift check off.
    if (typeof maxDriftMs !== 'number' || Number.isNaN(maxDriftMs) || maxDriftMs < 0) {
      throw new InvalidClockError(`maxDriftMs must be a non-negative number, got ${describeValue(maxDriftMs)}`, { maxDriftMs });
    }
    this.last = { wall: last.wall, logical: last.logical };
    this.maxDriftMs = maxDriftMs;
  }

  /** The latest timestamp issued or observed. */
  peek(): Hlc {
    return this.last;
  }

  /** A timestamp for a local event at physical time `physicalMs`. */
  now(physicalMs: number): Hlc {
    const pt = physicalTime(physicalMs);
    const l = this.last;
    const next = pt > l.wall ? { wall: pt, logical: 0 } : bump(l);
    this.last = next;
    return next;
  }

  /**
   * Merge a timestamp received from a peer at physical time `physicalMs` and return the timestamp of
   * the receive event. Throws {@link ClockDriftError} (and keeps its state) if the remote wall time is
   * more than `maxDriftMs` ahead of physical time.
   */
  update(remote: Hlc, physicalMs: number): Hlc {
    assertHlc(remote, 'remote hlc');
    const pt = physicalTime(physicalMs);
    if (remote.wall - pt > this.maxDriftMs) {
      throw new ClockDriftError(
        `remote hlc ${formatHlc(remote)} is ${remote.wall - pt} ms ahead of local time (limit ${this.maxDriftMs} ms)`,
        { remote, physicalMs: pt, maxDriftMs: this.maxDriftMs },
      );
    }
    const l = this.last;
    const wall = Math.max(l.wall, remote.wall, pt);
    let next: Hlc;
    if (wall === l.wall && wall === remote.wall) next = withLogical(wall, Math.max(l.logical, remote.logical) + 1);
    else if (wall === l.wall) next = withLogical(wall, l.logical + 1);
    else if (wall === remote.wall) next = withLogical(wall, remote.logical + 1);
    else next = { wall, logical: 0 };
    this.last = next;
    return next;
  }
}

/** Whole milliseconds of a physical time reading; a non-finite reading would poison the clock for good. */
function physicalTime(physicalMs: number): number {
  if (typeof physicalMs !== 'number' || !Number.isFinite(physicalMs) || physicalMs > Number.MAX_SAFE_INTEGER) {
    throw new InvalidClockError(`physical time must be a finite number of ms up to 2^53 - 1, got ${describeValue(physicalMs)}`, {
      physicalMs: describeValue(physicalMs),
    });
  }
  return Math.floor(physicalMs);
}

function bump(h: Hlc): Hlc {
  return withLogical(h.wall, h.logical + 1);
}

function withLogical(wall: number, logical: number): Hlc {
  // Logical overflow moves the wall component forward rather than wrapping.
  return logical > MAX_LOGICAL ? { wall: wall + 1, logical: 0 } : { wall, logical };
}
