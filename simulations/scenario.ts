/**
 * Scenario files (INTERFACE.md, "Simulation scenario file"): strict parsing and validation. Every
 * problem is reported with the file, the field path inside it, what was expected and what was found,
 * and the line and column when known, e.g.
 * `split.yaml: faults[2].crash: expected one of the node ids n1, n2, n3, got "n9" (line 14, column 20)`.
 *
 * Extensions beyond INTERFACE.md (all optional): `network.latency.distribution`,
 * `network.requestTimeout`, `workload.splitBrainAttempts|deleteShare|powerShare`, an `agent` block
 * (timings, leases, priorities), a `checks` block (convergence bound), one-way partitions
 * `{from: [...], to: [...]}`, and `flap` faults (a partition that comes and goes).
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isNode, LineCounter, parseDocument } from 'yaml';
import { NODE_ID_PATTERN } from '../src/core/clock/node-ids.js';
import { DwcpError } from '../src/core/errors.js';
import { parseDuration } from '../src/core/policy/duration.js';
import { formatIssue, type PolicyIssue } from '../src/core/policy/errors.js';
import { isPresetName } from '../src/core/policy/presets.js';
import { formatPath } from '../src/core/policy/validate.js';
import { partitionProblem, type PartitionSpec } from './partition.js';
import { DEFAULT_AGENT, type AgentSettings } from './sim-node.js';
import { DEFAULT_NETWORK, LATENCY_DISTRIBUTIONS, type LatencyDistribution, type NetworkModel } from './sim-network.js';

export interface WorkloadSpec {
  readonly vms: number;
  /** Client writes per second of virtual time (a Poisson process). */
  readonly writesPerSecond: number;
  /** Share of writes that are deliberately concurrent pairs (same VM, two nodes, same moment). */
  readonly conflictingShare: number;
  /** At each partition, this many VMs are failed over to a host on the other side (split-brain attempts). */
  readonly splitBrainAttempts: number;
  /** Share of single writes that delete the VM (a later write recreates it). */
  readonly deleteShare: number;
  /** Share of single writes that change the power state (running ↔ stopped). */
  readonly powerShare: number;
}

export type FaultAction =
  | { readonly type: 'partition'; readonly spec: PartitionSpec }
  | { readonly type: 'heal' }
  | { readonly type: 'crash'; readonly node: string }
  | { readonly type: 'restart'; readonly node: string }
  | { readonly type: 'pause'; readonly node: string; readonly forMs: number }
  | { readonly type: 'skew'; readonly node: string; readonly byMs: number };

export interface Fault {
  /** Virtual time (ms since the start). */
  readonly atMs: number;
  readonly action: FaultAction;
  /** Where it came from in the file (`faults[3]`), for messages and reports. */
  readonly source: string;
}

export interface Scenario {
  readonly name: string;
  /** The file it was read from (or the name given to `parseScenario`). */
  readonly file: string;
  readonly nodes: readonly string[];
  readonly durationMs: number;
  readonly seed: number;
  readonly network: NetworkModel;
  /** Each node's clock starts off by a uniform draw in [-clockSkew, +clockSkew]. */
  readonly clockSkewMs: number;
  /** A preset name or a policy file path (resolved against the scenario's directory). */
  readonly policy: string;
  readonly workload: WorkloadSpec;
  readonly agent: AgentSettings;
  /** Sorted by time (stable: file order for equal times). */
  readonly faults: readonly Fault[];
  readonly checks: { readonly convergenceBoundMs: number };
}

export type ScenarioIssue = PolicyIssue;

/** A scenario that cannot be used. `meta.file`, `meta.path`, `meta.expected`, `meta.issues`. */
export class ScenarioError extends DwcpError {
  declare readonly meta: Readonly<ScenarioIssue & { file: string; issues: readonly ScenarioIssue[] }>;

  constructor(file: string, issues: readonly ScenarioIssue[], options?: ErrorOptions) {
    const first = issues[0] ?? { path: '', expected: 'a valid scenario' };
    const lines = issues.map((i) => formatIssue(file, i));
    const more = lines.length > 1 ? `\n${lines.slice(1).map((l) => `  also: ${l}`).join('\n')}` : '';
    super('ERR_SCENARIO', `${lines[0] ?? formatIssue(file, first)}${more}`, { file, ...first, issues }, options);
  }
}

const TOP_KEYS = ['name', 'nodes', 'duration', 'seed', 'network', 'clockSkew', 'policy', 'workload', 'agent', 'checks', 'faults'] as const;
const NETWORK_KEYS = ['latency', 'loss', 'duplication', 'reorder', 'requestTimeout'] as const;
const LATENCY_KEYS = ['min', 'max', 'distribution'] as const;
const WORKLOAD_KEYS = ['vms', 'writesPerSecond', 'conflictingShare', 'splitBrainAttempts', 'deleteShare', 'powerShare'] as const;
const AGENT_KEYS = ['heartbeat', 'antiEntropy', 'leases', 'lease', 'leaseMargin', 'paxosPhaseTimeout', 'priorities'] as const;
const CHECK_KEYS = ['convergenceBound'] as const;
const FAULT_ACTIONS = ['partition', 'heal', 'crash', 'restart', 'pause', 'skew', 'flap'] as const;
const SHAPE_TEXT = 'a partition: halves, majorities-ring, bridge, isolate:<node id>, groups [[n1, n2], [n3, ...]] or {from: [...], to: [...]}';
const MAX_NODES = 64;
const MAX_DURATION_MS = 24 * 3_600_000;
const MAX_SEED = 0xffff_ffff;

export const DEFAULT_WORKLOAD: WorkloadSpec = Object.freeze({
  vms: 20,
  writesPerSecond: 5,
  conflictingShare: 0,
  splitBrainAttempts: 0,
  deleteShare: 0.01,
  powerShare: 0.05,
});

export const DEFAULT_CONVERGENCE_BOUND_MS = 60_000;

type Path = readonly (string | number)[];

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  text ??= `a ${typeof value}`;
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Collects issues while reading the document. */
class Reader {
  readonly issues: ScenarioIssue[] = [];

  constructor(private readonly locate: (path: Path) => { line: number; column: number } | undefined) {}

  /** Record a problem at `path`; `got` is the value found (shown as JSON), or [value, its own text]. */
  fail(path: Path, expected: string, ...got: [] | [unknown] | [unknown, string]): undefined {
    const pos = this.locate(path);
    this.issues.push({
      path: formatPath(path),
      expected,
      got: got.length === 0 ? undefined : got.length === 2 ? got[1] : show(got[0]),
      line: pos?.line,
      column: pos?.column,
    });
    return undefined;
  }

  object(v: unknown, path: Path, keys: readonly string[], what: string): Record<string, unknown> | undefined {
    if (!isObject(v)) return this.fail(path, what, v);
    for (const k of Object.keys(v)) {
      if (!keys.includes(k)) this.fail([...path, k], `no such key (known keys: ${keys.join(', ')})`, undefined, JSON.stringify(k));
    }
    return v;
  }

  duration(v: unknown, path: Path, opts: { min?: number; max?: number; signed?: boolean } = {}): number | undefined {
    let ms: number | undefined;
    if (opts.signed && typeof v === 'string' && v.trim().startsWith('-')) {
      const abs = parseDuration(v.trim().slice(1));
      ms = abs === undefined ? undefined : -abs;
    } else if (opts.signed && typeof v === 'number' && Number.isSafeInteger(v)) {
      ms = v;
    } else {
      ms = parseDuration(v);
    }
    const range =
      opts.min !== undefined && opts.min > 0 ? 'a positive duration' : opts.signed ? 'a duration, optionally negative,' : 'a duration';
    if (ms === undefined) return this.fail(path, `${range} like 50ms, 30s, 5m or a number of milliseconds`, v);
    if (opts.min !== undefined && ms < opts.min) return this.fail(path, `${range} of at least ${opts.min}ms`, v);
    if (opts.max !== undefined && Math.abs(ms) > opts.max) return this.fail(path, `${range} of at most ${opts.max}ms`, v);
    return ms;
  }

  number(v: unknown, path: Path, min: number, max: number, integer: boolean): number | undefined {
    const kind = integer ? 'an integer' : 'a number';
    if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
      return this.fail(path, `${kind} from ${min} to ${max}`, v);
    }
    return v;
  }

  share(v: unknown, path: Path): number | undefined {
    return this.number(v, path, 0, 1, false);
  }

  node(v: unknown, path: Path, nodes: readonly string[]): string | undefined {
    if (typeof v !== 'string' || !nodes.includes(v)) return this.fail(path, `one of the node ids ${nodes.join(', ')}`, v);
    return v;
  }
}

/**
 * Parse and validate a scenario from YAML text. `file` names the source in messages and is the base
 * for a relative policy path. Throws {@link ScenarioError} listing every problem.
 */
export function parseScenario(text: string, file = 'scenario'): Scenario {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true, strict: true });
  if (doc.errors.length > 0) {
    throw new ScenarioError(
      file,
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        const what = (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, '');
        return { path: '', expected: 'valid YAML', got: `a syntax error: ${what}`, line: pos?.line, column: pos?.col };
      }),
    );
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ScenarioError(file, [{ path: '', expected: 'valid YAML with at most 100 alias expansions', got: err instanceof Error ? err.message : String(err) }]);
  }
  const locate = (path: Path): { line: number; column: number } | undefined => {
    for (let n = path.length; n >= 0; n--) {
      const node: unknown = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) {
        const p = lineCounter.linePos(node.range[0]);
        return { line: p.line, column: p.col };
      }
    }
    return undefined;
  };
  return scenarioFromDocument(value, file, locate);
}

/** Validate a scenario given as plain data (the YAML document's JavaScript form). */
export function scenarioFromDocument(
  input: unknown,
  file = 'scenario',
  locate: (path: Path) => { line: number; column: number } | undefined = () => undefined,
): Scenario {
  const r = new Reader(locate);
  const top = r.object(input, [], TOP_KEYS, 'a scenario (a mapping with name, nodes, duration, ...)');
  if (!top) throw new ScenarioError(file, r.issues);

  let name = 'scenario';
  if (typeof top.name !== 'string' || top.name.trim() === '' || top.name.length > 128) r.fail(['name'], 'a scenario name (1-128 characters)', top.name);
  else name = top.name;

  let nodes: string[] = [];
  if (typeof top.nodes === 'number') {
    if (r.number(top.nodes, ['nodes'], 1, MAX_NODES, true) !== undefined) nodes = Array.from({ length: top.nodes }, (_, i) => `n${i + 1}`);
  } else if (Array.isArray(top.nodes)) {
    const seen = new Set<string>();
    top.nodes.forEach((id: unknown, i) => {
      if (typeof id !== 'string' || !NODE_ID_PATTERN.test(id)) r.fail(['nodes', i], 'a node id (1-64 characters of [A-Za-z0-9._-])', id);
      else if (seen.has(id)) r.fail(['nodes', i], 'a node id not listed before', id);
      else seen.add(id);
    });
    if (top.nodes.length === 0 || top.nodes.length > MAX_NODES) r.fail(['nodes'], `1 to ${MAX_NODES} node ids`, top.nodes);
    nodes = [...seen];
  } else {
    r.fail(['nodes'], `a node count (1-${MAX_NODES}) or a list of node ids`, top.nodes);
  }

  const durationMs = top.duration === undefined ? r.fail(['duration'], 'a duration like 600s (required)') : r.duration(top.duration, ['duration'], { min: 1, max: MAX_DURATION_MS });
  const seed = top.seed === undefined ? 1 : r.number(top.seed, ['seed'], 0, MAX_SEED, true);

  const network = readNetwork(r, top.network);
  const clockSkewMs = top.clockSkew === undefined ? 0 : r.duration(top.clockSkew, ['clockSkew'], { max: 3_600_000 });

  let policy = 'production';
  if (top.policy !== undefined) {
    if (typeof top.policy !== 'string' || top.policy.trim() === '') r.fail(['policy'], 'a preset name (production, development) or a policy file path', top.policy);
    else policy = isPresetName(top.policy) || isAbsolute(top.policy) ? top.policy : resolve(dirname(file), top.policy);
  }

  const workload = readWorkload(r, top.workload);
  const agent = readAgent(r, top.agent, nodes);
  const checks = readChecks(r, top.checks);
  const faults = readFaults(r, top.faults, nodes, durationMs ?? MAX_DURATION_MS);

  if (r.issues.length > 0) throw new ScenarioError(file, r.issues);
  return {
    name,
    file,
    nodes,
    durationMs: durationMs!,
    seed: seed!,
    network,
    clockSkewMs: clockSkewMs ?? 0,
    policy,
    workload,
    agent,
    faults,
    checks,
  };
}

function readNetwork(r: Reader, v: unknown): NetworkModel {
  if (v === undefined) return DEFAULT_NETWORK;
  const o = r.object(v, ['network'], NETWORK_KEYS, 'a mapping {latency, loss, duplication, reorder, requestTimeout}');
  if (!o) return DEFAULT_NETWORK;
  let latency: { min: number; max: number; distribution: LatencyDistribution } = { ...DEFAULT_NETWORK.latency };
  if (o.latency !== undefined) {
    const l = r.object(o.latency, ['network', 'latency'], LATENCY_KEYS, 'a mapping {min, max, distribution}');
    if (l) {
      const min = l.min === undefined ? latency.min : r.duration(l.min, ['network', 'latency', 'min'], { max: 600_000 });
      const max = l.max === undefined ? Math.max(latency.max, min ?? 0) : r.duration(l.max, ['network', 'latency', 'max'], { max: 600_000 });
      let distribution: LatencyDistribution = 'uniform';
      if (l.distribution !== undefined) {
        if (!(LATENCY_DISTRIBUTIONS as readonly unknown[]).includes(l.distribution)) {
          r.fail(['network', 'latency', 'distribution'], `one of ${LATENCY_DISTRIBUTIONS.join(', ')}`, l.distribution);
        } else {
          distribution = l.distribution as LatencyDistribution;
        }
      }
      if (min !== undefined && max !== undefined) {
        if (max < min) r.fail(['network', 'latency', 'max'], `a duration not below latency.min (${min}ms)`, l.max);
        latency = { min, max, distribution };
      }
    }
  }
  const share = (k: 'loss' | 'duplication' | 'reorder'): number => (o[k] === undefined ? DEFAULT_NETWORK[k] : (r.share(o[k], ['network', k]) ?? 0));
  const loss = share('loss');
  if (loss === 1) r.fail(['network', 'loss'], 'a loss probability below 1 (use a partition to cut links)', o.loss);
  const requestTimeoutMs =
    o.requestTimeout === undefined ? DEFAULT_NETWORK.requestTimeoutMs : (r.duration(o.requestTimeout, ['network', 'requestTimeout'], { min: 1, max: 600_000 }) ?? 1);
  return { latency, loss, duplication: share('duplication'), reorder: share('reorder'), requestTimeoutMs };
}

function readWorkload(r: Reader, v: unknown): WorkloadSpec {
  if (v === undefined) return DEFAULT_WORKLOAD;
  const o = r.object(v, ['workload'], WORKLOAD_KEYS, `a mapping {${WORKLOAD_KEYS.join(', ')}}`);
  if (!o) return DEFAULT_WORKLOAD;
  const int = (k: 'vms' | 'splitBrainAttempts', max: number): number => (o[k] === undefined ? DEFAULT_WORKLOAD[k] : (r.number(o[k], ['workload', k], 0, max, true) ?? 0));
  const share = (k: 'conflictingShare' | 'deleteShare' | 'powerShare'): number => (o[k] === undefined ? DEFAULT_WORKLOAD[k] : (r.share(o[k], ['workload', k]) ?? 0));
  const vms = int('vms', 100_000);
  const writesPerSecond =
    o.writesPerSecond === undefined ? DEFAULT_WORKLOAD.writesPerSecond : (r.number(o.writesPerSecond, ['workload', 'writesPerSecond'], 0, 10_000, false) ?? 0);
  const out: WorkloadSpec = {
    vms,
    writesPerSecond,
    conflictingShare: share('conflictingShare'),
    splitBrainAttempts: int('splitBrainAttempts', 10_000),
    deleteShare: share('deleteShare'),
    powerShare: share('powerShare'),
  };
  if (out.deleteShare + out.powerShare > 1) r.fail(['workload', 'powerShare'], 'deleteShare + powerShare at most 1', o.powerShare);
  if (o.vms === 0 && writesPerSecond > 0) r.fail(['workload', 'vms'], 'at least 1 VM when writesPerSecond is above 0', o.vms);
  return out;
}

function readAgent(r: Reader, v: unknown, nodes: readonly string[]): AgentSettings {
  if (v === undefined) return DEFAULT_AGENT;
  const o = r.object(v, ['agent'], AGENT_KEYS, `a mapping {${AGENT_KEYS.join(', ')}}`);
  if (!o) return DEFAULT_AGENT;
  const dur = (k: 'heartbeat' | 'antiEntropy' | 'lease' | 'leaseMargin' | 'paxosPhaseTimeout', dflt: number, min: number): number =>
    o[k] === undefined ? dflt : (r.duration(o[k], ['agent', k], { min, max: 3_600_000 }) ?? dflt);
  let leases = DEFAULT_AGENT.leases;
  if (o.leases !== undefined) {
    if (typeof o.leases !== 'boolean') r.fail(['agent', 'leases'], 'true or false', o.leases);
    else leases = o.leases;
  }
  const priorities: Record<string, number> = {};
  if (o.priorities !== undefined) {
    const p = r.object(o.priorities, ['agent', 'priorities'], nodes, 'a mapping {node id: priority}');
    if (p) for (const [k, val] of Object.entries(p)) if (nodes.includes(k)) priorities[k] = r.number(val, ['agent', 'priorities', k], -1_000_000, 1_000_000, true) ?? 0;
  }
  return {
    heartbeatMs: dur('heartbeat', DEFAULT_AGENT.heartbeatMs, 1),
    antiEntropyMs: dur('antiEntropy', DEFAULT_AGENT.antiEntropyMs, 0),
    leases,
    leaseMs: dur('lease', DEFAULT_AGENT.leaseMs, 1),
    leaseMarginMs: dur('leaseMargin', DEFAULT_AGENT.leaseMarginMs, 0),
    paxosPhaseTimeoutMs: dur('paxosPhaseTimeout', DEFAULT_AGENT.paxosPhaseTimeoutMs, 1),
    priorities,
  };
}

function readChecks(r: Reader, v: unknown): { convergenceBoundMs: number } {
  if (v === undefined) return { convergenceBoundMs: DEFAULT_CONVERGENCE_BOUND_MS };
  const o = r.object(v, ['checks'], CHECK_KEYS, 'a mapping {convergenceBound}');
  if (!o || o.convergenceBound === undefined) return { convergenceBoundMs: DEFAULT_CONVERGENCE_BOUND_MS };
  return { convergenceBoundMs: r.duration(o.convergenceBound, ['checks', 'convergenceBound'], { min: 1, max: MAX_DURATION_MS }) ?? DEFAULT_CONVERGENCE_BOUND_MS };
}

/** A partition shape from its YAML form, or undefined (with an issue recorded). */
function readShape(r: Reader, v: unknown, path: Path, nodes: readonly string[]): PartitionSpec | undefined {
  let spec: PartitionSpec | undefined;
  if (typeof v === 'string') {
    if (v === 'halves' || v === 'majorities-ring' || v === 'bridge') spec = { kind: v };
    else if (v.startsWith('isolate:')) spec = { kind: 'isolate', node: v.slice('isolate:'.length) };
  } else if (Array.isArray(v) && v.every((g) => Array.isArray(g) && g.every((x) => typeof x === 'string'))) {
    spec = { kind: 'groups', groups: v };
  } else if (isObject(v) && Object.keys(v).sort().join(',') === 'from,to') {
    const ids = (x: unknown): string[] | undefined => (typeof x === 'string' ? [x] : Array.isArray(x) && x.every((y) => typeof y === 'string') ? x : undefined);
    const from = ids(v.from);
    const to = ids(v.to);
    if (from && to) spec = { kind: 'one-way', from, to };
  }
  if (!spec) return r.fail(path, SHAPE_TEXT, v);
  const problem = partitionProblem(spec, nodes);
  if (problem) return r.fail(path, `${SHAPE_TEXT}; here: ${problem}`, v);
  return spec;
}

function readFaults(r: Reader, v: unknown, nodes: readonly string[], durationMs: number): Fault[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) return r.fail(['faults'], 'a list of faults [{at, partition|heal|crash|restart|pause|skew|flap}]', v) ?? [];
  const out: Fault[] = [];
  v.forEach((item: unknown, i) => {
    const path: Path = ['faults', i];
    const o = r.object(item, path, ['at', ...FAULT_ACTIONS], `a fault {at: <duration>, <one of ${FAULT_ACTIONS.join(', ')}>: ...}`);
    if (!o) return;
    const at = o.at === undefined ? r.fail([...path, 'at'], 'the virtual time of the fault, like 60s (required)') : r.duration(o.at, [...path, 'at'], { max: durationMs });
    const actions = FAULT_ACTIONS.filter((k) => o[k] !== undefined);
    if (actions.length !== 1) {
      r.fail(path, `exactly one action of ${FAULT_ACTIONS.join(', ')}`, undefined, actions.length === 0 ? 'none' : actions.join(' and '));
      return;
    }
    const kind = actions[0]!;
    const a: Path = [...path, kind];
    const val = o[kind];
    const source = `faults[${i}]`;
    const add = (atMs: number, action: FaultAction): void => {
      out.push({ atMs, action, source });
    };
    switch (kind) {
      case 'partition': {
        const spec = readShape(r, val, a, nodes);
        if (spec && at !== undefined) add(at, { type: 'partition', spec });
        return;
      }
      case 'heal':
        if (val !== true) r.fail(a, 'true', val);
        else if (at !== undefined) add(at, { type: 'heal' });
        return;
      case 'crash':
      case 'restart': {
        const node = r.node(val, a, nodes);
        if (node && at !== undefined) add(at, { type: kind, node });
        return;
      }
      case 'pause': {
        const p = r.object(val, a, ['node', 'for'], 'a mapping {node, for}');
        if (!p) return;
        const node = r.node(p.node, [...a, 'node'], nodes);
        const forMs = p.for === undefined ? r.fail([...a, 'for'], 'how long the node is paused, like 30s') : r.duration(p.for, [...a, 'for'], { min: 1, max: MAX_DURATION_MS });
        if (node && forMs !== undefined && at !== undefined) add(at, { type: 'pause', node, forMs });
        return;
      }
      case 'skew': {
        const s = r.object(val, a, ['node', 'by'], 'a mapping {node, by}');
        if (!s) return;
        const node = r.node(s.node, [...a, 'node'], nodes);
        const byMs = s.by === undefined ? r.fail([...a, 'by'], 'how far the clock jumps, like 5s or -2s') : r.duration(s.by, [...a, 'by'], { signed: true, max: 3_600_000 });
        if (node && byMs !== undefined && at !== undefined) add(at, { type: 'skew', node, byMs });
        return;
      }
      case 'flap': {
        const f = r.object(val, a, ['partition', 'down', 'up', 'times'], 'a mapping {partition, down, up, times}');
        if (!f) return;
        const spec = readShape(r, f.partition, [...a, 'partition'], nodes);
        const down = r.duration(f.down, [...a, 'down'], { min: 1, max: MAX_DURATION_MS });
        const up = r.duration(f.up, [...a, 'up'], { min: 1, max: MAX_DURATION_MS });
        const times = r.number(f.times, [...a, 'times'], 1, 10_000, true);
        if (!spec || down === undefined || up === undefined || times === undefined || at === undefined) return;
        for (let k = 0; k < times; k++) {
          const start = at + k * (down + up);
          if (start + down > durationMs) {
            r.fail([...a, 'times'], `a number of cycles that ends within the duration (${durationMs}ms)`, times);
            return;
          }
          add(start, { type: 'partition', spec });
          add(start + down, { type: 'heal' });
        }
        return;
      }
    }
  });
  out.sort((x, y) => x.atMs - y.atMs);
  checkFaultSequence(r, out);
  return out;
}

/** Crash/restart/pause must make sense in order: no restart of a running node, no pause of a crashed one. */
function checkFaultSequence(r: Reader, faults: readonly Fault[]): void {
  const crashedAt = new Map<string, number>();
  const pausedUntil = new Map<string, number>();
  const where = (f: Fault): Path => {
    const m = /^faults\[(\d+)\]$/.exec(f.source);
    return m ? ['faults', Number(m[1]), f.action.type] : [];
  };
  for (const f of faults) {
    const a = f.action;
    if (a.type === 'crash') {
      if (crashedAt.has(a.node)) r.fail(where(f), `a node that is up at ${f.atMs}ms (${a.node} crashed at ${crashedAt.get(a.node)}ms and was not restarted)`, a.node);
      crashedAt.set(a.node, f.atMs);
    } else if (a.type === 'restart') {
      if (!crashedAt.has(a.node)) r.fail(where(f), `a node that is crashed at ${f.atMs}ms (crash it first)`, a.node);
      crashedAt.delete(a.node);
    } else if (a.type === 'pause') {
      if (crashedAt.has(a.node)) r.fail([...where(f), 'node'], `a node that is up at ${f.atMs}ms`, a.node);
      else if ((pausedUntil.get(a.node) ?? -1) > f.atMs) r.fail([...where(f), 'node'], `a node that is not already paused at ${f.atMs}ms`, a.node);
      pausedUntil.set(a.node, f.atMs + a.forMs);
    }
  }
}

/** Read and parse a scenario file. A missing or unreadable file is a ScenarioError too. */
export async function loadScenario(path: string): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new ScenarioError(path, [{ path: '', expected: 'a readable scenario file', got: typeof code === 'string' ? code : String(err) }], { cause: err });
  }
  return parseScenario(text, path);
}

/**
 * The same scenario compressed to at most `maxDurationMs` of virtual time: the duration and every
 * fault time and pause length scale by the same factor (protocol timings do not). Used by seed sweeps.
 */
export function compressScenario(s: Scenario, maxDurationMs: number): Scenario {
  if (s.durationMs <= maxDurationMs) return s;
  const k = maxDurationMs / s.durationMs;
  return {
    ...s,
    durationMs: maxDurationMs,
    faults: s.faults.map((f) => ({
      ...f,
      atMs: Math.round(f.atMs * k),
      action: f.action.type === 'pause' ? { ...f.action, forMs: Math.max(1, Math.round(f.action.forMs * k)) } : f.action,
    })),
  };
}

/** The scenario with another seed. */
export function withSeed(s: Scenario, seed: number): Scenario {
  return { ...s, seed };
}
