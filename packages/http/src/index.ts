/**
 * `@ringkv/http`: ringkv's HTTP API in Riak's conventions (`/buckets/B/keys/K`, X-Riak-Vclock,
 * 300 Multiple Choices), `/stats`, Prometheus `/metrics` and a live dashboard of the ring at
 * `/`, on fastify and prom-client. Every call goes through the node's `route`.
 *
 * @example
 * import { startLocalCluster } from '@ringkv/core';
 * import { startHttpServer } from '@ringkv/http';
 *
 * const cluster = await startLocalCluster([{ name: 'foo@computer-name', routingTable: [{ from: 0, to: 255, node: 'foo@computer-name' }] }]);
 * const http = await startHttpServer({ node: cluster.node('foo@computer-name'), port: 0 });
 * const pong = await fetch(`http://127.0.0.1:${http.port}/ping`); // 200 OK
 * await http.close();
 * await cluster.stop();
 */
export * from './http-server.js';
export * from './metrics.js';
export * from './cluster-view.js';
export * from './http-errors.js';
export { errorAnswer, type ErrorAnswer } from './error-status.js';
export { decodePathSegment, encodePathSegment } from './path-bytes.js';
export { checkContentType, DEFAULT_CONTENT_TYPE, unwrapValue, wrapValue, type TypedValue } from './value-envelope.js';
export { decodeVclock, encodeVclock } from './vclock.js';
export { MAX_LISTED_KEYS } from './kv-routes.js';
