import { versionFromJSON, versionToJSON, type Version, type VersionJSON } from '../core/conflict/version.js';
import { describeValue } from '../core/codec/describe.js';
import { NODE_ID_PATTERN } from '../core/clock/node-ids.js';
import { DwcpError } from '../core/errors.js';
import { BadMessageError } from './errors.js';

/** Gossip payload format version. */
export const GOSSIP_FORMAT = 1;
/** Largest gossip payload accepted (bytes). */
export const MAX_GOSSIP_BYTES = 4 * 1024 * 1024;
/** Most versions in one gossip batch. */
export const MAX_BATCH_VERSIONS = 4096;

export interface GossipBatch {
  readonly from: string;
  readonly versions: readonly Version[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeGossip(from: string, versions: readonly Version[]): Uint8Array {
  return encoder.encode(JSON.stringify({ v: GOSSIP_FORMAT, from, versions: versions.map(versionToJSON) }));
}

/**
 * Decode and validate a gossip batch strictly: size, format, every version's ids and digest.
 * Any problem rejects the whole batch with {@link BadMessageError} (nothing is half-applied).
 */
export function decodeGossip(payload: Uint8Array): GossipBatch {
  if (payload.length > MAX_GOSSIP_BYTES) {
    throw new BadMessageError(`gossip payload of ${payload.length} bytes exceeds ${MAX_GOSSIP_BYTES}`, { size: payload.length });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(decoder.decode(payload));
  } catch (err) {
    throw new BadMessageError(`gossip payload is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new BadMessageError('gossip payload must be an object');
  const o = doc as Record<string, unknown>;
  if (o.v !== GOSSIP_FORMAT) throw new BadMessageError(`unknown gossip format ${describeValue(o.v)}`);
  if (typeof o.from !== 'string' || !NODE_ID_PATTERN.test(o.from)) throw new BadMessageError('gossip payload has no valid sender node id');
  if (!Array.isArray(o.versions)) throw new BadMessageError('gossip payload.versions must be an array');
  if (o.versions.length > MAX_BATCH_VERSIONS) {
    throw new BadMessageError(`gossip batch of ${o.versions.length} versions exceeds ${MAX_BATCH_VERSIONS}`);
  }
  const versions = o.versions.map((v: unknown, i) => {
    try {
      return versionFromJSON(v, `versions[${i}]`);
    } catch (err) {
      if (err instanceof DwcpError) throw new BadMessageError(`gossip ${err.message}`, { index: i, cause: err.code });
      throw err;
    }
  });
  return { from: o.from, versions };
}

/** The stored form of a resource's version set. */
export interface VersionSetRecord {
  readonly versions: readonly VersionJSON[];
  readonly conflictId?: string;
}
