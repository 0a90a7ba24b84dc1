import { randomBytes } from 'node:crypto';
import { link, open, readFile, rename, unlink } from 'node:fs/promises';
import { KeyFileError } from './errors.js';

/** The libp2p pnet key format (`/key/swarm/psk/1.0.0/`, `/base16/`, 64 hex digits), as go-ipfs writes it. */
const PSK_HEADER = '/key/swarm/psk/1.0.0/';
const PSK_CODEC = '/base16/';
const PSK_KEY_BYTES = 32;
const EXPECTED = `three lines: "${PSK_HEADER}", "${PSK_CODEC}", and ${PSK_KEY_BYTES * 2} hex digits (write one with \`dwcp keygen\`)`;

/** A new random cluster key, encoded in the pnet file format (what `preSharedKey({ psk })` takes). */
export function generatePsk(): Uint8Array {
  const hex = randomBytes(PSK_KEY_BYTES).toString('hex');
  return new TextEncoder().encode(`${PSK_HEADER}\n${PSK_CODEC}\n${hex}`);
}

/**
 * Checks that `bytes` is a pnet key and returns it unchanged; `source` names the file (or field) in
 * the error. libp2p's own check only says "invalid psk".
 */
export function parsePsk(bytes: Uint8Array, source: string): Uint8Array {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  const lines = text.split(/\r\n|\r|\n/);
  if (lines[0] !== PSK_HEADER) throw new KeyFileError(source, `first line is ${JSON.stringify(lines[0]?.slice(0, 40) ?? '')}`, EXPECTED);
  if (lines[1] !== PSK_CODEC) throw new KeyFileError(source, `unsupported encoding line ${JSON.stringify(lines[1]?.slice(0, 40) ?? '')}`, EXPECTED);
  const hex = (lines[2] ?? '').trim();
  if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== PSK_KEY_BYTES * 2) {
    throw new KeyFileError(source, `the key line has ${hex.length} characters or non-hex digits`, EXPECTED);
  }
  if (lines.slice(3).some((l) => l.trim() !== '')) throw new KeyFileError(source, 'unexpected content after the key line', EXPECTED);
  return bytes;
}

/** Reads and checks a pnet key file. Errors name the file. */
export async function loadPsk(path: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    const buf = await readFile(path);
    bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (err) {
    throw new KeyFileError(path, `cannot read the pre-shared key file (${(err as NodeJS.ErrnoException).code ?? String(err)})`, EXPECTED, {
      cause: err,
    });
  }
  return parsePsk(bytes, path);
}

/**
 * Writes a new pnet key to `path` with mode 0600 (atomically: a temporary file, fsync, rename).
 * Refuses to overwrite an existing file unless `overwrite` is set. Returns the key.
 */
export async function writePskFile(path: string, options: { overwrite?: boolean } = {}): Promise<Uint8Array> {
  const psk = generatePsk();
  await writeSecretFile(path, psk, options.overwrite ?? false);
  return psk;
}

/**
 * Writes `data` to `path` with mode 0600: a temporary file, fsync, then a rename (or, when `overwrite`
 * is false, a hard link, which fails atomically if `path` exists).
 */
export async function writeSecretFile(path: string, data: Uint8Array, overwrite: boolean): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (overwrite) {
      await rename(tmp, path);
    } else {
      await link(tmp, path);
      await unlink(tmp);
    }
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      throw new KeyFileError(path, 'the file already exists', 'a path where no key file exists yet (or overwrite: true)', { cause: err });
    }
    throw new KeyFileError(path, `cannot write the key file (${code ?? String(err)})`, 'a writable path', { cause: err });
  }
}
