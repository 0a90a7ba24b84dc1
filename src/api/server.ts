/**
 * The admin HTTP API (INTERFACE.md, "Admin HTTP API"): JSON in and out, errors as
 * `{error: {code, message}}` with 400/401/404/409/503, bodies size-limited and validated, a bearer
 * token required whenever one is configured (and always on a non-loopback listener).
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { VectorClock } from '../core/clock/vector-clock.js';
import type { Version } from '../core/conflict/version.js';
import { DwcpError } from '../core/errors.js';
import { formatDecision } from '../core/policy/decision-record.js';
import type { ConflictRecord, ReadResult } from '../replica/replica.js';
import { errorResponse, HttpError } from './http-errors.js';
import type { ApiBackend } from './backend.js';
import type { ConflictView, VersionView, VmView } from './views.js';

export const MAX_BODY_BYTES = 1024 * 1024;
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const CONFLICT_ID = /^[0-9a-f]{8,64}$/;
const CHECKPOINT_ID = /^cp-[0-9a-f]{8,64}$/;

export interface ApiServerInit {
  readonly listen: string;
  /** When set, every request except /healthz must carry `Authorization: Bearer <token>`. */
  readonly token?: string | undefined;
  readonly onError?: (err: unknown, req: { method: string; url: string }) => void;
}

type Handler = (req: IncomingMessage, params: string[], query: URLSearchParams) => Promise<Reply> | Reply;
interface Reply {
  status?: number;
  json?: unknown;
  text?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

export class ApiServer {
  private server: Server | undefined;
  private readonly routes: Array<{ method: string; pattern: RegExp; handler: Handler }> = [];
  /** The bound address (after start). */
  address: { host: string; port: number } | undefined;

  constructor(
    private readonly init: ApiServerInit,
    private readonly b: ApiBackend,
  ) {
    this.defineRoutes();
  }

  async start(): Promise<void> {
    if (this.server) return;
    const { host, port } = splitHostPort(this.init.listen);
    const server = createServer((req, res) => void this.handle(req, res));
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    this.address = typeof addr === 'object' && addr ? { host: addr.address, port: addr.port } : { host, port };
    this.server = server;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  /** Add an endpoint (e.g. the test-only fault injection endpoint). */
  addJsonRoute(method: string, path: string, handler: (body: unknown) => unknown): void {
    this.route(method, path, async (req) => ({ json: await handler(method === 'GET' ? undefined : await readJson(req)) }));
  }

  private route(method: string, path: string, handler: Handler): void {
    const pattern = new RegExp('^' + path.replace(/\{[a-z]+\}/g, '([^/]+)') + '$');
    this.routes.push({ method, pattern, handler });
  }

  private defineRoutes(): void {
    const b = this.b;
    this.route('GET', '/healthz', () => ({ json: { ok: true } }));
    this.route('GET', '/readyz', () => {
      const r = b.readiness();
      return { status: r.ready ? 200 : 503, json: r };
    });
    this.route('GET', '/metrics', async () => ({ text: await b.metrics.registry.metrics(), contentType: b.metrics.registry.contentType }));
    this.route('GET', '/', () => ({ text: b.dashboardPage(), contentType: 'text/html; charset=utf-8' }));
    this.route('GET', '/v1/status', () => ({ json: b.status() }));
    this.route('GET', '/v1/dashboard', () => ({ json: b.dashboard() }));

    this.route('GET', '/v1/vms', () => ({
      json: b.replica
        .list('vm/')
        .map((rid) => b.replica.get(rid))
        .filter((r): r is ReadResult => r !== undefined)
        .map(vmView),
    }));
    this.route('GET', '/v1/vms/{id}', (_req, [id]) => {
      const r = b.replica.get(`vm/${vmId(id)}`);
      if (!r) throw new HttpError(404, 'ERR_NOT_FOUND', `VM ${JSON.stringify(id)} not found`);
      return { json: vmView(r), headers: { 'X-DWCP-Context': b.replica.contextOf(r.resourceId).toString() } };
    });
    this.route('PUT', '/v1/vms/{id}', async (req, [id]) => {
      const vid = vmId(id);
      const body = await readJson(req);
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'ERR_BAD_REQUEST', 'the body must be a VM state object');
      const state = { ...(body as Record<string, unknown>) };
      if (state.id === undefined) state.id = vid;
      if (state.id !== vid) throw new HttpError(400, 'ERR_BAD_REQUEST', `body.id ${JSON.stringify(state.id)} does not match the path id ${JSON.stringify(vid)}`);
      const context = parseContext(req.headers['x-dwcp-context']);
      const v = await b.replica.putVm(state, context ? { context } : {});
      return { status: 200, json: { id: vid, version: versionView(v) } };
    });
    this.route('DELETE', '/v1/vms/{id}', async (req, [id]) => {
      const context = parseContext(req.headers['x-dwcp-context']);
      const v = await b.replica.delete(`vm/${vmId(id)}`, context ? { context } : {});
      return { json: { id, deleted: true, version: versionView(v) } };
    });

    this.route('GET', '/v1/conflicts', (_req, _p, q) => {
      const status = q.get('status') ?? 'all';
      if (!['pending', 'resolved', 'failed', 'all'].includes(status)) {
        throw new HttpError(400, 'ERR_BAD_REQUEST', `status must be one of pending, resolved, failed, all; got ${JSON.stringify(status)}`);
      }
      return { json: b.replica.conflictList(status as 'all').map((c) => conflictView(c, false)) };
    });
    this.route('GET', '/v1/conflicts/{id}', (_req, [id]) => {
      const c = b.replica.conflict(conflictId(id));
      if (!c) throw new HttpError(404, 'ERR_NOT_FOUND', `conflict ${JSON.stringify(id)} not found`);
      return { json: conflictView(c, true) };
    });
    this.route('POST', '/v1/conflicts/{id}/resolve', async (req, [id]) => {
      const body = await readJson(req);
      const o = (typeof body === 'object' && body !== null && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
      const hasPick = typeof o.pick === 'string';
      const hasValue = o.value !== undefined;
      if (hasPick === hasValue || Object.keys(o).some((k) => k !== 'pick' && k !== 'value')) {
        throw new HttpError(400, 'ERR_BAD_REQUEST', 'the body must be {"pick": VERSION_ID} or {"value": {...}}');
      }
      const cid = conflictId(id);
      const v = await b.recovery.risky(b.replica.conflict(cid)?.resourceId ?? '', `before resolving conflict ${cid}`, () =>
        b.replica.resolveManually(cid, hasPick ? { pick: o.pick as string } : { value: o.value }),
      );
      return { json: { conflictId: cid, status: 'resolved', version: versionView(v) } };
    });

    this.route('POST', '/v1/checkpoints', async (req) => {
      const body = await readJson(req);
      const rid = (body as { resourceId?: unknown } | null)?.resourceId;
      if (typeof rid !== 'string') throw new HttpError(400, 'ERR_BAD_REQUEST', 'the body must be {"resourceId": "vm/<id>"}');
      const cp = await b.recovery.createCheckpoint(resourceId(rid), 'api');
      return { status: 201, json: cp };
    });
    this.route('GET', '/v1/checkpoints', async (_req, _p, q) => {
      const rid = q.get('resourceId');
      return { json: await b.recovery.list(rid === null ? undefined : resourceId(rid)) };
    });
    this.route('POST', '/v1/checkpoints/{id}/restore', async (_req, [id]) => {
      if (!CHECKPOINT_ID.test(id ?? '')) throw new HttpError(400, 'ERR_BAD_REQUEST', `malformed checkpoint id ${JSON.stringify(id)}`);
      const v = await b.recovery.restore(id!);
      return { json: { checkpointId: id, resourceId: v.resourceId, version: versionView(v) } };
    });

    this.route('GET', '/v1/crdts/{name}', (_req, [name]) => ({ json: b.crdts.read(crdtName(name)) }));
    this.route('POST', '/v1/crdts/{name}', async (req, [name]) => {
      const body = await readJson(req);
      return { json: await b.crdts.apply(crdtName(name), body) };
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const rawUrl = req.url ?? '/';
    try {
      const url = new URL(rawUrl, 'http://localhost');
      if (this.init.token !== undefined && url.pathname !== '/healthz') this.authorize(req);
      let params: string[] | undefined;
      let allowed: string[] = [];
      let handler: Handler | undefined;
      for (const r of this.routes) {
        const m = r.pattern.exec(url.pathname);
        if (!m) continue;
        allowed.push(r.method);
        if (r.method === method) {
          handler = r.handler;
          params = m.slice(1).map((p) => {
            try {
              return decodeURIComponent(p);
            } catch {
              throw new HttpError(400, 'ERR_BAD_REQUEST', `malformed percent-encoding in ${JSON.stringify(p)}`);
            }
          });
          break;
        }
      }
      if (!handler) {
        allowed = [...new Set(allowed)];
        if (allowed.length > 0) throw new HttpError(405, 'ERR_METHOD', `${method} is not allowed on ${url.pathname} (allowed: ${allowed.join(', ')})`);
        throw new HttpError(404, 'ERR_NOT_FOUND', `no such endpoint: ${method} ${url.pathname}`);
      }
      const reply = await handler(req, params ?? [], url.searchParams);
      send(res, reply.status ?? 200, reply);
    } catch (err) {
      const { status, body } = errorResponse(err);
      if (status >= 500) this.init.onError?.(err, { method, url: rawUrl });
      send(res, status, { json: body });
    }
  }

  private authorize(req: IncomingMessage): void {
    const header = req.headers.authorization ?? '';
    const m = /^Bearer (.+)$/.exec(header);
    const expected = Buffer.from(this.init.token ?? '');
    const got = Buffer.from(m?.[1] ?? '');
    if (!m || got.length !== expected.length || !timingSafeEqual(got, expected)) {
      throw new HttpError(401, 'ERR_UNAUTHORIZED', m ? 'wrong bearer token' : 'missing bearer token (Authorization: Bearer <token>)');
    }
  }
}

function send(res: ServerResponse, status: number, reply: Reply): void {
  const headers: Record<string, string> = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', ...reply.headers };
  if (reply.text !== undefined) {
    res.writeHead(status, { ...headers, 'Content-Type': reply.contentType ?? 'text/plain; charset=utf-8' });
    res.end(reply.text);
  } else {
    res.writeHead(status, { ...headers, 'Content-Type': 'application/json' });
    res.end(JSON.stringify(reply.json ?? {}) + '\n');
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (type && !/^application\/json\b/i.test(type)) throw new HttpError(415, 'ERR_BAD_REQUEST', `Content-Type must be application/json, got ${type}`);
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) throw new HttpError(413, 'ERR_TOO_LARGE', `request body of ${declared} bytes exceeds ${MAX_BODY_BYTES}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'ERR_TOO_LARGE', `request body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new HttpError(400, 'ERR_BAD_REQUEST', 'the request body is empty (expected JSON)');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new HttpError(400, 'ERR_BAD_REQUEST', `malformed JSON body: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function parseContext(header: string | string[] | undefined): VectorClock | undefined {
  if (header === undefined) return undefined;
  const text = Array.isArray(header) ? header.join(',') : header;
  try {
    if (text.trim().startsWith('{')) return VectorClock.from(JSON.parse(text) as Record<string, number>);
    return VectorClock.parse(text.trim());
  } catch (err) {
    throw new HttpError(400, 'ERR_BAD_REQUEST', `X-DWCP-Context: ${err instanceof DwcpError ? err.message : 'expected a vector clock such as hv-01:3,hv-02:1 or {"hv-01":3}'}`);
  }
}

function vmId(id: string | undefined): string {
  if (!id || !ID.test(id)) throw new HttpError(400, 'ERR_BAD_REQUEST', `invalid VM id ${JSON.stringify(id)}: expected 1-128 characters of [A-Za-z0-9._-]`);
  return id;
}

function conflictId(id: string | undefined): string {
  if (!id || !CONFLICT_ID.test(id)) throw new HttpError(400, 'ERR_BAD_REQUEST', `invalid conflict id ${JSON.stringify(id)}: expected hex`);
  return id;
}

function crdtName(name: string | undefined): string {
  if (!name || !ID.test(name)) throw new HttpError(400, 'ERR_BAD_REQUEST', `invalid CRDT name ${JSON.stringify(name)}: expected 1-128 characters of [A-Za-z0-9._-]`);
  return name;
}

function resourceId(rid: string): string {
  if (!/^(vm|host|crdt)\/[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(rid)) {
    throw new HttpError(400, 'ERR_BAD_REQUEST', `invalid resource id ${JSON.stringify(rid)}: expected vm/<id>, host/<id> or crdt/<name>`);
  }
  return rid;
}

export function versionView(v: Version): VersionView {
  return { id: v.id, clock: v.clock.toJSON(), hlc: v.hlc, origin: v.origin, ...(v.deleted ? { deleted: true } : {}) };
}

export function vmView(r: ReadResult): VmView {
  const main = r.versions[r.versions.length - 1]!;
  return {
    id: r.resourceId.slice('vm/'.length),
    state: main.deleted ? null : (main.data as Record<string, unknown>),
    deleted: main.deleted,
    version: versionView(main),
    siblings: r.versions.slice(0, -1).map((s) => ({ state: s.deleted ? null : (s.data as Record<string, unknown>), version: versionView(s) })),
    conflictId: r.conflict?.status === 'pending' ? r.conflict.id : null,
  };
}

export function conflictView(c: ConflictRecord, full: boolean): ConflictView {
  const base = {
    id: c.id,
    resourceId: c.resourceId,
    type: c.type,
    severity: c.severity,
    complexity: c.complexity,
    strategy: c.strategy,
    status: c.status,
    detectedAt: new Date(c.detectedAt).toISOString(),
    resolvedAt: c.resolvedAt === undefined ? null : new Date(c.resolvedAt).toISOString(),
  };
  return full ? { ...base, decision: c.decision, explanation: formatDecision(c.decision), candidates: c.candidates } : { ...base, decision: c.decision };
}

export function splitHostPort(listen: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(listen);
  if (!m) throw new HttpError(400, 'ERR_CONFIG', `api.listen must be host:port, got ${listen}`);
  return { host: m[1]!, port: Number(m[2]) };
}
