/**
 * The agent's configuration (INTERFACE.md, "Configuration file"): YAML, every key validated at
 * start. An unknown key or a bad value is a ConfigError naming the file, the key path and what was
 * expected (the CLI exits 2). Flags and `DWCP_*` environment variables override the file.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { NODE_ID_PATTERN } from '../core/clock/node-ids.js';
import { describeValue } from '../core/codec/describe.js';
import { DwcpError } from '../core/errors.js';
import { formatDuration, parseDuration } from '../core/policy/duration.js';
import type { Libp2pTransportInit } from '../adapters/libp2p/index.js';

export interface AgentConfig {
  node: { id: string; priority: number; dataDir: string; capacity: { cpu: number; memory_mb: number }; labels: Record<string, string> };
  cluster: {
    name: string;
    expectedVotes: number | null;
    voters: string[] | null;
    overcommit: { cpu: number; memory: number };
    pskFile: string | null;
    /** Development only: run without a private-network key (logged loudly). */
    insecureNoPsk: boolean;
    listen: string[];
    bootstrap: string[];
    allowPeers: string[];
    /** Flood protection of inbound gossip and the auditing of refusals (durations in ms). */
    guard: GuardConfig;
  };
  api: { listen: string; tokenFile: string | null };
  policy: string;
  recovery: {
    enableAutoRecovery: boolean;
    checkpointInterval: number;
    maxRecoveryAttempts: number;
    quorumSize: number | null;
    partitionHealTimeout: number;
    splitBrainResolution: 'quorum' | 'manual' | 'priority';
    enableStateReconstruction: boolean;
    snapshotRetention: number;
  };
  /**
   * `supervise`: the agent starts and stops this host's VMs to match the agreed state (starting only
   * under a majority-granted ownership lease); off, the hypervisor is only used for fencing.
   */
  hypervisor: { driver: 'none' | 'exec'; commands: { fence: string; start: string; stop: string }; timeout: number; supervise: boolean };
  log: { level: LogLevel; format: 'auto' | 'json' | 'text'; modules: Record<string, LogLevel> };
  /** Tuning: anti-entropy period, heartbeats, leases (ms). */
  timing: { antiEntropyInterval: number; heartbeat: number; lease: number; leaseMargin: number };
}

/**
 * `cluster.guard`: per-peer token bucket, invalid-message strikes and bans, the newcomers' shared
 * budget (peer-id rotation), sustained overuse, and the refusal audit (src/adapters/libp2p).
 */
export interface GuardConfig {
  /** Gossip messages a second accepted from one peer (0: no rate limit), and its burst. */
  messagesPerSecond: number;
  burst: number;
  /** Invalid messages from one peer within `invalidWindow` that ban it (0: never ban). */
  invalidLimit: number;
  invalidWindow: number;
  /** How long a ban lasts. */
  banFor: number;
  /** A new peer id is a newcomer at least this long, and until it delivers a valid message of its own (0: off). */
  newcomerProbation: number;
  /** Messages a second from all newcomers together (0: no shared rate), and their burst. */
  newcomerMessagesPerSecond: number;
  newcomerBurst: number;
  /** Invalid messages from all newcomers together within `invalidWindow`, after which a newcomer is banned at its first. */
  newcomerInvalidLimit: number;
  /** A peer offering at least `overuseFactor` × `messagesPerSecond` for `overuseFor` is banned (0: never). */
  overuseFactor: number;
  overuseFor: number;
  /** Refusals are written to the audit log as one entry per (peer, reason) per `auditInterval`, for at most `auditMaxPeers` pairs. */
  auditInterval: number;
  auditMaxPeers: number;
}

/** The libp2p transport's flood-protection options for a `cluster.guard` section. */
export function guardOptions(g: GuardConfig): Partial<Libp2pTransportInit> {
  return {
    peerMessageRate: g.messagesPerSecond,
    peerMessageBurst: g.burst,
    banAfterInvalid: g.invalidLimit,
    banStrikeWindowMs: g.invalidWindow,
    banMs: g.banFor,
    newcomerMs: g.newcomerProbation,
    newcomerMessageRate: g.newcomerMessagesPerSecond,
    newcomerMessageBurst: g.newcomerBurst,
    newcomerInvalidLimit: g.newcomerInvalidLimit,
    overuseFactor: g.overuseFactor,
    overuseMs: g.overuseFor,
  };
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export class ConfigError extends DwcpError {
  constructor(file: string, path: string, expected: string, got?: unknown) {
    const shown = got === undefined ? '' : `, got ${describeValue(got)}`;
    super('ERR_CONFIG', `${file}: ${path}: expected ${expected}${shown}`, { file, path, expected });
  }
}

export const DEFAULT_CONFIG: AgentConfig = {
  node: { id: '', priority: 0, dataDir: '/var/lib/dwcp', capacity: { cpu: 0, memory_mb: 0 }, labels: {} },
  cluster: {
    name: 'dwcp',
    expectedVotes: null,
    voters: null,
    overcommit: { cpu: 4, memory: 1 },
    pskFile: null,
    insecureNoPsk: false,
    listen: ['/ip4/0.0.0.0/tcp/7700'],
    bootstrap: [],
    allowPeers: [],
    guard: {
      messagesPerSecond: 2_000,
      burst: 4_000,
      invalidLimit: 64,
      invalidWindow: 10_000,
      banFor: 10 * 60_000,
      newcomerProbation: 10_000,
      newcomerMessagesPerSecond: 2_000,
      newcomerBurst: 4_000,
      newcomerInvalidLimit: 64,
      overuseFactor: 4,
      overuseFor: 30_000,
      auditInterval: 10_000,
      auditMaxPeers: 256,
    },
  },
  api: { listen: '127.0.0.1:9090', tokenFile: null },
  policy: 'production',
  recovery: {
    enableAutoRecovery: true,
    checkpointInterval: 5 * 60_000,
    maxRecoveryAttempts: 5,
    quorumSize: null,
    partitionHealTimeout: 60_000,
    splitBrainResolution: 'quorum',
    enableStateReconstruction: true,
    snapshotRetention: 10,
  },
  hypervisor: { driver: 'none', commands: { fence: 'virsh destroy {vm}', start: 'virsh start {vm}', stop: 'virsh shutdown {vm}' }, timeout: 30_000, supervise: false },
  log: { level: 'info', format: 'auto', modules: {} },
  timing: { antiEntropyInterval: 5_000, heartbeat: 1_000, lease: 10_000, leaseMargin: 2_000 },
};

type Checker = (v: unknown, path: string) => unknown;

/** Parse and validate a config document's text (relative paths resolve against the file's directory). */
export function parseConfig(text: string, file = '<config>'): AgentConfig {
  return validateConfig(parseYaml(text, file), file);
}

function parseYaml(text: string, file: string): Record<string, unknown> {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = e.linePos?.[0];
    throw new ConfigError(file, pos ? `line ${pos.line}, column ${pos.col}` : '(yaml)', 'valid YAML', e.message.split('\n')[0]);
  }
  let js: unknown;
  try {
    js = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (err) {
    throw new ConfigError(file, '(yaml)', 'a YAML document without unresolved or excessive aliases', err instanceof Error ? err.message : String(err));
  }
  if (!isObject(js)) throw new ConfigError(file, '(top level)', 'a mapping', js);
  return js;
}

export function validateConfig(raw: unknown, file: string): AgentConfig {
  const str = (pattern?: RegExp, what = 'a string'): Checker => (v, p) => {
    if (typeof v !== 'string' || v.length === 0 || (pattern && !pattern.test(v))) throw new ConfigError(file, p, what, v);
    return v;
  };
  const nullable = (c: Checker): Checker => (v, p) => (v === null ? null : c(v, p));
  const int = (min: number, max = Number.MAX_SAFE_INTEGER): Checker => (v, p) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ConfigError(file, p, `an integer in [${min}, ${max}]`, v);
    return v;
  };
  const num = (min: number): Checker => (v, p) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= min) throw new ConfigError(file, p, `a number greater than ${min}`, v);
    return v;
  };
  const bool: Checker = (v, p) => {
    if (typeof v !== 'boolean') throw new ConfigError(file, p, 'true or false', v);
    return v;
  };
  const duration: Checker = (v, p) => {
    const ms = parseDuration(v);
    if (ms === undefined) throw new ConfigError(file, p, 'a duration such as 500ms, 30s, 5m or a number of ms', v);
    return ms;
  };
  const positiveDuration = (max: number): Checker => (v, p) => {
    const ms = parseDuration(v);
    if (ms === undefined || ms <= 0 || ms > max) throw new ConfigError(file, p, `a duration above 0 and at most ${formatDuration(max)}, such as 10s or 10m`, v);
    return ms;
  };
  const factor: Checker = (v, p) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || (v !== 0 && (v < 2 || v > 1000))) {
      throw new ConfigError(file, p, '0 (off) or a number in [2, 1000] (under 2 would ban a peer merely at its rate limit)', v);
    }
    return v;
  };
  const oneOf = <T extends string>(values: readonly T[]): Checker => (v, p) => {
    if (!values.includes(v as T)) throw new ConfigError(file, p, `one of ${values.join(', ')}`, v);
    return v;
  };
  const list = (c: Checker): Checker => (v, p) => {
    if (!Array.isArray(v)) throw new ConfigError(file, p, 'a list', v);
    return v.map((x, i) => c(x, `${p}[${i}]`));
  };
  const map = (c: Checker): Checker => (v, p) => {
    if (!isObject(v)) throw new ConfigError(file, p, 'a mapping', v);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, c(x, `${p}.${k}`)]));
  };
  const obj = (shape: Record<string, Checker>): Checker => (v, p) => {
    if (!isObject(v)) throw new ConfigError(file, p || '(top level)', 'a mapping', v);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const c = Object.hasOwn(shape, k) ? shape[k] : undefined;
      if (!c) throw new ConfigError(file, p ? `${p}.${k}` : k, `one of the keys ${Object.keys(shape).join(', ')} (unknown key)`);
      out[k] = c(x, p ? `${p}.${k}` : k);
    }
    return out;
  };
  const nodeId = str(NODE_ID_PATTERN, 'a node id (1-64 characters of [A-Za-z0-9._-])');
  const multiaddr = str(/^\/(ip4|ip6|dns|dns4|dns6)\/[^\s]+$/, 'a multiaddr such as /ip4/10.0.0.11/tcp/7700');
  const peerAddr = str(
    /^\/(ip4|ip6|dns|dns4|dns6)\/[^\s]+\/p2p\/[1-9A-HJ-NP-Za-km-z]{40,60}$/,
    'a peer multiaddr ending in /p2p/<peer id>, such as /ip4/10.0.0.11/tcp/7700/p2p/12D3KooW... (dwcp init prints the peer id)',
  );
  const hostPort = str(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'host:port such as 127.0.0.1:9090');

  const schema = obj({
    node: obj({ id: nodeId, priority: int(0, 1_000_000), dataDir: str(), capacity: obj({ cpu: int(0), memory_mb: int(0) }), labels: map(str()) }),
    cluster: obj({
      name: str(/^[A-Za-z0-9._-]{1,64}$/, 'a cluster name of [A-Za-z0-9._-]'),
      expectedVotes: nullable(int(1, 1000)),
      voters: nullable(list(nodeId)),
      overcommit: obj({ cpu: num(0), memory: num(0) }),
      pskFile: nullable(str()),
      insecureNoPsk: bool,
      listen: list(multiaddr),
      bootstrap: list(peerAddr),
      allowPeers: list(str(/^[1-9A-HJ-NP-Za-km-z]{40,60}$/, 'a libp2p peer id (base58)')),
      guard: obj({
        messagesPerSecond: int(0, 1_000_000),
        burst: int(1, 10_000_000),
        invalidLimit: int(0, 1_000_000),
        invalidWindow: positiveDuration(3_600_000),
        banFor: positiveDuration(7 * 24 * 3_600_000),
        newcomerProbation: duration,
        newcomerMessagesPerSecond: int(0, 1_000_000),
        newcomerBurst: int(1, 10_000_000),
        newcomerInvalidLimit: int(0, 1_000_000),
        overuseFactor: factor,
        overuseFor: positiveDuration(24 * 3_600_000),
        auditInterval: positiveDuration(3_600_000),
        auditMaxPeers: int(1, 100_000),
      }),
    }),
    api: obj({ listen: hostPort, tokenFile: nullable(str()) }),
    policy: str(),
    recovery: obj({
      enableAutoRecovery: bool,
      checkpointInterval: duration,
      maxRecoveryAttempts: int(1, 100),
      quorumSize: nullable(int(1, 1000)),
      partitionHealTimeout: duration,
      splitBrainResolution: oneOf(['quorum', 'manual', 'priority'] as const),
      enableStateReconstruction: bool,
      snapshotRetention: int(1, 10_000),
    }),
    hypervisor: obj({ driver: oneOf(['none', 'exec'] as const), commands: obj({ fence: str(), start: str(), stop: str() }), timeout: duration, supervise: bool }),
    log: obj({ level: oneOf(LOG_LEVELS), format: oneOf(['auto', 'json', 'text'] as const), modules: map(oneOf(LOG_LEVELS)) }),
    timing: obj({ antiEntropyInterval: duration, heartbeat: duration, lease: duration, leaseMargin: duration }),
  });
  const partial = schema(raw ?? {}, '') as DeepPartial<AgentConfig>;
  const cfg = merge(DEFAULT_CONFIG, partial);
  if (!cfg.node.id) throw new ConfigError(file, 'node.id', 'a node id (required)');
  return finish(cfg, file);
}

/** Cross-field checks and derived defaults. */
function finish(cfg: AgentConfig, file: string): AgentConfig {
  const voters = cfg.cluster.voters;
  if (voters) {
    if (new Set(voters).size !== voters.length) throw new ConfigError(file, 'cluster.voters', 'distinct node ids', voters);
    const expected = cfg.cluster.expectedVotes ?? voters.length;
    if (voters.length > expected) {
      throw new ConfigError(file, 'cluster.voters', `at most expectedVotes (${expected}) voters, so that quorums intersect`, voters);
    }
    cfg.cluster.expectedVotes = expected;
  }
  const guard = cfg.cluster.guard;
  if (guard.messagesPerSecond > 0 && guard.burst < guard.messagesPerSecond / 10) {
    throw new ConfigError(file, 'cluster.guard.burst', `at least a tenth of messagesPerSecond (${guard.messagesPerSecond}): a smaller bucket drops honest batches`, guard.burst);
  }
  if (guard.newcomerMessagesPerSecond > 0 && guard.newcomerBurst < guard.newcomerMessagesPerSecond / 10) {
    throw new ConfigError(file, 'cluster.guard.newcomerBurst', `at least a tenth of newcomerMessagesPerSecond (${guard.newcomerMessagesPerSecond})`, guard.newcomerBurst);
  }
  if (!cfg.cluster.pskFile && !cfg.cluster.insecureNoPsk) {
    throw new ConfigError(file, 'cluster.pskFile', 'the path of the cluster pre-shared key (dwcp keygen), or cluster.insecureNoPsk: true for a local development run');
  }
  const baseDir = file.startsWith('<') ? process.cwd() : resolve(file, '..');
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  cfg.node.dataDir = abs(cfg.node.dataDir);
  if (cfg.cluster.pskFile) cfg.cluster.pskFile = abs(cfg.cluster.pskFile);
  if (cfg.api.tokenFile) cfg.api.tokenFile = abs(cfg.api.tokenFile);
  if (!isLoopback(cfg.api.listen) && !cfg.api.tokenFile) {
    throw new ConfigError(file, 'api.tokenFile', `a bearer token file: api.listen ${cfg.api.listen} is not a loopback address`);
  }
  return cfg;
}

export function isLoopback(hostPort: string): boolean {
  const host = hostPort.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** Overrides from `DWCP_*` environment variables (applied before flags). */
export const ENV_OVERRIDES: Readonly<Record<string, string>> = {
  DWCP_NODE_ID: 'node.id',
  DWCP_DATA_DIR: 'node.dataDir',
  DWCP_LISTEN: 'cluster.listen',
  DWCP_BOOTSTRAP: 'cluster.bootstrap',
  DWCP_API_LISTEN: 'api.listen',
  DWCP_PSK_FILE: 'cluster.pskFile',
  DWCP_POLICY: 'policy',
  DWCP_LOG_LEVEL: 'log.level',
  DWCP_LOG_FORMAT: 'log.format',
};

/** Apply `key.path=value` overrides (flags, env) to a raw config document before validation. */
export function applyOverrides(raw: Record<string, unknown>, overrides: Record<string, string | string[]>): Record<string, unknown> {
  const out = structuredClone(raw);
  for (const [path, value] of Object.entries(overrides)) {
    const parts = path.split('.');
    let cur: Record<string, unknown> = out;
    for (const p of parts.slice(0, -1)) {
      if (!isObject(cur[p])) cur[p] = {};
      cur = cur[p] as Record<string, unknown>;
    }
    const isList = path === 'cluster.listen' || path === 'cluster.bootstrap';
    cur[parts.at(-1)!] = isList && typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter(Boolean) : value;
  }
  return out;
}

/** Load a config file with env and flag overrides: flags win over env, env over the file. */
export function loadAgentConfig(file: string | undefined, flags: Record<string, string | string[]>, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  let raw: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(file, '(file)', 'a readable YAML file', err instanceof Error ? err.message : String(err));
    }
    raw = parseYaml(text, file);
  }
  const envOverrides: Record<string, string> = {};
  for (const [name, path] of Object.entries(ENV_OVERRIDES)) {
    const v = env[name];
    if (v !== undefined && v !== '') envOverrides[path] = v;
  }
  raw = applyOverrides(applyOverrides(raw, envOverrides), flags);
  return validateConfig(raw, file ?? '<flags>');
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends Record<string, unknown> ? DeepPartial<T[K]> : T[K] };

function merge<T>(base: T, over: unknown): T {
  if (!isObject(base) || !isObject(over)) return (over === undefined ? base : over) as T;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = (base as Record<string, unknown>)[k];
    out[k] = isObject(b) && isObject(v) && !Array.isArray(v) && k !== 'labels' && k !== 'modules' ? merge(b, v) : v;
  }
  return out as T;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
