/**
 * Runs one parsed command through `route` and turns the answer into reply bytes. Every bucket
 * operation, CREATE included, is routed by the bucket's bytes, so it runs on the node the
 * strategy names: a server-only node stores nothing itself.
 *
 * The storage functions it calls (`@ringkv/store`, bucket always first):
 * `KV.Registry.create(bucket)` -> 'ok'; `KV.Bucket.put(bucket, key, value)` -> 'ok' | 'not_found';
 * `KV.Bucket.get(bucket, key)` -> { value: bytes | null } | 'not_found';
 * `KV.Bucket.delete(bucket, key)` -> 'ok' | 'not_found'; `KV.Registry.lookup(bucket)` -> boolean
 * (SUBSCRIBE: the connection then turns into a stream, see server.ts).
 */
import type { RingkvNode } from '@ringkv/core';
import type { Command } from './command.js';
import { UnexpectedReplyError } from './errors.js';
import { EMPTY_VALUE, NOT_FOUND, OK, SUBSCRIBED, valueReply } from './replies.js';

export const REGISTRY_MODULE = 'KV.Registry';
export const BUCKET_MODULE = 'KV.Bucket';

/** The one method of a node the server needs, so tests can hand in a stub. */
export type Router = Pick<RingkvNode, 'route'>;

/**
 * Resolves to the reply bytes; rejects with the routing or storage error. One `then` on the
 * routed promise rather than an async function awaiting it: a hop less per command. A router
 * that throws instead of rejecting still yields a rejection.
 */
export function runCommand(router: Router, cmd: Command): Promise<Uint8Array> {
  try {
    switch (cmd.op) {
      case 'CREATE':
        return routed(router, cmd.bucket, REGISTRY_MODULE, 'create', [cmd.bucket]).then(createReply);
      case 'PUT':
        return routed(router, cmd.bucket, BUCKET_MODULE, 'put', [cmd.bucket, cmd.key, cmd.value]).then(putReply);
      case 'DELETE':
        return routed(router, cmd.bucket, BUCKET_MODULE, 'delete', [cmd.bucket, cmd.key]).then(deleteReply);
      case 'SUBSCRIBE':
        return routed(router, cmd.bucket, REGISTRY_MODULE, 'lookup', [cmd.bucket]).then(subscribeReply);
      case 'GET':
        return routed(router, cmd.bucket, BUCKET_MODULE, 'get', [cmd.bucket, cmd.key]).then(getReply);
    }
  } catch (err) {
    return Promise.reject(err);
  }
}

// Promise.resolve: a stub router may answer a plain value or a foreign thenable (a native promise passes through as is).
function routed(router: Router, bucket: Uint8Array, mod: string, fun: string, args: unknown[]): Promise<unknown> {
  return Promise.resolve(router.route(bucket, mod, fun, args));
}

function createReply(r: unknown): Uint8Array {
  if (r === 'ok') return OK;
  throw unexpected('KV.Registry.create', r);
}

const putReply = (r: unknown) => okOrNotFound('KV.Bucket.put', r);
const deleteReply = (r: unknown) => okOrNotFound('KV.Bucket.delete', r);

function subscribeReply(r: unknown): Uint8Array {
  if (r === true) return SUBSCRIBED;
  if (r === false) return NOT_FOUND;
  throw unexpected('KV.Registry.lookup', r);
}

function getReply(r: unknown): Uint8Array {
  if (r === 'not_found') return NOT_FOUND;
  if (r !== null && typeof r === 'object' && 'value' in r) {
    const value = (r as { value: unknown }).value;
    if (value === null || value === undefined) return EMPTY_VALUE;
    if (value instanceof Uint8Array) return valueReply(value);
  }
  throw unexpected('KV.Bucket.get', r);
}

function okOrNotFound(fun: string, r: unknown): Uint8Array {
  if (r === 'ok') return OK;
  if (r === 'not_found') return NOT_FOUND;
  throw unexpected(fun, r);
}

function unexpected(fun: string, r: unknown): UnexpectedReplyError {
  let shown: string;
  try {
    shown = JSON.stringify(r)?.slice(0, 100) ?? String(r);
  } catch {
    shown = typeof r;
  }
  return new UnexpectedReplyError(`${fun} answered ${shown}, which the text protocol has no reply for`);
}
