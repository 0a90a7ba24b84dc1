import { DwcpError } from '../core/errors.js';
import { SUBLEVELS, type StoreOp } from './ports.js';

export class StoreClosedError extends DwcpError {
  constructor(where: string) {
    super('ERR_STORE_CLOSED', `${where} is not open`, { where });
  }
}

/** Another process holds the store's lock. */
export class StoreLockedError extends DwcpError {
  constructor(dir: string, options?: ErrorOptions) {
    super('ERR_STORE_LOCKED', `the data directory ${dir} is in use by another process (LevelDB lock held)`, { dir }, options);
  }
}

/** A write failed (disk full, I/O error); the agent degrades to read-only. */
export class StoreWriteError extends DwcpError {
  constructor(message: string, meta: Record<string, unknown> = {}, options?: ErrorOptions) {
    super('ERR_STORE_WRITE', message, meta, options);
  }
}

/** A record that does not decode. It is quarantined, counted and reported with its key and sublevel. */
export class CorruptRecordError extends DwcpError {
  constructor(sublevel: string, key: string, reason: string) {
    super('ERR_CORRUPT_RECORD', `corrupt record ${sublevel}/${key}: ${reason}`, { sublevel, key, reason });
  }
}

/** Why a batch cannot be written (checked before it joins a group, so it never fails others). */
export function malformedOps(ops: readonly StoreOp[]): string | undefined {
  for (const op of ops) {
    if (!(SUBLEVELS as readonly string[]).includes(op.sublevel)) return `unknown sublevel ${JSON.stringify(op.sublevel)}`;
    if (typeof op.key !== 'string' || op.key.length === 0) return `empty key in ${op.sublevel}`;
    if (op.type === 'put' && !(op.value instanceof Uint8Array)) return `put ${op.sublevel}/${op.key} without a value`;
    if (op.type !== 'put' && op.type !== 'del') return `unknown operation ${JSON.stringify(op.type)}`;
  }
  return undefined;
}

