/**
 * `@ringkv/ring`: the consistent-hash ring strategy of ringkv (Riak/Dynamo style): preference
 * lists, N/R/W quorums, version vectors, read repair, hinted handoff.
 *
 * @example
 * import { createRing, createRingStrategy } from '@ringkv/ring';
 * const ring = createRing({ members: ['a@ringkv', 'b@ringkv', 'c@ringkv', 'd@ringkv'] });
 * ring.preferenceList('shopping', 3); // [{ node, role: 'primary' }, ...] in ring order
 * ring.owner('shopping');             // the first of them
 *
 * // As a node's strategy (or `"strategy": "ring"` in its config file):
 * const strategy = createRingStrategy({ members: ['a@ringkv', 'b@ringkv', 'c@ringkv'], n: 3, r: 2, w: 2 });
 */
export * from './ring.js';
export * from './ring-config.js';
export * from './ring-strategy.js';
export * from './coordinator.js';
export * from './preference-list.js';
export { contextRead, uncovered, coveredBy } from './write-path.js';
export { mergeReplies } from './read-path.js';
export { BATCH_MESSAGE, createReplicaBatcher, type ReplicaBatcher } from './replica-batch.js';
export { isIdempotentRingMessage } from './idempotent-messages.js';
export { createKeyLocks, type KeyLocks } from './key-locks.js';
export * from './failure-detector.js';
export * from './hybrid-clock.js';
export * from './hinted-handoff.js';
export * from './tombstone-reaper.js';
export * from './quorum-call.js';
export * from './replica-messages.js';
export * from './errors.js';
export * from './anti-entropy/anti-entropy.js';
export * from './anti-entropy/anti-entropy-config.js';
export * from './anti-entropy/hash-tree.js';
export * from './anti-entropy/exchange.js';
export * from './anti-entropy/object-digest.js';
export * from './anti-entropy/messages.js';
export * from './ownership-moves.js';
export * from './epoch-strategy.js';
export * from './membership-agent.js';
