/**
 * The conflict detector: compares a local and a remote version of one resource by vector clock and
 * digest (ARCHITECTURE.md, "Comparing two versions"), and classifies concurrent versions
 * (classify.ts: type, severity, complexity, differing fields, reasons).
 *
 * | clocks | digests | outcome |
 * |---|---|---|
 * | remote < local | – | `stale`: ignore (count it) |
 * | remote > local | – | `fast_forward`: replace |
 * | equal | equal | `duplicate`: ignore |
 * | equal | different | `causal_violation`: a `causal_violation` conflict, severity high |
 * | concurrent | – | `concurrent`: a classified conflict |
 *
 * Pure and synchronous: time comes in as `now` (ms), nothing is read from the environment. The hot
 * path neither re-hashes nor re-canonicalises data: digests already in the versions decide equality,
 * and differing fields come from a structural comparison. The only hash is the conflict id's.
 */
import { ResourceMismatchError } from '../errors.js';
import { classifySorted, type DetectedConflict } from './classify.js';
import { findingsToConflict } from './cluster-index.js';
import { conflictId, conflictIdOfPair } from './conflict-id.js';
import { resolveDetectorConfig, type DetectorConfig, type DetectorInit } from './detector-config.js';
import { InvalidConflictInputError } from './errors.js';
import type { Finding } from './finding.js';
import { compareVersions, type Version } from './version.js';

/** What to do with a remote version, given the local one. */
export type Detection =
  /** remote < local: ignore it (and count it). */
  | { readonly outcome: 'stale' }
  /** remote > local: replace local with remote. */
  | { readonly outcome: 'fast_forward' }
  /** Same clock, same content: ignore. */
  | { readonly outcome: 'duplicate' }
  /** Same clock, different content: one event with two payloads. `conflict.type` is `causal_violation`. */
  | { readonly outcome: 'causal_violation'; readonly conflict: DetectedConflict }
  /** Concurrent clocks: a classified conflict to resolve by policy. */
  | { readonly outcome: 'concurrent'; readonly conflict: DetectedConflict };

export type DetectionOutcome = Detection['outcome'];

const STALE: Detection = Object.freeze({ outcome: 'stale' });
const FAST_FORWARD: Detection = Object.freeze({ outcome: 'fast_forward' });
const DUPLICATE: Detection = Object.freeze({ outcome: 'duplicate' });

export class ConflictDetector {
  readonly config: DetectorConfig;

  /** Options left out take {@link DEFAULT_DETECTOR_CONFIG}'s values; invalid ones throw InvalidDetectorConfigError. */
  constructor(init: DetectorInit = {}) {
    this.config = resolveDetectorConfig(init);
  }

  /**
   * Compare `remote` with `local` (both versions of `resourceId`) at time `now` (ms since the epoch).
   * Throws ResourceMismatchError (`ERR_RESOURCE_MISMATCH`) if either belongs to another resource.
   * For `concurrent` and `causal_violation`, the conflict is the same whichever version is local.
   */
  detectConflict(resourceId: string, local: Version, remote: Version, now: number): Detection {
    if (local.resourceId !== resourceId || remote.resourceId !== resourceId) {
      throw new ResourceMismatchError(
        `cannot compare versions of ${JSON.stringify(local.resourceId)} and ${JSON.stringify(remote.resourceId)} as versions of ${JSON.stringify(resourceId)}`,
        { resourceId, local: local.resourceId, remote: remote.resourceId },
      );
    }
    assertTime(now);
    const order = remote.clock.compare(local.clock);
    switch (order) {
      case 'before':
        return STALE;
      case 'after':
        return FAST_FORWARD;
      case 'equal':
        if (remote.digest === local.digest) return DUPLICATE;
        return { outcome: 'causal_violation', conflict: this.classifyPair(resourceId, local, remote, now, true) };
      case 'concurrent':
        return { outcome: 'concurrent', conflict: this.classifyPair(resourceId, local, remote, now, false) };
    }
  }

  /**
   * Classify a set of concurrent siblings (two or more) of `resourceId` at time `now`. The input order
   * does not matter; versions with the same id count once. Throws ResourceMismatchError for a version
   * of another resource, and InvalidConflictInputError (`ERR_INVALID_CONFLICT_INPUT`) for fewer than
   * two distinct versions or a pair that is not a conflict (`meta.reason`: `ordered` when one clock
   * dominates the other, `duplicate` for equal clocks and equal digests). A pair with equal clocks and
   * different digests makes the whole set a `causal_violation`.
   */
  classify(resourceId: string, versions: readonly Version[], now: number): DetectedConflict {
    assertTime(now);
    const byId = new Map<string, Version>();
    for (const v of versions) {
      if (v.resourceId !== resourceId) {
        throw new ResourceMismatchError(
          `version ${v.id} belongs to ${JSON.stringify(v.resourceId)}, not ${JSON.stringify(resourceId)}`,
          { resourceId, versionId: v.id, versionResourceId: v.resourceId },
        );
      }
      byId.set(v.id, v);
    }
    const sorted = [...byId.values()].sort(compareVersions);
    if (sorted.length < 2) {
      throw new InvalidConflictInputError(`a conflict on ${resourceId} needs at least two distinct versions, got ${sorted.length}`, {
        resourceId,
        reason: 'too_few',
        count: sorted.length,
      });
    }
    let causal = false;
    for (let i = 0; i < sorted.length; i++) {
      const a = sorted[i]!;
      for (let j = i + 1; j < sorted.length; j++) {
        const b = sorted[j]!;
        const o = a.clock.compare(b.clock);
        if (o === 'concurrent') continue;
        if (o === 'equal' && a.digest !== b.digest) {
          causal = true;
          continue;
        }
        const reason = o === 'equal' ? 'duplicate' : 'ordered';
        throw new InvalidConflictInputError(
          reason === 'ordered'
            ? `versions ${a.id} and ${b.id} of ${resourceId} are not concurrent: one happened ${o} the other`
            : `versions ${a.id} and ${b.id} of ${resourceId} are duplicates (equal clocks and content)`,
          { resourceId, reason, versionIds: [a.id, b.id] },
        );
      }
    }
    const id = conflictId(
      resourceId,
      sorted.map((v) => v.id),
    );
    return classifySorted(resourceId, sorted, id, now, causal, this.config);
  }

  /**
   * Turn cluster-index findings on a candidate (`versions`: the candidate, or the siblings it was
   * merged from) into one conflict; see {@link findingsToConflict}.
   */
  findingsToConflict(resourceId: string, versions: readonly Version[], findings: readonly Finding[], now: number): DetectedConflict {
    return findingsToConflict(resourceId, versions, findings, now, this.config);
  }

  private classifyPair(resourceId: string, local: Version, remote: Version, now: number, causal: boolean): DetectedConflict {
    const sorted = compareVersions(local, remote) <= 0 ? [local, remote] : [remote, local];
    const id = conflictIdOfPair(resourceId, local.id, remote.id);
    return classifySorted(resourceId, sorted, id, now, causal, this.config);
  }
}

function assertTime(now: number): void {
  if (typeof now !== 'number' || !Number.isFinite(now)) {
    throw new InvalidConflictInputError(`detection time must be a finite number of ms, got ${String(now)}`, { now });
  }
}
