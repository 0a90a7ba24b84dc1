/**
 * The live dots of one node: counter -> element. A node's counters are nearly contiguous (it numbers
 * its own events 1, 2, 3, ...), so they are kept in a dense array indexed by `counter - base`: adding
 * the next event is a push, a lookup is an index, both cheap on a 10,000-element set where a hash Map
 * insert costs a few cache misses. When the array gets sparse (most of its slots removed), it is
 * trimmed, and if still sparse it turns into a Map, so memory stays proportional to the live dots.
 */
export class DotIndex {
  /** Counter of slots[0]. */
  private base = 1;
  private slots: Array<string | undefined> = [];
  /** Set once the index is sparse; the dense slots are then unused. */
  private sparse: Map<number, string> | undefined;
  private live = 0;

  /** Number of live dots. */
  get size(): number {
    return this.live;
  }

  get(counter: number): string | undefined {
    if (this.sparse !== undefined) return this.sparse.get(counter);
    const i = counter - this.base;
    return i >= 0 && i < this.slots.length ? this.slots[i] : undefined;
  }

  /** Sets (or, with undefined, removes) the element of `counter`; returns the previous one. */
  set(counter: number, element: string | undefined): string | undefined {
    if (this.sparse !== undefined) return this.setSparse(this.sparse, counter, element);
    const slots = this.slots;
    const n = slots.length;
    const i = counter - this.base;
    if (i >= 0 && i < n) {
      const prev = slots[i];
      slots[i] = element;
      if (prev === undefined && element !== undefined) this.live++;
      else if (prev !== undefined && element === undefined) {
        this.live--;
        if (n > MIN_DENSE && this.live * SPARSE_RATIO < n) this.compact();
      }
      return prev;
    }
    if (element === undefined) return undefined;
    if (n === 0) {
      this.base = counter;
      slots.push(element);
    } else if (i >= n) {
      if (i - n > n + MIN_DENSE) return this.setSparse(this.toSparse(), counter, element);
      while (slots.length < i) slots.push(undefined);
      slots.push(element);
    } else {
      // Before the first slot (an event received out of order): prepend.
      if (-i > n + MIN_DENSE) return this.setSparse(this.toSparse(), counter, element);
      const head = new Array<string | undefined>(-i).fill(undefined);
      head[0] = element;
      this.slots = head.concat(slots);
      this.base = counter;
    }
    this.live++;
    return undefined;
  }

  /** Calls `fn` for every live dot in increasing counter order. */
  forEach(fn: (counter: number, element: string) => void): void {
    if (this.sparse !== undefined) {
      const counters = Float64Array.from(this.sparse.keys()).sort();
      for (const c of counters) fn(c, this.sparse.get(c)!);
      return;
    }
    const slots = this.slots;
    for (let i = 0; i < slots.length; i++) {
      const e = slots[i];
      if (e !== undefined) fn(this.base + i, e);
    }
  }

  clone(): DotIndex {
    const c = new DotIndex();
    c.base = this.base;
    c.slots = this.slots.slice();
    c.sparse = this.sparse === undefined ? undefined : new Map(this.sparse);
    c.live = this.live;
    return c;
  }

  private setSparse(m: Map<number, string>, counter: number, element: string | undefined): string | undefined {
    const prev = m.get(counter);
    if (element === undefined) {
      if (prev !== undefined) {
        m.delete(counter);
        this.live--;
      }
    } else {
      m.set(counter, element);
      if (prev === undefined) this.live++;
    }
    return prev;
  }

  /** Drops empty slots at both ends; turns sparse if still mostly empty. */
  private compact(): void {
    const slots = this.slots;
    let start = 0;
    let end = slots.length;
    while (start < end && slots[start] === undefined) start++;
    while (end > start && slots[end - 1] === undefined) end--;
    this.slots = slots.slice(start, end);
    this.base += start;
    if (this.slots.length === 0) this.base = 1;
    else if (this.slots.length > MIN_DENSE && this.live * SPARSE_RATIO < this.slots.length) this.toSparse();
  }

  private toSparse(): Map<number, string> {
    const m = new Map<number, string>();
    this.forEach((c, e) => m.set(c, e));
    this.sparse = m;
    this.slots = [];
    return m;
  }
}

/** Dense arrays shorter than this are never compacted or made sparse. */
const MIN_DENSE = 64;
/** A dense array with fewer than 1/SPARSE_RATIO of its slots live is compacted. */
const SPARSE_RATIO = 4;
