/**
 * The ringkv {@link Transport} over NATS request/reply.
 *
 * - Each node serves one subject ({@link subjectForNode}); a request is published there with a
 *   reply subject `<inbox>.<call id>` of this connection.
 * - Replies for all calls arrive on ONE wildcard subscription (`<inbox>.*`) and are matched to
 *   a Map of pending calls; ONE coarse timer sweeps timeouts (see pending-calls.ts). The nats
 *   client's `request()` is never used: it builds an Error and a timer per call.
 * - Nobody serving a subject: the server answers at once with a 503 "no responders" status
 *   (enabled by the client for servers with headers), which becomes NodeUnreachableError.
 * - While the connection is down, requests fail at once with TransportError, and calls waiting
 *   for a reply are failed when the connection drops: the client would otherwise buffer them
 *   silently until it reconnects or they time out.
 *
 * @example
 * const transport = await connectNatsTransport({ url: 'nats://127.0.0.1:4222', name: 'foo@computer-name' });
 * const node = createNode({ name: 'foo@computer-name', transport });
 * await node.start();
 */
import {
  ArgumentError,
  checkTopic,
  errorToWire,
  NodeUnreachableError,
  silentLogger,
  TransportError,
  type Listener,
  type Logger,
  type MessageHandler,
  type RequestOptions,
  type TopicHandler,
  type Transport,
  type TransportMessage,
} from '@ringkv/core';
import { connect, createInbox, type Msg, type NatsConnection, type Subscription } from 'nats';
import { decodeReply, decodeRequest, encodeError, encodeRequest, encodeResult } from './codec.js';
import { createPendingCalls, DEFAULT_SWEEP_INTERVAL_MS } from './pending-calls.js';
import { subjectForNode } from './subject.js';

export interface NatsTransportOptions {
  /**
   * NATS server URL; for a cluster give every server, as an array or comma-separated, so the
   * client can move to another one when its server goes away.
   */
  url: string | readonly string[];
  /** Connection name shown by the server (the node name, or `ringkv route`). */
  name?: string;
  logger?: Logger;
  /** How often timed-out calls are swept. @default 20 */
  sweepIntervalMs?: number;
  /** Wait between reconnect attempts, in ms. @default 250 */
  reconnectTimeWaitMs?: number;
  /** Give up the first connection attempt after this long, in ms. @default 5000 */
  connectTimeoutMs?: number;
  /** Try servers in random order (spreads clients over a cluster). @default true */
  randomize?: boolean;
  /**
   * At `listen`, ask whether someone already serves the node and refuse to serve it twice.
   * @default true
   */
  exclusive?: boolean;
}

export interface NatsTransport extends Transport {
  readonly name: 'nats';
  /** Whether the connection to a NATS server is up now. */
  connected(): boolean;
  /** The server currently (or last) connected to. */
  server(): string;
  /** The largest payload the server accepts, in bytes. */
  maxPayload(): number;
  /** Resolves when the connection is closed for good. */
  closed(): Promise<void>;
  /** Publishes on subject `ringkv.topic.<topic>` (at most once, no reply). */
  publish(topic: string, body: unknown): Promise<void>;
  /** Subscribes to subject `ringkv.topic.<topic>`. */
  subscribe(topic: string, handler: TopicHandler): Promise<Listener>;
}

/** Published topics live under this subject prefix: `ringkv.topic.<topic>`. */
export const TOPIC_SUBJECT_PREFIX = 'ringkv.topic.';

/** Message type answered by the transport itself, never passed to a node's handler. */
const PROBE_TYPE = 'ringkv.probe';
const PROBE_TIMEOUT_MS = 2000;
const SUBJECT_CACHE_LIMIT = 10_000;
/** Longest a listener or the connection waits for in-flight work when closing. */
const DRAIN_TIMEOUT_MS = 5000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new TransportError(`gave up waiting after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

export function parseNatsUrls(url: string | readonly string[]): string[] {
  const list = (typeof url === 'string' ? url.split(',') : [...url]).map((u) => String(u).trim()).filter((u) => u !== '');
  if (list.length === 0) throw new ArgumentError('NATS url must name at least one server');
  return list;
}

export async function connectNatsTransport(options: NatsTransportOptions): Promise<NatsTransport> {
  const servers = parseNatsUrls(options.url);
  const logger = options.logger ?? silentLogger;
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers,
      ...(options.name ? { name: options.name } : {}),
      timeout: options.connectTimeoutMs ?? 5000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: options.reconnectTimeWaitMs ?? 250,
      reconnectJitter: 50,
      pingInterval: 10_000,
      maxPingOut: 2,
      noRandomize: options.randomize === false,
    });
  } catch (err) {
    throw new TransportError(`cannot connect to NATS at ${servers.join(', ')}: ${(err as Error).message}`, { cause: err });
  }

  const pending = createPendingCalls({ sweepIntervalMs: options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS });
  const inbox = `${createInbox()}.`;
  let up = true;
  let closing = false;
  let closedForGood = false;
  const subjects = new Map<string, string>();
  const exclusive = options.exclusive ?? true;

  const subjectOf = (node: string): string => {
    let s = subjects.get(node);
    if (s === undefined) {
      s = subjectForNode(node);
      if (subjects.size >= SUBJECT_CACHE_LIMIT) subjects.clear();
      subjects.set(node, s);
    }
    return s;
  };

  // One subscription for every reply this connection will ever get.
  nc.subscribe(`${inbox}*`, { callback: (_err, m) => onReply(m) });

  function onReply(m: Msg): void {
    const id = Number(m.subject.slice(inbox.length));
    const node = pending.nodeOf(id);
    if (node === undefined) return; // timed out already, or failed when the connection dropped
    if (m.data.length === 0 && m.headers?.code === 503) {
      pending.fail(id, (n) => new NodeUnreachableError(`node ${n} is not reachable`));
      return;
    }
    pending.settle(id, decodeReply(m.data, node));
  }

  const downError = (node: string) =>
    new TransportError(`connection to NATS lost while waiting for node ${node}; the call's outcome is unknown`);

  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        up = false;
        logger.warn(`NATS connection to ${String(s.data)} lost; reconnecting`);
        pending.rejectAll(downError);
      } else if (s.type === 'reconnect') {
        up = true;
        logger.info(`NATS connection re-established to ${String(s.data)}`);
      } else if (s.type === 'error') {
        logger.warn(`NATS error: ${String(s.data)}`);
      }
    }
  })().catch((err: unknown) => logger.warn(`NATS status monitor stopped: ${(err as Error).message}`));

  const closedPromise = nc.closed().then((err) => {
    closedForGood = true;
    up = false;
    pending.rejectAll((node) => new TransportError(`transport is closed; call to node ${node} abandoned`));
    pending.stop();
    if (err) logger.warn(`NATS connection closed: ${err.message}`);
  });

  function maxPayload(): number {
    return nc.info?.max_payload ?? 1024 * 1024;
  }

  function request(node: string, msg: TransportMessage, { timeoutMs }: RequestOptions): Promise<unknown> {
    if (closing || closedForGood) return Promise.reject(new TransportError('transport is closed'));
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
      return Promise.reject(new ArgumentError(`timeout must be a positive number of ms, got ${String(timeoutMs)}`));
    }
    if (!up) {
      return Promise.reject(
        new TransportError(`connection to NATS is down (reconnecting to ${servers.join(', ')}); call to node ${node} not sent`),
      );
    }
    let subject: string;
    let data: Uint8Array;
    try {
      subject = subjectOf(node);
      data = encodeRequest(msg);
    } catch (err) {
      return Promise.reject(new TransportError(`message to node ${node} cannot be encoded: ${(err as Error).message}`, { cause: err }));
    }
    const max = maxPayload();
    if (data.length > max) {
      return Promise.reject(
        new TransportError(`message to node ${node} is ${data.length} bytes, over the NATS server's max payload of ${max} bytes`),
      );
    }
    const { id, promise } = pending.add(node, timeoutMs);
    try {
      nc.publish(subject, data, { reply: `${inbox}${id}` });
    } catch (err) {
      pending.fail(id, (n) => new TransportError(`message to node ${n} cannot be sent: ${(err as Error).message}`, { cause: err }));
    }
    return promise;
  }

  async function listen(node: string, handler: MessageHandler): Promise<Listener> {
    if (closing || closedForGood) throw new TransportError('transport is closed');
    const subject = subjectOf(node);
    if (exclusive) {
      const taken = await request(node, { type: PROBE_TYPE, body: null }, { timeoutMs: PROBE_TIMEOUT_MS }).then(
        () => true,
        (err: unknown) => !(err instanceof NodeUnreachableError),
      );
      if (taken) throw new TransportError(`node ${node} is already served on this NATS cluster (subject ${subject})`);
    }
    let active = 0;
    let drained: (() => void) | undefined;

    function reply(to: string, data: Uint8Array): void {
      const max = maxPayload();
      if (data.length > max) {
        data = encodeError(
          errorToWire(new TransportError(`reply of node ${node} is ${data.length} bytes, over the NATS server's max payload of ${max} bytes`), node),
        );
      }
      try {
        nc.publish(to, data);
      } catch (err) {
        logger.warn(`node ${node} could not send a reply: ${(err as Error).message}`);
      }
    }

    function ok(to: string, result: unknown): void {
      let data: Uint8Array;
      try {
        data = encodeResult(result);
      } catch (err) {
        data = encodeError(errorToWire(new TransportError(`reply of node ${node} cannot be encoded: ${(err as Error).message}`), node));
      }
      reply(to, data);
    }

    const fail = (to: string, err: unknown) => reply(to, encodeError(errorToWire(err, node)));

    function done(): void {
      active--;
      if (active === 0 && drained) drained();
    }

    function serve(m: Msg): void {
      const to = m.reply;
      if (!to) {
        logger.warn(`node ${node} ignored a message without a reply subject on ${subject}`);
        return;
      }
      let req: TransportMessage;
      try {
        req = decodeRequest(m.data);
      } catch (err) {
        fail(to, err);
        return;
      }
      if (req.type === PROBE_TYPE) {
        ok(to, node);
        return;
      }
      let out: unknown;
      try {
        out = handler(req);
      } catch (err) {
        fail(to, err);
        return;
      }
      if (out !== null && typeof (out as Promise<unknown>)?.then === 'function') {
        active++;
        (out as Promise<unknown>).then(
          (result) => {
            ok(to, result);
            done();
          },
          (err: unknown) => {
            fail(to, err);
            done();
          },
        );
      } else {
        ok(to, out);
      }
    }

    const sub: Subscription = nc.subscribe(subject, {
      callback: (err, m) => {
        if (err) {
          logger.warn(`subscription of node ${node} failed: ${err.message}`);
          return;
        }
        serve(m);
      },
    });
    // Make sure the server knows the subscription before anyone is told we serve it.
    await nc.flush();
    return {
      async close() {
        if (!sub.isClosed()) {
          // Draining needs the server; with the connection down, just stop listening.
          if (up) await withTimeout(sub.drain(), DRAIN_TIMEOUT_MS).catch(() => {});
          if (!sub.isClosed()) sub.unsubscribe();
        }
        if (active > 0) await withTimeout(new Promise<void>((resolve) => (drained = resolve)), DRAIN_TIMEOUT_MS).catch(() => {});
      },
    };
  }

  // Topics: plain NATS publish/subscribe, at most once, encoded like a request ([topic, body]).
  async function publish(topic: string, body: unknown): Promise<void> {
    if (closing || closedForGood) throw new TransportError('transport is closed');
    checkTopic(topic);
    let data: Uint8Array;
    try {
      data = encodeRequest({ type: topic, body });
    } catch (err) {
      throw new TransportError(`message on topic ${topic} cannot be encoded: ${(err as Error).message}`, { cause: err });
    }
    const max = maxPayload();
    if (data.length > max) {
      throw new TransportError(`message on topic ${topic} is ${data.length} bytes, over the NATS server's max payload of ${max} bytes`);
    }
    nc.publish(`${TOPIC_SUBJECT_PREFIX}${topic}`, data);
  }

  async function subscribe(topic: string, handler: TopicHandler): Promise<Listener> {
    if (closing || closedForGood) throw new TransportError('transport is closed');
    checkTopic(topic);
    const sub = nc.subscribe(`${TOPIC_SUBJECT_PREFIX}${topic}`, {
      callback: (err, m) => {
        if (err) {
          logger.warn(`subscription to topic ${topic} failed: ${err.message}`);
          return;
        }
        let msg: TransportMessage;
        try {
          msg = decodeRequest(m.data);
        } catch (e) {
          logger.warn(`ignored a malformed message on topic ${topic}: ${(e as Error).message}`);
          return;
        }
        try {
          handler(msg.body);
        } catch (e) {
          logger.warn(`a subscriber of topic ${topic} failed: ${(e as Error).message}`);
        }
      },
    });
    // The subscription is known to the server before the caller relies on it.
    await nc.flush();
    return {
      async close() {
        if (!sub.isClosed()) sub.unsubscribe();
      },
    };
  }

  return {
    name: 'nats',
    listen,
    request,
    publish,
    subscribe,
    connected: () => up && !closedForGood,
    server: () => nc.getServer(),
    maxPayload,
    closed: () => closedPromise,
    async close() {
      if (closing) return closedPromise;
      closing = true;
      pending.rejectAll((node) => new TransportError(`transport is closed; call to node ${node} abandoned`));
      if (!nc.isClosed()) {
        // drain() waits for the server; when it is unreachable, close at once.
        if (up) await withTimeout(nc.drain(), DRAIN_TIMEOUT_MS).catch(() => {});
        if (!nc.isClosed()) await nc.close().catch(() => {});
      }
      await closedPromise;
    },
  };
}
