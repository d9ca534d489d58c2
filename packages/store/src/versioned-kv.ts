/**
 * The bucket functions under the ring (packages/core/src/replication.ts): writes store
 * siblings stamped with the coordinator's version, reads answer the objects they consulted,
 * and `resolve` turns merged objects into the plain reply.
 */
import type { ReplicaMeta } from '@ringkv/core';

export interface VersionedKv {
  create(bucket: Uint8Array, meta: ReplicaMeta): Promise<unknown>;
  lookup(bucket: Uint8Array, meta: ReplicaMeta): Promise<unknown>;
  put(bucket: Uint8Array, key: Uint8Array, value: Uint8Array, meta: ReplicaMeta): Promise<unknown>;
  get(bucket: Uint8Array, key: Uint8Array, meta: ReplicaMeta): Promise<unknown>;
  delete(bucket: Uint8Array, key: Uint8Array, meta: ReplicaMeta): Promise<unknown>;
}
