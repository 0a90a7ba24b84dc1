/**
 * A paused lease holder (issue 8): three real agents over TCP, leases of 3 s + 1 s margin. hv-01
 * acquires the ownership lease of a VM and starts it (the exec hypervisor driver runs a script that
 * records every action). hv-01 is then frozen with SIGSTOP for longer than lease + margin; the
 * majority waits out lease + margin and hv-02 takes the VM over with a higher epoch. When hv-01 wakes
 * (SIGCONT), an action under its old epoch is refused (ERR_STALE_EPOCH), its own deadline stops its
 * copy, and it never starts the VM again: the actions recorded by the hypervisor show it.
 *
 * The lease is driven through the test-only `/v1/test/lease` route (enabled with fault injection),
 * which calls the agent's own LeaseManager — the real leases over real libp2p and LevelDB.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCluster, dumpLogsOnFailure, sleep, waitFor, type Cluster } from './support.js';

let cluster: Cluster | undefined;
const c = (): Cluster => cluster!;
const VM = 'vm-paused';
const LEASE_MS = 3_000;
const MARGIN_MS = 1_000;
/** The hypervisor script and the actions it records. */
const rec = mkdtempSync(join(tmpdir(), 'dwcp-paused-holder-'));

dumpLogsOnFailure(() => cluster);

interface Lease {
  vmId: string;
  owner: string;
  epoch: number;
}

/** The hypervisor actions a node's exec driver recorded, as "action vm" lines. */
function actions(node: string): string[] {
  const file = join(rec, `actions-${node}.log`);
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : [];
}

beforeAll(async () => {
  const recorder = join(rec, 'record.sh');
  writeFileSync(recorder, '#!/bin/sh\necho "$1 $2" >> "$(dirname "$0")/actions-$3.log"\n');
  chmodSync(recorder, 0o755);
  cluster = await createCluster('paused-holder', {
    nodes: 3,
    extraYaml: (node) => {
      // The driver runs argv without a shell: the script appends "<action> <vm>" to the node's file.
      const cmd = (action: string): string => `${recorder} ${action} {vm} ${node}`;
      return [
        `hypervisor: { driver: exec, commands: { fence: "${cmd('fence')}", start: "${cmd('start')}", stop: "${cmd('stop')}" } }`,
        `timing: { heartbeat: 200ms, lease: ${LEASE_MS}ms, leaseMargin: ${MARGIN_MS}ms }`,
      ].join('\n');
    },
  });
  await cluster.start();
}, 120_000);

afterAll(async () => {
  // A stopped process cannot handle SIGTERM: wake it first.
  const pid = cluster?.agents[0]?.child?.pid;
  if (pid) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // already gone
    }
  }
  await cluster?.destroy();
  rmSync(rec, { recursive: true, force: true });
});

describe('a lease holder paused longer than its lease', () => {
  it('is taken over by the majority after lease + margin and cannot act with its old epoch when it wakes', async () => {
    const [hv01, hv02] = [c().agent('hv-01'), c().agent('hv-02')];
    const first = await hv01.send<{ lease: Lease }>('POST', '/v1/test/lease', { vmId: VM, action: 'start' });
    expect(first.status, first.text).toBe(200);
    const old = first.body.lease;
    expect(old).toMatchObject({ vmId: VM, owner: 'hv-01' });
    expect(actions('hv-01')).toEqual([`start ${VM}`]);

    // While hv-01 holds it, the majority is refused.
    const early = await hv02.send<{ error: { code: string } }>('POST', '/v1/test/lease', { vmId: VM, action: 'start' });
    expect(early.status, early.text).toBe(409);
    expect(early.body.error.code).toBe('ERR_LEASE_HELD');

    const pid = hv01.child!.pid!;
    process.kill(pid, 'SIGSTOP');
    const pausedAt = Date.now();
    let taken: Lease | undefined;
    await waitFor(
      'hv-02 to take the VM over',
      async () => {
        const r = await hv02.send<{ lease: Lease }>('POST', '/v1/test/lease', { vmId: VM, action: 'start' });
        if (r.status === 200) taken = r.body.lease;
        return r.status === 200;
      },
      30_000,
      250,
    );
    // Not before the lease plus the margin had passed since hv-02 last learned hv-01's lease.
    expect(Date.now() - pausedAt).toBeGreaterThanOrEqual(LEASE_MS);
    expect(taken).toMatchObject({ owner: 'hv-02' });
    expect(taken!.epoch).toBeGreaterThan(old.epoch);
    expect(actions('hv-02')).toEqual([`start ${VM}`]);
    await sleep(500);

    process.kill(pid, 'SIGCONT');
    const stale = await hv01.send<{ error: { code: string; message: string } }>('POST', '/v1/test/lease', { vmId: VM, action: 'act', epoch: old.epoch });
    expect(stale.status, stale.text).toBe(409);
    expect(stale.body.error.code).toBe('ERR_STALE_EPOCH');

    // hv-01's own deadline stops its copy; it never starts the VM again (its renewal finds hv-02's epoch).
    await waitFor('hv-01 to stop its copy', () => Promise.resolve(actions('hv-01').includes(`stop ${VM}`)), 15_000);
    await sleep(LEASE_MS);
    expect(actions('hv-01').filter((a) => a.startsWith('start'))).toEqual([`start ${VM}`]);
    const again = await hv01.send<{ error: { code: string } }>('POST', '/v1/test/lease', { vmId: VM, action: 'start' });
    expect(again.status, again.text).toBe(409);
    expect(again.body.error.code).toBe('ERR_LEASE_HELD');
  }, 90_000);
});
