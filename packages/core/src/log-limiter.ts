/**
 * Rate-limited logging for events a stranger can trigger at will (messages without a reply
 * subject, malformed requests, forged events): per kind of event, at most `burst` lines per
 * `intervalMs`; what was held back is summed up in one line when the window ends. A flood of
 * 50,000 bad messages writes a handful of lines, and the operator still sees how many came.
 *
 * @example
 * const limited = createLogLimiter(logger);
 * limited.warn('no-reply', `ignored a message without a reply subject on ${subject}`);
 * // after 5 such lines in 10 s: "... (and 49995 more like it in the last 10 s)" once the window ends
 */
import type { Logger } from './logger.js';

export interface LogLimiterOptions {
  /** Lines of one kind allowed per window. @default 5 */
  burst?: number;
  /** Window length, ms. @default 10000 */
  intervalMs?: number;
  /** Kinds tracked at once (keys are chosen by code, never by the sender). @default 256 */
  maxKinds?: number;
  now?: () => number;
}

export interface LogLimiter {
  warn(kind: string, message: string): void;
  error(kind: string, message: string): void;
  /** Writes pending summaries now and stops the timers. */
  flush(): void;
}

interface Window {
  start: number;
  lines: number;
  held: number;
  level: 'warn' | 'error';
  last: string;
  timer?: ReturnType<typeof setTimeout>;
}

export function createLogLimiter(logger: Logger, options: LogLimiterOptions = {}): LogLimiter {
  const burst = options.burst ?? 5;
  const intervalMs = options.intervalMs ?? 10_000;
  const maxKinds = options.maxKinds ?? 256;
  const now = options.now ?? Date.now;
  const windows = new Map<string, Window>();

  function summarize(w: Window): void {
    if (w.timer) clearTimeout(w.timer);
    w.timer = undefined;
    if (w.held === 0) return;
    const seconds = Math.max(1, Math.round((now() - w.start) / 1000));
    logger[w.level](`${w.last} (and ${w.held} more like it in the last ${seconds} s)`);
    w.held = 0;
  }

  function log(level: 'warn' | 'error', kind: string, message: string): void {
    const t = now();
    let w = windows.get(kind);
    if (w && t - w.start >= intervalMs) {
      summarize(w);
      w.start = t;
      w.lines = 0;
    }
    if (!w) {
      if (windows.size >= maxKinds) {
        for (const old of windows.values()) summarize(old);
        windows.clear();
      }
      w = { start: t, lines: 0, held: 0, level, last: message };
      windows.set(kind, w);
    }
    if (w.lines < burst) {
      w.lines++;
      logger[level](message);
      return;
    }
    w.held++;
    w.last = message;
    w.level = level;
    if (!w.timer) {
      const current = w;
      current.timer = setTimeout(() => summarize(current), Math.max(0, current.start + intervalMs - t));
      current.timer.unref?.();
    }
  }

  return {
    warn: (kind, message) => log('warn', kind, message),
    error: (kind, message) => log('error', kind, message),
    flush() {
      for (const w of windows.values()) summarize(w);
    },
  };
}
