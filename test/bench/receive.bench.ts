/**
 * `gossip.receive`: what one receiver of the gossip benchmarks pays per VM update, in one process,
 * without the network: a Replica on real LevelDB applies gossip messages of 20 updates each (about
 * 530-byte VM states round-robin over 2,000 VMs, the gossip.propagation workload) as its transport
 * hands them over. The messages were produced beforehand by a writer Replica (its own LevelDB) and
 * captured from its transport. Value: updates applied per second of process CPU (every thread,
 * LevelDB's included); p50/p99: CPU µs per message of 20 updates; notes: the share of decoding.
 *
 * With 9 receivers on 2 cores (gossip.propagation.10 at 1,000 updates/s), the receivers' replica
 * work alone takes 9 × 1,000 × (µs per update) of the 2,000,000 µs of CPU a second.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { SystemClock } from '../../src/adapters/clock/system-clock.js';
import { NoopHypervisor } from '../../src/adapters/hypervisor/fake-hypervisor.js';
import { LevelStore } from '../../src/adapters/level/level-store.js';
import { policyPresets } from '../../src/core/policy/presets.js';
import { decodeGossip } from '../../src/replica/codec.js';
import type { PeerState, Transport } from '../../src/replica/ports.js';
import { Replica } from '../../src/replica/replica.js';
import { createResolver } from '../../src/replica/resolver.js';
import { tempDir } from '../support/store-fixture.js';
import { round, summarize, type Benchmark, type BenchResult } from './harness.js';
import { benchVm, mainThreadCpuMs } from './support/net-protocol.js';

const VMS = 2_000;
const PER_MESSAGE = 20;
const MEASURED_MESSAGES = 1_000; // 20,000 updates after the warm-up

/** A transport that captures what is published and hands over what the test delivers. */
class HandTransport implements Transport {
  readonly published: Uint8Array[] = [];
  private handler: ((from: string, payload: Uint8Array) => void) | undefined;
  publish(payload: Uint8Array): void {
    this.published.push(payload);
  }
  onMessage(handler: (from: string, payload: Uint8Array) => void): void {
    this.handler = handler;
  }
  deliver(from: string, payload: Uint8Array): void {
    if (!this.handler) throw new Error('receiver has no message handler');
    this.handler(from, payload);
  }
  request(): Promise<Uint8Array> {
    return Promise.reject(new Error('no peers'));
  }
  onRequest(): void {}
  onPeer(_handler: (peer: string, state: PeerState) => void): void {}
  peers(): readonly string[] {
    return [];
  }
}

async function openReplica(dir: string, nodeId: string, transport: HandTransport, clock: SystemClock): Promise<{ replica: Replica; store: LevelStore }> {
  const store = new LevelStore({ dir });
  await store.open();
  const replica = new Replica(
    { nodeId, gossipMaxBatch: PER_MESSAGE, gossipFlushMs: 1_000_000, gossipMinIntervalMs: 0 },
    { store, transport, clock, hypervisor: new NoopHypervisor(), resolver: createResolver({ policy: () => policyPresets.production }) },
  );
  await replica.start();
  return { replica, store };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));


async function receive(): Promise<BenchResult[]> {
  const root = tempDir('receive');
  const clock = new SystemClock();
  try {
    // The writer: every VM once (the warm-up), then MEASURED_MESSAGES × PER_MESSAGE updates.
    const wt = new HandTransport();
    const writer = await openReplica(join(root, 'writer'), 'hv-1', wt, clock);
    const total = VMS + MEASURED_MESSAGES * PER_MESSAGE;
    for (let seq = 0; seq < total; seq += PER_MESSAGE) {
      await Promise.all(Array.from({ length: PER_MESSAGE }, (_, k) => writer.replica.putVm(benchVm('vm-', (seq + k) % VMS, Math.floor((seq + k) / VMS), seq + k))));
    }
    writer.replica.flushGossip();
    await writer.replica.stop();
    await writer.store.close();
    const messages = wt.published;
    const warm = VMS / PER_MESSAGE;
    if (messages.length !== warm + MEASURED_MESSAGES) throw new Error(`writer published ${messages.length} messages, expected ${warm + MEASURED_MESSAGES}`);

    // Decoding alone, for its share.
    const d0 = process.cpuUsage();
    for (let i = warm; i < messages.length; i++) decodeGossip(messages[i]!);
    const d1 = process.cpuUsage(d0);
    const decodeUs = (d1.user + d1.system) / (MEASURED_MESSAGES * PER_MESSAGE);

    const rt = new HandTransport();
    const receiver = await openReplica(join(root, 'receiver'), 'hv-2', rt, clock);
    let applied = 0;
    receiver.replica.on('applied', () => applied++);
    for (let i = 0; i < warm; i++) {
      rt.deliver('hv-1', messages[i]!);
      await tick();
    }
    for (let i = 0; i < 10; i++) await tick();
    const perMessage = new Float64Array(MEASURED_MESSAGES);
    applied = 0;
    const c0 = process.cpuUsage();
    const main0 = mainThreadCpuMs();
    const t0 = performance.now();
    for (let i = 0; i < MEASURED_MESSAGES; i++) {
      const m0 = process.cpuUsage();
      rt.deliver('hv-1', messages[warm + i]!);
      await tick();
      const m1 = process.cpuUsage(m0);
      perMessage[i] = m1.user + m1.system;
    }
    await receiver.replica.stop();
    // LevelDB compacts in the background: let it finish, so its CPU is counted.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const c1 = process.cpuUsage(c0);
    const mainUs = (mainThreadCpuMs() - main0) * 1000;
    const wallMs = performance.now() - t0;
    await receiver.store.close();
    const updates = MEASURED_MESSAGES * PER_MESSAGE;
    if (applied !== updates) throw new Error(`receiver applied ${applied} of ${updates} updates`);
    const cpuUs = c1.user + c1.system;
    const usPerUpdate = cpuUs / updates;
    const { p50_us, p99_us } = summarize(perMessage);
    return [
      {
        name: 'gossip.receive',
        unit: 'updates/s of CPU',
        value: Math.round(1e6 / usPerUpdate),
        p50_us: round(p50_us, 1),
        p99_us: round(p99_us, 1),
        notes:
          `${updates} VM updates in ${MEASURED_MESSAGES} gossip messages of ${PER_MESSAGE} applied by a Replica on LevelDB: ` +
          `${round(usPerUpdate, 1)} µs of process CPU per update (main thread ${round(mainUs / updates, 1)} µs; ${round(wallMs, 0)} ms wall, and 1 s after for LevelDB's compactions), of which decoding ${round(decodeUs, 1)} µs; ` +
          `p50/p99 = CPU µs per message. 9 receivers at 1,000 updates/s would need ${round((9 * 1000 * usPerUpdate) / 1e4, 0)}% of one core each second for this alone.`,
      },
    ];
  } finally {
    clock.clearAll();
    rmSync(root, { recursive: true, force: true });
  }
}

export const benchmarks: Benchmark[] = [{ names: ['gossip.receive'], run: receive }];
