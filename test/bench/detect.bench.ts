/**
 * `detect.vm`: full `detectConflict` on two concurrent, realistic VM versions (clocks of 5–16 nodes,
 * a complete VMState with 2 NICs and 2 disks, a few fields changed on each side). A pool of different
 * pairs is cycled so no single pair stays hot in the caches. Version creation (hashing) is setup,
 * not measured: detection uses the digests already in the versions.
 */
import { VectorClock } from '../../src/core/clock/vector-clock.js';
import { ConflictDetector } from '../../src/core/conflict/detector.js';
import { createVersion, type Version } from '../../src/core/conflict/version.js';
import { editVm, prng, realisticVm } from '../support/vm-fixtures.js';
import { consume, latenciesUs, opsPerSecond, round, summarize, type Benchmark, type BenchResult } from './harness.js';

const POOL = 512;
const NOW = 1_732_800_000_000;

function pairs(): Array<readonly [Version, Version]> {
  const rnd = prng(0xd37ec7);
  const out: Array<readonly [Version, Version]> = [];
  for (let i = 0; i < POOL; i++) {
    const nodes = 5 + Math.floor(rnd() * 12); // 5..16 nodes in the clock
    const common: Record<string, number> = {};
    for (let n = 0; n < nodes; n++) common[`hv-${String(n + 1).padStart(2, '0')}`] = 1 + Math.floor(rnd() * 1000);
    const x = `hv-${String(1 + Math.floor(rnd() * nodes)).padStart(2, '0')}`;
    let y = `hv-${String(1 + Math.floor(rnd() * nodes)).padStart(2, '0')}`;
    if (y === x) y = x === 'hv-01' ? 'hv-02' : 'hv-01';
    const base = VectorClock.from(common);
    const base0 = realisticVm(i, rnd, 1000);
    const resourceId = `vm/${base0.id}`;
    const a = createVersion({
      resourceId,
      clock: base.increment(x),
      hlc: { wall: NOW + i, logical: 0 },
      origin: x,
      data: editVm(base0, rnd),
    });
    const b = createVersion({
      resourceId,
      clock: base.increment(y),
      hlc: { wall: NOW + i, logical: 1 },
      origin: y,
      data: editVm(base0, rnd),
    });
    out.push([a, b]);
  }
  return out;
}

export const benchmarks: Benchmark[] = [
  {
    names: ['detect.vm'],
    run(): BenchResult[] {
      const detector = new ConflictDetector();
      const pool = pairs();
      for (const [a, b] of pool) {
        const d = detector.detectConflict(a.resourceId, a, b, NOW);
        if (d.outcome !== 'concurrent') throw new Error(`bench setup: expected concurrent versions, got ${d.outcome}`);
      }
      const ops = opsPerSecond(() => {
        for (let i = 0; i < POOL; i++) {
          const [a, b] = pool[i]!;
          consume(detector.detectConflict(a.resourceId, a, b, NOW));
        }
      }, POOL);
      let k = 0;
      const lat = summarize(
        latenciesUs(() => {
          const [a, b] = pool[k++ & (POOL - 1)]!;
          consume(detector.detectConflict(a.resourceId, a, b, NOW));
        }, 200_000),
      );
      return [
        {
          name: 'detect.vm',
          unit: 'ops/s',
          value: Math.round(ops),
          p50_us: lat.p50_us,
          p99_us: lat.p99_us,
          target: '>= 200,000/s, p99 < 50 µs',
          notes: `${POOL} concurrent VM version pairs (clocks of 5-16 nodes, 2 NICs, 2 disks, 1-3 edits per side); mean ${round(lat.mean_us)} µs`,
        },
      ];
    },
  },
];
