import type { Version } from './version.js';

export const CONFLICT_TYPES = [
  'concurrent_update',
  'causal_violation',
  'semantic',
  'invariant_violation',
  'resource_contention',
] as const;
export type ConflictType = (typeof CONFLICT_TYPES)[number];

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** low 0 < medium 1 < high 2 < critical 3 */
export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

export function maxSeverity(a: Severity, b: Severity): Severity {
  return severityRank(a) >= severityRank(b) ? a : b;
}

/** One conflict between versions of a resource, as detected and classified. */
export interface Conflict {
  /** Deterministic: the same versions give the same id on every node (hash of resource and version ids). */
  readonly id: string;
  readonly resourceId: string;
  /** The conflicting versions, sorted by `compareVersions`. */
  readonly versions: readonly Version[];
  readonly type: ConflictType;
  readonly severity: Severity;
  /** In [0, 1]; see the detector's documentation for how it is computed. */
  readonly complexity: number;
  /** When it was detected (ms since epoch, supplied by the caller). */
  readonly detectedAt: number;
  /** Top-level fields whose values differ between the versions (dotted paths for nested ones). */
  readonly fields: readonly string[];
  /** Human-readable reasons for the classification, in order. */
  readonly reasons: readonly string[];
}
