import { sha256Hex, sha256OfCanonical } from '../codec/canonical.js';
import { describeValue } from '../codec/describe.js';
import { assertHlc, formatHlc, type Hlc } from '../clock/hlc.js';
import { assertNodeId } from '../clock/node-ids.js';
import { MAX_CLOCK_ENTRIES, VectorClock } from '../clock/vector-clock.js';
import { DwcpError, EncodingError, InvalidClockError, InvalidVersionError } from '../errors.js';

/** Resource ids: `vm/<id>`, `host/<node id>`, `crdt/<name>`; printable, no `..`, at most 200 characters. */
export const RESOURCE_ID_PATTERN = /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$/;

/**
 * One version of a resource. `digest` covers the content (data and tombstone flag) in canonical form;
 * `id` covers everything (resource, clock, hlc, origin, digest), so it names this exact version on
 * every node.
 */
export interface Version<T = unknown> {
  readonly id: string;
  readonly resourceId: string;
  readonly clock: VectorClock;
  readonly hlc: Hlc;
  readonly origin: string;
  /**
   * The content. A tombstone's is `null`, or what the resource's merge rule keeps of the updates the
   * delete won over (VM field rules: `{overridden: ...}`), covered by the digest like any content.
   */
  readonly data: T;
  /** A tombstone: the resource was deleted by this version. */
  readonly deleted: boolean;
  readonly digest: string;
}

export interface VersionInit<T> {
  readonly resourceId: string;
  readonly clock: VectorClock;
  readonly hlc: Hlc;
  readonly origin: string;
  readonly data: T;
  readonly deleted?: boolean;
}

/** The JSON (wire and API) form of a version. */
export interface VersionJSON {
  id: string;
  resourceId: string;
  clock: Record<string, number>;
  hlc: Hlc;
  origin: string;
  data: unknown;
  deleted?: boolean;
  digest: string;
}

export function assertResourceId(resourceId: unknown, where = 'resource id'): asserts resourceId is string {
  if (typeof resourceId !== 'string' || !RESOURCE_ID_PATTERN.test(resourceId)) {
    throw new InvalidVersionError(
      `invalid ${where} ${describeValue(resourceId)}: expected up to 200 characters of [A-Za-z0-9._:/-] without '..'`,
      { resourceId },
    );
  }
}

/**
 * Digests of live data objects already hashed. Replicated data is never mutated once a version holds
 * it (every change makes a new object), so a resolution that keeps a winner's data reuses its digest
 * instead of re-encoding and re-hashing it. Tombstones are not cached.
 */
const digestCache = new WeakMap<object, string>();

export function contentDigest(data: unknown, deleted: boolean): string {
  if (!deleted && typeof data === 'object' && data !== null) {
    const cached = digestCache.get(data);
    if (cached !== undefined) return cached;
    const d = sha256OfCanonical('D', data).slice(0, 32);
    digestCache.set(data, d);
    return d;
  }
  return sha256OfCanonical(deleted ? 'T' : 'D', data).slice(0, 32);
}

/**
 * The digest of data whose canonical JSON text is at hand (`text` must be `canonicalJson(data)`,
 * e.g. what a write encoded for its stored text), for {@link createVersionOfText}.
 */
export function digestOfCanonicalText(text: string, deleted = false): string {
  return sha256Hex((deleted ? 'T' : 'D') + text).slice(0, 32);
}

function versionId(resourceId: string, clock: VectorClock, hlc: Hlc, origin: string, digest: string): string {
  return versionIdOfText(resourceId, clock.toString(), hlc, origin, digest);
}

function versionIdOfText(resourceId: string, clockText: string, hlc: Hlc, origin: string, digest: string): string {
  return sha256Hex(`${resourceId}\n${clockText}\n${formatHlc(hlc)}\n${origin}\n${digest}`).slice(0, 24);
}

/** The canonical text form of an untrusted `{nodeId: counter}` clock, validated, without interning ids. */
function clockTextOf(raw: Record<string, unknown>): string {
  const entries = Object.entries(raw);
  if (entries.length > MAX_CLOCK_ENTRIES) {
    throw new InvalidClockError(`vector clock has more than ${MAX_CLOCK_ENTRIES} entries`, { limit: MAX_CLOCK_ENTRIES });
  }
  const kept: Array<[string, number]> = [];
  for (const [nodeId, counter] of entries) {
    assertNodeId(nodeId, 'node id in vector clock');
    // Same checks and messages as VectorClock.from.
    if (typeof counter !== 'number' || !Number.isInteger(counter)) {
      throw new InvalidClockError(`counter of ${nodeId} must be an integer, got ${describeValue(counter)}`, { nodeId });
    }
    if (counter < 0) throw new InvalidClockError(`counter of ${nodeId} must not be negative, got ${counter}`, { nodeId });
    if (counter > Number.MAX_SAFE_INTEGER) throw new InvalidClockError(`counter of ${nodeId} exceeds 2^53 - 1`, { nodeId });
    if (counter !== 0) kept.push([nodeId, counter]);
  }
  kept.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  return kept.map(([k, v]) => `${k}:${v}`).join(',');
}

/** Create a version, computing its digest and id. Validates ids and clocks; data must encode canonically. */
export function createVersion<T>(init: VersionInit<T>): Version<T> {
  const deleted = init.deleted ?? false;
  const data = (deleted ? (init.data ?? null) : init.data) as T;
  return createVersionOfDigest(init, data, deleted, contentDigest(data, deleted));
}

/**
 * {@link createVersion} for data whose canonical JSON text the caller has (a local write encodes it
 * once for its records): `digest` must be `digestOfCanonicalText(text, deleted)` of that text.
 */
export function createVersionOfText<T>(init: VersionInit<T>, digest: string): Version<T> {
  const deleted = init.deleted ?? false;
  return createVersionOfDigest(init, (deleted ? (init.data ?? null) : init.data) as T, deleted, digest);
}

function createVersionOfDigest<T>(init: VersionInit<T>, data: T, deleted: boolean, digest: string): Version<T> {
  assertResourceId(init.resourceId);
  assertNodeId(init.origin, 'origin node id');
  assertHlc(init.hlc);
  return Object.freeze({
    id: versionId(init.resourceId, init.clock, init.hlc, init.origin, digest),
    resourceId: init.resourceId,
    clock: init.clock,
    hlc: init.hlc,
    origin: init.origin,
    data,
    deleted,
    digest,
  });
}

export function versionToJSON(v: Version): VersionJSON {
  const out: VersionJSON = {
    id: v.id,
    resourceId: v.resourceId,
    clock: v.clock.toJSON(),
    hlc: { wall: v.hlc.wall, logical: v.hlc.logical },
    origin: v.origin,
    data: v.data,
    digest: v.digest,
  };
  if (v.deleted) out.deleted = true;
  return out;
}

/**
 * Decode an untrusted version. Recomputes digest and id and refuses a version whose claimed digest or
 * id does not match its content. Every failure is an {@link InvalidVersionError} naming the field.
 */
export function versionFromJSON(input: unknown, where = 'version'): Version {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InvalidVersionError(`${where} must be an object`, { where });
  }
  const o = input as Record<string, unknown>;
  try {
    assertResourceId(o.resourceId, `${where}.resourceId`);
    if (typeof o.clock !== 'object' || o.clock === null || Array.isArray(o.clock)) {
      throw new InvalidVersionError(`${where}.clock must be an object {nodeId: counter}`, { where });
    }
    let clockText: string;
    try {
      clockText = clockTextOf(o.clock as Record<string, unknown>);
    } catch (err) {
      if (err instanceof DwcpError) throw new InvalidVersionError(`${where}.clock: ${err.message}`, { where, cause: err.code });
      throw err;
    }
    assertHlc(o.hlc, `${where}.hlc`);
    assertNodeId(o.origin, `${where}.origin`);
    if (o.deleted !== undefined && typeof o.deleted !== 'boolean') {
      throw new InvalidVersionError(`${where}.deleted must be a boolean`, { where });
    }
    if (o.data === undefined) {
      throw new InvalidVersionError(`${where}.data is missing (a tombstone has data: null)`, { where });
    }
    // Check digest and id BEFORE the clock's node ids are interned: a forged version must not be able
    // to fill the process-wide node-id table (a denial of service for every later version).
    const digest = contentDigest(o.data, o.deleted === true);
    if (o.digest !== digest) {
      throw new InvalidVersionError(`${where}.digest does not match its content`, { where, claimed: o.digest });
    }
    const hlc = { wall: o.hlc.wall, logical: o.hlc.logical };
    const id = versionIdOfText(o.resourceId, clockText, hlc, o.origin, digest);
    if (o.id !== id) {
      throw new InvalidVersionError(`${where}.id does not match its content`, { where, claimed: o.id });
    }
    let clock: VectorClock;
    try {
      clock = VectorClock.from(o.clock as Record<string, number>);
    } catch (err) {
      if (err instanceof DwcpError) throw new InvalidVersionError(`${where}.clock: ${err.message}`, { where, cause: err.code });
      throw err;
    }
    // Every field was validated above and the digest and id computed from them (clockText is the
    // clock's canonical text, clock.toString()): the version createVersion would build, without
    // validating and hashing it all a second time.
    const deleted = o.deleted === true;
    return Object.freeze({ id, resourceId: o.resourceId, clock, hlc, origin: o.origin, data: o.data, deleted, digest });
  } catch (err) {
    if (err instanceof InvalidVersionError) throw err;
    // Every other field is checked before the data is encoded, so an encoding error is about the data.
    if (err instanceof EncodingError) {
      throw new InvalidVersionError(`${where}.data cannot be encoded: ${err.message}`, { where, cause: err.code });
    }
    if (err instanceof DwcpError) {
      // Validators are told `where`, so their messages usually name the field already.
      const message = err.message.includes(where) ? err.message : `${where}: ${err.message}`;
      throw new InvalidVersionError(message, { where, cause: err.code });
    }
    throw err;
  }
}

/** Deterministic total order on versions: by (hlc, origin, id). Used wherever an order must not depend on arrival. */
export function compareVersions(a: Version, b: Version): number {
  if (a.hlc.wall !== b.hlc.wall) return a.hlc.wall < b.hlc.wall ? -1 : 1;
  if (a.hlc.logical !== b.hlc.logical) return a.hlc.logical < b.hlc.logical ? -1 : 1;
  if (a.origin !== b.origin) return a.origin < b.origin ? -1 : 1;
  if (a.id !== b.id) return a.id < b.id ? -1 : 1;
  return 0;
}
