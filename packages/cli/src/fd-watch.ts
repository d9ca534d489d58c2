/**
 * Warns before a node runs out of file descriptors. At the limit, accepting a connection, opening
 * a file or reconnecting to NATS fails with EMFILE, usually far from anyone who could explain
 * it; this check says it first, in the node's log: how many are open, the limit, what to do.
 * Linux (`/proc/self/fd`, `/proc/self/limits`); elsewhere it does nothing.
 *
 * @example
 * const stop = watchFileDescriptors({ logger });
 * // "[warn] file descriptors: 870 of 1024 in use (85%); ..." while above 80%
 * stop();
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createLogLimiter, type Logger } from '@ringkv/core';

export interface FdWatchOptions {
  logger: Logger;
  /** @default 5000 */
  intervalMs?: number;
  /** Fraction of the limit in use that triggers the warning. @default 0.8 */
  threshold?: number;
  /** Open descriptors now; undefined when unknown. @default counted in /proc/self/fd */
  openCount?: () => number | undefined;
  /** The soft limit; undefined when unknown or unlimited. @default read from /proc/self/limits */
  limit?: () => number | undefined;
}

export function openFileDescriptors(): number | undefined {
  try {
    // readdirSync itself holds one descriptor on the folder while it reads.
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return undefined;
  }
}

export function fileDescriptorLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m && m[1] !== 'unlimited' ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Starts the periodic check; returns the function that stops it. */
export function watchFileDescriptors(options: FdWatchOptions): () => void {
  const { logger } = options;
  const threshold = options.threshold ?? 0.8;
  const openCount = options.openCount ?? openFileDescriptors;
  const limitOf = options.limit ?? fileDescriptorLimit;
  const limited = createLogLimiter(logger, { burst: 1, intervalMs: 60_000 });
  let high = false;

  function check(): void {
    const limit = limitOf();
    const open = openCount();
    if (limit === undefined || open === undefined || limit <= 0) return;
    const share = open / limit;
    if (share >= threshold) {
      high = true;
      limited.warn(
        'descriptors',
        `file descriptors: ${open} of ${limit} in use (${Math.round(share * 100)}%); at the limit new connections and files fail (EMFILE): raise the limit (ulimit -n, LimitNOFILE=) or lower the number of client connections`,
      );
    } else if (high && share < threshold * 0.9) {
      high = false;
      logger.info(`file descriptors: back to ${open} of ${limit} in use`);
    }
  }

  if (limitOf() === undefined) return () => {};
  check();
  const timer = setInterval(check, options.intervalMs ?? 5000);
  timer.unref?.();
  return () => {
    clearInterval(timer);
    limited.flush();
  };
}
