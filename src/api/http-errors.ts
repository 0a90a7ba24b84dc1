import { DwcpError } from '../core/errors.js';

/** An error with an HTTP status, produced by the API layer itself (bad body, bad path, auth). */
export class HttpError extends DwcpError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
  ) {
    super(code, message, { status });
  }
}

const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  ERR_INVALID_VM_STATE: 400,
  ERR_INVALID_CLOCK: 400,
  ERR_INVALID_VERSION: 400,
  ERR_INVALID_CRDT_STATE: 400,
  ERR_ENCODING: 400,
  ERR_BAD_MESSAGE: 400,
  ERR_POLICY: 400,
  ERR_NOT_FOUND: 404,
  ERR_STALE_CONTEXT: 409,
  ERR_CONFLICT_STATE: 409,
  ERR_INVARIANT: 409,
  ERR_LEASE_HELD: 409,
  ERR_STALE_EPOCH: 409,
  ERR_LEASE_CONTENDED: 409,
  ERR_CRDT_TYPE: 409,
  ERR_READ_ONLY: 503,
  ERR_NO_QUORUM: 503,
};

/** The HTTP status and JSON body for any error (unknown errors are 500 without internals). */
export function errorResponse(err: unknown): { status: number; body: { error: { code: string; message: string } } } {
  if (err instanceof HttpError) return { status: err.status, body: { error: { code: err.code, message: err.message } } };
  if (err instanceof DwcpError) {
    return { status: STATUS_BY_CODE[err.code] ?? 500, body: { error: { code: err.code, message: err.message } } };
  }
  return { status: 500, body: { error: { code: 'ERR_INTERNAL', message: 'internal error (see the agent log)' } } };
}
