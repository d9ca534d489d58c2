import { afterEach, describe, expect, it, vi } from 'vitest';
import { NodeUnreachableError, TimeoutError } from '@ringkv/core';
import { createPendingCalls } from '../src/index.js';

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('pending calls', () => {
  it('settles calls by id', async () => {
    const pending = createPendingCalls();
    const a = pending.add('a@h', 1000);
    const b = pending.add('b@h', 1000);
    expect(a.id).not.toBe(b.id);
    expect(pending.nodeOf(b.id)).toBe('b@h');
    expect(pending.settle(b.id, { ok: true, value: 'B' })).toBe(true);
    expect(pending.settle(b.id, { ok: true, value: 'again' })).toBe(false);
    pending.settle(a.id, { ok: false, error: new Error('nope') });
    await expect(b.promise).resolves.toBe('B');
    await expect(a.promise).rejects.toThrow('nope');
    expect(pending.size()).toBe(0);
    pending.stop();
  });

  it('times calls out with a TimeoutError naming the node, using one timer for all calls', async () => {
    vi.useFakeTimers();
    const setIntervalSpy = vi.spyOn(globalThis, 'setInterval');
    let now = 0;
    const pending = createPendingCalls({ sweepIntervalMs: 10, now: () => now });
    const calls = Array.from({ length: 100 }, (_, i) => pending.add(`n${i}@h`, i < 50 ? 100 : 1000));
    expect(setIntervalSpy).toHaveBeenCalledTimes(1);
    now = 150;
    vi.advanceTimersByTime(10);
    expect(pending.size()).toBe(50);
    const err = (await calls[3]!.promise.catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err.message).toBe('node n3@h did not answer within 100 ms');
    now = 1000;
    vi.advanceTimersByTime(10);
    expect(pending.size()).toBe(0);
    await Promise.allSettled(calls.map((c) => c.promise));
    // The timer stops when nothing is pending, so an idle connection costs nothing.
    expect(vi.getTimerCount()).toBe(0);
  });

  it('fails one call, or all of them, with the error built for its node', async () => {
    const pending = createPendingCalls();
    const a = pending.add('a@h', 1000);
    const b = pending.add('b@h', 1000);
    const c = pending.add('c@h', 1000);
    pending.fail(a.id, (n) => new NodeUnreachableError(`node ${n} is not reachable`));
    await expect(a.promise).rejects.toThrow('node a@h is not reachable');
    pending.rejectAll((n) => new Error(`down: ${n}`));
    await expect(b.promise).rejects.toThrow('down: b@h');
    await expect(c.promise).rejects.toThrow('down: c@h');
    expect(pending.size()).toBe(0);
  });
});
