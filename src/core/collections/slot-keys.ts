/**
 * The key half of an open-addressing hash table of strings (linear probing, at most 80% full,
 * removed keys leave a marker until the next rebuild): one slot per key in a flat array. The owner
 * keeps its values in arrays of the same length, indexed by slot, and moves them when the table is
 * rebuilt (the `resize` callback of {@link SlotKeys.insert}). About 8 bytes a slot plus the owner's
 * values, where a Map costs about 37 bytes an entry: the replica's per-VM indexes use it.
 */
export class SlotKeys {
  /** A slot's key; undefined: never used, null: removed. */
  private keys: Array<string | null | undefined>;
  /** Slots in use, removed ones included. */
  private used = 0;
  private live = 0;

  constructor(
    private readonly minSlots: number,
    private readonly hash: (key: string) => number = hashKey,
  ) {
    this.keys = newSlots(minSlots);
  }

  /** Keys held. */
  get size(): number {
    return this.live;
  }

  /** The number of slots (the length of the owner's value arrays). */
  get slots(): number {
    return this.keys.length;
  }

  /** The key in slot `i`, if one is. */
  keyAt(i: number): string | undefined {
    const k = this.keys[i];
    return typeof k === 'string' ? k : undefined;
  }

  /** The slot of `key`, or -1. */
  find(key: string): number {
    const { keys } = this;
    const mask = keys.length - 1;
    for (let i = this.hash(key) & mask; ; i = (i + 1) & mask) {
      const k = keys[i];
      if (k === undefined) return -1;
      if (k === key) return i;
    }
  }

  /**
   * Add `key` (which {@link find} did not find) and return its slot. When the table must be rebuilt
   * first, `resize(size, moves)` is called before: `moves[old slot]` is the key's new slot (-1 for a
   * slot without a key), for the owner to move its values into arrays of `size` (see {@link moveSlots}).
   */
  insert(key: string, resize: (size: number, moves: Int32Array) => void): number {
    if ((this.used + 1) * 5 > this.keys.length * 4) this.rebuild(resize);
    const { keys } = this;
    const mask = keys.length - 1;
    let i = this.hash(key) & mask;
    while (typeof keys[i] === 'string') i = (i + 1) & mask;
    if (keys[i] === undefined) this.used++;
    keys[i] = key;
    this.live++;
    return i;
  }

  /** Remove the key in slot `i` (the owner clears its values there). */
  removeAt(i: number): void {
    if (typeof this.keys[i] !== 'string') return;
    this.keys[i] = null;
    this.live--;
  }

  /** Grow (or just drop removed slots): afterwards the table is at most half full. */
  private rebuild(resize: (size: number, moves: Int32Array) => void): void {
    let size = this.minSlots;
    while ((this.live + 1) * 2 > size) size *= 2;
    const old = this.keys;
    const keys = newSlots<string | null>(size);
    const moves = new Int32Array(old.length).fill(-1);
    const mask = size - 1;
    for (let i = 0; i < old.length; i++) {
      const k = old[i];
      if (typeof k !== 'string') continue;
      let j = this.hash(k) & mask;
      while (keys[j] !== undefined) j = (j + 1) & mask;
      keys[j] = k;
      moves[i] = j;
    }
    resize(size, moves);
    this.keys = keys;
    this.used = this.live;
  }
}

/** An owner's value array after a rebuild: `old`'s values at their new slots, `size` long. */
export function moveSlots<T>(old: ReadonlyArray<T | undefined>, size: number, moves: Int32Array): Array<T | undefined> {
  const out = newSlots<T>(size);
  for (let i = 0; i < moves.length; i++) if (moves[i]! >= 0) out[moves[i]!] = old[i];
  return out;
}

/** {@link moveSlots} for a typed array of 32-bit words. */
export function moveWords(old: Uint32Array, size: number, moves: Int32Array): Uint32Array {
  const out = new Uint32Array(size);
  for (let i = 0; i < moves.length; i++) if (moves[i]! >= 0) out[moves[i]!] = old[i]!;
  return out;
}

/** `n` empty slots (a packed array, not a holey one). */
export function newSlots<T>(n: number): Array<T | undefined> {
  return new Array<T | undefined>(n).fill(undefined);
}

/** A 32-bit hash of a string (FNV-1a, then murmur3's finaliser). */
export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}
