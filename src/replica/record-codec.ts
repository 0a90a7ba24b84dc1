import { crc32 } from 'node:zlib';
import { Buffer } from 'node:buffer';
import { CorruptRecordError } from './store-errors.js';

/**
 * The binary envelope of every stored record:
 *
 * | offset | size | content                                   |
 * |--------|------|-------------------------------------------|
 * | 0      | 1    | magic 0x44 ('D')                          |
 * | 1      | 1    | format version (1)                        |
 * | 2      | 1    | record kind (RecordKind)                  |
 * | 3      | 4    | CRC-32 of the payload, big-endian         |
 * | 7      | n    | payload: JSON, UTF-8                      |
 *
 * JSON was as fast as msgpackr/cbor-x on VM records here and stays readable in a hex dump; the CRC
 * catches torn or bit-flipped records, which are then quarantined rather than half-trusted. Hot paths
 * build the JSON text themselves (a version is serialised once and the text spliced into the version
 * set and audit records) and use {@link encodeRecordText} / {@link decodeRecordText}.
 */
export const RecordKind = {
  versionSet: 1,
  history: 2,
  audit: 3,
  checkpoint: 4,
  conflict: 5,
  pending: 6,
  paxos: 7,
  lease: 8,
  meta: 9,
} as const;
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];

const MAGIC = 0x44;
const FORMAT_V1 = 1;
const HEADER = 7;
/** Bytes before a record's payload. */
export const RECORD_HEADER = HEADER;
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeRecord(kind: RecordKind, payload: unknown): Uint8Array {
  return encodeRecordText(kind, JSON.stringify(payload));
}

/** Encode a record whose payload is already JSON text (the caller vouches that it is valid JSON). */
export function encodeRecordText(kind: RecordKind, json: string): Uint8Array {
  const buf = allocRecord(HEADER + utf8Room(NO_TEXTS, json));
  return seal(buf, HEADER + buf.write(json, HEADER, 'utf8'), kind);
}

/**
 * Encode a record whose JSON payload is the concatenation of `parts` (the caller vouches that it is
 * valid JSON, and no part ends inside a surrogate pair): each part is written in place, the whole
 * text is never built.
 */
export function encodeRecordParts(kind: RecordKind, parts: readonly string[]): Uint8Array {
  const buf = allocRecord(HEADER + utf8Room(parts));
  let at = HEADER;
  for (const p of parts) at += buf.write(p, at, 'utf8');
  return seal(buf, at, kind);
}

/**
 * Room for the UTF-8 of `texts`, `a` and `b`, one after the other: 3 bytes a UTF-16 unit (a surrogate
 * pair is 4 bytes for 2 units), so they are written once, not measured first; what is not used goes
 * back to the slab. Texts too large for a slab record are measured exactly (they get a buffer of their
 * own, which should not be three times too large).
 */
export function utf8Room(texts: readonly string[], a = '', b = ''): number {
  let units = a.length + b.length;
  for (const t of texts) units += t.length;
  if (units * 3 <= SLAB_MAX_RECORD) return units * 3;
  let bytes = Buffer.byteLength(a, 'utf8') + Buffer.byteLength(b, 'utf8');
  for (const t of texts) bytes += Buffer.byteLength(t, 'utf8');
  return bytes;
}

const NO_TEXTS: readonly string[] = [];

/**
 * A record whose payload is written into the buffer by the caller: the buffer has `before` spare bytes,
 * then the header, then room for up to `maxPayloadBytes` bytes of payload starting at the returned `at`
 * (the caller writes the payload, then calls {@link sealRecordDraft} with its size). The spare bytes
 * are the caller's to use until then (the audit log hashes a prefix and the payload in one piece from
 * there); they are not part of the record. No other record may be encoded meanwhile.
 */
export interface RecordDraft {
  readonly buf: Buffer;
  /** Where the payload starts. */
  readonly at: number;
}

export function recordDraft(before: number, maxPayloadBytes: number): RecordDraft {
  const buf = allocRecord(before + HEADER + maxPayloadBytes);
  return { buf, at: before + HEADER };
}

/** The record of a draft whose `payloadBytes` of payload are in place (its header is written over the spare bytes' last ones). */
export function sealRecordDraft(draft: RecordDraft, kind: RecordKind, payloadBytes: number): Uint8Array {
  const start = draft.at - HEADER;
  giveBack(draft.buf, draft.at + payloadBytes);
  const record = draft.buf.subarray(start, draft.at + payloadBytes);
  return sealInPlace(record, kind);
}

/** Bytes of each slab records are carved from. */
const SLAB_BYTES = 256 * 1024;
/** Records larger than this get their own buffer. */
const SLAB_MAX_RECORD = 16 * 1024;
let slab = new ArrayBuffer(0);
let slabAt = 0;

/**
 * Memory for a record of `n` bytes (contents undefined). Records are small and short-lived (the store
 * copies what it keeps, and the write path drops them once they are in a batch), so they are carved
 * from 256 KiB slabs: a write's three or four records cost no allocation of their own (Node's 8 KiB
 * Buffer pool took a new ArrayBuffer every three writes). A slab lives as long as any record in it.
 */
function allocRecord(n: number): Buffer {
  if (n > SLAB_MAX_RECORD) return Buffer.allocUnsafeSlow(n);
  if (slabAt + n > slab.byteLength) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabAt = 0;
  }
  const buf = Buffer.from(slab, slabAt, n);
  slabAt = align(slabAt + n);
  return buf;
}

function align(n: number): number {
  return (n + 7) & ~7;
}

/** Return the bytes of the last record allocated beyond its first `used` ones to the slab. */
function giveBack(buf: Buffer, used: number): void {
  if (buf.buffer === slab && align(buf.byteOffset + buf.length) === slabAt) slabAt = align(buf.byteOffset + used);
}

/** Seal the first `n` bytes of `buf` (header and payload) as a record, returning the rest to the slab. */
function seal(buf: Buffer, n: number, kind: RecordKind): Uint8Array {
  giveBack(buf, n);
  return sealInPlace(buf.subarray(0, n), kind);
}

/**
 * Fill in the header of a record whose payload is in place (every byte of `buf` is then written) and
 * return it as a plain Uint8Array; the store copies what it keeps.
 */
function sealInPlace(buf: Buffer, kind: RecordKind): Uint8Array {
  buf[0] = MAGIC;
  buf[1] = FORMAT_V1;
  buf[2] = kind;
  buf.writeUInt32BE(crc32(buf.subarray(HEADER)), 3);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}

/** Decode a record; anything wrong throws {@link CorruptRecordError} naming the sublevel and key. */
export function decodeRecord(bytes: Uint8Array, kind: RecordKind, sublevel: string, key: string): unknown {
  const text = decodeRecordText(bytes, kind, sublevel, key);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CorruptRecordError(sublevel, key, `payload is not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
}

/**
 * Check a record's envelope (magic, format, kind, CRC) and return its payload text, not parsed.
 * Anything wrong throws {@link CorruptRecordError} naming the sublevel and key.
 */
export function decodeRecordText(bytes: Uint8Array, kind: RecordKind, sublevel: string, key: string): string {
  if (bytes.length < HEADER) throw new CorruptRecordError(sublevel, key, `record of ${bytes.length} bytes is shorter than its header`);
  if (bytes[0] !== MAGIC) throw new CorruptRecordError(sublevel, key, 'bad magic byte');
  if (bytes[1] !== FORMAT_V1) throw new CorruptRecordError(sublevel, key, `unknown record format ${bytes[1]}`);
  if (bytes[2] !== kind) throw new CorruptRecordError(sublevel, key, `record kind ${bytes[2]}, expected ${kind}`);
  const body = bytes.subarray(HEADER);
  const stored = ((bytes[3]! << 24) | (bytes[4]! << 16) | (bytes[5]! << 8) | bytes[6]!) >>> 0;
  if (stored !== crc32(body)) throw new CorruptRecordError(sublevel, key, 'checksum mismatch');
  try {
    return decoder.decode(body);
  } catch (err) {
    throw new CorruptRecordError(sublevel, key, `payload is not valid UTF-8 (${err instanceof Error ? err.message : String(err)})`);
  }
}
