/**
 * OR-Set (observed-remove set, add-wins): the optimized, tombstone-free, delta-state form (Bieniusa et
 * al., "An optimized conflict-free replicated set", 2012; Almeida, Shoker, Baquero, "Delta state
 * replicated data types", 2018).
 *
 * State:
 * - live entries: element -> its dots. Each add is tagged with a dot `(node, counter)` the caller
 *   allocates from its own node's counter; an element is present while it has a dot.
 * - the causal context C: every dot this replica has seen, live or removed, stored as per-node ranges
 *   (a version vector plus a small dot cloud; see dot-set.ts).
 *
 * A remove just drops the element's dots; they stay in C, which is what says "seen and removed". No
 * tombstone per element or per removal is kept: C compacts to a version vector, so 10,000 add/remove
 * cycles leave a state of a few bytes. Merge keeps a dot if both sides have it live, or if one side has
 * it live and the other side's context does not cover it (the other side never saw it, so did not
 * remove it). Add-wins: an add concurrent with a remove survives, its dot unseen by the remover. An add
 * also supersedes the dots the element already had (the delta's context covers them).
 *
 * In memory the replica also keeps R = C minus the live dots (the dots it removed, or saw removed), as
 * ranges; it is derived, never serialized, and stays a few ranges under churn. R makes the delta
 * protocol cheap:
 *
 *   orsetDeltaSince(A, C_B) = { live dots of A that B has not seen (not in C_B),  context: R_A + those dots }
 *
 * Merging it into B gives exactly B ⊔ A: B learns A's new adds, and drops each live dot that A removed
 * (those are in R_A). Like Yjs' delete set, R_A is sent whole, because B's context cannot say which of
 * A's removals B has applied; it is as small as the removals are contiguous.
 *
 * Dots are the caller's responsibility: a dot names one add, and two states that give one dot to two
 * different elements are corrupt (decoders reject it within a state; merge does not search for it).
 *
 * Representation: a state's live dots are either a sorted list (deltas, decoded states) or a Map store
 * shared by rerooting with the states it was derived from (or-set-store.ts). A list becomes a store the
 * first time it is needed (a lookup, an operation, being the larger side of a merge); a delta that is
 * only merged into a replica or encoded never pays for one.
 */
import { compareDots, type Dot, type DotJson, dotFromJson, dotToJson, expectDot, formatDot } from './dot.js';
import { DotSet, type DotSetJson, dotSetFromRanges, rangesFromSorted, type Ranges } from './dot-set.js';
import { DotIndex } from './dot-index.js';
import { dotList, type ElementDots, GONE, NOT_LIVE, StoreEditor, StoreVersion } from './or-set-store.js';
import type { Mutation } from './types.js';
import { compareStrings, describe, expectArray, expectElement, expectState, fail } from './validate.js';

export interface ORSetJson {
  type: 'or_set';
  /** `[element, [[node, counter], ...]]`, sorted by element, dots sorted. */
  entries: Array<[string, DotJson[]]>;
  context: DotSetJson;
}

/** A live dot and the element it tags. */
export interface LiveDot {
  readonly node: string;
  readonly counter: number;
  readonly element: string;
}

/** Live dots of one node, by increasing counter. */
export interface NodeRun {
  readonly node: string;
  readonly counters: readonly number[];
  readonly elements: readonly string[];
}

export class ORSet {
  /** The live dots as a store; built from `list` on first use. */
  private storeRef: StoreVersion | undefined;
  /** The live dots sorted by (node, counter), for states built from a list; dropped once the store exists. */
  private list: readonly LiveDot[] | undefined;
  /** Every dot seen (C). */
  readonly context: DotSet;
  /** C minus the live dots: every dot seen and no longer live. */
  private readonly removed: DotSet;
  /** Number of live dots (>= size; more only after concurrent adds of one element). */
  readonly dotCount: number;
  /** Number of elements, or -1 until the store is built. */
  private sizeRef: number;

  private constructor(
    store: StoreVersion | undefined,
    list: readonly LiveDot[] | undefined,
    context: DotSet,
    removed: DotSet,
    size: number,
    dotCount: number,
  ) {
    this.storeRef = store;
    this.list = list;
    this.context = context;
    this.removed = removed;
    this.sizeRef = size;
    this.dotCount = dotCount;
  }

  static readonly EMPTY: ORSet = new ORSet(undefined, [], DotSet.EMPTY, DotSet.EMPTY, 0, 0);

  /** Number of elements present. */
  get size(): number {
    if (this.sizeRef < 0) this.store();
    return this.sizeRef;
  }

  private store(): StoreVersion {
    if (this.storeRef !== undefined) return this.storeRef;
    // An empty state never adopts a store: independent replicas starting from EMPTY get their own.
    if (this.dotCount === 0) return StoreVersion.empty();
    const elems = new Map<string, ElementDots>();
    const dots = new Map<string, DotIndex>();
    let node = '';
    let index = new DotIndex();
    for (const f of this.list!) {
      if (f.node !== node) {
        node = f.node;
        dots.set(node, (index = new DotIndex()));
      }
      index.set(f.counter, f.element);
      // The list entry serves as the dot (it has node and counter); dots arrive sorted.
      const known = elems.get(f.element);
      elems.set(f.element, known === undefined ? f : [...dotList(known), f]);
    }
    this.storeRef = StoreVersion.of({ elems, dots });
    this.sizeRef = elems.size;
    this.list = undefined;
    return this.storeRef;
  }

  /**
   * Adds `element` as the event `dot`, which must be new to this replica (not in its context). The
   * element's previous dots, if any, are superseded. The delta holds the element with its new dot and,
   * in its context, the new dot and the superseded ones.
   */
  add(element: string, dot: Dot): Mutation<ORSet> {
    expectElement(element, 'or_set.add element');
    const d = expectDot(dot, 'or_set.add dot');
    if (this.context.covers(d)) {
      fail('or_set.add dot', `dot ${formatDot(d)} was already used (it is in the causal context)`, { dot: d });
    }
    const base = this.store();
    const known = base.read().elems.get(element);
    const old = known === undefined ? NO_DOTS : dotList(known);
    const store = StoreEditor.run(base, (ed) => {
      for (const o of old) ed.dropDot(o.node, o.counter);
      ed.addDot(d, element);
    });
    const superseded = DotSet.fromDots(old);
    const state = new ORSet(
      store,
      undefined,
      this.context.with(d.node, d.counter),
      this.removed.union(superseded),
      this.size + (old.length === 0 ? 1 : 0),
      this.dotCount - old.length + 1,
    );
    const delta = new ORSet(undefined, [{ node: d.node, counter: d.counter, element }], superseded.with(d.node, d.counter), superseded, 1, 1);
    return { state, delta };
  }

  /**
   * Removes `element`: drops the dots this replica has seen for it (an add elsewhere that this replica
   * has not seen survives: add-wins). The delta is empty but for a context holding the dropped dots.
   * Removing an absent element changes nothing.
   */
  remove(element: string): Mutation<ORSet> {
    expectElement(element, 'or_set.remove element');
    const base = this.store();
    const known = base.read().elems.get(element);
    if (known === undefined) return { state: this, delta: ORSet.EMPTY };
    const old = dotList(known);
    const store = StoreEditor.run(base, (ed) => {
      for (const o of old) ed.dropDot(o.node, o.counter);
    });
    const dropped = DotSet.fromDots(old);
    return {
      state: new ORSet(store, undefined, this.context, this.removed.union(dropped), this.size - 1, this.dotCount - old.length),
      delta: new ORSet(undefined, [], dropped, dropped, 0, 0),
    };
  }

  /** The join of two states: commutative, associative, idempotent. Cost grows with the difference, not the size. */
  merge(other: ORSet): ORSet {
    if (other === this || other.context.isEmpty) return this;
    if (this.context.isEmpty) return other;
    // Apply the smaller side's news to the larger side: fewer changes to make.
    return this.dotCount >= other.dotCount ? ORSet.joinInto(this, other) : ORSet.joinInto(other, this);
  }

  /**
   * What a replica whose causal context is `remote` is missing, as a (small) state to merge: the live
   * dots it has not seen, and in the context every dot this replica has removed (so that it drops its
   * copies) plus those new dots. `remote.merge(local.deltaSince(remote.context))` equals
   * `remote.merge(local)`.
   */
  deltaSince(remote: DotSet): ORSet {
    const found = this.liveNotIn(remote);
    return ORSet.fromSortedLive(found, this.removed);
  }

  has(element: string): boolean {
    return this.store().read().elems.has(element);
  }

  /** The live dots of an element (empty if absent), sorted. */
  dotsOf(element: string): Dot[] {
    const known = this.store().read().elems.get(element);
    return known === undefined ? [] : dotList(known).map((d) => ({ node: d.node, counter: d.counter }));
  }

  /** The elements present, sorted. */
  value(): string[] {
    return [...this.store().read().elems.keys()].sort(compareStrings);
  }

  /** The dots seen and no longer live (derived from the context; never serialized). */
  removedDots(): DotSet {
    return this.removed;
  }

  /** Same elements with the same dots, and the same context. */
  equals(other: ORSet): boolean {
    if (other === this) return true;
    if (this.dotCount !== other.dotCount || !this.context.equals(other.context)) return false;
    // Snapshot one side first: reading the other may reroot a shared store.
    const mine = [...this.store().read().elems];
    const theirs = other.store().read().elems;
    if (mine.length !== theirs.size) return false;
    for (const [element, known] of mine) {
      const other = theirs.get(element);
      if (other === undefined) return false;
      const dots = dotList(known);
      const o = dotList(other);
      if (o.length !== dots.length) return false;
      for (let i = 0; i < dots.length; i++) if (compareDots(dots[i]!, o[i]!) !== 0) return false;
    }
    return true;
  }

  toJSON(): ORSetJson {
    const entries: Array<[string, DotJson[]]> = [];
    for (const [element, dots] of this.store().read().elems) entries.push([element, dotList(dots).map(dotToJson)]);
    entries.sort((a, b) => compareStrings(a[0], b[0]));
    return { type: 'or_set', entries, context: this.context.toJSON() };
  }

  /**
   * Validates an untrusted state: elements are strings (any order, no duplicates), each with a
   * non-empty list of dots, no dot used twice, every dot within the context.
   */
  static fromJSON(value: unknown, where = 'or_set'): ORSet {
    const obj = expectState(value, 'or_set', where, ['entries', 'context']);
    const context = DotSet.fromJSON(obj.context, `${where}.context`);
    const list = expectArray(obj.entries, `${where}.entries`);
    const found: LiveDot[] = [];
    const elements = new Set<string>();
    list.forEach((item, i) => {
      const at = `${where}.entries[${i}]`;
      if (!Array.isArray(item) || item.length !== 2) fail(at, `expected [element, dots], got ${describe(item)}`);
      const [e, dotList] = item as unknown[];
      const element = expectElement(e, `${at}[0]`);
      if (elements.has(element)) fail(`${at}[0]`, `duplicate element ${JSON.stringify(element)}`);
      elements.add(element);
      const dots = expectArray(dotList, `${at}[1]`);
      if (dots.length === 0) fail(`${at}[1]`, `element ${JSON.stringify(element)} has no dots (absent elements are not listed)`);
      dots.forEach((raw, k) => {
        const d = dotFromJson(raw, `${at}[1][${k}]`);
        if (!context.covers(d)) fail(`${at}[1][${k}]`, `dot ${formatDot(d)} is not in the causal context`);
        found.push({ node: d.node, counter: d.counter, element });
      });
    });
    found.sort(compareLive);
    for (let i = 1; i < found.length; i++) {
      const p = found[i - 1]!;
      const f = found[i]!;
      if (p.node === f.node && p.counter === f.counter) {
        fail(`${where}.entries`, `dot ${f.node}:${f.counter} tags both ${JSON.stringify(p.element)} and ${JSON.stringify(f.element)}`);
      }
    }
    const live = liveDotSet(found);
    return new ORSet(undefined, found, context, context.difference(live), elements.size, found.length);
  }

  /**
   * @internal (codec) A state from its live dots, sorted by (node, counter) without repeats, and its
   * removed dots, which must be disjoint (the codec checks it as it reads).
   */
  static fromSortedLive(found: readonly LiveDot[], removed: DotSet): ORSet {
    const context = removed.union(liveDotSet(found));
    return new ORSet(undefined, found, context, removed, found.length === 0 ? 0 : -1, found.length);
  }

  /** @internal (codec) The live dots grouped by node, nodes sorted, counters increasing. */
  liveRuns(): NodeRun[] {
    const runs: NodeRun[] = [];
    if (this.list !== undefined) {
      const list = this.list;
      let i = 0;
      while (i < list.length) {
        const node = list[i]!.node;
        const counters: number[] = [];
        const elements: string[] = [];
        for (; i < list.length && list[i]!.node === node; i++) {
          counters.push(list[i]!.counter);
          elements.push(list[i]!.element);
        }
        runs.push({ node, counters, elements });
      }
      return runs;
    }
    const dots = this.store().read().dots;
    for (const node of [...dots.keys()].sort(compareStrings)) {
      const index = dots.get(node)!;
      if (index.size === 0) continue;
      const counters: number[] = [];
      const elements: string[] = [];
      index.forEach((c, e) => {
        counters.push(c);
        elements.push(e);
      });
      runs.push({ node, counters, elements });
    }
    return runs;
  }

  /** The live dots not in `ctx`, sorted by (node, counter). */
  private liveNotIn(ctx: DotSet): LiveDot[] {
    if (this.list !== undefined) return this.list.filter((f) => !ctx.has(f.node, f.counter));
    const unseen = this.context.difference(ctx);
    const found: LiveDot[] = [];
    if (unseen.isEmpty) return found;
    const dots = this.store().read().dots;
    if (unseen.count() <= this.dotCount) {
      // Few unseen events: look each one up (they are live, or removed and absent).
      for (const node of unseen.nodes()) {
        const m = dots.get(node);
        if (m === undefined) continue;
        const r = unseen.ranges(node);
        for (let i = 0; i < r.length; i += 2) {
          const end = r[i + 1]!;
          for (let c = r[i]!; c <= end; c++) {
            const element = m.get(c);
            if (element !== undefined) found.push({ node, counter: c, element });
          }
        }
      }
    } else {
      // Most of the state is unseen: scan the live dots instead.
      for (const node of [...dots.keys()].sort(compareStrings)) {
        dots.get(node)!.forEach((counter, element) => {
          if (!ctx.has(node, counter)) found.push({ node, counter, element });
        });
      }
    }
    return found;
  }

  /** `a ⊔ b`, built by editing a's store (b is read first, so the two may share a store). */
  private static joinInto(a: ORSet, b: ORSet): ORSet {
    // 1. b's live dots that a has never seen: a takes them.
    const adds = b.liveNotIn(a.context);
    // 2. a's live dots that b has removed: in R_b, not in R_a, seen by a (hence live in a).
    const dropped = b.removed.difference(a.removed).intersection(a.context);
    const context = a.context.union(b.context);
    const removed = a.removed.union(b.removed);
    if (adds.length === 0 && dropped.isEmpty) {
      return context === a.context && removed === a.removed
        ? a
        : new ORSet(a.storeRef, a.list, context, removed, a.sizeRef, a.dotCount);
    }
    let size = a.size;
    let dotCount = a.dotCount;
    const store = StoreEditor.run(a.store(), (ed) => {
      for (const node of dropped.nodes()) {
        const r = dropped.ranges(node);
        for (let i = 0; i < r.length; i += 2) {
          const end = r[i + 1]!;
          for (let c = r[i]!; c <= end; c++) {
            const result = ed.dropDot(node, c);
            if (result === NOT_LIVE) fail('or_set', `internal: dot ${node}:${c} is in the context but neither live nor removed`);
            if (result === GONE) size--;
            dotCount--;
          }
        }
      }
      for (const f of adds) {
        if (ed.addDot(f, f.element)) size++;
        dotCount++;
      }
    });
    return new ORSet(store, undefined, context, removed, size, dotCount);
  }
}

const NO_DOTS: readonly Dot[] = Object.freeze([]);

function compareLive(a: LiveDot, b: LiveDot): number {
  return a.node !== b.node ? (a.node < b.node ? -1 : 1) : a.counter - b.counter;
}

/** The DotSet of live dots sorted by (node, counter). */
function liveDotSet(found: readonly LiveDot[]): DotSet {
  const byNode = new Map<string, Ranges>();
  let i = 0;
  while (i < found.length) {
    const node = found[i]!.node;
    const counters: number[] = [];
    for (; i < found.length && found[i]!.node === node; i++) counters.push(found[i]!.counter);
    byNode.set(node, rangesFromSorted(counters));
  }
  return dotSetFromRanges(byNode);
}

/** Functional form of {@link ORSet.deltaSince}: what a replica with causal context `remoteContext` is missing. */
export function orsetDeltaSince(state: ORSet, remoteContext: DotSet): ORSet {
  return state.deltaSince(remoteContext);
}
