import { NODE_ID_PATTERN } from '../../core/clock/node-ids.js';
import { DecodeError, PayloadTooLargeError } from './errors.js';

/**
 * Frames of the request/response protocol. A stream carries a sequence of frames, each
 *
 * ```
 * u32 length (of what follows) | u8 type | u32 request id | payload
 * ```
 *
 * Requests are multiplexed on one long-lived stream per peer by their id; responses may come back in
 * any order.
 */
export const FrameType = {
  Hello: 1,
  Request: 2,
  Response: 3,
  Error: 4,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export interface Frame {
  readonly type: FrameType;
  readonly id: number;
  readonly payload: Uint8Array;
}

const LENGTH_BYTES = 4;
const HEADER_BYTES = 5;

export function encodeFrame(type: FrameType, id: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(LENGTH_BYTES + HEADER_BYTES + payload.byteLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, HEADER_BYTES + payload.byteLength);
  out[4] = type;
  view.setUint32(5, id >>> 0);
  out.set(payload, LENGTH_BYTES + HEADER_BYTES);
  return out;
}

/**
 * Reassembles frames from stream chunks. Chunks are kept as a list and joined only when a whole
 * frame is there, so a large frame arriving in many chunks is copied once.
 */
export class FrameDecoder {
  private chunks: Uint8Array[] = [];
  private buffered = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /** Adds a chunk and returns the frames it completes. Throws on a malformed or oversized frame. */
  push(chunk: Uint8Array): Frame[] {
    if (chunk.byteLength > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.byteLength;
    }
    const frames: Frame[] = [];
    for (;;) {
      if (this.buffered < LENGTH_BYTES) break;
      const head = this.peek(LENGTH_BYTES);
      const len = new DataView(head.buffer, head.byteOffset, LENGTH_BYTES).getUint32(0);
      if (len < HEADER_BYTES) throw new DecodeError('rpc frame', `length ${len} is shorter than the header`);
      if (len - HEADER_BYTES > this.maxFrameBytes) throw new PayloadTooLargeError('rpc frame', len - HEADER_BYTES, this.maxFrameBytes);
      if (this.buffered < LENGTH_BYTES + len) break;
      const bytes = this.take(LENGTH_BYTES + len);
      const type = bytes[4]!;
      if (type < FrameType.Hello || type > FrameType.Error) throw new DecodeError('rpc frame', `unknown frame type ${type}`);
      const id = new DataView(bytes.buffer, bytes.byteOffset + 5, 4).getUint32(0);
      frames.push({ type: type as FrameType, id, payload: bytes.subarray(LENGTH_BYTES + HEADER_BYTES) });
    }
    return frames;
  }

  private peek(n: number): Uint8Array {
    return this.join(n).subarray(0, n);
  }

  private take(n: number): Uint8Array {
    const first = this.join(n);
    const out = first.subarray(0, n);
    const rest = first.subarray(n);
    this.chunks.shift();
    if (rest.byteLength > 0) this.chunks.unshift(rest);
    this.buffered -= n;
    return out;
  }

  /** Merges leading chunks until the first holds at least `atLeast` bytes (all of them by default). */
  private join(atLeast = this.buffered): Uint8Array {
    const first = this.chunks[0]!;
    if (first.byteLength >= atLeast) return first;
    const parts: Uint8Array[] = [];
    let size = 0;
    while (size < atLeast && this.chunks.length > 0) {
      const c = this.chunks.shift()!;
      parts.push(c);
      size += c.byteLength;
    }
    const merged = new Uint8Array(size);
    let o = 0;
    for (const p of parts) {
      merged.set(p, o);
      o += p.byteLength;
    }
    this.chunks.unshift(merged);
    return merged;
  }
}

/**
 * The hello each side sends first on an rpc stream: the cluster name and the sender's node id,
 * signed by the sender's peer key over a domain-separated string that also names both peer ids (so a
 * hello is only good on a connection between these two peers).
 *
 * ```
 * u8 version (1) | u8 cluster length | cluster | u8 node id length | node id | u8 signature length | signature
 * ```
 */
export interface Hello {
  readonly cluster: string;
  readonly nodeId: string;
  readonly signature: Uint8Array;
}

export function helloSigningBytes(cluster: string, nodeId: string, senderPeerId: string, receiverPeerId: string): Uint8Array {
  return new TextEncoder().encode(`dwcp-hello/1\0${cluster}\0${nodeId}\0${senderPeerId}\0${receiverPeerId}`);
}

export function encodeHello(hello: Hello): Uint8Array {
  const enc = new TextEncoder();
  const cluster = enc.encode(hello.cluster);
  const node = enc.encode(hello.nodeId);
  if (cluster.byteLength > 255 || node.byteLength > 255 || hello.signature.byteLength > 255) {
    throw new DecodeError('hello', 'a field is longer than 255 bytes');
  }
  const out = new Uint8Array(4 + cluster.byteLength + node.byteLength + hello.signature.byteLength);
  let o = 0;
  out[o++] = 1;
  out[o++] = cluster.byteLength;
  out.set(cluster, o);
  o += cluster.byteLength;
  out[o++] = node.byteLength;
  out.set(node, o);
  o += node.byteLength;
  out[o++] = hello.signature.byteLength;
  out.set(hello.signature, o);
  return out;
}

export function decodeHello(bytes: Uint8Array): Hello {
  const dec = new TextDecoder('utf-8', { fatal: true });
  let o = 0;
  const need = (n: number): void => {
    if (o + n > bytes.byteLength) throw new DecodeError('hello', 'truncated');
  };
  need(1);
  if (bytes[o++] !== 1) throw new DecodeError('hello', `unknown version ${bytes[0]}`);
  const field = (): Uint8Array => {
    need(1);
    const len = bytes[o++]!;
    need(len);
    const f = bytes.subarray(o, o + len);
    o += len;
    return f;
  };
  let cluster: string;
  let nodeId: string;
  try {
    cluster = dec.decode(field());
    nodeId = dec.decode(field());
  } catch (err) {
    if (err instanceof DecodeError) throw err;
    throw new DecodeError('hello', 'not UTF-8');
  }
  const signature = field().slice();
  if (o !== bytes.byteLength) throw new DecodeError('hello', 'trailing bytes');
  if (!NODE_ID_PATTERN.test(nodeId)) throw new DecodeError('hello', `invalid node id ${JSON.stringify(nodeId)}`);
  return { cluster, nodeId, signature };
}

/** The payload of an Error frame. */
export function encodeRemoteError(code: string, message: string): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ code, message: message.slice(0, 1000) }));
}

export function decodeRemoteError(bytes: Uint8Array): { code: string; message: string } {
  try {
    const v = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    if (v && typeof v === 'object') {
      const { code, message } = v as { code?: unknown; message?: unknown };
      return { code: typeof code === 'string' ? code : 'ERR_UNKNOWN', message: typeof message === 'string' ? message : '' };
    }
  } catch {
    // fall through
  }
  return { code: 'ERR_UNKNOWN', message: 'undecodable error frame' };
}
