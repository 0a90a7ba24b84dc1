import { describe, expect, it } from 'vitest';
import {
  SemanticMergeStrategy,
  SemanticRuleFailedError,
  SemanticRuleRegistry,
  UnknownSemanticRuleError,
  VM_CONFIG_RULE,
  semanticRuleNameFor,
  vmConfigRule,
} from '../../../src/core/resolve/index.js';
import { ResolutionError } from '../../../src/core/resolve/errors.js';
import { InvalidVmStateError, type VMState } from '../../../src/core/vm/state.js';
import { conflictOf, ctxOf, resolvedVersion, specVm, ver } from './helpers.js';

const semantic = new SemanticMergeStrategy();

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('semantic_merge', () => {
  const local = ver({ origin: 'hv-01', wall: 1000, data: specVm() });
  const remote = ver({
    origin: 'hv-02',
    wall: 1001,
    data: specVm({ power_state: 'stopped', memory_mb: 16384, network_config: { interfaces: [{ name: 'eth1', ip: '10.0.1.101' }] } }),
  });

  it('applies the vm_config rule to vm/ resources, with field decisions', () => {
    const r = semantic.resolve(conflictOf([remote, local]), ctxOf());
    const v = resolvedVersion(r);
    const s = v.data as VMState;
    expect([s.power_state, s.memory_mb, s.network_config.interfaces.length]).toEqual(['running', 16384, 2]);
    expect(v.clock.toJSON()).toEqual({ 'hv-01': 1, 'hv-02': 1 });
    if (r.outcome !== 'resolved') return;
    expect(r.fieldDecisions.map((d) => d.field)).toEqual(
      expect.arrayContaining(['power_state', 'host', 'cpu_allocation', 'memory_mb', 'network_config', 'disk_config', 'snapshot_id', 'migration_status']),
    );
    expect(r.notes[0]).toMatch(/rule vm_config/);
  });

  it('honours the production field strategy power_state: highest_priority', () => {
    const ctx = ctxOf({ nodePriorities: { 'hv-02': 10 }, fieldStrategies: { power_state: 'highest_priority' } });
    expect((resolvedVersion(semantic.resolve(conflictOf([local, remote]), ctx)).data as VMState).power_state).toBe('stopped');
  });

  it('an unregistered rule is an UnknownSemanticRuleError (a ResolutionError), naming what is registered', () => {
    const a = ver({ origin: 'hv-01', wall: 1, data: { x: 1 }, resourceId: 'crdt/cart' });
    const b = ver({ origin: 'hv-02', wall: 2, data: { x: 2 }, resourceId: 'crdt/cart' });
    const err = caught(() => semantic.resolve(conflictOf([a, b]), ctxOf()));
    expect(err).toBeInstanceOf(UnknownSemanticRuleError);
    expect(err).toBeInstanceOf(ResolutionError);
    expect(err).toMatchObject({ code: 'ERR_UNKNOWN_SEMANTIC_RULE', meta: { rule: 'crdt_config', available: ['vm_config'] } });
    const empty = caught(() => semantic.resolve(conflictOf([local, remote]), ctxOf({ semanticRules: new SemanticRuleRegistry({ defaults: false }) })));
    expect(empty).toMatchObject({ code: 'ERR_UNKNOWN_SEMANTIC_RULE' });
  });

  it('a rule that throws is a SemanticRuleFailedError with the cause', () => {
    const rules = new SemanticRuleRegistry().registerRule('crdt_config', () => {
      throw new Error('boom');
    });
    const a = ver({ origin: 'hv-01', wall: 1, data: 1, resourceId: 'crdt/cart' });
    const b = ver({ origin: 'hv-02', wall: 2, data: 2, resourceId: 'crdt/cart' });
    const err = caught(() => semantic.resolve(conflictOf([a, b]), ctxOf({ semanticRules: rules })));
    expect(err).toBeInstanceOf(SemanticRuleFailedError);
    expect(err).toMatchObject({ code: 'ERR_SEMANTIC_RULE_FAILED', meta: { rule: 'crdt_config' } });
    expect((err as Error).cause).toBeInstanceOf(Error);
  });

  it('an invalid VM state fails the rule, with the InvalidVmStateError as cause', () => {
    const bad = ver({ origin: 'hv-03', wall: 5, data: { ...specVm(), power_state: 'exploded' } });
    const err = caught(() => semantic.resolve(conflictOf([local, bad]), ctxOf()));
    expect(err).toMatchObject({ code: 'ERR_SEMANTIC_RULE_FAILED', meta: { causeCode: 'ERR_INVALID_VM_STATE' } });
    expect((err as Error).cause).toBeInstanceOf(InvalidVmStateError);
  });

  it('a rule returning undefined or an unencodable value fails the rule', () => {
    const a = ver({ origin: 'hv-01', wall: 1, data: 1, resourceId: 'crdt/c' });
    const b = ver({ origin: 'hv-02', wall: 2, data: 2, resourceId: 'crdt/c' });
    for (const rule of [() => undefined, () => ({ n: Number.NaN }), () => new Map()]) {
      const rules = new SemanticRuleRegistry().registerRule('crdt_config', rule);
      expect(caught(() => semantic.resolve(conflictOf([a, b]), ctxOf({ semanticRules: rules })))).toMatchObject({ code: 'ERR_SEMANTIC_RULE_FAILED' });
    }
  });

  it('runs a values-only rule with the values in version order and the ancestor', () => {
    const seen: unknown[] = [];
    const rules = new SemanticRuleRegistry().registerRule('crdt_config', (values, ancestor) => {
      seen.push(values, ancestor);
      return (values as number[]).reduce((s, x) => s + x, 0);
    });
    const anc = ver({ origin: 'hv-01', wall: 0, data: 0, resourceId: 'crdt/c' });
    const a = ver({ origin: 'hv-01', wall: 3, data: 1, resourceId: 'crdt/c' });
    const b = ver({ origin: 'hv-02', wall: 2, data: 2, resourceId: 'crdt/c' });
    const v = resolvedVersion(semantic.resolve(conflictOf([a, b]), ctxOf({ semanticRules: rules, ancestor: anc })));
    expect(v.data).toBe(3);
    expect(v.origin).toBe('hv-01');
    expect(seen).toEqual([[2, 1], 0]);
  });

  it('lets the caller choose the rule per resource', () => {
    const s = new SemanticMergeStrategy({ ruleFor: () => 'mine' });
    const rules = new SemanticRuleRegistry().registerRule('mine', (values) => values.length);
    expect(resolvedVersion(s.resolve(conflictOf([local, remote]), ctxOf({ semanticRules: rules }))).data).toBe(2);
  });

  it('the values-only form of vm_config merges VM states, newest value last', () => {
    const merged = vmConfigRule([specVm({ snapshot_id: 'old', cpu_allocation: 8 }), specVm({ snapshot_id: 'new', cpu_allocation: 2 })], undefined) as VMState;
    expect([merged.snapshot_id, merged.cpu_allocation]).toEqual(['new', 8]);
    expect(vmConfigRule([specVm({ power_state: 'stopped' }), null], undefined)).toBeNull();
  });
});

describe('SemanticRuleRegistry', () => {
  it('has vm_config by default, lists names sorted, replaces on re-registration', () => {
    const r = new SemanticRuleRegistry();
    expect(r.names()).toEqual([VM_CONFIG_RULE]);
    const f = (): number => 1;
    const g = (): number => 2;
    r.registerRule('b_rule', f).registerRule('a_rule', f).registerRule('b_rule', g);
    expect(r.names()).toEqual(['a_rule', 'b_rule', 'vm_config']);
    expect(r.get('b_rule')).toBe(g);
    expect(r.get('nope')).toBeUndefined();
    expect(new SemanticRuleRegistry({ defaults: false }).names()).toEqual([]);
  });

  it('refuses bad names and non-functions', () => {
    const r = new SemanticRuleRegistry();
    expect(() => r.registerRule('', () => 1)).toThrow(expect.objectContaining({ code: 'ERR_RESOLUTION' }));
    expect(() => r.registerRule('has space', () => 1)).toThrow(ResolutionError);
    expect(() => r.registerRule('ok', 42 as unknown as () => unknown)).toThrow(ResolutionError);
  });

  it('maps resources to rule names', () => {
    expect(semanticRuleNameFor('vm/vm-1')).toBe('vm_config');
    expect(semanticRuleNameFor('host/hv-01')).toBe('host_config');
    expect(semanticRuleNameFor('plain')).toBe('plain_config');
  });
});
