import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../src/core/codec/canonical.js';
import { InvalidCrdtStateError } from '../../../src/core/errors.js';
import {
  decodeDotSet,
  decodeORSet,
  DotSet,
  encodeDotSet,
  encodeORSet,
  mergeCRDT,
  ORSet,
  orsetDeltaSince,
} from '../../../src/core/crdt/index.js';
import { canon, elementArb, NODES, replicaStates } from './helpers.js';

const dot = (node: string, counter: number): { node: string; counter: number } => ({ node, counter });

/** Every way a replica can learn another's state: full state, delta, through the binary or JSON codecs. */
const SYNC_PATHS = ['full', 'delta', 'binary-delta', 'binary-full', 'json-full'] as const;
type SyncPath = (typeof SYNC_PATHS)[number];

function sync(to: ORSet, from: ORSet, path: SyncPath): ORSet {
  switch (path) {
    case 'full':
      return to.merge(from);
    case 'delta':
      return to.merge(orsetDeltaSince(from, to.context));
    case 'binary-delta': {
      const ctx = decodeDotSet(encodeDotSet(to.context));
      return to.merge(decodeORSet(encodeORSet(from.deltaSince(ctx))));
    }
    case 'binary-full':
      return to.merge(decodeORSet(encodeORSet(from)));
    case 'json-full':
      return to.merge(ORSet.fromJSON(JSON.parse(canonicalJson(from.toJSON()))));
  }
}

describe('OR-Set', () => {
  it("merges the spec's example: item1 removed remotely, item2 added on both sides, item3 remote", () => {
    // The spec writes states as element -> {uuid} plus per-element tombstones. Here a uuid is a dot:
    //   uuid1 = n1:1, uuid2 = n1:2 (local adds, node n1); uuid3 = n2:1, uuid4 = n2:2 (remote, node n2).
    // "Remote removed item1/uuid1" means the remote saw uuid1 and removed it: its causal context covers
    // n1:1 while it holds no live n1:1; it never saw uuid2, so its context does not cover n1:2. There is
    // no tombstone: the context alone says uuid1 was removed there.
    const local = ORSet.fromJSON({
      type: 'or_set',
      entries: [
        ['item1', [['n1', 1]]],
        ['item2', [['n1', 2]]],
      ],
      context: { vv: { n1: 2 }, cloud: {} },
    });
    const remote = ORSet.fromJSON({
      type: 'or_set',
      entries: [
        ['item2', [['n2', 1]]],
        ['item3', [['n2', 2]]],
      ],
      context: { vv: { n1: 1, n2: 2 }, cloud: {} },
    });
    const merged = mergeCRDT('or_set', local, remote);
    expect(merged.value()).toEqual(['item2', 'item3']);
    // item2 keeps both concurrent adds (uuid2 and uuid3): add-wins keeps every unobserved tag.
    expect(merged.dotsOf('item2')).toEqual([dot('n1', 2), dot('n2', 1)]);
    expect(canon(mergeCRDT('or_set', remote, local))).toBe(canon(merged));
    // The same result through the delta protocol, both directions.
    expect(canon(local.merge(remote.deltaSince(local.context)))).toBe(canon(merged));
    expect(canon(remote.merge(local.deltaSince(remote.context)))).toBe(canon(merged));
  });

  it('is add-wins: a remove does not cancel a concurrent add it has not seen', () => {
    const base = ORSet.EMPTY.add('x', dot('n1', 1)).state;
    const a = base.remove('x').state;
    const b = decodeORSet(encodeORSet(base)).add('x', dot('n2', 1)).state;
    expect(a.merge(b).value()).toEqual(['x']);
    expect(a.merge(b).dotsOf('x')).toEqual([dot('n2', 1)]);
    // A remove that has seen both adds wins over both.
    const c = a.merge(b).remove('x').state;
    expect(c.merge(a).merge(b).value()).toEqual([]);
  });

  it('re-adding an element supersedes its old dot', () => {
    const s = ORSet.EMPTY.add('x', dot('n1', 1)).state.add('x', dot('n1', 2));
    expect(s.state.dotsOf('x')).toEqual([dot('n1', 2)]);
    expect(s.delta.context.has('n1', 1)).toBe(true);
    expect(s.delta.size).toBe(1);
  });

  it('matches a reference model under random add/remove/merge histories on 3 replicas', () => {
    // The model is the textbook OR-Set (Shapiro et al.): per replica, the set of add tags it knows and the
    // set of tags it knows were removed, merged by union; an element is present iff some add tag of it
    // is known and not removed, i.e. some add not observed by a remove. A remove retires the tags of the
    // element the replica knows; an add creates a tag and also retires the element's known tags (the
    // optimized OR-Set's add supersedes old dots). Operations are also shipped as deltas.
    interface Model {
      adds: Map<string, string>;
      removed: Set<string>;
    }
    const live = (m: Model, e?: string): string[] =>
      [...m.adds].filter(([t, el]) => (e === undefined || el === e) && !m.removed.has(t)).map(([t]) => t);
    const present = (m: Model): string[] => [...new Set(live(m).map((t) => m.adds.get(t)!))].sort();
    const union = (to: Model, from: Model): void => {
      for (const [t, e] of from.adds) to.adds.set(t, e);
      for (const t of from.removed) to.removed.add(t);
    };

    type Cmd =
      | { kind: 'add'; r: number; e: string; ship: number | undefined }
      | { kind: 'remove'; r: number; e: string; ship: number | undefined }
      | { kind: 'sync'; from: number; to: number; path: SyncPath };
    const r = fc.nat(2);
    const ship = fc.option(fc.nat(2), { nil: undefined });
    const cmd: fc.Arbitrary<Cmd> = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), r, e: elementArb, ship }),
      fc.record({ kind: fc.constant('remove' as const), r, e: elementArb, ship }),
      fc.record({ kind: fc.constant('sync' as const), from: r, to: r, path: fc.constantFrom(...SYNC_PATHS) }),
    );

    fc.assert(
      fc.property(fc.array(cmd, { maxLength: 60 }), (cmds) => {
        const impl = [ORSet.EMPTY, ORSet.EMPTY, ORSet.EMPTY];
        const model: Model[] = impl.map(() => ({ adds: new Map(), removed: new Set() }));
        const counters = [0, 0, 0];
        for (const c of cmds) {
          if (c.kind === 'sync') {
            impl[c.to] = sync(impl[c.to]!, impl[c.from]!, c.path);
            union(model[c.to]!, model[c.from]!);
          } else {
            const m = model[c.r]!;
            const delta: Model = { adds: new Map(), removed: new Set(live(m, c.e)) };
            let mutation;
            if (c.kind === 'add') {
              const d = dot(NODES[c.r]!, ++counters[c.r]!);
              delta.adds.set(`${d.node}:${d.counter}`, c.e);
              mutation = impl[c.r]!.add(c.e, d);
            } else {
              mutation = impl[c.r]!.remove(c.e);
            }
            impl[c.r] = mutation.state;
            union(m, delta);
            if (c.ship !== undefined) {
              impl[c.ship] = impl[c.ship]!.merge(decodeORSet(encodeORSet(mutation.delta)));
              union(model[c.ship]!, delta);
            }
          }
          for (let i = 0; i < 3; i++) expect(impl[i]!.value()).toEqual(present(model[i]!));
        }
        // Full anti-entropy: everyone converges to the same state and the model's set.
        for (const path of ['binary-delta', 'delta'] as const) {
          for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) impl[j] = sync(impl[j]!, impl[i]!, path);
        }
        for (let i = 0; i < 3; i++) union(model[0]!, model[i]!);
        expect(canon(impl[1]!)).toBe(canon(impl[0]!));
        expect(canon(impl[2]!)).toBe(canon(impl[0]!));
        expect(impl[0]!.value()).toEqual(present(model[0]!));
      }),
      { numRuns: 300 },
    );
  });

  it('delta merge equals full-state merge, through every codec', () => {
    fc.assert(
      fc.property(replicaStates('or_set', { maxSteps: 40 }), ([a, b]) => {
        const full = canon(b!.merge(a!));
        for (const path of SYNC_PATHS) expect(canon(sync(b!, a!, path))).toBe(full);
      }),
      { numRuns: 300 },
    );
  });

  it('sends nothing but its removed ranges to a replica that is in sync', () => {
    let a = ORSet.EMPTY;
    for (let i = 1; i <= 50; i++) a = a.add(`e${i}`, dot('n1', i)).state;
    for (let i = 1; i <= 50; i += 2) a = a.remove(`e${i}`).state;
    const b = decodeORSet(encodeORSet(a));
    const delta = a.deltaSince(b.context);
    expect(delta.dotCount).toBe(0);
    expect(delta.removedDots().rangeCount()).toBe(25);
    expect(b.merge(delta).equals(b)).toBe(true);
  });

  it('keeps its state small under add/remove churn (no tombstones)', () => {
    let s = ORSet.EMPTY;
    let counter = 0;
    for (let i = 0; i < 10_000; i++) {
      const e = ['a', 'b', 'c'][i % 3]!;
      s = s.add(e, dot('n1', ++counter)).state;
      s = s.remove(e).state;
    }
    s = s.add('kept', dot('n1', counter + 1)).state;
    const json = canonicalJson(s.toJSON());
    expect(json).toBe('{"context":{"cloud":{},"vv":{"n1":10001}},"entries":[["kept",[["n1",10001]]]],"type":"or_set"}');
    expect(encodeORSet(s).length).toBeLessThan(32);
    expect(s.removedDots().rangeCount()).toBe(1);
  });

  it('stays small under churn on three replicas that merge along the way', () => {
    const rs = [ORSet.EMPTY, ORSet.EMPTY, ORSet.EMPTY];
    const counters = [0, 0, 0];
    for (let i = 0; i < 3000; i++) {
      const k = i % 3;
      const e = ['a', 'b', 'c', 'd'][i % 4]!;
      rs[k] = rs[k]!.add(e, dot(NODES[k]!, ++counters[k]!)).state;
      if (i % 7 === 0) rs[k] = rs[k].remove(e).state;
      if (i % 5 === 0) rs[(k + 1) % 3] = rs[(k + 1) % 3]!.merge(decodeORSet(encodeORSet(rs[k])));
    }
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) rs[j] = rs[j]!.merge(rs[i]!.deltaSince(rs[j]!.context));
    for (const s of rs) {
      expect(canonicalJson(s.toJSON()).length).toBeLessThan(400);
      expect(s.removedDots().rangeCount()).toBeLessThanOrEqual(3 + 4 * 3);
      expect(s.context.rangeCount()).toBe(3);
    }
  });

  it('old versions are unaffected by later operations (persistence)', () => {
    const v0 = ORSet.EMPTY.add('a', dot('n1', 1)).state;
    const v1 = v0.add('b', dot('n1', 2)).state;
    const v2 = v1.remove('a').state;
    const w1 = v0.add('c', dot('n2', 1)).state;
    expect(v2.value()).toEqual(['b']);
    expect(v0.value()).toEqual(['a']);
    expect(w1.value()).toEqual(['a', 'c']);
    expect(v1.value()).toEqual(['a', 'b']);
    expect(v2.merge(w1).value()).toEqual(['b', 'c']);
    expect(v0.value()).toEqual(['a']);
  });

  it('every version keeps its content across random branching histories', () => {
    // States derived from one another share one store (rerooting, or a split when cheaper): check that
    // reading any version, in any order, gives what it held when it was made.
    const step = fc.record({
      from: fc.nat(),
      kind: fc.constantFrom('add', 'remove', 'merge'),
      e: elementArb,
      other: fc.nat(),
    });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 80 }), fc.array(fc.nat(), { maxLength: 40 }), (steps, reads) => {
        const versions: ORSet[] = [ORSet.EMPTY];
        const expected: string[][] = [[]];
        let counter = 0;
        for (const s of steps) {
          const base = versions[s.from % versions.length]!;
          let next: ORSet;
          if (s.kind === 'add') next = base.add(s.e, dot(NODES[s.from % 3]!, 1000 + ++counter)).state;
          else if (s.kind === 'remove') next = base.remove(s.e).state;
          else next = base.merge(versions[s.other % versions.length]!);
          versions.push(next);
          expected.push(next.value());
        }
        for (const i of reads) expect(versions[i % versions.length]!.value()).toEqual(expected[i % versions.length]);
        versions.forEach((v, i) => expect(v.value()).toEqual(expected[i]));
      }),
      { numRuns: 300 },
    );
  });

  it('survives two replicas drifting far apart from one ancestor (store split)', () => {
    let base = ORSet.EMPTY;
    for (let i = 1; i <= 100; i++) base = base.add(`e${i}`, dot('n1', i)).state;
    let a = base;
    let b = base;
    for (let i = 1; i <= 600; i++) {
      a = a.add(`a${i}`, dot('n2', i)).state;
      b = b.remove(`e${(i % 100) + 1}`).state.add(`b${i}`, dot('n3', i)).state;
    }
    expect(a.size).toBe(700);
    expect(b.value()).toEqual(Array.from({ length: 600 }, (_, i) => `b${i + 1}`).sort());
    expect(base.size).toBe(100);
    expect(a.merge(b).size).toBe(1200);
  });

  it('refuses a dot already in its context, and bad elements or dots', () => {
    const s = ORSet.EMPTY.add('a', dot('n1', 1)).state.remove('a').state;
    expect(() => s.add('b', dot('n1', 1))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CRDT_STATE' }));
    expect(() => s.add(42 as unknown as string, dot('n1', 2))).toThrow(/element must be a string/);
    expect(() => s.add('\uD800', dot('n1', 2))).toThrow(/lone UTF-16 surrogate/);
    expect(() => s.add('x'.repeat(5000), dot('n1', 2))).toThrow(/limit 4096/);
    expect(() => s.add('b', dot('n1', 0))).toThrow(/positive/);
    expect(() => s.add('b', dot('bad node!', 2))).toThrow(/node id/);
    expect(() => s.add('b', { node: 'n1' } as unknown as { node: string; counter: number })).toThrow(/integer/);
    expect(() => s.remove(undefined as unknown as string)).toThrow(/element must be a string/);
  });
});

describe('OR-Set binary codec', () => {
  it('round-trips states and contexts', () => {
    fc.assert(
      fc.property(replicaStates('or_set', { maxSteps: 40 }), ([a, b]) => {
        const s = a!.merge(b!);
        const back = decodeORSet(encodeORSet(s));
        expect(back.equals(s)).toBe(true);
        expect(canon(back)).toBe(canon(s));
        expect(encodeORSet(back)).toEqual(encodeORSet(s));
        expect(decodeDotSet(encodeDotSet(s.context)).equals(s.context)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  const sample = (): ORSet => {
    let s = ORSet.EMPTY;
    s = s.add('a', dot('n1', 1)).state.add('b', dot('n1', 2)).state.add('c', dot('n2', 1)).state.remove('b').state;
    return s;
  };

  it('rejects malformed bytes with a typed error naming the offset', () => {
    const good = encodeORSet(sample());
    const bad: Array<[string, Uint8Array, RegExp]> = [
      ['empty', new Uint8Array(0), /truncated/],
      ['unknown format', Uint8Array.from([0x99, ...good.subarray(1)]), /unknown format/],
      ['truncated', good.subarray(0, good.length - 2), /truncated|exceed|left over/],
      ['trailing bytes', Uint8Array.from([...good, 0]), /trailing/],
      ['not bytes', 'abc' as unknown as Uint8Array, /expected bytes/],
    ];
    for (const [what, bytes, message] of bad) {
      expect(() => decodeORSet(bytes), what).toThrow(message);
      try {
        decodeORSet(bytes);
      } catch (err) {
        expect(err, what).toBeInstanceOf(InvalidCrdtStateError);
        expect((err as InvalidCrdtStateError).meta.where, what).toMatch(/^or_set binary/);
      }
    }
  });

  /** Hand-built encodings: [format, node count, nodes..., ranges per node, text length, text, dots per node]. */
  const enc = (...parts: Array<number | string>): Uint8Array =>
    Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...Buffer.from(p, 'utf8')] : [p])));

  it('rejects non-canonical or inconsistent content', () => {
    // One node "n1", no removed ranges, text "a", one dot n1:1 tagging a 1-character element.
    expect(decodeORSet(enc(0x51, 1, 2, 'n1', 0, 1, 'a', 1, 1, 1)).value()).toEqual(['a']);
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ['bad node id', enc(0x51, 1, 2, '!x', 0, 1, 'a', 1, 1, 1), /invalid node id/],
      ['nodes out of order', enc(0x51, 2, 2, 'n2', 2, 'n1', 0, 0, 2, 'ab', 1, 1, 1, 1, 1, 1), /increasing order/],
      ['dot both live and removed', enc(0x51, 1, 2, 'n1', 1, 1, 0, 1, 'a', 1, 1, 1), /both live and removed/],
      ['dots not increasing', enc(0x51, 1, 2, 'n1', 0, 2, 'ab', 2, 1, 1, 0, 1), /increasing order/],
      ['ranges touching', enc(0x51, 1, 2, 'n1', 2, 1, 0, 1, 0, 0, 0), /not canonical/],
      ['node with nothing', enc(0x51, 1, 2, 'n1', 0, 0, 0), /no dots/],
      ['element text too short', enc(0x51, 1, 2, 'n1', 0, 1, 'a', 1, 1, 3), /exceed/],
      ['element text left over', enc(0x51, 1, 2, 'n1', 0, 2, 'ab', 1, 1, 1), /left over/],
      ['invalid utf-8', enc(0x51, 1, 2, 'n1', 0, 1, 0xff, 1, 1, 1), /invalid UTF-8/],
      ['surrogate pair split', enc(0x51, 1, 2, 'n1', 0, 4, '𝄞', 2, 1, 1, 1, 1), /lone UTF-16 surrogate/],
      ['huge count', enc(0x51, 0x80, 0x80, 0x80, 0x80, 0x01), /exceeds what the remaining/],
      ['non-canonical varint', enc(0x51, 0x81, 0x00), /non-canonical varint/],
    ];
    for (const [what, bytes, message] of cases) {
      expect(() => decodeORSet(bytes), what).toThrow(message);
    }
  });

  it('rejects malformed contexts', () => {
    expect(decodeDotSet(encodeDotSet(DotSet.fromVersionVector({ n1: 3 }))).versionVector()).toEqual({ n1: 3 });
    expect(() => decodeDotSet(enc(0x43, 1, 2, 'n1', 0))).toThrow(/without ranges/);
    expect(() => decodeDotSet(enc(0x51))).toThrow(/unknown format/);
    expect(() => decodeDotSet(enc(0x43, 1, 2, 'n1', 1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f))).toThrow(/2\^53/);
  });
});
