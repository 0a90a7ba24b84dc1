/**
 * MV-Register (multi-value register, delta-state form of Almeida et al.): each write is tagged with a
 * dot supplied by the caller; a write replaces every value its replica has seen. Concurrent writes are
 * all kept, each with its dot, until a later write (one whose context covers them) replaces them.
 *
 * State: entries dot -> value, plus the causal context (every dot seen). Merge keeps an entry if both
 * sides have it, or if one side has it and the other side's context does not cover its dot.
 */
import { canonicalJson, type JsonValue } from '../codec/canonical.js';
import { compareDots, type Dot, expectDot, formatDot } from './dot.js';
import { DotSet, type DotSetJson } from './dot-set.js';
import type { Mutation } from './types.js';
import { describe, expectArray, expectDotCounter, expectJsonValue, expectNodeId, expectState, fail } from './validate.js';

export interface MvEntry {
  readonly dot: Dot;
  readonly value: JsonValue;
}

export interface MVRegisterJson {
  type: 'mv_register';
  /** `[node, counter, value]`, sorted by dot. */
  entries: Array<[string, number, JsonValue]>;
  context: DotSetJson;
}

export class MVRegister {
  /** Sorted by dot; every dot is in `context`. */
  private readonly entries: readonly MvEntry[];
  readonly context: DotSet;

  private constructor(entries: readonly MvEntry[], context: DotSet) {
    this.entries = entries;
    this.context = context;
  }

  static readonly EMPTY: MVRegister = new MVRegister([], DotSet.EMPTY);

  /**
   * Write `value` (plain JSON; copied and frozen) as the event `dot`, which must be new to this
   * replica. Replaces every value this replica holds; the delta carries the write and the dots it
   * replaces.
   */
  set(value: unknown, dot: Dot): Mutation<MVRegister> {
    const d = expectDot(dot, 'mv_register.set dot');
    if (this.context.covers(d)) {
      fail('mv_register.set dot', `dot ${formatDot(d)} was already used (it is in the causal context)`, { dot: d });
    }
    const v = expectJsonValue(value, 'mv_register.set value');
    const entry: MvEntry = Object.freeze({ dot: d, value: v });
    const replaced = DotSet.fromDots(this.entries.map((e) => e.dot)).with(d.node, d.counter);
    return {
      state: new MVRegister([entry], this.context.with(d.node, d.counter)),
      delta: new MVRegister([entry], replaced),
    };
  }

  merge(other: MVRegister): MVRegister {
    if (other === this) return this;
    const out: MvEntry[] = [];
    const mine = new Map<string, MvEntry>();
    for (const e of this.entries) mine.set(formatDot(e.dot), e);
    const seen = new Set<string>();
    for (const e of other.entries) {
      const key = formatDot(e.dot);
      const m = mine.get(key);
      if (m !== undefined) {
        seen.add(key);
        // One dot names one write; if a corrupt peer disagrees on its value, pick deterministically.
        out.push(m.value === e.value || canonicalJson(m.value) >= canonicalJson(e.value) ? m : e);
      } else if (!this.context.covers(e.dot)) {
        out.push(e);
      }
    }
    for (const e of this.entries) {
      if (!seen.has(formatDot(e.dot)) && !other.context.covers(e.dot)) out.push(e);
    }
    out.sort((x, y) => compareDots(x.dot, y.dot));
    return new MVRegister(out, this.context.union(other.context));
  }

  /** The current values, in dot order: one normally, several after concurrent writes, none if never written. */
  value(): JsonValue[] {
    return this.entries.map((e) => e.value);
  }

  /** The current values with their dots. */
  current(): readonly MvEntry[] {
    return this.entries;
  }

  toJSON(): MVRegisterJson {
    return {
      type: 'mv_register',
      entries: this.entries.map((e) => [e.dot.node, e.dot.counter, e.value]),
      context: this.context.toJSON(),
    };
  }

  static fromJSON(value: unknown, where = 'mv_register'): MVRegister {
    const obj = expectState(value, 'mv_register', where, ['entries', 'context']);
    const context = DotSet.fromJSON(obj.context, `${where}.context`);
    const list = expectArray(obj.entries, `${where}.entries`);
    const entries: MvEntry[] = [];
    const seen = new Set<string>();
    list.forEach((item, i) => {
      const at = `${where}.entries[${i}]`;
      if (!Array.isArray(item) || item.length !== 3) fail(at, `expected [node, counter, value], got ${describe(item)}`);
      const [node, counter, v] = item as unknown[];
      const d: Dot = Object.freeze({ node: expectNodeId(node, `${at}[0]`), counter: expectDotCounter(counter, `${at}[1]`) });
      const key = formatDot(d);
      if (seen.has(key)) fail(at, `dot ${key} appears twice`);
      seen.add(key);
      if (!context.covers(d)) fail(at, `dot ${key} is not in the causal context`);
      entries.push(Object.freeze({ dot: d, value: expectJsonValue(v, `${at}[2]`) }));
    });
    entries.sort((x, y) => compareDots(x.dot, y.dot));
    return new MVRegister(entries, context);
  }
}
