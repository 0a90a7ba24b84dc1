import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { fixXsalsa20 } from '../../../src/adapters/libp2p/xsalsa20-fix.js';

type Cipher = { update(input: Uint8Array): Uint8Array; finalize(): void; _xor: { _memory: Uint8Array } };
type Factory = (nonce: Uint8Array, key: Uint8Array) => Cipher;

/** A fresh, unshared copy of the `xsalsa20` module pnet uses (its own WebAssembly memory and prototype). */
function freshXsalsa20(): Factory {
  const req = createRequire(import.meta.resolve('@libp2p/pnet'));
  const path = req.resolve('xsalsa20');
  const cached = req.cache[path];
  delete req.cache[path];
  try {
    return req('xsalsa20') as Factory;
  } finally {
    if (cached) req.cache[path] = cached;
  }
}

const nonce = (n: number): Uint8Array => new Uint8Array(24).fill(n);
const KEY = new Uint8Array(32).fill(7);

/** 40 ciphers (20 connections); one reads 2 MB, then every cipher reads small chunks, `rounds` times. */
function connections(factory: Factory, rounds: number): { grownBytes: number; outputs: Uint8Array[][] } {
  const ciphers = Array.from({ length: 40 }, (_, i) => factory(nonce(i), KEY));
  const outputs: Uint8Array[][] = ciphers.map(() => []);
  ciphers.forEach((c, i) => outputs[i]!.push(c.update(new Uint8Array(1000).fill(i))));
  outputs[0]!.push(ciphers[0]!.update(new Uint8Array(2_000_000).fill(1)));
  const afterBig = ciphers[0]!._xor._memory.buffer.byteLength;
  for (let r = 0; r < rounds; r++) ciphers.forEach((c, i) => outputs[i]!.push(c.update(new Uint8Array(100).fill(r))));
  const now = Math.max(...ciphers.map((c) => c._xor._memory.buffer.byteLength));
  return { grownBytes: now - afterBig, outputs };
}

describe('xsalsa20 (pnet cipher) memory growth fix', () => {
  it('without the fix: stale views grow the shared memory again and again (the crash)', () => {
    const { grownBytes } = connections(freshXsalsa20(), 3);
    // Each of the 39 other ciphers grew it by at least a page, and again after each other's growth.
    expect(grownBytes).toBeGreaterThanOrEqual(39 * 65536);
  });

  it('with the fix: no growth beyond what the data needs, over many rounds', () => {
    const factory = freshXsalsa20();
    expect(fixXsalsa20(factory)).toBe(true);
    expect(fixXsalsa20(factory)).toBe(true); // idempotent
    const { grownBytes } = connections(factory, 300);
    expect(grownBytes).toBe(0);
  });

  it('with the fix: every stream is the same as with one cipher alone (no bytes changed)', () => {
    const fixed = freshXsalsa20();
    fixXsalsa20(fixed);
    const { outputs } = connections(fixed, 5);
    // Reference: each cipher's stream computed on its own, in a module where nothing else runs.
    for (const i of [0, 1, 17, 39]) {
      const alone = freshXsalsa20()(nonce(i), KEY);
      const inputs = [new Uint8Array(1000).fill(i), ...(i === 0 ? [new Uint8Array(2_000_000).fill(1)] : []), ...Array.from({ length: 5 }, (_, r) => new Uint8Array(100).fill(r))];
      const expected = inputs.map((b) => alone.update(b));
      expect(Buffer.concat(outputs[i]!).equals(Buffer.concat(expected))).toBe(true);
    }
  });

  it('is installed on the module pnet loads when the transport is imported', async () => {
    await import('../../../src/adapters/libp2p/transport.js');
    const req = createRequire(import.meta.resolve('@libp2p/pnet'));
    const shared = req('xsalsa20') as Factory;
    const c = shared(nonce(1), KEY);
    expect((Object.getPrototypeOf(c._xor) as Record<symbol, unknown>)[Symbol.for('dwcp.xsalsa20-realloc-fixed')]).toBe(true);
  });
});
