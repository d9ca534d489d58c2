/**
 * Warnings about limits (connections refused, oversized bodies, idle sockets) at most once per
 * interval per kind, with the count of what happened meanwhile: a flood of bad clients must
 * not flood the log too.
 */
import type { Logger } from '@ringkv/core';

export function createRateLimitedLog(logger: Logger, intervalMs: number): (kind: string, message: string) => void {
  const last = new Map<string, { at: number; suppressed: number }>();
  return (kind, message) => {
    const now = Date.now();
    const seen = last.get(kind);
    if (seen && now - seen.at < intervalMs) {
      seen.suppressed++;
      return;
    }
    const more = seen?.suppressed ? ` (and ${seen.suppressed} more since the last such line)` : '';
    last.set(kind, { at: now, suppressed: 0 });
    logger.warn(`${message}${more}`);
  };
}
