/**
 * The HTTP server of a node (fastify): the Riak-style key-value API (kv-routes.ts), `/ping`,
 * `/stats`, Prometheus `/metrics`, the live dashboard at `/` with its data at `/cluster`.
 *
 * Limits keep memory bounded whatever clients send: request bodies up to `bodyLimit` (413
 * beyond), at most `maxConnections` sockets (more are dropped, with a log line), sockets idle
 * for `idleTimeoutMs` closed, a request that takes longer than `requestTimeoutMs` to arrive cut,
 * headers bounded by Node's 16 KiB header limit.
 *
 * @example
 * const http = await startHttpServer({ node, port: 8098 });
 * // curl -X PUT -H 'Content-Type: text/plain' --data 3 localhost:8098/buckets/shopping/keys/eggs
 * await http.close();
 */
import { readFileSync } from 'node:fs';
import { ArgumentError, createLogLimiter, DEFAULT_HOST, silentLogger, type Logger, type RingkvNode, type Router } from '@ringkv/core';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { takeClusterView, type ClusterStatsSource, type ClusterView } from './cluster-view.js';
import { errorAnswer, oneLine } from './error-status.js';
import { registerKvRoutes } from './kv-routes.js';
import { createNodeMetrics, type NodeMetrics } from './metrics.js';
import { nodeStats } from './node-stats.js';

/** Riak's HTTP port. */
export const DEFAULT_HTTP_PORT = 8098;
/** Largest request body (a value), 1 MiB: NATS's default message size, so a value can cross any hop. */
export const DEFAULT_HTTP_BODY_LIMIT = 1024 * 1024;
export const DEFAULT_HTTP_MAX_CONNECTIONS = 256;
export const DEFAULT_HTTP_IDLE_TIMEOUT_MS = 30_000;
export const DEFAULT_HTTP_REQUEST_TIMEOUT_MS = 30_000;
/** How long a dashboard view of the cluster is reused (many viewers, one fan-out). */
const VIEW_CACHE_MS = 500;

export interface HttpServerOptions {
  /** The node whose `route` runs every call. */
  node: RingkvNode;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** @default "127.0.0.1" */
  host?: string;
  /** The node's metrics; shared with the text server when both run. @default new metrics for `node` */
  metrics?: NodeMetrics;
  /** Numbers from storage, membership and anti-entropy (see {@link ClusterStatsSource}). */
  source?: ClusterStatsSource;
  /** @default 1 MiB */
  bodyLimit?: number;
  /** @default 256 */
  maxConnections?: number;
  /** @default 30000 */
  idleTimeoutMs?: number;
  /** @default 30000 */
  requestTimeoutMs?: number;
  /** How long close() lets requests in flight finish before cutting connections. @default 5000 */
  closeGraceMs?: number;
  logger?: Logger;
}

export interface RunningHttpServer {
  readonly port: number;
  readonly metrics: NodeMetrics;
  /** The fastify instance (tests use `inject`). */
  readonly app: FastifyInstance;
  /** Stops accepting, lets requests in flight finish, closes. */
  close(): Promise<void>;
}

const dashboardHtml = (() => {
  let cached: string | undefined;
  return () => (cached ??= readFileSync(new URL('../assets/dashboard.html', import.meta.url), 'utf8'));
})();

function positiveInt(name: string, v: number | undefined, fallback: number): number {
  const n = v ?? fallback;
  if (!Number.isInteger(n) || n < 1) throw new ArgumentError(`startHttpServer: ${name} must be a positive integer, got ${String(v)}`);
  return n;
}

export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const { node } = options;
  if (!node || typeof node.route !== 'function') throw new ArgumentError('startHttpServer: node must be a ringkv node');
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new ArgumentError(`startHttpServer: port must be an integer from 0 to 65535, got ${String(options.port)}`);
  }
  const logger = options.logger ?? silentLogger;
  const bodyLimit = positiveInt('bodyLimit', options.bodyLimit, DEFAULT_HTTP_BODY_LIMIT);
  const maxConnections = positiveInt('maxConnections', options.maxConnections, DEFAULT_HTTP_MAX_CONNECTIONS);
  const idleTimeoutMs = positiveInt('idleTimeoutMs', options.idleTimeoutMs, DEFAULT_HTTP_IDLE_TIMEOUT_MS);
  const requestTimeoutMs = positiveInt('requestTimeoutMs', options.requestTimeoutMs, DEFAULT_HTTP_REQUEST_TIMEOUT_MS);
  const closeGraceMs = positiveInt('closeGraceMs', options.closeGraceMs, 5000);
  const metrics = options.metrics ?? createNodeMetrics({ node, ...(options.source ? { source: options.source } : {}) });
  const router: Router = metrics.meter(node, 'http');
  // Limits a client can hit in a loop: the first line of a kind at once, the rest summed up per 10 s.
  const limits = createLogLimiter(logger, { burst: 1 });
  const limitLog = (kind: string, message: string) => limits.warn(kind, message);

  const rawUrls = new WeakMap<object, string>();
  const app = Fastify({
    logger: false,
    bodyLimit,
    connectionTimeout: idleTimeoutMs,
    requestTimeout: requestTimeoutMs,
    keepAliveTimeout: Math.min(5000, idleTimeoutMs),
    // Keys and bucket names may be long; the URL is bounded by Node's header limit anyway.
    routerOptions: { maxParamLength: 16 * 1024, ignoreDuplicateSlashes: false },
    return503OnClosing: true,
    // Keys are bytes: the router would refuse a path whose escapes are not UTF-8 (`%FF`). It
    // routes on the path with every `%` escaped instead; handlers decode the raw path
    // themselves (path-bytes.ts), byte by byte.
    rewriteUrl: (req) => {
      const url = req.url ?? '/';
      rawUrls.set(req, url);
      const q = url.indexOf('?');
      return q === -1 ? url.replace(/%/g, '%25') : `${url.slice(0, q).replace(/%/g, '%25')}${url.slice(q)}`;
    },
  });
  app.server.maxConnections = maxConnections;
  app.server.on('drop', () => limitLog('connections', `HTTP: connection refused, ${maxConnections} connections already open (http.maxConnections)`));
  // A 'timeout' listener takes over from Node's default, which destroys the socket: do it here.
  app.server.on('timeout', (socket: import('node:net').Socket) => {
    limitLog('timeout', `HTTP: closed a connection idle for ${idleTimeoutMs} ms (http.idleTimeoutMs)`);
    socket.destroy();
  });

  // Values are bytes whatever their type: one parser for every content type, and none of
  // fastify's JSON or text parsing (a JSON value is stored as sent, not parsed).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.setErrorHandler((error: FastifyError, request, reply) => {
    let answer = errorAnswer(error);
    // fastify's own errors (body too large, bad Content-Length) carry their status.
    if (typeof error.statusCode === 'number' && error.code?.startsWith('FST_')) {
      answer = { status: error.statusCode, name: error.code, reason: oneLine(error.message), outcome: error.statusCode === 413 ? 'too_large' : 'bad_request' };
      if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
        answer = { status: 400, name: 'BadHttpRequestError', reason: 'BadHttpRequestError: Content-Type must be a media type such as text/plain', outcome: 'bad_request' };
      }
      if (error.statusCode === 413) {
        answer.reason = `request body is larger than the limit of ${bodyLimit} bytes (http.bodyLimit)`;
        limitLog('body', `HTTP: refused a body over ${bodyLimit} bytes (${request.method} ${oneLine(request.url, 200)})`);
      }
    }
    if (answer.status >= 500 && answer.outcome === 'error') logger.warn(`HTTP ${request.method}: ${answer.reason}`);
    return reply.code(answer.status).header('X-Ringkv-Error', answer.name).type('text/plain').send(`${answer.reason}\n`);
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).type('text/plain').send(`no such resource: ${oneLine(request.method)} ${oneLine((rawUrls.get(request.raw) ?? request.url).split('?')[0] ?? '', 200)}\n`),
  );
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpResponse(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode);
  });

  let view: Promise<ClusterView> | undefined;
  let viewAt = 0;
  const clusterView = (): Promise<ClusterView> => {
    if (!view || Date.now() - viewAt > VIEW_CACHE_MS) {
      viewAt = Date.now();
      view = takeClusterView({ node, ...(options.source ? { source: options.source } : {}) });
    }
    return view;
  };

  app.get('/ping', async (_request, reply) => reply.type('text/plain').send('OK'));
  app.get('/stats', async (_request, reply) => reply.type('application/json').send(await nodeStats({ node, metrics, view: await clusterView(), ...(options.source ? { source: options.source } : {}) })));
  app.get('/metrics', async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
  app.get('/cluster', async (_request, reply) => reply.type('application/json').header('Cache-Control', 'no-store').send(await clusterView()));
  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(dashboardHtml()));
  registerKvRoutes(app, { router, node, listTimeoutMs: 5000, rawUrl: (request) => rawUrls.get(request.raw) ?? request.url });

  await app.listen({ port: options.port, host: options.host ?? DEFAULT_HOST });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  let closed: Promise<void> | undefined;
  return {
    port,
    metrics,
    app,
    close: () =>
      (closed ??= (async () => {
        // Requests in flight get closeGraceMs to finish; then every socket is cut, so a client
        // that keeps a connection busy (a dashboard polling) cannot hold the node's stop forever.
        const force = setTimeout(() => app.server.closeAllConnections(), closeGraceMs);
        try {
          await app.close();
        } finally {
          clearTimeout(force);
          limits.flush();
        }
      })()),
  };
}
