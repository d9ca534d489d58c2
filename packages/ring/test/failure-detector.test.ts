import { afterEach, describe, expect, it, vi } from 'vitest';
import { createFailureDetector, createHybridClock } from '../src/index.js';

afterEach(() => vi.useRealTimers());

describe('failure detector', () => {
  it('suspects a member whose ping fails, and brings it back when a ping succeeds', async () => {
    const reachable = new Set(['b@h', 'c@h']);
    const ups: string[] = [];
    const d = createFailureDetector({
      self: 'a@h',
      members: ['a@h', 'b@h', 'c@h'],
      ping: async (m) => {
        if (!reachable.has(m)) throw new Error('unreachable');
        return `${m}#1`;
      },
    });
    d.onUp((m) => ups.push(m));
    await d.probe();
    expect(d.down()).toEqual([]);
    reachable.delete('c@h');
    await d.probe();
    expect(d.isUp('c@h')).toBe(false);
    expect(d.isUp('a@h')).toBe(true);
    reachable.add('c@h');
    await d.probe();
    expect(d.isUp('c@h')).toBe(true);
    expect(ups).toEqual(['c@h']);
  });

  it('reports a restart (new incarnation) as coming back, and hello() suspects nobody', async () => {
    let incarnation = 'b@h#1';
    const ups: string[] = [];
    const d = createFailureDetector({ self: 'a@h', members: ['a@h', 'b@h', 'c@h'], ping: async (m) => (m === 'b@h' ? incarnation : Promise.reject(new Error('no'))) });
    d.onUp((m) => ups.push(m));
    await d.hello();
    expect(d.down()).toEqual([]);
    incarnation = 'b@h#2';
    await d.probe();
    expect(ups).toEqual(['b@h']);
    expect(d.down()).toEqual(['c@h']);
  });

  it('suspect() after a failed request, alive() when the member is heard from; non-members ignored', () => {
    const d = createFailureDetector({ self: 'a@h', members: ['a@h', 'b@h'], ping: async () => undefined });
    d.suspect('b@h');
    d.suspect('a@h');
    d.suspect('zz@h');
    expect(d.down()).toEqual(['b@h']);
    d.alive('b@h');
    expect(d.down()).toEqual([]);
  });

  it('pings on its interval once started', async () => {
    vi.useFakeTimers();
    const ping = vi.fn(async () => undefined);
    const d = createFailureDetector({ self: 'a@h', members: ['a@h', 'b@h'], ping, intervalMs: 100 });
    d.start();
    await vi.advanceTimersByTimeAsync(350);
    d.stop();
    expect(ping).toHaveBeenCalledTimes(3);
  });
});

describe('hybrid clock', () => {
  it('never goes backwards, even when the wall clock does', () => {
    let wall = 1000;
    const clock = createHybridClock(() => wall);
    const a = clock.now();
    wall = 900;
    const b = clock.now();
    expect(b).toBeGreaterThan(a);
    expect(a).toBe(1000 * 1000);
  });

  it('stamps after anything it observed', () => {
    const clock = createHybridClock(() => 5);
    clock.observe(10_000_000);
    expect(clock.now()).toBe(10_000_001);
    clock.observe(Number.NaN);
    expect(clock.now()).toBe(10_000_002);
  });
});
