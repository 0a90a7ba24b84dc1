import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PolicyBuilder } from '../../../src/core/policy/builder.js';
import { formatDecision } from '../../../src/core/policy/decision-record.js';
import { PolicyEngine, resolveConflict, selectStrategy, type DecideContext } from '../../../src/core/policy/engine.js';
import { PolicyManager } from '../../../src/core/policy/manager.js';
import { field, isSeverity, isType, severityAtLeast } from '../../../src/core/policy/predicates.js';
import { developmentPolicy, productionPolicy } from '../../../src/core/policy/presets.js';
import type { Policy } from '../../../src/core/policy/types.js';
import type { PolicyStep } from '../../../src/core/resolve/types.js';
import { conflict, conflictArb, ExpectedFailure, fakeRegistry, T0, version } from './fixtures.js';

const NOW = T0 + 1000;
const ctx: DecideContext = { now: NOW };

/** The path as `step:matched` pairs (details are checked where they matter). */
function steps(path: readonly PolicyStep[]): string[] {
  return path.map((s) => `${s.step}:${s.matched ? 'yes' : 'no'}`);
}

const BUILTIN_NO = ['severity_critical:no', 'invariant_violation:no', 'complexity_threshold:no'];

describe('decision tree, step by step (spec "Policy Decision Tree")', () => {
  it('(1) critical severity → automatic rollback when the policy has no matching escalation', () => {
    const reg = fakeRegistry();
    const lkg = version('n1', T0, { id: 'vm-123', power_state: 'running' }, { n1: 1 });
    const { result, record } = resolveConflict(
      developmentPolicy,
      conflict({ severity: 'critical', type: 'semantic' }),
      { now: NOW, lastKnownGood: lkg },
      reg.deps,
    );
    expect(steps(record.path)).toEqual(['severity_critical:yes']);
    expect(record.strategy).toBe('automatic_rollback');
    expect(record.outcome).toBe('rollback');
    expect(result).toMatchObject({ outcome: 'deferred', to: 'rollback', rollbackTarget: lkg });
    expect(record.result.map((v) => v.versionId)).toEqual([lkg.id]);
    expect(record.discarded).toHaveLength(2);
    expect(reg.calls.map((c) => c.name)).toEqual(['automatic_rollback']);
    expect(reg.calls[0]!.ctx.lastKnownGood).toBe(lkg);
  });

  it("(1) + the production escalation: critical_conflicts (critical → manual) wins over the built-in rollback", () => {
    const reg = fakeRegistry();
    const { record, result } = resolveConflict(productionPolicy, conflict({ severity: 'critical', type: 'semantic' }), ctx, reg.deps);
    expect(steps(record.path)).toEqual(['severity_critical:yes', 'escalation:yes']);
    expect(record.path[1]!.detail).toContain('critical_conflicts');
    expect(record.path[1]!.detail).toContain('overrides built-in automatic_rollback');
    expect(record.strategy).toBe('manual_intervention');
    expect(record.outcome).toBe('pending_manual');
    expect(result).toMatchObject({ outcome: 'deferred', to: 'manual' });
  });

  it('(1) escalations are consulted by priority; non-matching ones are recorded; ordinary rules never override', () => {
    const policy = new PolicyBuilder('p')
      .withRule('lww_everything', severityAtLeast('low'), 'last_write_wins', 1000)
      .withEscalation('only_semantic', isType('semantic'), 'manual', 90)
      .withEscalation('only_invariant', isType('invariant_violation'), 'manual', 100)
      .build();
    const sel = selectStrategy(policy, conflict({ severity: 'critical', type: 'semantic' }));
    expect(steps(sel.path)).toEqual(['severity_critical:yes', 'escalation:no', 'escalation:yes']);
    expect(sel).toMatchObject({ strategy: 'manual_intervention', by: 'escalation', rule: 'only_semantic' });
    const sel2 = selectStrategy(policy, conflict({ severity: 'critical', type: 'concurrent_update' }));
    expect(steps(sel2.path)).toEqual(['severity_critical:yes', 'escalation:no', 'escalation:no']);
    expect(sel2).toMatchObject({ strategy: 'automatic_rollback', by: 'severity_critical' });
  });

  it('(2) invariant violation → manual; the spec\'s critical_safety escalation turns it into a rollback', () => {
    const reg = fakeRegistry();
    const c = conflict({ type: 'invariant_violation', severity: 'high' });
    const { record } = resolveConflict(developmentPolicy, c, ctx, reg.deps);
    expect(steps(record.path)).toEqual(['severity_critical:no', 'invariant_violation:yes']);
    expect(record.strategy).toBe('manual_intervention');
    expect(record.outcome).toBe('pending_manual');

    const criticalSafety = new PolicyBuilder('critical_safety')
      .withEscalation('invariant_violation', isType('invariant_violation'), 'rollback', 100)
      .build();
    const r2 = resolveConflict(criticalSafety, c, ctx, reg.deps).record;
    expect(steps(r2.path)).toEqual(['severity_critical:no', 'invariant_violation:yes', 'escalation:yes']);
    expect(r2.strategy).toBe('automatic_rollback');
    expect(r2.outcome).toBe('rollback');
    expect(r2.result).toEqual([]); // no last known good supplied

    // production: critical_conflicts also matches invariant violations → manual, via the escalation
    const r3 = resolveConflict(productionPolicy, c, ctx, reg.deps).record;
    expect(steps(r3.path)).toEqual(['severity_critical:no', 'invariant_violation:yes', 'escalation:yes']);
    expect(r3.strategy).toBe('manual_intervention');
  });

  it('(3) complexity strictly above the threshold → manual', () => {
    const reg = fakeRegistry();
    const above = resolveConflict(productionPolicy, conflict({ complexity: 0.71 }), ctx, reg.deps).record;
    expect(steps(above.path)).toEqual(['severity_critical:no', 'invariant_violation:no', 'complexity_threshold:yes', 'escalation:no']);
    expect(above.path[2]!.detail).toBe(
      'complexity 0.71 > threshold 0.7 → manual_intervention (built-in; a matching policy escalation takes precedence)',
    );
    expect(above.strategy).toBe('manual_intervention');
    expect(above.outcome).toBe('pending_manual');

    const at = selectStrategy(productionPolicy, conflict({ complexity: 0.7 }));
    expect(at.path[2]).toEqual({ step: 'complexity_threshold', matched: false, detail: 'complexity 0.7 <= threshold 0.7' });
    expect(at.by).not.toBe('complexity_threshold');
    expect(selectStrategy(developmentPolicy, conflict({ complexity: 0.8 })).by).toBe('default'); // dev threshold 0.9
  });

  it('(4) production rule concurrent_safe → multi-value register, after the higher-priority escalation', () => {
    const reg = fakeRegistry();
    const { record, result } = resolveConflict(productionPolicy, conflict({ complexity: 0.3 }), ctx, reg.deps);
    expect(steps(record.path)).toEqual([...BUILTIN_NO, 'escalation:no', 'rule:yes', 'field_strategy:yes']);
    expect(record.path[3]!.detail).toBe('critical_conflicts (priority 100): any(severity = critical, type = invariant_violation)');
    expect(record.path[4]!.detail).toBe(
      'concurrent_safe (priority 50): all(type = concurrent_update, complexity < 0.5) → multi_value_register',
    );
    expect(record.path[5]).toEqual({ step: 'field_strategy', matched: true, detail: 'power_state → highest_priority' });
    expect(record.strategy).toBe('multi_value_register');
    expect(record.outcome).toBe('siblings');
    expect(result.outcome).toBe('siblings');
    expect(record.result).toHaveLength(2);
  });

  it('(5) nothing matched → default strategy', () => {
    const reg = fakeRegistry();
    const c = conflict({ type: 'resource_contention', complexity: 0.6, fields: ['memory_mb'] });
    const { record, result } = resolveConflict(productionPolicy, c, ctx, reg.deps);
    expect(steps(record.path)).toEqual([...BUILTIN_NO, 'escalation:no', 'rule:no', 'default:yes']);
    expect(record.path.at(-1)!.detail).toBe('no rule matched → default strategy last_write_wins');
    expect(record.strategy).toBe('last_write_wins');
    expect(record.outcome).toBe('resolved');
    expect(result.outcome).toBe('resolved');
    // the fake LWW keeps the later version's content: the earlier one lost to it
    const [a, b] = c.versions;
    expect(record.discarded).toEqual([
      { versionId: a!.id, reason: expect.stringContaining(`lost to ${b!.id.slice(0, 12)} from n2 under last_write_wins`) as string },
      { versionId: b!.id, reason: expect.stringContaining('same content as the result') as string },
    ]);
  });
});

describe('rule ordering', () => {
  const c = conflict();
  it('higher priority first, whatever the declaration order; ties broken by name; escalations and rules interleave', () => {
    const p = new PolicyBuilder('order')
      .withRule('low', isType('concurrent_update'), 'semantic_merge', 10)
      .withRule('zeta', isType('concurrent_update'), 'highest_priority', 90)
      .withRule('alpha', isType('semantic'), 'operational_transform', 90)
      .withRule('beta', isType('concurrent_update'), 'consensus_vote', 90)
      .withEscalation('esc', isSeverity('low'), 'manual', 95)
      .build();
    const sel = selectStrategy(p, c);
    expect(steps(sel.path).slice(3)).toEqual(['escalation:no', 'rule:no', 'rule:yes']);
    expect(sel.path.slice(3).map((s) => s.detail.split(' ')[0])).toEqual(['esc', 'alpha', 'beta']);
    expect(sel).toMatchObject({ strategy: 'consensus_vote', by: 'rule', rule: 'beta' });
  });

  it('an escalation outranking a rule decides', () => {
    const p = new PolicyBuilder('esc')
      .withRule('r', isType('concurrent_update'), 'last_write_wins', 50)
      .withEscalation('e', field('power_state'), 'rollback', 60)
      .build();
    expect(selectStrategy(p, c)).toMatchObject({ strategy: 'automatic_rollback', by: 'escalation', rule: 'e' });
  });

  it('the selection does not depend on the order rules were declared in (property)', () => {
    const rules = [
      ['a', isType('concurrent_update'), 'semantic_merge', 5],
      ['b', severityAtLeast('medium'), 'highest_priority', 5],
      ['c', field('power_state'), 'consensus_vote', 7],
      ['d', isSeverity('low'), 'operational_transform', 9],
      ['e', field('memory_mb'), 'multi_value_register', 3],
    ] as const;
    fc.assert(
      fc.property(fc.shuffledSubarray([...rules], { minLength: rules.length }), conflictArb, (order, conf) => {
        const build = (rs: typeof order): Policy => rs.reduce((b, [n, p, s, pr]) => b.withRule(n, p, s, pr), new PolicyBuilder('x')).build();
        const x = selectStrategy(build(order), conf);
        const y = selectStrategy(build([...rules]), conf);
        expect(x.strategy).toBe(y.strategy);
        expect(x.path).toEqual(y.path);
      }),
    );
  });
});

describe('field strategies', () => {
  it('records a step per touched field strategy and passes all of them to the strategy', () => {
    const reg = fakeRegistry();
    const p = new PolicyBuilder('f')
      .withFieldStrategy('power_state', 'highest_priority')
      .withFieldStrategy('network_config', 'semantic_merge')
      .withFieldStrategy('snapshot_id', 'last_write_wins')
      .build();
    const { record } = resolveConflict(p, conflict({ fields: ['power_state', 'network_config.interfaces[0].ip'] }), ctx, reg.deps);
    expect(record.path.filter((s) => s.step === 'field_strategy').map((s) => s.detail)).toEqual([
      'power_state → highest_priority',
      'network_config → semantic_merge',
    ]);
    expect(reg.calls[0]!.ctx.fieldStrategies).toEqual({
      power_state: 'highest_priority',
      network_config: 'semantic_merge',
      snapshot_id: 'last_write_wins',
    });
  });

  it('hands the policy clock skew settings and the caller context to the strategy', () => {
    const reg = fakeRegistry();
    const p = new PolicyBuilder('skew').withMaxClockSkew('150ms').withSkewAction('escalate').build();
    const ancestor = version('n1', T0, { id: 'vm-123' }, { n1: 1 });
    resolveConflict(p, conflict(), { now: NOW, nodePriorities: { n1: 5 }, ancestor }, reg.deps);
    expect(reg.calls[0]!.ctx).toMatchObject({ maxClockSkewMs: 150, skewAction: 'escalate', nodePriorities: { n1: 5 }, ancestor });
    expect(reg.calls[0]!.ctx.semanticRules.names()).toContain('vm_config'); // the built-in rules by default
  });
});

describe('retries, fallback and errors', () => {
  const policy = new PolicyBuilder('retry').withDefaultStrategy('semantic_merge').withMaxRetries(3).withFallback('last_write_wins').build();

  it('retries a strategy that throws a DwcpError, recording each retry', () => {
    const reg = fakeRegistry();
    reg.failing('semantic_merge', 2);
    const { record } = resolveConflict(policy, conflict({ fields: [] }), ctx, reg.deps);
    expect(steps(record.path)).toEqual([...BUILTIN_NO, 'default:yes', 'retry:yes', 'retry:yes']);
    expect(record.path[4]!.detail).toBe('attempt 1 of 4 of semantic_merge failed (ERR_TEST_TRANSIENT: transient failure); retrying');
    expect(record.strategy).toBe('semantic_merge');
    expect(record.outcome).toBe('resolved');
    expect(reg.calls.map((c) => c.name)).toEqual(['semantic_merge', 'semantic_merge', 'semantic_merge']);
  });

  it('after maxRetries the fallback runs', () => {
    const reg = fakeRegistry();
    reg.failing('semantic_merge', Infinity);
    const { record, result } = resolveConflict(policy, conflict({ fields: [] }), ctx, reg.deps);
    expect(steps(record.path)).toEqual([...BUILTIN_NO, 'default:yes', 'retry:yes', 'retry:yes', 'retry:yes', 'fallback:yes']);
    expect(record.path.at(-1)!.detail).toMatch(/^semantic_merge failed 4 time\(s\), last: ERR_TEST_TRANSIENT.* → fallback last_write_wins$/);
    expect(record.strategy).toBe('last_write_wins');
    expect(record.outcome).toBe('resolved');
    expect(result.outcome).toBe('resolved');
    expect(reg.calls.map((c) => c.name)).toEqual([...Array<string>(4).fill('semantic_merge'), 'last_write_wins']);
  });

  it('maxRetries 0 goes straight to the fallback', () => {
    const reg = fakeRegistry();
    reg.failing('semantic_merge', 1);
    const p = PolicyBuilder.from(policy).withMaxRetries(0).build();
    const { record } = resolveConflict(p, conflict({ fields: [] }), ctx, reg.deps);
    expect(steps(record.path)).toEqual([...BUILTIN_NO, 'default:yes', 'fallback:yes']);
  });

  it('a non-DwcpError (a bug) is not retried: strategy_error, then the fallback', () => {
    const reg = fakeRegistry();
    reg.failing('semantic_merge', Infinity, () => new TypeError('boom'));
    const { record } = resolveConflict(policy, conflict({ fields: [] }), ctx, reg.deps);
    expect(steps(record.path)).toEqual([...BUILTIN_NO, 'default:yes', 'strategy_error:yes', 'fallback:yes']);
    expect(record.path[4]!.detail).toContain('TypeError: boom');
    expect(record.strategy).toBe('last_write_wins');
  });

  it('a strategy missing from the registry is a strategy_error', () => {
    const reg = fakeRegistry();
    reg.missing.add('semantic_merge');
    const { record } = resolveConflict(policy, conflict({ fields: [] }), ctx, reg.deps);
    expect(record.path[4]!.detail).toContain('no strategy registered under semantic_merge');
    expect(record.strategy).toBe('last_write_wins');
  });

  it('the fallback failing too gives the failed outcome, deferred to an operator, without throwing', () => {
    const reg = fakeRegistry();
    reg.failing('semantic_merge', Infinity);
    reg.failing('last_write_wins', Infinity);
    const { record, result } = resolveConflict(policy, conflict({ fields: [] }), ctx, reg.deps);
    expect(steps(record.path).slice(-2)).toEqual(['fallback:yes', 'strategy_error:yes']);
    expect(record.outcome).toBe('failed');
    expect(result).toMatchObject({ outcome: 'deferred', to: 'manual' });
    expect(record.notes[0]).toContain('automatic resolution failed');
  });

  it('a fallback equal to the failing strategy is not run again', () => {
    const reg = fakeRegistry();
    reg.failing('last_write_wins', Infinity);
    const { record } = resolveConflict(PolicyBuilder.from(policy).withDefaultStrategy('last_write_wins').build(), conflict({ fields: [] }), ctx, reg.deps);
    expect(steps(record.path).slice(-1)).toEqual(['fallback:no']);
    expect(record.outcome).toBe('failed');
    expect(reg.calls).toHaveLength(4);
  });
});

describe('throwing user rules', () => {
  it('a throwing rule is recorded as rule_error and the fallback resolves; nothing throws', () => {
    const reg = fakeRegistry();
    const p = new PolicyBuilder('user')
      .withDefaultStrategy('semantic_merge')
      .withFallback('highest_priority')
      .withRule('fine', isType('semantic'), 'operational_transform', 90)
      .withRule(
        'broken',
        () => {
          throw new Error('rule bug');
        },
        'consensus_vote',
        50,
      )
      .withRule('never_reached', isType('concurrent_update'), 'multi_value_register', 10)
      .build();
    const { record } = resolveConflict(p, conflict(), ctx, reg.deps);
    expect(steps(record.path)).toEqual([...BUILTIN_NO, 'rule:no', 'rule_error:yes', 'fallback:yes']);
    expect(record.path[4]!.detail).toBe('rule broken threw (Error: rule bug) → fallback highest_priority');
    expect(record.strategy).toBe('highest_priority');
    expect(record.outcome).toBe('resolved');
    expect(reg.calls.map((c) => c.name)).toEqual(['highest_priority']);
  });

  it('a throwing escalation consulted after a built-in step is skipped; the built-in action stands', () => {
    const reg = fakeRegistry();
    const p = new PolicyBuilder('user')
      .withEscalation(
        'broken',
        () => {
          throw new Error('escalation bug');
        },
        'manual',
        100,
      )
      .build();
    const { record } = resolveConflict(p, conflict({ severity: 'critical' }), ctx, reg.deps);
    expect(steps(record.path)).toEqual(['severity_critical:yes', 'rule_error:yes']);
    expect(record.strategy).toBe('automatic_rollback');
  });
});

describe('timeout', () => {
  const p = new PolicyBuilder('t').withDefaultStrategy('semantic_merge').withTimeout('30s').withFallback('last_write_wins').build();

  it('a conflict older than the timeout goes to the fallback', () => {
    const reg = fakeRegistry();
    const c = conflict({ detectedAt: NOW - 30_001, fields: [] });
    const { record } = resolveConflict(p, c, ctx, reg.deps);
    expect(steps(record.path)).toEqual([...BUILTIN_NO, 'default:yes', 'timeout:yes', 'fallback:yes']);
    expect(record.path[4]!.detail).toBe('conflict is 30001 ms old, over the policy timeout of 30000 ms; semantic_merge not run');
    expect(record.strategy).toBe('last_write_wins');
    expect(reg.calls.map((x) => x.name)).toEqual(['last_write_wins']);
  });

  it('exactly at the timeout, or with a clock behind detection, the chosen strategy runs', () => {
    const reg = fakeRegistry();
    expect(resolveConflict(p, conflict({ detectedAt: NOW - 30_000 }), ctx, reg.deps).record.strategy).toBe('semantic_merge');
    expect(resolveConflict(p, conflict({ detectedAt: NOW + 5_000 }), ctx, reg.deps).record.strategy).toBe('semantic_merge');
  });

  it('never turns a manual or rollback decision into an automatic one', () => {
    const reg = fakeRegistry();
    const old = NOW - 3_600_000;
    const manual = resolveConflict(p, conflict({ detectedAt: old, complexity: 0.95 }), ctx, reg.deps).record;
    expect(manual.strategy).toBe('manual_intervention');
    expect(manual.path.some((s) => s.step === 'timeout')).toBe(false);
    const rollback = resolveConflict(p, conflict({ detectedAt: old, severity: 'critical' }), ctx, reg.deps).record;
    expect(rollback.strategy).toBe('automatic_rollback');
  });
});

describe('decision record', () => {
  it('summarises inputs, ordering, classification and the time of decision', () => {
    const reg = fakeRegistry();
    const c = conflict();
    const { record } = resolveConflict(productionPolicy, c, { now: NOW }, reg.deps);
    const [a, b] = c.versions;
    expect(record).toMatchObject({
      conflictId: c.id,
      resourceId: 'vm/vm-123',
      type: 'concurrent_update',
      severity: 'medium',
      complexity: 0.3,
      reasons: c.reasons,
      policy: 'production',
      decidedAt: NOW,
    });
    expect(record.inputs).toEqual([
      { versionId: a!.id, clock: { n1: 2, n2: 1 }, hlc: { wall: T0 + 10, logical: 0 }, origin: 'n1', digest: a!.digest, deleted: false },
      { versionId: b!.id, clock: { n1: 1, n2: 2 }, hlc: { wall: T0 + 20, logical: 0 }, origin: 'n2', digest: b!.digest, deleted: false },
    ]);
    expect(record.ordering).toBe(
      `clocks concurrent; by (hlc, node id): ${a!.id.slice(0, 12)} (n1 @ ${T0 + 10}.0000) < ${b!.id.slice(0, 12)} (n2 @ ${T0 + 20}.0000)`,
    );
    expect(JSON.parse(JSON.stringify(record))).toEqual(record); // plain, serialisable data
  });

  it('is deterministic: the same inputs give the same record', () => {
    fc.assert(
      fc.property(conflictArb, (c) => {
        const x = resolveConflict(productionPolicy, c, ctx, fakeRegistry().deps).record;
        const y = resolveConflict(productionPolicy, c, ctx, fakeRegistry().deps).record;
        expect(x).toEqual(y);
        expect(x.path.length).toBeGreaterThan(0);
      }),
    );
  });

  it('every conflict gets a decision and a non-empty path, under both presets (property)', () => {
    fc.assert(
      fc.property(conflictArb, fc.constantFrom(productionPolicy, developmentPolicy), (c, p) => {
        const { record } = resolveConflict(p, c, ctx, fakeRegistry().deps);
        expect(record.path[0]!.step).toBe('severity_critical');
        if (c.severity === 'critical') expect(['automatic_rollback', 'manual_intervention']).toContain(record.strategy);
        if (c.type === 'invariant_violation') expect(['automatic_rollback', 'manual_intervention']).toContain(record.strategy);
        if (c.complexity > p.manualThreshold) expect(['automatic_rollback', 'manual_intervention']).toContain(record.strategy);
      }),
    );
  });

  it('formatDecision says what conflicted, which rule applied, and why', () => {
    const reg = fakeRegistry();
    const text = formatDecision(resolveConflict(productionPolicy, conflict(), ctx, reg.deps).record);
    expect(text).toContain('conflict c0ffee012345 on vm/vm-123: concurrent_update, severity medium, complexity 0.30');
    expect(text).toContain('policy production: rule concurrent_safe (priority 50): all(type = concurrent_update, complexity < 0.5) → multi_value_register');
    expect(text).toContain('path: severity_critical no > invariant_violation no > complexity_threshold no > escalation critical_conflicts no > rule concurrent_safe yes');
    expect(text).toContain('outcome: 2 versions kept as siblings by multi_value_register');
    expect(text).toContain(`decided at ${new Date(NOW).toISOString()}`);

    const crit = formatDecision(resolveConflict(productionPolicy, conflict({ severity: 'critical' }), ctx, reg.deps).record);
    expect(crit).toContain('escalation critical_conflicts (priority 100)');
    expect(crit).toContain('outcome: waiting for an operator');

    const reg2 = fakeRegistry();
    reg2.failing('last_write_wins', 1, () => new ExpectedFailure('disk on fire'));
    const dflt = formatDecision(
      resolveConflict(PolicyBuilder.from(productionPolicy).withMaxRetries(1).build(), conflict({ type: 'semantic', fields: [] }), ctx, reg2.deps).record,
    );
    expect(dflt).toContain('retry: attempt 1 of 2 of last_write_wins failed (ERR_TEST_TRANSIENT: disk on fire); retrying');
    expect(dflt).toContain('outcome: resolved by last_write_wins');
    expect(dflt).toMatch(/discarded [0-9a-f]{12}: lost to [0-9a-f]{12} from n2 under last_write_wins/);
  });
});

describe('PolicyEngine', () => {
  it('decides with a fixed policy or follows the active policy of a manager', () => {
    const reg = fakeRegistry();
    const manager = PolicyManager.withPresets('production');
    const engine = new PolicyEngine(manager, reg.deps);
    const c = conflict({ type: 'semantic', complexity: 0.3 });
    expect(engine.decide(c, ctx).record.strategy).toBe('last_write_wins');
    manager.setActive('development');
    expect(engine.policy).toBe(developmentPolicy);
    expect(engine.decide(c, ctx).record).toMatchObject({ policy: 'development', strategy: 'multi_value_register' });
    expect(engine.select(c).by).toBe('default');

    const fixed = new PolicyEngine(productionPolicy, reg.deps);
    expect(fixed.policy).toBe(productionPolicy);
    expect(fixed.decide(c, ctx).record.policy).toBe('production');
  });
});
