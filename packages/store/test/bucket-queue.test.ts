import { describe, expect, it } from 'vitest';
import { createBucketQueue } from '../src/bucket-queue.js';

const tick = () => new Promise((r) => setTimeout(r, 1));

describe('bucket queue', () => {
  it('runs one bucket’s operations one at a time, in arrival order', async () => {
    const q = createBucketQueue();
    const log: string[] = [];
    const op = (name: string) => async () => {
      log.push(`start ${name}`);
      await tick();
      log.push(`end ${name}`);
      return name;
    };
    const results = await Promise.all([q.run('b', op('1')), q.run('b', op('2')), q.run('b', op('3'))]);
    expect(results).toEqual(['1', '2', '3']);
    expect(log).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
    await tick();
    expect(q.pending()).toBe(0);
  });

  it('says a bucket is idle only when nothing is queued or running for it', async () => {
    const q = createBucketQueue();
    expect(q.idle('b')).toBe(true);
    let release!: () => void;
    const running = q.run('b', () => new Promise<void>((r) => (release = r)));
    expect(q.idle('b')).toBe(false);
    expect(q.idle('other')).toBe(true);
    release();
    await running;
    await tick();
    expect(q.idle('b')).toBe(true);
  });

  it('lets different buckets interleave', async () => {
    const q = createBucketQueue();
    const log: string[] = [];
    const op = (name: string) => async () => {
      log.push(`start ${name}`);
      await tick();
      log.push(`end ${name}`);
    };
    await Promise.all([q.run('a', op('a')), q.run('b', op('b'))]);
    expect(log.slice(0, 2)).toEqual(['start a', 'start b']);
  });

  it('does not let a failing operation (thrown or rejected) block or fail the next ones', async () => {
    const q = createBucketQueue();
    const thrown = q.run('b', () => {
      throw new Error('sync boom');
    });
    const rejected = q.run('b', async () => {
      throw new Error('async boom');
    });
    const after = q.run('b', async () => 'fine');
    await expect(thrown).rejects.toThrow('sync boom');
    await expect(rejected).rejects.toThrow('async boom');
    expect(await after).toBe('fine');
  });
});
