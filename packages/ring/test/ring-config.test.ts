import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_RING_VNODES, parseConfig } from '@ringkv/core';
import { createRingStrategy, resolveRingConfig } from '../src/index.js';

const members = ['a@h', 'b@h', 'c@h', 'd@h', 'e@h'];

describe('ring configuration', () => {
  it('defaults n to 3 and r, w to a majority', () => {
    const c = resolveRingConfig({ members });
    expect([c.n, c.r, c.w, c.vnodes]).toEqual([3, 2, 2, DEFAULT_RING_VNODES]);
    expect(resolveRingConfig({ members, n: 5 })).toMatchObject({ r: 3, w: 3 });
    expect(resolveRingConfig({ members, n: 4 })).toMatchObject({ r: 3, w: 3 });
    expect(resolveRingConfig({ members: ['a@h'] })).toMatchObject({ n: 1, r: 1, w: 1 });
  });

  it.each([
    [{ members: [] }, /ring\.members: strategy "ring" needs at least one member/],
    [{ members: ['a@h', 'a@h'] }, /ring\.members: members must be distinct/],
    [{ members: ['not a node'] }, /ring\.members\[0\]: must look like name@host/],
    [{ members, n: 6 }, /ring\.n: n \(6\) is larger than the number of members \(5\)/],
    [{ members, n: 3, r: 4 }, /ring\.r: r \(4\) is larger than n \(3\)/],
    [{ members, n: 3, w: 4 }, /ring\.w: w \(4\) is larger than n \(3\)/],
    [{ members, w: 0 }, /ring\.w: must be an integer from 1/],
    [{ members, n: 2.5 }, /ring\.n: must be an integer/],
    [{ members, vnodes: 0 }, /ring\.vnodes: must be an integer from 1 to 100000/],
    [{ members, weights: { 'x@h': 1 } }, /ring\.weights\.x@h: weight given for a node that is not a member/],
    [{ members, weights: { 'a@h': 0 } }, /ring\.weights\.a@h: must be a positive number/],
    [{ members, handoffBatchSize: -1 }, /ring\.handoffBatchSize/],
  ])('rejects %j naming the field', (config, message) => {
    expect(() => resolveRingConfig(config as never)).toThrow(ConfigError);
    expect(() => createRingStrategy(config as never)).toThrow(message);
  });

  it('builds from a validated node config file shape', () => {
    const config = parseConfig({ node: 'a@h', strategy: 'ring', ring: { members: ['a@h', 'b@h', 'c@h'], n: 3 } });
    const strategy = createRingStrategy(config.ring);
    expect(strategy.name).toBe('ring');
    expect(strategy.describe()).toBe(`ring of 3 members (n 3, r 2, w 2, ${DEFAULT_RING_VNODES} vnodes)`);
    const p = strategy.placement('shopping');
    expect(p.replicas.map((r) => r.node).sort()).toEqual(['a@h', 'b@h', 'c@h']);
    expect([p.n, p.r, p.w]).toEqual([3, 2, 2]);
  });

  it('takes the timing of background work from the config file', () => {
    const config = parseConfig({ node: 'a@h', strategy: 'ring', ring: { members: ['a@h', 'b@h'], n: 2, handoffIntervalMs: 250, tombstoneGraceMs: 60_000 } });
    const strategy = createRingStrategy(config.ring);
    expect(strategy.config).toMatchObject({ handoffIntervalMs: 250, tombstoneGraceMs: 60_000, pingIntervalMs: 1000, handoffBatchSize: 100 });
    expect(() => parseConfig({ strategy: 'ring', ring: { members: ['a@h'], n: 1, handoffBatchSize: 0 } })).toThrow(/ring\.handoffBatchSize/);
  });
});
