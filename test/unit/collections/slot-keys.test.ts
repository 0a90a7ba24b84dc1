import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { moveSlots, SlotKeys } from '../../../src/core/collections/slot-keys.js';

/** A table of string values on SlotKeys, as its owners build one. */
class Table {
  readonly keys: SlotKeys;
  values: Array<string | undefined>;
  rebuilds = 0;

  constructor(hash?: (key: string) => number) {
    this.keys = new SlotKeys(4, hash);
    this.values = new Array<string | undefined>(4).fill(undefined);
  }

  set(key: string, value: string): void {
    let i = this.keys.find(key);
    if (i < 0) i = this.keys.insert(key, this.resize);
    this.values[i] = value;
  }

  delete(key: string): void {
    const i = this.keys.find(key);
    if (i < 0) return;
    this.keys.removeAt(i);
    this.values[i] = undefined;
  }

  get(key: string): string | undefined {
    const i = this.keys.find(key);
    return i < 0 ? undefined : this.values[i];
  }

  entries(): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (let i = 0; i < this.keys.slots; i++) {
      const k = this.keys.keyAt(i);
      if (k !== undefined) out.push([k, this.values[i]!]);
    }
    return out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  private readonly resize = (size: number, moves: Int32Array): void => {
    this.rebuilds++;
    this.values = moveSlots(this.values, size, moves);
  };
}

const ops = fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 300 }), fc.string({ maxLength: 4 })), { maxLength: 2000 });

describe('SlotKeys', () => {
  for (const [name, hash] of [
    ['its own hash', undefined],
    ['a hash that sends every key to 3 slots', (k: string) => k.length % 3],
  ] as const) {
    it(`holds the same keys and values as a Map through sets, deletes and rebuilds (${name})`, () => {
      fc.assert(
        fc.property(ops, (script) => {
          const t = new Table(hash);
          const m = new Map<string, string>();
          for (const [put, n, value] of script) {
            const key = `vm-${n}`;
            if (put) {
              t.set(key, value);
              m.set(key, value);
            } else {
              t.delete(key);
              m.delete(key);
            }
            expect(t.keys.size).toBe(m.size);
          }
          expect(t.entries()).toEqual([...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
          for (let n = 0; n <= 300; n++) expect(t.get(`vm-${n}`)).toBe(m.get(`vm-${n}`));
          expect(t.keys.slots * 4).toBeGreaterThanOrEqual(t.keys.size * 5);
        }),
        { numRuns: 60 },
      );
    });
  }

  it('grows by rebuilding, and reuses removed slots without growing', () => {
    const t = new Table();
    for (let n = 0; n < 1000; n++) t.set(`k${n}`, String(n));
    expect(t.rebuilds).toBeGreaterThan(5);
    const slots = t.keys.slots;
    // Churn at a constant size: removed slots are dropped by rebuilds of the same size, never by growth.
    for (let n = 0; n < 20_000; n++) {
      t.delete(`k${n}`);
      t.set(`k${n + 1000}`, String(n));
    }
    expect(t.keys.size).toBe(1000);
    expect(t.keys.slots).toBe(slots);
    expect(t.get('k20999')).toBe('19999');
    expect(t.get('k0')).toBeUndefined();
  });
});
