import { describeValue } from '../core/codec/describe.js';
import { DwcpError } from '../core/errors.js';
import { BadMessageError } from './errors.js';
import type { Transport } from './ports.js';

/** Largest request or response body accepted (bytes). */
export const MAX_RPC_BYTES = 8 * 1024 * 1024;

export type RpcHandler = (from: string, body: Record<string, unknown>) => unknown;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export class RpcError extends DwcpError {
  constructor(message: string, meta: Record<string, unknown> = {}) {
    super('ERR_RPC', message, meta);
  }
}

/**
 * Request/response between replicas over the Transport port: JSON bodies `{t: type, ...}`, one
 * handler per type (anti-entropy, heartbeats, consensus). A handler's failure is returned to the
 * caller as `{error: {code, message}}` and raised there as {@link RpcError}; it never crashes the node.
 */
export class RpcRouter {
  private readonly handlers = new Map<string, RpcHandler>();

  constructor(private readonly transport: Transport) {
    transport.onRequest((from, payload) => this.dispatch(from, payload));
  }

  handle(type: string, handler: RpcHandler): void {
    this.handlers.set(type, handler);
  }

  async call<T>(peer: string, type: string, body: Record<string, unknown>, signal?: AbortSignal): Promise<T> {
    const payload = encoder.encode(JSON.stringify({ ...body, t: type }));
    const raw = await this.transport.request(peer, payload, signal ? { signal } : {});
    const res = parse(raw);
    if (res.error !== undefined) {
      const e = res.error as { code?: unknown; message?: unknown };
      throw new RpcError(`${type} to ${peer} failed: ${String(e.message)}`, { peer, type, code: e.code });
    }
    return res as T;
  }

  private async dispatch(from: string, payload: Uint8Array): Promise<Uint8Array> {
    let body: Record<string, unknown>;
    try {
      body = parse(payload);
    } catch (err) {
      return reply({ error: { code: 'ERR_BAD_MESSAGE', message: err instanceof Error ? err.message : String(err) } });
    }
    const handler = typeof body.t === 'string' ? this.handlers.get(body.t) : undefined;
    if (!handler) return reply({ error: { code: 'ERR_UNKNOWN_RPC', message: `unknown request type ${describeValue(body.t)}` } });
    try {
      return reply((await handler(from, body)) ?? {});
    } catch (err) {
      if (err instanceof RangeError) return reply({ error: { code: 'ERR_BAD_MESSAGE', message: 'request too deeply nested' } });
      const code = err instanceof DwcpError ? err.code : 'ERR_INTERNAL';
      return reply({ error: { code, message: err instanceof Error ? err.message : String(err) } });
    }
  }
}

function reply(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

function parse(payload: Uint8Array): Record<string, unknown> {
  if (payload.length > MAX_RPC_BYTES) throw new BadMessageError(`request of ${payload.length} bytes exceeds ${MAX_RPC_BYTES}`);
  let v: unknown;
  try {
    v = JSON.parse(decoder.decode(payload));
  } catch {
    throw new BadMessageError('request body is not valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new BadMessageError('request body must be a JSON object');
  return v as Record<string, unknown>;
}
