/**
 * Replica messages batched per destination: every message for one node queued during the same
 * turn of the event loop leaves as ONE transport request (`ring.batch`) whose reply carries one
 * answer per message, in order. Under load this turns a hundred small NATS requests (each a
 * publish, a reply, two msgpack passes and a wake-up of three processes) into a few.
 *
 * A message alone in its turn goes out as itself (no envelope). A batch that fails at the
 * transport level fails every message in it with the same error (none of them is known to
 * have run, which is what a single request failing means too).
 *
 * @example
 * const batcher = createReplicaBatcher({ send: (node, type, body, ms) => host.send(node, type, body, ms) });
 * await Promise.all([batcher.send('b@h', 'ring.replicate', x, 5000), batcher.send('b@h', 'ring.apply', y, 5000)]); // one request
 */
import { BadRequestError, describeType, errorFromWire, errorToWire, type WireError } from '@ringkv/core';

/** Several replica messages to one node: `{ items: [[type, body], ...] }` -> `[[0, result] | [1, error], ...]`. */
export const BATCH_MESSAGE = 'ring.batch';

/** Messages per batch; more queued in one turn go out in several batches. @default 256 */
export const DEFAULT_MAX_BATCH = 256;

export type SendFn = (node: string, type: string, body: unknown, timeoutMs: number) => Promise<unknown>;

export interface ReplicaBatcher {
  send(node: string, type: string, body: unknown, timeoutMs: number): Promise<unknown>;
}

interface Queued {
  type: string;
  body: unknown;
  timeoutMs: number;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

export function createReplicaBatcher(options: { send: SendFn; maxBatch?: number }): ReplicaBatcher {
  const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
  const queues = new Map<string, Queued[]>();
  let scheduled = false;

  function flushAll(): void {
    scheduled = false;
    for (const [node, items] of queues) {
      queues.delete(node);
      for (let i = 0; i < items.length; i += maxBatch) flush(node, items.slice(i, i + maxBatch));
    }
  }

  function flush(node: string, items: Queued[]): void {
    if (items.length === 1) {
      const only = items[0]!;
      options.send(node, only.type, only.body, only.timeoutMs).then(only.resolve, only.reject);
      return;
    }
    const timeoutMs = Math.max(...items.map((i) => i.timeoutMs));
    options.send(node, BATCH_MESSAGE, { items: items.map((i) => [i.type, i.body]) }, timeoutMs).then(
      (reply) => {
        if (!Array.isArray(reply) || reply.length !== items.length) {
          const err = new BadRequestError(`${BATCH_MESSAGE}: ${node} answered ${describeType(reply)} for ${items.length} messages`);
          for (const i of items) i.reject(err);
          return;
        }
        items.forEach((item, k) => {
          const answer = reply[k] as unknown;
          if (Array.isArray(answer) && answer[0] === 0) item.resolve(answer[1]);
          else if (Array.isArray(answer) && answer[0] === 1 && answer[1] !== null && typeof answer[1] === 'object') item.reject(errorFromWire(answer[1] as WireError));
          else item.reject(new BadRequestError(`${BATCH_MESSAGE}: malformed answer ${k} from ${node}`));
        });
      },
      (err: unknown) => {
        for (const i of items) i.reject(err);
      },
    );
  }

  return {
    send(node, type, body, timeoutMs) {
      return new Promise((resolve, reject) => {
        let q = queues.get(node);
        if (!q) queues.set(node, (q = []));
        q.push({ type, body, timeoutMs, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          // After the current I/O phase: everything the calls that arrived together send, together.
          setImmediate(flushAll);
        }
      });
    },
  };
}

/**
 * Serves a `ring.batch` body with `dispatch` (the ring's own handlers, never a batch inside a
 * batch): every message runs, concurrently, and each gets its own answer or error.
 */
export async function serveBatch(body: unknown, dispatch: (type: string, body: unknown) => unknown, self: string): Promise<unknown[]> {
  const items = (body as { items?: unknown } | null)?.items;
  if (!Array.isArray(items)) throw new BadRequestError(`${BATCH_MESSAGE}: items must be an array, got ${describeType(items)}`);
  return Promise.all(
    items.map(async (item: unknown) => {
      try {
        if (!Array.isArray(item) || item.length !== 2 || typeof item[0] !== 'string') {
          throw new BadRequestError(`${BATCH_MESSAGE}: every item must be [type, body]`);
        }
        if (item[0] === BATCH_MESSAGE) throw new BadRequestError(`${BATCH_MESSAGE}: a batch cannot hold a batch`);
        return [0, await dispatch(item[0], item[1])];
      } catch (err) {
        return [1, errorToWire(err, self)];
      }
    }),
  );
}
