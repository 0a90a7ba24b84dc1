/**
 * parseVmStateText: the write path's encoder of VM states. Its text must be exactly canonicalJson's
 * (digests and version ids hash it, and every node must compute the same), for any state
 * parseVmState accepts: unknown fields of any shape, keys in any order, integer-like keys,
 * `__proto__`, escapes, -0. Seeded: a failure prints the seed and the shrunk input.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../src/core/codec/canonical.js';
import { InvalidVmStateError, parseVmState, parseVmStateText } from '../../../src/core/vm/state.js';

const SEED = 20_261_129;

const keyArb = fc.oneof(
  fc.constantFrom('a', 'B', 'z', 'é', '😀', 'key with space', '__proto__', 'toJSON', 'constructor', '0', '7', '10', '01', '-1', '4294967295', '1e3', '"q"', '\n'),
  fc.string({ maxLength: 4 }),
);
const scalarArb = fc.oneof(
  fc.constantFrom<unknown>(0, -0, 1, 2.5, -3, 1e21, 5e-324, true, false, null, '', 'x', '\u2028', '\ud800', '"\\', '\u0001', '😀'),
  fc.string({ maxLength: 6 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
const { json: jsonArb } = fc.letrec<{ json: unknown }>((tie) => ({
  json: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalarArb,
    fc.array(tie('json'), { maxLength: 3 }),
    fc.dictionary(keyArb, tie('json'), { maxKeys: 4, noNullPrototype: false }),
  ),
}));
const extrasArb = fc.dictionary(keyArb, jsonArb, { maxKeys: 4 });

/** Plain data in a random key order (objects rebuilt with their keys shuffled). */
function shuffled(value: unknown, rnd: () => number): unknown {
  if (Array.isArray(value)) return value.map((v) => shuffled(v, rnd));
  if (typeof value !== 'object' || value === null) return value;
  const keys = Object.keys(value);
  for (let i = keys.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [keys[i], keys[j]] = [keys[j]!, keys[i]!];
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) Object.defineProperty(out, k, { value: shuffled((value as Record<string, unknown>)[k], rnd), enumerable: true, writable: true, configurable: true });
  return out;
}

const vmArb = fc
  .record({
    top: extrasArb,
    net: extrasArb,
    nics: fc.array(fc.record({ extra: extrasArb, mac: fc.constantFrom(undefined, '52:54:00:AB:cd:02'), ip: fc.constantFrom(undefined, '10.0.0.1') }), { maxLength: 2 }),
    disks: fc.array(extrasArb, { maxLength: 2 }),
    defaults: fc.boolean(),
    order: fc.integer(),
  })
  .map(({ top, net, nics, disks, defaults, order }) => {
    const vm: Record<string, unknown> = {
      ...top,
      id: 'vm-1',
      host: 'hv-01',
      power_state: 'running',
      cpu_allocation: 2,
      memory_mb: 4096,
    };
    if (!defaults) {
      vm.network_config = {
        ...net,
        interfaces: nics.map((n, i) => ({ ...n.extra, name: `eth${i}`, ...(n.mac ? { mac: n.mac } : {}), ...(n.ip ? { ip: n.ip } : {}) })),
      };
      vm.disk_config = disks.map((d, i) => ({ ...d, path: `/vm/d${i}`, size_gb: 10 }));
      vm.snapshot_id = null;
    }
    let s = order >>> 0;
    return shuffled(vm, () => ((s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32));
  });

/** Every object's own keys in code-unit order (integer-like keys aside: objects order those first). */
function keysSorted(value: unknown): boolean {
  if (Array.isArray(value)) return value.every(keysSorted);
  if (typeof value !== 'object' || value === null) return true;
  const keys = Object.keys(value).filter((k) => !/^(0|[1-9]\d*)$/.test(k) || Number(k) >= 2 ** 32 - 1);
  return keys.every((k, i) => i === 0 || keys[i - 1]! < k) && Object.values(value).every(keysSorted);
}

describe('parseVmStateText', () => {
  it('gives canonicalJson of the state, for any accepted input (and the same state parseVmState gives, canonically)', () => {
    fc.assert(
      fc.property(vmArb, (input) => {
        let expected: string;
        try {
          expected = canonicalJson(parseVmState(input));
        } catch (err) {
          if (!(err instanceof InvalidVmStateError)) throw err;
          expect(() => parseVmStateText(input)).toThrow(InvalidVmStateError);
          return;
        }
        const { state, text } = parseVmStateText(input);
        expect(text).toBe(expected);
        expect(canonicalJson(state)).toBe(expected);
        expect(keysSorted(state)).toBe(true);
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });

  it('encodes integer-like keys, -0 and escapes as canonicalJson does', () => {
    const input = {
      id: 'vm-1',
      host: 'hv-01',
      power_state: 'running',
      cpu_allocation: 1,
      memory_mb: 512,
      labels: { '10': 'a', '9': 'b', z: 'c', __proto__x: 1 },
      ['__proto__']: { b: 1, a: -0 },
      note: '\u2028"\\\ud800',
    };
    Object.defineProperty(input, '__proto__', { value: { b: 1, a: -0 }, enumerable: true, writable: true, configurable: true });
    const { state, text } = parseVmStateText(input);
    expect(text).toBe(canonicalJson(state));
    expect(text).toContain('"labels":{"10":"a","9":"b","__proto__x":1,"z":"c"}');
    expect(text).toContain('"__proto__":{"a":0,"b":1}');
    expect(Object.getPrototypeOf(state)).toBe(Object.prototype);
  });
});
