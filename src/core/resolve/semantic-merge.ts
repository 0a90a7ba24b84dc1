/**
 * Semantic merge: applies the named rule for the resource's kind from `ctx.semanticRules`
 * (`vm/<id>` → `vm_config`, the VM field rules; see {@link semanticRuleNameFor}). The result carries the
 * joined clock and the rule's field decisions.
 *
 * A rule that is not registered → {@link UnknownSemanticRuleError}; a rule that throws or returns no
 * value (undefined, not encodable) → {@link SemanticRuleFailedError} with the original error as `cause`.
 * Both are {@link ResolutionError}s, which the policy engine records and answers with its fallback.
 *
 * Values-only rules get the versions' data in version order (oldest first; `null` for a tombstone) and
 * the ancestor's data; their result is a live version with the newest input's hlc and origin. Whether
 * such a rule is order-independent and associative is up to the rule.
 */
import type { Conflict } from '../conflict/types.js';
import type { Version } from '../conflict/version.js';
import { DwcpError } from '../errors.js';
import { assertSameResource, maxHlc, newestEntry, prepareVersions, resolvedResult } from './common.js';
import { SemanticRuleFailedError, UnknownSemanticRuleError } from './errors.js';
import { canonicalOf } from './field-merge.js';
import { semanticRuleNameFor, versionRuleOf, type RuleOutcome } from './semantic-rules.js';
import type { ResolutionContext, SemanticRule, Strategy, StrategyResult } from './types.js';

export interface SemanticMergeInit {
  /** Which rule applies to a resource (default {@link semanticRuleNameFor}). */
  readonly ruleFor?: ((resourceId: string) => string) | undefined;
}

export class SemanticMergeStrategy implements Strategy {
  readonly name = 'semantic_merge' as const;
  readonly automatic = true;
  private readonly ruleFor: (resourceId: string) => string;

  constructor(init: SemanticMergeInit = {}) {
    this.ruleFor = init.ruleFor ?? semanticRuleNameFor;
  }

  resolve(conflict: Conflict, ctx: ResolutionContext): StrategyResult {
    const sorted = prepareVersions(conflict, this.name);
    if (ctx.ancestor) assertSameResource(conflict.resourceId, ctx.ancestor, this.name, 'ancestor');
    const ruleName = this.ruleFor(conflict.resourceId);
    const rule = ctx.semanticRules.get(ruleName);
    const meta = { strategy: this.name, rule: ruleName, resourceId: conflict.resourceId, conflictId: conflict.id };
    if (!rule) {
      const available = ctx.semanticRules.names();
      throw new UnknownSemanticRuleError(
        `semantic_merge: no rule ${JSON.stringify(ruleName)} for ${conflict.resourceId} (registered: ${available.length ? available.join(', ') : 'none'})`,
        { ...meta, available, reason: 'unknown_rule' },
      );
    }
    try {
      const full = versionRuleOf(rule);
      const out = full ? full(sorted, ctx) : valuesOnly(rule, ruleName, sorted, ctx);
      if (out.data === undefined) throw new TypeError('the rule returned undefined');
      const newest = newestEntry(sorted);
      return resolvedResult(
        sorted,
        { data: out.data, deleted: out.deleted, hlc: out.hlc ?? maxHlc(sorted), origin: out.origin ?? newest.origin },
        out.fieldDecisions,
        [`${this.name}: rule ${ruleName} merged ${sorted.length} versions`, ...out.notes],
      );
    } catch (err) {
      const causeCode = err instanceof DwcpError ? err.code : undefined;
      const why = err instanceof Error ? err.message : String(err);
      throw new SemanticRuleFailedError(
        `semantic_merge: rule ${ruleName} failed on ${conflict.resourceId}: ${why}`,
        { ...meta, causeCode, reason: 'rule_failed' },
        { cause: err },
      );
    }
  }
}

function valuesOnly(rule: SemanticRule, ruleName: string, sorted: readonly Version[], ctx: ResolutionContext): RuleOutcome {
  const anc = ctx.ancestor && !ctx.ancestor.deleted ? ctx.ancestor.data : undefined;
  const data = rule(
    sorted.map((v) => (v.deleted ? null : v.data)),
    anc,
  );
  const canonical = data === undefined ? '' : canonicalOf(data);
  const holders = sorted.filter((v) => !v.deleted && canonicalOf(v.data) === canonical);
  const winner = holders.length > 0 ? holders[holders.length - 1]!.id : 'merged';
  return {
    data,
    deleted: false,
    fieldDecisions: [{ field: '*', rule: ruleName, winner, detail: `semantic rule ${ruleName} over ${sorted.length} values` }],
    notes: [],
  };
}
