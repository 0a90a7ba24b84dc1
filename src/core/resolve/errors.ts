import { DwcpError } from '../errors.js';

/**
 * A strategy could not resolve a conflict (no versions, a rule that failed, an input it cannot use).
 * The policy engine catches it (it is a {@link DwcpError}), records it and retries or falls back; it
 * never crashes resolution. Subclasses carry more specific codes; `meta.strategy` and
 * `meta.resourceId` say where.
 */
export class ResolutionError extends DwcpError {
  constructor(message: string, meta: Record<string, unknown> = {}, options?: ErrorOptions, code = 'ERR_RESOLUTION') {
    super(code, message, meta, options);
  }
}

/** A strategy name that is not one of `STRATEGIES`. */
export class UnknownStrategyError extends DwcpError {
  constructor(message: string, meta: Record<string, unknown> = {}) {
    super('ERR_UNKNOWN_STRATEGY', message, meta);
  }
}

/** Semantic merge asked for a rule that is not registered. `meta.rule`, `meta.available`. */
export class UnknownSemanticRuleError extends ResolutionError {
  constructor(message: string, meta: Record<string, unknown> = {}) {
    super(message, meta, undefined, 'ERR_UNKNOWN_SEMANTIC_RULE');
  }
}

/**
 * A semantic merge rule threw, or returned something that is not a value (undefined, not encodable).
 * The original error is `cause`; `meta.causeCode` is its code when it had one (e.g. `ERR_INVALID_VM_STATE`).
 */
export class SemanticRuleFailedError extends ResolutionError {
  constructor(message: string, meta: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, meta, options, 'ERR_SEMANTIC_RULE_FAILED');
  }
}
