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
import { PolicyBuilder } from '../../src/core/policy/builder.js';
import { resolveConflict, selectStrategy, type DecideContext } from '../../src/core/policy/engine.js';
import { all, any, field, isSeverity, isType } from '../../src/core/policy/predicates.js';
import type { VMState } from '../../src/core/vm/state.js';
import { consume, latenciesUs, opsPerSecond, round, summarize, type Benchmark, type BenchResult } from './harness.js';

const POOL = 512;
const NOW = 1_732_800_000_000;

/** Deterministic PRNG (mulberry32): every run measures the same conflicts. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function baseVm(i: number, rnd: () => number): VMState {
  const id = `vm-${2000 + i}`;
  const hex = (n: number): string => (n % 256).toString(16).padStart(2, '0');
  return {
    id,
    host: `hv-${String(1 + (i % 16)).padStart(2, '0')}`,
    power_state: 'running',
    cpu_allocation: [2, 4, 8, 16][i % 4]!,
    memory_mb: [4096, 8192, 16384][i % 3]!,
    network_config: {
      interfaces: [
        { name: 'eth0', mac: `52:54:00:${hex(i >> 8)}:${hex(i)}:01`, ip: `10.0.${(i >> 8) % 256}.${i % 256}`, vlan: 100 },
        { name: 'eth1', mac: `52:54:00:${hex(i >> 8)}:${hex(i)}:02`, ip: `192.168.${(i >> 8) % 256}.${i % 256}`, vlan: 200 },
      ],
    },
    disk_config: [
      { path: `/var/lib/vms/${id}.qcow2`, size_gb: 40, bus: 'virtio' },
      { path: `/var/lib/vms/${id}-data.qcow2`, size_gb: 100 + Math.floor(rnd() * 400), bus: 'virtio' },
    ],
    snapshot_id: `snap-${Math.floor(rnd() * 100)}`,
    migration_status: 'none',
    labels: { tier: 'web', owner: 'team-a' },
  };
}

/** One side's edit: what operators and schedulers change. */
function edit(vm: VMState, rnd: () => number): VMState {
  const next = structuredClone(vm);
  const edits = 1 + Math.floor(rnd() * 3);
  for (let k = 0; k < edits; k++) {
    switch (Math.floor(rnd() * 7)) {
      case 0:
        next.memory_mb *= 2;
        break;
      case 1:
        next.cpu_allocation += 2;
        break;
      case 2:
        next.snapshot_id = `snap-${100 + Math.floor(rnd() * 100)}`;
        break;
      case 3:
        next.network_config.interfaces[1]!.ip = `172.16.0.${Math.floor(rnd() * 250)}`;
        break;
      case 4:
        next.disk_config[1]!.size_gb += 50;
        break;
      case 5:
        next.power_state = rnd() < 0.5 ? 'stopped' : 'paused';
        break;
      default:
        (next.labels as Record<string, string>).owner = 'team-b';
    }
  }
  return next;
}

/**
 * The VM policy measured: production's escalation and a rule (both evaluated and not matching on
 * these conflicts), semantic merge (the VM field rules) by default, power_state by node priority.
 */
export const vmPolicy = new PolicyBuilder('vm')
  .withDefaultStrategy('semantic_merge')
  .withFieldStrategy('power_state', 'highest_priority')
  .withEscalation('critical_conflicts', any(isSeverity('critical'), isType('invariant_violation')), 'manual', 100)
  .withRule('contention_by_vote', all(isType('resource_contention'), field('network_config')), 'consensus_vote', 60)
  .withMaxRetries(3)
  .withManualThreshold(0.9)
  .withTimeout('30s')
  .withFallback('last_write_wins')
  .build();

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
    const vm = baseVm(i, rnd);
    const resourceId = `vm/${vm.id}`;
    const wall = NOW - 5_000 + Math.floor(rnd() * 1000);
    const va = createVersion({ resourceId, clock: clockA, hlc: { wall, logical: 0 }, origin: a, data: edit(vm, rnd) });
    const vb = createVersion({ resourceId, clock: clockB, hlc: { wall: wall + 1 + Math.floor(rnd() * 50), logical: 0 }, origin: b, data: edit(vm, rnd) });
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
