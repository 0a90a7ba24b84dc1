/**
 * Free loopback ports for the demo's local cluster. `prepareCluster` puts node i's API on
 * `base + i` and its libp2p listener on `base + 1000 + i`, so a base is usable when all of those
 * can be bound now. (Another process may still take one before the agents bind it; the demo then
 * fails with the agent's own "address in use" error rather than hanging.)
 */
import { createServer } from 'node:net';

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export async function findFreeBasePort(nodes: number, attempts = 50): Promise<number> {
  for (let i = 0; i < attempts; i++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const ports = Array.from({ length: nodes }, (_, k) => [base + k, base + 1000 + k]).flat();
    let free = true;
    for (const p of ports) {
      if (!(await canBind(p))) {
        free = false;
        break;
      }
    }
    if (free) return base;
  }
  throw new Error(`no free block of ports for ${nodes} agents after ${attempts} attempts`);
}
