/**
 * Named semantic merge rules, and the built-in `vm_config` rule (the VM field rules).
 *
 * A {@link SemanticRule} sees values only. Rules that need the versions themselves (hlc, origin) and
 * the resolution context — like `vm_config`, whose fields are decided by last-write-wins or by node
 * priority — are still registered as a plain `SemanticRule` (usable anywhere one is expected), with a
 * version-aware form attached by {@link defineVersionRule}; the semantic-merge strategy uses that form
 * when it is there. The values-only form of `vm_config` treats the values as given in version order
 * (oldest first), which is how the semantic-merge strategy passes them.
 */
import type { Hlc } from '../clock/hlc.js';
import type { Version } from '../conflict/version.js';
import { mergeVmStates } from '../vm/field-rules.js';
import { assertSameResource, type MergeEntry } from './common.js';
import { ResolutionError } from './errors.js';
import type { FieldDecision, ResolutionContext, SemanticRule, SemanticRuleRegistryView } from './types.js';

/** What a version-aware rule returns; `hlc`/`origin` default to the newest input's. */
export interface RuleOutcome {
  readonly data: unknown;
  readonly deleted: boolean;
  readonly hlc?: Hlc | undefined;
  readonly origin?: string | undefined;
  readonly fieldDecisions: readonly FieldDecision[];
  readonly notes: readonly string[];
}

/** A rule over the conflicting versions (sorted by `compareVersions`) and the context. */
export type VersionRule = (versions: readonly Version[], ctx: ResolutionContext) => RuleOutcome;

const versionRules = new WeakMap<SemanticRule, VersionRule>();

/** Attach a version-aware form to a values-only rule; returns the rule. */
export function defineVersionRule(rule: SemanticRule, full: VersionRule): SemanticRule {
  versionRules.set(rule, full);
  return rule;
}

export function versionRuleOf(rule: SemanticRule): VersionRule | undefined {
  return versionRules.get(rule);
}

export const VM_CONFIG_RULE = 'vm_config';

/** `vm_config` over bare values (oldest first; `null` = a tombstone): the VM field rules without priorities. */
function vmConfigValues(values: readonly unknown[], ancestor: unknown): unknown {
  const entries: MergeEntry[] = values.map((data, i) => ({
    id: `value-${i}`,
    hlc: { wall: i, logical: 0 },
    origin: 'value',
    data,
    deleted: data === null,
  }));
  const anc: MergeEntry | undefined =
    ancestor === undefined || ancestor === null ? undefined : { id: 'ancestor', hlc: { wall: 0, logical: 0 }, origin: 'ancestor', data: ancestor, deleted: false };
  return mergeVmStates(entries, anc, { nodePriorities: {}, fieldStrategies: {} }).state;
}

/** The built-in VM rule: {@link mergeVmStates} on the versions, with the context's priorities and field strategies. */
export const vmConfigRule: SemanticRule = defineVersionRule(vmConfigValues, (versions, ctx) => {
  const anc = ctx.ancestor;
  if (anc && versions[0]) assertSameResource(versions[0].resourceId, anc, 'vm_config', 'ancestor');
  const r = mergeVmStates(versions, anc, ctx);
  return { data: r.data, deleted: r.deleted, hlc: r.hlc, origin: r.origin, fieldDecisions: r.fieldDecisions, notes: r.notes };
});

const RULE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

/**
 * The semantic rules by name. `vm_config` is registered by default (`{defaults: false}` leaves it
 * out); registering a name again replaces the rule.
 */
export class SemanticRuleRegistry implements SemanticRuleRegistryView {
  private readonly rules = new Map<string, SemanticRule>();

  constructor(init: { readonly defaults?: boolean } = {}) {
    if (init.defaults !== false) this.registerRule(VM_CONFIG_RULE, vmConfigRule);
  }

  registerRule(name: string, rule: SemanticRule): this {
    if (typeof name !== 'string' || !RULE_NAME.test(name)) {
      throw new ResolutionError(`invalid semantic rule name ${JSON.stringify(name)}: expected 1-64 characters of [A-Za-z0-9_.:-]`, {
        rule: name,
        reason: 'invalid_rule_name',
      });
    }
    if (typeof rule !== 'function') {
      throw new ResolutionError(`semantic rule ${name} must be a function (values, ancestor) => merged value`, {
        rule: name,
        reason: 'invalid_rule',
      });
    }
    this.rules.set(name, rule);
    return this;
  }

  get(name: string): SemanticRule | undefined {
    return this.rules.get(name);
  }

  names(): string[] {
    return [...this.rules.keys()].sort();
  }
}

/**
 * The rule semantic merge applies to a resource: `vm/<id>` → `vm_config`; any other `<kind>/...` →
 * `<kind>_config`.
 */
export function semanticRuleNameFor(resourceId: string): string {
  const slash = resourceId.indexOf('/');
  const kind = slash < 0 ? resourceId : resourceId.slice(0, slash);
  return kind === 'vm' ? VM_CONFIG_RULE : `${kind}_config`;
}
