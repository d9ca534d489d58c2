/**
 * Log lines for limits that a client (or an attacker) can hit over and over: the first
 * occurrence of each kind is logged at once, later ones at most once per interval, with the
 * count of those not logged in between. A flood of refused connections costs one line per
 * interval, not one per connection.
 *
 * @example
 * const log = createThrottledLog(logger, { intervalMs: 10_000 });
 * log.warn('max-connections', 'text server: refused a connection: 1024 open (server.maxConnections)');
 */
import type { Logger } from '@ringkv/core';

export interface ThrottledLog {
  warn(kind: string, message: string): void;
  error(kind: string, message: string): void;
}

export interface ThrottledLogOptions {
  /** Shortest time between two lines of one kind. @default 10000 */
  intervalMs?: number;
  /** @default Date.now */
  now?: () => number;
}

export const DEFAULT_LOG_INTERVAL_MS = 10_000;

export function createThrottledLog(logger: Logger, options: ThrottledLogOptions = {}): ThrottledLog {
  const intervalMs = options.intervalMs ?? DEFAULT_LOG_INTERVAL_MS;
  const now = options.now ?? Date.now;
  const last = new Map<string, { at: number; suppressed: number }>();

  const log = (level: 'warn' | 'error', kind: string, message: string) => {
    const t = now();
    const seen = last.get(kind);
    if (seen && t - seen.at < intervalMs) {
      seen.suppressed++;
      return;
    }
    const more =
      seen && seen.suppressed > 0 ? ` (and ${seen.suppressed} more like it in the last ${Math.round((t - seen.at) / 1000)} s)` : '';
    last.set(kind, { at: t, suppressed: 0 });
    logger[level](`${message}${more}`);
  };
  return { warn: (kind, message) => log('warn', kind, message), error: (kind, message) => log('error', kind, message) };
}
