/**
 * The one validator behind both the builder and policy files: it takes the policy in its document
 * form (the YAML keys, as plain JavaScript values), checks every key, and returns a deeply frozen
 * {@link Policy} or throws a {@link PolicyError} listing every problem with its path.
 */
import { CONFLICT_TYPES, SEVERITIES, type ConflictType, type Severity } from '../conflict/types.js';
import { STRATEGIES, isStrategyName, type SkewAction, type StrategyName } from '../resolve/types.js';
import { parseDuration } from './duration.js';
import { PolicyError, type PolicyIssue } from './errors.js';
import {
  ESCALATION_ACTIONS,
  MAX_RETRIES_LIMIT,
  POLICY_DEFAULTS,
  PREDICATE_KINDS,
  type EscalationAction,
  type Policy,
  type PolicyEscalation,
  type PolicyRule,
  type Predicate,
  type PredicateFn,
} from './types.js';

/** A path inside the policy document: keys and list indexes. */
export type PolicyPath = readonly (string | number)[];

export interface ValidateOptions {
  /** Functions behind `{custom: name}` predicates; a name not in here is an error. */
  readonly customPredicates?: Readonly<Record<string, PredicateFn>>;
  /** Maps a path to its position in the source text (policy files), for messages. */
  readonly locate?: (path: PolicyPath) => { line: number; column: number } | undefined;
}

/** The top-level keys of a policy document, in their canonical order. */
export const POLICY_KEYS = [
  'name',
  'defaultStrategy',
  'fieldStrategies',
  'rules',
  'escalations',
  'maxRetries',
  'manualThreshold',
  'timeout',
  'fallback',
  'maxClockSkew',
  'skewAction',
] as const;

const RULE_KEYS = ['name', 'predicate', 'strategy', 'priority'] as const;
const ESCALATION_KEYS = ['name', 'predicate', 'action', 'priority'] as const;
const SKEW_ACTIONS: readonly SkewAction[] = ['siblings', 'escalate'];
const MAX_PREDICATE_DEPTH = 32;
const MAX_NAME_LENGTH = 128;
const STRATEGY_LIST = `one of ${STRATEGIES.join(', ')}`;

/** `rules[1].predicate.all[0].type`; keys that are not identifiers are quoted: `fieldStrategies["a b"]`. */
export function formatPath(path: PolicyPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

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

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class Checker {
  readonly issues: PolicyIssue[] = [];
  constructor(private readonly options: ValidateOptions) {}

  fail(path: PolicyPath, expected: string, got?: unknown, present = true): undefined {
    const pos = this.options.locate?.(path);
    this.issues.push({
      path: formatPath(path),
      expected,
      got: present ? show(got) : 'nothing',
      line: pos?.line,
      column: pos?.column,
    });
    return undefined;
  }

  /** Reports keys of `obj` not in `allowed`. */
  keys(obj: Record<string, unknown>, path: PolicyPath, allowed: readonly string[], what: string): void {
    for (const k of Object.keys(obj)) {
      if (!allowed.includes(k)) {
        this.fail([...path, k], `no unknown keys: ${what} has only ${allowed.join(', ')}`, k);
      }
    }
  }

  strategy(v: unknown, path: PolicyPath): StrategyName | undefined {
    return isStrategyName(v) ? v : this.fail(path, `a strategy: ${STRATEGY_LIST}`, v, v !== undefined);
  }

  name(v: unknown, path: PolicyPath): string | undefined {
    if (typeof v === 'string' && v.trim().length > 0 && v.length <= MAX_NAME_LENGTH) return v;
    return this.fail(path, `a non-empty name (at most ${MAX_NAME_LENGTH} characters)`, v, v !== undefined);
  }

  integer(v: unknown, path: PolicyPath, min: number, max: number, what: string): number | undefined {
    if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return v;
    return this.fail(path, what, v, v !== undefined);
  }

  predicate(v: unknown, path: PolicyPath, depth = 0): Predicate | undefined {
    if (depth > MAX_PREDICATE_DEPTH) return this.fail(path, `a predicate nested at most ${MAX_PREDICATE_DEPTH} levels deep`, '...');
    const kinds = `exactly one of ${PREDICATE_KINDS.map((k) => `{${k}: ...}`).join(', ')}`;
    if (!isPlainObject(v)) return this.fail(path, `a predicate: ${kinds}`, v, v !== undefined);
    const keys = Object.keys(v);
    const unknown = keys.filter((k) => !(PREDICATE_KINDS as readonly string[]).includes(k));
    if (unknown.length > 0) {
      for (const k of unknown) this.fail([...path, k], `a predicate key: ${kinds}`, k);
      return undefined;
    }
    if (keys.length !== 1) return this.fail(path, `a predicate with ${kinds}`, v);
    const kind = keys[0]!;
    const arg = v[kind];
    const at = [...path, kind];
    switch (kind) {
      case 'all':
      case 'any': {
        if (!Array.isArray(arg) || arg.length === 0) return this.fail(at, 'a non-empty list of predicates', arg);
        const items = arg.map((q, i) => this.predicate(q, [...at, i], depth + 1));
        if (items.some((q) => q === undefined)) return undefined;
        return kind === 'all' ? { all: items as Predicate[] } : { any: items as Predicate[] };
      }
      case 'not': {
        const q = this.predicate(arg, at, depth + 1);
        return q === undefined ? undefined : { not: q };
      }
      case 'type':
        return (CONFLICT_TYPES as readonly unknown[]).includes(arg)
          ? { type: arg as ConflictType }
          : this.fail(at, `a conflict type: one of ${CONFLICT_TYPES.join(', ')}`, arg);
      case 'severity':
      case 'severityAtLeast':
        if (!(SEVERITIES as readonly unknown[]).includes(arg)) {
          return this.fail(at, `a severity: one of ${SEVERITIES.join(', ')}`, arg);
        }
        return kind === 'severity' ? { severity: arg as Severity } : { severityAtLeast: arg as Severity };
      case 'complexityBelow':
        return typeof arg === 'number' && arg >= 0 && arg <= 1
          ? { complexityBelow: arg }
          : this.fail(at, 'a complexity threshold: a number in [0, 1]', arg);
      case 'field':
        return typeof arg === 'string' && arg.length > 0 && arg.length <= 256
          ? { field: arg }
          : this.fail(at, 'a field name (e.g. power_state, or a dotted path network_config.interfaces)', arg);
      default: {
        // custom
        const known = Object.keys(this.options.customPredicates ?? {});
        if (typeof arg === 'string' && known.includes(arg)) return { custom: arg };
        return this.fail(
          at,
          known.length === 0
            ? 'a custom predicate registered in code (none are registered here)'
            : `a registered custom predicate: one of ${known.join(', ')}`,
          arg,
        );
      }
    }
  }
}

/**
 * Validate a policy given in its document form and return it as an immutable {@link Policy}.
 * `source` names where it came from (a file name, or `PolicyBuilder("name")`), for messages.
 */
export function policyFromDocument(input: unknown, source: string, options: ValidateOptions = {}): Policy {
  const c = new Checker(options);
  if (!isPlainObject(input)) {
    c.fail([], `a policy: a mapping with keys ${POLICY_KEYS.join(', ')}`, input, input !== undefined && input !== null);
    throw new PolicyError(source, c.issues);
  }
  c.keys(input, [], POLICY_KEYS, 'a policy');

  const name = c.name(input.name, ['name']);
  const defaultStrategy =
    input.defaultStrategy === undefined ? POLICY_DEFAULTS.defaultStrategy : c.strategy(input.defaultStrategy, ['defaultStrategy']);

  const fieldStrategies: [string, StrategyName][] = [];
  if (input.fieldStrategies !== undefined && input.fieldStrategies !== null) {
    if (!isPlainObject(input.fieldStrategies)) {
      c.fail(['fieldStrategies'], 'a mapping of field name to strategy (e.g. power_state: highest_priority)', input.fieldStrategies);
    } else {
      for (const [f, s] of Object.entries(input.fieldStrategies)) {
        if (f.length === 0) c.fail(['fieldStrategies', f], 'a non-empty field name', f);
        const st = c.strategy(s, ['fieldStrategies', f]);
        if (st !== undefined) fieldStrategies.push([f, st]);
      }
    }
  }

  const names = new Map<string, string>();
  const checkUnique = (n: string | undefined, path: PolicyPath): void => {
    if (n === undefined) return;
    const prev = names.get(n);
    if (prev !== undefined) c.fail([...path, 'name'], `a name not used by another rule or escalation (${prev} has it)`, n);
    else names.set(n, formatPath(path));
  };

  const rules: PolicyRule[] = [];
  for (const [item, path] of list(c, input.rules, 'rules', 'a list of rules {name, predicate, strategy, priority}')) {
    if (!isPlainObject(item)) {
      c.fail(path, 'a rule: a mapping {name, predicate, strategy, priority}', item);
      continue;
    }
    c.keys(item, path, RULE_KEYS, 'a rule');
    const r = {
      name: c.name(item.name, [...path, 'name']),
      predicate: c.predicate(item.predicate, [...path, 'predicate']),
      strategy: c.strategy(item.strategy, [...path, 'strategy']),
      priority: c.integer(item.priority, [...path, 'priority'], -1_000_000, 1_000_000, 'a priority: an integer (higher is evaluated first)'),
    };
    checkUnique(r.name, path);
    if (r.name !== undefined && r.predicate !== undefined && r.strategy !== undefined && r.priority !== undefined) {
      rules.push(r as PolicyRule);
    }
  }

  const escalations: PolicyEscalation[] = [];
  for (const [item, path] of list(c, input.escalations, 'escalations', 'a list of escalations {name, predicate, action, priority}')) {
    if (!isPlainObject(item)) {
      c.fail(path, 'an escalation: a mapping {name, predicate, action, priority}', item);
      continue;
    }
    c.keys(item, path, ESCALATION_KEYS, 'an escalation');
    const action = (ESCALATION_ACTIONS as readonly unknown[]).includes(item.action)
      ? (item.action as EscalationAction)
      : c.fail([...path, 'action'], `an escalation action: one of ${ESCALATION_ACTIONS.join(', ')}`, item.action, item.action !== undefined);
    const e = {
      name: c.name(item.name, [...path, 'name']),
      predicate: c.predicate(item.predicate, [...path, 'predicate']),
      action,
      priority: c.integer(item.priority, [...path, 'priority'], -1_000_000, 1_000_000, 'a priority: an integer (higher is evaluated first)'),
    };
    checkUnique(e.name, path);
    if (e.name !== undefined && e.predicate !== undefined && e.action !== undefined && e.priority !== undefined) {
      escalations.push(e as PolicyEscalation);
    }
  }

  const maxRetries =
    input.maxRetries === undefined
      ? POLICY_DEFAULTS.maxRetries
      : c.integer(input.maxRetries, ['maxRetries'], 0, MAX_RETRIES_LIMIT, `a retry count: an integer in [0, ${MAX_RETRIES_LIMIT}]`);
  let manualThreshold: number | undefined = POLICY_DEFAULTS.manualThreshold;
  if (input.manualThreshold !== undefined) {
    const t = input.manualThreshold;
    manualThreshold =
      typeof t === 'number' && t >= 0 && t <= 1 ? t : c.fail(['manualThreshold'], 'a complexity threshold: a number in [0, 1]', t);
  }
  const timeoutMs = duration(c, input.timeout, 'timeout', POLICY_DEFAULTS.timeoutMs, 1);
  const fallback = input.fallback === undefined ? POLICY_DEFAULTS.fallback : c.strategy(input.fallback, ['fallback']);
  const maxClockSkewMs = duration(c, input.maxClockSkew, 'maxClockSkew', POLICY_DEFAULTS.maxClockSkewMs, 0);
  let skewAction: SkewAction | undefined = POLICY_DEFAULTS.skewAction;
  if (input.skewAction !== undefined) {
    skewAction = SKEW_ACTIONS.includes(input.skewAction as SkewAction)
      ? (input.skewAction as SkewAction)
      : c.fail(['skewAction'], `one of ${SKEW_ACTIONS.join(', ')}`, input.skewAction);
  }

  if (c.issues.length > 0) throw new PolicyError(source, c.issues);
  return deepFreeze({
    name: name!,
    defaultStrategy: defaultStrategy!,
    fieldStrategies: Object.fromEntries(fieldStrategies),
    rules,
    escalations,
    maxRetries: maxRetries!,
    manualThreshold: manualThreshold!,
    timeoutMs: timeoutMs!,
    fallback: fallback!,
    maxClockSkewMs: maxClockSkewMs!,
    skewAction: skewAction!,
    customPredicates: { ...(options.customPredicates ?? {}) },
  });
}

function list(c: Checker, v: unknown, key: string, expected: string): [unknown, PolicyPath][] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    c.fail([key], expected, v);
    return [];
  }
  return v.map((item, i) => [item, [key, i]]);
}

function duration(c: Checker, v: unknown, key: string, fallback: number, min: number): number | undefined {
  if (v === undefined) return fallback;
  const ms = parseDuration(v);
  if (ms === undefined || ms < min) {
    return c.fail(
      [key],
      `a duration${min > 0 ? ' above zero' : ''}: e.g. 500ms, 30s, 5m, 1h, or a whole number of milliseconds`,
      v,
    );
  }
  return ms;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) if (typeof v !== 'function') deepFreeze(v);
  }
  return value;
}
