import type { Clock, TimerHandle } from '../../replica/ports.js';
import type { BanReason, RejectReason } from './options.js';

/**
 * Transport-level refusals (replayed, wrongly bound, unsigned, oversized, undecodable gossip, bad
 * hellos, rate-limited or banned peers) written to the audit log without letting a flood fill the
 * disk: refusals are counted per (peer, reason) and written as ONE audit entry per pair per
 * interval, `transport-rejected {peer, reason, count, firstAt, lastAt}`. At most `maxKeys` pairs
 * are told apart per interval; refusals beyond that are counted under the peer `*` (still by
 * reason). So an interval writes at most `maxKeys` + one entry per reason, whatever the rate or the
 * number of peer ids. Bans are rare (each needs a connection and dozens of invalid messages) and
 * are written at once, `peer-banned {peer, reason, until}`.
 *
 * A refusal whose peer is unknown (gossipsub's own signature check does not say who sent it) is
 * counted under the peer `unknown`.
 */
export interface RejectionAuditInit {
  /** How long refusals are gathered before their summary is written (default 10 s). */
  readonly intervalMs?: number;
  /** Distinct (peer, reason) pairs per interval (default 256). */
  readonly maxKeys?: number;
}

export interface RejectionAuditComponents {
  readonly clock: Pick<Clock, 'now' | 'setTimer' | 'clearTimer'>;
  /** Appends one audit entry and makes it durable (the replica's `recordAudit`). */
  readonly write: (kind: 'transport-rejected' | 'peer-banned', data: Record<string, unknown>) => Promise<void>;
  /** Told when a write fails (the refusals it summarised are then only counted in metrics). */
  readonly onError?: (err: unknown) => void;
}

export interface RejectionSummary {
  readonly peer: string;
  readonly reason: RejectReason;
  readonly count: number;
  readonly firstAt: number;
  readonly lastAt: number;
}

export const OTHER_PEERS = '*';
export const UNKNOWN_PEER = 'unknown';

export class RejectionAuditor {
  private readonly intervalMs: number;
  private readonly maxKeys: number;
  private pending = new Map<string, { peer: string; reason: RejectReason; count: number; firstAt: number; lastAt: number }>();
  private distinct = 0;
  private timer: TimerHandle | undefined;
  private writing: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    init: RejectionAuditInit,
    private readonly c: RejectionAuditComponents,
  ) {
    this.intervalMs = init.intervalMs ?? 10_000;
    this.maxKeys = init.maxKeys ?? 256;
  }

  /** Counts one refusal (O(1); nothing is written before the interval ends). */
  note(reason: RejectReason, peerId: string | undefined): void {
    if (this.stopped) return;
    const now = this.c.clock.now();
    let peer = peerId ?? UNKNOWN_PEER;
    let key = `${reason}|${peer}`;
    let e = this.pending.get(key);
    if (!e && this.distinct >= this.maxKeys) {
      peer = OTHER_PEERS;
      key = `${reason}|${peer}`;
      e = this.pending.get(key);
    }
    if (e) {
      e.count++;
      e.lastAt = now;
    } else {
      this.pending.set(key, { peer, reason, count: 1, firstAt: now, lastAt: now });
      if (peer !== OTHER_PEERS) this.distinct++;
    }
    this.timer ??= this.c.clock.setTimer(this.intervalMs, () => {
      this.timer = undefined;
      void this.flush();
    });
  }

  /** Writes a ban at once. */
  banned(peer: string, reason: BanReason, until: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return this.enqueue([['peer-banned', { peer, reason, until }]]);
  }

  /** Writes the summaries gathered so far (one entry per (peer, reason)); resolves when durable. */
  flush(): Promise<void> {
    const batch = [...this.pending.values()];
    this.pending = new Map();
    this.distinct = 0;
    if (this.timer !== undefined) {
      this.c.clock.clearTimer(this.timer);
      this.timer = undefined;
    }
    return this.enqueue(batch.map((s) => ['transport-rejected', { ...s } satisfies RejectionSummary]));
  }

  /** Flushes what is pending and stops counting. */
  async stop(): Promise<void> {
    const last = this.flush();
    this.stopped = true;
    await last;
  }

  /** Entries are written one after another, in order (the audit chain is sequential anyway). */
  private enqueue(entries: Array<['transport-rejected' | 'peer-banned', Record<string, unknown>]>): Promise<void> {
    if (entries.length === 0) return this.writing;
    this.writing = this.writing.then(async () => {
      for (const [kind, data] of entries) {
        try {
          await this.c.write(kind, data);
        } catch (err) {
          this.c.onError?.(err);
        }
      }
    });
    return this.writing;
  }
}
