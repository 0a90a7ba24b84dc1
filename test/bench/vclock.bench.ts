/**
 * Vector-clock comparison throughput, dwcp vs @thi.ng/vclock, on the same pool of clock pairs.
 *
 * The pool imitates what the detector sees: clocks of a 16- or 64-node cluster where every node has
 * written (all entries non-zero, counters in the thousands to millions), compared pairwise with a mix
 * of outcomes — a remote version behind or ahead of the local one by a few writes on a few nodes
 * (stale / fast-forward, the common case), the same version again (duplicate), or concurrent writes
 * (conflict), with the differing entries at random positions so early exits are not always at index 0.
 * The pool is larger than one pair so branch prediction cannot learn a single answer.
 */
import { compare as peerCompare, type VClock } from '@thi.ng/vclock';
import { type Ordering, VectorClock } from '../../src/core/clock/vector-clock.js';
import { type Benchmark, type BenchResult, consume, opsPerSecond, round } from './harness.js';
import { prng } from '../support/vm-fixtures.js';

const POOL_SIZE = 4096;
/** Share of each outcome in the pool. */
const MIX: ReadonlyArray<readonly [Ordering, number]> = [
  ['before', 0.3],
  ['after', 0.3],
  ['equal', 0.15],
  ['concurrent', 0.25],
];
const TARGETS: Readonly<Record<number, number>> = { 16: 8_000_000, 64: 2_000_000 };


interface Pool {
  dwcp: Array<readonly [VectorClock, VectorClock]>;
  peer: Array<readonly [VClock, VClock]>;
  expected: Ordering[];
}

function buildPool(entries: number, seed: number): Pool {
  const rand = prng(seed);
  const int = (n: number): number => Math.floor(rand() * n);
  const names = Array.from({ length: entries }, (_, i) => `host-${String(i).padStart(2, '0')}`);
  const bump = (counters: number[], howMany: number): number[] => {
    const out = [...counters];
    for (let k = 0; k < howMany; k++) out[int(entries)]! += 1 + int(3);
    return out;
  };
  const pool: Pool = { dwcp: [], peer: [], expected: [] };
  for (let p = 0; p < POOL_SIZE; p++) {
    const base = names.map(() => 1_000 + int(1_000_000));
    let r = rand();
    let kind: Ordering = 'concurrent';
    for (const [k, share] of MIX) {
      if (r < share) {
        kind = k;
        break;
      }
      r -= share;
    }
    let a = base;
    let b = base;
    if (kind === 'before') b = bump(base, 1 + int(3));
    else if (kind === 'after') a = bump(base, 1 + int(3));
    else if (kind === 'equal') b = [...base];
    else {
      // Each side wrote on a different node since the common ancestor.
      const i = int(entries);
      const j = (i + 1 + int(entries - 1)) % entries;
      a = [...base];
      b = [...base];
      a[i]! += 1 + int(3);
      b[j]! += 1 + int(3);
    }
    const ja = Object.fromEntries(names.map((n, i) => [n, a[i]!]));
    const jb = Object.fromEntries(names.map((n, i) => [n, b[i]!]));
    pool.dwcp.push([VectorClock.from(ja), VectorClock.from(jb)]);
    pool.peer.push([ja, jb]);
    pool.expected.push(kind);
  }
  return pool;
}

/** Both implementations must agree with the pool's construction before anything is timed. */
function check(pool: Pool): void {
  const peerOrdering = (c: number): Ordering | 'equal-or-concurrent' => (c < 0 ? 'before' : c > 0 ? 'after' : 'equal-or-concurrent');
  pool.expected.forEach((want, i) => {
    const [a, b] = pool.dwcp[i]!;
    const [pa, pb] = pool.peer[i]!;
    const got = a.compare(b);
    const peer = peerOrdering(peerCompare(pa, pb));
    if (got !== want) throw new Error(`vclock bench: dwcp compare gave ${got}, expected ${want} (pair ${i})`);
    if (peer !== want && !(peer === 'equal-or-concurrent' && (want === 'equal' || want === 'concurrent'))) {
      throw new Error(`vclock bench: @thi.ng/vclock gave ${peer}, expected ${want} (pair ${i})`);
    }
  });
}

function measure(entries: number): BenchResult {
  const pool = buildPool(entries, 0x5eed + entries);
  check(pool);
  const { dwcp, peer } = pool;
  let acc = 0;
  const runDwcp = (): void => {
    for (let i = 0; i < dwcp.length; i++) {
      const pair = dwcp[i]!;
      if (pair[0].compare(pair[1]) === 'concurrent') acc++;
    }
  };
  const runPeer = (): void => {
    for (let i = 0; i < peer.length; i++) {
      const pair = peer[i]!;
      if (peerCompare(pair[0], pair[1]) === 0) acc++;
    }
  };
  // Alternate the two, three rounds each, and keep the median: the machine is shared and noisy.
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let r = 0; r < 3; r++) {
    ours.push(opsPerSecond(runDwcp, dwcp.length, 700));
    theirs.push(opsPerSecond(runPeer, peer.length, 500));
  }
  consume(acc);
  const value = median(ours);
  const peerValue = median(theirs);
  const target = TARGETS[entries]!;
  return {
    name: `vclock.compare.${entries}`,
    unit: 'ops/s',
    value: Math.round(value),
    peer: '@thi.ng/vclock',
    peer_value: Math.round(peerValue),
    ratio: round(value / peerValue, 2),
    target: `>= ${target.toLocaleString('en-US')} ops/s (${value >= target ? 'met' : 'MISSED'})`,
    notes:
      `${POOL_SIZE} pairs of ${entries}-entry clocks (${MIX.map(([k, s]) => `${Math.round(s * 100)}% ${k}`).join(', ')}); ` +
      `median of 3 alternating rounds; dwcp rounds ${ours.map((x) => fmtM(x)).join('/')} M/s`,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)]!;
}

function fmtM(x: number): string {
  return (x / 1e6).toFixed(1);
}

export const benchmarks: Benchmark[] = [
  {
    names: ['vclock.compare.16', 'vclock.compare.64'],
    run: (): BenchResult[] => [measure(16), measure(64)],
  },
];
