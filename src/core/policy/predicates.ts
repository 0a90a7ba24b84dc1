/**
 * Predicates as data (see {@link Predicate}) with combinator constructors in the spec's style
 * (`And(IsType(...), ComplexityBelow(0.5))`), an evaluator, a compiler to closures (what the engine runs)
 * and a one-line description (what decision records print).
 */
import { severityRank, type Conflict, type ConflictType, type Severity } from '../conflict/types.js';
import { PolicyError } from './errors.js';
import type { Predicate, PredicateFn } from './types.js';

/** Looks up the function behind a `{custom: name}` predicate. */
export type CustomPredicateLookup = (name: string) => PredicateFn | undefined;

const NO_CUSTOM: CustomPredicateLookup = () => undefined;

// ---------------------------------------------------------------------------------------------------
// Constructors (camelCase; the spec's PascalCase names are aliases below)
// ---------------------------------------------------------------------------------------------------

/** All of the predicates match (an empty list matches everything). */
export function all(...predicates: Predicate[]): Predicate {
  return { all: predicates };
}
/** At least one of the predicates matches (an empty list matches nothing). */
export function any(...predicates: Predicate[]): Predicate {
  return { any: predicates };
}
export function not(predicate: Predicate): Predicate {
  return { not: predicate };
}
export function isType(type: ConflictType): Predicate {
  return { type };
}
export function isSeverity(severity: Severity): Predicate {
  return { severity };
}
export function severityAtLeast(severity: Severity): Predicate {
  return { severityAtLeast: severity };
}
/** Complexity strictly below `threshold`. */
export function complexityBelow(threshold: number): Predicate {
  return { complexityBelow: threshold };
}
/** The conflict touches `name` (the field itself or a nested path under it differs). */
export function field(name: string): Predicate {
  return { field: name };
}
/** A named predicate function supplied in code. */
export function custom(name: string): Predicate {
  return { custom: name };
}

export const and = all;
export const or = any;
export const And = all;
export const All = all;
export const Or = any;
export const Any = any;
export const Not = not;
export const IsType = isType;
export const IsSeverity = isSeverity;
export const SeverityAtLeast = severityAtLeast;
export const ComplexityBelow = complexityBelow;
export const Field = field;
export const HasField = field;
export const Custom = custom;

// ---------------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------------

/** True when the conflict's differing fields include `name` or a nested path under it. */
export function touchesField(fields: readonly string[], name: string): boolean {
  for (const f of fields) {
    if (f === name) return true;
    if (f.length > name.length && f.startsWith(name)) {
      const next = f.charCodeAt(name.length);
      if (next === 46 /* . */ || next === 91 /* [ */) return true;
    }
  }
  return false;
}

/**
 * Evaluate a predicate directly (no compilation). Throws {@link PolicyError} for a `{custom}` predicate
 * with no registered function, and whatever a custom function throws.
 */
export function evaluatePredicate(p: Predicate, conflict: Conflict, lookup: CustomPredicateLookup = NO_CUSTOM): boolean {
  if ('all' in p) return p.all.every((q) => evaluatePredicate(q, conflict, lookup));
  if ('any' in p) return p.any.some((q) => evaluatePredicate(q, conflict, lookup));
  if ('not' in p) return !evaluatePredicate(p.not, conflict, lookup);
  if ('type' in p) return conflict.type === p.type;
  if ('severity' in p) return conflict.severity === p.severity;
  if ('severityAtLeast' in p) return severityRank(conflict.severity) >= severityRank(p.severityAtLeast);
  if ('complexityBelow' in p) return conflict.complexity < p.complexityBelow;
  if ('field' in p) return touchesField(conflict.fields, p.field);
  return resolveCustom(p.custom, lookup)(conflict);
}

/**
 * Compile a predicate into a closure (what the engine evaluates on the hot path). A `{custom}` name with
 * no function compiles to a closure that throws, so the failure surfaces as a `rule_error` when the rule
 * is evaluated, never at policy load.
 */
export function compilePredicate(p: Predicate, lookup: CustomPredicateLookup = NO_CUSTOM): PredicateFn {
  if ('all' in p) {
    const qs = p.all.map((q) => compilePredicate(q, lookup));
    if (qs.length === 2) {
      const [a, b] = qs as [PredicateFn, PredicateFn];
      return (c) => a(c) && b(c);
    }
    return (c) => {
      for (const q of qs) if (!q(c)) return false;
      return true;
    };
  }
  if ('any' in p) {
    const qs = p.any.map((q) => compilePredicate(q, lookup));
    if (qs.length === 2) {
      const [a, b] = qs as [PredicateFn, PredicateFn];
      return (c) => a(c) || b(c);
    }
    return (c) => {
      for (const q of qs) if (q(c)) return true;
      return false;
    };
  }
  if ('not' in p) {
    const q = compilePredicate(p.not, lookup);
    return (c) => !q(c);
  }
  if ('type' in p) {
    const t = p.type;
    return (c) => c.type === t;
  }
  if ('severity' in p) {
    const s = p.severity;
    return (c) => c.severity === s;
  }
  if ('severityAtLeast' in p) {
    const r = severityRank(p.severityAtLeast);
    return (c) => severityRank(c.severity) >= r;
  }
  if ('complexityBelow' in p) {
    const x = p.complexityBelow;
    return (c) => c.complexity < x;
  }
  if ('field' in p) {
    const f = p.field;
    return (c) => touchesField(c.fields, f);
  }
  const name = p.custom;
  const fn = lookup(name);
  if (fn) return fn;
  return (c) => resolveCustom(name, lookup)(c);
}

function resolveCustom(name: string, lookup: CustomPredicateLookup): PredicateFn {
  const fn = lookup(name);
  if (!fn) {
    throw new PolicyError('policy', [
      { path: `custom`, expected: `a registered custom predicate named ${JSON.stringify(name)}`, got: 'none registered' },
    ]);
  }
  return fn;
}

/** A short human-readable form, e.g. `all(type = concurrent_update, complexity < 0.5)`. */
export function describePredicate(p: Predicate): string {
  if ('all' in p) return `all(${p.all.map(describePredicate).join(', ')})`;
  if ('any' in p) return `any(${p.any.map(describePredicate).join(', ')})`;
  if ('not' in p) return `not(${describePredicate(p.not)})`;
  if ('type' in p) return `type = ${p.type}`;
  if ('severity' in p) return `severity = ${p.severity}`;
  if ('severityAtLeast' in p) return `severity >= ${p.severityAtLeast}`;
  if ('complexityBelow' in p) return `complexity < ${p.complexityBelow}`;
  if ('field' in p) return `touches ${p.field}`;
  return `custom ${p.custom}`;
}
