/**
 * Crash safety (ARCHITECTURE.md, "Durability"): a child process (test/support/crash-writer.ts) writes
 * VM states through a replica on LevelDB with concurrent writers and prints an ack after each write
 * resolved; the test SIGKILLs it at a random moment, reopens the same directory in-process and checks
 * that no acknowledged write was lost:
 *
 * - every acked version id is in the audit log (a `write` entry's `data.added[].id`);
 * - for every resource, the stored version set holds the last acked version or one whose vector clock
 *   dominates it;
 * - the audit chain verifies, nothing is quarantined, and the store opens (the dead process's LevelDB
 *   lock is gone).
 *
 * Repeated on one directory, so state accumulates across kills. `DWCP_CRASH_KILLS=N` sets the number
 * of kills (default 50), `DWCP_CRASH_SEED=S` replays a run; the seed is in every failure message.
 * SIGKILL leaves the page cache intact, so this proves "ack only after the batch reached the OS"
 * (and the ordering of group commit); surviving power loss additionally depends on `sync: true`.
 */
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { SeededRandom } from '../../src/adapters/memory/seeded-random.js';
import type { VectorClock } from '../../src/core/clock/vector-clock.js';
import { versionFromJSON } from '../../src/core/conflict/version.js';
import { openLevelReplica, tempDir } from '../support/store-fixture.js';

const KILLS = envInt('DWCP_CRASH_KILLS', 50, 1);
const SEED = envInt('DWCP_CRASH_SEED', randomInt(2 ** 31), 0);
/** Kill this long after the child reported ready (uniform, ms). */
const KILL_AFTER_MS = { min: 30, max: 400 };
const READY_TIMEOUT_MS = 20_000;

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WRITER = fileURLToPath(new URL('../support/crash-writer.ts', import.meta.url));

function envInt(name: string, fallback: number, min: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got ${JSON.stringify(text)}`);
  return n;
}

interface Ack {
  readonly resourceId: string;
  readonly versionId: string;
}

interface ChildRun {
  readonly acks: Ack[];
  /** ms from `go` to `ready` (LevelDB open with log recovery, replica load). */
  readonly openMs: number;
}

/** A writer process that has booted (node, tsx, imports) and waits for `go` before opening the store. */
interface Writer {
  /** Send `go`, wait for `ready`, let it write for `killAfterMs`, SIGKILL it and collect its acks. */
  runAndKill(killAfterMs: number): Promise<ChildRun>;
  /** Kill it if it is still alive (cleanup after a failure). */
  dispose(): void;
}

/**
 * Spawn a writer. It boots while the previous run's directory is still being checked (the boot is
 * most of a child's start-up), and opens the store only when told `go`, after the check closed it.
 */
function spawnWriter(dir: string, seed: number): Writer {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir, String(seed)], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let exit: string | undefined;
  let spawnError: Error | undefined;
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  child.on('error', (e) => (spawnError = e));
  child.on('exit', (code, signal) => (exit = `code ${code}, signal ${signal}`));
  return {
    runAndKill(killAfterMs) {
      return new Promise((resolve, reject) => {
        if (spawnError) return reject(spawnError);
        if (exit !== undefined) return reject(new Error(`the writer exited (${exit}) before it was told to go; stderr:\n${err}`));
        const sent = performance.now();
        let openMs: number | undefined;
        let killed = false;
        let killTimer: NodeJS.Timeout | undefined;
        const readyTimer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`the writer did not report ready within ${READY_TIMEOUT_MS} ms; stderr:\n${err}`));
        }, READY_TIMEOUT_MS);
        const onData = (): void => {
          if (openMs !== undefined || !/^ready \d+\n/m.test(out)) return;
          openMs = performance.now() - sent;
          clearTimeout(readyTimer);
          killTimer = setTimeout(() => (killed = child.kill('SIGKILL')), killAfterMs);
        };
        child.stdout.on('data', onData);
        child.on('close', () => {
          clearTimeout(readyTimer);
          clearTimeout(killTimer);
          if (openMs === undefined) reject(new Error(`the writer exited (${exit}) before it was ready; stderr:\n${err}`));
          else if (!killed || child.signalCode !== 'SIGKILL') reject(new Error(`the writer ended by itself (${exit}) before it was killed; stderr:\n${err}`));
          else resolve({ acks: parseAcks(out), openMs });
        });
        child.stdin.write('go\n');
      });
    },
    dispose() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** `ack <resourceId> <versionId>` lines after `ready`. A torn last line (no newline) was never acked. */
function parseAcks(out: string): Ack[] {
  const lines = out.split('\n');
  lines.pop(); // the text after the last newline: empty, or a line cut by the kill
  const acks: Ack[] = [];
  for (const line of lines) {
    if (line.startsWith('ready ')) continue;
    const m = /^ack (\S+) ([0-9a-f]{24})$/.exec(line);
    if (!m) throw new Error(`unexpected line from the writer: ${JSON.stringify(line)}`);
    acks.push({ resourceId: m[1]!, versionId: m[2]! });
  }
  return acks;
}

interface AuditedVersion {
  readonly resourceId: string;
  readonly clock: VectorClock;
}

describe('crash safety (SIGKILL during concurrent synced writes)', () => {
  const dir = tempDir('crash');
  let keep = false;
  afterAll(() => {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  });

  it(`loses no acknowledged write over ${KILLS} kills`, { timeout: 60_000 + KILLS * 2_500 + KILLS * KILLS * 10 }, async ({ annotate }) => {
    const random = new SeededRandom(SEED);
    /** Every version the audit log recorded as a local write, by id. */
    const audited = new Map<string, AuditedVersion>();
    /** The last acked version of each resource, over all runs. */
    const lastAck = new Map<string, { versionId: string; clock: VectorClock }>();
    let auditSeq = 0;
    let totalAcks = 0;
    let unackedDurable = 0;
    let killsWithAcks = 0;
    let openTotal = 0;
    let checkTotal = 0;
    let verifyTotal = 0;
    const began = performance.now();
    let kill = 0;
    const context = (): string => `seed ${SEED} (DWCP_CRASH_SEED=${SEED}), kill ${kill + 1}/${KILLS}, dir ${dir}`;

    let writer = spawnWriter(dir, random.int(2 ** 32));
    try {
      for (; kill < KILLS; kill++) {
        const killAfter = KILL_AFTER_MS.min + random.int(KILL_AFTER_MS.max - KILL_AFTER_MS.min + 1);
        const run = await writer.runAndKill(killAfter);
        // The next writer boots while this run is checked; it opens the store only after the check.
        const nextSeed = random.int(2 ** 32);
        if (kill + 1 < KILLS) writer = spawnWriter(dir, nextSeed);
        openTotal += run.openMs;
        totalAcks += run.acks.length;
        if (run.acks.length > 0) killsWithAcks++;

        // Opening fails with ERR_STORE_LOCKED if the killed process's lock were still held.
        const checkStart = performance.now();
        const opened = await openLevelReplica({ dir });
        try {
          const { replica } = opened;
          expect(replica.quarantined, `quarantined records after the kill; ${context()}`).toEqual([]);
          let writesThisRun = 0;
          for await (const e of replica.audit.entries({ fromSeq: auditSeq + 1 })) {
            auditSeq = e.seq;
            if (e.kind !== 'write') continue;
            const { added } = e.data as { added: unknown[] };
            for (const [i, json] of added.entries()) {
              const v = versionFromJSON(json, `audit ${e.seq} added[${i}]`);
              audited.set(v.id, { resourceId: v.resourceId, clock: v.clock });
              writesThisRun++;
            }
          }
          unackedDurable += writesThisRun - run.acks.length;

          for (const ack of run.acks) {
            const entry = audited.get(ack.versionId);
            if (!entry) throw new Error(`acknowledged version ${ack.versionId} of ${ack.resourceId} is not in the audit log; ${context()}`);
            expect(entry.resourceId, `audit entry of ${ack.versionId}; ${context()}`).toBe(ack.resourceId);
            lastAck.set(ack.resourceId, { versionId: ack.versionId, clock: entry.clock });
          }
          // Every acked version is covered by the current set (checked for every run's acks, in
          // case ack order and clock order ever disagreed), and so is every resource's last ack.
          const covered = (resourceId: string, versionId: string, clock: VectorClock): void => {
            const set = replica.versionsOf(resourceId);
            if (!set.some((v) => v.id === versionId || v.clock.compare(clock) === 'after')) {
              throw new Error(
                `acknowledged ${versionId} (${clock.toString()}) of ${resourceId} is neither in nor dominated by the stored set ` +
                  `[${set.map((v) => `${v.id} ${v.clock.toString()}`).join(', ')}]; ${context()}`,
              );
            }
          };
          for (const ack of run.acks) covered(ack.resourceId, ack.versionId, audited.get(ack.versionId)!.clock);
          for (const [resourceId, last] of lastAck) covered(resourceId, last.versionId, last.clock);

          const verifyStart = performance.now();
          const verified = await replica.audit.verify();
          verifyTotal += performance.now() - verifyStart;
          expect(verified, `audit chain after the kill; ${context()}`).toMatchObject({ ok: true, entries: auditSeq });
        } finally {
          await opened.close();
        }
        checkTotal += performance.now() - checkStart;
      }
    } catch (err) {
      keep = true;
      writer.dispose();
      if (err instanceof Error && !err.message.includes(`seed ${SEED}`)) err.message += ` [${context()}; the directory is kept]`;
      throw err;
    }

    const seconds = (performance.now() - began) / 1000;
    await annotate(
      `seed ${SEED}: ${KILLS} kills in ${seconds.toFixed(1)} s (mean per kill: child open and load ${(openTotal / KILLS).toFixed(0)} ms, reopen and checks ${(checkTotal / KILLS).toFixed(0)} ms of which audit.verify() ${(verifyTotal / KILLS).toFixed(0)} ms), ` +
        `${totalAcks} acked writes, 0 lost, ${unackedDurable} durable but unacked (in flight at a kill), ` +
        `${lastAck.size} resources, ${auditSeq} audit entries`,
    );
    // The test could fail only if writes happened: most kills must have hit a writing process.
    expect(killsWithAcks).toBeGreaterThanOrEqual(Math.floor(KILLS * 0.8));
  });
});
