import { DwcpError } from '../../core/errors.js';

/** A key or identity file that cannot be read, parsed or written. The message names the file. */
export class KeyFileError extends DwcpError {
  constructor(path: string, problem: string, expected: string, options?: ErrorOptions) {
    super('ERR_KEY_FILE', `${path}: ${problem}; expected ${expected}`, { path }, options);
  }
}

/** The transport was configured without a pre-shared key and without `insecureNoPsk`. */
export class PskRequiredError extends DwcpError {
  constructor() {
    super(
      'ERR_PSK_REQUIRED',
      'a private-network pre-shared key (psk) is required; pass one (see `dwcp keygen`), or set insecureNoPsk: true for development only',
    );
  }
}

/** A request to a node id that no connected or known peer is bound to. */
export class UnknownPeerError extends DwcpError {
  constructor(nodeId: string) {
    super('ERR_UNKNOWN_PEER', `no peer is bound to node id ${JSON.stringify(nodeId)} (not connected yet, or never seen)`, {
      nodeId,
    });
  }
}

/** A request that got no response in time. */
export class RequestTimeoutError extends DwcpError {
  constructor(nodeId: string, timeoutMs: number) {
    super('ERR_REQUEST_TIMEOUT', `request to ${nodeId} got no response within ${timeoutMs} ms`, { nodeId, timeoutMs });
  }
}

/** A request aborted by the caller's signal or by the transport stopping. */
export class RequestAbortedError extends DwcpError {
  constructor(nodeId: string, reason: 'caller' | 'stopped', options?: ErrorOptions) {
    super(
      'ERR_ABORTED',
      reason === 'stopped' ? `request to ${nodeId} aborted: transport stopped` : `request to ${nodeId} aborted by the caller`,
      { nodeId, reason },
      options,
    );
  }
}

/** The stream or connection to the peer closed before the response arrived. */
export class PeerDisconnectedError extends DwcpError {
  constructor(nodeId: string, options?: ErrorOptions) {
    super('ERR_PEER_DISCONNECTED', `the connection to ${nodeId} closed before the response arrived`, { nodeId }, options);
  }
}

/** The remote request handler failed; `remoteCode` is the code it reported. */
export class RemoteRequestError extends DwcpError {
  readonly remoteCode: string;
  constructor(nodeId: string, remoteCode: string, remoteMessage: string) {
    super('ERR_REMOTE', `${nodeId} failed the request: ${remoteCode}: ${remoteMessage}`, { nodeId, remoteCode, remoteMessage });
    this.remoteCode = remoteCode;
  }
}

/** A payload larger than the configured limit (publish or request). */
export class PayloadTooLargeError extends DwcpError {
  constructor(what: string, size: number, limit: number) {
    super('ERR_PAYLOAD_TOO_LARGE', `${what} of ${size} bytes exceeds the limit of ${limit} bytes`, { size, limit });
  }
}

/** The transport is not started (or already stopped). */
export class TransportNotStartedError extends DwcpError {
  constructor(operation: string) {
    super('ERR_NOT_STARTED', `cannot ${operation}: the libp2p transport is not started`, { operation });
  }
}

/** A malformed envelope, hello or frame. */
export class DecodeError extends DwcpError {
  constructor(what: string, problem: string) {
    super('ERR_DECODE', `undecodable ${what}: ${problem}`, { what });
  }
}

/** A link cut (or a request dropped) by the fault shim. */
export class LinkCutError extends DwcpError {
  constructor(from: string, to: string) {
    super('ERR_UNREACHABLE', `${to} is unreachable from ${from} (fault shim)`, { from, to });
  }
}
