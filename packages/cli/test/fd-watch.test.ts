import { closeSync, openSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Logger } from '@ringkv/core';
import { fileDescriptorLimit, openFileDescriptors, watchFileDescriptors } from '../src/fd-watch.js';

function recording(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    debug: () => {},
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m) => lines.push(`error ${m}`),
  };
}

const waitFor = async (check: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
};

describe('file descriptor watch', () => {
  it('warns once above the threshold, with the numbers and what to do, and says when it is back', async () => {
    let open = 100;
    const logger = recording();
    const stop = watchFileDescriptors({ logger, intervalMs: 10, openCount: () => open, limit: () => 1024 });
    try {
      await new Promise((r) => setTimeout(r, 50));
      expect(logger.lines).toEqual([]);
      open = 900;
      await waitFor(() => logger.lines.length > 0);
      await new Promise((r) => setTimeout(r, 100));
      expect(logger.lines).toEqual([
        'warn file descriptors: 900 of 1024 in use (88%); at the limit new connections and files fail (EMFILE): raise the limit (ulimit -n, LimitNOFILE=) or lower the number of client connections',
      ]);
      open = 200;
      await waitFor(() => logger.lines.length > 1);
      expect(logger.lines[1]).toBe('info file descriptors: back to 200 of 1024 in use');
    } finally {
      stop();
    }
  });

  it("reads this process's real descriptors: opening files moves the count and trips the warning", async () => {
    const limit = fileDescriptorLimit();
    const before = openFileDescriptors();
    if (process.platform !== 'linux') return expect(limit === undefined || before === undefined).toBe(true);
    expect(limit).toBeGreaterThan(0);
    expect(before).toBeGreaterThan(2);
    const logger = recording();
    // A threshold just above today's count: 40 more open files cross it.
    const stop = watchFileDescriptors({ logger, intervalMs: 10, threshold: (before! + 20) / limit! });
    const fds: number[] = [];
    try {
      for (let i = 0; i < 40; i++) fds.push(openSync('/proc/self/stat', 'r'));
      expect(openFileDescriptors()).toBeGreaterThanOrEqual(before! + 40);
      await waitFor(() => logger.lines.length > 0);
      expect(logger.lines[0]).toMatch(new RegExp(`^warn file descriptors: \\d+ of ${limit} in use`));
    } finally {
      for (const fd of fds) closeSync(fd);
      stop();
    }
  });
});
