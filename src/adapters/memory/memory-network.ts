import { DwcpError } from '../../core/errors.js';
import type { Clock, PeerState, Random, Transport } from '../../replica/ports.js';

export interface MemoryNetworkInit {
  readonly clock: Clock;
  readonly random: Random;
  /** One-way latency range in ms (uniform). */
  readonly latency?: { readonly min: number; readonly max: number };
  /** Probability that a gossip message or request is dropped. */
  readonly loss?: number;
  /** Probability that a gossip message is delivered twice. */
  readonly duplication?: number;
  /** Request timeout (ms) when the peer is unreachable or the message is lost. */
  readonly requestTimeoutMs?: number;
}

export class UnreachableError extends DwcpError {
  constructor(from: string, to: string) {
    super('ERR_UNREACHABLE', `${to} is unreachable from ${from}`, { from, to });
  }
}

interface Endpoint {
  readonly id: string;
  onMessage?: (from: string, payload: Uint8Array) => void;
  onRequest?: (from: string, payload: Uint8Array) => Promise<Uint8Array>;
  readonly peerHandlers: Array<(peer: string, state: PeerState) => void>;
  up: boolean;
}

/**
 * An in-memory network for tests and simulations. Every delivery is a timer on the shared clock,
 * with latency, loss and duplication drawn from the seeded `random`, so a run replays exactly.
 * Links can be cut one way or both ways (`block`), and nodes taken down and up.
 */
export class MemoryNetwork {
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly blocked = new Set<string>();
  readonly clock: Clock;
  private readonly random: Random;
  latency: { min: number; max: number };
  loss: number;
  duplication: number;
  private readonly requestTimeoutMs: number;
  /** Messages and requests sent (for tests and traces). */
  sent = 0;
  delivered = 0;

  constructor(init: MemoryNetworkInit) {
    this.clock = init.clock;
    this.random = init.random;
    this.latency = { min: init.latency?.min ?? 1, max: init.latency?.max ?? 5 };
    this.loss = init.loss ?? 0;
    this.duplication = init.duplication ?? 0;
    this.requestTimeoutMs = init.requestTimeoutMs ?? 1_000;
  }

  /** Attach a node and get its transport. */
  join(id: string): Transport {
    const ep: Endpoint = { id, peerHandlers: [], up: true };
    this.endpoints.set(id, ep);
    for (const other of this.endpoints.values()) {
      if (other.id === id) continue;
      this.notify(other, id, 'up');
      this.notify(ep, other.id, 'up');
    }
    return {
      publish: (payload) => this.publish(id, payload),
      onMessage: (h) => {
        ep.onMessage = h;
      },
      request: (peer, payload, options) => this.request(id, peer, payload, options?.signal),
      onRequest: (h) => {
        ep.onRequest = h;
      },
      onPeer: (h) => {
        ep.peerHandlers.push(h);
      },
      peers: () => [...this.endpoints.values()].filter((e) => e.id !== id && e.up && this.reachable(id, e.id)).map((e) => e.id),
    };
  }

  /** Take a node off the network (crash) or bring it back. */
  setUp(id: string, up: boolean): void {
    const ep = this.endpoints.get(id);
    if (!ep || ep.up === up) return;
    ep.up = up;
    for (const other of this.endpoints.values()) {
      if (other.id !== id && other.up) this.notify(other, id, up ? 'up' : 'down');
    }
  }

  /** Cut the link from `a` to `b` (one way); `both` cuts it both ways. */
  block(a: string, b: string, both = true): void {
    this.blocked.add(`${a}>${b}`);
    if (both) this.blocked.add(`${b}>${a}`);
    this.notifyLink(a, b, 'down');
  }

  unblock(a: string, b: string, both = true): void {
    this.blocked.delete(`${a}>${b}`);
    if (both) this.blocked.delete(`${b}>${a}`);
    this.notifyLink(a, b, 'up');
  }

  /** Split the nodes into groups that cannot reach each other. */
  partition(groups: ReadonlyArray<readonly string[]>): void {
    this.heal();
    for (let i = 0; i < groups.length; i++) {
      for (let j = i + 1; j < groups.length; j++) {
        for (const a of groups[i]!) for (const b of groups[j]!) this.block(a, b);
      }
    }
  }

  heal(): void {
    const links = [...this.blocked];
    this.blocked.clear();
    for (const l of links) {
      const [a, b] = l.split('>') as [string, string];
      this.notifyLink(a, b, 'up');
    }
  }

  reachable(from: string, to: string): boolean {
    const a = this.endpoints.get(from);
    const b = this.endpoints.get(to);
    return !!a && !!b && a.up && b.up && !this.blocked.has(`${from}>${to}`);
  }

  private publish(from: string, payload: Uint8Array): void {
    for (const ep of this.endpoints.values()) {
      if (ep.id === from) continue;
      this.sent++;
      if (!this.reachable(from, ep.id) || this.random.next() < this.loss) continue;
      const copies = this.random.next() < this.duplication ? 2 : 1;
      for (let c = 0; c < copies; c++) {
        this.clock.setTimer(this.delay(), () => {
          if (!this.reachable(from, ep.id)) return;
          this.delivered++;
          ep.onMessage?.(from, payload.slice());
        });
      }
    }
  }

  private request(from: string, to: string, payload: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      let settled = false;
      const settle = (f: () => void): void => {
        if (settled) return;
        settled = true;
        this.clock.clearTimer(timeout);
        f();
      };
      const timeout = this.clock.setTimer(this.requestTimeoutMs, () => settle(() => reject(new UnreachableError(from, to))));
      signal?.addEventListener('abort', () => settle(() => reject(new DwcpError('ERR_ABORTED', `request from ${from} to ${to} aborted`, { from, to }))), { once: true });
      this.sent++;
      if (!this.reachable(from, to) || this.random.next() < this.loss) return;
      const target = this.endpoints.get(to);
      this.clock.setTimer(this.delay(), () => {
        if (!this.reachable(from, to) || !target?.onRequest) return;
        this.delivered++;
        target.onRequest(from, payload.slice()).then(
          (res) => {
            this.clock.setTimer(this.delay(), () => {
              if (this.reachable(to, from)) settle(() => resolve(res));
            });
          },
          (err: unknown) => settle(() => reject(err instanceof Error ? err : new Error(String(err)))),
        );
      });
    });
  }

  private delay(): number {
    const { min, max } = this.latency;
    return min + this.random.next() * (max - min);
  }

  private notifyLink(a: string, b: string, state: PeerState): void {
    const ea = this.endpoints.get(a);
    const eb = this.endpoints.get(b);
    if (ea?.up && eb?.up) {
      this.notify(ea, b, state);
      this.notify(eb, a, state);
    }
  }

  private notify(ep: Endpoint, peer: string, state: PeerState): void {
    for (const h of ep.peerHandlers) h(peer, state);
  }
}
