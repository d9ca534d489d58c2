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
 * - Riding through a restart of the nats-server (docs/decisions.md): a request made while the
 *   connection is down waits for it to come back (within its timeout) and is sent then; a call
 *   whose reply was lost when the connection dropped is sent again once after the reconnect
 *   when the caller's `idempotent` rule says running it twice is harmless, and fails at once
 *   ("outcome unknown") otherwise; for a short while after a reconnect, "no responders" is
 *   retried every 100 ms (the peer may not have reconnected yet; nobody received the message,
 *   so resending is safe for any message).
 * - Routing calls travel on `ringkv.route.<node>`, every other message on `ringkv.node.<node>`,
 *   so NATS permissions can tell clients from members (docs/security.md).
 * - A node's subjects are its alone: before serving, and every `subjectCheckIntervalMs` while
 *   it serves, it probes them and refuses to start (or to answer) when another process answers
 *   too, saying which (subject-guard.ts).
 *
 * @example
 * const transport = await connectNatsTransport({ url: 'nats://127.0.0.1:4222', name: 'foo@computer-name' });
 * const node = createNode({ name: 'foo@computer-name', transport });
 * await node.start();
 */
import {
  ArgumentError,
  BadRequestError,
  checkTopic,
  createLogLimiter,
  errorToWire,
  NodeUnreachableError,
  redactNatsUrl,
  ROUTE_MESSAGE,
  silentLogger,
  splitNatsUrlCredentials,
  TransportError,
  type Listener,
  type NatsSecurityOptions,
  type Logger,
  type MessageHandler,
  type RequestOptions,
  type TopicHandler,
  type Transport,
  type TransportMessage,
} from '@ringkv/core';
import { connect, createInbox, nuid, type Msg, type NatsConnection, type NatsError, type Subscription } from 'nats';
import { decodeReply, decodeRequest, encodeError, encodeRequest, encodeResult } from './codec.js';
import { connectFailure, natsSecurityOf, securityConnectOptions } from './connection-security.js';
import { createPendingCalls, DEFAULT_SWEEP_INTERVAL_MS } from './pending-calls.js';
import { nodeForSubject, routeSubjectForNode, subjectForNode } from './subject.js';
import {
  createSubjectGuard,
  DEFAULT_SUBJECT_CHECK_INTERVAL_MS,
  describeResponder,
  identityFor,
  PROBE_TYPE,
  type SubjectGuard,
} from './subject-guard.js';

/**
 * Where NATS is, and how to authenticate to it: user and password, token, nkey seed or
 * credentials file (at most one), and TLS. Credentials may also be written into the URL
 * (`nats://user:pass@host`, `nats://token@host`). Secrets are never printed.
 */
export interface NatsTransportOptions extends NatsSecurityOptions {
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
  /** Wait between reconnect attempts, in ms. @default 100 */
  reconnectTimeWaitMs?: number;
  /** Random extra wait added to each reconnect attempt, up to this many ms. @default 100 */
  reconnectJitterMs?: number;
  /**
   * Whether running `msg` twice does no harm (a merge of a full object, a read): such a call
   * whose reply was lost when the connection dropped is sent again after the reconnect.
   * @default every message is treated as not idempotent
   */
  idempotent?: (msg: TransportMessage) => boolean;
  /** Give up the first connection attempt after this long, in ms. @default 5000 */
  connectTimeoutMs?: number;
  /** Try servers in random order (spreads clients over a cluster). @default true */
  randomize?: boolean;
  /**
   * At `listen`, ask whether someone already serves the node and refuse to serve it twice;
   * while serving, check again every `subjectCheckIntervalMs`.
   * @default true
   */
  exclusive?: boolean;
  /** How often a serving node checks that no other process answers on its subjects, ms. @default 10000 */
  subjectCheckIntervalMs?: number;
  /**
   * Hold every request and reply published during one turn of the event loop and hand them to
   * the NATS client together at its end, so that they leave in one socket write instead of one
   * per microtask drain. Measured, it buys nothing on the ring (whose replica messages are
   * already batched per turn), so it is off (docs/ring.md, Performance).
   * @default false
   */
  coalesceWrites?: boolean;
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

const SUBJECT_CACHE_LIMIT = 10_000;
/** After a reconnect, "no responders" may mean the peer has not reconnected yet: retried this long. */
const RECONNECT_GRACE_MS = 3000;
/** Wait before sending again a message that found no responder during the grace period. */
const NO_RESPONDER_RETRY_MS = 100;
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

/** The server URLs of `url`, without any credentials written into them. */
export function parseNatsUrls(url: string | readonly string[]): string[] {
  return splitNatsUrlCredentials(url).urls;
}

export async function connectNatsTransport(options: NatsTransportOptions): Promise<NatsTransport> {
  const { servers, security } = natsSecurityOf(options.url, options);
  const where = redactNatsUrl(servers).split(',').join(', ');
  const logger = options.logger ?? silentLogger;
  const limited = createLogLimiter(logger);
  const { options: auth, describe: authWords } = await securityConnectOptions(security);
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers,
      ...auth,
      ...(options.name ? { name: options.name } : {}),
      timeout: options.connectTimeoutMs ?? 5000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: options.reconnectTimeWaitMs ?? 100,
      reconnectJitter: options.reconnectJitterMs ?? 100,
      pingInterval: 10_000,
      maxPingOut: 2,
      noRandomize: options.randomize === false,
    });
  } catch (err) {
    throw new TransportError(connectFailure(err, where, authWords), { cause: err });
  }

  const coalesce = options.coalesceWrites ?? false;
  const idempotentRule = options.idempotent;
  const isIdempotent = (msg: TransportMessage): boolean => {
    if (!idempotentRule) return false;
    try {
      return idempotentRule(msg) === true;
    } catch {
      return false;
    }
  };
  // What this turn publishes: a request's call id (its message is kept with the pending call,
  // sent only if still pending and held), or a reply's subject, data and what to do when the
  // client refuses it (it throws synchronously, e.g. once closed).
  const outbox: (number | string | Uint8Array | ((err: Error) => void))[] = [];
  let outboxScheduled = false;
  function flushOutbox(): void {
    outboxScheduled = false;
    const out = outbox.splice(0);
    for (let i = 0; i < out.length; i++) {
      const item = out[i]!;
      if (typeof item === 'number') {
        publishRequest(item);
        continue;
      }
      const data = out[i + 1] as Uint8Array;
      const onError = out[i + 2] as (err: Error) => void;
      i += 2;
      try {
        nc.publish(item as string, data);
      } catch (err) {
        onError(err as Error);
      }
    }
  }
  function schedule(): void {
    if (!outboxScheduled) {
      outboxScheduled = true;
      setImmediate(flushOutbox);
    }
  }
  /** Sends a reply now, or at the end of this turn with the turn's other publishes. */
  function sendReply(to: string, data: Uint8Array, onError: (err: Error) => void): void {
    if (!coalesce) {
      try {
        nc.publish(to, data);
      } catch (err) {
        onError(err as Error);
      }
      return;
    }
    outbox.push(to, data, onError);
    schedule();
  }
  /** Sends held call `id` now, or at the end of this turn. */
  function sendRequest(id: number): void {
    if (!coalesce) publishRequest(id);
    else {
      outbox.push(id);
      schedule();
    }
  }
  /** Publishes call `id` if it is still pending and not sent; while down it stays held. */
  function publishRequest(id: number, again = false): void {
    const out = pending.outgoing(id);
    if (!out || (out.state === 'sent' && !again)) return;
    if (!up) {
      out.state = 'held';
      return;
    }
    try {
      nc.publish(out.subject, out.data, { reply: `${inbox}${id}` });
      out.state = 'sent';
    } catch (err) {
      pending.fail(id, (n) => new TransportError(`message to node ${n} cannot be sent: ${(err as Error).message}`, { cause: err }));
    }
  }

  const pending = createPendingCalls({ sweepIntervalMs: options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS });
  const inbox = `${createInbox()}.`;
  let up = true;
  /** When the connection last came back (performance.now()); -Infinity before any reconnect. */
  let reconnectedAt = Number.NEGATIVE_INFINITY;
  let closing = false;
  let closedForGood = false;
  const subjects = new Map<string, string>();
  const exclusive = options.exclusive ?? true;

  const routeSubjects = new Map<string, string>();
  const cached = (cache: Map<string, string>, node: string, make: (n: string) => string): string => {
    let s = cache.get(node);
    if (s === undefined) {
      s = make(node);
      if (cache.size >= SUBJECT_CACHE_LIMIT) cache.clear();
      cache.set(node, s);
    }
    return s;
  };
  const subjectOf = (node: string): string => cached(subjects, node, subjectForNode);
  const routeSubjectOf = (node: string): string => cached(routeSubjects, node, routeSubjectForNode);

  // One subscription for every reply this connection will ever get.
  nc.subscribe(`${inbox}*`, { callback: (_err, m) => onReply(m) });

  const guard: SubjectGuard = createSubjectGuard({
    publish: (subject, data, reply) => nc.publish(subject, data, { reply }),
    inbox,
  });

  function onReply(m: Msg): void {
    const suffix = m.subject.slice(inbox.length);
    if (guard.owns(suffix)) {
      guard.onReply(suffix, m);
      return;
    }
    const id = Number(suffix);
    const node = pending.nodeOf(id);
    if (node === undefined) return; // timed out already, or failed when the connection dropped
    if (m.data.length === 0 && m.headers?.code === 503) {
      // Nobody received it. Right after a reconnect the peer may simply not be back yet.
      if (performance.now() - reconnectedAt < RECONNECT_GRACE_MS && (pending.remainingMs(id) ?? 0) > NO_RESPONDER_RETRY_MS) {
        setTimeout(() => publishRequest(id, true), NO_RESPONDER_RETRY_MS).unref?.();
        return;
      }
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
        // Replies to what was sent are lost with the server: idempotent calls go again after
        // the reconnect (once), the others fail now, their outcome unknown.
        pending.each((id, out) => {
          if (out.state !== 'sent') return;
          if (out.resent === 0 && isIdempotent(out.msg)) {
            out.state = 'held';
            out.resent++;
          } else pending.fail(id, downError);
        });
      } else if (s.type === 'reconnect') {
        up = true;
        reconnectedAt = performance.now();
        logger.info(`NATS connection re-established to ${String(s.data)}`);
        pending.each((id, out) => {
          if (out.state === 'held') sendRequest(id);
        });
      } else if (s.type === 'error') {
        const denied = (s as { permissionContext?: { operation: string; subject: string } }).permissionContext;
        if (denied) onPermissionDenied(denied.operation, denied.subject);
        else logger.warn(`NATS error: ${String(s.data)}`);
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

  // The server drops a publish this user may not make and says so asynchronously: fail the
  // calls waiting on it at once rather than at their timeout.
  function onPermissionDenied(operation: string, subject: string): void {
    const node = nodeForSubject(subject);
    const what = subject.startsWith('ringkv.route.') ? 'routing calls' : 'messages';
    const message = `NATS refused to let this connection ${operation === 'publish' ? 'publish to' : 'subscribe to'} ${subject} (permissions violation)`;
    limited.warn(`denied ${operation}`, message);
    if (operation === 'publish') guard.denied(subject);
    if (operation === 'publish' && node !== undefined) {
      pending.rejectNode(node, (n) => new TransportError(`${message}: this NATS user may not send ${what} to node ${n}`));
    }
  }

  function maxPayload(): number {
    return nc.info?.max_payload ?? 1024 * 1024;
  }

  function request(node: string, msg: TransportMessage, { timeoutMs }: RequestOptions): Promise<unknown> {
    if (closing || closedForGood) return Promise.reject(new TransportError('transport is closed'));
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
      return Promise.reject(new ArgumentError(`timeout must be a positive number of ms, got ${String(timeoutMs)}`));
    }
    let subject: string;
    let data: Uint8Array;
    try {
      subject = msg.type === ROUTE_MESSAGE ? routeSubjectOf(node) : subjectOf(node);
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
    // Held until sent: while the connection is down it waits for the reconnect.
    const { id, promise } = pending.add(node, timeoutMs, { subject, data, msg, state: 'held', resent: 0 });
    if (up) sendRequest(id);
    return promise;
  }

  const instance = nuid.next();
  const checkEveryMs = options.subjectCheckIntervalMs ?? DEFAULT_SUBJECT_CHECK_INTERVAL_MS;

  /** Others answering on `node`'s subjects, each as "<subject> by <who>". */
  async function othersOn(node: string, own: string | undefined): Promise<string[]> {
    const subjectsOfNode = [subjectOf(node), routeSubjectOf(node)];
    const seen = await Promise.all(subjectsOfNode.map((s) => guard.probe(s, own === undefined ? {} : { own })));
    const denied = seen.flat().find((r) => r.kind === 'denied');
    if (denied) {
      throw new TransportError(
        `NATS refused to let this connection publish to ${denied.subject} (permissions violation): this NATS user may not serve node ${node}`,
      );
    }
    return seen.flatMap((list, i) => list.map((r) => `on ${subjectsOfNode[i]} by ${describeResponder(r)}`));
  }

  async function listen(node: string, handler: MessageHandler): Promise<Listener> {
    if (closing || closedForGood) throw new TransportError('transport is closed');
    const subject = subjectOf(node);
    const routeSubject = routeSubjectOf(node);
    if (exclusive) {
      const others = await othersOn(node, undefined);
      if (others.length > 0) {
        throw new TransportError(`node ${node} is already served on this NATS cluster, ${others.join('; ')}; stop that process first`);
      }
    }
    const identity = identityFor(node, instance, new Date());
    let active = 0;
    let drained: (() => void) | undefined;
    /** Set while another process also answers on this node's subjects. */
    let contested: string | undefined;

    function reply(to: string, data: Uint8Array): void {
      const max = maxPayload();
      if (data.length > max) {
        data = encodeError(
          errorToWire(
            new TransportError(`reply of node ${node} is ${data.length} bytes, over the NATS server's max payload of ${max} bytes`),
            node,
          ),
        );
      }
      sendReply(to, data, (err) => limited.warn('reply failed', `node ${node} could not send a reply: ${err.message}`));
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

    function serve(m: Msg, routeOnly: boolean): void {
      const to = m.reply;
      if (!to) {
        // Anyone may send these by the thousand: logged, but rate-limited.
        limited.warn('no reply subject', `node ${node} ignored a message without a reply subject on ${m.subject}`);
        return;
      }
      let req: TransportMessage;
      try {
        req = decodeRequest(m.data);
      } catch (err) {
        limited.warn(
          'malformed request',
          `node ${node} answered a malformed request on ${m.subject} with an error: ${(err as Error).message}`,
        );
        fail(to, err);
        return;
      }
      if (req.type === PROBE_TYPE) {
        ok(to, identity);
        return;
      }
      if (routeOnly && req.type !== ROUTE_MESSAGE) {
        limited.warn('wrong subject', `node ${node} refused a ${JSON.stringify(req.type.slice(0, 64))} message sent to ${m.subject}`);
        fail(to, new BadRequestError(`only routing calls are served on ${m.subject}; other messages go to ${subject}`));
        return;
      }
      if (contested !== undefined) {
        fail(to, new TransportError(`node ${node} refuses to answer while another process also serves it (${contested})`));
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

    let denied: string | undefined;
    const subscribeTo = (s: string, routeOnly: boolean): Subscription =>
      nc.subscribe(s, {
        callback: (err, m) => {
          if (err) {
            if ((err as NatsError).isPermissionError?.()) denied = s;
            else limited.warn('subscription failed', `subscription of node ${node} to ${s} failed: ${err.message}`);
            return;
          }
          serve(m, routeOnly);
        },
      });
    const subs = [subscribeTo(subject, false), subscribeTo(routeSubject, true)];
    const unsubscribeAll = () => {
      for (const sub of subs) if (!sub.isClosed()) sub.unsubscribe();
    };
    // Make sure the server knows the subscriptions before anyone is told we serve them; a
    // permissions violation is reported before the flush's answer.
    await nc.flush();
    if (denied !== undefined) {
      unsubscribeAll();
      throw new TransportError(
        `NATS refused this connection's subscription to ${denied} (permissions violation): this NATS user may not serve node ${node}`,
      );
    }

    let timer: ReturnType<typeof setInterval> | undefined;
    if (exclusive) {
      const others = await othersOn(node, instance);
      if (others.length > 0) {
        unsubscribeAll();
        throw new TransportError(`node ${node} is already served on this NATS cluster, ${others.join('; ')}; stop that process first`);
      }
      let checking = false;
      timer = setInterval(() => {
        if (checking || !up || closing) return;
        checking = true;
        othersOn(node, instance)
          .then((found) => {
            if (found.length > 0) {
              contested = found.join('; ');
              limited.error(
                'subject conflict',
                `node ${node} is also served by another process, ${contested}; refusing to answer calls until it is gone`,
              );
            } else if (contested !== undefined) {
              contested = undefined;
              logger.info(`node ${node} is the only process serving its subjects again; answering calls`);
            }
          })
          .catch(() => {})
          .finally(() => (checking = false));
      }, checkEveryMs);
      timer.unref?.();
    }

    return {
      async close() {
        if (timer) clearInterval(timer);
        await Promise.all(
          subs.map(async (sub) => {
            if (sub.isClosed()) return;
            // Draining needs the server; with the connection down, just stop listening.
            if (up) await withTimeout(sub.drain(), DRAIN_TIMEOUT_MS).catch(() => {});
            if (!sub.isClosed()) sub.unsubscribe();
          }),
        );
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
          limited.warn('malformed topic message', `ignored a malformed message on topic ${topic}: ${(e as Error).message}`);
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
      // Replies (and requests) of this turn still leave before the connection drains.
      if (outboxScheduled && !nc.isClosed()) flushOutbox();
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
