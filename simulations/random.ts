/**
 * Independent, named random streams derived from one seed. Every purpose (a network link, a node's
 * Paxos backoff, the workload, the initial clock skews) draws from its own stream, so adding a node,
 * a link or a fault does not perturb the draws anyone else makes: a change to a scenario changes only
 * what it touches, and a seed replays exactly.
 */
import { SeededRandom } from '../src/adapters/memory/seeded-random.js';

/** FNV-1a (32 bit) of a string: stable across machines and Node versions. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** FNV-1a (32 bit) of bytes, as 8 hex digits (used to fingerprint message payloads in traces). */
export function fnv1aBytes(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** The seed of the stream named `label` under the run seed `seed` (a 32-bit integer). */
export function deriveSeed(seed: number, label: string): number {
  // splitmix32 finaliser over (seed, label hash): nearby seeds and similar labels give unrelated streams.
  let z = (Math.imul(seed >>> 0, 0x9e3779b1) ^ fnv1a(label)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class RandomStreams {
  private readonly streams = new Map<string, SeededRandom>();

  constructor(readonly seed: number) {}

  /** The stream for `label` (created on first use; the same label always gives the same stream). */
  get(label: string): SeededRandom {
    let s = this.streams.get(label);
    if (!s) {
      s = new SeededRandom(deriveSeed(this.seed, label));
      this.streams.set(label, s);
    }
    return s;
  }

  /** A fresh generator for `label`, independent of the cached one (e.g. per node incarnation). */
  fresh(label: string): SeededRandom {
    return new SeededRandom(deriveSeed(this.seed, label));
  }
}
