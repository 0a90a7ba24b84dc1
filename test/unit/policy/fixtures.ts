/**
 * Shared fixtures for the policy tests: conflicts built from real versions, and small fake strategies
 * whose behaviour (and failures) a test controls.
 */
import fc from 'fast-check';
import { VectorClock } from '../../../src/core/clock/vector-clock.js';
import { CONFLICT_TYPES, SEVERITIES, type Conflict, type ConflictType, type Severity } from '../../../src/core/conflict/types.js';
import { createVersion, type Version } from '../../../src/core/conflict/version.js';
import { DwcpError } from '../../../src/core/errors.js';
import type { PolicyEngineDeps, StrategyLookup } from '../../../src/core/policy/engine.js';
import type { Predicate } from '../../../src/core/policy/types.js';
import { STRATEGIES, type ResolutionContext, type Strategy, type StrategyName, type StrategyResult } from '../../../src/core/resolve/types.js';

export const T0 = 1_732_800_000_000;

export function version(origin: string, wall: number, data: unknown, clock: Record<string, number>, resourceId = 'vm/vm-123'): Version {
  return createVersion({ resourceId, clock: VectorClock.from(clock), hlc: { wall, logical: 0 }, origin, data });
}

export const vmA = { id: 'vm-123', host: 'hv-01', power_state: 'running', cpu_allocation: 4, memory_mb: 8192 };
export const vmB = { id: 'vm-123', host: 'hv-01', power_state: 'stopped', cpu_allocation: 4, memory_mb: 16384 };

export function twoVersions(): [Version, Version] {
  return [version('n1', T0 + 10, vmA, { n1: 2, n2: 1 }), version('n2', T0 + 20, vmB, { n1: 1, n2: 2 })];
}

export function conflict(over: Partial<Conflict> = {}): Conflict {
  return {
    id: 'c0ffee0123456789abcdef01',
    resourceId: 'vm/vm-123',
    versions: twoVersions(),
    type: 'concurrent_update',
    severity: 'medium',
    complexity: 0.3,
    detectedAt: T0 + 100,
    fields: ['memory_mb', 'power_state'],
    reasons: ['concurrent clocks', 'memory_mb differs', 'power_state differs'],
    ...over,
  };
}

export class ExpectedFailure extends DwcpError {
  constructor(message = 'transient failure') {
    super('ERR_TEST_TRANSIENT', message);
  }
}

/** A fake strategy's result, shaped like the real ones: automatic ones join the clocks. */
function fakeResult(name: StrategyName, c: Conflict, ctx: ResolutionContext): StrategyResult {
  const vs = c.versions;
  switch (name) {
    case 'multi_value_register':
      return { outcome: 'siblings', versions: vs, notes: ['fake mvr: keep all'] };
    case 'manual_intervention':
      return { outcome: 'deferred', to: 'manual', reason: 'fake: an operator decides', candidates: vs, notes: [] };
    case 'consensus_vote':
      return { outcome: 'deferred', to: 'consensus', reason: 'fake: a quorum decides', candidates: vs, notes: [] };
    case 'automatic_rollback':
      return {
        outcome: 'deferred',
        to: 'rollback',
        reason: 'fake: roll back',
        candidates: vs,
        rollbackTarget: ctx.lastKnownGood,
        notes: [],
      };
    default: {
      const winner = vs[vs.length - 1]!;
      const clock = VectorClock.joinAll(vs.map((v) => v.clock));
      const merged = createVersion({ resourceId: winner.resourceId, clock, hlc: winner.hlc, origin: winner.origin, data: winner.data });
      return {
        outcome: 'resolved',
        version: merged,
        discarded: vs,
        fieldDecisions: [],
        notes: [`fake ${name}: latest wins`],
      };
    }
  }
}

export interface FakeRegistry {
  readonly deps: PolicyEngineDeps;
  /** Every strategy run, in order. */
  readonly calls: { name: StrategyName; ctx: ResolutionContext }[];
  /** Make `name` throw this many times (Infinity: always), with `error()` (default: a DwcpError). */
  failing(name: StrategyName, times: number, error?: () => unknown): void;
  /** Strategies the lookup does not know. */
  readonly missing: Set<StrategyName>;
}

export function fakeRegistry(): FakeRegistry {
  const calls: FakeRegistry['calls'] = [];
  const failures = new Map<StrategyName, { left: number; error: () => unknown }>();
  const missing = new Set<StrategyName>();
  const strategies = new Map<StrategyName, Strategy>(
    STRATEGIES.map((name) => [
      name,
      {
        name,
        automatic: !['manual_intervention', 'consensus_vote', 'automatic_rollback'].includes(name),
        resolve(c: Conflict, ctx: ResolutionContext): StrategyResult {
          calls.push({ name, ctx });
          const f = failures.get(name);
          if (f && f.left > 0) {
            f.left--;
            throw f.error();
          }
          return fakeResult(name, c, ctx);
        },
      },
    ]),
  );
  const lookup: StrategyLookup = (name) => (missing.has(name) ? undefined : strategies.get(name));
  return {
    deps: { strategies: lookup },
    calls,
    missing,
    failing(name, times, error = () => new ExpectedFailure()) {
      failures.set(name, { left: times, error });
    },
  };
}

// ----- arbitraries -----

export const typeArb: fc.Arbitrary<ConflictType> = fc.constantFrom(...CONFLICT_TYPES);
export const severityArb: fc.Arbitrary<Severity> = fc.constantFrom(...SEVERITIES);
export const FIELD_POOL = ['power_state', 'memory_mb', 'cpu_allocation', 'network_config', 'disk_config'] as const;
export const fieldPathArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...FIELD_POOL),
  fc.constantFrom(...FIELD_POOL).map((f) => `${f}.sub`),
  fc.constantFrom(...FIELD_POOL).map((f) => `${f}[0]`),
  fc.constantFrom('power', 'memory', 'power_state_extra'),
);
/** Complexities on a small grid so that thresholds are hit exactly, too. */
export const complexityArb: fc.Arbitrary<number> = fc.integer({ min: 0, max: 10 }).map((i) => i / 10);

export const conflictArb: fc.Arbitrary<Conflict> = fc
  .record({
    type: typeArb,
    severity: severityArb,
    complexity: complexityArb,
    fields: fc.uniqueArray(fieldPathArb, { maxLength: 4 }),
    age: fc.integer({ min: 0, max: 120_000 }),
  })
  .map(({ type, severity, complexity, fields, age }) => conflict({ type, severity, complexity, fields, detectedAt: T0 - age }));

export const leafPredicateArb: fc.Arbitrary<Predicate> = fc.oneof(
  typeArb.map((type) => ({ type })),
  severityArb.map((severity) => ({ severity })),
  severityArb.map((severityAtLeast) => ({ severityAtLeast })),
  complexityArb.map((complexityBelow) => ({ complexityBelow })),
  fc.constantFrom(...FIELD_POOL).map((field) => ({ field })),
);

export const predicateArb: fc.Arbitrary<Predicate> = fc.letrec<{ p: Predicate }>((tie) => ({
  p: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafPredicateArb,
    fc.array(tie('p'), { minLength: 1, maxLength: 3 }).map((ps) => ({ all: ps })),
    fc.array(tie('p'), { minLength: 1, maxLength: 3 }).map((ps) => ({ any: ps })),
    tie('p').map((p) => ({ not: p })),
  ),
})).p;
