/**
 * The peer-id rotating rogue of rotation.test.ts, in a process of its own (`node --import tsx
 * rotation-rogue.ts`), driven over IPC:
 *
 *   parent → {type: 'rotate', psk, victims, identities, perIdentity, maxMessageBytes, boundNode}
 *   child  → {type: 'done', identities: [...per identity figures], elapsedMs}
 *   parent → {type: 'stop'}                                             child exits
 *
 * It holds the cluster key and, `identities` times in a row, makes a fresh Ed25519 identity (a bare
 * libp2p node: helpers.ts startRawRogue), connects to every victim, and sends each `perIdentity`
 * invalid gossip messages (undecodable, wrongly bound, oversized in turn; each unique, signed by the
 * fresh identity) in RPCs of 100, respecting backpressure, until they are all sent, the victim hangs
 * up, or 3 s have passed. Then it drops that identity and takes the next. Per identity it reports
 * what it wrote into each victim's stream and how long each victim took to hang up after its first
 * RPC (`containedMs`, absent when it did not).
 */
import { randomBytes } from 'node:crypto';
import { encodeEnvelope } from '../../../src/adapters/libp2p/envelope.js';
import { sleep, startRawRogue, type RawMessage, type RawRogue } from './helpers.js';

export type ToRotationRogue =
  | {
      type: 'rotate';
      psk: string;
      victims: Array<{ addr: string; peerId: string }>;
      identities: number;
      perIdentity: number;
      maxMessageBytes: number;
      boundNode: string;
    }
  | { type: 'stop' };

export interface IdentityFigures {
  readonly peerId: string;
  /** Per victim peer id: messages written into its stream. */
  readonly delivered: Record<string, number>;
  /** Per victim peer id: ms from the first RPC to the victim hanging up (absent: it did not within the time allowed). */
  readonly containedMs: Record<string, number>;
  /** Victims the identity could not reach (dial or gossipsub stream failed). */
  readonly unreachable: string[];
}

export type FromRotationRogue = { type: 'done'; identities: IdentityFigures[]; elapsedMs: number } | { type: 'error'; message: string };

const RPC_SIZE = 100;
const PER_IDENTITY_MS = 3_000;

function build(rogue: RawRogue, i: number, maxMessageBytes: number, boundNode: string): RawMessage {
  switch (i % 3) {
    case 0:
      return rogue.sign(randomBytes(48 + (i % 128)));
    case 1:
      return rogue.sign(encodeEnvelope({ v: 1, node: boundNode, seq: i + 1, ts: Date.now(), body: randomBytes(64) }, { compressAbove: Infinity }));
    default:
      return rogue.sign(encodeEnvelope({ v: 1, node: 'rogue', seq: i + 1, ts: Date.now(), body: randomBytes(maxMessageBytes + 1024) }, { compressAbove: Infinity }));
  }
}

async function oneIdentity(m: Extract<ToRotationRogue, { type: 'rotate' }>, psk: Uint8Array): Promise<IdentityFigures> {
  const rogue = await startRawRogue(psk);
  const delivered: Record<string, number> = {};
  const containedMs: Record<string, number> = {};
  const unreachable: string[] = [];
  try {
    const messages = Array.from({ length: m.perIdentity }, (_, i) => build(rogue, i, m.maxMessageBytes, m.boundNode));
    const reachable: string[] = [];
    await Promise.all(
      m.victims.map(async (v) => {
        try {
          await rogue.dial(v.addr);
          await rogue.ready(v.peerId, 10_000);
          reachable.push(v.peerId);
        } catch {
          unreachable.push(v.peerId);
        }
      }),
    );
    const next = new Map(reachable.map((v) => [v, 0]));
    const firstAt = new Map<string, number>();
    const end = performance.now() + PER_IDENTITY_MS;
    while (next.size > 0 && performance.now() < end) {
      for (const [v, i] of next) {
        if (i >= messages.length) {
          // All sent: wait for the hang-up (or the end) without sending more.
          if (rogue.trySend(v, []) === 'gone') {
            containedMs[v] = performance.now() - firstAt.get(v)!;
            next.delete(v);
          }
          continue;
        }
        const r = rogue.trySend(v, messages.slice(i, i + RPC_SIZE));
        if (r === 'sent') {
          if (!firstAt.has(v)) firstAt.set(v, performance.now());
          delivered[v] = (delivered[v] ?? 0) + Math.min(RPC_SIZE, messages.length - i);
          next.set(v, i + RPC_SIZE);
        } else if (r === 'gone') {
          if (firstAt.has(v)) containedMs[v] = performance.now() - firstAt.get(v)!;
          next.delete(v);
        }
      }
      await sleep(5);
    }
  } finally {
    await rogue.stop();
  }
  return { peerId: rogue.peerId, delivered, containedMs, unreachable };
}

process.on('message', (m: ToRotationRogue) => {
  void (async () => {
    try {
      if (m.type === 'rotate') {
        const psk = Buffer.from(m.psk, 'base64');
        const start = performance.now();
        const identities: IdentityFigures[] = [];
        for (let k = 0; k < m.identities; k++) identities.push(await oneIdentity(m, psk));
        process.send?.({ type: 'done', identities, elapsedMs: performance.now() - start } satisfies FromRotationRogue);
      } else {
        process.exit(0);
      }
    } catch (err) {
      process.send?.({ type: 'error', message: err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err) } satisfies FromRotationRogue);
    }
  })();
});
