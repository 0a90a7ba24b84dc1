import { InvalidDetectorConfigError } from './errors.js';

/**
 * How a differing field is weighed in the complexity score (see classify.ts for the table).
 * - `critical`: `id`, `host`, `power_state`, `migration_status` of a VM — where the VM runs and what it does.
 * - `structural`: `network_config`, `disk_config` — lists of devices, merged element by element.
 * - `scalar`: `cpu_allocation`, `memory_mb`, `snapshot_id` — one number or name each.
 * - `other`: unknown VM fields, and every field of a resource that is not a VM.
 */
export type FieldKind = 'critical' | 'structural' | 'scalar' | 'other';

/** The detector's knobs. Plain, cloneable data; {@link DEFAULT_DETECTOR_CONFIG} holds the defaults. */
export interface DetectorConfig {
  /**
   * Weights of the four complexity terms (fields, depth, siblings, tombstone). Non-negative, not all
   * zero; the score divides by their sum, so they need not add up to 1.
   */
  readonly weights: {
    readonly fields: number;
    readonly depth: number;
    readonly siblings: number;
    readonly tombstone: number;
  };
  /** Weight of one differing path, by the kind of its top-level field. Each must be > 0 (keeps complexity strictly monotone). */
  readonly fieldKindWeights: Readonly<Record<FieldKind, number>>;
  /** Weighted number of differing fields F at which the fields term F / (F + h) reaches 0.5. */
  readonly fieldHalfSaturation: number;
  /** Path depth at which the depth term reaches 1 (top-level paths have depth 1 and score 0). Integer ≥ 2. */
  readonly depthCap: number;
  /**
   * Number of concurrent siblings at which the siblings term reaches 1 (two siblings score 0). A
   * version set this large is as complex as a conflict gets. Integer ≥ 3.
   */
  readonly maxSiblings: number;
  /** A plain concurrent update whose complexity is at least this is `medium` (else `low` unless a rule raises it). In [0, 1]. */
  readonly mediumComplexity: number;
  /**
   * Cluster findings (findingsToConflict): m = findings + distinct other VMs involved; the findings
   * term is m / (m + this).
   */
  readonly findingsHalfSaturation: number;
}

export const DEFAULT_DETECTOR_CONFIG: DetectorConfig = Object.freeze({
  weights: Object.freeze({ fields: 0.6, depth: 0.15, siblings: 0.15, tombstone: 0.1 }),
  fieldKindWeights: Object.freeze({ critical: 1, structural: 0.6, scalar: 0.3, other: 0.4 }),
  fieldHalfSaturation: 2,
  depthCap: 4,
  maxSiblings: 8,
  mediumComplexity: 0.35,
  findingsHalfSaturation: 4,
});

/** Partial options: anything left out takes its default (nested objects are merged key by key). */
export interface DetectorInit {
  readonly weights?: Partial<DetectorConfig['weights']>;
  readonly fieldKindWeights?: Partial<DetectorConfig['fieldKindWeights']>;
  readonly fieldHalfSaturation?: number;
  readonly depthCap?: number;
  readonly maxSiblings?: number;
  readonly mediumComplexity?: number;
  readonly findingsHalfSaturation?: number;
}

/** Merge `init` over the defaults and validate; throws {@link InvalidDetectorConfigError} naming the field. */
export function resolveDetectorConfig(init: DetectorInit = {}): DetectorConfig {
  const d = DEFAULT_DETECTOR_CONFIG;
  const config: DetectorConfig = {
    weights: { ...d.weights, ...init.weights },
    fieldKindWeights: { ...d.fieldKindWeights, ...init.fieldKindWeights },
    fieldHalfSaturation: init.fieldHalfSaturation ?? d.fieldHalfSaturation,
    depthCap: init.depthCap ?? d.depthCap,
    maxSiblings: init.maxSiblings ?? d.maxSiblings,
    mediumComplexity: init.mediumComplexity ?? d.mediumComplexity,
    findingsHalfSaturation: init.findingsHalfSaturation ?? d.findingsHalfSaturation,
  };
  let sum = 0;
  for (const [k, w] of Object.entries(config.weights)) {
    check(Number.isFinite(w) && w >= 0, `weights.${k}`, 'a finite number >= 0', w);
    sum += w;
  }
  check(sum > 0, 'weights', 'at least one weight > 0', config.weights);
  for (const [k, w] of Object.entries(config.fieldKindWeights)) {
    check(Number.isFinite(w) && w > 0, `fieldKindWeights.${k}`, 'a finite number > 0', w);
  }
  const h = config.fieldHalfSaturation;
  check(Number.isFinite(h) && h > 0, 'fieldHalfSaturation', 'a finite number > 0', h);
  check(Number.isInteger(config.depthCap) && config.depthCap >= 2, 'depthCap', 'an integer >= 2', config.depthCap);
  check(Number.isInteger(config.maxSiblings) && config.maxSiblings >= 3, 'maxSiblings', 'an integer >= 3', config.maxSiblings);
  const m = config.mediumComplexity;
  check(Number.isFinite(m) && m >= 0 && m <= 1, 'mediumComplexity', 'a number in [0, 1]', m);
  const f = config.findingsHalfSaturation;
  check(Number.isFinite(f) && f > 0, 'findingsHalfSaturation', 'a finite number > 0', f);
  return config;
}

function check(ok: boolean, field: string, expected: string, got: unknown): void {
  if (!ok) {
    throw new InvalidDetectorConfigError(`detector config ${field}: expected ${expected}, got ${JSON.stringify(got)}`, {
      field,
      expected,
    });
  }
}
