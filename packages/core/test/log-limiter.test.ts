/** createLogLimiter: what a flood of events a stranger can trigger writes to the log. */
import { describe, expect, it } from 'vitest';
import { createLogLimiter, type Logger } from '../src/index.js';

describe('log limiter', () => {
  function recording(): Logger & { lines: string[] } {
    const lines: string[] = [];
    return {
      lines,
      debug: () => {},
      info: (m) => lines.push(m),
      warn: (m) => lines.push(`warn ${m}`),
      error: (m) => lines.push(`error ${m}`),
    };
  }

  it('writes a burst per kind and window, then one line saying how many were held back', () => {
    let t = 0;
    const logger = recording();
    const limited = createLogLimiter(logger, { burst: 3, intervalMs: 1000, now: () => t });
    for (let i = 0; i < 50_000; i++) limited.warn('flood', `bad message ${i}`);
    limited.warn('other', 'another kind');
    expect(logger.lines).toEqual(['warn bad message 0', 'warn bad message 1', 'warn bad message 2', 'warn another kind']);
    t = 1500;
    limited.warn('flood', 'bad message after');
    expect(logger.lines.slice(4)).toEqual(['warn bad message 49999 (and 49997 more like it in the last 2 s)', 'warn bad message after']);
    for (let i = 0; i < 10; i++) limited.error('flood', `again ${i}`);
    limited.flush();
    expect(logger.lines.at(-1)).toBe('error again 9 (and 8 more like it in the last 1 s)');
  });

  it('sums up on its own when the flood stops', async () => {
    const logger = recording();
    const limited = createLogLimiter(logger, { burst: 1, intervalMs: 50 });
    for (let i = 0; i < 100; i++) limited.warn('flood', `m${i}`);
    await new Promise((r) => setTimeout(r, 150));
    expect(logger.lines).toEqual(['warn m0', 'warn m99 (and 99 more like it in the last 1 s)']);
  });

  it('with a burst of 1, as servers use it: the first line of a kind at once, one summary per window', () => {
    let t = 0;
    const logger = recording();
    const limited = createLogLimiter(logger, { burst: 1, intervalMs: 1000, now: () => t });
    limited.warn('a', 'first');
    for (let i = 0; i < 5; i++) limited.warn('a', `again ${i}`);
    limited.error('b', 'other kind');
    t = 1500;
    limited.warn('a', 'later');
    limited.warn('a', 'held');
    limited.flush();
    expect(logger.lines).toEqual([
      'warn first',
      'error other kind',
      'warn again 4 (and 5 more like it in the last 2 s)',
      'warn later',
      'warn held (and 1 more like it in the last 1 s)',
    ]);
  });

  it('tracks a bounded number of kinds: past the bound, what is held is summed up and the table starts again', () => {
    const logger = recording();
    const limited = createLogLimiter(logger, { burst: 1, maxKinds: 2, now: () => 0 });
    limited.warn('a', 'a1');
    limited.warn('a', 'a2');
    limited.warn('b', 'b1');
    limited.warn('c', 'c1');
    limited.flush();
    expect(logger.lines).toEqual(['warn a1', 'warn b1', 'warn a2 (and 1 more like it in the last 1 s)', 'warn c1']);
  });
});
