import { DwcpError } from '../errors.js';

/**
 * Errors of the conflict detector and the cluster index. They extend {@link DwcpError} like every
 * error in src/core/errors.ts (they live here only because that file belongs to another module;
 * moving them there changes nothing for callers, who match `code`).
 */

/** A detector or cluster-index option out of range (`meta.field` names it). */
export class InvalidDetectorConfigError extends DwcpError {
  constructor(message: string, meta: Record<string, unknown> = {}) {
    super('ERR_INVALID_DETECTOR_CONFIG', message, meta);
  }
}

/**
 * Input the detector cannot classify: fewer than two distinct versions, versions that are not
 * pairwise concurrent (`meta.reason: 'ordered'`), an empty findings list, a non-finite time.
 */
export class InvalidConflictInputError extends DwcpError {
  constructor(message: string, meta: Record<string, unknown> = {}) {
    super('ERR_INVALID_CONFLICT_INPUT', message, meta);
  }
}
