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
  /**
   * Each version's JSON text as the payload carries it (one per version), when every version is a
   * document of version fields only: a receiver stores and audits that text rather than serialising
   * the version again. Undefined otherwise.
   */
  readonly texts?: readonly string[];
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
  const texts = versionTexts(payload, o.versions as readonly object[]);
  return texts ? { from: o.from, versions, texts } : { from: o.from, versions };
}

const VERSION_FIELDS = new Set(['id', 'resourceId', 'clock', 'hlc', 'origin', 'data', 'deleted', 'digest']);
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
/** `versions` in UTF-8. */
const VERSIONS_KEY = encoder.encode('versions');

/**
 * Index of the quote that closes the string opening at `at` (valid JSON: it exists): the next quote
 * not escaped, i.e. not preceded by an odd number of backslashes (found natively, not byte by byte).
 */
function stringEnd(bytes: Uint8Array, at: number): number {
  let i = at;
  for (;;) {
    i = bytes.indexOf(QUOTE, i + 1);
    if (i < 0) return bytes.length;
    let slashes = 0;
    while (bytes[i - 1 - slashes] === BACKSLASH) slashes++;
    if ((slashes & 1) === 0) return i;
  }
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function isVersionsKey(bytes: Uint8Array, from: number, to: number): boolean {
  if (to - from !== VERSIONS_KEY.length) return false;
  for (let i = 0; i < VERSIONS_KEY.length; i++) if (bytes[from + i] !== VERSIONS_KEY[i]) return false;
  return true;
}

/**
 * The texts of the elements of the top-level `"versions"` array of a gossip payload that JSON.parse
 * accepted (of the last such key, the one JSON.parse keeps), if they match `parsed` one for one and
 * each is an object of version fields only (nothing else rides along into the store). One pass over
 * the UTF-8 bytes (JSON's structural characters are ASCII, never part of a multi-byte character);
 * each text is decoded on its own, so none of them keeps the whole payload alive. Undefined when
 * anything is unexpected: the caller serialises the versions instead.
 */
function versionTexts(bytes: Uint8Array, parsed: readonly object[]): string[] | undefined {
  for (const v of parsed) for (const k in v) if (!VERSION_FIELDS.has(k)) return undefined;
  let spans: Array<[number, number]> | undefined;
  let depth = 0;
  let isKey = false;
  let lastKey: [number, number] = [0, 0];
  const n = bytes.length;
  for (let i = 0; i < n; i++) {
    const c = bytes[i]!;
    if (c === QUOTE) {
      const end = stringEnd(bytes, i);
      if (depth === 1 && isKey) {
        lastKey = [i + 1, end];
        isKey = false;
      }
      i = end;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (depth === 1 && c === OPEN_ARRAY && isVersionsKey(bytes, lastKey[0], lastKey[1])) {
        const found: Array<[number, number]> = [];
        i = arrayElements(bytes, i, found);
        spans = found;
        continue;
      }
      depth++;
      if (depth === 1) isKey = true;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--;
    } else if (c === COMMA && depth === 1) {
      isKey = true;
      lastKey = [0, 0];
    }
  }
  if (spans === undefined || spans.length !== parsed.length) return undefined;
  return spans.map(([from, to]) => decoder.decode(bytes.subarray(from, to)));
}

/** Collect the [from, to) spans of the elements of the array opening at `at`; returns the index of its `]`. */
function arrayElements(bytes: Uint8Array, at: number, out: Array<[number, number]>): number {
  let depth = 0;
  let start = -1;
  let last = -1;
  for (let i = at + 1; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (isSpace(c)) continue;
    if (depth === 0 && (c === COMMA || c === CLOSE_ARRAY)) {
      if (start >= 0) out.push([start, last + 1]);
      start = -1;
      if (c === CLOSE_ARRAY) return i;
      continue;
    }
    if (start < 0) start = i;
    if (c === QUOTE) i = stringEnd(bytes, i);
    else if (c === OPEN_OBJECT || c === OPEN_ARRAY) depth++;
    else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) depth--;
    last = i;
  }
  return bytes.length;
}

/** The stored form of a resource's version set. */
export interface VersionSetRecord {
  readonly versions: readonly VersionJSON[];
  readonly conflictId?: string;
}
