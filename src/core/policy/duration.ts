/** Durations in policy files: `500ms`, `30s`, `5m`, `1h`, or a number of milliseconds. */

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/;

/**
 * Milliseconds for a duration, or `undefined` when `value` is not one: a non-negative safe integer
 * number of ms, or a string `<number><ms|s|m|h>` that comes to a whole number of milliseconds.
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = DURATION.exec(value.trim());
  if (!m) return undefined;
  const ms = Number(m[1]) * (UNITS[m[2]!] ?? Number.NaN);
  const rounded = Math.round(ms);
  // Tolerate binary rounding of decimals such as 0.3s, refuse sub-millisecond precision.
  if (!Number.isSafeInteger(rounded) || Math.abs(ms - rounded) > 1e-6) return undefined;
  return rounded;
}

/** The shortest exact text form: 30000 → `30s`, 90000 → `90s`, 300000 → `5m`, 1500 → `1500ms`. */
export function formatDuration(ms: number): string {
  if (ms !== 0 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms !== 0 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms !== 0 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
