/**
 * The flooding rogue of flood.test.ts, in a process of its own (as an attacker would be: its
 * signing work does not share the victims' event loop). Run by the test with
 * `node --import tsx flood-rogue.ts`, driven over the IPC channel:
 *
 *   parent → {type: 'prepare', psk, count, maxMessageBytes, boundNode}   child → {type: 'prepared', peerId, ms}
 *   parent → {type: 'connect', victims: [{addr, peerId}]}                 child → {type: 'ready', peerId}
 *   parent → {type: 'flood', rate, seconds}                               child → {type: 'done', ...figures}
 *   parent → {type: 'stop'}                                               child exits
 *
 * The messages are signed in advance (`prepare`, while the victims start), so the flood's rate is
 * not bounded by the rogue's signing speed. Every message is unique (a fresh seqno, so gossipsub's
 * seen-cache cannot drop it unvalidated) and is sent to every victim. Kinds, in turn: undecodable
 * (random bytes), wrong binding (an envelope claiming a node id bound to another peer), oversized
 * (a body over the victims' limit), forged (a signature that does not verify). The flood stops at
 * its deadline whatever was sent. A victim that hangs up on the rogue is redialled (at most every
 * 250 ms), as a determined attacker would; the figures say how many messages got through to a
 * victim after it first hung up.
 */
import { randomBytes } from 'node:crypto';
import { encodeEnvelope } from '../../../src/adapters/libp2p/envelope.js';
import { startRawRogue, type RawMessage, type RawRogue } from './helpers.js';

export type FloodKind = 'undecodable' | 'wrong-binding' | 'oversized' | 'forged' | 'valid';
/** The invalid kinds (the default mix). `valid`: a well-formed envelope of the rogue's own node id (`rogue-1`), a fresh seq each (overuse.test.ts). */
export const FLOOD_KINDS: readonly FloodKind[] = ['undecodable', 'wrong-binding', 'oversized', 'forged'];
const ALL_KINDS: readonly FloodKind[] = [...FLOOD_KINDS, 'valid'];

export type ToRogue =
  | { type: 'prepare'; psk: string; count: number; maxMessageBytes: number; boundNode: string; kinds?: FloodKind[] }
  | { type: 'connect'; victims: Array<{ addr: string; peerId: string }> }
  | { type: 'flood'; rate: number; seconds: number }
  | { type: 'stop' };

export type FromRogue =
  | { type: 'prepared'; peerId: string; ms: number }
  | { type: 'ready'; peerId: string }
  | {
      type: 'done';
      /** Messages the schedule produced (each meant for every victim). */
      sent: number;
      byKind: Record<FloodKind, number>;
      elapsedMs: number;
      /** Bytes of message data the schedule produced. */
      bytes: number;
      /** Per victim: messages written into its stream, and messages held back because its stream had to drain. */
      delivered: Record<string, number>;
      heldBack: Record<string, number>;
      lost: Record<string, number>;
      /** Per victim: redials after it hung up, how many failed, and messages sent after it first hung up. */
      redials: Record<string, { tried: number; failed: number; sentAfterHangUp: number }>;
    }
  | { type: 'error'; message: string };

let rogue: RawRogue | undefined;
let victims: string[] = [];
const victimAddrs = new Map<string, string>();
const pool: Array<{ kind: FloodKind; message: RawMessage }> = [];

function reply(m: FromRogue): void {
  process.send?.(m);
}

function build(kind: FloodKind, seq: number, maxMessageBytes: number, boundNode: string): RawMessage {
  switch (kind) {
    case 'undecodable':
      return rogue!.sign(randomBytes(48 + (seq % 128)));
    case 'wrong-binding':
      return rogue!.sign(encodeEnvelope({ v: 1, node: boundNode, seq, ts: Date.now(), body: randomBytes(64) }, { compressAbove: Infinity }));
    case 'oversized':
      return rogue!.sign(encodeEnvelope({ v: 1, node: 'rogue-1', seq, ts: Date.now(), body: randomBytes(maxMessageBytes + 1024) }, { compressAbove: Infinity }));
    case 'forged':
      return rogue!.forge(encodeEnvelope({ v: 1, node: 'rogue-1', seq, ts: Date.now(), body: randomBytes(64) }, { compressAbove: Infinity }));
    case 'valid':
      return rogue!.sign(encodeEnvelope({ v: 1, node: 'rogue-1', seq: Date.now() * 1000 + seq, ts: Date.now(), body: randomBytes(64) }, { compressAbove: Infinity }));
  }
}

async function prepare(count: number, maxMessageBytes: number, boundNode: string, kinds: readonly FloodKind[] = FLOOD_KINDS): Promise<void> {
  for (let i = 0; i < count; i++) {
    const kind = kinds[i % kinds.length]!;
    pool.push({ kind, message: build(kind, i + 1, maxMessageBytes, boundNode) });
    if (i % 500 === 499) await new Promise((r) => setImmediate(r));
  }
}

async function flood(rate: number, seconds: number): Promise<void> {
  const total = Math.min(pool.length, Math.round(rate * seconds));
  const byKind = Object.fromEntries(ALL_KINDS.map((k) => [k, 0])) as Record<FloodKind, number>;
  const delivered: Record<string, number> = Object.fromEntries(victims.map((v) => [v, 0]));
  const heldBack: Record<string, number> = Object.fromEntries(victims.map((v) => [v, 0]));
  const lost: Record<string, number> = Object.fromEntries(victims.map((v) => [v, 0]));
  const redials: Record<string, { tried: number; failed: number; sentAfterHangUp: number }> = Object.fromEntries(
    victims.map((v) => [v, { tried: 0, failed: 0, sentAfterHangUp: 0 }]),
  );
  const lastRedial = new Map<string, number>();
  const redial = (v: string): void => {
    const now = performance.now();
    if (now - (lastRedial.get(v) ?? -Infinity) < 250) return;
    lastRedial.set(v, now);
    redials[v]!.tried++;
    rogue!.dial(victimAddrs.get(v)!).catch(() => redials[v]!.failed++);
  };
  let sent = 0;
  let bytes = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  // Paced in 10 ms ticks: each tick sends what the schedule says is due, as RPCs of at most 500
  // messages (gossipsub decodes at most 5,000 per RPC) to each victim whose stream can take them.
  while (sent < total && performance.now() < deadline) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate)) - sent;
    if (due > 0) {
      const batch = pool.slice(sent, sent + due);
      for (const { kind, message } of batch) {
        byKind[kind]++;
        bytes += message.data?.length ?? 0;
      }
      for (let i = 0; i < batch.length; i += 500) {
        const rpc = batch.slice(i, i + 500).map((b) => b.message);
        for (const v of victims) {
          const r = rogue!.trySend(v, rpc);
          if (r === 'sent') {
            delivered[v]! += rpc.length;
            if (lastRedial.has(v)) redials[v]!.sentAfterHangUp += rpc.length;
          }
          else if (r === 'busy') heldBack[v]! += rpc.length;
          else {
            lost[v]! += rpc.length;
            redial(v);
          }
        }
      }
      sent += due;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, 300)); // the last redials settle
  reply({ type: 'done', sent, byKind, elapsedMs: performance.now() - start, bytes, delivered, heldBack, lost, redials });
}

process.on('message', (m: ToRogue) => {
  void (async () => {
    try {
      if (m.type === 'prepare') {
        const t0 = performance.now();
        rogue = await startRawRogue(Buffer.from(m.psk, 'base64'));
        await prepare(m.count, m.maxMessageBytes, m.boundNode, m.kinds);
        reply({ type: 'prepared', peerId: rogue.peerId, ms: Math.round(performance.now() - t0) });
      } else if (m.type === 'connect') {
        victims = m.victims.map((v) => v.peerId);
        for (const v of m.victims) victimAddrs.set(v.peerId, v.addr);
        for (const v of m.victims) await rogue!.dial(v.addr);
        for (const v of m.victims) await rogue!.ready(v.peerId, 20_000);
        reply({ type: 'ready', peerId: rogue!.peerId });
      } else if (m.type === 'flood') {
        await flood(m.rate, m.seconds);
      } else {
        await rogue?.stop();
        process.exit(0);
      }
    } catch (err) {
      reply({ type: 'error', message: err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err) });
    }
  })();
});
