import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VectorClock } from '../../../src/core/clock/vector-clock.js';
import { canonicalJson } from '../../../src/core/codec/canonical.js';
import {
  compareVersions,
  contentDigest,
  createVersion,
  createVersionOfText,
  digestOfCanonicalText,
  type Version,
  type VersionInit,
  versionFromJSON,
  type VersionJSON,
  versionToJSON,
} from '../../../src/core/conflict/version.js';
import { InvalidVersionError } from '../../../src/core/errors.js';
import { clockArb, expectCode, nodeIdArb } from '../clock/arbitraries.js';

const T0 = 1_732_800_000_000;
/** Not in the clock arbitraries' pool, so incrementing them never overflows. */
const TAMPER_NODES = ['tamper-1', 'tamper-2'] as const;

const base: VersionInit<unknown> = {
  resourceId: 'vm/web-01',
  clock: VectorClock.from({ 'host-1': 3, 'host-2': 1 }),
  hlc: { wall: T0, logical: 2 },
  origin: 'host-1',
  data: { name: 'web-01', cpus: 4, memoryMiB: 8192, tags: ['prod', 'web'], host: 'host-1', state: 'running' },
};

const resourceIdArb = fc.oneof(
  fc.constantFrom('vm/web-01', 'vm/db', 'host/host-1', 'crdt/ips', 'vm/a.b_c-d:e'),
  fc.stringMatching(/^vm\/[a-z0-9][a-z0-9-]{0,20}$/),
);

const versionInitArb: fc.Arbitrary<VersionInit<unknown>> = fc.record({
  resourceId: resourceIdArb,
  clock: clockArb,
  hlc: fc.record({ wall: fc.integer({ min: 0, max: 2 ** 45 }), logical: fc.integer({ min: 0, max: 0xffff }) }),
  origin: nodeIdArb,
  data: fc.jsonValue({ maxDepth: 4 }),
  deleted: fc.boolean(),
});

const wire = (v: Version): VersionJSON => JSON.parse(JSON.stringify(versionToJSON(v))) as VersionJSON;

function expectSameVersion(a: Version, b: Version): void {
  expect(b.id).toBe(a.id);
  expect(b.digest).toBe(a.digest);
  expect(b.resourceId).toBe(a.resourceId);
  expect(b.clock.compare(a.clock)).toBe('equal');
  expect(b.hlc).toEqual(a.hlc);
  expect(b.origin).toBe(a.origin);
  expect(b.deleted).toBe(a.deleted);
  expect(canonicalJson(b.data)).toBe(canonicalJson(a.data));
}

/** Expect InvalidVersionError (ERR_INVALID_VERSION) with a message matching `message`. */
const rejected = (input: unknown, message: RegExp): void => {
  expectCode(() => versionFromJSON(input), 'ERR_INVALID_VERSION', message);
  expect(() => versionFromJSON(input)).toThrow(InvalidVersionError);
};

describe('createVersion', () => {
  it('computes a stable digest and id (known answers: a change of encoding or hash must be deliberate)', () => {
    const v = createVersion(base);
    expect(v.digest).toMatch(/^[0-9a-f]{32}$/);
    expect(v.id).toMatch(/^[0-9a-f]{24}$/);
    expect(v.digest).toBe(contentDigest(base.data, false));
    expect(createVersion(base)).toEqual(v);
    expect(v.digest).toBe('1dfd851f852c845b104c306c6de03708');
    expect(v.id).toBe('af5cf63fa3ecf37a2ef75a7c');
    // The same figures from the documented recipe, computed independently.
    const canonical = '{"cpus":4,"host":"host-1","memoryMiB":8192,"name":"web-01","state":"running","tags":["prod","web"]}';
    const sha = (text: string): string => createHash('sha256').update(text).digest('hex');
    expect(v.digest).toBe(sha('D' + canonical).slice(0, 32));
    expect(v.id).toBe(sha(`vm/web-01\nhost-1:3,host-2:1\n${T0}.0002\nhost-1\n${v.digest}`).slice(0, 24));
    expect(Object.isFrozen(v)).toBe(true);
  });

  it('does not depend on key order in the data, nor on how the clock was built', () => {
    const reordered = createVersion({
      ...base,
      clock: VectorClock.parse('host-2:1,host-1:3'),
      data: { state: 'running', host: 'host-1', tags: ['prod', 'web'], memoryMiB: 8192, cpus: 4, name: 'web-01' },
    });
    expect(reordered.digest).toBe(createVersion(base).digest);
    expect(reordered.id).toBe(createVersion(base).id);
  });

  it('gives a different id when any field changes, and a different digest when the content changes', () => {
    const v = createVersion(base);
    const variants: Array<[string, Partial<VersionInit<unknown>>, boolean]> = [
      ['resourceId', { resourceId: 'vm/web-02' }, false],
      ['clock', { clock: base.clock.increment('host-1') }, false],
      ['hlc.wall', { hlc: { wall: T0 + 1, logical: 2 } }, false],
      ['hlc.logical', { hlc: { wall: T0, logical: 3 } }, false],
      ['origin', { origin: 'host-2' }, false],
      ['data', { data: { ...(base.data as object), cpus: 8 } }, true],
      ['deleted', { deleted: true }, true],
    ];
    for (const [field, change, contentChanged] of variants) {
      const w = createVersion({ ...base, ...change });
      expect(w.id, field).not.toBe(v.id);
      if (contentChanged) expect(w.digest, field).not.toBe(v.digest);
      else expect(w.digest, field).toBe(v.digest);
    }
  });

  it('refuses bad ids, hlc and data', () => {
    expectCode(() => createVersion({ ...base, resourceId: 'vm/../etc' }), 'ERR_INVALID_VERSION', /invalid resource id "vm\/\.\.\/etc"/);
    expectCode(() => createVersion({ ...base, resourceId: '' }), 'ERR_INVALID_VERSION', /invalid resource id/);
    expectCode(() => createVersion({ ...base, origin: 'no spaces' }), 'ERR_INVALID_CLOCK', /invalid origin node id/);
    expectCode(() => createVersion({ ...base, hlc: { wall: -1, logical: 0 } }), 'ERR_INVALID_CLOCK', /hlc\.wall/);
    expectCode(() => createVersion({ ...base, data: { x: NaN } }), 'ERR_ENCODING', /\$\.x/);
  });
});

describe('tombstones', () => {
  it('a plain delete carries no data, is flagged, and digests differently from a live version with null data', () => {
    const t = createVersion({ ...base, data: null, deleted: true });
    expect(t.deleted).toBe(true);
    expect(t.data).toBeNull();
    expect(createVersion({ ...base, data: undefined, deleted: true }).data).toBeNull();
    expect(t.digest).toBe(contentDigest(null, true));
    expect(t.digest).not.toBe(createVersion({ ...base, data: null }).digest);
    expect(versionToJSON(t).deleted).toBe(true);
    expect(versionToJSON(t).data).toBeNull();
    expect('deleted' in versionToJSON(createVersion(base))).toBe(false);
    expectSameVersion(t, versionFromJSON(wire(t)));
  });

  it('a tombstone may keep data (a merge rule\'s record of the updates it won over): covered by digest and id', () => {
    const t = createVersion({ ...base, deleted: true });
    expect(t.data).toEqual(base.data);
    expect(t.digest).toBe(contentDigest(base.data, true));
    expect(t.digest).not.toBe(createVersion(base).digest);
    expect(t.digest).not.toBe(createVersion({ ...base, data: null, deleted: true }).digest);
    expectSameVersion(t, versionFromJSON(wire(t)));
  });

  it('a tombstone whose data was changed, or a live version claiming to be a tombstone, is refused', () => {
    const t = createVersion({ ...base, data: null, deleted: true });
    rejected({ ...versionToJSON(t), data: { name: 'web-01' } }, /version\.digest does not match/);
    const live = versionToJSON(createVersion({ ...base, data: null }));
    rejected({ ...live, deleted: true }, /version\.digest does not match/);
    rejected({ ...versionToJSON(t), deleted: false }, /version\.digest does not match/);
    rejected({ ...versionToJSON(t), deleted: 'yes' }, /version\.deleted must be a boolean/);
  });
});

describe('versionToJSON / versionFromJSON', () => {
  it('round-trip any valid version, also through JSON text', () => {
    fc.assert(
      fc.property(versionInitArb, (init) => {
        const v = createVersion(init);
        expectSameVersion(v, versionFromJSON(versionToJSON(v)));
        expectSameVersion(v, versionFromJSON(wire(v)));
        expect(versionToJSON(versionFromJSON(wire(v)))).toEqual(wire(v));
        expect(Object.isFrozen(versionFromJSON(wire(v)))).toBe(true);
      }),
    );
  });

  it('refuse tampering with any field', () => {
    fc.assert(
      fc.property(versionInitArb, fc.nat(), (init, pick) => {
        const v = createVersion({ ...init, deleted: false });
        const j = wire(v);
        const tampered: Array<[VersionJSON, RegExp]> = [
          [{ ...j, data: { tampered: canonicalJson(j.data) } }, /version\.digest does not match its content/],
          [{ ...j, digest: j.digest.replace(/^./, (c) => (c === '0' ? '1' : '0')) }, /version\.digest does not match/],
          [{ ...j, id: j.id.replace(/.$/, (c) => (c === '0' ? '1' : '0')) }, /version\.id does not match its content/],
          [{ ...j, clock: v.clock.increment(TAMPER_NODES[pick % TAMPER_NODES.length]!).toJSON() }, /version\.id does not match/],
          [{ ...j, hlc: { wall: j.hlc.wall + 1, logical: j.hlc.logical } }, /version\.id does not match/],
          [{ ...j, hlc: { wall: j.hlc.wall, logical: (j.hlc.logical + 1) % 0x10000 } }, /version\.id does not match/],
          [{ ...j, origin: j.origin === 'a' ? 'b' : 'a' }, /version\.id does not match/],
          [{ ...j, resourceId: j.resourceId + '-x' }, /version\.id does not match/],
        ];
        for (const [input, message] of tampered) rejected(input, message);
      }),
    );
  });

  it('refuse malformed input, naming the field', () => {
    const j = versionToJSON(createVersion(base));
    const cases: Array<[unknown, RegExp]> = [
      [null, /^version must be an object/],
      ['{}', /^version must be an object/],
      [[j], /^version must be an object/],
      [{ ...j, resourceId: undefined }, /invalid version\.resourceId undefined/],
      [{ ...j, resourceId: 'x'.repeat(201) }, /invalid version\.resourceId/],
      [{ ...j, resourceId: 5n }, /invalid version\.resourceId 5n/],
      [{ ...j, clock: null }, /version\.clock must be an object/],
      [{ ...j, clock: [['host-1', 1]] }, /version\.clock must be an object/],
      [{ ...j, clock: 'host-1:3' }, /version\.clock must be an object/],
      [{ ...j, clock: { 'host-1': -3 } }, /version\.clock: counter of host-1 must not be negative/],
      [{ ...j, clock: { 'host-1': 1.5 } }, /version\.clock: counter of host-1 must be an integer/],
      [{ ...j, clock: { 'bad id': 1 } }, /version\.clock: invalid node id/],
      [{ ...j, hlc: undefined }, /version\.hlc must be an object/],
      [{ ...j, hlc: { wall: 1, logical: -1 } }, /version\.hlc\.logical/],
      [{ ...j, origin: '' }, /invalid version\.origin ""/],
      [{ ...j, data: undefined }, /version\.data is missing/],
      [{ ...j, data: { a: NaN } }, /version\.data cannot be encoded: non-finite number at \$\.a/],
      [{ ...j, data: { a: new Date(0) } }, /version\.data cannot be encoded: unsupported object type at \$\.a/],
      [{ ...j, digest: undefined }, /version\.digest does not match/],
      [{ ...j, id: 42 }, /version\.id does not match/],
    ];
    for (const [input, message] of cases) rejected(input, message);
  });

  it('names the field with a caller-supplied prefix and keeps the cause code', () => {
    const j = versionToJSON(createVersion(base));
    let thrown: unknown;
    try {
      versionFromJSON({ ...j, hlc: { wall: -1, logical: 0 } }, 'message.versions[2]');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(InvalidVersionError);
    expect((thrown as InvalidVersionError).message).toMatch(/^message\.versions\[2\]\.hlc\.wall must be a non-negative integer/);
    expect((thrown as InvalidVersionError).meta.cause).toBe('ERR_INVALID_CLOCK');
  });
});

describe('compareVersions', () => {
  it('is a total order consistent with (hlc, origin, id), 0 only for the same version', () => {
    fc.assert(
      fc.property(fc.array(versionInitArb, { minLength: 1, maxLength: 8 }), fc.nat(), (inits, rot) => {
        const versions = inits.map((i) => createVersion(i));
        for (const a of versions) {
          for (const b of versions) {
            const ab = compareVersions(a, b);
            expect(Math.sign(compareVersions(b, a))).toBe(-Math.sign(ab) || 0);
            expect(ab === 0).toBe(a.id === b.id);
            for (const c of versions) if (ab <= 0 && compareVersions(b, c) <= 0) expect(compareVersions(a, c)).toBeLessThanOrEqual(0);
          }
        }
        // Sorting does not depend on arrival order.
        const r = rot % versions.length;
        const rotated = [...versions.slice(r), ...versions.slice(0, r)].reverse();
        expect([...rotated].sort(compareVersions).map((v) => v.id)).toEqual([...versions].sort(compareVersions).map((v) => v.id));
      }),
    );
  });

  it('orders by hlc first, then origin', () => {
    const a = createVersion({ ...base, hlc: { wall: T0, logical: 9 }, origin: 'zz' });
    const b = createVersion({ ...base, hlc: { wall: T0 + 1, logical: 0 }, origin: 'aa' });
    const c = createVersion({ ...base, hlc: { wall: T0 + 1, logical: 0 }, origin: 'ab' });
    expect([c, b, a].sort(compareVersions)).toEqual([a, b, c]);
  });
});

describe('createVersionOfText', () => {
  it('gives the version createVersion gives, from the digest of the canonical text (tombstones included)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ unit: 'binary' }), fc.jsonValue({ stringUnit: 'binary' })), fc.boolean(), (data, deleted) => {
        const init = { resourceId: 'vm/a', clock: VectorClock.from({ n1: 1 }), hlc: { wall: 1, logical: 0 }, origin: 'n1', data: deleted ? null : data, deleted };
        const d = digestOfCanonicalText(deleted ? 'null' : canonicalJson(data), deleted);
        expect(d).toBe(contentDigest(deleted ? null : structuredClone(data), deleted));
        const v = createVersionOfText(init, d);
        expect(v).toEqual(createVersion({ ...init, data: deleted ? null : structuredClone(data) }));
        expect(versionFromJSON(JSON.parse(JSON.stringify(versionToJSON(v))) as unknown).id).toBe(v.id);
      }),
      { numRuns: 200 },
    );
  });
});
