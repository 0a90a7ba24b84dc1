/**
 * `detect.vm`: full `detectConflict` on two concurrent, realistic VM versions (clocks of 5–16 nodes,
 * a complete VMState with 2 NICs and 2 disks, a few fields changed on each side). A pool of different
 * pairs is cycled so no single pair stays hot in the caches. Version creation (hashing) is setup,
 * not measured: detection uses the digests already in the versions.
 */
import { VectorClock } from '../../src/core/clock/vector-clock.js';
import { ConflictDetector } from '../../src/core/conflict/detector.js';
import { createVersion, type Version } from '../../src/core/conflict/version.js';
import type { VMState } from '../../src/core/vm/state.js';
import { consume, latenciesUs, opsPerSecond, round, summarize, type Benchmark, type BenchResult } from './harness.js';

const POOL = 512;
const NOW = 1_732_800_000_000;

/** Deterministic PRNG (mulberry32) so every run measures the same pairs. */
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

function vm(i: number, rnd: () => number): VMState {
  const id = `vm-${1000 + i}`;
  const octet = (n: number): string => (n % 256).toString(16).padStart(2, '0');
  return {
    id,
    host: `hv-${String(1 + (i % 16)).padStart(2, '0')}`,
    power_state: 'running',
    cpu_allocation: [2, 4, 8, 16][i % 4]!,
    memory_mb: [4096, 8192, 16384][i % 3]!,
    network_config: {
      interfaces: [
        { name: 'eth0', mac: `52:54:00:${octet(i >> 8)}:${octet(i)}:01`, ip: `10.0.${(i >> 8) % 256}.${i % 256}`, vlan: 100 },
        { name: 'eth1', mac: `52:54:00:${octet(i >> 8)}:${octet(i)}:02`, ip: `192.168.${(i >> 8) % 256}.${i % 256}`, vlan: 200 },
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

/** One side's edit: a few fields, as operators and schedulers change them. */
function edit(base: VMState, rnd: () => number): VMState {
  const next = structuredClone(base);
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
    const base0 = vm(i, rnd);
    const resourceId = `vm/${base0.id}`;
    const a = createVersion({
      resourceId,
      clock: base.increment(x),
      hlc: { wall: NOW + i, logical: 0 },
      origin: x,
      data: edit(base0, rnd),
    });
    const b = createVersion({
      resourceId,
      clock: base.increment(y),
      hlc: { wall: NOW + i, logical: 1 },
      origin: y,
      data: edit(base0, rnd),
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
