/**
 * Fuzzing the libp2p adapter's wire codecs: the gossip envelope (src/adapters/libp2p/envelope.ts),
 * the rpc frames, hello and error payloads (rpc-codec.ts), and the two pieces of state hostile gossip
 * reaches before the replica does: the node id ↔ peer id bindings (bindings.ts, "wrongly bound") and
 * the replay guard (replay-guard.ts). Forged hellos are checked with real Ed25519 keys.
 *
 * 5,000 cases per property by default; long mode: `DWCP_FUZZ_RUNS=100000 npx vitest run --project unit test/unit/fuzz`.
 * A failure prints fast-check's seed and path (seeds are never fixed).
 */
import { deflateRawSync } from 'node:zlib';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { NODE_ID_PATTERN } from '../../../src/core/clock/node-ids.js';
import { NodeBindings } from '../../../src/adapters/libp2p/bindings.js';
import { decodeEnvelope, encodeEnvelope, ENVELOPE_VERSION, type Envelope } from '../../../src/adapters/libp2p/envelope.js';
import { ReplayGuard } from '../../../src/adapters/libp2p/replay-guard.js';
import {
  decodeHello,
  decodeRemoteError,
  encodeFrame,
  encodeHello,
  encodeRemoteError,
  FrameDecoder,
  FrameType,
  helloSigningBytes,
  type Frame,
} from '../../../src/adapters/libp2p/rpc-codec.js';
import { attempt, byteMutationsArb, concat, fractionOfRuns, mutateBytes, params, sameBytes, timeoutFor } from './support.js';

const ENVELOPE_CODES = ['ERR_DECODE', 'ERR_PAYLOAD_TOO_LARGE'];
const FRAME_CODES = ['ERR_DECODE', 'ERR_PAYLOAD_TOO_LARGE'];
const HELLO_CODES = ['ERR_DECODE'];

/** Node ids matching NODE_ID_PATTERN (envelopes intern nothing, so any valid id will do). */
const anyNodeIdArb = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
const safeArb = fc.oneof(fc.constantFrom(0, 1, Number.MAX_SAFE_INTEGER), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));
const bodyArb = fc.oneof(
  fc.uint8Array({ maxLength: 256 }),
  // Compressible bodies, so the deflate path is exercised too.
  fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 600 })).map(([unit, times]) => {
    const out = new Uint8Array(unit.length * times);
    for (let i = 0; i < times; i++) out.set(unit, i * unit.length);
    return out;
  }),
);
const envelopeArb: fc.Arbitrary<Envelope> = fc.record({ v: fc.constant(1 as const), node: anyNodeIdArb, seq: safeArb, ts: safeArb, body: bodyArb });
const compressAboveArb = fc.constantFrom(0, 64, 512, Infinity);
const MAX_BODY = 4096;

const decode = (bytes: Uint8Array, max = MAX_BODY) => attempt('decodeEnvelope', ENVELOPE_CODES, () => decodeEnvelope(bytes, max));

describe('fuzz: gossip envelope', () => {
  it('round-trips every valid envelope, deflated or not', () => {
    fc.assert(
      fc.property(envelopeArb, compressAboveArb, (env, compressAbove) => {
        const bytes = encodeEnvelope(env, { compressAbove });
        const out = decodeEnvelope(bytes, 1 << 20);
        expect(out).toMatchObject({ v: 1, node: env.node, seq: env.seq, ts: env.ts, wireBytes: bytes.byteLength });
        expect(sameBytes(out.body, env.body)).toBe(true);
      }),
      params(),
    );
  }, timeoutFor());

  it('bit flips, truncations, insertions: a typed refusal, or a well-formed envelope', () => {
    fc.assert(
      fc.property(envelopeArb, compressAboveArb, byteMutationsArb, (env, compressAbove, muts) => {
        const bytes = mutateBytes(encodeEnvelope(env, { compressAbove }), muts);
        const r = decode(bytes);
        if (!r.ok) return;
        const d = r.value;
        expect(d.node).toMatch(NODE_ID_PATTERN);
        expect(Number.isSafeInteger(d.seq) && d.seq >= 0 && Number.isSafeInteger(d.ts) && d.ts >= 0).toBe(true);
        expect(d.body.byteLength).toBeLessThanOrEqual(MAX_BODY);
        // One encoding per envelope: an accepted plain envelope is exactly its re-encoding.
        if (!d.compressed) expect(sameBytes(encodeEnvelope(d, { compressAbove: Infinity }), bytes)).toBe(true);
      }),
      params(),
    );
  }, timeoutFor());

  it('random bytes: a typed refusal or a well-formed envelope', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 128 }), (bytes) => {
        const r = decode(bytes);
        if (r.ok) expect(r.value.node).toMatch(NODE_ID_PATTERN);
      }),
      params(),
    );
  }, timeoutFor());

  it('unknown versions and flags are refused', () => {
    fc.assert(
      fc.property(envelopeArb, fc.integer({ min: 0, max: 255 }), fc.integer({ min: 2, max: 255 }), (env, version, flags) => {
        const bytes = encodeEnvelope(env, { compressAbove: Infinity });
        const v = bytes.slice();
        v[0] = version;
        expect(decode(v).ok).toBe(version === ENVELOPE_VERSION);
        const f = bytes.slice();
        f[1] = flags;
        expect(decode(f)).toMatchObject({ ok: false, error: { code: 'ERR_DECODE' } });
      }),
      params(),
    );
  }, timeoutFor());

  it('bodies over the limit are refused as oversized, plain or as a compression bomb', () => {
    // 4 MiB of zeros deflate to ~4 KiB; inflation stops at the limit. Each case inflates up to 4 MiB
    // (milliseconds), hence a tenth of the runs.
    const bomb = deflateRawSync(new Uint8Array(4 << 20));
    fc.assert(
      fc.property(anyNodeIdArb, fc.integer({ min: 1, max: (4 << 20) - 1 }), fc.integer({ min: 1, max: 64 }), (node, limit, extra) => {
        const head = encodeEnvelope({ v: 1, node, seq: 1, ts: 1, body: new Uint8Array(0) }, { compressAbove: Infinity });
        const deflated = concat(head, bomb);
        deflated[1] = 1;
        expect(decode(deflated, limit)).toMatchObject({ ok: false, error: { code: 'ERR_PAYLOAD_TOO_LARGE' } });
        const small = limit % 4096;
        const plain = encodeEnvelope({ v: 1, node, seq: 1, ts: 1, body: new Uint8Array(small + extra) }, { compressAbove: Infinity });
        expect(decode(plain, small)).toMatchObject({ ok: false, error: { code: 'ERR_PAYLOAD_TOO_LARGE' } });
      }),
      params(fractionOfRuns(10)),
    );
  }, timeoutFor(20, fractionOfRuns(10)));

  it('the encoder refuses what the decoder would refuse (bad node id, seq, ts) with a typed error', () => {
    const bad = fc.constantFrom<unknown>(-1, 1.5, Number.MAX_SAFE_INTEGER + 1, NaN, Infinity, '1', null);
    fc.assert(
      fc.property(envelopeArb, fc.oneof(fc.string({ maxLength: 70 }), anyNodeIdArb), bad, bad, (env, node, seq, ts) => {
        const tries: Array<Partial<Record<keyof Envelope, unknown>>> = [{ node }, { seq }, { ts }];
        for (const over of tries) {
          const r = attempt('encodeEnvelope', ENVELOPE_CODES, () => encodeEnvelope({ ...env, ...over } as Envelope));
          if (over.node !== undefined) expect(r.ok).toBe(NODE_ID_PATTERN.test(node));
          else expect(r.ok).toBe(false);
        }
      }),
      params(),
    );
  }, timeoutFor());
});

// ---- rpc frames ----------------------------------------------------------------------------------

const frameArb: fc.Arbitrary<Frame> = fc.record({
  type: fc.constantFrom(FrameType.Hello, FrameType.Request, FrameType.Response, FrameType.Error),
  id: fc.nat({ max: 0xffffffff }),
  payload: fc.uint8Array({ maxLength: 200 }),
});

/** Splits bytes into chunks at the given fractions. */
function chunk(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  return out;
}

const cutsArb = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 });

describe('fuzz: rpc frames, hello, remote errors', () => {
  it('frames round-trip however the stream is chunked', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 6 }), cutsArb, (frames, cuts) => {
        const stream = concat(...frames.map((f) => encodeFrame(f.type, f.id, f.payload)));
        const d = new FrameDecoder(1024);
        const got = chunk(stream, cuts).flatMap((c) => d.push(c));
        expect(got.map((f) => [f.type, f.id, Buffer.from(f.payload).toString('hex')])).toEqual(
          frames.map((f) => [f.type, f.id, Buffer.from(f.payload).toString('hex')]),
        );
      }),
      params(),
    );
  }, timeoutFor());

  it('mutated and random streams: a typed refusal; frames handed out before it are well-formed', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.tuple(fc.array(frameArb, { minLength: 1, maxLength: 4 }), byteMutationsArb).map(([frames, muts]) =>
            mutateBytes(concat(...frames.map((f) => encodeFrame(f.type, f.id, f.payload))), muts),
          ),
          fc.uint8Array({ maxLength: 300 }),
        ),
        cutsArb,
        (stream, cuts) => {
          const d = new FrameDecoder(256);
          for (const c of chunk(stream, cuts)) {
            const r = attempt('FrameDecoder.push', FRAME_CODES, () => d.push(c));
            if (!r.ok) return;
            for (const f of r.value) {
              expect(f.type >= FrameType.Hello && f.type <= FrameType.Error).toBe(true);
              expect(f.payload.byteLength).toBeLessThanOrEqual(256);
            }
          }
        },
      ),
      params(),
    );
  }, timeoutFor());

  it('an oversized length prefix is refused from its 4 bytes, before any body is buffered', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1 << 20 }), fc.integer({ min: 1, max: 0xffffffff - 5 - (1 << 20) }), (max, over) => {
        const head = new Uint8Array(4);
        new DataView(head.buffer).setUint32(0, 5 + max + over);
        const r = attempt('FrameDecoder.push', FRAME_CODES, () => new FrameDecoder(max).push(head));
        expect(r).toMatchObject({ ok: false, error: { code: 'ERR_PAYLOAD_TOO_LARGE' } });
      }),
      params(),
    );
  }, timeoutFor());

  const helloArb = fc.record({
    cluster: fc.string({ maxLength: 40 }),
    nodeId: anyNodeIdArb,
    signature: fc.uint8Array({ maxLength: 80 }),
  });

  it('hellos round-trip; mutated hellos are refused or decode to a valid, canonical hello', () => {
    fc.assert(
      fc.property(helloArb, byteMutationsArb, (h, muts) => {
        const bytes = encodeHello(h);
        const back = decodeHello(bytes);
        expect(back.cluster).toBe(h.cluster);
        expect(back.nodeId).toBe(h.nodeId);
        expect(sameBytes(back.signature, h.signature)).toBe(true);
        const mutated = mutateBytes(bytes, muts);
        const r = attempt('decodeHello', HELLO_CODES, () => decodeHello(mutated));
        if (!r.ok) return;
        expect(r.value.nodeId).toMatch(NODE_ID_PATTERN);
        expect(sameBytes(encodeHello(r.value), mutated)).toBe(true);
      }),
      params(),
    );
  }, timeoutFor());

  it('the hello signing string names exactly one (cluster, node, sender, receiver)', () => {
    // Injective: the three fields after the cluster cannot contain NUL, so the tuple reads back from the right.
    const peerArb = fc.stringMatching(/^12D3KooW[1-9A-HJ-NP-Za-km-z]{4,10}$/);
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), anyNodeIdArb, peerArb, peerArb, (cluster, node, sender, receiver) => {
        const text = new TextDecoder().decode(helloSigningBytes(cluster, node, sender, receiver));
        const parts = text.split('\0');
        expect(parts.slice(-3)).toEqual([node, sender, receiver]);
        expect(parts.slice(1, -3).join('\0')).toBe(cluster);
        expect(parts[0]).toBe('dwcp-hello/1');
      }),
      params(),
    );
  }, timeoutFor());

  describe('forged hellos (real Ed25519 keys)', () => {
    let keys: Array<{ sign(d: Uint8Array): Uint8Array | Promise<Uint8Array>; verify(d: Uint8Array, s: Uint8Array): boolean | Promise<boolean>; peer: string }> = [];
    beforeAll(async () => {
      keys = await Promise.all(
        [0, 1, 2].map(async () => {
          const k = await generateKeyPair('Ed25519');
          return { sign: (d: Uint8Array) => k.sign(d), verify: (d: Uint8Array, s: Uint8Array) => k.publicKey.verify(d, s), peer: peerIdFromPrivateKey(k).toString() };
        }),
      );
    });

    // Each case signs and verifies twice (about 1 ms): a fifth of the runs.
    it('a signature verifies for its own tuple only: another cluster, node, sender, receiver, key or a flipped bit fails', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.string({ maxLength: 12 }),
          anyNodeIdArb,
          fc.constantFrom(0, 1, 2),
          fc.constantFrom(0, 1, 2),
          fc.constantFrom('cluster', 'node', 'sender', 'receiver', 'key', 'bit'),
          fc.nat(),
          async (cluster, node, s, r, what, pick) => {
            const signer = keys[s]!;
            const receiver = keys[r]!.peer;
            const sig = await signer.sign(helloSigningBytes(cluster, node, signer.peer, receiver));
            expect(await signer.verify(helloSigningBytes(cluster, node, signer.peer, receiver), sig)).toBe(true);
            const other = keys[(s + 1) % 3]!;
            let data = helloSigningBytes(cluster, node, signer.peer, receiver);
            let signature = sig;
            let verifier = signer;
            if (what === 'cluster') data = helloSigningBytes(`${cluster}x`, node, signer.peer, receiver);
            if (what === 'node') data = helloSigningBytes(cluster, `${node.slice(0, 63)}${node.endsWith('a') ? 'b' : 'a'}`, signer.peer, receiver);
            if (what === 'sender') data = helloSigningBytes(cluster, node, other.peer, receiver);
            if (what === 'receiver') data = helloSigningBytes(cluster, node, signer.peer, receiver === other.peer ? signer.peer : other.peer);
            if (what === 'key') verifier = other;
            if (what === 'bit') signature = mutateBytes(sig, [{ op: 'flip', pos: pick % sig.length, bit: pick % 8 }]);
            if (what === 'sender' && other.peer === signer.peer) return;
            expect(await verifier.verify(data, signature)).toBe(false);
          },
        ),
        params(fractionOfRuns(5)),
      );
    }, timeoutFor(10, fractionOfRuns(5)));
  });

  it('remote error payloads never throw and always give strings', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.tuple(fc.string(), fc.string(), byteMutationsArb).map(([c, m, muts]) => mutateBytes(encodeRemoteError(c, m), muts)),
          fc.jsonValue().map((v) => new TextEncoder().encode(JSON.stringify(v))),
        ),
        (bytes) => {
          const e = decodeRemoteError(bytes);
          expect(typeof e.code).toBe('string');
          expect(typeof e.message).toBe('string');
        },
      ),
      params(),
    );
  }, timeoutFor());
});

// ---- bindings and replay guard --------------------------------------------------------------------

describe('fuzz: node bindings and the replay guard', () => {
  it('a node id, once bound, never moves to another peer, and a peer never holds two node ids', () => {
    const nodes = ['a', 'b', 'c', 'd'];
    const peers = ['P1', 'P2', 'P3', 'P4', 'P5'];
    fc.assert(
      fc.property(
        fc.record({ pinned: fc.dictionary(fc.constantFrom(...nodes), fc.constantFrom(...peers), { maxKeys: 2, noNullPrototype: true }) }),
        fc.array(fc.tuple(fc.constantFrom(...nodes, 'self'), fc.constantFrom(...peers, 'SELF'), fc.boolean()), { maxLength: 30 }),
        ({ pinned }, ops) => {
          const b = new NodeBindings({ nodeId: 'self', peerId: 'SELF' }, pinned);
          const owner = new Map(b.entries());
          for (const [node, peer, checkOnly] of ops) {
            const predicted = b.check(node, peer);
            const outcome = checkOnly ? b.check(node, peer) : b.bind(node, peer);
            expect(outcome).toBe(predicted);
            if (outcome === 'bound' && !checkOnly) owner.set(node, peer);
            const entries = b.entries();
            for (const [n, p] of entries) expect(owner.get(n)).toBe(p);
            expect(new Set(entries.map(([, p]) => p)).size).toBe(entries.length);
            expect(b.peerOf('self')).toBe('SELF');
          }
        },
      ),
      params(),
    );
  }, timeoutFor());

  it('an accepted (origin, seq) is never fresh again, whatever the order (origins within the bound)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.oneof(fc.integer({ min: 0, max: 40 }), safeArb)), { maxLength: 80 }),
        (window, seqs) => {
          const g = new ReplayGuard(window, 16);
          const accepted: Array<[string, number]> = [];
          for (const [origin, seq] of seqs) {
            if (g.isFresh(origin, seq)) {
              g.accept(origin, seq);
              accepted.push([origin, seq]);
            }
            for (const [o, s] of accepted) expect(g.isFresh(o, s), `${o}:${s} fresh again`).toBe(false);
          }
        },
      ),
      params(),
    );
  }, timeoutFor());
});
