/**
 * The production Transport: libp2p (TCP, noise, yamux, pnet, gossipsub StrictSign, a multiplexed
 * request/response protocol), its identity and key files, and a fault shim for tests.
 */
import './polyfill.js';

export { createLibp2pTransport, Libp2pTransport } from './transport.js';
export {
  gossipTopic,
  REJECT_REASONS,
  BAN_REASONS,
  RPC_PROTOCOL,
  transportDefaults,
  type Libp2pTransportComponents,
  type Libp2pTransportInit,
  type Libp2pTransportStats,
  type BanReason,
  type RejectReason,
} from './options.js';
export { loadOrCreateIdentity, IDENTITY_FILE, type NodeIdentity } from './identity.js';
export { generatePsk, loadPsk, parsePsk, writePskFile } from './psk.js';
export { decodeEnvelope, encodeEnvelope, ENVELOPE_VERSION, type DecodedEnvelope, type Envelope } from './envelope.js';
export { FaultShim, type FaultShimInit } from './fault-shim.js';
export { RejectionAuditor, OTHER_PEERS, UNKNOWN_PEER, type RejectionAuditInit, type RejectionAuditComponents, type RejectionSummary } from './rejection-audit.js';
export { silentLogger, type TransportLogger } from './logger.js';
export * from './errors.js';
