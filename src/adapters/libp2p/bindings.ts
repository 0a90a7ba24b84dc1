/**
 * The node id ↔ peer id binding. Node ids are short configured names; peer ids are the hashes of the
 * peers' Ed25519 keys. A node id belongs to the first peer that proves it holds it (a signed hello,
 * or the first valid signed gossip), or to the peer configured for it; after that, another peer
 * claiming the same node id is refused, and a peer cannot switch to another node id. Bindings live
 * as long as the transport: a peer that disconnects keeps its node id, so nobody can take it over
 * while it is away.
 */
export type BindOutcome =
  /** A new binding was recorded. */
  | 'bound'
  /** This exact binding existed already. */
  | 'known'
  /** The node id is bound to another peer (a second peer claiming an existing node id). */
  | 'node-taken'
  /** The peer is bound to another node id. */
  | 'peer-taken';

export class NodeBindings {
  private readonly peerByNode = new Map<string, string>();
  private readonly nodeByPeer = new Map<string, string>();

  constructor(self: { readonly nodeId: string; readonly peerId: string }, pinned: Readonly<Record<string, string>> = {}) {
    this.bind(self.nodeId, self.peerId);
    for (const [nodeId, peerId] of Object.entries(pinned)) this.bind(nodeId, peerId);
  }

  bind(nodeId: string, peerId: string): BindOutcome {
    const owner = this.peerByNode.get(nodeId);
    if (owner !== undefined) return owner === peerId ? 'known' : 'node-taken';
    if (this.nodeByPeer.has(peerId)) return 'peer-taken';
    this.peerByNode.set(nodeId, peerId);
    this.nodeByPeer.set(peerId, nodeId);
    return 'bound';
  }

  /** What `bind` would answer, without recording anything. */
  check(nodeId: string, peerId: string): BindOutcome {
    const owner = this.peerByNode.get(nodeId);
    if (owner !== undefined) return owner === peerId ? 'known' : 'node-taken';
    return this.nodeByPeer.has(peerId) ? 'peer-taken' : 'bound';
  }

  peerOf(nodeId: string): string | undefined {
    return this.peerByNode.get(nodeId);
  }

  nodeOf(peerId: string): string | undefined {
    return this.nodeByPeer.get(peerId);
  }

  /** Every binding, this node's included: node id → peer id. */
  entries(): Array<[nodeId: string, peerId: string]> {
    return [...this.peerByNode.entries()];
  }
}
