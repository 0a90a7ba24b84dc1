import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { NODE_ID_PATTERN } from '../../core/clock/node-ids.js';
import { DecodeError, PayloadTooLargeError } from './errors.js';

/**
 * The gossip envelope, version 1: who published (node id), a per-origin sequence number (replay
 * guard), the publisher's wall clock (staleness guard) and the replica's payload.
 *
 * Wire layout (big-endian):
 *
 * ```
 * u8 version (1) | u8 flags (bit 0: body is deflate-raw) | u8 node id length (1-64) | node id (ASCII)
 * | u64 seq | u64 ts (ms since the epoch) | body (the rest)
 * ```
 *
 * The envelope itself is the data of a gossipsub message signed by the publisher's peer key
 * (StrictSign): the signature covers all of it, and the validator checks that the node id is bound to
 * the signing peer.
 */
export interface Envelope {
  readonly v: 1;
  readonly node: string;
  readonly seq: number;
  readonly ts: number;
  readonly body: Uint8Array;
}

export interface DecodedEnvelope extends Envelope {
  /** The body travelled deflated. */
  readonly compressed: boolean;
  /** Bytes on the wire. */
  readonly wireBytes: number;
}

export const ENVELOPE_VERSION = 1;
const FLAG_DEFLATE = 0x01;
const KNOWN_FLAGS = FLAG_DEFLATE;
const FIXED_BYTES = 3 + 8 + 8;

export interface EncodeEnvelopeOptions {
  /** Bodies at least this long are deflated when that saves at least 10 % (default 512; Infinity: never). */
  readonly compressAbove?: number;
}

export function encodeEnvelope(env: Envelope, options: EncodeEnvelopeOptions = {}): Uint8Array {
  if (!NODE_ID_PATTERN.test(env.node)) throw new DecodeError('envelope', `invalid node id ${JSON.stringify(env.node)}`);
  if (!Number.isSafeInteger(env.seq) || env.seq < 0) throw new DecodeError('envelope', `invalid seq ${env.seq}`);
  if (!Number.isSafeInteger(env.ts) || env.ts < 0) throw new DecodeError('envelope', `invalid ts ${env.ts}`);
  let body = env.body;
  let flags = 0;
  if (body.byteLength >= (options.compressAbove ?? 512)) {
    const deflated = deflateRawSync(body);
    if (deflated.byteLength < body.byteLength * 0.9) {
      body = deflated;
      flags |= FLAG_DEFLATE;
    }
  }
  const node = new TextEncoder().encode(env.node);
  const out = new Uint8Array(FIXED_BYTES + node.byteLength + body.byteLength);
  const view = new DataView(out.buffer);
  out[0] = ENVELOPE_VERSION;
  out[1] = flags;
  out[2] = node.byteLength;
  out.set(node, 3);
  let o = 3 + node.byteLength;
  view.setBigUint64(o, BigInt(env.seq));
  o += 8;
  view.setBigUint64(o, BigInt(env.ts));
  o += 8;
  out.set(body, o);
  return out;
}

/**
 * Decodes and checks an envelope. Throws `DecodeError` for anything malformed and
 * `PayloadTooLargeError` when the (inflated) body exceeds `maxBodyBytes` — inflation stops at the
 * limit, so a compression bomb costs at most that much memory.
 */
export function decodeEnvelope(bytes: Uint8Array, maxBodyBytes: number): DecodedEnvelope {
  if (bytes.byteLength < FIXED_BYTES + 1) throw new DecodeError('envelope', `${bytes.byteLength} bytes is too short`);
  const version = bytes[0];
  if (version !== ENVELOPE_VERSION) throw new DecodeError('envelope', `unknown version ${version}`);
  const flags = bytes[1]!;
  if ((flags & ~KNOWN_FLAGS) !== 0) throw new DecodeError('envelope', `unknown flags 0x${flags.toString(16)}`);
  const nodeLen = bytes[2]!;
  if (nodeLen < 1 || nodeLen > 64 || bytes.byteLength < FIXED_BYTES + nodeLen) {
    throw new DecodeError('envelope', `bad node id length ${nodeLen}`);
  }
  let node: string;
  try {
    node = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(3, 3 + nodeLen));
  } catch {
    throw new DecodeError('envelope', 'node id is not UTF-8');
  }
  if (!NODE_ID_PATTERN.test(node)) throw new DecodeError('envelope', `invalid node id ${JSON.stringify(node)}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 3 + nodeLen;
  const seq = view.getBigUint64(o);
  o += 8;
  const ts = view.getBigUint64(o);
  o += 8;
  if (seq > BigInt(Number.MAX_SAFE_INTEGER) || ts > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new DecodeError('envelope', 'seq or ts out of range');
  }
  const raw = bytes.subarray(o);
  let body: Uint8Array;
  const compressed = (flags & FLAG_DEFLATE) !== 0;
  if (compressed) {
    try {
      body = inflateRawSync(raw, { maxOutputLength: maxBodyBytes });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new PayloadTooLargeError('inflated gossip body', maxBodyBytes + 1, maxBodyBytes);
      }
      throw new DecodeError('envelope', 'body does not inflate');
    }
  } else {
    if (raw.byteLength > maxBodyBytes) throw new PayloadTooLargeError('gossip body', raw.byteLength, maxBodyBytes);
    body = raw;
  }
  return { v: 1, node, seq: Number(seq), ts: Number(ts), body, compressed, wireBytes: bytes.byteLength };
}
