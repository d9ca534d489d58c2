/**
 * Runs one parsed command through `route` and turns the answer into reply bytes. Every bucket
 * operation, CREATE included, is routed by the bucket's bytes, so it runs on the node the
 * strategy names: a server-only node stores nothing itself.
 *
 * The storage functions it calls are the KV protocol of `@ringkv/core` (`kvCall`); SUBSCRIBE
 * looks the bucket up, then the connection turns into a stream (see server.ts). Replies come
 * off the network, so their shape is checked before they become reply bytes.
 */
import { kvCall, kvFunctionName, type KvOp, type Router } from '@ringkv/core';
import type { Command } from './command.js';
import { UnexpectedReplyError, UnrepresentableValueError } from './errors.js';
import { canCarry, EMPTY_VALUE, NOT_FOUND, OK, SUBSCRIBED, valueReply } from './replies.js';

/** The one method of a node the server needs, so tests can hand in a stub. */
export type { Router };

/**
 * Resolves to the reply bytes; rejects with the routing or storage error. One `then` on the
 * routed promise rather than an async function awaiting it: a hop less per command. A router
 * that throws instead of rejecting still yields a rejection.
 */
export function runCommand(router: Router, cmd: Command): Promise<Uint8Array> {
  try {
    switch (cmd.op) {
      case 'CREATE':
        return routed(kvCall(router, 'create', [cmd.bucket])).then(createReply);
      case 'PUT':
        return routed(kvCall(router, 'put', [cmd.bucket, cmd.key, cmd.value])).then(putReply);
      case 'DELETE':
        return routed(kvCall(router, 'delete', [cmd.bucket, cmd.key])).then(deleteReply);
      case 'SUBSCRIBE':
        return routed(kvCall(router, 'lookup', [cmd.bucket])).then(subscribeReply);
      case 'GET':
        return routed(kvCall(router, 'get', [cmd.bucket, cmd.key])).then(getReply);
    }
  } catch (err) {
    return Promise.reject(err);
  }
}

// Promise.resolve: a stub router may answer a plain value or a foreign thenable (a native
// promise passes through as is). `unknown`: the reply crossed the network, it is checked below.
function routed(reply: Promise<unknown>): Promise<unknown> {
  return Promise.resolve(reply);
}

function createReply(r: unknown): Uint8Array {
  if (r === 'ok') return OK;
  throw unexpected('create', r);
}

const putReply = (r: unknown) => okOrNotFound('put', r);
const deleteReply = (r: unknown) => okOrNotFound('delete', r);

function subscribeReply(r: unknown): Uint8Array {
  if (r === true) return SUBSCRIBED;
  if (r === false) return NOT_FOUND;
  throw unexpected('lookup', r);
}

function getReply(r: unknown): Uint8Array {
  if (r === 'not_found') return NOT_FOUND;
  if (r !== null && typeof r === 'object' && 'value' in r) {
    const value = (r as { value: unknown }).value;
    if (value === null || value === undefined) return EMPTY_VALUE;
    if (value instanceof Uint8Array) {
      if (!canCarry(value)) {
        throw new UnrepresentableValueError(
          `the stored value (${value.length} bytes) contains a CR or LF byte, which a text-protocol reply line cannot carry; read it with route (the library or ringkv route)`,
        );
      }
      return valueReply(value);
    }
  }
  throw unexpected('get', r);
}

function okOrNotFound(op: KvOp, r: unknown): Uint8Array {
  if (r === 'ok') return OK;
  if (r === 'not_found') return NOT_FOUND;
  throw unexpected(op, r);
}

function unexpected(op: KvOp, r: unknown): UnexpectedReplyError {
  let shown: string;
  try {
    shown = JSON.stringify(r)?.slice(0, 100) ?? String(r);
  } catch {
    shown = typeof r;
  }
  return new UnexpectedReplyError(`${kvFunctionName(op)} answered ${shown}, which the text protocol has no reply for`);
}
