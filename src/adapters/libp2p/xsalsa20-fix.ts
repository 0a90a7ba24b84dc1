/**
 * Fix for a crash in `xsalsa20` 1.2.0, the cipher of `@libp2p/pnet` (the private network).
 *
 * Its WebAssembly variant keeps one shared `WebAssembly.Memory`, and each cipher instance (two per
 * connection) caches a `Uint8Array` view of it. When the memory grows, every other instance's view is
 * detached (length 0), and that instance's next `update` sees `top >= 0` and grows the memory again,
 * by at least a page, detaching everyone else's view: with several connections busy, nearly every
 * update grows the memory by 64 KiB, until `WebAssembly.Memory.grow(): Maximum memory size exceeded`
 * is thrown from a socket's data handler and the agent dies. A read larger than the memory (about
 * 640 KB at start; an anti-entropy transfer) is enough to start it. Seen here under the 10-agent
 * gossip benchmark; reproduced in test/unit/adapters/xsalsa20-fix.test.ts.
 *
 * The fix, installed once on the module instance `@libp2p/pnet` loads: `realloc` first refreshes a
 * detached view (grow by 0 pages), then grows only what the data needs. Stream output is unchanged.
 */
import { createRequire } from 'node:module';

interface WasmXor {
  _memory: Uint8Array;
  realloc(size: number): void;
}

interface XSalsa20Instance {
  _xor: WasmXor | object | null;
  finalize(): void;
}

type XSalsa20Factory = (nonce: Uint8Array, key: Uint8Array) => XSalsa20Instance;

const FIXED = Symbol.for('dwcp.xsalsa20-realloc-fixed');

/** The `xsalsa20` module as `@libp2p/pnet` resolves it (the same instance, so the same prototype). */
function loadXsalsa20(): XSalsa20Factory {
  const pnetEntry = import.meta.resolve('@libp2p/pnet');
  return createRequire(pnetEntry)('xsalsa20') as XSalsa20Factory;
}

/**
 * Install the fix on `factory` (default: the module pnet uses). Returns whether the WebAssembly
 * variant was found and is now fixed (false: pure-JS fallback in use, nothing to fix).
 */
export function fixXsalsa20(factory: XSalsa20Factory = loadXsalsa20()): boolean {
  const probe = factory(new Uint8Array(24), new Uint8Array(32));
  const xor = probe._xor;
  const proto = xor === null ? null : (Object.getPrototypeOf(xor) as Partial<WasmXor> & Record<symbol, unknown>);
  probe.finalize(); // gives the probe's slot back
  if (!proto || typeof proto.realloc !== 'function' || !('_memory' in (xor as object))) return false;
  if (proto[FIXED] === true) return true;
  const realloc = proto.realloc;
  proto.realloc = function (this: WasmXor, size: number): void {
    // A detached view has length 0: the original then grows |0 - 0| = 0 pages and takes a fresh view.
    if (this._memory.length === 0) realloc.call(this, 0);
    if (size >= this._memory.length) realloc.call(this, size);
  };
  proto[FIXED] = true;
  return true;
}

fixXsalsa20();
