/**
 * LWW-Register: keeps the write with the greatest `(hlc, node)`: HLC ordered by `wall` then `logical`,
 * remaining ties broken by node id (code-unit order). A node issues strictly increasing HLC timestamps,
 * so `(hlc, node)` names one write; should two states still carry different values under the same
 * `(hlc, node)` (a corrupt peer), the one with the greater canonical JSON wins, so that merge stays a
 * deterministic join everywhere.
 */
import { compareHlc, type Hlc, MAX_LOGICAL } from '../clock/hlc.js';
import { canonicalJson, type JsonValue } from '../codec/canonical.js';
import type { Mutation } from './types.js';
import { compareStrings, describe, expectJsonValue, expectKeys, expectNodeId, expectObject, expectState, fail } from './validate.js';

export interface LwwWrite {
  readonly value: JsonValue;
  readonly hlc: Hlc;
  readonly node: string;
}

export interface LWWRegisterJson {
  type: 'lww_register';
  /** The winning write, or null for a register never written. */
  write: { value: JsonValue; hlc: { wall: number; logical: number }; node: string } | null;
}

export class LWWRegister {
  private readonly current: LwwWrite | undefined;

  private constructor(current: LwwWrite | undefined) {
    this.current = current;
  }

  static readonly EMPTY: LWWRegister = new LWWRegister(undefined);

  /**
   * Write `value` (plain JSON; copied and frozen) at `hlc` by `node`. The state is the later of the
   * current write and this one; the delta is this write alone.
   */
  set(value: unknown, hlc: Hlc, node: string): Mutation<LWWRegister> {
    const write: LwwWrite = Object.freeze({
      value: expectJsonValue(value, 'lww_register.set value'),
      hlc: expectHlc(hlc, 'lww_register.set hlc'),
      node: expectNodeId(node, 'lww_register.set node'),
    });
    const delta = new LWWRegister(write);
    return { state: this.merge(delta), delta };
  }

  merge(other: LWWRegister): LWWRegister {
    if (other.current === undefined) return this;
    if (this.current === undefined) return other;
    return compareWrites(this.current, other.current) >= 0 ? this : other;
  }

  /** The winning value, or undefined if never written. */
  value(): JsonValue | undefined {
    return this.current?.value;
  }

  /** The winning write (value, hlc, node), or undefined. */
  get write(): LwwWrite | undefined {
    return this.current;
  }

  toJSON(): LWWRegisterJson {
    const w = this.current;
    return {
      type: 'lww_register',
      write: w === undefined ? null : { value: w.value, hlc: { wall: w.hlc.wall, logical: w.hlc.logical }, node: w.node },
    };
  }

  static fromJSON(value: unknown, where = 'lww_register'): LWWRegister {
    const obj = expectState(value, 'lww_register', where, ['write']);
    if (obj.write === null) return LWWRegister.EMPTY;
    const w = expectObject(obj.write, `${where}.write`);
    expectKeys(w, `${where}.write`, ['value', 'hlc', 'node']);
    return new LWWRegister(
      Object.freeze({
        value: expectJsonValue(w.value, `${where}.write.value`),
        hlc: expectHlc(w.hlc, `${where}.write.hlc`),
        node: expectNodeId(w.node, `${where}.write.node`),
      }),
    );
  }
}

/** Total order on writes: hlc, then node id, then canonical JSON of the value. */
export function compareWrites(a: LwwWrite, b: LwwWrite): number {
  const byHlc = compareHlc(a.hlc, b.hlc);
  if (byHlc !== 0) return byHlc;
  if (a.node !== b.node) return compareStrings(a.node, b.node);
  if (a.value === b.value) return 0;
  return compareStrings(canonicalJson(a.value), canonicalJson(b.value));
}

function expectHlc(value: unknown, where: string): Hlc {
  const obj = expectObject(value, where);
  expectKeys(obj, where, ['wall', 'logical']);
  const { wall, logical } = obj;
  if (typeof wall !== 'number' || !Number.isSafeInteger(wall) || wall < 0) {
    fail(`${where}.wall`, `must be a non-negative integer (ms), got ${describe(wall)}`);
  }
  if (typeof logical !== 'number' || !Number.isInteger(logical) || logical < 0 || logical > MAX_LOGICAL) {
    fail(`${where}.logical`, `must be an integer in [0, ${MAX_LOGICAL}], got ${describe(logical)}`);
  }
  return Object.freeze({ wall, logical });
}
