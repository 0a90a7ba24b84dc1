import type { Dot } from './dot.js';
import { compareStrings, describe, expectArray, expectDotCounter, expectKeys, expectNodeId, expectObject, fail } from './validate.js';

/**
 * Sorted, disjoint, non-adjacent inclusive ranges of counters, flattened: `[s0, e0, s1, e1, ...]` with
 * `1 <= s0 <= e0`, `e_i + 1 < s_(i+1)`. Never empty inside a DotSet.
 */
export type Ranges = readonly number[];

/** JSON form of a DotSet: version vector (the prefix `1..n` of each node) plus the dot cloud (the rest, as ranges). */
export interface DotSetJson {
  vv: Record<string, number>;
  cloud: Record<string, Array<[number, number]>>;
}

/**
 * An immutable set of dots, stored per node as ranges of counters.
 *
 * It is the *causal context* of the dot-based CRDTs (OR-Set, MV-Register): every dot a replica has
 * seen, whether still live or since removed. A context that saw every event of a node up to `n` is the
 * single range `[1, n]`, so a context compacts to a version vector plus a "dot cloud" of the few dots
 * received out of order; that is also its JSON form. The OR-Set also uses a DotSet for the dots it has
 * removed (its context minus its live dots), which under add/remove churn stays a few ranges.
 */
export class DotSet {
  private readonly byNode: ReadonlyMap<string, Ranges>;

  private constructor(byNode: ReadonlyMap<string, Ranges>) {
    this.byNode = byNode;
  }

  static readonly EMPTY: DotSet = new DotSet(new Map());

  /** @internal Use {@link dotSetFromRanges}; the ranges must already be normalized. */
  static fromNormalizedRanges(byNode: ReadonlyMap<string, Ranges>): DotSet {
    const out = new Map<string, Ranges>();
    for (const [node, r] of byNode) if (r.length > 0) out.set(node, r);
    return new DotSet(out);
  }

  /** The set of the given (validated) dots. */
  static fromDots(dots: Iterable<Dot>): DotSet {
    const perNode = new Map<string, number[]>();
    for (const d of dots) {
      const list = perNode.get(d.node);
      if (list) list.push(d.counter);
      else perNode.set(d.node, [d.counter]);
    }
    const out = new Map<string, Ranges>();
    for (const [node, counters] of perNode) {
      counters.sort((x, y) => x - y);
      out.set(node, rangesFromSorted(counters));
    }
    return new DotSet(out);
  }

  /** Every dot `node:1..n` for each entry of a version vector. */
  static fromVersionVector(vv: Readonly<Record<string, number>>): DotSet {
    const out = new Map<string, Ranges>();
    for (const [node, n] of Object.entries(vv)) {
      expectNodeId(node, 'version vector node');
      if (n === 0) continue;
      expectDotCounter(n, `version vector.${node}`);
      out.set(node, [1, n]);
    }
    return new DotSet(out);
  }

  /** True if the set holds `node:counter`. */
  has(node: string, counter: number): boolean {
    const r = this.byNode.get(node);
    return r !== undefined && rangesHas(r, counter);
  }

  covers(d: Dot): boolean {
    return this.has(d.node, d.counter);
  }

  /** The ranges of one node (empty if none). */
  ranges(node: string): Ranges {
    return this.byNode.get(node) ?? NO_RANGES;
  }

  /** Node ids with at least one dot, sorted. */
  nodes(): string[] {
    return [...this.byNode.keys()].sort(compareStrings);
  }

  get isEmpty(): boolean {
    return this.byNode.size === 0;
  }

  /** Number of dots (exact while below 2^53). */
  count(): number {
    let n = 0;
    for (const r of this.byNode.values()) n += rangesCount(r);
    return n;
  }

  /** Number of ranges over all nodes (a measure of how fragmented the set is). */
  rangeCount(): number {
    let n = 0;
    for (const r of this.byNode.values()) n += r.length / 2;
    return n;
  }

  /** This set plus one dot. */
  with(node: string, counter: number): DotSet {
    const r = this.byNode.get(node);
    const next = r === undefined ? [counter, counter] : rangesInsert(r, counter);
    if (next === r) return this;
    const out = new Map(this.byNode);
    out.set(node, next);
    return new DotSet(out);
  }

  union(other: DotSet): DotSet {
    if (other.byNode.size === 0) return this;
    if (this.byNode.size === 0) return other;
    const out = new Map(this.byNode);
    let changed = false;
    for (const [node, b] of other.byNode) {
      const a = out.get(node);
      const u = a === undefined ? b : rangesUnion(a, b);
      if (u !== a) {
        out.set(node, u);
        changed = true;
      }
    }
    return changed ? new DotSet(out) : this;
  }

  difference(other: DotSet): DotSet {
    if (other.byNode.size === 0 || this.byNode.size === 0) return this;
    const out = new Map<string, Ranges>();
    for (const [node, a] of this.byNode) {
      const b = other.byNode.get(node);
      const d = b === undefined ? a : rangesDifference(a, b);
      if (d.length > 0) out.set(node, d);
    }
    return new DotSet(out);
  }

  intersection(other: DotSet): DotSet {
    const out = new Map<string, Ranges>();
    for (const [node, a] of this.byNode) {
      const b = other.byNode.get(node);
      if (b === undefined) continue;
      const i = rangesIntersection(a, b);
      if (i.length > 0) out.set(node, i);
    }
    return new DotSet(out);
  }

  equals(other: DotSet): boolean {
    if (this === other) return true;
    if (this.byNode.size !== other.byNode.size) return false;
    for (const [node, a] of this.byNode) {
      const b = other.byNode.get(node);
      if (b === undefined || a.length !== b.length) return false;
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    }
    return true;
  }

  /** True if every dot of `other` is in this set. */
  includes(other: DotSet): boolean {
    for (const [node, b] of other.byNode) {
      const a = this.byNode.get(node);
      if (a === undefined || rangesDifference(b, a).length > 0) return false;
    }
    return true;
  }

  /** Calls `fn` for every dot, by node (in insertion order of nodes) then ascending counter. */
  forEachDot(fn: (node: string, counter: number) => void): void {
    for (const [node, r] of this.byNode) {
      for (let i = 0; i < r.length; i += 2) {
        const end = r[i + 1]!;
        for (let c = r[i]!; c <= end; c++) fn(node, c);
      }
    }
  }

  /** `{node: n}` where `1..n` is the contiguous prefix each node's dots start with. */
  versionVector(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const node of this.nodes()) {
      const r = this.byNode.get(node)!;
      if (r[0] === 1) out[node] = r[1]!;
    }
    return out;
  }

  toJSON(): DotSetJson {
    const vv: Record<string, number> = {};
    const cloud: Record<string, Array<[number, number]>> = {};
    for (const node of this.nodes()) {
      const r = this.byNode.get(node)!;
      let i = 0;
      if (r[0] === 1) {
        vv[node] = r[1]!;
        i = 2;
      }
      if (i < r.length) {
        const list: Array<[number, number]> = [];
        for (; i < r.length; i += 2) list.push([r[i]!, r[i + 1]!]);
        cloud[node] = list;
      }
    }
    return { vv, cloud };
  }

  /**
   * Validates an untrusted context `{vv, cloud}`. Ranges may overlap or come in any order (they are
   * normalized); counters must be integers in [1, 2^53 - 1] (zero allowed in `vv`, meaning nothing).
   */
  static fromJSON(value: unknown, where = 'context'): DotSet {
    const obj = expectObject(value, where);
    expectKeys(obj, where, ['vv', 'cloud']);
    const vv = expectObject(obj.vv, `${where}.vv`);
    const cloud = expectObject(obj.cloud, `${where}.cloud`);
    const perNode = new Map<string, Array<[number, number]>>();
    for (const [node, n] of Object.entries(vv)) {
      expectNodeId(node, `${where}.vv key`);
      if (n === 0) continue;
      const end = expectDotCounter(n, `${where}.vv.${node}`);
      perNode.set(node, [[1, end]]);
    }
    for (const [node, list] of Object.entries(cloud)) {
      expectNodeId(node, `${where}.cloud key`);
      const items = expectArray(list, `${where}.cloud.${node}`);
      const ranges = perNode.get(node) ?? [];
      items.forEach((item, k) => {
        const at = `${where}.cloud.${node}[${k}]`;
        if (!Array.isArray(item) || item.length !== 2) fail(at, `expected a range [from, to], got ${describe(item)}`);
        const [s, e] = item as unknown[];
        const from = expectDotCounter(s, `${at}[0]`);
        const to = expectDotCounter(e, `${at}[1]`);
        if (from > to) fail(at, `range is empty: from ${from} > to ${to}`);
        ranges.push([from, to]);
      });
      if (ranges.length > 0) perNode.set(node, ranges);
    }
    const out = new Map<string, Ranges>();
    for (const [node, ranges] of perNode) {
      ranges.sort((x, y) => x[0] - y[0]);
      const flat: number[] = [];
      for (const [s, e] of ranges) appendRange(flat, s, e);
      out.set(node, flat);
    }
    return new DotSet(out);
  }
}

const NO_RANGES: Ranges = Object.freeze([]);

/** @internal A DotSet over already-normalized ranges (codec and OR-Set internals); empty entries are dropped. */
export function dotSetFromRanges(byNode: ReadonlyMap<string, Ranges>): DotSet {
  return DotSet.fromNormalizedRanges(byNode);
}

// ---- operations on one node's ranges ---------------------------------------------------------------

function rangesHas(r: Ranges, c: number): boolean {
  let lo = 0;
  let hi = (r.length >> 1) - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (c < r[2 * mid]!) hi = mid - 1;
    else if (c > r[2 * mid + 1]!) lo = mid + 1;
    else return true;
  }
  return false;
}

function rangesCount(r: Ranges): number {
  let n = 0;
  for (let i = 0; i < r.length; i += 2) n += r[i + 1]! - r[i]! + 1;
  return n;
}

/** Appends [s, e] (s >= the last start) to normalized ranges, merging with the last range if they touch. */
function appendRange(out: number[], s: number, e: number): void {
  const n = out.length;
  if (n > 0 && s <= out[n - 1]! + 1) {
    if (e > out[n - 1]!) out[n - 1] = e;
  } else {
    out.push(s, e);
  }
}

/** Ranges of strictly increasing (or non-decreasing) counters. */
export function rangesFromSorted(counters: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < counters.length; i++) {
    const c = counters[i]!;
    appendRange(out, c, c);
  }
  return out;
}

/** `r` plus one counter; returns `r` itself if it already holds it. */
function rangesInsert(r: Ranges, c: number): Ranges {
  const n = r.length;
  // Fast path: appending at the end (the usual case, a node's next event).
  if (n > 0 && c > r[n - 1]!) {
    const out = r.slice();
    appendRange(out, c, c);
    return out;
  }
  if (rangesHas(r, c)) return r;
  return rangesUnion(r, [c, c]);
}

function rangesUnion(a: Ranges, b: Ranges): Ranges {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]! <= b[j]!)) {
      appendRange(out, a[i]!, a[i + 1]!);
      i += 2;
    } else {
      appendRange(out, b[j]!, b[j + 1]!);
      j += 2;
    }
  }
  return sameRanges(out, a) ? a : out;
}

function rangesDifference(a: Ranges, b: Ranges): Ranges {
  if (a.length === 0 || b.length === 0) return a;
  const out: number[] = [];
  let j = 0;
  for (let i = 0; i < a.length; i += 2) {
    let s = a[i]!;
    const e = a[i + 1]!;
    while (j < b.length && b[j + 1]! < s) j += 2;
    let k = j;
    while (s <= e && k < b.length && b[k]! <= e) {
      if (b[k]! > s) out.push(s, b[k]! - 1);
      s = Math.max(s, b[k + 1]! + 1);
      k += 2;
    }
    if (s <= e) out.push(s, e);
  }
  return sameRanges(out, a) ? a : out;
}

function rangesIntersection(a: Ranges, b: Ranges): Ranges {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const s = Math.max(a[i]!, b[j]!);
    const e = Math.min(a[i + 1]!, b[j + 1]!);
    if (s <= e) out.push(s, e);
    if (a[i + 1]! < b[j + 1]!) i += 2;
    else j += 2;
  }
  return out;
}

function sameRanges(x: Ranges, y: Ranges): boolean {
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
