/**
 * Conflict detection: versions, the detector (clock/digest comparison and classification), the
 * cluster index (contention, capacity and placement checks of a candidate VM state).
 */
export * from './types.js';
export * from './version.js';
export * from './errors.js';
export * from './finding.js';
export { conflictId, conflictIdOfPair } from './conflict-id.js';
export { DEFAULT_DETECTOR_CONFIG, resolveDetectorConfig, type DetectorConfig, type DetectorInit, type FieldKind } from './detector-config.js';
export { jsonEqual, diffValues, newDiffSink, ROOT_PATH, type DiffSink } from './diff.js';
export {
  complexityScore,
  fieldKindOf,
  VM_RESOURCE_PREFIX,
  type ComplexityTerms,
  type DetectedConflict,
} from './classify.js';
export { ConflictDetector, type Detection, type DetectionOutcome } from './detector.js';
export {
  ClusterIndex,
  DEFAULT_OVERCOMMIT,
  findingsToConflict,
  isActive,
  type ClusterIndexInit,
  type ContendedKey,
  type Contention,
  type Overcommit,
  type Usage,
} from './cluster-index.js';
