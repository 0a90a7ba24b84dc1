/**
 * Test helpers for the resolution strategies: versions, conflicts built directly (independent of the
 * detector), contexts, the byte form of results, and fast-check arbitraries for concurrent versions.
 */
import fc from 'fast-check';
import { VectorClock } from '../../../src/core/clock/vector-clock.js';
import { canonicalJson } from '../../../src/core/codec/canonical.js';
import type { Conflict } from '../../../src/core/conflict/types.js';
import { createVersion, versionToJSON, type Version } from '../../../src/core/conflict/version.js';
import { createResolutionContext } from '../../../src/core/resolve/index.js';
import type { ResolutionContext, Strategy, StrategyResult } from '../../../src/core/resolve/types.js';
import type { VMState } from '../../../src/core/vm/state.js';

export const RES = 'vm/vm-123';

export interface VerInit {
  readonly origin: string;
  readonly wall: number;
  readonly logical?: number;
  readonly data: unknown;
  readonly clock?: Record<string, number>;
  readonly deleted?: boolean;
  readonly resourceId?: string;
}

/** A version; its clock defaults to `{origin: 1}` plus whatever is given. */
export function ver(init: VerInit): Version {
  return createVersion({
    resourceId: init.resourceId ?? RES,
    clock: VectorClock.from(init.clock ?? { [init.origin]: 1 }),
    hlc: { wall: init.wall, logical: init.logical ?? 0 },
    origin: init.origin,
    data: init.data,
    deleted: init.deleted ?? false,
  });
}

/** A conflict over `versions`, exactly in the given order (strategies must not care). */
export function conflictOf(versions: readonly Version[], over: Partial<Conflict> = {}): Conflict {
  return {
    id: `c-${versions.map((v) => v.id.slice(0, 6)).join('-')}`,
    resourceId: versions[0]?.resourceId ?? RES,
    versions,
    type: 'concurrent_update',
    severity: 'medium',
    complexity: 0.3,
    detectedAt: 1_700_000_000_000,
    fields: [],
    reasons: [],
    ...over,
  };
}

export function ctxOf(over: Partial<ResolutionContext> = {}): ResolutionContext {
  return createResolutionContext(over);
}

/** The bytes of a version: its canonical JSON (id, digest, clock, hlc, origin, data). */
export function bytesOf(v: Version): string {
  return canonicalJson(versionToJSON(v));
}

/** The bytes of a whole strategy result (without notes and decisions, which may name inputs). */
export function resultBytes(r: StrategyResult): string {
  switch (r.outcome) {
    case 'resolved':
      return `resolved:${bytesOf(r.version)}`;
    case 'siblings':
      return `siblings:${r.versions.map(bytesOf).join('|')}`;
    case 'deferred':
      return `deferred:${r.to}:${r.candidates.map(bytesOf).join('|')}:${r.rollbackTarget ? bytesOf(r.rollbackTarget) : ''}`;
  }
}

export function resolvedVersion(r: StrategyResult): Version {
  if (r.outcome !== 'resolved') throw new Error(`expected a resolved result, got ${r.outcome}: ${JSON.stringify(r)}`);
  return r.version;
}

/** Merge two or more versions with `s`, expecting one resolved version. */
export function merge(s: Strategy, ctx: ResolutionContext, ...versions: Version[]): Version {
  return resolvedVersion(s.resolve(conflictOf(versions), ctx));
}

export function permutations<T>(xs: readonly T[]): T[][] {
  if (xs.length <= 1) return [[...xs]];
  const out: T[][] = [];
  xs.forEach((x, i) => {
    for (const rest of permutations([...xs.slice(0, i), ...xs.slice(i + 1)])) out.push([x, ...rest]);
  });
  return out;
}

/**
 * Every way of merging three versions: all at once in every order, and pairwise in every order
 * (`(x ⊔ y) ⊔ z` and `z ⊔ (x ⊔ y)`). Returns the byte forms.
 */
export function allMergeOrders(s: Strategy, ctx: ResolutionContext, a: Version, b: Version, c: Version): string[] {
  const out: string[] = [];
  for (const p of permutations([a, b, c])) out.push(bytesOf(merge(s, ctx, ...p)));
  for (const [x, y, z] of permutations([a, b, c])) {
    const xy = merge(s, ctx, x!, y!);
    out.push(bytesOf(merge(s, ctx, xy, z!)));
    out.push(bytesOf(merge(s, ctx, z!, xy)));
  }
  return out;
}

export const NODES = ['hv-01', 'hv-02', 'hv-03', 'hv-04'] as const;

/**
 * `n` mutually concurrent version "shapes" with distinct origins: clock = a shared base plus one own
 * event at the origin. Timestamps come from a narrow range so that exact ties happen.
 */
export function concurrentMeta(n: number): fc.Arbitrary<{ origin: string; wall: number; logical: number; clock: Record<string, number> }[]> {
  return fc
    .record({
      origins: fc.shuffledSubarray([...NODES], { minLength: n, maxLength: n }),
      base: fc.record({ 'hv-01': fc.nat(3), 'hv-02': fc.nat(3), 'hv-03': fc.nat(3), 'hv-04': fc.nat(3) }),
      stamps: fc.array(fc.record({ wall: fc.integer({ min: 1000, max: 1004 }), logical: fc.nat(2) }), { minLength: n, maxLength: n }),
    })
    .map(({ origins, base, stamps }) =>
      origins.map((origin, i) => ({
        origin,
        wall: stamps[i]!.wall,
        logical: stamps[i]!.logical,
        clock: { ...base, [origin]: (base[origin] ?? 0) + 1 + i },
      })),
    );
}

/** `n` concurrent versions whose data come from `data`. */
export function concurrentVersions(n: number, data: fc.Arbitrary<unknown>, resourceId = RES): fc.Arbitrary<Version[]> {
  return fc
    .tuple(concurrentMeta(n), fc.array(data, { minLength: n, maxLength: n }))
    .map(([metas, datas]) => metas.map((m, i) => ver({ ...m, data: datas[i], resourceId })));
}

export const MACS = ['52:54:00:00:00:01', '52:54:00:00:00:02', '52:54:00:00:00:03'];
export const IPS = ['10.0.1.100', '10.0.1.101', '10.0.1.102'];

/** Small-domain VM states (so that fields collide and tie often). */
export const vmStateArb: fc.Arbitrary<VMState> = fc
  .record(
    {
      host: fc.constantFrom('hv-01', 'hv-02', 'hv-03'),
      power_state: fc.constantFrom('running', 'paused', 'stopped', 'crashed'),
      cpu_allocation: fc.constantFrom(1, 2, 4, 8),
      memory_mb: fc.constantFrom(1024, 4096, 8192, 16384),
      interfaces: fc.uniqueArray(
        fc.record({ name: fc.constantFrom('eth0', 'eth1', 'eth2'), mac: fc.constantFrom(...MACS), ip: fc.constantFrom(...IPS) }),
        { selector: (n) => n.name, maxLength: 3 },
      ),
      mtu: fc.option(fc.constantFrom(1500, 9000), { nil: undefined }),
      disks: fc.uniqueArray(
        fc.record({ path: fc.constantFrom('/vm/a.qcow2', '/vm/b.qcow2', '/vm/c.qcow2'), size_gb: fc.constantFrom(10, 20, 40), bus: fc.constantFrom('virtio', 'scsi') }),
        { selector: (d) => d.path, maxLength: 3 },
      ),
      snapshot_id: fc.constantFrom(null, 'snap-1', 'snap-2', 'snap-3'),
      migration_status: fc.constantFrom('none', 'pending', 'migrating', 'completed', 'failed'),
      labels: fc.option(fc.dictionary(fc.constantFrom('owner', 'tier'), fc.constantFrom('a', 'b')), { nil: undefined }),
      note: fc.option(fc.constantFrom('x', 'y'), { nil: undefined }),
    },
    { requiredKeys: ['host', 'power_state', 'cpu_allocation', 'memory_mb', 'interfaces', 'disks', 'snapshot_id', 'migration_status'] },
  )
  .map((r) => {
    const vm: VMState = {
      id: 'vm-123',
      host: r.host,
      power_state: r.power_state,
      cpu_allocation: r.cpu_allocation,
      memory_mb: r.memory_mb,
      network_config: { interfaces: r.interfaces },
      disk_config: r.disks,
      snapshot_id: r.snapshot_id,
      migration_status: r.migration_status,
    };
    if (r.mtu !== undefined) vm.network_config.mtu = r.mtu;
    if (r.labels !== undefined) vm.labels = r.labels;
    if (r.note !== undefined) vm.note = r.note;
    return vm;
  });

/** The spec's VM example, in the INTERFACE.md shape. */
export function specVm(over: Partial<VMState> = {}): VMState {
  return {
    id: 'vm-123',
    host: 'hv-01',
    power_state: 'running',
    cpu_allocation: 4,
    memory_mb: 8192,
    network_config: { interfaces: [{ name: 'eth0', mac: '52:54:00:12:34:56', ip: '10.0.1.100' }] },
    disk_config: [{ path: '/var/lib/vms/vm-123.qcow2', size_gb: 40 }],
    snapshot_id: 'snap-7',
    migration_status: 'none',
    ...over,
  };
}

/**
 * A text in segments separated by unique fence characters; side k edits only segments i with
 * i % sides === k: it deletes some of the segment's characters and inserts characters that never occur
 * in the ancestor (so that the edit is unambiguous: a diff cannot mistake an insertion for a kept
 * character). `expected` applies every side's edits. `sparse`: a few local edits per segment (a
 * deleted range and/or an inserted string), as in real documents; otherwise any character may go.
 */
const INSERTABLE = ['X', 'Y', '-', '😀'];
const denseEdit = (segment: string): fc.Arbitrary<string> =>
  fc
    .record({
      ops: fc.array(fc.record({ keep: fc.boolean(), before: fc.string({ unit: fc.constantFrom(...INSERTABLE), maxLength: 2 }) }), {
        minLength: segment.length,
        maxLength: segment.length,
      }),
      tail: fc.string({ unit: fc.constantFrom(...INSERTABLE), maxLength: 3 }),
    })
    .map(({ ops, tail }) => [...segment].map((ch, i) => ops[i]!.before + (ops[i]!.keep ? ch : '')).join('') + tail);
const sparseEdit = (segment: string): fc.Arbitrary<string> =>
  fc
    .array(fc.record({ at: fc.nat(), del: fc.nat(6), ins: fc.string({ unit: fc.constantFrom(...INSERTABLE), maxLength: 5 }) }), {
      minLength: 1,
      maxLength: 3,
    })
    .map((ops) => {
      let chars = [...segment];
      for (const op of ops) {
        const at = op.at % (chars.length + 1);
        chars = [...chars.slice(0, at), ...op.ins, ...chars.slice(at + op.del)];
      }
      return chars.join('');
    });

export const fenced = (
  sides: number,
  { maxLength = 6, minLength = 0, segments = 8, sparse = false } = {},
): fc.Arbitrary<{ ancestor: string; edits: string[]; expected: string }> =>
  fc
    .array(fc.string({ unit: fc.constantFrom('a', 'b', ' ', 'a', 'b', ' ', '\n'), minLength, maxLength }), { minLength: sides, maxLength: segments })
    .chain((segs) =>
      fc.tuple(fc.constant(segs), fc.tuple(...segs.map((seg) => fc.option(sparse ? sparseEdit(seg) : denseEdit(seg), { nil: undefined })))),
    )
    .map(([segs, replacement]) => {
      const fence = (i: number): string => String.fromCharCode(0x2460 + i);
      const join = (parts: readonly string[]): string => parts.map((s, i) => s + fence(i)).join('');
      const ancestor = join(segs);
      const edits = Array.from({ length: sides }, (_, side) =>
        join(segs.map((s, i) => (i % sides === side && replacement[i] !== undefined ? replacement[i] : s))),
      );
      const expected = join(segs.map((s, i) => replacement[i] ?? s));
      return { ancestor, edits, expected };
    });
