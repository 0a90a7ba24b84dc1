import '../../support/polyfill.js';
import { deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NodeBindings } from '../../../src/adapters/libp2p/bindings.js';
import { decodeEnvelope, encodeEnvelope } from '../../../src/adapters/libp2p/envelope.js';
import { ReplayGuard, SeqCounter } from '../../../src/adapters/libp2p/replay-guard.js';
import { decodeHello, encodeFrame, encodeHello, FrameDecoder, FrameType } from '../../../src/adapters/libp2p/rpc-codec.js';

const nodeId = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);

describe('gossip envelope', () => {
  it('round-trips, deflating only when it helps', () => {
    fc.assert(
      fc.property(nodeId, fc.nat(), fc.nat(), fc.uint8Array({ maxLength: 2000 }), fc.boolean(), (node, seq, ts, raw, repetitive) => {
        const body = repetitive ? new Uint8Array(raw.length * 3).fill(7) : raw;
        const bytes = encodeEnvelope({ v: 1, node, seq, ts, body });
        const env = decodeEnvelope(bytes, 1 << 20);
        expect(env).toMatchObject({ v: 1, node, seq, ts });
        expect(Buffer.from(env.body).equals(Buffer.from(body))).toBe(true);
        expect(env.compressed).toBe(bytes[1] === 1);
        if (env.compressed) expect(bytes.byteLength).toBeLessThan(body.byteLength);
      }),
    );
  });

  it('never throws anything but its own errors on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeEnvelope(bytes, 1024);
        } catch (err) {
          expect((err as { code?: string }).code).toMatch(/^ERR_(DECODE|PAYLOAD_TOO_LARGE)$/);
        }
      }),
    );
  });

  it('stops inflating at the limit', () => {
    const head = encodeEnvelope({ v: 1, node: 'n', seq: 1, ts: 1, body: new Uint8Array(0) });
    const bomb = deflateRawSync(new Uint8Array(10 * 1024 * 1024));
    const bytes = new Uint8Array(head.byteLength + bomb.byteLength);
    bytes.set(head);
    bytes[1] = 1;
    bytes.set(bomb, head.byteLength);
    expect(() => decodeEnvelope(bytes, 64 * 1024)).toThrow(expect.objectContaining({ code: 'ERR_PAYLOAD_TOO_LARGE' }));
  });
});

describe('rpc frames and hello', () => {
  it('reassembles frames from any chunking', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ id: fc.nat({ max: 0xffffffff }), payload: fc.uint8Array({ maxLength: 300 }) }), { maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1 }),
        (frames, cuts) => {
          const wire = Buffer.concat(frames.map((f) => encodeFrame(FrameType.Request, f.id, f.payload)));
          const dec = new FrameDecoder(1024);
          const out = [];
          let o = 0;
          for (let i = 0; o < wire.length; i++) {
            const n = cuts[i % cuts.length]!;
            out.push(...dec.push(wire.subarray(o, o + n)));
            o += n;
          }
          expect(out.map((f) => [f.type, f.id, Buffer.from(f.payload).toString('hex')])).toEqual(
            frames.map((f) => [FrameType.Request, f.id, Buffer.from(f.payload).toString('hex')]),
          );
        },
      ),
    );
  });

  it('refuses oversized and malformed frames', () => {
    expect(() => new FrameDecoder(10).push(encodeFrame(FrameType.Request, 1, new Uint8Array(11)))).toThrow(
      expect.objectContaining({ code: 'ERR_PAYLOAD_TOO_LARGE' }),
    );
    const bad = encodeFrame(FrameType.Request, 1, new Uint8Array(1));
    bad[4] = 99;
    expect(() => new FrameDecoder(10).push(bad)).toThrow(expect.objectContaining({ code: 'ERR_DECODE' }));
  });

  it('round-trips hellos and refuses bad ones', () => {
    const hello = { cluster: 'prod', nodeId: 'hv-01', signature: new Uint8Array(64).fill(3) };
    expect(decodeHello(encodeHello(hello))).toEqual(hello);
    expect(() => decodeHello(encodeHello({ ...hello, nodeId: 'bad id' }))).toThrow(expect.objectContaining({ code: 'ERR_DECODE' }));
    expect(() => decodeHello(encodeHello(hello).subarray(0, 10))).toThrow(expect.objectContaining({ code: 'ERR_DECODE' }));
  });
});

describe('replay guard, sequence numbers and bindings', () => {
  it('accepts each seq once, tolerates reordering inside the window, refuses what fell out of it', () => {
    const g = new ReplayGuard(3, 2);
    for (const s of [5, 7, 6]) {
      expect(g.isFresh('a', s)).toBe(true);
      g.accept('a', s);
    }
    expect(g.isFresh('a', 6)).toBe(false);
    g.accept('a', 9); // evicts 5: floor 5
    expect(g.isFresh('a', 5)).toBe(false);
    expect(g.isFresh('a', 8)).toBe(true); // a gap, never seen
    expect(g.isFresh('a', 4)).toBe(false);
    g.accept('b', 1);
    g.accept('c', 1); // evicts origin a (least recently used)
    expect(g.size).toBe(2);
  });

  it('numbers publishes increasingly, also across a restart', () => {
    let now = 1_000;
    const s1 = new SeqCounter(() => now);
    const a = [s1.next(), s1.next(), s1.next()];
    expect(a[1]!).toBeGreaterThan(a[0]!);
    now += 1;
    const restarted = new SeqCounter(() => now);
    expect(restarted.next()).toBeGreaterThan(a[2]!);
  });

  it('binds first come, refuses a second claim either way', () => {
    const b = new NodeBindings({ nodeId: 'me', peerId: 'P0' }, { pinned: 'P9' });
    expect(b.bind('hv-1', 'P1')).toBe('bound');
    expect(b.bind('hv-1', 'P1')).toBe('known');
    expect(b.bind('hv-1', 'P2')).toBe('node-taken');
    expect(b.bind('hv-2', 'P1')).toBe('peer-taken');
    expect(b.bind('me', 'P3')).toBe('node-taken');
    expect(b.bind('pinned', 'P4')).toBe('node-taken');
    expect(b.peerOf('hv-1')).toBe('P1');
    expect(b.nodeOf('P9')).toBe('pinned');
  });
});
