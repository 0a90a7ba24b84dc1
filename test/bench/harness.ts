/**
 * Benchmark harness shared by every `*.bench.ts` module. A module exports `benchmarks: Benchmark[]`;
 * `scripts/bench.ts` runs them (filtered by `--only PREFIX`), prints a table and writes JSON.
 */
export interface BenchResult {
  name: string;
  unit: string;
  value: number;
  p50_us?: number;
  p99_us?: number;
  /** The peer implementation measured side by side, its figure, and how many times better dwcp did. */
  peer?: string;
  peer_value?: number;
  ratio?: number;
  bytes?: number;
  peer_bytes?: number;
  target?: string;
  notes?: string;
}

export interface Benchmark {
  /** Fixed names (INTERFACE.md); a module may produce several results from one run. */
  readonly names: readonly string[];
  run(): Promise<BenchResult[]> | BenchResult[];
}

/** Operations per second of `fn` over at least `minMs`, after a warm-up. `fn` performs `batch` ops. */
export function opsPerSecond(fn: () => void, batch: number, minMs = 1000): number {
  const warmEnd = performance.now() + Math.min(300, minMs / 3);
  while (performance.now() < warmEnd) fn();
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now - start < minMs) {
    fn();
    ops += batch;
    now = performance.now();
  }
  return (ops * 1000) / (now - start);
}

/** Per-call latencies (µs) of `fn`, `iterations` times after `warmup` calls. */
export function latenciesUs(fn: () => void, iterations: number, warmup = Math.min(1000, iterations)): Float64Array {
  for (let i = 0; i < warmup; i++) fn();
  const out = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    out[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  return out;
}

export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export function summarize(samplesUs: Float64Array): { p50_us: number; p99_us: number; mean_us: number } {
  const s = Float64Array.from(samplesUs).sort();
  let sum = 0;
  for (const v of s) sum += v;
  return { p50_us: round(percentile(s, 50)), p99_us: round(percentile(s, 99)), mean_us: round(sum / s.length) };
}

export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Keep results alive so the optimiser cannot drop the measured work. */
export let sink: unknown;
export function consume(x: unknown): void {
  sink = x;
}
