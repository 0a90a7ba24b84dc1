import { describe, expect, it } from 'vitest';
import { PolicyBuilder } from '../../../src/core/policy/builder.js';
import { PolicyError } from '../../../src/core/policy/errors.js';
import { and, complexityBelow, custom, isType, not } from '../../../src/core/policy/predicates.js';
import { POLICY_DEFAULTS, type Predicate } from '../../../src/core/policy/types.js';
import type { StrategyName } from '../../../src/core/resolve/types.js';

function policyError(fn: () => unknown): PolicyError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyError);
    expect((err as PolicyError).code).toBe('ERR_POLICY');
    return err as PolicyError;
  }
  throw new Error('expected a PolicyError');
}

describe('PolicyBuilder', () => {
  it('fills in the spec builder defaults', () => {
    const p = new PolicyBuilder('simple_lww').withDefaultStrategy('last_write_wins').withMaxRetries(3).build();
    expect(p).toEqual({
      name: 'simple_lww',
      defaultStrategy: 'last_write_wins',
      fieldStrategies: {},
      rules: [],
      escalations: [],
      maxRetries: 3,
      manualThreshold: 0.7,
      timeoutMs: 30_000,
      fallback: 'last_write_wins',
      maxClockSkewMs: 0,
      skewAction: 'siblings',
      customPredicates: {},
    });
    expect(POLICY_DEFAULTS.timeoutMs).toBe(30_000);
  });

  it('sets every option', () => {
    const p = new PolicyBuilder('all')
      .withDefaultStrategy('semantic_merge')
      .withFieldStrategy('power_state', 'highest_priority')
      .withFieldStrategy('document_content', 'operational_transform')
      .withFieldStrategy('power_state', 'last_write_wins') // a later call for the same field wins
      .withRule('r', and(isType('concurrent_update'), complexityBelow(0.5)), 'multi_value_register', 50)
      .withEscalation('e', isType('invariant_violation'), 'rollback', 100)
      .withMaxRetries(0)
      .withManualThreshold(1)
      .withTimeout('5m')
      .withFallback('manual_intervention')
      .withMaxClockSkew('250ms')
      .withSkewAction('escalate')
      .build();
    expect(p.fieldStrategies).toEqual({ power_state: 'last_write_wins', document_content: 'operational_transform' });
    expect(p.rules).toEqual([{ name: 'r', predicate: and(isType('concurrent_update'), complexityBelow(0.5)), strategy: 'multi_value_register', priority: 50 }]);
    expect(p.escalations).toEqual([{ name: 'e', predicate: { type: 'invariant_violation' }, action: 'rollback', priority: 100 }]);
    expect(p).toMatchObject({ maxRetries: 0, manualThreshold: 1, timeoutMs: 300_000, fallback: 'manual_intervention', maxClockSkewMs: 250, skewAction: 'escalate' });
  });

  it('builds a deeply frozen policy, and the builder itself is immutable', () => {
    const base = new PolicyBuilder('base').withRule('r', isType('semantic'), 'semantic_merge', 1);
    const a = base.withMaxRetries(1).build();
    const b = base.withMaxRetries(2).withRule('s', isType('semantic'), 'last_write_wins', 2).build();
    expect(a.maxRetries).toBe(1);
    expect(a.rules).toHaveLength(1);
    expect(b.rules).toHaveLength(2);
    expect(Object.isFrozen(a)).toBe(true);
    expect(Object.isFrozen(a.rules)).toBe(true);
    expect(Object.isFrozen(a.rules[0]!.predicate)).toBe(true);
    expect(Object.isFrozen(a.fieldStrategies)).toBe(true);
    expect(() => {
      (a as { maxRetries: number }).maxRetries = 9;
    }).toThrow(TypeError);
  });

  it('registers function predicates as custom predicates named after the rule', () => {
    const isMultiRegion = (): boolean => true;
    const p = new PolicyBuilder('consensus')
      .withRule('multi_region', isMultiRegion, 'consensus_vote', 70)
      .withPredicate('big', () => false)
      .withRule('uses_big', not(custom('big')), 'last_write_wins', 10)
      .build();
    expect(p.rules[0]!.predicate).toEqual({ custom: 'multi_region' });
    expect(p.customPredicates.multi_region).toBe(isMultiRegion);
    expect(Object.keys(p.customPredicates).sort()).toEqual(['big', 'multi_region']);
  });

  it('PolicyBuilder.from reproduces a policy and derives variants', () => {
    const p = new PolicyBuilder('x').withFieldStrategy('a', 'semantic_merge').withRule('r', isType('semantic'), 'semantic_merge', 5).build();
    expect(PolicyBuilder.from(p).build()).toEqual(p);
    expect(PolicyBuilder.from(p).withMaxRetries(9).build().maxRetries).toBe(9);
  });

  it.each<[string, (b: PolicyBuilder) => PolicyBuilder, string]>([
    ['unknown default strategy', (b) => b.withDefaultStrategy('lww' as StrategyName), 'defaultStrategy'],
    ['unknown rule strategy', (b) => b.withRule('r', isType('semantic'), 'bogus' as StrategyName, 1), 'rules[0].strategy'],
    ['unknown field strategy', (b) => b.withFieldStrategy('power_state', 'max' as StrategyName), 'fieldStrategies.power_state'],
    ['unknown fallback', (b) => b.withFallback('none' as StrategyName), 'fallback'],
    ['unknown escalation action', (b) => b.withEscalation('e', isType('semantic'), 'notify' as 'manual', 1), 'escalations[0].action'],
    ['threshold above 1', (b) => b.withManualThreshold(1.5), 'manualThreshold'],
    ['negative threshold', (b) => b.withManualThreshold(-0.1), 'manualThreshold'],
    ['NaN threshold', (b) => b.withManualThreshold(Number.NaN), 'manualThreshold'],
    ['negative retries', (b) => b.withMaxRetries(-1), 'maxRetries'],
    ['fractional retries', (b) => b.withMaxRetries(1.5), 'maxRetries'],
    ['zero timeout', (b) => b.withTimeout(0), 'timeout'],
    ['bad timeout text', (b) => b.withTimeout('soon'), 'timeout'],
    ['negative skew', (b) => b.withMaxClockSkew(-1), 'maxClockSkew'],
    ['bad skew action', (b) => b.withSkewAction('drop' as 'siblings'), 'skewAction'],
    ['fractional priority', (b) => b.withRule('r', isType('semantic'), 'semantic_merge', 1.5), 'rules[0].priority'],
    ['bad predicate type', (b) => b.withRule('r', { type: 'conflict' } as unknown as Predicate, 'semantic_merge', 1), 'rules[0].predicate.type'],
    ['complexity out of range', (b) => b.withRule('r', complexityBelow(2), 'semantic_merge', 1), 'rules[0].predicate.complexityBelow'],
    ['empty all', (b) => b.withRule('r', and(), 'semantic_merge', 1), 'rules[0].predicate.all'],
    ['unregistered custom', (b) => b.withRule('r', custom('nope'), 'semantic_merge', 1), 'rules[0].predicate.custom'],
    ['duplicate rule names', (b) => b.withRule('r', isType('semantic'), 'semantic_merge', 1).withEscalation('r', isType('semantic'), 'manual', 2), 'escalations[0].name'],
    ['empty rule name', (b) => b.withRule(' ', isType('semantic'), 'semantic_merge', 1), 'rules[0].name'],
  ])('rejects %s with ERR_POLICY at %s', (_what, edit, path) => {
    const err = policyError(() => edit(new PolicyBuilder('p')).build());
    expect(err.meta.path).toBe(path);
    expect(err.meta.file).toBe('PolicyBuilder("p")');
    expect(err.message).toContain(path);
    expect(err.message).toContain('expected');
  });

  it('rejects an empty name and reports every problem at once', () => {
    const err = policyError(() => new PolicyBuilder('').withMaxRetries(-1).withFallback('x' as StrategyName).build());
    expect(err.meta.issues.map((i) => i.path)).toEqual(['name', 'maxRetries', 'fallback']);
  });
});
