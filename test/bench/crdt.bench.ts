/**
 * OR-Set anti-entropy between two 10,000-element replicas, end to end (encode what the other side
 * needs, decode, merge; both directions), against Yjs (a Y.Map with state-vector deltas) and, in the
 * notes, Automerge 3 (its sync protocol).
 *
 * - `crdt.orset.merge.10k`: replicas in sync, then each makes 100 adds and 100 removes independently.
 *   dwcp: each side sends its causal context (binary), the other answers with `deltaSince` (binary).
 *   Yjs: each side sends `encodeStateVector`, the other answers `encodeStateAsUpdate(doc, sv)`.
 * - `crdt.orset.merge.10k.disjoint`: two never-synced replicas of 10,000 distinct elements each, same
 *   protocol (which degenerates into a full-state exchange).
 *
 * Setup is not timed; every repetition starts from fresh replicas, and ends by checking that both
 * replicas hold the same state (it throws otherwise, so a broken merge cannot produce a figure).
 * Reported: the median of the repetitions. `bytes` counts everything sent both ways, contexts included.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as Automerge from '@automerge/automerge';
import * as Y from 'yjs';
import { canonicalJson } from '../../src/core/codec/canonical.js';
import {
  decodeDotSet,
  decodeORSet,
  encodeDotSet,
  encodeORSet,
  DotSet,
  ORSet,
} from '../../src/core/crdt/index.js';
import { type Benchmark, type BenchResult, round } from './harness.js';

const N = 10_000;
const CHANGES = 100;

/** Deterministic pseudo-random choices (the benchmark must be repeatable, not random). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function pick(n: number, count: number, seed: number, exclude = new Set<number>()): number[] {
  const rnd = lcg(seed);
  const out = new Set<number>();
  while (out.size < count) {
    const i = Math.floor(rnd() * n);
    if (!exclude.has(i)) out.add(i);
  }
  return [...out];
}

const elementName = (i: number): string => `e${i}`;

interface Scenario {
  /** Elements both replicas start with (added by node `a`), or none. */
  readonly shared: number;
  /** Elements each replica adds on its own: [a's names, b's names]. */
  readonly adds: readonly [readonly string[], readonly string[]];
  /** Indexes of shared elements each replica removes on its own. */
  readonly removes: readonly [readonly number[], readonly number[]];
}

function syncedScenario(): Scenario {
  const ra = pick(N, CHANGES, 1);
  const rb = pick(N, CHANGES, 2, new Set(ra));
  const newNames = (p: string): string[] => Array.from({ length: CHANGES }, (_, i) => `${p}${i}`);
  return { shared: N, adds: [newNames('x'), newNames('y')], removes: [ra, rb] };
}

function disjointScenario(): Scenario {
  const names = (p: string): string[] => Array.from({ length: N }, (_, i) => `${p}${i}`);
  return { shared: 0, adds: [names('x'), names('y')], removes: [[], []] };
}

// ---- dwcp ---------------------------------------------------------------------------------------

/**
 * A factory of fresh replica pairs for the scenario. The starting states are built once and encoded;
 * each call decodes them (as a replica loading its state would) and applies the scenario's own
 * changes, so every run starts from new replicas, as Yjs's does.
 */
function dwcpReplicas(sc: Scenario): () => [ORSet, ORSet] {
  let a0 = ORSet.EMPTY;
  let b0 = ORSet.EMPTY;
  if (sc.shared > 0) {
    for (let i = 0; i < sc.shared; i++) a0 = a0.add(elementName(i), { node: 'a', counter: i + 1 }).state;
    b0 = a0;
  } else {
    // Never synced: each side built its own elements.
    for (const [k, name] of sc.adds[0].entries()) a0 = a0.add(name, { node: 'a', counter: k + 1 }).state;
    for (const [k, name] of sc.adds[1].entries()) b0 = b0.add(name, { node: 'b', counter: k + 1 }).state;
  }
  const bytesA = encodeORSet(a0);
  const bytesB = encodeORSet(b0);
  return () => {
    let a = decodeORSet(bytesA);
    let b = decodeORSet(bytesB);
    if (sc.shared > 0) {
      let ca = sc.shared;
      let cb = 0;
      for (const name of sc.adds[0]) a = a.add(name, { node: 'a', counter: ++ca }).state;
      for (const name of sc.adds[1]) b = b.add(name, { node: 'b', counter: ++cb }).state;
      for (const i of sc.removes[0]) a = a.remove(elementName(i)).state;
      for (const i of sc.removes[1]) b = b.remove(elementName(i)).state;
    }
    // A loaded replica has its lookup structures built; building them is not part of the exchange.
    a.has('');
    b.has('');
    return [a, b];
  };
}

interface Exchanged<T> {
  readonly a: T;
  readonly b: T;
  readonly bytes: number;
}

function dwcpExchange(a: ORSet, b: ORSet): Exchanged<ORSet> {
  const ctxA = encodeDotSet(a.context);
  const ctxB = encodeDotSet(b.context);
  const toB = encodeORSet(a.deltaSince(decodeDotSet(ctxB)));
  const toA = encodeORSet(b.deltaSince(decodeDotSet(ctxA)));
  return {
    a: a.merge(decodeORSet(toA)),
    b: b.merge(decodeORSet(toB)),
    bytes: ctxA.length + ctxB.length + toA.length + toB.length,
  };
}

/** The same protocol with canonical JSON instead of the binary codec (for the encoding choice). */
function dwcpJsonExchange(a: ORSet, b: ORSet): Exchanged<ORSet> {
  const enc = (x: { toJSON(): unknown }): string => canonicalJson(x.toJSON());
  const ctxA = canonicalJson(a.context.toJSON());
  const ctxB = canonicalJson(b.context.toJSON());
  const toB = enc(a.deltaSince(decodeContextJson(ctxB)));
  const toA = enc(b.deltaSince(decodeContextJson(ctxA)));
  const bytes = [ctxA, ctxB, toA, toB].reduce((n, s) => n + Buffer.byteLength(s), 0);
  return { a: a.merge(ORSet.fromJSON(JSON.parse(toA))), b: b.merge(ORSet.fromJSON(JSON.parse(toB))), bytes };
}

function decodeContextJson(text: string): DotSet {
  return DotSet.fromJSON(JSON.parse(text));
}

function checkDwcp(r: Exchanged<ORSet>, expectedSize: number): void {
  if (!r.a.equals(r.b) || canonicalJson(r.a.toJSON()) !== canonicalJson(r.b.toJSON())) {
    throw new Error('crdt bench: dwcp replicas differ after the exchange');
  }
  if (r.a.size !== expectedSize) throw new Error(`crdt bench: dwcp has ${r.a.size} elements, expected ${expectedSize}`);
}

// ---- Yjs ----------------------------------------------------------------------------------------

function yjsReplicas(sc: Scenario): [Y.Doc, Y.Doc] {
  const a = new Y.Doc();
  const b = new Y.Doc();
  a.clientID = 1;
  b.clientID = 2;
  const ma = a.getMap<boolean>('set');
  const mb = b.getMap<boolean>('set');
  if (sc.shared > 0) {
    a.transact(() => {
      for (let i = 0; i < sc.shared; i++) ma.set(elementName(i), true);
    });
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
  }
  a.transact(() => {
    for (const name of sc.adds[0]) ma.set(name, true);
    for (const i of sc.removes[0]) ma.delete(elementName(i));
  });
  b.transact(() => {
    for (const name of sc.adds[1]) mb.set(name, true);
    for (const i of sc.removes[1]) mb.delete(elementName(i));
  });
  return [a, b];
}

function yjsExchange(a: Y.Doc, b: Y.Doc): Exchanged<Y.Doc> {
  const svA = Y.encodeStateVector(a);
  const svB = Y.encodeStateVector(b);
  const toB = Y.encodeStateAsUpdate(a, svB);
  const toA = Y.encodeStateAsUpdate(b, svA);
  Y.applyUpdate(b, toB);
  Y.applyUpdate(a, toA);
  return { a, b, bytes: svA.length + svB.length + toA.length + toB.length };
}

function checkYjs(r: Exchanged<Y.Doc>, expectedSize: number): void {
  const ka = [...r.a.getMap('set').keys()].sort();
  const kb = [...r.b.getMap('set').keys()].sort();
  if (ka.length !== expectedSize || ka.join('\n') !== kb.join('\n')) throw new Error('crdt bench: Yjs replicas differ');
}

// ---- Automerge ----------------------------------------------------------------------------------

type AmDoc = Automerge.Doc<Record<string, boolean>>;

function automergeReplicas(sc: Scenario): [AmDoc, AmDoc] {
  let a = Automerge.init<Record<string, boolean>>({ actor: 'aa' });
  let b = Automerge.init<Record<string, boolean>>({ actor: 'bb' });
  if (sc.shared > 0) {
    a = Automerge.change(a, (d) => {
      for (let i = 0; i < sc.shared; i++) d[elementName(i)] = true;
    });
    b = Automerge.merge(b, Automerge.load<Record<string, boolean>>(Automerge.save(a)));
  }
  a = Automerge.change(a, (d) => {
    for (const name of sc.adds[0]) d[name] = true;
    for (const i of sc.removes[0]) delete d[elementName(i)];
  });
  b = Automerge.change(b, (d) => {
    for (const name of sc.adds[1]) d[name] = true;
    for (const i of sc.removes[1]) delete d[elementName(i)];
  });
  return [a, b];
}

/** Automerge's sync protocol, run until both sides are quiet. */
function automergeExchange(a0: AmDoc, b0: AmDoc): Exchanged<AmDoc> {
  let a = a0;
  let b = b0;
  let sa = Automerge.initSyncState();
  let sb = Automerge.initSyncState();
  let bytes = 0;
  for (let round = 0; round < 20; round++) {
    const [sa2, toB] = Automerge.generateSyncMessage(a, sa);
    sa = sa2;
    if (toB) {
      bytes += toB.length;
      [b, sb] = Automerge.receiveSyncMessage(b, sb, toB);
    }
    const [sb2, toA] = Automerge.generateSyncMessage(b, sb);
    sb = sb2;
    if (toA) {
      bytes += toA.length;
      [a, sa] = Automerge.receiveSyncMessage(a, sa, toA);
    }
    if (!toA && !toB) break;
  }
  return { a, b, bytes };
}

function checkAutomerge(r: Exchanged<AmDoc>, expectedSize: number): void {
  const ka = Object.keys(r.a).sort();
  const kb = Object.keys(r.b).sort();
  if (ka.length !== expectedSize || ka.join('\n') !== kb.join('\n')) throw new Error('crdt bench: Automerge replicas differ');
}

// ---- measurement --------------------------------------------------------------------------------

interface Contender<S, T> {
  setup(): S;
  run(s: S): Exchanged<T>;
  check(r: Exchanged<T>): void;
}

interface Measured {
  readonly ms: number;
  readonly bytes: number;
}

/**
 * Two young-generation collections: they move freshly built replicas out of the nursery, where a
 * long-running agent's replicas live, so that no timed run pays for scavenging its own setup. (A full
 * collection would be fairer still in principle, but it slows Yjs's next run several-fold here.)
 * `--expose-gc` is set at run time and `gc` read from a fresh context; without it, this does nothing.
 */
const settleHeap: () => void = (() => {
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('gc');
  if (typeof gc !== 'function') return () => {};
  const minor = gc as (opts: { type: 'minor' }) => void;
  return () => {
    minor({ type: 'minor' });
    minor({ type: 'minor' });
  };
})();

/**
 * Median time of `reps` runs of each contender, each run on fresh replicas (heap settled), after
 * `warmup` untimed runs. The contenders take turns, so that a noisy neighbour on the machine hits both alike. `check`
 * runs after the timed part and throws if the replicas differ.
 */
function measure(reps: number, warmup: number, contenders: ReadonlyArray<Contender<unknown, unknown>>): Measured[] {
  const times = contenders.map(() => [] as number[]);
  const bytes = contenders.map(() => 0);
  for (let i = 0; i < warmup + reps; i++) {
    contenders.forEach((c, k) => {
      const s = c.setup();
      settleHeap();
      const t0 = performance.now();
      const r = c.run(s);
      const dt = performance.now() - t0;
      c.check(r);
      if (i >= warmup) times[k]!.push(dt);
      bytes[k] = r.bytes;
    });
  }
  return times.map((t, k) => {
    t.sort((x, y) => x - y);
    return { ms: t[Math.floor(t.length / 2)]!, bytes: bytes[k]! };
  });
}

function contender<S, T>(c: Contender<S, T>): Contender<unknown, unknown> {
  return c;
}

function runCase(name: string, sc: Scenario, reps: number, amReps: number, target: string): BenchResult {
  const expected = sc.shared - sc.removes[0].length - sc.removes[1].length + sc.adds[0].length + sc.adds[1].length;
  const dwcpSetup = dwcpReplicas(sc);
  const [dwcp, yjs, json] = measure(reps, Math.max(3, reps >> 1), [
    contender({ setup: dwcpSetup, run: (s) => dwcpExchange(...s), check: (r) => checkDwcp(r, expected) }),
    contender({ setup: () => yjsReplicas(sc), run: (s) => yjsExchange(...s), check: (r) => checkYjs(r, expected) }),
    contender({ setup: dwcpSetup, run: (s) => dwcpJsonExchange(...s), check: (r) => checkDwcp(r, expected) }),
  ]) as [Measured, Measured, Measured];
  const [am] = measure(amReps, 0, [
    contender({ setup: () => automergeReplicas(sc), run: (s) => automergeExchange(...s), check: (r) => checkAutomerge(r, expected) }),
  ]) as [Measured];
  return {
    name,
    unit: 'ms',
    value: round(dwcp.ms),
    peer: 'yjs',
    peer_value: round(yjs.ms),
    ratio: round(yjs.ms / dwcp.ms, 2),
    bytes: dwcp.bytes,
    peer_bytes: yjs.bytes,
    target,
    notes:
      `median of ${reps} interleaved runs (dwcp, yjs), ${amReps} (automerge); ` +
      `automerge 3 sync protocol: ${round(am.ms, 1)} ms, ${am.bytes} bytes; ` +
      `dwcp with canonical JSON instead of the binary codec: ${round(json.ms)} ms, ${json.bytes} bytes`,
  };
}

export const benchmarks: Benchmark[] = [
  {
    names: ['crdt.orset.merge.10k'],
    run: () => [runCase('crdt.orset.merge.10k', syncedScenario(), 31, 3, 'ratio >= 2 and bytes <= peer_bytes')],
  },
  {
    names: ['crdt.orset.merge.10k.disjoint'],
    run: () => [runCase('crdt.orset.merge.10k.disjoint', disjointScenario(), 9, 3, 'ratio >= 1')],
  },
];
