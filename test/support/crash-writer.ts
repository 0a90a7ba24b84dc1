/**
 * The child process of the crash-safety test (test/integration/crash-safety.test.ts):
 *
 *     node --import tsx test/support/crash-writer.ts <dataDir> <seed>
 *
 * It boots, then waits for a `go` line on stdin (so it can boot while the parent still checks the
 * directory), opens a LevelStore in <dataDir>, starts a replica on it and writes VM states with
 * several concurrent writers (new VMs, updates of existing ones, deletes) until it is killed. It prints
 * `ready <live VMs>` once started, then `ack <resourceId> <versionId>` for each write only after
 * `putVm`/`delete` resolved, i.e. after the write was synced. stdout to a pipe is synchronous on
 * Linux, so a printed ack has left the process before its writer starts the next write. It exits by
 * itself when stdin closes (the parent went away) or after a safety deadline, so it never outlives a
 * crashed test run for long.
 */
import { SeededRandom } from '../../src/adapters/memory/seeded-random.js';
import { openLevelReplica, vmState } from './store-fixture.js';

/** VM numbers drawn from [0, POOL): small enough that updates and deletes hit existing VMs often. */
const POOL = 400;
const WRITERS = 8;
const DEADLINE_MS = 60_000;

function fail(message: string): never {
  process.stderr.write(`crash-writer: ${message}\n`);
  process.exit(1);
}

const [dir, seedArg] = process.argv.slice(2);
if (!dir || seedArg === undefined || !/^\d+$/.test(seedArg)) fail('usage: crash-writer.ts <dataDir> <seed>');
const random = new SeededRandom(Number(seedArg));

setTimeout(() => process.exit(0), DEADLINE_MS).unref();
await new Promise<void>((resolve) => {
  let input = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    input += chunk;
    if (input.includes('go\n')) resolve();
  });
  process.stdin.on('end', () => process.exit(0));
});

const { replica } = await openLevelReplica({ dir });

/** Live (not deleted) VM numbers, for updates and deletes. */
const live = new Set<number>();
const revisions = new Map<number, number>();
for (const resourceId of replica.list('vm/')) {
  const n = Number(resourceId.slice('vm/vm-'.length));
  const top = replica.versionsOf(resourceId).at(-1);
  if (top && !top.deleted) live.add(n);
}

function pickLive(): number | undefined {
  if (live.size === 0) return undefined;
  for (let tries = 0; tries < 32; tries++) {
    const n = random.int(POOL);
    if (live.has(n)) return n;
  }
  return live.values().next().value;
}

function pickAbsent(): number | undefined {
  for (let tries = 0; tries < 32; tries++) {
    const n = random.int(POOL);
    if (!live.has(n)) return n;
  }
  return undefined;
}

async function writeOne(): Promise<void> {
  const r = random.next();
  const existing = pickLive();
  if (r < 0.15 && existing !== undefined) {
    live.delete(existing);
    const v = await replica.delete(`vm/vm-${existing}`);
    process.stdout.write(`ack ${v.resourceId} ${v.id}\n`);
    return;
  }
  const n = r < 0.5 || existing === undefined ? (pickAbsent() ?? existing) : existing;
  if (n === undefined) return;
  const rev = (revisions.get(n) ?? random.int(1000)) + 1;
  revisions.set(n, rev);
  live.add(n);
  const v = await replica.putVm(vmState(n, rev));
  process.stdout.write(`ack ${v.resourceId} ${v.id}\n`);
}

async function writer(): Promise<never> {
  for (;;) await writeOne();
}

process.stdout.write(`ready ${live.size}\n`);
await Promise.all(Array.from({ length: WRITERS }, () => writer())).catch((err: unknown) =>
  fail(err instanceof Error ? (err.stack ?? err.message) : String(err)),
);
