import '../../support/polyfill.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { gossipsub } from '@libp2p/gossipsub';
import { identify } from '@libp2p/identify';
import { preSharedKey } from '@libp2p/pnet';
import { tcp } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createLibp2pTransport,
  generatePsk,
  gossipTopic,
  type Libp2pTransport,
  type Libp2pTransportComponents,
  type Libp2pTransportInit,
  type RejectReason,
  type TransportLogger,
} from '../../../src/adapters/libp2p/index.js';

export interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly message: string;
  readonly meta?: Record<string, unknown>;
}

/** A logger that keeps what it is told (set DWCP_TEST_LOG=1 to also see warnings on stderr). */
export function memoryLogger(): TransportLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const echo = process.env.DWCP_TEST_LOG === '1';
  const at =
    (level: LogLine['level']) =>
    (message: string, meta?: Record<string, unknown>): void => {
      lines.push({ level, message, ...(meta ? { meta } : {}) });
      if (echo && level !== 'debug') process.stderr.write(`[${level}] ${message} ${meta ? JSON.stringify(meta) : ''}\n`);
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export interface TestNode {
  readonly t: Libp2pTransport;
  readonly log: ReturnType<typeof memoryLogger>;
  readonly received: Array<{ from: string; payload: Uint8Array }>;
  readonly rejections: Array<{ reason: RejectReason; peer: string | undefined }>;
  readonly peerEvents: Array<{ peer: string; state: string }>;
  addr(): string;
}

export const CLUSTER = 'test';

/** Options that keep tests quick: short timeouts and retries. */
export function fastInit(nodeId: string, psk: Uint8Array | undefined, extra: Partial<Libp2pTransportInit> = {}): Libp2pTransportInit {
  return {
    nodeId,
    cluster: CLUSTER,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    ...(psk ? { psk } : {}),
    requestTimeoutMs: 2_000,
    helloTimeoutMs: 2_000,
    dialTimeoutMs: 2_000,
    redialIntervalMs: 300,
    ...extra,
  };
}

/** Creates and starts a transport that records what it receives. */
export async function startNode(
  nodeId: string,
  psk: Uint8Array | undefined,
  extra: Partial<Libp2pTransportInit> = {},
  components: Partial<Libp2pTransportComponents> = {},
): Promise<TestNode> {
  const log = memoryLogger();
  const rejections: TestNode['rejections'] = [];
  const t = createLibp2pTransport(fastInit(nodeId, psk, extra), {
    logger: log,
    onRejected: (reason, peer) => rejections.push({ reason, peer }),
    ...components,
  });
  const received: TestNode['received'] = [];
  const peerEvents: TestNode['peerEvents'] = [];
  t.onMessage((from, payload) => received.push({ from, payload }));
  t.onPeer((peer, state) => peerEvents.push({ peer, state }));
  await t.start();
  return { t, log, received, rejections, peerEvents, addr: () => t.multiaddrs()[0]! };
}

export async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000, stepMs = 20): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
export const str = (b: Uint8Array): string => new TextDecoder().decode(b);

export async function stopAll(nodes: ReadonlyArray<TestNode | undefined>): Promise<void> {
  await Promise.all(nodes.flatMap((n) => (n ? [n.t.stop()] : [])));
}

export async function tempDir(prefix: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `dwcp-${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export { generatePsk };

/**
 * A bare libp2p node with gossipsub on the cluster topic and none of the transport's checks: it
 * publishes whatever bytes a test hands it (forged, oversized, replayed envelopes), signed with its
 * own key — or unsigned with `signaturePolicy: 'StrictNoSign'`.
 */
export interface Rogue {
  readonly peerId: string;
  dial(addr: string): Promise<void>;
  ready(peerId: string): Promise<void>;
  publish(data: Uint8Array): Promise<void>;
  stop(): Promise<void>;
}

export async function startRogue(psk: Uint8Array, opts: { signaturePolicy?: 'StrictSign' | 'StrictNoSign' } = {}): Promise<Rogue> {
  const topic = gossipTopic(CLUSTER);
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionProtector: preSharedKey({ psk }),
    services: {
      identify: identify(),
      pubsub: gossipsub({
        globalSignaturePolicy: opts.signaturePolicy ?? 'StrictSign',
        allowPublishToZeroTopicPeers: true,
        fallbackToFloodsub: false,
        emitSelf: false,
      }),
    },
  });
  node.services.pubsub.subscribe(topic);
  return {
    peerId: node.peerId.toString(),
    dial: async (addr: string) => {
      await node.dial(multiaddr(addr));
    },
    /** Waits until `peerId` knows the rogue's subscription and the rogue can send to it. */
    ready: async (peerId: string) => {
      await waitFor('rogue subscriptions', () => node.services.pubsub.getSubscribers(topic).some((p) => p.toString() === peerId));
      await sleep(100);
    },
    publish: async (data: Uint8Array) => {
      await node.services.pubsub.publish(topic, data);
    },
    stop: async () => {
      await node.stop();
    },
  };
}
