/**
 * `@ringkv/nats`: the ringkv Transport over NATS request/reply. Each node serves one subject
 * derived from its name; payloads are MessagePack; unreachable nodes, timeouts, remote errors,
 * oversized payloads and connection outages each fail with their own clear error.
 *
 * @example
 * import { createNode, createRangeStrategy } from '@ringkv/core';
 * import { connectNatsTransport } from '@ringkv/nats';
 *
 * const transport = await connectNatsTransport({ url: 'nats://127.0.0.1:4222', name: 'foo@computer-name' });
 * const foo = createNode({
 *   name: 'foo@computer-name',
 *   transport,
 *   strategy: createRangeStrategy([{ from: 'a', to: 'z', node: 'foo@computer-name' }]),
 * });
 * await foo.start();
 * await foo.route('hello', 'Kernel', 'node', []); // 'foo@computer-name'
 */
export { connectNatsTransport, parseNatsUrls, type NatsTransport, type NatsTransportOptions } from './nats-transport.js';
export { subjectForNode, routeSubjectForNode, nodeForSubject, subjectToken, NODE_SUBJECT_PREFIX, ROUTE_SUBJECT_PREFIX } from './subject.js';
export { PROBE_TYPE, DEFAULT_SUBJECT_CHECK_INTERVAL_MS, type ProbeIdentity } from './subject-guard.js';
export { encodeRequest, decodeRequest, encodeResult, encodeError, decodeReply, type DecodedReply } from './codec.js';
export { createPendingCalls, DEFAULT_SWEEP_INTERVAL_MS, type PendingCalls, type PendingCallsOptions, type Outcome } from './pending-calls.js';
export { connectClusterStateKv, type ClusterStateKvOptions } from './cluster-state-kv.js';
