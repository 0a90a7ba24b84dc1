/**
 * Typed errors with stable codes. Tests match `code`, never the message. Every error says what was
 * wrong, where (field, key, path) and, where it helps, what was expected.
 */
export class DwcpError extends Error {
  readonly code: string;
  readonly meta: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, meta: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.meta = meta;
  }
}

/** A vector clock or HLC timestamp that is malformed (negative, non-integer, huge, unknown encoding). */
export class InvalidClockError extends DwcpError {
  constructor(message: string, meta: Record<string, unknown> = {}) {
    super('ERR_INVALID_CLOCK', message, meta);
  }
}

/** A remote HLC timestamp too far ahead of local physical time. */
export class ClockDriftError extends DwcpError {
  constructor(message: string, meta: Record<string, unknown> = {}) {
    super('ERR_CLOCK_DRIFT', message, meta);
  }
}

/** A CRDT state or operation that does not satisfy the type's invariants. */
export class InvalidCrdtStateError extends DwcpError {
  constructor(message: string, meta: Record<string, unknown> = {}) {
    super('ERR_INVALID_CRDT_STATE', message, meta);
  }
}

/** A value that cannot be encoded canonically (cycle, too deep, non-finite number, unsupported type). */
export class EncodingError extends DwcpError {
  constructor(message: string, meta: Record<string, unknown> = {}) {
    super('ERR_ENCODING', message, meta);
  }
}

/** A version that is malformed or whose digest does not match its content. */
export class InvalidVersionError extends DwcpError {
  constructor(message: string, meta: Record<string, unknown> = {}) {
    super('ERR_INVALID_VERSION', message, meta);
  }
}

/** Versions handed to one comparison or resolution that belong to different resources. */
export class ResourceMismatchError extends DwcpError {
  constructor(message: string, meta: Record<string, unknown> = {}) {
    super('ERR_RESOURCE_MISMATCH', message, meta);
  }
}
