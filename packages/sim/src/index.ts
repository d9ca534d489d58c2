/**
 * `@ringkv/sim`: what moves when nodes join or leave, before anyone moves them. Pure functions
 * over the range table and the ring: feed bucket names (and sizes, when known), get the owner
 * and replica-set changes against the ideal, per-node load before and after, and the transfer
 * plan. No I/O: the `ringkv simulate` and `ringkv plan` commands read names and print results.
 *
 * @example
 * import { simulate, randomBucketNames } from '@ringkv/sim';
 * const report = simulate({
 *   change: { members: ['a@h', 'b@h', 'c@h'], add: ['d@h'] },
 *   strategies: [{ kind: 'range', policy: { name: 'even' } }, { kind: 'ring', vnodes: 160, n: 3 }],
 *   buckets: randomBucketNames({ count: 100_000, seed: 1 }),
 * });
 * report.results[1].owner.fraction;        // about 1/4
 * report.results[1].owner.betweenOldNodes; // 0: the ring only moves buckets to the new node
 */
export * from './errors.js';
export * from './membership.js';
export * from './bucket-input.js';
export * from './random-names.js';
export * from './load-stats.js';
export * from './ideal.js';
export * from './first-byte-histogram.js';
export * from './range-policy.js';
export * from './simulate.js';
export * from './owner-changes.js';
