/**
 * `@ringkv/ring`: the consistent-hash ring strategy of ringkv (Riak/Dynamo style).
 *
 * @example
 * import { createRing } from '@ringkv/ring';
 * const ring = createRing({ members: ['a@ringkv', 'b@ringkv', 'c@ringkv', 'd@ringkv'] });
 * ring.preferenceList('shopping', 3); // [{ node, role: 'primary' }, ...] in ring order
 * ring.owner('shopping');             // the first of them
 */
export * from './ring.js';
