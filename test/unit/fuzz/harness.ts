/**
 * A replica under attack, for the replica-level fuzz suites: a three-node in-memory cluster (real
 * replicas, anti-entropy, Paxos and coordinator over a MemoryNetwork; see test/support/cluster.ts)
 * and a rogue endpoint on the same network that publishes and requests whatever bytes a test gives
 * it. Only n1 hears the rogue's gossip (the other links are cut), so one case costs one delivery.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { expect } from 'vitest';
import { MAX_LOGICAL } from '../../../src/core/clock/hlc.js';
import { VectorClock } from '../../../src/core/clock/vector-clock.js';
import { sha256Hex } from '../../../src/core/codec/canonical.js';
import { createVersion, versionToJSON, type Version } from '../../../src/core/conflict/version.js';
import { auditKey, type AuditEntry } from '../../../src/replica/audit-log.js';
import { encodeGossip } from '../../../src/replica/codec.js';
import type { Transport } from '../../../src/replica/ports.js';
import { decodeRecord, RecordKind } from '../../../src/replica/record-codec.js';
import { createCluster, flushMicrotasks, type TestCluster, type TestNode } from '../../support/cluster.js';
import { dataArb, nodeIdArb } from './arbitraries.js';

export interface Attack {
  readonly c: TestCluster;
  readonly n1: TestNode;
  readonly rogue: Transport;
  readonly rejected: Array<{ from: string; reason: string }>;
  /** Publish from the rogue and deliver to n1. */
  gossip(payload: Uint8Array): Promise<void>;
  /**
   * A request from the rogue to n1. `reply` is the router's answer; `thrown` is set when the router
   * (not a handler) threw instead of answering, which the router promises never to do.
   */
  request(payload: Uint8Array): Promise<{ reply?: Uint8Array; thrown?: unknown }>;
  /** A fingerprint of n1's replicated state (every version set, conflicts, resources). */
  fingerprint(): string;
  /** A fresh resource id (never used before in this process). */
  freshId(prefix?: string): string;
  /** The audit entries appended since `seq` (exclusive). */
  auditSince(seq: number): Promise<AuditEntry[]>;
}

export async function underAttack(): Promise<Attack> {
  const c = await createCluster({ nodes: ['n1', 'n2', 'n3'], antiEntropy: { intervalMs: 0 }, coordinator: {} });
  const rogue = c.net.join('rogue');
  c.net.block('rogue', 'n2');
  c.net.block('rogue', 'n3');
  await c.settle(5_000); // the peer-up anti-entropy rounds with the rogue fail and finish
  const n1 = c.node('n1');
  const rejected: Array<{ from: string; reason: string }> = [];
  n1.replica.on('rejected', (e) => rejected.push(e));
  let fresh = 0;
  // Deliveries are timers on the manual clock; the replica's and handlers' follow-ups are promise
  // chains over the in-memory store (microtasks only), so a few microtask turns settle them.
  const microtasks = async (): Promise<void> => {
    for (let i = 0; i < 32; i++) await Promise.resolve();
  };
  const drain = async (): Promise<void> => {
    c.clock.advance(10);
    await microtasks();
  };
  return {
    c,
    n1,
    rogue,
    rejected,
    async gossip(payload) {
      rogue.publish(payload);
      await drain();
    },
    async request(payload) {
      let done = false;
      const p = rogue.request('n1', payload).then(
        (reply) => ({ reply }),
        (thrown: unknown) => ({ thrown }),
      );
      void p.then(() => (done = true));
      for (let i = 0; i < 200 && !done; i++) {
        await drain();
        if (i > 50) await flushMicrotasks();
      }
      return p;
    },
    fingerprint() {
      const r = n1.replica;
      // The digest index XORs every version set's hash into its buckets: equal buckets, equal state.
      // Its bucket arrays are hashed directly (summary() formats 1,024 hex strings: 1.5 ms a call).
      const raw = r.digest as unknown as { hi?: Uint32Array; lo?: Uint32Array };
      const buckets =
        raw.hi instanceof Uint32Array && raw.lo instanceof Uint32Array
          ? createHash('sha256').update(raw.hi).update(raw.lo).digest('hex')
          : sha256Hex(r.digest.summary().join(''));
      return `${buckets}|${r.conflictList().map((x) => `${x.id}:${x.status}`).join(',')}`;
    },
    freshId(prefix = 'vm/fz') {
      return `${prefix}-${++fresh}`;
    },
    async auditSince(seq) {
      const out: AuditEntry[] = [];
      for (let s = seq + 1; s <= n1.replica.audit.lastSeq; s++) {
        const raw = await n1.store.get('audit', auditKey(s));
        if (raw) out.push(decodeRecord(raw, RecordKind.audit, 'audit', auditKey(s)) as AuditEntry);
      }
      return out;
    },
  };
}

/** What to build a version from; the resource id and timestamp are chosen when the case runs. */
export interface VersionSeed {
  readonly counters: Record<string, number>;
  readonly origin: string;
  readonly data: unknown;
  readonly deleted: boolean;
  readonly logical: number;
  readonly ageMs: number;
}

export const versionSeedArb: fc.Arbitrary<VersionSeed> = fc.record({
  counters: fc.dictionary(nodeIdArb, fc.integer({ min: 1, max: 9 }), { maxKeys: 3, noNullPrototype: true }),
  origin: nodeIdArb,
  data: dataArb,
  deleted: fc.boolean(),
  logical: fc.integer({ min: 0, max: MAX_LOGICAL }),
  ageMs: fc.integer({ min: 0, max: 3_600_000 }),
});

/** A valid version of a fresh resource, timestamped `ageMs` before `now` (within the drift bound). */
export function versionFrom(seed: VersionSeed, resourceId: string, now: number): Version {
  return createVersion({
    resourceId,
    clock: VectorClock.from({ ...seed.counters, [seed.origin]: Math.max(1, seed.counters[seed.origin] ?? 0) }),
    hlc: { wall: now - seed.ageMs, logical: seed.logical },
    origin: seed.origin,
    data: seed.data,
    deleted: seed.deleted,
  });
}

export function gossipOf(versions: readonly Version[], from = 'n2'): Uint8Array {
  return encodeGossip(from, versions);
}

export function wireDoc(versions: readonly Version[], from = 'n2'): { v: number; from: string; versions: unknown[] } {
  return { v: 1, from, versions: versions.map((v) => JSON.parse(JSON.stringify(versionToJSON(v))) as unknown) };
}

/** The rejection contract: counted (a `rejected` event from `from`) and audited (a `rejected` entry). */
export async function expectRejectedAndAudited(a: Attack, before: { events: number; seq: number }, from: string): Promise<void> {
  expect(a.rejected.length, 'a rejected event').toBeGreaterThan(before.events);
  expect(a.rejected.at(-1)!.from).toBe(from);
  const entries = await a.auditSince(before.seq);
  expect(
    entries.some((e) => e.kind === 'rejected' && (e.data as { from?: unknown }).from === from),
    `an audit entry of kind 'rejected' (got ${JSON.stringify(entries.map((e) => e.kind))})`,
  ).toBe(true);
}
