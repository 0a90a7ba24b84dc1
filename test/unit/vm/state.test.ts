/**
 * parseVmState checks that unknown fields are replicable JSON without encoding them (a walk), and
 * asks the canonical encoder only to name what is wrong: it must accept and refuse exactly what the
 * encoder accepts and refuses, with the encoder's message.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_DEPTH, canonicalJson } from '../../../src/core/codec/canonical.js';
import { InvalidVmStateError, parseVmState } from '../../../src/core/vm/state.js';
import { specVm } from '../resolve/helpers.js';

function outcome(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** Values the encoder refuses, mixed into JSON-like values. */
const oddArb = fc.oneof(
  fc.constantFrom(NaN, Infinity, -Infinity, undefined, 10n, () => 1, Symbol('s'), new Date(0), new Map(), Object.create(null) as object),
  fc.integer(),
  fc.string(),
);
const valueArb = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, fc.jsonValue({ maxDepth: 2 }), oddArb, fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 3 }), tie('v'), { maxKeys: 3 })),
})).v;

function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

describe('parseVmState: unknown fields must be replicable JSON', () => {
  it('accepts and refuses exactly what the canonical encoder does, with its message (fast-check)', () => {
    fc.assert(
      fc.property(valueArb, fc.constantFrom('top', 'network', 'nic', 'disk'), (value, where) => {
        const s = specVm() as Record<string, unknown> & ReturnType<typeof specVm>;
        let input: Record<string, unknown>;
        if (where === 'top') input = { ...s, extra: value };
        else if (where === 'network') input = { ...s, network_config: { ...s.network_config, extra: value } };
        else if (where === 'nic') input = { ...s, network_config: { interfaces: [{ ...s.network_config.interfaces[0]!, extra: value }] } };
        else input = { ...s, disk_config: [{ path: '/d', size_gb: 1, extra: value }] };
        const encoder = outcome(() => canonicalJson(input));
        const parsed = outcome(() => parseVmState(input));
        if (encoder === 'ok') expect(parsed).toBe('ok');
        else expect(parsed).toBe(`vm: ${encoder}`);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses nesting deeper than MAX_DEPTH, naming the field', () => {
    expect(parseVmState({ ...specVm(), deep: nested(MAX_DEPTH - 2) })).toBeDefined();
    expect(() => parseVmState({ ...specVm(), deep: nested(MAX_DEPTH) })).toThrow(InvalidVmStateError);
    expect(() => parseVmState({ ...specVm(), deep: nested(MAX_DEPTH) })).toThrow(/\$\.deep/);
    expect(() => parseVmState({ ...specVm(), labels: { x: NaN } })).toThrow(/\$\.labels\.x/);
    // a hole in a list is refused as before (map keeps holes; the encoder names the place)
    const holey: unknown[] = [];
    holey[1] = { path: '/d', size_gb: 1 };
    expect(outcome(() => parseVmState({ ...specVm(), disk_config: holey }))).toBe(`vm: ${outcome(() => canonicalJson({ ...specVm(), disk_config: holey }))}`);
    expect(() => parseVmState({ ...specVm(), disk_config: holey })).toThrow(InvalidVmStateError);
    expect(() => parseVmState({ ...specVm(), disk_config: [{ path: '/d', size_gb: 1, at: new Date(0) }] })).toThrow(/\$\.disk_config\[0\]\.at/);
  });
});
