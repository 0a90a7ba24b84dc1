/** vitest `setupFiles` entry: `Promise.withResolvers` for Node 20, before any test loads libp2p. */
import '../../src/adapters/libp2p/polyfill.js';
