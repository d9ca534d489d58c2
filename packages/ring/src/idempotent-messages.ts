/**
 * Which ring messages may run twice without harm, so that a transport may send one again when
 * its reply was lost (the NATS transport does, once, after a reconnect: docs/decisions.md,
 * "riding through a NATS restart"). The rule: a message is idempotent when running it a second
 * time leaves the replica as the first run did and answers the same, i.e. merges of whole
 * versioned objects (merging is commutative, associative and idempotent) and reads. Anything
 * that runs a module's write function (`ring.apply` in write mode, a forwarded `route` call),
 * moves or deletes data, or changes an exchange's state is not.
 *
 * @example
 * isIdempotentRingMessage({ type: 'ring.merge', body: { objects, hintFor: null } }); // true
 * isIdempotentRingMessage({ type: 'route', body: call }); // false
 */
import { TRANSPORT_PROBE_MESSAGE, type TransportMessage } from '@ringkv/core';
import { AAE_FETCH_MESSAGE, AAE_STATUS_MESSAGE } from './anti-entropy/messages.js';
import { BATCH_MESSAGE } from './replica-batch.js';
import { APPLY_MESSAGE, HANDOFF_MESSAGE, HINTS_MESSAGE, MERGE_MESSAGE, PING_MESSAGE, REPLICATE_MESSAGE } from './replica-messages.js';

/** Merges of whole objects (then, for `ring.replicate`, the write's read) and plain reads. */
const ALWAYS = new Set<string>([
  REPLICATE_MESSAGE,
  MERGE_MESSAGE,
  HANDOFF_MESSAGE,
  PING_MESSAGE,
  HINTS_MESSAGE,
  AAE_FETCH_MESSAGE,
  AAE_STATUS_MESSAGE,
  TRANSPORT_PROBE_MESSAGE,
]);

function idempotent(type: unknown, body: unknown, depth: number): boolean {
  if (typeof type !== 'string') return false;
  if (ALWAYS.has(type)) return true;
  // A read on a replica; a write there runs the module's function with a given version.
  if (type === APPLY_MESSAGE) return (body as { meta?: { mode?: unknown } } | null)?.meta?.mode === 'read';
  // A batch is as safe as every message in it (a batch never holds a batch).
  if (type === BATCH_MESSAGE && depth === 0) {
    const items = (body as { items?: unknown } | null)?.items;
    return Array.isArray(items) && items.every((i: unknown) => Array.isArray(i) && idempotent(i[0], i[1], depth + 1));
  }
  return false;
}

/** Whether running `msg` twice on its destination does no harm (see above). */
export function isIdempotentRingMessage(msg: TransportMessage): boolean {
  return idempotent(msg.type, msg.body, 0);
}
