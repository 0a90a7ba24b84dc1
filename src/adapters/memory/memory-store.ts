import { SUBLEVELS, type RangeOptions, type Store, type StoreEntry, type StoreOp, type Sublevel, type WriteOptions } from '../../replica/ports.js';
import { malformedOps, StoreClosedError, StoreWriteError } from '../../replica/store-errors.js';

/**
 * The in-memory store used by unit tests and simulations. It keeps sorted keys per sublevel and can
 * be "crashed" and reopened by keeping the same instance (its contents survive `close()`), which is
 * how the simulator models a restart with a persisted store.
 */
export class MemoryStore implements Store {
  private readonly data = new Map<Sublevel, Map<string, Uint8Array>>();
  private isOpen = false;

  constructor() {
    for (const s of SUBLEVELS) this.data.set(s, new Map());
  }

  open(): Promise<void> {
    this.isOpen = true;
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.isOpen = false;
    return Promise.resolve();
  }

  get(sublevel: Sublevel, key: string): Promise<Uint8Array | undefined> {
    this.assertOpen();
    const v = this.level(sublevel).get(key);
    return Promise.resolve(v === undefined ? undefined : v.slice());
  }

  /** `sync` makes no difference here: the contents live as long as the instance. */
  write(ops: readonly StoreOp[], _options?: WriteOptions): Promise<void> {
    this.assertOpen();
    const bad = malformedOps(ops);
    if (bad) return Promise.reject(new StoreWriteError(bad, {}));
    for (const op of ops) {
      const level = this.level(op.sublevel);
      if (op.type === 'put') {
        if (!(op.value instanceof Uint8Array)) throw new TypeError(`put ${op.sublevel}/${op.key} without a value`);
        level.set(op.key, op.value.slice());
      } else {
        level.delete(op.key);
      }
    }
    return Promise.resolve();
  }

  async *range(sublevel: Sublevel, options: RangeOptions = {}): AsyncIterable<StoreEntry> {
    this.assertOpen();
    const level = this.level(sublevel);
    const keys = [...level.keys()]
      .filter((k) => (options.gte === undefined || k >= options.gte) && (options.lt === undefined || k < options.lt))
      .sort();
    if (options.reverse) keys.reverse();
    const limit = options.limit ?? Infinity;
    let n = 0;
    for (const key of keys) {
      if (n++ >= limit) return;
      const value = level.get(key);
      if (value !== undefined) yield { key, value: value.slice() };
      await Promise.resolve();
    }
  }

  private level(s: Sublevel): Map<string, Uint8Array> {
    const l = this.data.get(s);
    if (!l) throw new TypeError(`unknown sublevel ${String(s)}`);
    return l;
  }

  private assertOpen(): void {
    if (!this.isOpen) throw new StoreClosedError('memory store');
  }
}
