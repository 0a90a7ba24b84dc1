/**
 * Named policies and the one that is active, swappable at run time (the spec's PolicyManager). A
 * {@link PolicyEngine} built on the manager picks the new policy up on its next decision; listeners
 * hear about every change.
 */
import type { PolicySource } from './engine.js';
import { PolicyError } from './errors.js';
import { policyPresets, type PresetName } from './presets.js';
import type { Policy } from './types.js';

export interface PolicyChange {
  /** The policy active before (undefined for the first activation). */
  readonly previous: Policy | undefined;
  readonly current: Policy;
  /** `activated`: another policy was made active; `replaced`: the active policy was re-registered. */
  readonly reason: 'activated' | 'replaced';
}

export type PolicyChangeListener = (change: PolicyChange) => void;

export interface PolicyManagerInit {
  readonly policies?: readonly Policy[];
  /** The policy active at start; default: the first of `policies`. */
  readonly active?: string;
  /**
   * Called with an error thrown by a change listener. Default: every listener is still notified, then
   * the first error is rethrown from `setActive` / `register` (the change itself has happened).
   */
  readonly onListenerError?: (error: unknown, change: PolicyChange) => void;
}

const SOURCE = 'PolicyManager';

export class PolicyManager implements PolicySource {
  private readonly policies = new Map<string, Policy>();
  private current: Policy | undefined;
  private readonly listeners = new Set<PolicyChangeListener>();
  private readonly onListenerError: PolicyManagerInit['onListenerError'];

  constructor(init: PolicyManagerInit = {}) {
    this.onListenerError = init.onListenerError;
    for (const p of init.policies ?? []) this.register(p);
    const first = init.policies?.[0];
    const start = init.active ?? first?.name;
    if (start !== undefined) this.current = this.get(start);
  }

  /** A manager holding the presets (`production`, `development`), one of them active. */
  static withPresets(active: PresetName = 'production'): PolicyManager {
    return new PolicyManager({ policies: [policyPresets.production, policyPresets.development], active });
  }

  /**
   * Add a policy under its name. A name already registered is an error unless `replace` is set;
   * replacing the active policy makes the new one active at once (a `replaced` change).
   */
  register(policy: Policy, options: { readonly replace?: boolean } = {}): void {
    const existing = this.policies.get(policy.name);
    if (existing !== undefined && options.replace !== true) {
      throw new PolicyError(SOURCE, [
        { path: 'name', expected: `a policy name not registered yet (or register with {replace: true})`, got: JSON.stringify(policy.name) },
      ]);
    }
    this.policies.set(policy.name, policy);
    if (existing !== undefined && this.current === existing && existing !== policy) {
      this.current = policy;
      this.emit({ previous: existing, current: policy, reason: 'replaced' });
    }
  }

  /** Remove a policy; the active one cannot be removed. Returns whether it was registered. */
  unregister(name: string): boolean {
    if (this.current?.name === name) {
      throw new PolicyError(SOURCE, [{ path: 'name', expected: 'a policy that is not the active one', got: JSON.stringify(name) }]);
    }
    return this.policies.delete(name);
  }

  has(name: string): boolean {
    return this.policies.has(name);
  }

  /** The policy registered under `name`; an unknown name is a {@link PolicyError}. */
  get(name: string): Policy {
    const p = this.policies.get(name);
    if (p === undefined) {
      throw new PolicyError(SOURCE, [
        { path: 'name', expected: `a registered policy: ${this.names().join(', ') || 'none are registered'}`, got: JSON.stringify(name) },
      ]);
    }
    return p;
  }

  /** Registered names, sorted. */
  names(): string[] {
    return [...this.policies.keys()].sort();
  }

  /** Make `name` the active policy; listeners hear about it unless it already was. Returns it. */
  setActive(name: string): Policy {
    const next = this.get(name);
    const previous = this.current;
    if (previous === next) return next;
    this.current = next;
    this.emit({ previous, current: next, reason: 'activated' });
    return next;
  }

  /** The active policy; a {@link PolicyError} when none has been set. */
  active(): Policy {
    if (this.current === undefined) {
      throw new PolicyError(SOURCE, [{ path: '', expected: 'an active policy (register one and call setActive)' }]);
    }
    return this.current;
  }

  /** Listen to changes of the active policy; returns the function that stops listening. */
  onChange(listener: PolicyChangeListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  private emit(change: PolicyChange): void {
    let first: { error: unknown } | undefined;
    for (const l of [...this.listeners]) {
      try {
        l(change);
      } catch (error) {
        if (this.onListenerError) this.onListenerError(error, change);
        else first ??= { error };
      }
    }
    if (first) throw first.error;
  }
}
