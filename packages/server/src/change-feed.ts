/**
 * The change feed behind SUBSCRIBE: every PUT and DELETE a text server runs successfully is
 * published on a transport topic for its bucket, and every server whose clients subscribed to
 * that bucket receives it, whichever node it runs on (over NATS: subject
 * `ringkv.topic.ringkv.bucket.<...>`). One transport subscription per bucket per server,
 * shared by all its subscribed connections.
 *
 * @example
 * const feed = createChangeFeed(node.transport);
 * const stop = await feed.subscribe(bucket, (c) => console.log(c.key, c.value));
 * feed.publish({ bucket, key, value }); // value null: deleted
 */
import { createHash } from 'node:crypto';
import { createLogLimiter, silentLogger, TransportError, type Listener, type Logger, type RingkvNode, type Transport } from '@ringkv/core';

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
   * Which senders' changes are relayed; others are dropped and logged (rate-limited). Without
   * it every well-formed change is relayed. See docs/security.md.
   */
  isMember?: (node: string) => boolean;
}

export type ChangeListener = (change: BucketChange) => void;

export interface ChangeFeed {
  /** Publishes a change (at most once; failures are logged, never thrown). */
  publish(change: BucketChange): void;
  /** Calls `listener` with the changes of `bucket` until the returned function is called. */
  subscribe(bucket: Uint8Array, listener: ChangeListener): Promise<() => Promise<void>>;
  /** Drops every subscription. */
  close(): Promise<void>;
}

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

  function deliver(topic: string, body: unknown): void {
    const entry = topics.get(topic);
    if (!entry || !isChange(body)) return;
    if (isMember && (typeof body.from !== 'string' || !isMember(body.from))) {
      const who = typeof body.from === 'string' ? `from ${JSON.stringify(body.from.slice(0, 200))}, not a member` : 'without a sender';
      limited.warn('change from a non-member', `dropped a change event ${who} (topic ${topic})`);
      return;
    }
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

  return {
    publish(change) {
      const body = { bucket: change.bucket, key: change.key, value: change.value, ...(self !== undefined ? { from: self } : {}) };
      publish.call(transport, topicForBucket(change.bucket), body).catch(notPublished);
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
        const pending = subscribe.call(transport, topic, (body) => deliver(topic, body));
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
      const all = [...topics.values()];
      topics.clear();
      await Promise.all(all.map(async (e) => (await e.listener.catch(() => undefined))?.close()));
    },
  };
}

/**
 * The sender rules of a node's feed: changes carry the node's name, and only changes from
 * members are relayed: this node, or a node its strategy places buckets on. A router that is
 * not a full node (tests) gets no rules.
 */
export function changeFeedSenders(router: object): ChangeFeedOptions {
  const node = router as Partial<Pick<RingkvNode, 'name' | 'strategy'>>;
  if (typeof node.name !== 'string' || typeof node.strategy !== 'function') return {};
  const self = node.name;
  const strategy = node.strategy.bind(node);
  // Members are looked up per event: cached per strategy object, which changes on setStrategy.
  const cache = new WeakMap<object, ReadonlySet<string>>();
  return {
    node: self,
    isMember(name) {
      if (name === self) return true;
      const current = strategy();
      let members = cache.get(current);
      if (!members) cache.set(current, (members = new Set(current.members?.() ?? [])));
      return members.has(name);
    },
  };
}

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
