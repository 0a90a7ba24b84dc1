import '../../support/polyfill.js';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  generatePsk,
  IDENTITY_FILE,
  loadOrCreateIdentity,
  loadPsk,
  parsePsk,
  writePskFile,
} from '../../../src/adapters/libp2p/index.js';
import { memoryLogger, startNode, stopAll, str, tempDir, text, waitFor, type TestNode } from './helpers.js';

describe('libp2p identity and keys', () => {
  const cleanups: Array<() => Promise<void>> = [];
  let nodes: TestNode[] = [];
  afterEach(async () => {
    await stopAll(nodes);
    nodes = [];
    for (const c of cleanups.splice(0)) await c();
  });

  async function dir(): Promise<string> {
    const d = await tempDir('id');
    cleanups.push(() => d.remove());
    return d.dir;
  }

  it('creates an Ed25519 identity with mode 0600 and loads the same one again', async () => {
    const d = join(await dir(), 'data');
    const first = await loadOrCreateIdentity(d);
    expect(first.created).toBe(true);
    expect(first.privateKey.type).toBe('Ed25519');
    expect((await stat(first.path)).mode & 0o777).toBe(0o600);
    expect((await stat(d)).mode & 0o777).toBe(0o700);
    const again = await loadOrCreateIdentity(d);
    expect(again.created).toBe(false);
    expect(again.peerId.toString()).toBe(first.peerId.toString());
  });

  it('names the file when the identity is corrupt, and warns when it is readable by others', async () => {
    const d = await dir();
    const path = join(d, IDENTITY_FILE);
    await writeFile(path, 'garbage', { mode: 0o600 });
    await expect(loadOrCreateIdentity(d)).rejects.toMatchObject({ code: 'ERR_KEY_FILE', meta: { path } });
    await expect(loadOrCreateIdentity(d)).rejects.toThrow(path);

    const d2 = await dir();
    const made = await loadOrCreateIdentity(d2);
    await chmod(made.path, 0o644);
    const log = memoryLogger();
    await loadOrCreateIdentity(d2, { logger: log });
    expect(log.lines.some((l) => l.level === 'warn' && l.message.includes('0600'))).toBe(true);
  });

  it('writes and loads PSK files in the pnet format, with errors naming the file', async () => {
    const d = await dir();
    const path = join(d, 'cluster.psk');
    const psk = await writePskFile(path);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(str(await readFile(path))).toMatch(/^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}$/);
    expect(await loadPsk(path)).toEqual(new Uint8Array(psk));
    await expect(writePskFile(path)).rejects.toMatchObject({ code: 'ERR_KEY_FILE' });
    await writePskFile(path, { overwrite: true });

    await expect(loadPsk(join(d, 'missing.psk'))).rejects.toThrow(join(d, 'missing.psk'));
    const bad = join(d, 'bad.psk');
    await writeFile(bad, '/key/swarm/psk/1.0.0/\n/base16/\nabcd\n');
    await expect(loadPsk(bad)).rejects.toMatchObject({ code: 'ERR_KEY_FILE', meta: { path: bad } });
    expect(() => parsePsk(text('hello'), 'config field cluster.psk')).toThrow('config field cluster.psk');
    expect(parsePsk(generatePsk(), 'x').byteLength).toBe(95);
  });

  it('keeps the same peer id across transport restarts, and peers keep the binding', async () => {
    const psk = generatePsk();
    const d = await dir();
    const a = await startNode('hv-a', psk, {}, { privateKey: (await loadOrCreateIdentity(d)).privateKey });
    nodes.push(a);
    const peerId = a.t.peerId;
    const addr = a.addr();
    const b = await startNode('hv-b', psk, { bootstrap: [addr] });
    nodes.push(b);
    await waitFor('bound', () => b.t.peers().includes('hv-a'));
    await a.t.stop();
    await waitFor('b sees a down', () => b.peerEvents.some((e) => e.peer === 'hv-a' && e.state === 'down'));

    // A new process: same data dir, same port.
    const port = addr.split('/')[4]!;
    const a2 = await startNode('hv-a', psk, { listen: [`/ip4/127.0.0.1/tcp/${port}`] }, { privateKey: (await loadOrCreateIdentity(d)).privateKey });
    nodes.push(a2);
    expect(a2.t.peerId).toBe(peerId);
    await waitFor('b redials a and sees it up again', () => b.peerEvents.filter((e) => e.peer === 'hv-a' && e.state === 'up').length === 2, 10_000);
    await waitFor('the new process to learn hv-b from its hello', () => a2.t.peers().includes('hv-b'));
    b.t.onRequest((from) => Promise.resolve(text(`hi ${from}`)));
    expect(str(await a2.t.request('hv-b', text('x')))).toBe('hi hv-a');
    expect(b.t.stats().bindingConflicts).toBe(0);
  });
});
