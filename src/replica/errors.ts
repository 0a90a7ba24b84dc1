import { DwcpError } from '../core/errors.js';

/** A write whose causal context does not cover the current versions (HTTP 409). */
export class StaleContextError extends DwcpError {
  constructor(resourceId: string, detail: string) {
    super('ERR_STALE_CONTEXT', `stale context for ${resourceId}: ${detail}`, { resourceId });
  }
}

/** The replica is degraded to read-only (a store write failed); new writes are refused (HTTP 503). */
export class ReadOnlyError extends DwcpError {
  constructor(reason: string) {
    super('ERR_READ_ONLY', `this agent is read-only: ${reason}`, { reason });
  }
}

/** The resource, conflict or checkpoint does not exist (HTTP 404). */
export class NotFoundError extends DwcpError {
  constructor(what: string, id: string) {
    super('ERR_NOT_FOUND', `${what} ${JSON.stringify(id)} not found`, { what, id });
  }
}

/** A local write that would break an invariant or contend for a resource (HTTP 409). */
export class InvariantError extends DwcpError {
  constructor(message: string, meta: Record<string, unknown> = {}) {
    super('ERR_INVARIANT', message, meta);
  }
}

/** A request that is not valid in the conflict's current state (e.g. resolving a resolved conflict; HTTP 409). */
export class ConflictStateError extends DwcpError {
  constructor(message: string, meta: Record<string, unknown> = {}) {
    super('ERR_CONFLICT_STATE', message, meta);
  }
}

/** A malformed gossip or request payload (counted and audited, nothing applied). */
export class BadMessageError extends DwcpError {
  constructor(message: string, meta: Record<string, unknown> = {}) {
    super('ERR_BAD_MESSAGE', message, meta);
  }
}
