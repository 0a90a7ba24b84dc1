import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { Ed25519PeerId, Ed25519PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { KeyFileError } from './errors.js';
import { silentLogger, type TransportLogger } from './logger.js';
import { writeSecretFile } from './psk.js';

/** The file, inside the data directory, that holds the node's private key (libp2p protobuf encoding). */
export const IDENTITY_FILE = 'identity.key';

export interface NodeIdentity {
  readonly privateKey: Ed25519PrivateKey;
  readonly peerId: Ed25519PeerId;
  /** The key file. */
  readonly path: string;
  /** True when this call generated the key. */
  readonly created: boolean;
}

const EXPECTED = 'an Ed25519 private key in the libp2p protobuf encoding, written by `dwcp init`';

/**
 * Loads the node's Ed25519 identity from `<dataDir>/identity.key`, or creates it (mode 0600, the
 * directory 0700 if it is new). The same directory gives the same peer id across restarts.
 * A key file that is unreadable, corrupt or not Ed25519 is an error naming the file, never silently
 * replaced: a new key would be a new peer id, and the cluster binds node ids to peer ids.
 */
export async function loadOrCreateIdentity(dataDir: string, options: { logger?: TransportLogger } = {}): Promise<NodeIdentity> {
  const log = options.logger ?? silentLogger;
  const path = join(dataDir, IDENTITY_FILE);
  const existing = await readKey(path, log);
  if (existing) return existing;

  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new KeyFileError(dataDir, `cannot create the data directory (${(err as NodeJS.ErrnoException).code ?? String(err)})`, 'a writable directory', {
      cause: err,
    });
  }
  const privateKey = await generateKeyPair('Ed25519');
  try {
    await writeSecretFile(path, privateKeyToProtobuf(privateKey), false);
  } catch (err) {
    // Another process created it between our read and our write: use theirs.
    if (err instanceof KeyFileError && (err.cause as NodeJS.ErrnoException | undefined)?.code === 'EEXIST') {
      const raced = await readKey(path, log);
      if (raced) return raced;
    }
    throw err;
  }
  log.info('created a new node identity', { path, peerId: peerIdFromPrivateKey(privateKey).toString() });
  return { privateKey, peerId: peerIdFromPrivateKey(privateKey), path, created: true };
}

async function readKey(path: string, log: TransportLogger): Promise<NodeIdentity | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new KeyFileError(path, `cannot read the identity file (${(err as NodeJS.ErrnoException).code ?? String(err)})`, EXPECTED, {
      cause: err,
    });
  }
  let key;
  try {
    key = privateKeyFromProtobuf(bytes);
  } catch (err) {
    throw new KeyFileError(path, `the identity file is corrupt (${bytes.byteLength} bytes that do not decode)`, EXPECTED, { cause: err });
  }
  if (key.type !== 'Ed25519') throw new KeyFileError(path, `the identity key is ${key.type}`, EXPECTED);
  const mode = (await stat(path)).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    log.warn('the identity file is readable by other users; it should be mode 0600', { path, mode: `0${mode.toString(8)}` });
  }
  return { privateKey: key, peerId: peerIdFromPrivateKey(key), path, created: false };
}
