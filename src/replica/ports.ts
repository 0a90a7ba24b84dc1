/**
 * The replica's view of the world. The replica imports nothing but these interfaces (and the pure
 * core): production adapters (libp2p, LevelDB, system time, hypervisor drivers) and simulated ones
 * (SimNetwork, MemoryStore, SimClock, fake hypervisor, seeded PRNG) implement them.
 */

/** The sublevels of the durable store (ARCHITECTURE.md, "Durability"). */
export const SUBLEVELS = [
  'versions', // resource id → version set
  'history', // resource id + seq → ancestor version copied from a store of an earlier release (bounded); history is otherwise read from the audit log
  'audit', // sequence → hash-chained audit entry
  'checkpoints', // checkpoint id → checkpoint
  'pending', // conflict id → pending conflict
  'paxos', // decision key → acceptor state
  'leases', // vm id → ownership lease
  'identity', // node identity
  'meta', // metadata (schema version, counters)
  'conflicts', // conflict id → conflict record (status, decision)
  'quarantine', // sublevel/key → undecodable record, kept for an operator
] as const;
export type Sublevel = (typeof SUBLEVELS)[number];

export interface StoreOp {
  readonly type: 'put' | 'del';
  readonly sublevel: Sublevel;
  readonly key: string;
  readonly value?: Uint8Array;
}

export interface RangeOptions {
  readonly gte?: string;
  readonly lt?: string;
  readonly reverse?: boolean;
  readonly limit?: number;
}

export interface StoreEntry {
  readonly key: string;
  readonly value: Uint8Array;
}

export interface WriteOptions {
  /**
   * Default true: the write is on disk (fsync) when its promise resolves. False: it is applied and
   * readable in order with every other write and survives a crash of the process, but may be lost
   * with the machine (power, kernel) until a later synced write or the store's own flushes make it
   * durable (LevelDB: a sync covers its current log file; a log the store has just switched away from
   * becomes durable once compacted, so a machine crash in that window can lose unsynced writes older
   * than a synced one). For state that can be fetched again (remote versions).
   */
  readonly sync?: boolean;
}

/**
 * A durable, ordered key-value store. `write` is atomic and durable when its promise resolves
 * (LevelDB: one synced batch, concurrent writes group-committed into one fsync), unless it asks
 * for `sync: false`.
 */
export interface Store {
  open(): Promise<void>;
  close(): Promise<void>;
  get(sublevel: Sublevel, key: string): Promise<Uint8Array | undefined>;
  write(ops: readonly StoreOp[], options?: WriteOptions): Promise<void>;
  range(sublevel: Sublevel, options?: RangeOptions): AsyncIterable<StoreEntry>;
}

/** Time and timers. The replica never reads `Date.now()` directly. */
export interface Clock {
  /** Milliseconds since the epoch (simulated clocks may be skewed per node). */
  now(): number;
  setTimer(delayMs: number, fn: () => void): TimerHandle;
  clearTimer(handle: TimerHandle): void;
  /** A monotonic, sub-millisecond time for measuring durations (defaults to `now()`). */
  monotonic?(): number;
}

export interface TimerHandle {
  readonly id: number;
}

/** What the agent can do to VMs on its own host. */
export interface Hypervisor {
  /** Stop a VM that this host must not run (fencing after a split-brain decision or lease loss). */
  fence(vmId: string, reason: string): Promise<void>;
  start(vmId: string): Promise<void>;
  stop(vmId: string): Promise<void>;
}

/** Deterministic in simulation (seeded), crypto-backed in production. */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
}

/** Peer liveness as the failure detector sees it. */
export type PeerState = 'up' | 'suspect' | 'down';

/**
 * Messaging between replicas. `publish` is best-effort gossip to every peer; `request` is a
 * request/response exchange with one peer, with a timeout and abort signal.
 */
export interface Transport {
  publish(payload: Uint8Array): void;
  onMessage(handler: (from: string, payload: Uint8Array) => void): void;
  request(peer: string, payload: Uint8Array, options?: { signal?: AbortSignal }): Promise<Uint8Array>;
  onRequest(handler: (from: string, payload: Uint8Array) => Promise<Uint8Array>): void;
  onPeer(handler: (peer: string, state: PeerState) => void): void;
  peers(): readonly string[];
}
