/**
 * The TCP shell around the pure framer, parser and command runner. Per connection, lines are
 * run one after another and answered in order, so pipelined commands see each other's effects
 * and replies never overtake each other, however long each command takes.
 *
 * @example
 * const server = await startServer({ node, port: 4040 });
 * // ... nc localhost 4040
 * await server.close(); // stops accepting, finishes commands in flight, closes connections
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import {
  ArgumentError,
  createLogLimiter,
  DEFAULT_HOST,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_LINE_LENGTH,
  silentLogger,
  TransportError,
  type Logger,
  type LogLimiter,
  type Transport,
} from '@ringkv/core';
import { changeFeedSenders, createChangeFeed, type ChangeFeed } from './change-feed.js';
import { parseLine, type Command } from './command.js';
import { runCommand, type Router } from './command-runner.js';
import { createLineFramer, type FramerEvent } from './line-framer.js';
import { canCarry, changeLine, errorReason, errorReply, LINE_TOO_LONG, OK, SUBSCRIBED, TOO_MANY_CONNECTIONS, UNKNOWN_COMMAND } from './replies.js';

export interface ServerOptions {
  /** The node whose `route` runs every command (its transport carries SUBSCRIBE's changes). */
  node: Router & { readonly transport?: Partial<Pick<Transport, 'publish' | 'subscribe'>> };
  /**
   * Where PUT/DELETE changes are published and SUBSCRIBE listens.
   * @default a feed over the node's transport, when it can publish/subscribe
   */
  feed?: ChangeFeed;
  /** A subscriber further behind than this many bytes of unsent changes is disconnected. @default 8 MiB */
  maxSubscriberBacklog?: number;
  /** TCP port; 0 picks a free one (see {@link RunningServer.port}). */
  port: number;
  /** @default "127.0.0.1" */
  host?: string;
  /** Longest request line in bytes, the LF excluded. @default 65536 */
  maxLineLength?: number;
  /**
   * Complete lines a connection may have waiting before the server stops reading from it
   * (pipelining clients are slowed down instead of growing memory). @default 1024
   */
  maxQueuedLines?: number;
  /**
   * Bytes of complete lines a connection may have waiting before the server stops reading from
   * it. With the partial line (at most `maxLineLength`) this bounds what one connection holds.
   * @default maxLineLength
   */
  maxQueuedBytes?: number;
  /**
   * A connection that neither sent nor received a byte for this long, with no command in flight,
   * is closed (SUBSCRIBE streams are exempt: waiting is what they do). 0 turns it off.
   * @default 300000
   */
  idleTimeoutMs?: number;
  /**
   * Connections served at once; one more is answered `ERROR too many connections` and closed.
   * @default 1024
   */
  maxConnections?: number;
  /**
   * How long close() lets a connection finish the commands it received and hang up before it
   * is cut (a client that never reads its replies would otherwise hold close() forever).
   * @default 10000
   */
  closeGraceMs?: number;
  logger?: Logger;
}

export interface RunningServer {
  /** The port actually listened on. */
  readonly port: number;
  /** Connections open now. */
  connections(): number;
  /** Stops accepting, finishes the commands already received, then closes every connection. */
  close(): Promise<void>;
}

export const DEFAULT_MAX_QUEUED_LINES = 1024;
export const DEFAULT_CLOSE_GRACE_MS = 10_000;
export const DEFAULT_MAX_SUBSCRIBER_BACKLOG = 8 * 1024 * 1024;

interface Connection {
  /** Server is closing: answer what was received, then end. */
  shutdown(): void;
  readonly closed: Promise<void>;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const router = options.node;
  if (!router || typeof router.route !== 'function') throw new ArgumentError('startServer: node must be a ringkv node (with route)');
  const maxLineLength = options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH;
  const maxQueuedLines = options.maxQueuedLines ?? DEFAULT_MAX_QUEUED_LINES;
  const closeGraceMs = options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS;
  const host = options.host ?? DEFAULT_HOST;
  const logger = options.logger ?? silentLogger;
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new ArgumentError(`startServer: port must be an integer from 0 to 65535, got ${String(options.port)}`);
  }
  // Validates maxLineLength once, with a clear error, before anything listens.
  createLineFramer({ maxLineLength });
  const maxQueuedBytes = options.maxQueuedBytes ?? maxLineLength;
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  for (const [name, value, min] of [
    ['maxQueuedLines', maxQueuedLines, 1],
    ['maxQueuedBytes', maxQueuedBytes, 1],
    ['maxConnections', maxConnections, 1],
    ['idleTimeoutMs', idleTimeoutMs, 0],
  ] as const) {
    if (!Number.isInteger(value) || value < min) {
      throw new ArgumentError(`startServer: ${name} must be ${min === 0 ? 'a non-negative' : 'a positive'} integer, got ${String(value)}`);
    }
  }
  const transport = router.transport;
  const ownFeed =
    options.feed === undefined && typeof transport?.publish === 'function' && typeof transport.subscribe === 'function'
      ? createChangeFeed(transport, logger, changeFeedSenders(router))
      : undefined;
  const feed = options.feed ?? ownFeed;
  const maxSubscriberBacklog = options.maxSubscriberBacklog ?? DEFAULT_MAX_SUBSCRIBER_BACKLOG;

  const open = new Set<Connection>();
  let closing = false;
  // Limits a client can hit in a loop: the first line of a kind at once, the rest summed up per 10 s.
  const limits = createLogLimiter(logger, { burst: 1 });
  const connectionCap = capByOpenFiles(maxConnections, logger);

  const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    if (closing) {
      socket.destroy();
      return;
    }
    if (open.size >= connectionCap) {
      const why = connectionCap < maxConnections ? 'the limit the open-file limit leaves (ulimit -n)' : 'the limit (server.maxConnections)';
      limits.warn('max-connections', `text server: refused a connection from ${socket.remoteAddress ?? '?'}: ${open.size} open, ${why}`);
      refuse(socket);
      return;
    }
    const conn = serveConnection(socket, {
      router,
      feed,
      maxLineLength,
      maxQueuedLines,
      maxQueuedBytes,
      idleTimeoutMs,
      closeGraceMs,
      maxSubscriberBacklog,
      logger,
      limits,
    });
    open.add(conn);
    void conn.closed.then(() => open.delete(conn));
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen({ port: options.port, host }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  // Past listen, an error (a failed accept: too many open files, ...) must not end the acceptor.
  server.on('error', (err) => limits.error(`accept:${(err as NodeJS.ErrnoException).code ?? err.message}`, `text server: accepting a connection failed: ${err.message}`));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  logger.info(`Accepting connections on port ${port}`);

  let closed: Promise<void> | undefined;
  return {
    port,
    connections: () => open.size,
    close() {
      closed ??= (async () => {
        closing = true;
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const conn of open) conn.shutdown();
        await Promise.all([...open].map((c) => c.closed));
        await stopped;
        await ownFeed?.close();
        limits.flush();
        logger.info(`Stopped accepting connections on port ${port}`);
      })();
      return closed;
    },
  };
}

/**
 * Descriptors kept free for everything but client connections (storage files, the NATS
 * connection, the refusals themselves, a log file).
 */
const RESERVED_FILES = 64;

/**
 * The most connections the process can accept with its open-file limit. Past that limit libuv
 * accepts and closes connections itself, silently (its EMFILE trick), so nothing could log
 * them; staying below it turns those into refusals the server answers and logs. Linux only
 * (/proc); elsewhere `maxConnections` as configured.
 */
function capByOpenFiles(maxConnections: number, logger: Logger): number {
  let limit: number;
  let used: number;
  try {
    const m = readFileSync('/proc/self/limits', 'utf8').match(/^Max open files\s+(\d+|unlimited)/m);
    if (!m || m[1] === 'unlimited') return maxConnections;
    limit = Number(m[1]);
    used = readdirSync('/proc/self/fd').length;
  } catch {
    return maxConnections;
  }
  const room = Math.max(1, limit - used - RESERVED_FILES);
  if (room >= maxConnections) return maxConnections;
  logger.warn(
    `text server: server.maxConnections is ${maxConnections} but the open-file limit (ulimit -n ${limit}, ${used} in use) leaves room for ${room}; serving at most ${room} connections (raise ulimit -n to serve more)`,
  );
  return room;
}

/** One line saying why, then the connection is closed (it is never served). */
function refuse(socket: Socket): void {
  socket.on('error', () => {});
  // Closed as soon as the line is flushed: under a flood, refused sockets must not pile up.
  socket.end(TOO_MANY_CONNECTIONS, () => socket.destroy());
  // A refused client that does not read or close must not hold the descriptor.
  setTimeout(() => socket.destroy(), 1000).unref();
}

interface ConnectionDeps {
  router: Router;
  feed: ChangeFeed | undefined;
  maxSubscriberBacklog: number;
  maxLineLength: number;
  maxQueuedLines: number;
  maxQueuedBytes: number;
  idleTimeoutMs: number;
  closeGraceMs: number;
  logger: Logger;
  limits: LogLimiter;
}

function serveConnection(socket: Socket, deps: ConnectionDeps): Connection {
  const { router, logger, limits } = deps;
  const framer = createLineFramer({ maxLineLength: deps.maxLineLength });
  let queue: FramerEvent[] = [];
  let head = 0;
  // Bytes of the complete lines in the queue: reading stops past maxQueuedBytes.
  let queuedBytes = 0;
  const full = () => queue.length - head >= deps.maxQueuedLines || queuedBytes >= deps.maxQueuedBytes;
  let running = false; // a routed command is in flight
  let clientEnded = false; // the client half-closed: answer what is queued, then end
  let shuttingDown = false; // the server is closing
  let writeBlocked = false;
  let ending = false;
  // After a successful SUBSCRIBE: the connection only streams changes; input is ignored.
  let streaming = false;
  let unsubscribe: (() => Promise<void>) | undefined;

  let markClosed!: () => void;
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  socket.on('close', () => {
    void unsubscribe?.().catch(() => {});
    markClosed();
  });
  socket.on('error', (err) => logger.debug(`text server: connection error: ${err.message}`));
  if (deps.idleTimeoutMs > 0) {
    socket.setTimeout(deps.idleTimeoutMs);
    socket.on('timeout', () => {
      // A slow command is not an idle client; its reply re-arms the timer.
      if (running || streaming || ending) return;
      limits.warn('idle-timeout', `text server: closed a connection from ${socket.remoteAddress ?? '?'} idle for ${deps.idleTimeoutMs} ms (server.idleTimeoutMs)`);
      framer.reset();
      queue = [];
      head = 0;
      queuedBytes = 0;
      shuttingDown = true;
      endConnection();
      setTimeout(() => socket.destroy(), 1000).unref();
    });
  }

  socket.on('data', (chunk: Buffer) => {
    if (shuttingDown || streaming) return; // read only to see the client hang up
    const events = framer.push(chunk);
    for (const e of events) {
      if (e.type === 'too-long') limits.warn('line-too-long', `text server: a line from ${socket.remoteAddress ?? '?'} passed ${deps.maxLineLength} bytes (server.maxLineLength); answered ERROR line too long`);
      else queuedBytes += e.line.length;
      queue.push(e);
    }
    if (full()) socket.pause();
    drain();
  });
  socket.on('end', () => {
    // A partial line followed by the client closing is never executed.
    framer.reset();
    clientEnded = true;
    if (streaming) endConnection();
    else drain();
  });
  socket.on('drain', () => {
    writeBlocked = false;
    drain();
  });

  // Replies ready to be written, flushed as one write: a pipelined batch costs one system call.
  let out: Uint8Array[] = [];

  function flush(): void {
    if (out.length === 0) return;
    const bytes = out.length === 1 ? out[0]! : Buffer.concat(out);
    out = [];
    if (socket.destroyed || socket.writableEnded) return;
    if (!socket.write(bytes)) writeBlocked = true;
  }

  function drain(): void {
    if (running || streaming) return;
    while (head < queue.length && !writeBlocked) {
      const event = queue[head++]!;
      if (event.type === 'too-long') {
        out.push(LINE_TOO_LONG);
        continue;
      }
      queuedBytes -= event.line.length;
      const parsed = parseLine(event.line);
      if ('error' in parsed) {
        out.push(UNKNOWN_COMMAND);
        continue;
      }
      // Earlier replies go out now, not after this command, however long it takes.
      flush();
      running = true;
      runCommand(router, parsed).then(
        (reply) => finish(reply, parsed),
        (err: unknown) => {
          logger.debug(`text server: ${parsed.op} failed: ${errorReason(err)}`);
          finish(errorReply(err));
        },
      );
      return;
    }
    flush();
    if (head === queue.length) {
      queue = [];
      head = 0;
      queuedBytes = 0;
    }
    const idle = head === queue.length;
    if (idle && (clientEnded || shuttingDown)) {
      endConnection();
      return;
    }
    // Resume reading once the queue has room and replies are flowing again.
    if (!writeBlocked && !shuttingDown && socket.isPaused() && !full()) socket.resume();
    else if (writeBlocked && !socket.isPaused()) socket.pause();
  }

  function finish(reply: Uint8Array, cmd?: Command): void {
    running = false;
    if (reply === SUBSCRIBED && cmd?.op === 'SUBSCRIBE') {
      startStream(cmd.bucket);
      return;
    }
    if (reply === OK && deps.feed && (cmd?.op === 'PUT' || cmd?.op === 'DELETE')) {
      // DELETE notifies even when the key was absent, as in the guide.
      deps.feed.publish({ bucket: cmd.bucket, key: cmd.key, value: cmd.op === 'PUT' ? cmd.value : null });
    }
    out.push(reply);
    drain();
  }

  function startStream(bucket: Uint8Array): void {
    const feed = deps.feed;
    if (!feed) {
      finish(errorReply(new TransportError('this node\'s transport cannot publish/subscribe, so SUBSCRIBE is not available')));
      return;
    }
    // Lines sent after SUBSCRIBE are not commands any more.
    streaming = true;
    queue = [];
    head = 0;
    queuedBytes = 0;
    framer.reset();
    socket.setTimeout(0);
    if (socket.isPaused() && !socket.destroyed) socket.resume();
    feed
      .subscribe(bucket, (change) => {
        if (socket.destroyed || socket.writableEnded) return;
        if (socket.writableLength > deps.maxSubscriberBacklog) {
          logger.warn(`text server: a SUBSCRIBE client fell more than ${deps.maxSubscriberBacklog} bytes behind; disconnected`);
          socket.destroy();
          return;
        }
        if (!canCarry(change.key) || (change.value !== null && !canCarry(change.value))) {
          // Only a message forged on the bus can hold CR or LF here (text-protocol PUTs cannot):
          // written raw, it would forge lines in the stream.
          limits.warn('change-crlf', 'text server: dropped a change whose key or value holds CR or LF, which a SUBSCRIBE stream cannot carry');
          return;
        }
        socket.write(changeLine(change.key, change.value));
      })
      .then(
        (stop) => {
          if (socket.destroyed) void stop().catch(() => {});
          else unsubscribe = stop;
        },
        (err: unknown) => {
          streaming = false;
          finish(errorReply(err));
        },
      );
    if (clientEnded || shuttingDown) endConnection();
  }

  function endConnection(): void {
    if (ending) return;
    ending = true;
    socket.end();
    if (shuttingDown) {
      // Keep reading (and dropping) until the replies are flushed: closing a socket with unread
      // input resets the connection, and a reset can lose the last replies on the client side.
      socket.resume();
      socket.once('finish', () => socket.destroy());
    }
  }

  return {
    closed,
    shutdown() {
      shuttingDown = true;
      setTimeout(() => socket.destroy(), deps.closeGraceMs).unref();
      framer.reset();
      if (streaming) endConnection();
      else drain();
    },
  };
}
