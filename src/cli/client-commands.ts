/**
 * The client commands: status, vm, conflicts, checkpoint. They talk to one agent's admin API.
 * `--json` prints the API's JSON; otherwise a short human-readable form.
 */
import { readFileSync } from 'node:fs';
import { parse, str, UsageError, type Io } from './args.js';
import { ApiClient } from './client.js';
import type { ConflictView, StatusView, VmView } from '../api/views.js';



const print = (io: Io, json: boolean, data: unknown, human: () => string): void => io.out(json ? JSON.stringify(data, null, 2) : human());
const clockText = (c: Record<string, number>): string => Object.entries(c).map(([k, v]) => `${k}:${v}`).join(',');

export async function statusCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, {});
  const client = ApiClient.from(values, io.env);
  const { data } = await client.request<StatusView>('GET', '/v1/status');
  print(io, values.json === true, data, () => {
    const s = data;
    return [
      `node ${s.nodeId} (${s.peerId})`,
      `health ${s.health.score}/100 ${s.health.overall}${s.readOnly ? ` — READ-ONLY: ${s.readOnly}` : ''}`,
      `quorum ${s.quorum.ok ? "ok" : "LOST"}: ${s.quorum.have} voters reachable, ${s.quorum.need} needed; policy ${s.policy}`,
      `peers ${s.peers.map((p) => `${p.nodeId}=${p.state}`).join(' ') || '(none)'}`,
      `vms ${s.metrics.vms}; conflicts ${s.metrics.conflictsDetected} (pending ${s.metrics.pendingConflicts}); success ${((s.metrics.successRate ?? 1) * 100).toFixed(1)}%; split-brains ${s.metrics.splitBrains}`,
    ].join('\n');
  });
  return 0;
}

export async function vmCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, { file: { type: 'string' }, set: { type: 'string', multiple: true } });
  const client = ApiClient.from(values, io.env);
  const json = values.json === true;
  const id = positionals[0];
  const needId = (): string => {
    if (!id) throw new UsageError(`dwcp vm ${sub ?? ''}: missing VM id`);
    return id;
  };
  switch (sub) {
    case 'list': {
      const { data } = await client.request<VmView[]>('GET', '/v1/vms');
      print(io, json, data, () =>
        data.length === 0
          ? '(no VMs)'
          : data
              .map((v) => {
                const s = (v.state ?? {}) as { power_state?: string; host?: string; cpu_allocation?: number; memory_mb?: number };
                return `${v.id.padEnd(16)} ${v.deleted ? 'deleted' : String(s.power_state ?? '?').padEnd(8)} ${String(s.host ?? '-').padEnd(10)} ${String(s.cpu_allocation ?? '-')} vCPU ${String(s.memory_mb ?? '-')} MiB${v.siblings.length ? `  +${v.siblings.length} sibling(s)` : ''}${v.conflictId ? `  conflict ${v.conflictId.slice(0, 12)}` : ''}`;
              })
              .join('\n'),
      );
      return 0;
    }
    case 'get': {
      const { data } = await client.request<VmView>('GET', `/v1/vms/${encodeURIComponent(needId())}`);
      print(io, json, data, () =>
        [
          `${data.id} version ${data.version.id} from ${data.version.origin} clock ${clockText(data.version.clock)}${data.deleted ? ' (deleted)' : ''}`,
          JSON.stringify(data.state, null, 2),
          ...data.siblings.map((s) => `sibling ${s.version.id} from ${s.version.origin}: ${JSON.stringify(s.state)}`),
          ...(data.conflictId ? [`open conflict ${data.conflictId}: dwcp conflicts show ${data.conflictId}`] : []),
        ].join('\n'),
      );
      return 0;
    }
    case 'put': {
      const vid = needId();
      const file = str(values.file);
      const sets = (values.set as string[] | undefined) ?? [];
      if (!file && sets.length === 0) throw new UsageError('dwcp vm put ID needs --file F or --set key=value ...');
      let state: Record<string, unknown>;
      let context: string | undefined;
      if (file) {
        let text: string;
        try {
          text = readFileSync(file, 'utf8');
        } catch (err) {
          throw new UsageError(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
        }
        try {
          state = JSON.parse(text) as Record<string, unknown>;
        } catch (err) {
          throw new UsageError(`${file}: not valid JSON (${err instanceof Error ? err.message : String(err)})`);
        }
      } else {
        // Read-modify-write with the context we read, so a concurrent change is not silently overwritten.
        try {
          const cur = await client.request<VmView>('GET', `/v1/vms/${encodeURIComponent(vid)}`);
          state = { ...(cur.data.state ?? { id: vid }) };
          context = cur.headers.get('x-dwcp-context') ?? undefined;
        } catch (err) {
          if (!(err instanceof Error && / 404 /.test(err.message))) throw err;
          state = { id: vid };
        }
      }
      for (const s of sets) {
        const eq = s.indexOf('=');
        if (eq <= 0) throw new UsageError(`--set ${s}: expected key=value`);
        setPath(state, s.slice(0, eq), parseValue(s.slice(eq + 1)));
      }
      const { data } = await client.request<{ id: string; version: { id: string; clock: Record<string, number> } }>('PUT', `/v1/vms/${encodeURIComponent(vid)}`, state, context ? { 'X-DWCP-Context': context } : {});
      print(io, json, data, () => `${data.id}: version ${data.version.id} clock ${clockText(data.version.clock)}`);
      return 0;
    }
    case 'delete': {
      const { data } = await client.request<{ version: { id: string } }>('DELETE', `/v1/vms/${encodeURIComponent(needId())}`);
      print(io, json, data, () => `${id}: deleted (tombstone ${data.version.id})`);
      return 0;
    }
    default:
      throw new UsageError('usage: dwcp vm put ID (--file F | --set key=value ...) | get ID | list | delete ID');
  }
}

export async function conflictsCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, { status: { type: 'string' }, pick: { type: 'string' }, file: { type: 'string' } });
  const client = ApiClient.from(values, io.env);
  const json = values.json === true;
  switch (sub) {
    case 'list': {
      const status = str(values.status) ?? 'all';
      const { data } = await client.request<ConflictView[]>('GET', `/v1/conflicts?status=${encodeURIComponent(status)}`);
      print(io, json, data, () =>
        data.length === 0
          ? `(no ${status === 'all' ? '' : status + ' '}conflicts)`
          : data.map((c) => `${c.id.slice(0, 12)}  ${c.status.padEnd(8)} ${c.resourceId.padEnd(18)} ${c.type.padEnd(20)} ${c.severity.padEnd(8)} ${c.strategy}`).join('\n'),
      );
      return 0;
    }
    case 'show': {
      const id = positionals[0];
      if (!id) throw new UsageError('usage: dwcp conflicts show ID');
      const { data } = await client.request<ConflictView>('GET', `/v1/conflicts/${encodeURIComponent(await fullConflictId(client, id))}`);
      print(io, json, data, () => `${data.explanation ?? ''}\nstatus: ${data.status}${data.resolvedAt ? ` (resolved ${data.resolvedAt})` : ''}`);
      return 0;
    }
    case 'resolve': {
      const id = positionals[0];
      const pick = str(values.pick);
      const file = str(values.file);
      if (!id || (pick === undefined) === (file === undefined)) throw new UsageError('usage: dwcp conflicts resolve ID (--pick VERSION_ID | --file F)');
      let body: unknown;
      if (pick !== undefined) body = { pick };
      else {
        try {
          body = { value: JSON.parse(readFileSync(file!, 'utf8')) as unknown };
        } catch (err) {
          throw new UsageError(`${file}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      const { data } = await client.request<{ conflictId: string; version: { id: string } }>('POST', `/v1/conflicts/${encodeURIComponent(await fullConflictId(client, id))}/resolve`, body);
      print(io, json, data, () => `conflict ${data.conflictId} resolved: new version ${data.version.id}`);
      return 0;
    }
    default:
      throw new UsageError('usage: dwcp conflicts list [--status pending|resolved|all] | show ID | resolve ID (--pick VERSION_ID | --file F)');
  }
}

/** Accept a unique prefix of a conflict id, as printed by `conflicts list`. */
async function fullConflictId(client: ApiClient, id: string): Promise<string> {
  if (/^[0-9a-f]{32}$/.test(id)) return id;
  if (!/^[0-9a-f]{4,}$/.test(id)) throw new UsageError(`conflict id ${JSON.stringify(id)}: expected hex (a prefix of at least 4 characters is enough)`);
  const { data } = await client.request<ConflictView[]>('GET', '/v1/conflicts?status=all');
  const matches = data.filter((c) => c.id.startsWith(id));
  if (matches.length === 1) return matches[0]!.id;
  if (matches.length === 0) return id;
  throw new UsageError(`conflict id prefix ${id} is ambiguous (${matches.length} conflicts)`);
}

export async function checkpointCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, {});
  const client = ApiClient.from(values, io.env);
  const json = values.json === true;
  const rid = (id: string): string => (id.includes('/') ? id : `vm/${id}`);
  switch (sub) {
    case 'create': {
      if (!positionals[0]) throw new UsageError('usage: dwcp checkpoint create VM_ID');
      const { data } = await client.request<{ id: string; resourceId: string }>('POST', '/v1/checkpoints', { resourceId: rid(positionals[0]) });
      print(io, json, data, () => `checkpoint ${data.id} of ${data.resourceId}`);
      return 0;
    }
    case 'list': {
      const q = positionals[0] ? `?resourceId=${encodeURIComponent(rid(positionals[0]))}` : '';
      const { data } = await client.request<Array<{ id: string; resourceId: string; at: number; reason: string }>>('GET', `/v1/checkpoints${q}`);
      print(io, json, data, () => (data.length === 0 ? '(no checkpoints)' : data.map((c) => `${c.id}  ${c.resourceId.padEnd(18)} ${new Date(c.at).toISOString()}  ${c.reason}`).join('\n')));
      return 0;
    }
    case 'restore': {
      if (!positionals[0]) throw new UsageError('usage: dwcp checkpoint restore CHECKPOINT_ID');
      const { data } = await client.request<{ resourceId: string; version: { id: string } }>('POST', `/v1/checkpoints/${encodeURIComponent(positionals[0])}/restore`, {});
      print(io, json, data, () => `restored ${data.resourceId}: new version ${data.version.id}`);
      return 0;
    }
    default:
      throw new UsageError('usage: dwcp checkpoint create VM_ID | list [VM_ID] | restore CHECKPOINT_ID');
  }
}

function parseValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur: Record<string, unknown> = target;
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts.at(-1)!] = value;
}

export const CLIENT_HELP = `client options: --api URL (default http://127.0.0.1:9090, or DWCP_API), --token T (or DWCP_TOKEN), --json`;
