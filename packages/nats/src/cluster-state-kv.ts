/**
 * The cluster state in NATS JetStream KV: the store a managed cluster agrees through. Every
 * write is a compare-and-set on the entry's revision (JetStream's "expected last subject
 * sequence"), which is what makes commits and phase changes safe with several writers; a watch
 * (an ordered consumer) tells every node about each change. nats-server must run with
 * JetStream (`nats-server -js -sd <dir>`); the KV bucket is created on first use.
 *
 * @example
 * const store = await connectClusterStateKv({ url: 'nats://127.0.0.1:4222' });
 * const rev = await store.create('cluster.state', bytes);
 * await store.update('cluster.state', next, rev);
 */
import {
  ArgumentError,
  checkRevision,
  checkStateKey,
  checkStateValue,
  DEFAULT_CLUSTER_STATE_BUCKET,
  RevisionMismatchError,
  silentLogger,
  TransportError,
  redactNatsUrl,
  type ClusterStateStore,
  type Logger,
  type NatsSecurityOptions,
  type StateChange,
} from '@ringkv/core';
import { connect, type KV, type KvEntry, type NatsConnection } from 'nats';
import { connectFailure, natsSecurityOf, securityConnectOptions } from './connection-security.js';

/** Where the cluster state is; authenticates as the transport does (`NatsSecurityOptions`, docs/security.md). */
export interface ClusterStateKvOptions extends NatsSecurityOptions {
  url: string | readonly string[];
  /** JetStream KV bucket name. @default DEFAULT_CLUSTER_STATE_BUCKET ('ringkv-cluster') */
  bucket?: string;
  /** Connection name shown by the server. */
  name?: string;
  logger?: Logger;
  /** Give up the first connection attempt after this long, in ms. @default 5000 */
  connectTimeoutMs?: number;
  /** Replicas of the KV stream (on a NATS cluster, 3 survives a server loss). @default 1 */
  replicas?: number;
}

const WRONG_LAST_SEQUENCE = 10071;
const KEYS_TIMEOUT_MS = 5000;
const BUCKET_PATTERN = /^[A-Za-z0-9_-]+$/;

export async function connectClusterStateKv(options: ClusterStateKvOptions): Promise<ClusterStateStore> {
  const bucket = options.bucket ?? DEFAULT_CLUSTER_STATE_BUCKET;
  if (!BUCKET_PATTERN.test(bucket))
    throw new ArgumentError(`cluster state bucket must be letters, digits, _ and -, got ${JSON.stringify(bucket)}`);
  const logger = options.logger ?? silentLogger;
  const { servers, security } = natsSecurityOf(options.url, options);
  const { options: auth, describe: authWords } = await securityConnectOptions(security);
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers,
      ...auth,
      name: options.name ?? 'ringkv cluster state',
      timeout: options.connectTimeoutMs ?? 5000,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
  } catch (err) {
    const where = redactNatsUrl(servers).split(',').join(', ');
    throw new TransportError(`${connectFailure(err, where, authWords)} (for the cluster state)`, { cause: err });
  }
  let kv: KV;
  try {
    kv = await nc.jetstream().views.kv(bucket, { history: 1, ...(options.replicas ? { replicas: options.replicas } : {}) });
  } catch (err) {
    await nc.close().catch(() => {});
    const msg = (err as Error).message;
    const hint = /jetstream not enabled|503|no responders/i.test(msg)
      ? ' (is nats-server running with JetStream? start it with -js -sd <dir>)'
      : '';
    throw new TransportError(`cannot open the cluster state KV bucket ${bucket}: ${msg}${hint}`, { cause: err });
  }

  const live = (e: KvEntry | null) => (e && e.operation === 'PUT' ? e : undefined);
  const casError = (key: string, err: unknown) => {
    const code = (err as { api_error?: { err_code?: number } })?.api_error?.err_code;
    if (code === WRONG_LAST_SEQUENCE || /wrong last sequence|key exists/i.test((err as Error)?.message ?? '')) {
      return new RevisionMismatchError(`cluster state key ${key} changed since it was read`, { cause: err });
    }
    return new TransportError(`cluster state ${key}: ${(err as Error).message}`, { cause: err });
  };
  const watches = new Set<{ stop(): void; restart(): void }>();
  // An ordered consumer notices a restarted server only after missing several heartbeats (tens
  // of seconds); after a reconnect every watch starts again at once from its last revision.
  void (async () => {
    for await (const s of nc.status()) if (s.type === 'reconnect') for (const w of watches) w.restart();
  })().catch(() => undefined);

  return {
    kind: 'jetstream',
    async get(key) {
      checkStateKey(key);
      let e: KvEntry | undefined;
      try {
        e = live(await kv.get(key));
      } catch (err) {
        throw new TransportError(`cluster state ${key}: ${(err as Error).message}`, { cause: err });
      }
      return e && { key, value: Uint8Array.from(e.value), revision: e.revision };
    },
    async create(key, value) {
      checkStateKey(key);
      checkStateValue(value);
      try {
        return await kv.create(key, value);
      } catch (err) {
        throw casError(key, err);
      }
    },
    async update(key, value, revision) {
      checkStateKey(key);
      checkStateValue(value);
      checkRevision(revision);
      try {
        return await kv.update(key, value, revision);
      } catch (err) {
        throw casError(key, err);
      }
    },
    async delete(key) {
      checkStateKey(key);
      try {
        await kv.delete(key);
      } catch (err) {
        throw new TransportError(`cluster state ${key}: ${(err as Error).message}`, { cause: err });
      }
    },
    async keys(prefix = '') {
      const out: string[] = [];
      // Listing runs a consumer; one caught by a server restart can wait forever: bounded.
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        const iter = await kv.keys();
        const expired = new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            iter.stop();
            reject(new Error(`no answer in ${KEYS_TIMEOUT_MS} ms`));
          }, KEYS_TIMEOUT_MS);
        });
        await Promise.race([
          (async () => {
            for await (const k of iter) if (k.startsWith(prefix)) out.push(k);
          })(),
          expired,
        ]);
      } catch (err) {
        throw new TransportError(`cluster state keys: ${(err as Error).message}`, { cause: err });
      } finally {
        clearTimeout(timer);
      }
      return out.sort();
    },
    async watch(handler) {
      if (typeof handler !== 'function') throw new ArgumentError('watch needs a handler function');
      let stopped = false;
      let last = 0;
      const open = () => kv.watch(last > 0 ? { resumeFromRevision: last + 1 } : { include: 'updates' as never });
      // Only changes after now (the watcher reads current values itself): the first consumer
      // exists before watch() resolves, so nothing written after that is missed.
      let iter: Awaited<ReturnType<KV['watch']>> | undefined = await open();
      const run = async () => {
        // An ordered consumer can end when the server goes away; start again after the last
        // revision delivered, so no change is skipped and none repeated.
        while (!stopped) {
          try {
            iter ??= await open();
            for await (const e of iter) {
              if (stopped) break;
              if (e.revision <= last) continue;
              last = e.revision;
              const change: StateChange =
                e.operation === 'PUT'
                  ? { key: e.key, value: Uint8Array.from(e.value), revision: e.revision }
                  : { key: e.key, revision: e.revision, deleted: true };
              try {
                handler(change);
              } catch (err) {
                logger.warn(`cluster state watcher failed: ${(err as Error).message}`);
              }
            }
          } catch (err) {
            if (!stopped) logger.debug(`cluster state watch ended: ${(err as Error).message}; watching again`);
          }
          iter = undefined;
          if (!stopped) await new Promise((r) => setTimeout(r, 250));
        }
      };
      void run();
      const handle = {
        stop() {
          stopped = true;
          iter?.stop();
        },
        restart() {
          iter?.stop();
        },
      };
      watches.add(handle);
      return {
        async close() {
          handle.stop();
          watches.delete(handle);
        },
      };
    },
    async close() {
      for (const w of watches) w.stop();
      watches.clear();
      await nc.drain().catch(() => nc.close());
    },
  };
}
