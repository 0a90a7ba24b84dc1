/**
 * Structured, leveled logs: JSON lines on stdout (journald) when not on a terminal, readable text on
 * a terminal; a level per module (`log.modules`). Components get a child logger with their module.
 */
import type { LogLevel } from './config.js';

export interface Logger {
  debug(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
  child(module: string): Logger;
}

const RANK: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerInit {
  readonly level: LogLevel;
  readonly format: 'auto' | 'json' | 'text';
  readonly modules?: Readonly<Record<string, LogLevel>>;
  readonly write?: (line: string) => void;
  readonly isTty?: boolean;
  readonly base?: Readonly<Record<string, unknown>>;
}

export function createLogger(init: LoggerInit, module = 'agent'): Logger {
  const write = init.write ?? ((line: string) => process.stdout.write(line + '\n'));
  const json = init.format === 'json' || (init.format === 'auto' && !(init.isTty ?? process.stdout.isTTY));
  const min = RANK[init.modules?.[module] ?? init.level];
  const log = (level: LogLevel, message: string, meta?: Record<string, unknown>): void => {
    if (RANK[level] < min) return;
    const time = new Date().toISOString();
    if (json) {
      write(JSON.stringify({ time, level, module, msg: message, ...init.base, ...serializable(meta) }));
    } else {
      const extra = meta && Object.keys(meta).length > 0 ? ' ' + Object.entries(serializable(meta)).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ') : '';
      write(`${time.slice(11, 23)} ${level.toUpperCase().padEnd(5)} [${module}] ${message}${extra}`);
    }
  };
  return {
    debug: (m, meta) => log('debug', m, meta),
    info: (m, meta) => log('info', m, meta),
    warn: (m, meta) => log('warn', m, meta),
    error: (m, meta) => log('error', m, meta),
    child: (sub) => createLogger(init, sub),
  };
}

function serializable(meta: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!meta) return {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(meta)) {
    if (v instanceof Error) out[k] = { message: v.message, code: (v as { code?: unknown }).code, name: v.name };
    else if (typeof v === 'bigint') out[k] = v.toString();
    else out[k] = v;
  }
  return out;
}
