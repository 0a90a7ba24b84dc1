/**
 * Fuzzing a live replica (src/replica/replica.ts) through its inputs, as a rogue peer on the
 * network would: gossip payloads, and request bodies for the RPC router (src/replica/rpc.ts) with
 * anti-entropy (anti-entropy.ts) and Paxos (paxos.ts) attached. Issue 8's contract for hostile
 * input: refused, counted, audited, nothing applied, and the agent keeps serving.
 *
 * 5,000 cases per property by default; long mode: `DWCP_FUZZ_RUNS=100000 npx vitest run --project unit test/unit/fuzz`.
 * A failure prints fast-check's seed and path (seeds are never fixed). One cluster serves every
 * case of a property: what an earlier case did to it is part of the attack. Each case drives the
 * replica's whole path (delivery, decoding, store batch, audit chain, digest index), 1-5 ms, so these
 * properties run a fifth of the cases (1,000 in CI, 20,000 in the long mode).
 */
import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_DRIFT_MS } from '../../../src/core/clock/hlc.js';
import { createVersion, versionToJSON } from '../../../src/core/conflict/version.js';
import { DwcpError } from '../../../src/core/errors.js';
import { decodeGossip } from '../../../src/replica/codec.js';
import { batchArb } from './arbitraries.js';
import { expectRejectedAndAudited, gossipOf, underAttack, versionFrom, versionSeedArb, wireDoc, type Attack, type VersionSeed } from './harness.js';
import {
  byteMutationsArb,
  deepMutationArb,
  enc,
  fractionOfRuns,
  jsonMutationsArb,
  mutateBytes,
  mutateJson,
  params,
  timeoutFor,
  toJsonText,
} from './support.js';

const dec = new TextDecoder();
const RUNS = fractionOfRuns(5);

/**
 * Decodes a reply of the RPC router: a JSON object, `{error: {code, message}}` on failure. The
 * router promises to answer every request; throwing instead (the request fails at the caller) is a
 * crash of the router.
 */
function replyOf(r: { reply?: Uint8Array; thrown?: unknown }): { error?: { code?: unknown; message?: unknown } } & Record<string, unknown> {
  if (r.reply === undefined) {
    const e = r.thrown;
    const what = e instanceof Error ? `${e.name}: ${e.message}\n${(e.stack ?? '').split('\n').slice(1, 5).join('\n')}` : String(e);
    expect.fail(`the RPC router threw instead of answering: ${what}`);
  }
  const v = JSON.parse(dec.decode(r.reply)) as unknown;
  expect(typeof v === 'object' && v !== null && !Array.isArray(v), 'the reply is a JSON object').toBe(true);
  return v as Record<string, unknown>;
}

/** A handler failure that was not a typed DwcpError shows up as ERR_INTERNAL: that is a crash, not a refusal. */
function expectTypedOrOk(reply: ReturnType<typeof replyOf>): void {
  if (reply.error !== undefined) {
    expect(typeof reply.error.code).toBe('string');
    expect(reply.error.code, `untyped failure in a handler: ${String(reply.error.message).slice(0, 200)}`).not.toBe('ERR_INTERNAL');
  }
}

/** The "keeps serving" check runs every this many cases (and at the end of each property). */
const SERVE_EVERY = 8;
let cases = 0;

async function expectServing(a: Attack, seed: VersionSeed): Promise<void> {
  const v = versionFrom(seed, a.freshId(), a.c.clock.now());
  await a.gossip(gossipOf([v]));
  expect(a.n1.replica.versionsOf(v.resourceId).map((x) => x.id), 'a valid version after the attack').toEqual([v.id]);
  const local = await a.n1.replica.put(a.freshId('vm/local'), { n: cases });
  expect(a.n1.replica.versionsOf(local.resourceId)).toEqual([local]);
}

describe('fuzz: gossip into a live replica', () => {
  let a: Attack;
  beforeAll(async () => {
    a = await underAttack();
  });
  afterEach(async () => {
    await expectServing(a, fc.sample(versionSeedArb, 1)[0]!);
  });

  it('undecodable gossip (bit flips, truncations, hostile values): refused, counted, audited, nothing applied; the replica keeps serving', async () => {
    await fc.assert(
      fc.asyncProperty(
        batchArb,
        fc.oneof(
          byteMutationsArb.map((m) => ({ bytes: m })),
          jsonMutationsArb.map((m) => ({ json: m })),
        ),
        versionSeedArb,
        async (b, mutation, seed) => {
          const payload =
            'bytes' in mutation
              ? mutateBytes(gossipOf(b.versions, b.from), mutation.bytes)
              : enc.encode(toJsonText(mutateJson(wireDoc(b.versions, b.from), mutation.json)));
          let decodable = true;
          try {
            decodeGossip(payload);
          } catch (err) {
            if (!(err instanceof DwcpError)) throw err;
            decodable = false;
          }
          if (!decodable) {
            const before = { events: a.rejected.length, seq: a.n1.replica.audit.lastSeq, state: a.fingerprint() };
            await a.gossip(payload);
            expect(a.fingerprint(), 'state changed by a refused message').toBe(before.state);
            await expectRejectedAndAudited(a, before, 'rogue');
          }
          // Keeps serving: a valid version of a fresh resource is applied (every few cases; the state
          // carries over, so a replica broken by any earlier case fails here).
          if (++cases % SERVE_EVERY === 0) await expectServing(a, seed);
        },
      ),
      params(RUNS),
    );
  }, timeoutFor(10, RUNS));

  it('a batch with one corrupted version: nothing of the batch is applied, refused, counted, audited; the clean batch then applies', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(versionSeedArb, { minLength: 2, maxLength: 6 }), fc.nat(), jsonMutationsArb, async (seeds, pick, muts) => {
        const now = a.c.clock.now();
        const versions = seeds.map((s) => versionFrom(s, a.freshId('vm/batch'), now));
        const doc = wireDoc(versions);
        const i = pick % versions.length;
        doc.versions[i] = mutateJson(doc.versions[i], muts);
        const payload = enc.encode(toJsonText(doc));
        let decodable = true;
        try {
          decodeGossip(payload);
        } catch {
          decodable = false;
        }
        fc.pre(!decodable); // a mutation that left the version valid (rare) is no corruption
        const before = { events: a.rejected.length, seq: a.n1.replica.audit.lastSeq, state: a.fingerprint() };
        await a.gossip(payload);
        expect(versions.filter((v) => a.n1.replica.versionsOf(v.resourceId).length > 0).map((v) => v.resourceId), 'applied from a refused batch').toEqual([]);
        expect(a.fingerprint()).toBe(before.state);
        await expectRejectedAndAudited(a, before, 'rogue');
        if (++cases % SERVE_EVERY === 0) {
          await a.gossip(gossipOf(versions));
          expect(versions.every((v) => a.n1.replica.versionsOf(v.resourceId)[0]?.id === v.id), 'the clean batch applies').toBe(true);
        }
      }),
      params(RUNS),
    );
  }, timeoutFor(10, RUNS));

  it('a batch with one version from too far in the future (beyond the HLC drift bound): nothing of the batch is applied', async () => {
    // Each version is well-formed; the one from the future is refused by the replica's HLC. The
    // architecture says an inbound message is "rejected, never half-applied".
    await fc.assert(
      fc.asyncProperty(fc.array(versionSeedArb, { minLength: 2, maxLength: 6 }), fc.nat(), fc.integer({ min: 1_000, max: 10 ** 9 }), async (seeds, pick, ahead) => {
        const now = a.c.clock.now();
        const versions = seeds.map((s) => versionFrom(s, a.freshId('vm/drift'), now));
        const i = pick % versions.length;
        const v = versions[i]!;
        versions[i] = createVersion({ ...v, hlc: { wall: now + DEFAULT_MAX_DRIFT_MS + ahead, logical: 0 } });
        const before = { events: a.rejected.length, seq: a.n1.replica.audit.lastSeq, state: a.fingerprint() };
        await a.gossip(gossipOf(versions));
        expect(versions.filter((x) => a.n1.replica.versionsOf(x.resourceId).length > 0).map((x) => x.resourceId), 'applied from a refused batch').toEqual([]);
        expect(a.fingerprint()).toBe(before.state);
        await expectRejectedAndAudited(a, before, 'rogue');
      }),
      params(RUNS),
    );
  }, timeoutFor(10, RUNS));
});

describe('fuzz: request bodies into a live replica (RPC router, anti-entropy, Paxos)', () => {
  let a: Attack;
  beforeAll(async () => {
    a = await underAttack();
  });
  afterEach(async () => {
    await expectServing(a, fc.sample(versionSeedArb, 1)[0]!);
  });

  const validBody = (t: string, key: string, versions: readonly unknown[]): Record<string, unknown> => {
    switch (t) {
      case 'ae-digest':
        return { t, buckets: a.n1.replica.digest.summary() };
      case 'ae-exchange':
        return { t, want: ['vm/vm-1'], versions };
      case 'px-prepare':
        return { t, key, ballot: { n: 1, node: 'n2' } };
      case 'px-accept':
        return { t, key, ballot: { n: 1, node: 'n2' }, value: { winner: 'x', version: versions[0] ?? null, kind: 'consensus' } };
      case 'px-decided':
        return { t, key: `fuzz:${key}`, value: { winner: 'x' }, ballot: '1.n2' };
      default:
        return { t };
    }
  };
  const typeArb = fc.constantFrom('ae-digest', 'ae-exchange', 'px-prepare', 'px-accept', 'px-decided', 'hb', 'lease-latest', '__proto__', 'toString');

  it('random bytes and mutated bodies of every request type: a typed refusal or an answer; a refusal changes nothing; the replica keeps serving', async () => {
    await fc.assert(
      fc.asyncProperty(
        typeArb,
        versionSeedArb,
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }).map((b) => ({ raw: b })),
          byteMutationsArb.map((m) => ({ bytes: m })),
          jsonMutationsArb.map((m) => ({ json: m })),
        ),
        async (t, seed, mutation) => {
          const key = a.freshId('k');
          const v = versionToJSON(versionFrom(seed, a.freshId(), a.c.clock.now()));
          const body = validBody(t, key, [v]);
          const payload =
            'raw' in mutation
              ? mutation.raw
              : 'bytes' in mutation
                ? mutateBytes(enc.encode(JSON.stringify(body)), mutation.bytes)
                : enc.encode(toJsonText(mutateJson(body, mutation.json)));
          const state = a.fingerprint();
          const reply = replyOf(await a.request(payload));
          expectTypedOrOk(reply);
          if (reply.error !== undefined) expect(a.fingerprint(), 'state changed by a refused request').toBe(state);
          // Keeps serving: a valid anti-entropy digest request is answered.
          if (++cases % SERVE_EVERY === 0) expectTypedOrOk(replyOf(await a.request(enc.encode(JSON.stringify(validBody('ae-digest', key, []))))));
        },
      ),
      params(RUNS),
    );
  }, timeoutFor(10, RUNS));

  it('10,000 levels of nesting anywhere in any request body: a typed refusal, and the Paxos key it named still works', async () => {
    await fc.assert(
      fc.asyncProperty(typeArb, versionSeedArb, deepMutationArb, async (t, seed, m) => {
        const key = a.freshId('deep');
        const v = versionToJSON(versionFrom(seed, a.freshId(), a.c.clock.now()));
        const body = validBody(t, key, [v]);
        const mutated = mutateJson(body, [m]) as Record<string, unknown>;
        const reply = replyOf(await a.request(enc.encode(toJsonText(mutated))));
        expectTypedOrOk(reply);
        // The acceptor for the key the body named (if any) still answers a higher ballot.
        const named = typeof mutated.key === 'string' ? mutated.key : key;
        const after = replyOf(await a.request(enc.encode(JSON.stringify({ t: 'px-prepare', key: named, ballot: { n: 2 ** 40, node: 'n2' } }))));
        expectTypedOrOk(after);
      }),
      params(RUNS),
    );
  }, timeoutFor(10, RUNS));

  it('ae-exchange with one corrupted version: refused, nothing of it applied; the clean exchange then applies', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(versionSeedArb, { minLength: 2, maxLength: 5 }), fc.nat(), jsonMutationsArb, async (seeds, pick, muts) => {
        const now = a.c.clock.now();
        const versions = seeds.map((s) => versionFrom(s, a.freshId('vm/ae'), now));
        const docs = versions.map((v) => JSON.parse(JSON.stringify(versionToJSON(v))) as unknown);
        const i = pick % docs.length;
        const corrupted = [...docs];
        corrupted[i] = mutateJson(docs[i], muts);
        const state = a.fingerprint();
        const reply = replyOf(await a.request(enc.encode(toJsonText({ t: 'ae-exchange', want: [], versions: corrupted }))));
        expectTypedOrOk(reply);
        fc.pre(reply.error !== undefined); // the mutation left the version valid (rare)
        expect(versions.filter((v) => a.n1.replica.versionsOf(v.resourceId).length > 0).map((v) => v.resourceId), 'applied from a refused exchange').toEqual([]);
        expect(a.fingerprint()).toBe(state);
        if (++cases % SERVE_EVERY === 0) {
          expectTypedOrOk(replyOf(await a.request(enc.encode(JSON.stringify({ t: 'ae-exchange', want: [], versions: docs })))));
          expect(versions.every((v) => a.n1.replica.versionsOf(v.resourceId)[0]?.id === v.id), 'the clean exchange applies').toBe(true);
        }
      }),
      params(RUNS),
    );
  }, timeoutFor(10, RUNS));

  it('ae-exchange with a corrupted version is counted and audited like refused gossip', async () => {
    await fc.assert(
      fc.asyncProperty(versionSeedArb, jsonMutationsArb, async (seed, muts) => {
        const doc = JSON.parse(JSON.stringify(versionToJSON(versionFrom(seed, a.freshId('vm/aec'), a.c.clock.now())))) as unknown;
        const before = { events: a.rejected.length, seq: a.n1.replica.audit.lastSeq };
        const reply = replyOf(await a.request(enc.encode(toJsonText({ t: 'ae-exchange', want: [], versions: [mutateJson(doc, muts)] }))));
        fc.pre(reply.error !== undefined);
        await expectRejectedAndAudited(a, before, 'rogue');
      }),
      params(RUNS),
    );
  }, timeoutFor(10, RUNS));
});

describe('fuzz: pinpointed hostile requests (the shrunk cases of the properties above)', () => {
  let a: Attack;
  beforeAll(async () => {
    a = await underAttack();
  });

  it('a request type nested 10,000 levels deep gets a typed answer from the router', async () => {
    expectTypedOrOk(replyOf(await a.request(enc.encode(toJsonText({ t: '@@DEEP_ARRAY@@' })))));
  });

  it.each(['px-accept', 'px-decided'])('%s with a value nested 10,000 levels deep: a typed refusal, and its key keeps working', async (t) => {
    const key = a.freshId('pin');
    expectTypedOrOk(replyOf(await a.request(enc.encode(toJsonText({ t, key, ballot: { n: 1, node: 'n2' }, value: '@@DEEP_ARRAY@@' })))));
    expectTypedOrOk(replyOf(await a.request(enc.encode(JSON.stringify({ t: 'px-prepare', key, ballot: { n: 5, node: 'n2' } })))));
    expectTypedOrOk(replyOf(await a.request(enc.encode(JSON.stringify({ t: 'px-accept', key, ballot: { n: 5, node: 'n2' }, value: 'ok' })))));
  });
});
