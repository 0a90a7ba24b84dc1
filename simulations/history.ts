/**
 * The run's history: every acknowledged write, and a per-resource log of what happened to it on every
 * node (writes, applies, conflicts, decisions, hypervisor actions, leases, failovers) plus the faults.
 * Checkers read it; a failing check prints the part of it around the violation.
 */

export type HistoryKind =
  | 'fault'
  | 'write'
  | 'write-failed'
  | 'apply'
  | 'conflict'
  | 'decision'
  | 'split-brain'
  | 'hypervisor'
  | 'lease'
  | 'failover'
  | 'paxos'
  | 'converged'
  | 'note';

export interface HistoryEntry {
  /** Virtual ms since the start of the run. */
  readonly t: number;
  readonly kind: HistoryKind;
  readonly node?: string;
  readonly resourceId?: string;
  readonly text: string;
}

/** A write the replica acknowledged (its `put` resolved: durable on that node). */
export interface AckedWrite {
  readonly t: number;
  readonly node: string;
  readonly resourceId: string;
  readonly versionId: string;
  readonly clock: Readonly<Record<string, number>>;
  readonly deleted: boolean;
  /** Why the workload wrote it. */
  readonly label: 'create' | 'update' | 'delete' | 'conflicting' | 'failover' | 'host';
}

export class History {
  readonly entries: HistoryEntry[] = [];
  readonly acked: AckedWrite[] = [];
  private readonly byResource = new Map<string, number[]>();

  constructor(private readonly trace?: (line: string) => void) {}

  add(entry: HistoryEntry): void {
    const i = this.entries.length;
    this.entries.push(entry);
    if (entry.resourceId !== undefined) {
      const list = this.byResource.get(entry.resourceId);
      if (list) list.push(i);
      else this.byResource.set(entry.resourceId, [i]);
    }
    this.trace?.(JSON.stringify({ h: entry.kind, t: entry.t, n: entry.node, r: entry.resourceId, x: entry.text }));
  }

  ack(w: AckedWrite): void {
    this.acked.push(w);
    this.add({ t: w.t, kind: 'write', node: w.node, resourceId: w.resourceId, text: `acknowledged ${w.label} ${w.versionId} {${clockText(w.clock)}}${w.deleted ? ' (tombstone)' : ''}` });
  }

  /** Entries about `resourceId` (and faults) within [from, to]. */
  around(resourceId: string | undefined, from: number, to: number): HistoryEntry[] {
    const idx = resourceId === undefined ? [] : (this.byResource.get(resourceId) ?? []);
    const own = idx.map((i) => this.entries[i]!).filter((e) => e.t >= from && e.t <= to);
    const faults = this.entries.filter((e) => e.kind === 'fault' && e.t >= from && e.t <= to);
    return [...own, ...faults].sort((a, b) => a.t - b.t);
  }
}

export function clockText(clock: Readonly<Record<string, number>>): string {
  return Object.keys(clock)
    .sort()
    .map((k) => `${k}:${clock[k]}`)
    .join(',');
}

/** `12.345s` */
export function formatT(ms: number): string {
  return `${(ms / 1000).toFixed(3)}s`;
}

/** One line per entry, at most `max` lines (the middle is elided). */
export function formatEntries(entries: readonly HistoryEntry[], max = 80): string[] {
  const line = (e: HistoryEntry): string => `  ${formatT(e.t).padStart(10)}  ${(e.node ?? '-').padEnd(6)} ${e.kind.padEnd(12)} ${e.resourceId ? `${e.resourceId} ` : ''}${e.text}`;
  if (entries.length <= max) return entries.map(line);
  const head = Math.floor(max / 2);
  const tail = max - head;
  return [...entries.slice(0, head).map(line), `  ... ${entries.length - max} more ...`, ...entries.slice(-tail).map(line)];
}
