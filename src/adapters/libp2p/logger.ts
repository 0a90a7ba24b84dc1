/**
 * The logger this adapter writes to: injected by the agent (a child of its structured logger), so the
 * adapter never prints. `meta` is structured context (peer ids, node ids, counts).
 */
export interface TransportLogger {
  debug(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

const noop = (): void => {};

/** Discards everything (the default). */
export const silentLogger: TransportLogger = { debug: noop, info: noop, warn: noop, error: noop };
