import { describe, expect, it, vi } from 'vitest';
import { PolicyBuilder } from '../../../src/core/policy/builder.js';
import { PolicyError } from '../../../src/core/policy/errors.js';
import { PolicyManager, type PolicyChange } from '../../../src/core/policy/manager.js';
import { developmentPolicy, productionPolicy } from '../../../src/core/policy/presets.js';

describe('PolicyManager', () => {
  it('holds named policies and starts with the first one (or the one named) active', () => {
    const m = new PolicyManager({ policies: [productionPolicy, developmentPolicy] });
    expect(m.active()).toBe(productionPolicy);
    expect(m.names()).toEqual(['development', 'production']);
    expect(m.get('development')).toBe(developmentPolicy);
    expect(m.has('production')).toBe(true);
    expect(new PolicyManager({ policies: [productionPolicy, developmentPolicy], active: 'development' }).active()).toBe(developmentPolicy);
    expect(PolicyManager.withPresets('development').active()).toBe(developmentPolicy);
  });

  it('swaps the active policy at run time and tells listeners once per change', () => {
    const m = PolicyManager.withPresets();
    const seen: PolicyChange[] = [];
    const stop = m.onChange((c) => seen.push(c));
    expect(m.setActive('development')).toBe(developmentPolicy);
    expect(m.active()).toBe(developmentPolicy);
    m.setActive('development'); // already active: no event
    expect(seen).toEqual([{ previous: productionPolicy, current: developmentPolicy, reason: 'activated' }]);
    stop();
    m.setActive('production');
    expect(seen).toHaveLength(1);
  });

  it('re-registering the active policy with replace swaps it in place', () => {
    const m = PolicyManager.withPresets();
    const listener = vi.fn();
    m.onChange(listener);
    const stricter = PolicyBuilder.from(productionPolicy).withManualThreshold(0.5).build();
    m.register(stricter, { replace: true });
    expect(m.active()).toBe(stricter);
    expect(listener).toHaveBeenCalledWith({ previous: productionPolicy, current: stricter, reason: 'replaced' });
    m.register(PolicyBuilder.from(developmentPolicy).withMaxRetries(1).build(), { replace: true }); // not active: no event
    expect(listener).toHaveBeenCalledTimes(1);
  });

  it('rejects unknown names, duplicates, removing the active policy, and reading with none active', () => {
    const m = PolicyManager.withPresets();
    const codeOf = (fn: () => unknown): unknown => {
      try {
        fn();
      } catch (err) {
        expect(err).toBeInstanceOf(PolicyError);
        return (err as PolicyError).code;
      }
      return 'no error';
    };
    expect(codeOf(() => m.setActive('staging'))).toBe('ERR_POLICY');
    expect(codeOf(() => m.get('staging'))).toBe('ERR_POLICY');
    expect(codeOf(() => m.register(productionPolicy))).toBe('ERR_POLICY');
    expect(codeOf(() => m.unregister('production'))).toBe('ERR_POLICY');
    expect(m.unregister('development')).toBe(true);
    expect(m.unregister('development')).toBe(false);
    expect(codeOf(() => new PolicyManager().active())).toBe('ERR_POLICY');
    expect(() => m.setActive('staging')).toThrow(/registered policy: production/);
  });

  it('a throwing listener does not stop the others nor undo the change', () => {
    const m = PolicyManager.withPresets();
    const after = vi.fn();
    m.onChange(() => {
      throw new Error('listener bug');
    });
    m.onChange(after);
    expect(() => m.setActive('development')).toThrow('listener bug');
    expect(after).toHaveBeenCalledTimes(1);
    expect(m.active()).toBe(developmentPolicy);

    const errors: unknown[] = [];
    const quiet = new PolicyManager({ policies: [productionPolicy, developmentPolicy], onListenerError: (e) => errors.push(e) });
    quiet.onChange(() => {
      throw new Error('again');
    });
    expect(() => quiet.setActive('development')).not.toThrow();
    expect(errors).toHaveLength(1);
  });
});
