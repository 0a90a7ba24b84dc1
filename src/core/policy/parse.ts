/**
 * Policy files (INTERFACE.md, "Policy file (YAML)"): pure parsing and serialisation. Reading the file
 * is loader.ts's job; nothing here does I/O.
 */
import { isNode, LineCounter, parseDocument, stringify } from 'yaml';
import { formatDuration } from './duration.js';
import { PolicyError, type PolicyIssue } from './errors.js';
import type { Policy, PredicateFn } from './types.js';
import { policyFromDocument, type PolicyPath } from './validate.js';

export interface ParsePolicyOptions {
  /** Functions behind `{custom: name}` predicates; without them a `custom` predicate is an error. */
  readonly customPredicates?: Readonly<Record<string, PredicateFn>>;
}

/** Most aliases expanded while reading one policy (guards against alias bombs). */
const MAX_ALIAS_COUNT = 100;

/**
 * Parse and validate a policy from YAML text. `sourceName` (usually the file name) starts every error
 * message. Throws {@link PolicyError} (code `ERR_POLICY`, `meta.file`, `meta.path`, `meta.expected`,
 * and `meta.line`/`meta.column` when known) listing every problem: YAML syntax errors with their
 * line and column, unknown keys, unknown strategies, malformed predicates and durations.
 */
export function parsePolicy(text: string, sourceName = 'policy', options: ParsePolicyOptions = {}): Policy {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true, strict: true });
  if (doc.errors.length > 0) {
    const issues: PolicyIssue[] = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      const what = (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, '');
      return { path: '', expected: 'valid YAML', got: `a syntax error: ${what}`, line: pos?.line, column: pos?.col };
    });
    throw new PolicyError(sourceName, issues);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    throw new PolicyError(sourceName, [
      { path: '', expected: `valid YAML with at most ${MAX_ALIAS_COUNT} alias expansions`, got: err instanceof Error ? err.message : String(err) },
    ]);
  }
  const locate = (path: PolicyPath): { line: number; column: number } | undefined => {
    // The node at the path, or the nearest ancestor that exists (for a missing key).
    for (let n = path.length; n >= 0; n--) {
      const node: unknown = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) {
        const p = lineCounter.linePos(node.range[0]);
        return { line: p.line, column: p.col };
      }
    }
    return undefined;
  };
  return policyFromDocument(value, sourceName, { customPredicates: options.customPredicates, locate });
}

/** The policy in its document form (the YAML keys), every key written out, durations as text. */
export function policyToDocument(policy: Policy): Record<string, unknown> {
  return {
    name: policy.name,
    defaultStrategy: policy.defaultStrategy,
    fieldStrategies: { ...policy.fieldStrategies },
    rules: policy.rules.map((r) => ({ name: r.name, predicate: r.predicate, strategy: r.strategy, priority: r.priority })),
    escalations: policy.escalations.map((e) => ({ name: e.name, predicate: e.predicate, action: e.action, priority: e.priority })),
    maxRetries: policy.maxRetries,
    manualThreshold: policy.manualThreshold,
    timeout: formatDuration(policy.timeoutMs),
    fallback: policy.fallback,
    maxClockSkew: formatDuration(policy.maxClockSkewMs),
    skewAction: policy.skewAction,
  };
}

/**
 * YAML text for a policy; `parsePolicy(serializePolicy(p))` equals `p` (custom predicate functions are
 * written by name and must be supplied again when parsing).
 */
export function serializePolicy(policy: Policy): string {
  return stringify(policyToDocument(policy), { lineWidth: 0 });
}
