import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ResolutionError,
  SemanticRuleRegistry,
  UnknownStrategyError,
  createResolutionContext,
  createStrategy,
  strategies,
  strategyFor,
} from '../../../src/core/resolve/index.js';
import { STRATEGIES } from '../../../src/core/resolve/types.js';
import { concurrentVersions, conflictOf, ctxOf, permutations, resultBytes, specVm, ver, vmStateArb } from './helpers.js';

const AUTOMATIC = ['last_write_wins', 'multi_value_register', 'operational_transform', 'semantic_merge', 'highest_priority'];

describe('strategy registry', () => {
  it('creates every strategy by name, and marks the automatic ones', () => {
    for (const name of STRATEGIES) {
      const s = createStrategy(name);
      expect(s.name).toBe(name);
      expect(s.automatic).toBe(AUTOMATIC.includes(name));
      expect(strategies[name].name).toBe(name);
      expect(strategyFor(name)).toBe(strategies[name]);
    }
    expect(strategyFor('nope')).toBeUndefined();
  });

  it('an unknown name is an UnknownStrategyError', () => {
    expect(() => createStrategy('newest_wins')).toThrow(UnknownStrategyError);
    try {
      createStrategy('newest_wins');
    } catch (err) {
      expect(err).toMatchObject({ code: 'ERR_UNKNOWN_STRATEGY', meta: { strategy: 'newest_wins' } });
    }
  });

  it('fills a context with defaults', () => {
    const ctx = createResolutionContext();
    expect(ctx).toMatchObject({ maxClockSkewMs: 0, skewAction: 'siblings', nodePriorities: {}, fieldStrategies: {} });
    expect(ctx.semanticRules).toBeInstanceOf(SemanticRuleRegistry);
    expect(ctx.semanticRules.names()).toEqual(['vm_config']);
  });
});

describe('every strategy', () => {
  const a = ver({ origin: 'hv-01', wall: 1000, data: specVm() });
  const b = ver({ origin: 'hv-02', wall: 2000, data: specVm({ cpu_allocation: 8 }) });

  it('refuses versions of different resources (ResourceMismatchError)', () => {
    const other = ver({ origin: 'hv-02', wall: 2000, data: specVm({ id: 'vm-9' }), resourceId: 'vm/vm-9' });
    for (const name of STRATEGIES) {
      expect(() => strategies[name].resolve(conflictOf([a, other], { resourceId: a.resourceId }), ctxOf()), name).toThrow(
        expect.objectContaining({ code: 'ERR_RESOURCE_MISMATCH' }),
      );
      // also a conflict whose resource id is not the versions' one
      expect(() => strategies[name].resolve(conflictOf([a, b], { resourceId: 'vm/vm-9' }), ctxOf()), name).toThrow(
        expect.objectContaining({ code: 'ERR_RESOURCE_MISMATCH' }),
      );
    }
  });

  it('refuses a conflict without versions (ResolutionError)', () => {
    for (const name of STRATEGIES) expect(() => strategies[name].resolve(conflictOf([]), ctxOf()), name).toThrow(ResolutionError);
  });

  it('gives the same result, byte for byte, for every order of the versions (property)', () => {
    fc.assert(
      fc.property(
        concurrentVersions(3, vmStateArb),
        fc.constantFrom(...STRATEGIES),
        fc.record({ maxClockSkewMs: fc.constantFrom(0, 2), skewAction: fc.constantFrom('siblings' as const, 'escalate' as const) }),
        (vs, name, opts) => {
          const ctx = ctxOf({ ...opts, lastKnownGood: vs[0], fieldStrategies: { power_state: 'highest_priority' }, nodePriorities: { 'hv-02': 5 } });
          const outs = permutations(vs).map((p) => resultBytes(strategies[name].resolve(conflictOf(p), ctx)));
          expect(new Set(outs).size).toBe(1);
        },
      ),
    );
  });
});
