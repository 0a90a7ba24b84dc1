/**
 * `resolve.vm`: one full VM-state conflict through the policy engine — the decision tree (built-in
 * checks, an escalation and a rule evaluated by priority), the field strategies, the real semantic
 * merge with the VM field rules (maximum, union, network merge, power-state priority, LWW) producing
 * the merged version (canonical encoding and hashing included), and the complete decision record.
 *
 * The conflicts are realistic concurrent VM versions (clocks of 5–16 nodes, complete VMState with 2
 * NICs and 2 disks, 1–3 fields edited on each side), classified once by the real detector; detection
 * is setup, not measured. A pool of different conflicts is cycled so that no single one stays hot.
 */
import { VectorClock } from '../../src/core/clock/vector-clock.js';
import { ConflictDetector } from '../../src/core/conflict/detector.js';
import type { Conflict } from '../../src/core/conflict/types.js';
import { createVersion } from '../../src/core/conflict/version.js';
import { resolveConflict, selectStrategy, type DecideContext } from '../../src/core/policy/engine.js';
import { editVm, prng, realisticVm, vmPolicy } from '../support/vm-fixtures.js';
import { consume, latenciesUs, opsPerSecond, round, summarize, type Benchmark, type BenchResult } from './harness.js';

const POOL = 512;
const NOW = 1_732_800_000_000;

/** The VM policy measured (shared with the golden test): see test/support/vm-fixtures.ts. */
export { vmPolicy };

function buildPool(): Conflict[] {
  const rnd = prng(42);
  const detector = new ConflictDetector();
  const pool: Conflict[] = [];
  for (let i = 0; pool.length < POOL; i++) {
    const nodes = 5 + Math.floor(rnd() * 12);
    const ids = Array.from({ length: nodes }, (_, k) => `hv-${String(k + 1).padStart(2, '0')}`);
    const common = ids.map((id) => [id, 1 + Math.floor(rnd() * 1000)] as [string, number]);
    const [a, b] = [ids[i % nodes]!, ids[(i + 1) % nodes]!];
    const clockA = VectorClock.from(common).increment(a);
    const clockB = VectorClock.from(common).increment(b);
    const vm = realisticVm(i, rnd, 2000);
    const resourceId = `vm/${vm.id}`;
    const wall = NOW - 5_000 + Math.floor(rnd() * 1000);
    const va = createVersion({ resourceId, clock: clockA, hlc: { wall, logical: 0 }, origin: a, data: editVm(vm, rnd) });
    const vb = createVersion({ resourceId, clock: clockB, hlc: { wall: wall + 1 + Math.floor(rnd() * 50), logical: 0 }, origin: b, data: editVm(vm, rnd) });
    const d = detector.detectConflict(resourceId, va, vb, NOW - 1_000);
    // Keep the conflicts that go the whole way: decision tree → default → semantic merge.
    if (d.outcome === 'concurrent' && selectStrategy(vmPolicy, d.conflict).strategy === 'semantic_merge') pool.push(d.conflict);
  }
  return pool;
}

export const benchmarks: Benchmark[] = [
  {
    names: ['resolve.vm'],
    run(): BenchResult[] {
      const pool = buildPool();
      const priorities: Record<string, number> = {};
      for (let k = 1; k <= 16; k++) priorities[`hv-${String(k).padStart(2, '0')}`] = 100 - k;
      const ctx: DecideContext = { now: NOW, nodePriorities: priorities };
      // Sanity: every measured decision really is a semantic merge with field decisions.
      for (const c of pool) {
        const { record } = resolveConflict(vmPolicy, c, ctx);
        if (record.outcome !== 'resolved' || record.strategy !== 'semantic_merge' || record.fieldDecisions.length === 0) {
          throw new Error(`resolve.vm: conflict ${c.id} did not go through semantic merge (${record.strategy}, ${record.outcome})`);
        }
      }
      let i = 0;
      const once = (): void => {
        consume(resolveConflict(vmPolicy, pool[i++ % POOL]!, ctx));
      };
      const value = opsPerSecond(once, 1, 2000);
      const lat = summarize(latenciesUs(once, 50_000, 5_000));
      return [
        {
          name: 'resolve.vm',
          unit: 'ops/s',
          value: round(value, 0),
          p50_us: lat.p50_us,
          p99_us: lat.p99_us,
          target: '>= 20,000/s, p99 < 200 µs',
          notes: `policy "vm": tree + escalation + rule + field strategy + semantic_merge (VM field rules) + decision record; ${POOL} conflicts cycled`,
        },
      ];
    },
  },
];
