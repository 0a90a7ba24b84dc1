import { Buffer } from 'node:buffer';
import { sha256Hex } from '../core/codec/canonical.js';
import type { Version } from '../core/conflict/version.js';

/** Number of hash buckets the version sets are summarised into for anti-entropy. */
export const DEFAULT_BUCKETS = 1024;

/**
 * 64-bit hash of a resource's version set (hex), independent of order: the first 16 hex digits of
 * SHA-256(resource id + "\n" + the sorted version ids joined by ","). Returned as a flat copy: a
 * slice of the 64-digit digest would keep all of it alive, and a hash is kept per resource. (Hex
 * strings rather than a hash Buffer per call: with those, the RSS after loading 100,000 VMs came out
 * a few MB higher.)
 */
export function setHash(resourceId: string, versions: readonly Version[]): string {
  const ids = versions.length === 1 ? versions[0]!.id : versions.map((v) => v.id).sort().join(',');
  return Buffer.from(sha256Hex(resourceId + '\n' + ids).slice(0, 16), 'latin1').toString('latin1');
}

/**
 * A summary of every version set in hash buckets: bucket = hash(resource id) mod B, bucket digest =
 * XOR of its resources' set hashes, maintained incrementally on every change. Two replicas with equal
 * bucket digests hold equal version sets (up to 64-bit collisions); where buckets differ, only those
 * buckets' resource hashes are exchanged, never all states.
 *
 * Per resource it keeps a map entry (resource id → slot), the set hash as two 32-bit words in typed
 * arrays at that slot, and the id in its bucket's list (a hex string per resource and a Set per
 * bucket cost about 45 bytes more per resource: 4.4 MB of heap with 100,000 VMs loaded).
 */
export class DigestIndex {
  private readonly hi: Uint32Array;
  private readonly lo: Uint32Array;
  /** Resource id → its slot in hashHi/hashLo. */
  private readonly slots = new Map<string, number>();
  private hashHi = new Uint32Array(MIN_SLOTS);
  private hashLo = new Uint32Array(MIN_SLOTS);
  /** Slots handed out so far; freed ones are reused first. */
  private slotCount = 0;
  private readonly freeSlots: number[] = [];
  /** Each bucket's resources, in the order they were added. */
  private readonly members: string[][];

  constructor(readonly buckets = DEFAULT_BUCKETS) {
    this.hi = new Uint32Array(buckets);
    this.lo = new Uint32Array(buckets);
    this.members = Array.from({ length: buckets }, () => []);
  }

  /** The first 32 bits of SHA-256(resource id), big-endian, mod the bucket count. */
  bucketOf(resourceId: string): number {
    return parseInt(sha256Hex(resourceId).slice(0, 8), 16) % this.buckets;
  }

  /** Record a resource's new set hash (16 lowercase hex digits, as {@link setHash} gives; undefined: the resource has no versions). */
  set(resourceId: string, hash: string | undefined): void {
    let h = 0;
    let l = 0;
    if (hash !== undefined) {
      h = hexWord(hash, 0);
      l = hexWord(hash, 8);
      if (h < 0 || l < 0 || hash.length !== 16) throw new TypeError(`set hash must be 16 lowercase hex digits, got ${JSON.stringify(hash)}`);
    }
    const b = this.bucketOf(resourceId);
    let slot = this.slots.get(resourceId);
    if (slot !== undefined) this.xor(b, this.hashHi[slot]!, this.hashLo[slot]!);
    if (hash === undefined) {
      if (slot === undefined) return;
      this.slots.delete(resourceId);
      this.freeSlots.push(slot);
      const list = this.members[b]!;
      list.splice(list.indexOf(resourceId), 1);
      return;
    }
    this.xor(b, h, l);
    if (slot === undefined) {
      slot = this.freeSlots.pop() ?? this.newSlot();
      this.slots.set(resourceId, slot);
      this.members[b]!.push(resourceId);
    }
    this.hashHi[slot] = h;
    this.hashLo[slot] = l;
  }

  hashOf(resourceId: string): string | undefined {
    const slot = this.slots.get(resourceId);
    return slot === undefined ? undefined : hex8(this.hashHi[slot]!) + hex8(this.hashLo[slot]!);
  }

  /** The bucket digests as hex strings. */
  summary(): string[] {
    const out = new Array<string>(this.buckets);
    for (let i = 0; i < this.buckets; i++) out[i] = hex8(this.hi[i]!) + hex8(this.lo[i]!);
    return out;
  }

  /** Indexes of buckets whose digest differs from `other` (a summary of the same size). */
  differing(other: readonly string[]): number[] {
    const mine = this.summary();
    const out: number[] = [];
    for (let i = 0; i < this.buckets; i++) if (mine[i] !== other[i]) out.push(i);
    return out;
  }

  /** Resource → set hash for the given buckets. */
  entries(buckets: readonly number[]): Record<string, string> {
    const out: Record<string, string> = {};
    for (const b of buckets) for (const r of this.members[b] ?? []) out[r] = this.hashOf(r)!;
    return out;
  }

  resourcesIn(bucket: number): Iterable<string> {
    return this.members[bucket] ?? [];
  }

  private newSlot(): number {
    if (this.slotCount === this.hashHi.length) {
      const hi = new Uint32Array(this.hashHi.length * 2);
      const lo = new Uint32Array(this.hashLo.length * 2);
      hi.set(this.hashHi);
      lo.set(this.hashLo);
      this.hashHi = hi;
      this.hashLo = lo;
    }
    return this.slotCount++;
  }

  private xor(b: number, h: number, l: number): void {
    this.hi[b] = (this.hi[b]! ^ h) >>> 0;
    this.lo[b] = (this.lo[b]! ^ l) >>> 0;
  }
}

const MIN_SLOTS = 64;

/** The 32-bit number of 8 lowercase hex digits at `at`, or -1. */
function hexWord(s: string, at: number): number {
  let n = 0;
  for (let i = at; i < at + 8; i++) {
    const c = s.charCodeAt(i);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (d < 0) return -1;
    n = n * 16 + d;
  }
  return n;
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}
