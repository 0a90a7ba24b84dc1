/**
 * Fuzzing the gossip payload decoder (src/replica/codec.ts decodeGossip) and the version decoder
 * under it (src/core/conflict/version.ts versionFromJSON).
 *
 * 5,000 cases per property by default; long mode: `DWCP_FUZZ_RUNS=100000 npx vitest run --project unit test/unit/fuzz`.
 * A failure prints fast-check's seed and path (seeds are never fixed).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NODE_ID_PATTERN } from '../../../src/core/clock/node-ids.js';
import { VectorClock } from '../../../src/core/clock/vector-clock.js';
import { canonicalJson } from '../../../src/core/codec/canonical.js';
import { versionFromJSON, versionToJSON, type Version } from '../../../src/core/conflict/version.js';
import { decodeGossip, encodeGossip, GOSSIP_FORMAT, MAX_BATCH_VERSIONS, MAX_GOSSIP_BYTES, type GossipBatch } from '../../../src/replica/codec.js';
import { batchArb, versionArb } from './arbitraries.js';
import {
  attempt,
  byteMutationsArb,
  DEEP_TEXT_RUNS,
  deepMutationArb,
  enc,
  expand,
  hostileJsonArb,
  jsonMutationsArb,
  materialize,
  mutateBytes,
  mutateJson,
  params,
  pathsOf,
  protoKeyMutationArb,
  timeoutFor,
  toJsonText,
} from './support.js';

const GOSSIP_CODES = ['ERR_BAD_MESSAGE'];
const VERSION_CODES = ['ERR_INVALID_VERSION'];

const decode = (payload: Uint8Array) => attempt('decodeGossip', GOSSIP_CODES, () => decodeGossip(payload));

/** The wire document of a batch (what encodeGossip serialises). */
function gossipDoc(b: { from: string; versions: readonly Version[] }): unknown {
  return JSON.parse(new TextDecoder().decode(encodeGossip(b.from, b.versions))) as unknown;
}

/**
 * An accepted batch is never garbage: each version is exactly what a well-formed version with that
 * content is (digest and id recomputed from the content and equal to the claims), so re-encoding and
 * decoding it again gives the same version.
 */
function expectWellFormed(batch: GossipBatch): void {
  expect(batch.versions.length).toBeLessThanOrEqual(MAX_BATCH_VERSIONS);
  for (const v of batch.versions) {
    const again = versionFromJSON(JSON.parse(JSON.stringify(versionToJSON(v))) as unknown);
    expect(again.id).toBe(v.id);
    expect(again.digest).toBe(v.digest);
    expect(canonicalJson(again.data)).toBe(canonicalJson(v.data));
  }
  // The texts a receiver stores in place of serialising the versions are those very versions.
  if (batch.texts !== undefined) {
    expect(batch.texts.length).toBe(batch.versions.length);
    batch.texts.forEach((t, i) => {
      const v = batch.versions[i]!;
      const fromText = versionFromJSON(JSON.parse(t) as unknown);
      expect(fromText.id).toBe(v.id);
      expect(fromText.deleted).toBe(v.deleted);
      expect(canonicalJson(fromText.data)).toBe(canonicalJson(v.data));
    });
  }
}

describe('fuzz: decodeGossip', () => {
  it('round-trips every valid batch', () => {
    fc.assert(
      fc.property(batchArb, (b) => {
        const out = decodeGossip(encodeGossip(b.from, b.versions));
        expect(out.from).toBe(b.from);
        expect(out.versions.map((v) => v.id)).toEqual(b.versions.map((v) => v.id));
        expect(out.texts).toEqual(b.versions.map((v) => JSON.stringify(versionToJSON(v))));
      }),
      params(),
    );
  }, timeoutFor());

  it('hands out each version\'s text from any layout of the document, and none when a version carries other fields', () => {
    fc.assert(
      fc.property(batchArb, fc.constantFrom(0, 1, 2, '\t'), (b, indent) => {
        const doc = gossipDoc(b) as { v: number; from: string; versions: unknown[] };
        // Other keys around "versions", a decoy "versions" earlier (JSON.parse keeps the last one),
        // arbitrary indentation.
        const text = `{"versions":[{"x":"]"}],"v":${doc.v},"from":${JSON.stringify(doc.from)},"versions":${JSON.stringify(doc.versions, null, indent)}}`;
        const out = decodeGossip(enc.encode(text));
        expectWellFormed(out);
        expect(out.texts?.length).toBe(b.versions.length);
        if (b.versions.length > 0) {
          const extra = { ...doc, versions: doc.versions.map((v, i) => (i === 0 ? { ...(v as object), note: 'rides along' } : v)) };
          expect(decodeGossip(enc.encode(JSON.stringify(extra))).texts).toBeUndefined();
        }
      }),
      params(),
    );
  }, timeoutFor());

  it('bit flips, truncations, insertions of valid encodings: refused with ERR_BAD_MESSAGE, or a well-formed batch', () => {
    fc.assert(
      fc.property(batchArb, byteMutationsArb, (b, muts) => {
        const r = decode(mutateBytes(encodeGossip(b.from, b.versions), muts));
        if (r.ok) expectWellFormed(r.value);
      }),
      params(),
    );
  }, timeoutFor());

  it('every strict prefix of a valid encoding is refused', () => {
    fc.assert(
      fc.property(batchArb, fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (b, cut) => {
        const bytes = encodeGossip(b.from, b.versions);
        const r = decode(bytes.subarray(0, Math.floor(cut * bytes.length)));
        expect(r.ok).toBe(false);
      }),
      params(),
    );
  }, timeoutFor());

  it('hostile values anywhere (numbers past 2^53, 1e400, -0, 100k-entry clocks and arrays, wrong types): ERR_BAD_MESSAGE or a well-formed batch', () => {
    fc.assert(
      fc.property(batchArb, jsonMutationsArb, (b, muts) => {
        const r = decode(enc.encode(toJsonText(mutateJson(gossipDoc(b), muts))));
        if (r.ok) expectWellFormed(r.value);
      }),
      params(),
    );
  }, timeoutFor());

  it('10,000 levels of nesting anywhere: refused with ERR_BAD_MESSAGE, no stack overflow', () => {
    fc.assert(
      fc.property(batchArb, deepMutationArb, (b, m) => {
        const r = decode(enc.encode(toJsonText(mutateJson(gossipDoc(b), [m]))));
        if (r.ok) expectWellFormed(r.value);
      }),
      params(DEEP_TEXT_RUNS),
    );
  }, timeoutFor(60, DEEP_TEXT_RUNS));

  it('keys named after Object.prototype members anywhere: ERR_BAD_MESSAGE or a well-formed batch', () => {
    fc.assert(
      fc.property(batchArb, protoKeyMutationArb, (b, m) => {
        const r = decode(enc.encode(toJsonText(mutateJson(gossipDoc(b), [m]))));
        if (r.ok) expectWellFormed(r.value);
      }),
      params(),
    );
  }, timeoutFor());

  it('unknown format versions are refused, naming the format', () => {
    fc.assert(
      fc.property(batchArb, fc.oneof(hostileJsonArb, fc.integer()).filter((v) => v !== GOSSIP_FORMAT), (b, format) => {
        const doc = gossipDoc(b) as Record<string, unknown>;
        const r = decode(enc.encode(toJsonText({ ...doc, v: format })));
        expect(r.ok).toBe(false);
      }),
      params(),
    );
  }, timeoutFor());

  it('random bytes are refused', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        expect(decode(bytes).ok).toBe(false);
      }),
      params(),
    );
  }, timeoutFor());

  it('a sender that is not a node id is refused', () => {
    // decodeGossip documents `from` as the sender's node id and validates "strictly".
    const notNodeIds = fc.oneof(
      fc.constantFrom('', ' ', 'a b', '-lead', '../x', 'x'.repeat(65), '\u0000', 'é', 'n1\n'),
      fc.string({ maxLength: 8 }).filter((s) => !NODE_ID_PATTERN.test(s)),
    );
    fc.assert(
      fc.property(batchArb, notNodeIds, (b, from) => {
        const doc = gossipDoc(b) as Record<string, unknown>;
        const r = decode(enc.encode(JSON.stringify({ ...doc, from })));
        expect(r.ok, `sender ${JSON.stringify(from)} accepted`).toBe(false);
      }),
      params(),
    );
  }, timeoutFor());

  it('oversized payloads and batches are refused before parsing', () => {
    const garbage = new Uint8Array(MAX_GOSSIP_BYTES + 1).fill(0x20);
    expect(decode(garbage)).toMatchObject({ ok: false, error: { code: 'ERR_BAD_MESSAGE', meta: { size: MAX_GOSSIP_BYTES + 1 } } });
    // A valid batch padded with JSON whitespace past the limit.
    const valid = encodeGossip('n1', []);
    const padded = new Uint8Array(MAX_GOSSIP_BYTES + 1).fill(0x20);
    padded.set(valid, 0);
    expect(decode(padded).ok).toBe(false);
    const tooMany = enc.encode(JSON.stringify({ v: GOSSIP_FORMAT, from: 'n1', versions: new Array(MAX_BATCH_VERSIONS + 1).fill(0) }));
    expect(decode(tooMany)).toMatchObject({ ok: false, error: { code: 'ERR_BAD_MESSAGE' } });
  });

  it('10,000 levels of nesting at every position of one batch are refused', () => {
    const b = fc.sample(batchArb, 1)[0]!;
    const doc = gossipDoc(b);
    const n = pathsOf(doc).length;
    for (let pick = 0; pick < n; pick++) {
      for (const deep of ['@@DEEP_ARRAY@@', '@@DEEP_OBJECT@@']) {
        const r = decode(enc.encode(toJsonText(mutateJson(doc, [{ op: 'replace', pick, with: deep }]))));
        expect(r.ok).toBe(false);
      }
    }
  });
});

describe('fuzz: versionFromJSON', () => {
  const decodeVersion = (v: unknown) => attempt('versionFromJSON', VERSION_CODES, () => versionFromJSON(v));

  it('round-trips every valid version', () => {
    fc.assert(
      fc.property(versionArb, (v) => {
        const out = versionFromJSON(JSON.parse(JSON.stringify(versionToJSON(v))) as unknown);
        expect(out.id).toBe(v.id);
        expect(out.clock.equals(v.clock)).toBe(true);
      }),
      params(),
    );
  }, timeoutFor());

  it('mutated versions: ERR_INVALID_VERSION, or exactly the version the input claims (id and digest verified)', () => {
    fc.assert(
      fc.property(versionArb, jsonMutationsArb, (v, muts) => {
        const input = expand(mutateJson(versionToJSON(v), muts));
        const r = decodeVersion(input);
        if (!r.ok) return;
        const o = input as Record<string, unknown>;
        expect(r.value.id).toBe(o.id);
        expect(r.value.digest).toBe(o.digest);
        expect(r.value.resourceId).toBe(o.resourceId);
        expect(r.value.origin).toBe(o.origin);
        expect(r.value.clock.equals(VectorClock.from(o.clock as Record<string, number>))).toBe(true);
      }),
      params(),
    );
  }, timeoutFor());

  it('10,000 levels of nesting in any field: ERR_INVALID_VERSION, no stack overflow', () => {
    fc.assert(
      fc.property(versionArb, deepMutationArb, (v, m) => {
        decodeVersion(expand(mutateJson(versionToJSON(v), [m])));
      }),
      params(),
    );
  }, timeoutFor());

  it('huge clocks: counters past 2^53, 100,000 entries, non-integers are refused', () => {
    const base = versionToJSON(fc.sample(versionArb, 1)[0]!);
    const clocks: unknown[] = [
      { n1: 2 ** 53 },
      { n1: 2 ** 53 + 2 },
      { n1: Number.MAX_SAFE_INTEGER + 1 },
      { n1: 1e308 },
      { n1: -1 },
      { n1: 1.5 },
      { n1: '1' },
      { n1: null },
      materialize('@@HUGE_CLOCK@@'),
      JSON.parse('{"n1":1e400}') as unknown,
      JSON.parse('{"n1":9007199254740993}') as unknown,
      [['n1', 1]],
    ];
    for (const clock of clocks) expect(decodeVersion({ ...base, clock }).ok).toBe(false);
  });
});
