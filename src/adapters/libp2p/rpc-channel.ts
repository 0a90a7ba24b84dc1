import type { Stream } from '@libp2p/interface';
import {
  PeerDisconnectedError,
  RemoteRequestError,
  RequestAbortedError,
  RequestTimeoutError,
  TransportNotStartedError,
} from './errors.js';
import type { TransportLogger } from './logger.js';
import { decodeRemoteError, encodeFrame, encodeRemoteError, FrameDecoder, FrameType, type Frame } from './rpc-codec.js';

/** What a channel needs from the transport that owns it. */
export interface RpcChannelComponents {
  readonly log: TransportLogger;
  /** The signed hello payload this node sends to `remotePeerId`. */
  makeHello(remotePeerId: string): Promise<Uint8Array>;
  /** Checks the remote's hello (signature, cluster, binding) and returns its node id, or undefined to refuse. */
  acceptHello(remotePeerId: string, payload: Uint8Array): Promise<string | undefined>;
  /** The application's request handler, undefined while none is set. */
  requestHandler(): ((from: string, payload: Uint8Array) => Promise<Uint8Array>) | undefined;
  onReady(channel: RpcChannel): void;
  onClose(channel: RpcChannel): void;
}

export interface RpcChannelInit {
  readonly stream: Stream;
  readonly remotePeerId: string;
  /** The side that opened the stream sends its hello first; the other answers with its own. */
  readonly opener: boolean;
  readonly maxFrameBytes: number;
  readonly helloTimeoutMs: number;
  /** Inbound requests handled at once on this channel; more are answered ERR_BUSY. */
  readonly maxInflight: number;
}

interface Pending {
  resolve(payload: Uint8Array): void;
  reject(err: Error): void;
}

type State = 'handshaking' | 'ready' | 'closed';

/**
 * One long-lived rpc stream to a peer, symmetric: either end sends requests on it and answers the
 * other's. Requests carry ids and are multiplexed; responses come back in any order. The first frame
 * each way is a signed hello; nothing else is processed before the remote's hello is accepted.
 */
export class RpcChannel {
  readonly remotePeerId: string;
  readonly opener: boolean;
  remoteNodeId: string | undefined;
  private state: State = 'handshaking';
  private readonly stream: Stream;
  private readonly decoder: FrameDecoder;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private inflight = 0;
  private backlog: Frame[] = [];
  private helloTimer: NodeJS.Timeout | undefined;
  private readonly ready = deferred();
  private readonly c: RpcChannelComponents;
  private readonly init: RpcChannelInit;

  constructor(init: RpcChannelInit, components: RpcChannelComponents) {
    this.init = init;
    this.c = components;
    this.stream = init.stream;
    this.remotePeerId = init.remotePeerId;
    this.opener = init.opener;
    this.decoder = new FrameDecoder(init.maxFrameBytes);
    // A rejection nobody awaits (the channel closed before any request) must not be unhandled.
    this.ready.promise.catch(() => undefined);
  }

  get isReady(): boolean {
    return this.state === 'ready';
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /** Starts reading and, for the opener, sends the hello. */
  start(): void {
    this.stream.addEventListener('message', (evt) => {
      try {
        for (const frame of this.decoder.push(evt.data.subarray())) this.onFrame(frame);
      } catch (err) {
        this.c.log.warn('rpc protocol violation; closing the stream', { peer: this.remotePeerId, error: String(err) });
        this.close(err instanceof Error ? err : new Error(String(err)), true);
      }
    });
    this.stream.addEventListener('close', (evt) => this.close(evt.error ?? new Error('stream closed'), false));
    this.stream.addEventListener('remoteCloseWrite', () => this.close(new Error('remote closed the stream'), false));
    this.helloTimer = setTimeout(() => {
      if (this.state === 'handshaking') {
        this.c.log.warn('no hello on the rpc stream in time; closing it', { peer: this.remotePeerId, ms: this.init.helloTimeoutMs });
        this.close(new Error('hello timeout'), true);
      }
    }, this.init.helloTimeoutMs);
    this.helloTimer.unref();
    if (this.opener) this.sendHello();
  }

  /** Resolves when the remote's hello is accepted; rejects if the channel closes first. */
  whenReady(): Promise<void> {
    return this.ready.promise;
  }

  /**
   * Sends a request and resolves with the response. `timeoutMs` counts from now; `signal` aborts.
   * The caller has checked `isReady` or awaited `whenReady`.
   */
  request(payload: Uint8Array, timeoutMs: number, signal: AbortSignal | undefined, nodeId: string): Promise<Uint8Array> {
    if (this.state === 'closed') return Promise.reject(new PeerDisconnectedError(nodeId));
    if (signal?.aborted) return Promise.reject(new RequestAbortedError(nodeId, 'caller', { cause: signal.reason }));
    const id = this.allocateId();
    return new Promise<Uint8Array>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.pending.delete(id);
      };
      const onAbort = (): void => {
        done();
        reject(new RequestAbortedError(nodeId, 'caller', { cause: signal?.reason }));
      };
      const timer = setTimeout(() => {
        done();
        reject(new RequestTimeoutError(nodeId, timeoutMs));
      }, timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        resolve: (p) => {
          done();
          resolve(p);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      this.send(FrameType.Request, id, payload);
    });
  }

  /** Closes the stream; pending requests fail with `err` (or PeerDisconnectedError). */
  close(err?: Error, abort = false, stopped = false): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.helloTimer);
    const node = this.remoteNodeId ?? this.remotePeerId;
    for (const [, p] of this.pending) {
      p.reject(stopped ? new RequestAbortedError(node, 'stopped') : new PeerDisconnectedError(node, { cause: err }));
    }
    this.pending.clear();
    this.backlog = [];
    this.ready.reject(stopped ? new TransportNotStartedError('send a request') : new PeerDisconnectedError(node, { cause: err }));
    if (abort) {
      this.stream.abort(err ?? new Error('rpc channel closed'));
    } else if (this.stream.status === 'open') {
      this.stream.close().catch(() => this.stream.abort(new Error('rpc channel close failed')));
    }
    this.c.onClose(this);
  }

  private allocateId(): number {
    let id = this.nextId;
    while (this.pending.has(id)) id = (id % 0xffff_fffe) + 1;
    this.nextId = (id % 0xffff_fffe) + 1;
    return id;
  }

  private sendHello(): void {
    this.c.makeHello(this.remotePeerId).then(
      (payload) => this.send(FrameType.Hello, 0, payload),
      (err: unknown) => this.close(err instanceof Error ? err : new Error(String(err)), true),
    );
  }

  private send(type: FrameType, id: number, payload: Uint8Array): void {
    if (this.state === 'closed') return;
    try {
      this.stream.send(encodeFrame(type, id, payload));
    } catch (err) {
      this.close(err instanceof Error ? err : new Error(String(err)), true);
    }
  }

  private onFrame(frame: Frame): void {
    if (this.state === 'closed') return;
    if (this.state === 'handshaking') {
      // backlog[0] is the remote's hello while it is being checked; later frames wait behind it.
      if (this.backlog.length === 0) {
        if (frame.type !== FrameType.Hello) throw new Error(`frame type ${frame.type} before the hello`);
        this.backlog.push(frame);
        void this.onHello(frame.payload);
      } else {
        this.backlog.push(frame);
        if (this.backlog.length > 1024) throw new Error('too many frames before the hello was accepted');
      }
      return;
    }
    this.dispatch(frame);
  }

  private async onHello(payload: Uint8Array): Promise<void> {
    let nodeId: string | undefined;
    try {
      nodeId = await this.c.acceptHello(this.remotePeerId, payload);
    } catch (err) {
      this.c.log.warn('hello check failed', { peer: this.remotePeerId, error: String(err) });
    }
    if (this.state === 'closed') return;
    if (nodeId === undefined) {
      this.close(new Error('hello refused'), true);
      return;
    }
    this.remoteNodeId = nodeId;
    if (!this.opener) this.sendHello();
    this.state = 'ready';
    clearTimeout(this.helloTimer);
    const queued = this.backlog.slice(1);
    this.backlog = [];
    this.ready.resolve();
    this.c.onReady(this);
    for (const f of queued) {
      if (this.state !== 'ready') return;
      if (f.type === FrameType.Hello) {
        this.close(new Error('a second hello'), true);
        return;
      }
      this.dispatch(f);
    }
  }

  private dispatch(frame: Frame): void {
    switch (frame.type) {
      case FrameType.Request:
        this.serve(frame.id, frame.payload);
        return;
      case FrameType.Response:
        this.pending.get(frame.id)?.resolve(frame.payload);
        return;
      case FrameType.Error: {
        const p = this.pending.get(frame.id);
        if (p) {
          const { code, message } = decodeRemoteError(frame.payload);
          p.reject(new RemoteRequestError(this.remoteNodeId ?? this.remotePeerId, code, message));
        }
        return;
      }
      case FrameType.Hello:
        throw new Error('a second hello');
    }
  }

  private serve(id: number, payload: Uint8Array): void {
    const handler = this.c.requestHandler();
    const from = this.remoteNodeId!;
    if (!handler) {
      this.send(FrameType.Error, id, encodeRemoteError('ERR_NO_HANDLER', 'no request handler is registered'));
      return;
    }
    if (this.inflight >= this.init.maxInflight) {
      this.send(FrameType.Error, id, encodeRemoteError('ERR_BUSY', `more than ${this.init.maxInflight} requests in flight`));
      return;
    }
    this.inflight++;
    let result: Promise<Uint8Array>;
    try {
      result = handler(from, payload);
    } catch (err) {
      result = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    result.then(
      (response) => {
        this.inflight--;
        this.send(FrameType.Response, id, response);
      },
      (err: unknown) => {
        this.inflight--;
        const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'ERR_HANDLER';
        this.send(FrameType.Error, id, encodeRemoteError(code, err instanceof Error ? err.message : String(err)));
      },
    );
  }
}

function deferred(): { promise: Promise<void>; resolve(): void; reject(err: Error): void } {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
