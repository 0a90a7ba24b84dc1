import type { Version } from '../core/conflict/version.js';
import { compareVersions } from '../core/conflict/version.js';

/** What a remote version does to a version set (pure; the replica acts on the result). */
export type SetOutcome =
  | { readonly kind: 'stale' }
  | { readonly kind: 'duplicate' }
  /** Same clock as `existing`, different content. */
  | { readonly kind: 'causal_violation'; readonly existing: Version }
  /** `incoming` dominates everything in `superseded` and nothing is concurrent with it. */
  | { readonly kind: 'fast_forward'; readonly superseded: readonly Version[] }
  /** `concurrent` stay next to `incoming`; `superseded` are replaced. */
  | { readonly kind: 'concurrent'; readonly concurrent: readonly Version[]; readonly superseded: readonly Version[] };

/**
 * Compare an incoming version with the current maximal versions of its resource.
 * The set is an antichain under the vector-clock order; so is the result.
 */
export function classifyAgainstSet(set: readonly Version[], incoming: Version): SetOutcome {
  const concurrent: Version[] = [];
  const superseded: Version[] = [];
  for (const s of set) {
    const o = incoming.clock.compare(s.clock);
    if (o === 'before') return { kind: 'stale' };
    if (o === 'equal') {
      return s.digest === incoming.digest ? { kind: 'duplicate' } : { kind: 'causal_violation', existing: s };
    }
    if (o === 'after') superseded.push(s);
    else concurrent.push(s);
  }
  if (concurrent.length === 0) return { kind: 'fast_forward', superseded };
  return { kind: 'concurrent', concurrent, superseded };
}

/** Sort versions canonically (every node orders a version set the same way). */
export function sortedSet(versions: Iterable<Version>): Version[] {
  return [...versions].sort(compareVersions);
}

/** The newest history entry whose clock every candidate dominates: the common ancestor, if known. */
export function commonAncestor(history: readonly Version[], candidates: readonly Version[]): Version | undefined {
  for (let i = history.length - 1; i >= 0; i--) {
    const h = history[i]!;
    if (candidates.every((c) => c.clock.dominates(h.clock))) return h;
  }
  return undefined;
}
