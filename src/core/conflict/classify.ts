/**
 * Classification of a set of concurrent versions of one resource: which fields differ, the conflict
 * type, its severity and its complexity. Pure and order-independent: it only looks at the set of
 * versions (sorted by `compareVersions` first), so every node computes the same classification.
 *
 * ## Differing fields
 *
 * A structural diff of the versions' data (diff.ts): dotted paths into nested objects, arrays as a
 * whole, `$` for a root that is not an object. With more than two versions a path differs when not
 * every version agrees on it. A tombstone concurrent with live data differs in every top-level
 * field of the live data. Versions with equal digests are not diffed at all.
 *
 * ## Field kinds (VM resources: id starts with `vm/` and the data has a VM's shape)
 *
 * | kind | fields | weight (default) |
 * |---|---|---|
 * | critical | `id`, `host`, `power_state`, `migration_status` | 1.0 |
 * | structural | `network_config` (and paths under it), `disk_config` | 0.6 |
 * | scalar | `cpu_allocation`, `memory_mb`, `snapshot_id` | 0.3 |
 * | other | any other VM field; every field of a non-VM resource | 0.4 |
 *
 * ## Complexity (in [0, 1])
 *
 * `complexity = (wF·fields + wD·depth + wS·siblings + wT·tombstone) / (wF + wD + wS + wT)`
 *
 * | term | value | weight (default) |
 * |---|---|---|
 * | fields | `F / (F + h)`, F = Σ kind weight over differing paths, h = `fieldHalfSaturation` (2) | wF = 0.6 |
 * | depth | `min(1, (D − 1) / (depthCap − 1))`, D = deepest differing path (segments), 0 if none; depthCap 4 | wD = 0.15 |
 * | siblings | `min(1, (n − 2) / (maxSiblings − 2))`, n = number of versions; maxSiblings 8 | wS = 0.15 |
 * | tombstone | 1 if a tombstone is concurrent with live data, else 0 | wT = 0.1 |
 *
 * Every kind weight is > 0 and F / (F + h) is strictly increasing, so one more differing field never
 * lowers the score (and raises it unless another term saturated). Only + − × ÷ are used, so the
 * score is bit-identical on every node.
 *
 * ## Type and severity
 *
 * | condition | type | severity |
 * |---|---|---|
 * | equal clocks, different digests | `causal_violation` | high (critical if it is also a split-brain) |
 * | live VM versions `running` on two or more different hosts (split-brain) | `semantic` | critical |
 * | live VM versions active (`running`/`paused`) on different hosts, not two running | `semantic` | high |
 * | any other concurrent versions | `concurrent_update` | medium if a critical-kind field differs, a tombstone is concurrent with an update, or complexity ≥ `mediumComplexity` (0.35); otherwise low |
 *
 * The spec's ranges hold: concurrent update low–medium, causal violation high, semantic
 * high–critical. Invariant violations and resource contention are found on the merged candidate by
 * the cluster index (cluster-index.ts), not from two versions alone.
 */
import { sortCodeUnits } from '../codec/canonical.js';
import { POWER_STATES } from '../vm/state.js';
import type { DetectorConfig, FieldKind } from './detector-config.js';
import { allTopLevel, diffValues, newDiffSink, topLevelOf, type DiffSink } from './diff.js';
import type { Finding } from './finding.js';
import type { Conflict, ConflictType, Severity } from './types.js';
import type { Version } from './version.js';

/**
 * A {@link Conflict} with what the detector found beyond the shared fields. The extra fields are
 * optional, so a `DetectedConflict` is a `Conflict` wherever one is expected.
 */
export interface DetectedConflict extends Conflict {
  /** Split-brain: the sorted hosts on which the versions have the VM running (≥ 2). */
  readonly splitBrainHosts?: readonly string[];
  /** Semantic (active on several hosts, not a split-brain): the sorted hosts where the VM is active. */
  readonly activeHosts?: readonly string[];
  /** Conflicts from cluster checks (findingsToConflict): the findings, in the order given. */
  readonly findings?: readonly Finding[];
}

/** VM prefix of resource ids (`vm/<id>`). */
export const VM_RESOURCE_PREFIX = 'vm/';

/** The kind of a differing path (by its top-level field) for a VM, or `other` for generic JSON. */
export function fieldKindOf(path: string, isVm: boolean): FieldKind {
  if (!isVm) return 'other';
  switch (topLevelOf(path)) {
    case 'id':
    case 'host':
    case 'power_state':
    case 'migration_status':
      return 'critical';
    case 'network_config':
    case 'disk_config':
      return 'structural';
    case 'cpu_allocation':
    case 'memory_mb':
    case 'snapshot_id':
      return 'scalar';
    default:
      return 'other';
  }
}

/** Inputs of the complexity score (see the module documentation). */
export interface ComplexityTerms {
  /** F: Σ of the kind weights of the differing paths. */
  readonly weightedFields: number;
  /** D: depth of the deepest differing path (0 if none differ). */
  readonly maxDepth: number;
  /** n: number of versions in the conflict (≥ 2). */
  readonly siblings: number;
  /** A tombstone concurrent with live data. */
  readonly tombstone: boolean;
}

/** The complexity score in [0, 1] (formula in the module documentation). */
export function complexityScore(t: ComplexityTerms, config: DetectorConfig): number {
  const w = config.weights;
  const f = t.weightedFields > 0 ? t.weightedFields / (t.weightedFields + config.fieldHalfSaturation) : 0;
  const d = t.maxDepth > 1 ? Math.min(1, (t.maxDepth - 1) / (config.depthCap - 1)) : 0;
  const s = t.siblings > 2 ? Math.min(1, (t.siblings - 2) / (config.maxSiblings - 2)) : 0;
  const x = t.tombstone ? 1 : 0;
  const score = (w.fields * f + w.depth * d + w.siblings * s + w.tombstone * x) / (w.fields + w.depth + w.siblings + w.tombstone);
  return score < 0 ? 0 : score > 1 ? 1 : score;
}

interface VmView {
  readonly host: string;
  readonly power_state: string;
}

const POWER = new Set<unknown>(POWER_STATES);

/**
 * The fields classification reads from a VM, if `data` has a VM's shape (the checks parseVmState makes
 * on them). Full validation happens once, where data enters the replica; the detector does not
 * re-parse on its hot path.
 */
function vmView(data: unknown): VmView | undefined {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
  const o = data as Record<string, unknown>;
  if (typeof o.id !== 'string' || typeof o.host !== 'string' || o.host.length === 0) return undefined;
  if (!POWER.has(o.power_state)) return undefined;
  if (typeof o.cpu_allocation !== 'number' || typeof o.memory_mb !== 'number') return undefined;
  return o as unknown as VmView;
}

const MAX_LISTED = 8;

function list(items: readonly string[]): string {
  if (items.length <= MAX_LISTED) return items.join(', ');
  return `${items.slice(0, MAX_LISTED).join(', ')} and ${items.length - MAX_LISTED} more`;
}

/**
 * Classify a set of versions known to be a conflict: `sorted` holds ≥ 2 distinct versions of
 * `resourceId` sorted by `compareVersions`, pairwise concurrent — or, with `causal`, including a pair
 * with equal clocks and different digests. `id` is the conflict id. The caller (the detector) has
 * checked all of that; this function trusts it.
 */
export function classifySorted(
  resourceId: string,
  sorted: readonly Version[],
  id: string,
  now: number,
  causal: boolean,
  config: DetectorConfig,
): DetectedConflict {
  const n = sorted.length;
  const first = sorted[0]!;
  let live = 0;
  let dead = 0;
  let allSameDigest = true;
  for (let i = 0; i < n; i++) {
    const v = sorted[i]!;
    if (v.deleted) dead++;
    else live++;
    if (v.digest !== first.digest) allSameDigest = false;
  }
  const tombstone = dead > 0 && live > 0;

  // Differing paths.
  const sink: DiffSink = newDiffSink();
  if (!allSameDigest) {
    if (tombstone) {
      for (const v of sorted) if (!v.deleted) allTopLevel(v.data, sink);
    } else {
      for (let i = 1; i < n; i++) {
        const v = sorted[i]!;
        if (v.digest !== first.digest) diffValues(first.data, v.data, sink);
      }
    }
  }
  let paths = sink.paths;
  let depths = sink.depths;
  if (n > 2 || tombstone) [paths, depths] = dedupe(paths, depths);

  // Is it a VM? Every live version must have a VM's shape.
  const vmResource = resourceId.startsWith(VM_RESOURCE_PREFIX);
  let isVm = vmResource && live > 0;
  const views: VmView[] = [];
  if (isVm) {
    for (const v of sorted) {
      if (v.deleted) continue;
      const view = vmView(v.data);
      if (view === undefined) {
        isVm = false;
        break;
      }
      views.push(view);
    }
  }

  // Weighted fields, depth, critical-kind fields.
  const kw = config.fieldKindWeights;
  let weighted = 0;
  let maxDepth = 0;
  const critical: string[] = [];
  for (let i = 0; i < paths.length; i++) {
    const p = paths[i]!;
    const kind = fieldKindOf(p, isVm);
    weighted += kw[kind];
    if (kind === 'critical') critical.push(p);
    const d = depths[i]!;
    if (d > maxDepth) maxDepth = d;
  }
  const fields = sortCodeUnits(paths.slice());
  sortCodeUnits(critical);
  const complexity = complexityScore({ weightedFields: weighted, maxDepth, siblings: n, tombstone }, config);

  // Split-brain and double placement.
  let runningHosts: string[] = [];
  let activeHosts: string[] = [];
  if (isVm && views.length >= 2) {
    for (const view of views) {
      if (view.power_state === 'running') pushUnique(runningHosts, view.host);
      if (view.power_state === 'running' || view.power_state === 'paused') pushUnique(activeHosts, view.host);
    }
    runningHosts = runningHosts.length >= 2 ? runningHosts.sort() : [];
    activeHosts = activeHosts.length >= 2 ? activeHosts.sort() : [];
  }

  const reasons: string[] = [];
  let type: ConflictType;
  let severity: Severity;
  if (causal) {
    type = 'causal_violation';
    severity = 'high';
    reasons.push('equal vector clocks with different content: one event carries two payloads (causal-order violation)');
  } else {
    type = 'concurrent_update';
    severity = 'low';
    reasons.push(`vector clocks are concurrent: none of the ${n} versions happened before another`);
  }
  if (vmResource && !isVm && live > 0) reasons.push('data does not have a VM state\'s shape: classified as generic JSON');
  if (dead === n) reasons.push('all versions are deletes (tombstones)');
  else if (allSameDigest) reasons.push('all versions have identical content');
  else if (fields.length > 0) {
    reasons.push(`${fields.length} ${fields.length === 1 ? 'field differs' : 'fields differ'}: ${list(fields)}`);
  }
  if (tombstone) reasons.push(`a delete (tombstone) is concurrent with an update (${dead} of ${n} versions are tombstones)`);
  if (critical.length > 0) reasons.push(`critical-kind fields differ: ${list(critical)}`);
  reasons.push(`complexity ${round3(complexity)}`);

  if (!causal) {
    if (tombstone) {
      severity = 'medium';
      reasons.push('severity medium: a delete is concurrent with an update');
    } else if (critical.length > 0) {
      severity = 'medium';
      reasons.push('severity medium: a critical-kind field differs');
    } else if (complexity >= config.mediumComplexity) {
      severity = 'medium';
      reasons.push(`severity medium: complexity >= ${config.mediumComplexity}`);
    }
  }
  const out: { -readonly [K in keyof DetectedConflict]: DetectedConflict[K] } = {
    id,
    resourceId,
    versions: sorted,
    type,
    severity,
    complexity,
    detectedAt: now,
    fields,
    reasons,
  };
  if (runningHosts.length >= 2) {
    if (!causal) out.type = 'semantic';
    out.severity = 'critical';
    out.splitBrainHosts = runningHosts;
    reasons.push(`split-brain: the VM is running on ${runningHosts.length} hosts at once (${runningHosts.join(', ')}); severity critical`);
  } else if (activeHosts.length >= 2) {
    if (!causal) out.type = 'semantic';
    out.severity = 'high';
    out.activeHosts = activeHosts;
    reasons.push(`the VM is active (running or paused) on ${activeHosts.length} hosts at once (${activeHosts.join(', ')}); severity high`);
  }
  return out;
}


/** x rounded to 3 decimals, for reasons (cheaper than toFixed). */
export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function pushUnique(arr: string[], s: string): void {
  if (!arr.includes(s)) arr.push(s);
}

/** Remove repeated paths (keeping the deepest depth, which is the same for a repeated path). */
function dedupe(paths: string[], depths: number[]): [string[], number[]] {
  const seen = new Map<string, number>();
  for (let i = 0; i < paths.length; i++) {
    const p = paths[i]!;
    const d = depths[i]!;
    const prev = seen.get(p);
    if (prev === undefined || d > prev) seen.set(p, d);
  }
  if (seen.size === paths.length) return [paths, depths];
  return [[...seen.keys()], [...seen.values()]];
}
