/**
 * `npm run bench [-- --only PREFIX] [-- --out FILE]`: runs every benchmark module in test/bench/,
 * prints a table, and writes `{machine, results}` JSON when --out is given.
 */
import { readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, totalmem, platform, arch } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Benchmark, BenchResult } from '../test/bench/harness.js';

function parseArgs(argv: string[]): { only: string | undefined; out: string | undefined } {
  let only: string | undefined;
  let out: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--only') only = argv[++i];
    else if (a.startsWith('--only=')) only = a.slice(7);
    else if (a === '--out') out = argv[++i];
    else if (a.startsWith('--out=')) out = a.slice(6);
    else if (a === '--help' || a === '-h') {
      console.log('usage: npm run bench -- [--only PREFIX] [--out FILE]');
      process.exit(0);
    } else {
      console.error(`bench: unknown argument ${a} (expected --only PREFIX or --out FILE)`);
      process.exit(2);
    }
  }
  return { only, out };
}

async function main(): Promise<void> {
  const { only, out } = parseArgs(process.argv.slice(2));
  const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'bench');
  const files = readdirSync(dir).filter((f) => f.endsWith('.bench.ts')).sort();
  const results: BenchResult[] = [];
  const tty = process.stderr.isTTY;
  for (const file of files) {
    const mod = (await import(pathToFileURL(join(dir, file)).href)) as { benchmarks?: Benchmark[] };
    for (const bench of mod.benchmarks ?? []) {
      if (only && !bench.names.some((n) => n.startsWith(only))) continue;
      if (tty) process.stderr.write(`running ${bench.names.join(', ')} ...\n`);
      const got = await bench.run();
      results.push(...got.filter((r) => !only || r.name.startsWith(only)));
    }
  }
  printTable(results);
  if (out) {
    const path = resolve(out);
    mkdirSync(dirname(path), { recursive: true });
    const machine = {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      platform: `${platform()}-${arch()}`,
      date: new Date().toISOString(),
    };
    writeFileSync(path, JSON.stringify({ machine, results }, null, 2) + '\n');
    console.log(`wrote ${path}`);
  }
}

function printTable(results: BenchResult[]): void {
  const rows = results.map((r) => [
    r.name,
    fmt(r.value) + ' ' + r.unit,
    r.p50_us === undefined ? '' : fmt(r.p50_us),
    r.p99_us === undefined ? '' : fmt(r.p99_us),
    r.peer ? `${r.peer}: ${fmt(r.peer_value ?? NaN)}` : '',
    r.ratio === undefined ? '' : fmt(r.ratio) + 'x',
    r.bytes === undefined ? '' : String(r.bytes) + (r.peer_bytes === undefined ? '' : ` (peer ${r.peer_bytes})`),
    r.target ?? '',
  ]);
  const head = ['name', 'value', 'p50 µs', 'p99 µs', 'peer', 'ratio', 'bytes', 'target'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return '-';
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US');
  return x.toPrecision(4);
}

await main();
