import { RuntimeFailure, UsageError } from './args.js';

/** A tiny client for the agent's admin API (`--api`, `DWCP_API`; `--token`, `DWCP_TOKEN`). */
export class ApiClient {
  constructor(
    readonly base: string,
    private readonly token: string | undefined,
  ) {}

  static from(values: Record<string, unknown>, env: NodeJS.ProcessEnv): ApiClient {
    const api = (typeof values.api === 'string' ? values.api : undefined) ?? env.DWCP_API ?? 'http://127.0.0.1:9090';
    const token = (typeof values.token === 'string' ? values.token : undefined) ?? env.DWCP_TOKEN;
    if (!/^https?:\/\/[^/]+/.test(api)) throw new UsageError(`--api must be a URL such as http://127.0.0.1:9090, got ${api}`);
    return new ApiClient(api.replace(/\/+$/, ''), token);
  }

  async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ data: T; headers: Headers }> {
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers: {
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
          ...(this.token ? { Authorization: `Bearer ${this.token}` } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      throw new RuntimeFailure(`cannot reach the agent at ${this.base} (${err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err)}); is it running? (--api / DWCP_API)`);
    }
    const text = await res.text();
    let data: unknown;
    try {
      data = text ? JSON.parse(text) : {};
    } catch {
      data = text;
    }
    if (!res.ok) {
      const e = (data as { error?: { code?: string; message?: string } }).error;
      const msg = `${method} ${path}: ${res.status} ${e?.code ?? ''} ${e?.message ?? text}`.trim();
      // 400 is bad input from the user: exit 2; the rest are run-time failures: exit 1.
      if (res.status === 400 || res.status === 413 || res.status === 415) throw new UsageError(msg);
      throw new RuntimeFailure(msg);
    }
    return { data: data as T, headers: res.headers };
  }
}
