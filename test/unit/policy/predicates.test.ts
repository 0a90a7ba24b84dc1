import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SEVERITIES, type Conflict } from '../../../src/core/conflict/types.js';
import {
  all,
  And,
  any,
  compilePredicate,
  ComplexityBelow,
  complexityBelow,
  custom,
  describePredicate,
  evaluatePredicate,
  field,
  IsSeverity,
  isSeverity,
  IsType,
  isType,
  Not,
  not,
  Or,
  severityAtLeast,
  touchesField,
} from '../../../src/core/policy/predicates.js';
import type { Predicate } from '../../../src/core/policy/types.js';
import { conflict, conflictArb, predicateArb } from './fixtures.js';

/** The reference: predicates evaluated straight from their definition, written independently. */
function model(p: Predicate, c: Conflict): boolean {
  const [kind] = Object.keys(p);
  const arg = (p as Record<string, unknown>)[kind!];
  switch (kind) {
    case 'all':
      return (arg as Predicate[]).reduce((acc, q) => acc && model(q, c), true);
    case 'any':
      return (arg as Predicate[]).reduce((acc, q) => acc || model(q, c), false);
    case 'not':
      return !model(arg as Predicate, c);
    case 'type':
      return c.type === arg;
    case 'severity':
      return c.severity === arg;
    case 'severityAtLeast':
      return SEVERITIES.indexOf(c.severity) >= SEVERITIES.indexOf(arg as Conflict['severity']);
    case 'complexityBelow':
      return c.complexity < (arg as number);
    case 'field':
      return c.fields.some((f) => f === arg || f.startsWith(`${String(arg)}.`) || f.startsWith(`${String(arg)}[`));
    default:
      throw new Error(`unexpected predicate ${JSON.stringify(p)}`);
  }
}

const equivalent = (p: Predicate, q: Predicate, c: Conflict): boolean => evaluatePredicate(p, c) === evaluatePredicate(q, c);

describe('predicate constructors', () => {
  it('build plain data in the YAML shape', () => {
    expect(And(IsType('concurrent_update'), ComplexityBelow(0.5))).toEqual({
      all: [{ type: 'concurrent_update' }, { complexityBelow: 0.5 }],
    });
    expect(Or(IsSeverity('critical'), IsType('invariant_violation'))).toEqual({
      any: [{ severity: 'critical' }, { type: 'invariant_violation' }],
    });
    expect(Not(field('power_state'))).toEqual({ not: { field: 'power_state' } });
    expect(severityAtLeast('high')).toEqual({ severityAtLeast: 'high' });
    expect(custom('isMultiRegion')).toEqual({ custom: 'isMultiRegion' });
    expect(JSON.parse(JSON.stringify(all(isType('semantic'), not(isSeverity('low')))))).toEqual(all(isType('semantic'), not(isSeverity('low'))));
  });

  it('describe themselves in one line', () => {
    expect(describePredicate(And(IsType('concurrent_update'), ComplexityBelow(0.5)))).toBe(
      'all(type = concurrent_update, complexity < 0.5)',
    );
    expect(describePredicate(Or(IsSeverity('critical'), Not(field('power_state'))))).toBe(
      'any(severity = critical, not(touches power_state))',
    );
    expect(describePredicate(severityAtLeast('high'))).toBe('severity >= high');
    expect(describePredicate(custom('x'))).toBe('custom x');
  });
});

describe('predicate evaluation', () => {
  const c = conflict({ type: 'concurrent_update', severity: 'high', complexity: 0.4, fields: ['network_config.interfaces[0].ip'] });

  it('evaluates each kind', () => {
    expect(evaluatePredicate(isType('concurrent_update'), c)).toBe(true);
    expect(evaluatePredicate(isType('semantic'), c)).toBe(false);
    expect(evaluatePredicate(isSeverity('high'), c)).toBe(true);
    expect(evaluatePredicate(isSeverity('critical'), c)).toBe(false);
    expect(evaluatePredicate(severityAtLeast('medium'), c)).toBe(true);
    expect(evaluatePredicate(severityAtLeast('high'), c)).toBe(true);
    expect(evaluatePredicate(severityAtLeast('critical'), c)).toBe(false);
    expect(evaluatePredicate(complexityBelow(0.5), c)).toBe(true);
    expect(evaluatePredicate(complexityBelow(0.4), c)).toBe(false); // strictly below
    expect(evaluatePredicate(field('network_config'), c)).toBe(true);
    expect(evaluatePredicate(field('network_config.interfaces'), c)).toBe(true);
    expect(evaluatePredicate(field('network'), c)).toBe(false);
    expect(evaluatePredicate(all(), c)).toBe(true);
    expect(evaluatePredicate(any(), c)).toBe(false);
  });

  it('field matches the field itself or a nested path under it, never a prefix of a name', () => {
    expect(touchesField(['power_state'], 'power_state')).toBe(true);
    expect(touchesField(['disk_config[1].size_gb'], 'disk_config')).toBe(true);
    expect(touchesField(['power_state_reason'], 'power_state')).toBe(false);
    expect(touchesField([], 'power_state')).toBe(false);
  });

  it('custom predicates come from the lookup; a missing one throws ERR_POLICY', () => {
    const lookup = (name: string): ((c: Conflict) => boolean) | undefined => (name === 'big' ? (x) => x.fields.length > 0 : undefined);
    expect(evaluatePredicate(custom('big'), c, lookup)).toBe(true);
    expect(compilePredicate(custom('big'), lookup)(c)).toBe(true);
    expect(() => evaluatePredicate(custom('nope'), c, lookup)).toThrow(expect.objectContaining({ code: 'ERR_POLICY' }));
    const compiled = compilePredicate(custom('nope'), lookup); // compiling does not throw
    expect(() => compiled(c)).toThrow(expect.objectContaining({ code: 'ERR_POLICY' }));
  });

  it('evaluate and compile agree with the reference model on random predicates and conflicts', () => {
    fc.assert(
      fc.property(predicateArb, conflictArb, (p, c) => {
        const expected = model(p, c);
        expect(evaluatePredicate(p, c)).toBe(expected);
        expect(compilePredicate(p)(c)).toBe(expected);
        expect(typeof describePredicate(p)).toBe('string');
      }),
    );
  });
});

describe('combinator laws', () => {
  const two = fc.tuple(predicateArb, predicateArb, conflictArb);
  const three = fc.tuple(predicateArb, predicateArb, predicateArb, conflictArb);

  it('not is an involution and excludes the middle', () => {
    fc.assert(
      fc.property(predicateArb, conflictArb, (p, c) => {
        expect(equivalent(not(not(p)), p, c)).toBe(true);
        expect(evaluatePredicate(all(p, not(p)), c)).toBe(false);
        expect(evaluatePredicate(any(p, not(p)), c)).toBe(true);
        expect(evaluatePredicate(not(p), c)).toBe(!model(p, c));
      }),
    );
  });

  it('and / or are commutative, idempotent, and obey De Morgan', () => {
    fc.assert(
      fc.property(two, ([p, q, c]) => {
        expect(equivalent(all(p, q), all(q, p), c)).toBe(true);
        expect(equivalent(any(p, q), any(q, p), c)).toBe(true);
        expect(equivalent(all(p, p), p, c)).toBe(true);
        expect(equivalent(any(p, p), p, c)).toBe(true);
        expect(equivalent(not(all(p, q)), any(not(p), not(q)), c)).toBe(true);
        expect(equivalent(not(any(p, q)), all(not(p), not(q)), c)).toBe(true);
        expect(evaluatePredicate(all(p, q), c)).toBe(model(p, c) && model(q, c));
        expect(evaluatePredicate(any(p, q), c)).toBe(model(p, c) || model(q, c));
      }),
    );
  });

  it('and / or are associative and distribute over each other', () => {
    fc.assert(
      fc.property(three, ([p, q, r, c]) => {
        expect(equivalent(all(all(p, q), r), all(p, all(q, r)), c)).toBe(true);
        expect(equivalent(all(p, q, r), all(p, all(q, r)), c)).toBe(true);
        expect(equivalent(any(any(p, q), r), any(p, any(q, r)), c)).toBe(true);
        expect(equivalent(all(p, any(q, r)), any(all(p, q), all(p, r)), c)).toBe(true);
        expect(equivalent(any(p, all(q, r)), all(any(p, q), any(p, r)), c)).toBe(true);
      }),
    );
  });
});
