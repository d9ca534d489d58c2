/**
 * The change feed behind SUBSCRIBE: every PUT and DELETE a text server runs successfully is
 * published on a transport topic for its bucket, and every server whose clients subscribed to
 * that bucket receives it, whichever node it runs on (over NATS: subject
 * `ringkv.topic.ringkv.bucket.<...>`). One transport subscription per bucket per server,
 * shared by all its subscribed connections.
 *
 * Changes are published once per event-loop turn per topic, as one message
 * `{ from, changes: [...] }` in the order they were made (up to {@link MAX_BATCH_BYTES} of
 * keys and values per message): on a busy node every PUT was a bus message of its own, which
 * every nats-server paid for even when nobody subscribed. A message holding one change of the
 * older shape `{ bucket, key, value, from }` is still accepted.
 *
 * @example
 * const feed = createChangeFeed(node.transport);
 * const stop = await feed.subscribe(bucket, (c) => console.log(c.key, c.value));
 * feed.publish({ bucket, key, value }); // value null: deleted
 */
import { createHash } from 'node:crypto';
import {
  createLogLimiter,
  NodeUnreachableError,
  silentLogger,
  TimeoutError,
  TRANSPORT_PROBE_MESSAGE,
  TransportError,
  type Listener,
  type Logger,
  type RingkvNode,
  type Transport,
} from '@ringkv/core';

export interface BucketChange {
  readonly bucket: Uint8Array;
  readonly key: Uint8Array;
  /** The new value, or null when the key was deleted. */
  readonly value: Uint8Array | null;
  /** The node whose server made the change (set by the feed that publishes it). */
  readonly from?: string;
}

export interface ChangeFeedOptions {
  /** This node's name: every published change carries it as `from`. */
  node?: string;
  /**
   * Which senders' changes are relayed; others are dropped and logged (rate-limited). It may
   * answer later (a promise): a new sender's changes wait, in order, for the verdict. Without
   * it every well-formed change is relayed. See docs/security.md.
   */
  isMember?: (node: string) => boolean | Promise<boolean>;
}

/** A sender found not to be a member is asked about again after this long. */
const NOT_MEMBER_RETRY_MS = 10_000;
/** Changes kept per sender while its membership is being checked. */
const MAX_WAITING = 1000;
/** Senders remembered; past it, the verdicts start over. */
const MAX_SENDERS = 1024;

export type ChangeListener = (change: BucketChange) => void;

export interface ChangeFeed {
  /** Publishes a change (at most once; failures are logged, never thrown). */
  publish(change: BucketChange): void;
  /** Calls `listener` with the changes of `bucket` until the returned function is called. */
  subscribe(bucket: Uint8Array, listener: ChangeListener): Promise<() => Promise<void>>;
  /** Drops every subscription. */
  close(): Promise<void>;
}

/** Keys and values one published message carries at most (a larger single change goes alone). */
export const MAX_BATCH_BYTES = 64 * 1024;
/** Changes one received message may carry; more is hostile and dropped whole. */
const MAX_CHANGES_PER_MESSAGE = 10_000;

/** Buckets up to this many bytes are named in their topic; longer ones by a SHA-256. */
const NAMED_BUCKET_BYTES = 64;

/**
 * The topic of a bucket: `ringkv.bucket.x<hex>` (short names), `ringkv.bucket.h<sha256>`
 * (long ones; subjects must stay short). Messages carry the bucket, and receivers compare it,
 * so even a hash collision could not deliver another bucket's changes.
 */
export function topicForBucket(bucket: Uint8Array): string {
  if (bucket.length <= NAMED_BUCKET_BYTES) {
    // Built from a table rather than through a Buffer: every PUT and DELETE computes this.
    let hex = '';
    for (let i = 0; i < bucket.length; i++) hex += HEX[bucket[i]!];
    return `ringkv.bucket.x${hex}`;
  }
  const b = Buffer.from(bucket.buffer, bucket.byteOffset, bucket.length);
  return `ringkv.bucket.h${createHash('sha256').update(b).digest('hex')}`;
}

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

type Broadcast = Pick<Transport, 'publish' | 'subscribe'>;

/** A feed over `transport`'s publish/subscribe. Throws when the transport has neither. */
export function createChangeFeed(transport: Broadcast, logger: Logger = silentLogger, options: ChangeFeedOptions = {}): ChangeFeed {
  const { publish, subscribe } = transport;
  if (typeof publish !== 'function' || typeof subscribe !== 'function') {
    throw new TransportError('this transport cannot publish/subscribe, so SUBSCRIBE is not available');
  }
  const topics = new Map<string, { listeners: Set<ChangeListener>; listener: Promise<Listener> }>();

  const { node: self, isMember } = options;
  const limited = createLogLimiter(logger);
  /** Sender -> member (true), or the time it was found not to be one. */
  const verdicts = new Map<string, true | number>();
  const waiting = new Map<string, Array<[string, BucketChange]>>();

  const dropped = (topic: string, who: string) =>
    limited.warn('change from a non-member', `dropped a change event ${who} (topic ${topic})`);
  const notMember = (from: string) => `from ${JSON.stringify(from.slice(0, 200))}, not a member`;

  function remember(from: string, member: boolean): void {
    if (verdicts.size >= MAX_SENDERS) verdicts.clear();
    verdicts.set(from, member ? true : Date.now());
  }

  /** A received message: a batch of one sender's changes, or one change of the older shape. */
  function receive(topic: string, body: unknown): void {
    const batch = body as { changes?: unknown; from?: unknown } | null;
    if (batch === null || typeof batch !== 'object' || !Array.isArray(batch.changes)) return deliver(topic, body);
    if (batch.changes.length > MAX_CHANGES_PER_MESSAGE) return dropped(topic, `of ${batch.changes.length} changes in one message (at most ${MAX_CHANGES_PER_MESSAGE})`);
    for (const c of batch.changes as unknown[]) {
      if (!isChange(c)) return dropped(topic, 'that is malformed');
      if ((c as BucketChange).from !== undefined) return dropped(topic, 'that names its own sender inside a batch');
    }
    for (const c of batch.changes as BucketChange[]) deliver(topic, batch.from === undefined ? c : { ...c, from: batch.from as string });
  }

  function deliver(topic: string, body: unknown): void {
    if (!isChange(body)) return;
    if (!isMember) return relay(topic, body);
    const from = body.from;
    if (typeof from !== 'string') return dropped(topic, 'without a sender');
    const known = verdicts.get(from);
    if (known === true) return relay(topic, body);
    if (typeof known === 'number' && Date.now() - known < NOT_MEMBER_RETRY_MS) return dropped(topic, notMember(from));
    const queue = waiting.get(from);
    if (queue) {
      if (queue.length < MAX_WAITING) queue.push([topic, body]);
      return;
    }
    let verdict: boolean | Promise<boolean>;
    try {
      verdict = isMember(from);
    } catch {
      verdict = false;
    }
    if (typeof verdict === 'boolean') {
      remember(from, verdict);
      return verdict ? relay(topic, body) : dropped(topic, notMember(from));
    }
    waiting.set(from, [[topic, body]]);
    const settle = (member: boolean) => {
      remember(from, member);
      const held = waiting.get(from) ?? [];
      waiting.delete(from);
      for (const [t, change] of held) {
        if (member) relay(t, change);
        else dropped(t, notMember(from));
      }
    };
    verdict.then(settle, () => settle(false));
  }

  function relay(topic: string, body: BucketChange): void {
    const entry = topics.get(topic);
    if (!entry) return;
    for (const listener of entry.listeners) {
      try {
        listener(body);
      } catch (err) {
        logger.warn(`a SUBSCRIBE listener failed: ${(err as Error).message}`);
      }
    }
  }

  // One handler for every failed publish, not a closure per change.
  const notPublished = (err: unknown): void => {
    logger.warn(`change of a bucket not published: ${(err as Error).message}`);
  };

  /** This turn's changes per topic, in order, with their bytes so far. */
  const outbox = new Map<string, { changes: Array<Omit<BucketChange, 'from'>>; bytes: number }>();
  let flushScheduled = false;
  const send = (topic: string, changes: Array<Omit<BucketChange, 'from'>>) => {
    publish.call(transport, topic, self !== undefined ? { from: self, changes } : { changes }).catch(notPublished);
  };
  const flush = () => {
    flushScheduled = false;
    for (const [topic, batch] of outbox) send(topic, batch.changes);
    outbox.clear();
  };

  return {
    publish(change) {
      const { bucket, key, value } = change;
      const topic = topicForBucket(bucket);
      const size = bucket.length + key.length + (value?.length ?? 0);
      let batch = outbox.get(topic);
      if (batch && batch.bytes + size > MAX_BATCH_BYTES) {
        // Full: send what it holds now, in order, and start a new one.
        send(topic, batch.changes);
        batch = undefined;
      }
      if (!batch) {
        batch = { changes: [], bytes: 0 };
        outbox.set(topic, batch);
      }
      batch.changes.push({ bucket, key, value });
      batch.bytes += size;
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
    },
    async subscribe(bucket, listener) {
      const topic = topicForBucket(bucket);
      const own = Buffer.from(bucket);
      // Only this bucket's changes, byte for byte.
      const filtered: ChangeListener = (c) => {
        if (own.equals(Buffer.from(c.bucket.buffer, c.bucket.byteOffset, c.bucket.length))) listener(c);
      };
      let entry = topics.get(topic);
      if (!entry) {
        const listeners = new Set<ChangeListener>();
        const pending = subscribe.call(transport, topic, (body) => receive(topic, body));
        entry = { listeners, listener: pending };
        topics.set(topic, entry);
        pending.catch(() => topics.delete(topic));
      }
      entry.listeners.add(filtered);
      const current = entry;
      try {
        await current.listener;
      } catch (err) {
        current.listeners.delete(filtered);
        throw err;
      }
      let done = false;
      return async () => {
        if (done) return;
        done = true;
        current.listeners.delete(filtered);
        if (current.listeners.size === 0 && topics.get(topic) === current) {
          topics.delete(topic);
          await (await current.listener).close();
        }
      };
    },
    async close() {
      flush();
      const all = [...topics.values()];
      topics.clear();
      await Promise.all(all.map(async (e) => (await e.listener.catch(() => undefined))?.close()));
    },
  };
}

/**
 * The sender rules of a node's feed: changes carry the node's name, and only changes from
 * members are relayed. A member is this node, a node its strategy places buckets on, or a node
 * that answers on its node subject (a server-only node that no table names): under the
 * permissions of docs/security.md only members may serve node subjects. A router that is not a
 * full node (tests) gets no rules.
 */
export function changeFeedSenders(router: object): ChangeFeedOptions {
  const node = router as Partial<Pick<RingkvNode, 'name' | 'strategy' | 'transport'>>;
  if (typeof node.name !== 'string' || typeof node.strategy !== 'function' || !node.transport) return {};
  const self = node.name;
  const strategy = node.strategy.bind(node);
  const transport = node.transport;
  return {
    node: self,
    isMember(name) {
      if (name === self || (strategy().members?.() ?? []).includes(name)) return true;
      // Any answer, even an error, means a process serves that node; unreachable, it is none.
      return transport.request(name, { type: TRANSPORT_PROBE_MESSAGE, body: null }, { timeoutMs: MEMBER_PROBE_TIMEOUT_MS }).then(
        () => true,
        (err: unknown) => !(err instanceof NodeUnreachableError || err instanceof TimeoutError || err instanceof TransportError),
      );
    },
  };
}

const MEMBER_PROBE_TIMEOUT_MS = 2000;

function isChange(body: unknown): body is BucketChange {
  const c = body as BucketChange | null;
  return (
    c !== null &&
    typeof c === 'object' &&
    c.bucket instanceof Uint8Array &&
    c.key instanceof Uint8Array &&
    (c.value === null || c.value instanceof Uint8Array)
  );
}
