import { describeValue } from '../codec/describe.js';
import { InvalidClockError } from '../errors.js';
import { assertNodeId, internNodeId, lookupNodeId, nodeIdAt } from './node-ids.js';

/** How `a` relates to `b`: `before` means a happened before b (a < b). */
export type Ordering = 'before' | 'after' | 'equal' | 'concurrent';

/** Most entries accepted in one clock (decoders refuse more). */
export const MAX_CLOCK_ENTRIES = 4096;

const EMPTY = new Float64Array(0);

/**
 * An immutable vector clock: node id → counter.
 *
 * In memory it is a dense Float64Array indexed by interned node ids (see node-ids.ts), which makes
 * `compare` a tight loop over doubles; counters are exact integers up to 2^53 - 1. On the wire and in
 * JSON it is by name, sorted, so encodings are canonical and independent of interning order.
 */
export class VectorClock {
  /** counters[i] is the counter of the node interned at index i; missing tail entries are zero. */
  private readonly counters: Float64Array;

  private constructor(counters: Float64Array) {
    this.counters = counters;
  }

  static readonly EMPTY: VectorClock = new VectorClock(EMPTY);

  /**
   * Build a clock from `{nodeId: counter}` or `[nodeId, counter]` entries, in any order; zero counters are
   * dropped. Validates every id and counter and refuses a node id given twice (even with a zero counter).
   */
  static from(entries: Readonly<Record<string, number>> | Iterable<readonly [string, number]>): VectorClock {
    if (typeof entries !== 'object' || entries === null) {
      throw new InvalidClockError(`vector clock must be an object or an iterable of entries, got ${describeValue(entries)}`, {});
    }
    const pairs: Iterable<unknown> = Symbol.iterator in entries ? entries : Object.entries(entries);
    const seen = new Set<string>();
    const idx: number[] = [];
    const vals: number[] = [];
    for (const pair of pairs) {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new InvalidClockError(`vector clock entry must be a [nodeId, counter] pair, got ${describeValue(pair)}`, {});
      }
      const [nodeId, counter] = pair as [unknown, unknown];
      assertNodeId(nodeId, 'node id in vector clock');
      assertCounter(counter, nodeId);
      if (seen.has(nodeId)) {
        throw new InvalidClockError(`node id ${nodeId} appears twice in vector clock`, { nodeId });
      }
      seen.add(nodeId);
      if (seen.size > MAX_CLOCK_ENTRIES) {
        throw new InvalidClockError(`vector clock has more than ${MAX_CLOCK_ENTRIES} entries`, { limit: MAX_CLOCK_ENTRIES });
      }
      if (counter === 0) continue;
      idx.push(internNodeId(nodeId));
      vals.push(counter);
    }
    if (idx.length === 0) return VectorClock.EMPTY;
    let max = 0;
    for (const i of idx) if (i > max) max = i;
    const c = new Float64Array(max + 1);
    for (let k = 0; k < idx.length; k++) c[idx[k]!] = vals[k]!;
    return new VectorClock(c);
  }

  /** The counter of a node (0 if absent). */
  get(nodeId: string): number {
    const i = lookupNodeId(nodeId);
    return i < 0 ? 0 : (this.counters[i] ?? 0);
  }

  /** Number of non-zero entries. */
  get size(): number {
    let n = 0;
    for (let i = 0; i < this.counters.length; i++) if (this.counters[i] !== 0) n++;
    return n;
  }

  /** A new clock with `nodeId`'s counter one higher. */
  increment(nodeId: string): VectorClock {
    const i = internNodeId(nodeId);
    const len = Math.max(this.counters.length, i + 1);
    const c = new Float64Array(len);
    c.set(this.counters);
    const next = (c[i] ?? 0) + 1;
    if (next > Number.MAX_SAFE_INTEGER) {
      throw new InvalidClockError(`counter of ${nodeId} would exceed 2^53 - 1`, { nodeId });
    }
    c[i] = next;
    return new VectorClock(c);
  }

  /** How this clock relates to `other`. */
  compare(other: VectorClock): Ordering {
    return compareClocks(this, other);
  }

  /** True if this clock is greater than or equal to `other` in every entry. */
  dominates(other: VectorClock): boolean {
    const o = compareClocks(this, other);
    return o === 'after' || o === 'equal';
  }

  equals(other: VectorClock): boolean {
    return compareClocks(this, other) === 'equal';
  }

  /** Pointwise maximum. */
  join(other: VectorClock): VectorClock {
    const a = this.counters;
    const b = other.counters;
    const long = a.length >= b.length ? a : b;
    const short = a.length >= b.length ? b : a;
    const c = new Float64Array(long);
    for (let i = 0; i < short.length; i++) {
      const v = short[i]!;
      if (v > c[i]!) c[i] = v;
    }
    return new VectorClock(c);
  }

  /** Pointwise maximum of any number of clocks. */
  static joinAll(clocks: Iterable<VectorClock>): VectorClock {
    let acc = VectorClock.EMPTY;
    for (const c of clocks) acc = acc.join(c);
    return acc;
  }

  /** Non-zero entries sorted by node id. */
  entries(): Array<[string, number]> {
    const out: Array<[string, number]> = [];
    for (let i = 0; i < this.counters.length; i++) {
      const v = this.counters[i]!;
      if (v !== 0) out.push([nodeIdAt(i), v]);
    }
    out.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    return out;
  }

  /**
   * `{nodeId: counter}`, zeros omitted, keys inserted in sorted order. Note that JavaScript lists
   * integer-like keys (node ids such as `"7"`) first whatever the insertion order, so `JSON.stringify`
   * of this object is not canonical for such ids: use `canonicalJson` (which sorts) or {@link encode}.
   */
  toJSON(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of this.entries()) out[k] = v;
    return out;
  }

  /** Canonical text form `a:1,b:2` (sorted, zeros omitted). */
  toString(): string {
    return this.entries()
      .map(([k, v]) => `${k}:${v}`)
      .join(',');
  }

  /**
   * Parse the text form produced by {@link toString}. Entries may come in any order (the result is the
   * same clock); malformed entries, bad ids or counters and repeated ids are refused.
   */
  static parse(text: string): VectorClock {
    if (typeof text !== 'string') throw new InvalidClockError('vector clock text must be a string', {});
    if (text === '') return VectorClock.EMPTY;
    const pairs: Array<[string, number]> = [];
    for (const part of text.split(',')) {
      const colon = part.lastIndexOf(':');
      const digits = colon < 0 ? '' : part.slice(colon + 1);
      if (colon < 0 || !/^\d{1,16}$/.test(digits)) {
        throw new InvalidClockError(`malformed vector clock entry ${describeValue(part)}: expected name:counter`, {
          entry: part,
        });
      }
      pairs.push([part.slice(0, colon), Number(digits)]);
    }
    return VectorClock.from(pairs);
  }

  /**
   * Compact canonical binary encoding: format byte 0x01, varint entry count, then per entry (sorted by
   * node id) a length-prefixed UTF-8 name and a varint counter.
   */
  encode(): Uint8Array {
    const entries = this.entries();
    const bytes: number[] = [CLOCK_FORMAT_V1];
    writeVarint(bytes, entries.length);
    for (const [name, counter] of entries) {
      const utf8 = Buffer.from(name, 'utf8');
      bytes.push(utf8.length);
      for (const b of utf8) bytes.push(b);
      writeVarint(bytes, counter);
    }
    return Uint8Array.from(bytes);
  }

  /** Decode {@link encode}'s output; rejects unknown formats, truncation, trailing bytes, bad entries. */
  static decode(bytes: Uint8Array): VectorClock {
    if (!(bytes instanceof Uint8Array) || bytes.length === 0) {
      throw new InvalidClockError('empty vector clock encoding', {});
    }
    if (bytes[0] !== CLOCK_FORMAT_V1) {
      throw new InvalidClockError(`unknown vector clock encoding 0x${(bytes[0] ?? 0).toString(16)}`, { format: bytes[0] });
    }
    const pos = { at: 1 };
    const count = readVarint(bytes, pos);
    if (count > MAX_CLOCK_ENTRIES) {
      throw new InvalidClockError(`vector clock has ${count} entries (limit ${MAX_CLOCK_ENTRIES})`, { count });
    }
    const pairs: Array<[string, number]> = [];
    let prev = '';
    for (let k = 0; k < count; k++) {
      const len = bytes[pos.at];
      if (len === undefined || pos.at + 1 + len > bytes.length) {
        throw new InvalidClockError('truncated vector clock encoding', { offset: pos.at });
      }
      const name = Buffer.from(bytes.subarray(pos.at + 1, pos.at + 1 + len)).toString('utf8');
      pos.at += 1 + len;
      assertNodeId(name, 'node id in vector clock encoding');
      if (k > 0 && name <= prev) {
        throw new InvalidClockError('vector clock entries not in canonical order', { nodeId: name });
      }
      prev = name;
      const counter = readVarint(bytes, pos);
      if (counter === 0) throw new InvalidClockError(`zero counter for ${name} in canonical encoding`, { nodeId: name });
      pairs.push([name, counter]);
    }
    if (pos.at !== bytes.length) {
      throw new InvalidClockError(`${bytes.length - pos.at} trailing bytes after vector clock`, {});
    }
    return VectorClock.from(pairs);
  }
}

const CLOCK_FORMAT_V1 = 0x01;

/** Compare two clocks; the hot path of conflict detection. */
export function compareClocks(a: VectorClock, b: VectorClock): Ordering {
  // Access the private arrays without a getter call per element.
  const x = (a as unknown as { counters: Float64Array }).counters;
  const y = (b as unknown as { counters: Float64Array }).counters;
  let less = false;
  let greater = false;
  const n = x.length < y.length ? x.length : y.length;
  for (let i = 0; i < n; i++) {
    const d = x[i]! - y[i]!;
    if (d < 0) {
      if (greater) return 'concurrent';
      less = true;
    } else if (d > 0) {
      if (less) return 'concurrent';
      greater = true;
    }
  }
  for (let i = n; i < x.length; i++) {
    if (x[i] !== 0) {
      greater = true;
      break;
    }
  }
  for (let i = n; i < y.length; i++) {
    if (y[i] !== 0) {
      less = true;
      break;
    }
  }
  if (less && greater) return 'concurrent';
  if (less) return 'before';
  if (greater) return 'after';
  return 'equal';
}

function assertCounter(counter: unknown, nodeId: string): asserts counter is number {
  if (typeof counter !== 'number' || !Number.isInteger(counter)) {
    throw new InvalidClockError(`counter of ${nodeId} must be an integer, got ${describeValue(counter)}`, {
      nodeId,
      counter,
    });
  }
  if (counter < 0) {
    throw new InvalidClockError(`counter of ${nodeId} must not be negative, got ${counter}`, { nodeId, counter });
  }
  if (counter > Number.MAX_SAFE_INTEGER) {
    throw new InvalidClockError(`counter of ${nodeId} exceeds 2^53 - 1`, { nodeId, counter });
  }
}

function writeVarint(out: number[], value: number): void {
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

function readVarint(bytes: Uint8Array, pos: { at: number }): number {
  let result = 0;
  let mul = 1;
  for (let k = 0; k < 8; k++) {
    const b = bytes[pos.at++];
    if (b === undefined) throw new InvalidClockError('truncated varint in vector clock', { offset: pos.at - 1 });
    result += (b & 0x7f) * mul;
    if (result > Number.MAX_SAFE_INTEGER) {
      throw new InvalidClockError('counter in vector clock exceeds 2^53 - 1', { offset: pos.at - 1 });
    }
    if ((b & 0x80) === 0) {
      // A zero last byte after a continuation is an over-long encoding: the same number has a shorter
      // form, and accepting both would give one clock two encodings.
      if (b === 0 && k > 0) throw new InvalidClockError('non-canonical (over-long) varint in vector clock', { offset: pos.at - 1 });
      return result;
    }
    mul *= 0x80;
  }
  throw new InvalidClockError('varint in vector clock too long', { offset: pos.at });
}
