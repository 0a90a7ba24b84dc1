/**
 * G-Set: a grow-only set of strings; merge is union. Elements are well-formed strings of at most
 * MAX_ELEMENT_LENGTH code units. An add of an element already present changes nothing (empty delta).
 */
import type { Mutation } from './types.js';
import { compareStrings, expectArray, expectElement, expectState, fail } from './validate.js';

export interface GSetJson {
  type: 'g_set';
  /** Sorted by code unit, no duplicates. */
  elements: string[];
}

export class GSet {
  private readonly elements: ReadonlySet<string>;

  private constructor(elements: ReadonlySet<string>) {
    this.elements = elements;
  }

  static readonly EMPTY: GSet = new GSet(new Set());

  add(element: string): Mutation<GSet> {
    expectElement(element, 'g_set.add element');
    if (this.elements.has(element)) return { state: this, delta: GSet.EMPTY };
    const next = new Set(this.elements);
    next.add(element);
    return { state: new GSet(next), delta: new GSet(new Set([element])) };
  }

  merge(other: GSet): GSet {
    const [big, small] = this.elements.size >= other.elements.size ? [this, other] : [other, this];
    let out: Set<string> | undefined;
    for (const e of small.elements) {
      if (!big.elements.has(e)) {
        out ??= new Set(big.elements);
        out.add(e);
      }
    }
    return out ? new GSet(out) : big;
  }

  has(element: string): boolean {
    return this.elements.has(element);
  }

  get size(): number {
    return this.elements.size;
  }

  /** The elements, sorted. */
  value(): string[] {
    return [...this.elements].sort(compareStrings);
  }

  toJSON(): GSetJson {
    return { type: 'g_set', elements: this.value() };
  }

  /** Validates an untrusted state; elements may come in any order, duplicates are refused. */
  static fromJSON(value: unknown, where = 'g_set'): GSet {
    const obj = expectState(value, 'g_set', where, ['elements']);
    const list = expectArray(obj.elements, `${where}.elements`);
    const out = new Set<string>();
    list.forEach((e, i) => {
      const at = `${where}.elements[${i}]`;
      const element = expectElement(e, at);
      if (out.has(element)) fail(at, `duplicate element ${JSON.stringify(element)}`);
      out.add(element);
    });
    return new GSet(out);
  }
}
