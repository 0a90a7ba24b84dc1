/**
 * Anti-entropy: on every (re)connection and periodically, a replica and one peer compare the
 * hash-bucket digests of their version sets and exchange exactly the resources that differ, both
 * ways, in two round trips. Gossip is fast but lossy; this is what makes convergence certain.
 *
 *   A → B  ae-digest   {buckets}                      B → A  {buckets: differing, entries: {res: hash}}
 *   A → B  ae-exchange {want: [res], versions: A's}   B applies, then → A {versions: B's (merged)}
 */
import { versionFromJSON, versionToJSON, type Version, type VersionJSON } from '../core/conflict/version.js';
import { DwcpError } from '../core/errors.js';
import { BadMessageError } from './errors.js';
import type { Clock, Random, TimerHandle, Transport } from './ports.js';
import type { Replica } from './replica.js';
import type { RpcRouter } from './rpc.js';

export interface AntiEntropyOptions {
  /** Period of the background round with one random peer (ms; 0 disables it). */
  readonly intervalMs?: number;
  /** Most resources exchanged in one ae-exchange request; larger differences take several. */
  readonly maxResourcesPerExchange?: number;
}

export interface AntiEntropyComponents {
  readonly replica: Replica;
  readonly rpc: RpcRouter;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly random: Random;
  readonly onRound?: (r: SyncResult) => void;
}

export interface SyncResult {
  readonly peer: string;
  /** Resources whose version sets differed. */
  readonly resources: number;
  readonly versionsSent: number;
  readonly versionsReceived: number;
  /** Request and response bodies, in bytes (JSON). */
  readonly bytes: number;
}

export class AntiEntropy {
  private timer: TimerHandle | undefined;
  private running = false;
  private readonly inFlight = new Map<string, Promise<SyncResult>>();
  private readonly intervalMs: number;
  private readonly maxPerExchange: number;

  constructor(
    options: AntiEntropyOptions,
    private readonly c: AntiEntropyComponents,
  ) {
    this.intervalMs = options.intervalMs ?? 5_000;
    this.maxPerExchange = options.maxResourcesPerExchange ?? 500;
    c.rpc.handle('ae-digest', (_from, body) => this.onDigest(body));
    c.rpc.handle('ae-exchange', (from, body) => this.onExchange(from, body));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.c.transport.onPeer((peer, state) => {
      if (this.running && state === 'up') this.syncInBackground(peer);
    });
    this.schedule();
  }

  stop(): void {
    this.running = false;
    if (this.timer) this.c.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  /** One anti-entropy session with `peer` (concurrent calls for one peer share a session). */
  syncWith(peer: string, signal?: AbortSignal): Promise<SyncResult> {
    const existing = this.inFlight.get(peer);
    if (existing) return existing;
    const p = this.session(peer, signal).finally(() => this.inFlight.delete(peer));
    this.inFlight.set(peer, p);
    return p;
  }

  private syncInBackground(peer: string): void {
    this.syncWith(peer).then(
      (r) => this.c.onRound?.(r),
      () => undefined, // unreachable peers are retried by the next round
    );
  }

  private async session(peer: string, signal?: AbortSignal): Promise<SyncResult> {
    const { replica, rpc } = this.c;
    const summary = replica.digest.summary();
    let bytes = summary.length * 17;
    const diff = await rpc.call<{ buckets: number[]; entries: Record<string, string> }>(peer, 'ae-digest', { buckets: summary }, signal);
    if (!Array.isArray(diff.buckets) || typeof diff.entries !== 'object' || diff.entries === null) {
      throw new BadMessageError(`malformed ae-digest reply from ${peer}`);
    }
    bytes += JSON.stringify(diff).length;
    const differing = new Set<string>();
    for (const [res, hash] of Object.entries(diff.entries)) if (replica.digest.hashOf(res) !== hash) differing.add(res);
    for (const b of diff.buckets) {
      if (!Number.isInteger(b) || b < 0 || b >= replica.digest.buckets) continue;
      for (const res of replica.digest.resourcesIn(b)) if (diff.entries[res] === undefined) differing.add(res);
    }
    const all = [...differing].sort();
    let sent = 0;
    let received = 0;
    for (let i = 0; i < all.length; i += this.maxPerExchange) {
      const want = all.slice(i, i + this.maxPerExchange);
      const mine = want.flatMap((r) => replica.versionsOf(r)).map(versionToJSON);
      const req = { want, versions: mine };
      const res = await rpc.call<{ versions: VersionJSON[] }>(peer, 'ae-exchange', req, signal);
      bytes += JSON.stringify(req).length + JSON.stringify(res).length;
      const theirs = decodeVersions(res.versions, peer);
      sent += mine.length;
      received += theirs.length;
      await replica.applyRemote(peer, theirs);
    }
    const result = { peer, resources: all.length, versionsSent: sent, versionsReceived: received, bytes };
    return result;
  }

  private onDigest(body: Record<string, unknown>): { buckets: number[]; entries: Record<string, string> } {
    const theirs = body.buckets;
    const digest = this.c.replica.digest;
    if (!Array.isArray(theirs) || theirs.length !== digest.buckets || !theirs.every((x) => typeof x === 'string')) {
      throw new BadMessageError(`ae-digest needs ${digest.buckets} bucket digests`);
    }
    const buckets = digest.differing(theirs);
    return { buckets, entries: digest.entries(buckets) };
  }

  private async onExchange(from: string, body: Record<string, unknown>): Promise<{ versions: VersionJSON[] }> {
    const { want } = body;
    if (!Array.isArray(want) || !want.every((x) => typeof x === 'string') || want.length > this.maxPerExchange * 2) {
      throw new BadMessageError('ae-exchange.want must be an array of resource ids');
    }
    let incoming: Version[];
    try {
      incoming = decodeVersions(body.versions, from);
    } catch (err) {
      this.c.replica.recordRejection(from, err);
      throw err;
    }
    await this.c.replica.applyRemote(from, incoming);
    return { versions: (want).flatMap((r) => this.c.replica.versionsOf(r)).map(versionToJSON) };
  }

  private schedule(): void {
    if (this.intervalMs <= 0 || !this.running) return;
    this.timer = this.c.clock.setTimer(this.intervalMs, () => {
      this.timer = undefined;
      const peers = this.c.transport.peers();
      if (peers.length > 0) this.syncInBackground(peers[this.c.random.int(peers.length)]!);
      this.schedule();
    });
  }
}

function decodeVersions(list: unknown, from: string): Version[] {
  if (!Array.isArray(list)) throw new BadMessageError(`versions from ${from} must be an array`);
  return list.map((v: unknown, i) => {
    try {
      return versionFromJSON(v, `versions[${i}]`);
    } catch (err) {
      if (err instanceof DwcpError) throw new BadMessageError(`version from ${from}: ${err.message}`, { cause: err.code });
      throw err;
    }
  });
}
