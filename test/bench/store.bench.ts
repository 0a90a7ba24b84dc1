/**
 * The durable write path and recovery on real LevelDB:
 *
 * - `store.write.synced`: acknowledged VM writes through the replica (validate, version, audit entry,
 *   one synced batch) with group commit and 256 writes in flight;
 * - `store.write.synced.single`: the same with `groupCommit: false`, one fsync per write (16 in flight);
 * - `store.write.raw`: the LevelDB store alone (no replica), 256 writers each writing the three records
 *   of a VM update (version set, audit entry, audit head) as one synced write: the ceiling the store
 *   puts on `store.write.synced`;
 * - `store.reopen.100k`: close and reopen a store holding 100,000 VMs and let `replica.start()` load
 *   them all; `store.reopen.100k.rss`: the RSS of a fresh process holding those 100,000 VMs.
 *
 * Measured writes are updates of VMs that exist (a pool created beforehand, not measured), the steady
 * state of a cluster; each writes the version set, the audit entry and its head (the superseded
 * version is history through the audit entry that recorded it: nothing else is written).
 * Everything lives in temporary directories that are removed afterwards.
 *
 * Run directly with `--reopen-probe <dir>` this module is the fresh process of the RSS measurement.
 */
import { spawn } from 'node:child_process';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LevelStore } from '../../src/adapters/level/level-store.js';
import { SeededRandom } from '../../src/adapters/memory/seeded-random.js';
import { openLevelReplica, tempDir, vmState, type LevelReplica } from '../support/store-fixture.js';
import { round, summarize, type Benchmark, type BenchResult } from './harness.js';

const REOPEN_VMS = 100_000;
const WRITE_POOL = 20_000;

/** Run `inFlight` closed-loop writers for `ms`; each awaits its acknowledged write before the next. */
async function writeLoad(
  r: LevelReplica,
  opts: { inFlight: number; ms: number; pool: number; revs: Int32Array; random: SeededRandom },
): Promise<{ ops: number; seconds: number; latUs: Float64Array; batches: number; cpuUs: number }> {
  const lat: number[] = [];
  const batches0 = r.store.syncedBatches;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const end = start + opts.ms;
  const writer = async (): Promise<void> => {
    while (performance.now() < end) {
      const n = opts.random.int(opts.pool);
      const rev = ++opts.revs[n]!;
      const t0 = performance.now();
      await r.replica.putVm(vmState(n, rev));
      lat.push((performance.now() - t0) * 1000);
    }
  };
  await Promise.all(Array.from({ length: opts.inFlight }, writer));
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { ops: lat.length, seconds, latUs: Float64Array.from(lat), batches: r.store.syncedBatches - batches0, cpuUs: cpu.user + cpu.system };
}

/** Create VMs 0..count-1 through the replica, `inFlight` writes at a time (group commit packs them). */
async function createVms(r: LevelReplica, count: number, inFlight: number): Promise<void> {
  let next = 0;
  const writer = async (): Promise<void> => {
    while (next < count) await r.replica.putVm(vmState(next++, 0));
  };
  await Promise.all(Array.from({ length: inFlight }, writer));
}

async function syncedWrites(opts: { name: string; groupCommit: boolean; inFlight: number; ms: number; target: string }): Promise<BenchResult[]> {
  const dir = tempDir('bench-write');
  try {
    const setup = await openLevelReplica({ dir });
    await createVms(setup, WRITE_POOL, 1024);
    await setup.close();
    const r = await openLevelReplica({ dir, groupCommit: opts.groupCommit });
    try {
      const random = new SeededRandom(0x5707e);
      const revs = new Int32Array(WRITE_POOL);
      await writeLoad(r, { inFlight: opts.inFlight, ms: 500, pool: WRITE_POOL, revs, random }); // warm-up
      const m = await writeLoad(r, { inFlight: opts.inFlight, ms: opts.ms, pool: WRITE_POOL, revs, random });
      const lat = summarize(m.latUs);
      const opsPerSec = m.ops / m.seconds;
      return [
        {
          name: opts.name,
          unit: 'ops/s',
          value: Math.round(opsPerSec),
          p50_us: Math.round(lat.p50_us),
          p99_us: Math.round(lat.p99_us),
          target: opts.target,
          notes:
            `${opts.inFlight} writers in flight, updates of ${WRITE_POOL.toLocaleString('en-US')} existing VMs; ` +
            `${m.ops} acked writes in ${round(m.seconds, 2)} s, ${m.batches} synced batches ` +
            `(${round(m.ops / Math.max(1, m.batches), 1)} writes per fsync, ${round(m.batches / m.seconds, 0)} fsyncs/s); ` +
            `CPU ${round(m.cpuUs / m.ops, 1)} µs per write (${round(m.cpuUs / 1e6 / m.seconds, 2)} cores); latency from putVm to ack`,
        },
      ];
    } finally {
      await r.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Bytes of a record of `n` bytes (contents do not matter to LevelDB's cost; sizes are a VM update's). */
function filler(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = 97 + (i % 26);
  return b;
}

async function rawWrites(): Promise<BenchResult[]> {
  const dir = tempDir('bench-raw');
  const store = new LevelStore({ dir });
  try {
    await store.open();
    const [versions, audit, head] = [filler(760), filler(1000), filler(90)];
    let seq = 0;
    const run = async (ms: number): Promise<{ ops: number; seconds: number; batches: number; cpuUs: number }> => {
      const batches0 = store.syncedBatches;
      const cpu0 = process.cpuUsage();
      const start = performance.now();
      const end = start + ms;
      let ops = 0;
      const writer = async (): Promise<void> => {
        while (performance.now() < end) {
          const s = ++seq;
          const key = `vm/vm-${(s * 7919) % WRITE_POOL}`;
          await store.write([
            { type: 'put', sublevel: 'versions', key, value: versions },
            { type: 'put', sublevel: 'audit', key: String(s).padStart(16, '0'), value: audit },
            { type: 'put', sublevel: 'meta', key: 'audit-head', value: head },
          ]);
          ops++;
        }
      };
      await Promise.all(Array.from({ length: 256 }, writer));
      const cpu = process.cpuUsage(cpu0);
      return { ops, seconds: (performance.now() - start) / 1000, batches: store.syncedBatches - batches0, cpuUs: cpu.user + cpu.system };
    };
    await run(500); // warm-up
    const m = await run(3000);
    return [
      {
        name: 'store.write.raw',
        unit: 'ops/s',
        value: Math.round(m.ops / m.seconds),
        target: 'context: the store alone',
        notes:
          `LevelStore alone, 256 writers, each write the three records of a VM update (760 + 1,000 + 90 bytes) synced; ` +
          `${round(m.ops / Math.max(1, m.batches), 1)} writes per fsync, ${round(m.batches / m.seconds, 0)} fsyncs/s; ` +
          `CPU ${round(m.cpuUs / m.ops, 1)} µs per write, all threads`,
      },
    ];
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const f of readdirSync(dir)) total += statSync(join(dir, f)).size;
  return total;
}

interface ProbeReport {
  readonly vms: number;
  readonly loadMs: number;
  readonly baseRssMB: number;
  readonly rssMB: number;
  readonly heapUsedMB: number;
}

const MB = 2 ** 20;

/** The fresh process: open the store, start the replica, report time and memory (after a full GC). */
async function reopenProbe(dir: string): Promise<ProbeReport> {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const baseRss = process.memoryUsage().rss;
  const t0 = performance.now();
  const r = await openLevelReplica({ dir });
  const loadMs = performance.now() - t0;
  const vms = r.replica.list('vm/').length;
  gc?.();
  const mem = process.memoryUsage();
  const report = { vms, loadMs: round(loadMs, 1), baseRssMB: round(baseRss / MB, 1), rssMB: round(mem.rss / MB, 1), heapUsedMB: round(mem.heapUsed / MB, 1) };
  await r.close();
  return report;
}

function runProbe(dir: string): Promise<ProbeReport> {
  const self = fileURLToPath(import.meta.url);
  const root = fileURLToPath(new URL('../..', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', self, '--reopen-probe', dir], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`reopen probe exited with ${code}: ${err}`));
      else resolve(JSON.parse(out) as ProbeReport);
    });
  });
}

async function reopen100k(): Promise<BenchResult[]> {
  const dir = tempDir('bench-reopen');
  try {
    let r = await openLevelReplica({ dir });
    const b0 = performance.now();
    await createVms(r, REOPEN_VMS, 4096);
    const buildS = (performance.now() - b0) / 1000;
    const runs: Array<{ close: number; open: number; total: number }> = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await r.close();
      const t1 = performance.now();
      r = await openLevelReplica({ dir });
      const t2 = performance.now();
      const loaded = r.replica.list('vm/').length;
      if (loaded !== REOPEN_VMS) throw new Error(`store.reopen.100k: loaded ${loaded} VMs, expected ${REOPEN_VMS}`);
      runs.push({ close: t1 - t0, open: t2 - t1, total: t2 - t0 });
    }
    await r.close();
    const bytes = dirBytes(dir);
    const probe = await runProbe(dir);
    if (probe.vms !== REOPEN_VMS) throw new Error(`store.reopen.100k.rss: the probe loaded ${probe.vms} VMs, expected ${REOPEN_VMS}`);
    const sorted = [...runs].sort((a, b) => a.total - b.total);
    const median = sorted[1]!;
    return [
      {
        name: 'store.reopen.100k',
        unit: 'ms',
        value: Math.round(median.total),
        target: '< 3,000 ms',
        bytes,
        notes:
          `close + open + replica.start() of ${REOPEN_VMS.toLocaleString('en-US')} VMs, median of 3 ` +
          `(close ${Math.round(median.close)} ms, open and load ${Math.round(median.open)} ms; runs ${runs.map((x) => Math.round(x.total)).join('/')} ms); ` +
          `built through the replica in ${round(buildS, 1)} s (${Math.round(REOPEN_VMS / buildS)} VMs/s); ` +
          `fresh process: load ${Math.round(probe.loadMs)} ms`,
      },
      {
        name: 'store.reopen.100k.rss',
        unit: 'MB',
        value: probe.rssMB,
        target: '< 300 MB',
        notes:
          `RSS of a fresh process after loading ${REOPEN_VMS.toLocaleString('en-US')} VMs and a full GC: ${probe.rssMB} MB ` +
          `(${round(probe.rssMB - probe.baseRssMB, 1)} MB over its ${probe.baseRssMB} MB before opening the store; heap used ${probe.heapUsedMB} MB)`,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const benchmarks: Benchmark[] = [
  {
    names: ['store.write.synced'],
    run: () => syncedWrites({ name: 'store.write.synced', groupCommit: true, inFlight: 256, ms: 3000, target: '>= 20,000/s' }),
  },
  {
    names: ['store.write.synced.single'],
    run: () =>
      syncedWrites({ name: 'store.write.synced.single', groupCommit: false, inFlight: 16, ms: 2000, target: 'side by side (one fsync per write)' }),
  },
  {
    names: ['store.write.raw'],
    run: rawWrites,
  },
  {
    names: ['store.reopen.100k', 'store.reopen.100k.rss'],
    run: reopen100k,
  },
];

if (process.argv[2] === '--reopen-probe' && process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = process.argv[3];
  if (!dir) throw new Error('usage: store.bench.ts --reopen-probe <dir>');
  process.stdout.write(JSON.stringify(await reopenProbe(dir)) + '\n');
}
