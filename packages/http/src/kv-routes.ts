/**
 * The key-value endpoints in Riak's conventions, each one `route` call (or two) like the text
 * server's commands: an HTTP node may own nothing.
 *
 * | endpoint | route call |
 * |---|---|
 * | `GET /buckets/B/keys/K` | `KV.Bucket.object(B, K)` with option `siblings` (200, 300, 404) |
 * | `PUT`/`POST /buckets/B/keys/K` | `KV.Bucket.put(B, K, value)`; on `not_found`, `KV.Registry.create(B)` then put again |
 * | `POST /buckets/B/keys` | the same under a generated key (201 + Location) |
 * | `DELETE /buckets/B/keys/K` | `KV.Bucket.delete(B, K)` (204, 404 for a missing bucket) |
 * | `GET /buckets/B/keys?keys=true\|stream` | `KV.Bucket.keys(B, limit)` |
 * | `GET /buckets?buckets=true` | the `kv.buckets` message to every member (not bucket-routed) |
 *
 * Every path also works under `/types/default`.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { BUCKETS_MESSAGE, kvCall, type KvObjectReply, type Router, type RouteOptions } from '@ringkv/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { strategyMembers } from './cluster-view.js';
import { BadHttpRequestError, HttpError } from './http-errors.js';
import { decodePathSegment, encodePathSegment, rawPathSegments, utf8OrUndefined } from './path-bytes.js';
import { pickBoundary, renderMultipart, renderVtagList, siblingViews } from './siblings.js';
import { checkContentType, unwrapValue, wrapValue } from './value-envelope.js';
import { decodeVclock, encodeVclock } from './vclock.js';
import type { RingkvNode } from '@ringkv/core';

/** Keys one listing answers at most (the store's own cap). */
export const MAX_LISTED_KEYS = 100_000;
/** Keys per chunk of `keys=stream`. */
const STREAM_CHUNK = 1000;

export interface KvRouteDeps {
  router: Router;
  /** For placement (quorum names such as `all`) and for listing buckets on every member. */
  node: RingkvNode;
  /** Wait this long for each member's bucket list. */
  listTimeoutMs: number;
  /** The request's URL as the client sent it (before the router's rewriting). */
  rawUrl(request: FastifyRequest): string;
}

type Query = Record<string, string | string[] | undefined>;

/** The bucket (and key) of a request, from the raw path: `/[types/T/]buckets/B[/keys[/K]]`. */
function target(deps: KvRouteDeps, request: FastifyRequest): { bucket: Uint8Array; key?: Uint8Array } {
  const segments = rawPathSegments(deps.rawUrl(request));
  const at = segments[0] === 'types' ? 2 : 0;
  if (at === 2) {
    const type = segments[1] ?? '';
    if (type !== 'default') throw new HttpError(404, `bucket type ${JSON.stringify(decodeURIComponentSafe(type))} does not exist: ringkv has only "default"`);
  }
  const bucket = decodePathSegment(segments[at + 1] ?? '', 'bucket name');
  if (bucket.length === 0) throw new BadHttpRequestError('the bucket name is empty');
  const keySegment = segments[at + 3];
  if (keySegment === undefined) return { bucket };
  const key = decodePathSegment(keySegment, 'key');
  if (key.length === 0) throw new BadHttpRequestError('the key is empty');
  return { bucket, key };
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function single(query: Query, name: string): string | undefined {
  const v = query[name];
  if (Array.isArray(v)) throw new BadHttpRequestError(`query parameter ${name} is given more than once`);
  return v;
}

/** `r`/`w`/`rw` as Riak takes them: a number, or one, quorum, all, default. */
function quorumParam(query: Query, name: string, n: number): number | undefined {
  const v = single(query, name);
  if (v === undefined || v === 'default') return undefined;
  if (v === 'one') return 1;
  if (v === 'all') return n;
  if (v === 'quorum') return Math.floor(n / 2) + 1;
  if (!/^\d{1,6}$/.test(v)) throw new BadHttpRequestError(`${name} must be a number or one, quorum, all, default; got ${JSON.stringify(v.slice(0, 40))}`);
  const q = Number(v);
  if (q < 1 || q > n) throw new BadHttpRequestError(`${name} must be from 1 to n (${n}), got ${q}`);
  return q;
}

function boolParam(query: Query, name: string): boolean {
  const v = single(query, name);
  if (v === undefined || v === 'false') return false;
  if (v === 'true') return true;
  throw new BadHttpRequestError(`${name} must be true or false, got ${JSON.stringify(v.slice(0, 40))}`);
}

function routeOptions(deps: KvRouteDeps, request: FastifyRequest, bucket: Uint8Array, kind: 'read' | 'write' | 'delete'): RouteOptions {
  const query = request.query as Query;
  for (const unsupported of ['pr', 'pw']) {
    if (query[unsupported] !== undefined) {
      throw new BadHttpRequestError(`${unsupported} is not supported: ringkv has no primary-only quorums (use r and w)`);
    }
  }
  const n = deps.node.strategy().placement(bucket).n;
  const options: RouteOptions = {};
  if (kind === 'read') {
    options.siblings = true;
    const r = quorumParam(query, 'r', n);
    if (r !== undefined) options.r = r;
  } else {
    const w = quorumParam(query, kind === 'delete' && query.rw !== undefined ? 'rw' : 'w', n);
    if (w !== undefined) options.w = w;
    const vclock = request.headers['x-riak-vclock'];
    if (typeof vclock === 'string' && vclock !== '') options.context = decodeVclock(vclock);
  }
  const timeout = single(query, 'timeout');
  if (timeout !== undefined) {
    if (!/^\d{1,7}$/.test(timeout) || Number(timeout) < 1 || Number(timeout) > 3_600_000) {
      throw new BadHttpRequestError('timeout must be a number of milliseconds from 1 to 3600000');
    }
    options.timeoutMs = Number(timeout);
  }
  return options;
}

type ObjectReplyShape = KvObjectReply;

/** The reply crossed the network: its shape is checked, not trusted. */
function objectReply(reply: unknown): ObjectReplyShape | 'not_found' {
  if (reply === 'not_found') return reply;
  if (reply !== null && typeof reply === 'object' && 'value' in reply) {
    const r = reply as ObjectReplyShape;
    const siblingsOk = r.siblings === undefined || (Array.isArray(r.siblings) && r.siblings.every((v) => v === null || v instanceof Uint8Array));
    if ((r.value === null || r.value instanceof Uint8Array) && siblingsOk) return r;
  }
  throw new Error(`KV.Bucket.object answered something the HTTP API cannot show (${typeof reply})`);
}

const NOT_FOUND_BODY = 'not found\n';

/** Answers a read: 200 with the value, 300 with siblings, 404. */
function sendObject(request: FastifyRequest, reply: FastifyReply, answer: ObjectReplyShape | 'not_found', status = 200): FastifyReply {
  if (answer === 'not_found') return reply.code(404).type('text/plain').send(NOT_FOUND_BODY);
  if (answer.vclock) reply.header('X-Riak-Vclock', encodeVclock(answer.vclock));
  const views = siblingViews(answer.siblings ?? [answer.value]);
  const vtag = single(request.query as Query, 'vtag');
  if (vtag !== undefined) {
    const chosen = views.find((v) => v.vtag === vtag);
    if (!chosen) return reply.code(404).type('text/plain').send(`no sibling with vtag ${JSON.stringify(vtag.slice(0, 40))}\n`);
    if (chosen.deleted) return reply.code(404).header('X-Riak-Deleted', 'true').type('text/plain').send(NOT_FOUND_BODY);
    return reply.code(status).header('Etag', chosen.vtag).type(chosen.contentType!).send(Buffer.from(chosen.value!));
  }
  if (views.length > 1) {
    if (/multipart\/mixed/i.test(request.headers.accept ?? '')) {
      const boundary = pickBoundary(views);
      return reply.code(300).type(`multipart/mixed; boundary=${boundary}`).send(renderMultipart(views, boundary));
    }
    return reply.code(300).type('text/plain').send(renderVtagList(views));
  }
  if (answer.value === null) {
    if (views.length === 1) reply.header('X-Riak-Deleted', 'true');
    return reply.code(404).type('text/plain').send(NOT_FOUND_BODY);
  }
  const { contentType, value } = unwrapValue(answer.value);
  if (views[0]) reply.header('Etag', views[0].vtag);
  return reply.code(status).type(contentType).send(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
}

function expectWrite(fun: string, r: unknown): 'ok' | 'not_found' {
  if (r === 'ok' || r === 'not_found') return r;
  throw new Error(`${fun} answered something the HTTP API has no status for`);
}

export function registerKvRoutes(app: FastifyInstance, deps: KvRouteDeps): void {
  const { router } = deps;

  async function fetchObject(request: FastifyRequest, bucket: Uint8Array, key: Uint8Array) {
    return objectReply(await kvCall(router, 'object', [bucket, key], routeOptions(deps, request, bucket, 'read')));
  }

  async function store(request: FastifyRequest, reply: FastifyReply, bucket: Uint8Array, key: Uint8Array, created: boolean) {
    const body = request.body;
    const value = body instanceof Uint8Array ? body : new Uint8Array(0);
    const contentType = checkContentType(request.headers['content-type']);
    const options = routeOptions(deps, request, bucket, 'write');
    const returnBody = boolParam(request.query as Query, 'returnbody');
    const stored = wrapValue(value, contentType);
    let answer = expectWrite('KV.Bucket.put', await kvCall(router, 'put', [bucket, key, stored], options));
    if (answer === 'not_found') {
      // Riak's convention: a PUT to a bucket that does not exist creates it.
      const { context: _context, ...createOptions } = options;
      await kvCall(router, 'create', [bucket], createOptions);
      answer = expectWrite('KV.Bucket.put', await kvCall(router, 'put', [bucket, key, stored], options));
      if (answer === 'not_found') throw new HttpError(503, 'the bucket was created but the write found it missing; try again');
    }
    const location = `/buckets/${encodePathSegment(bucket)}/keys/${encodePathSegment(key)}`;
    if (created) reply.header('Location', location);
    if (returnBody) return sendObject(request, reply, await fetchObject(request, bucket, key), created ? 201 : 200);
    return reply.code(created ? 201 : 204).send();
  }

  const prefixes = ['', '/types/:type'];
  for (const prefix of prefixes) {
    app.get(`${prefix}/buckets/:bucket/keys/:key`, async (request, reply) => {
      const { bucket, key } = target(deps, request);
      return sendObject(request, reply, await fetchObject(request, bucket, key!));
    });
    for (const method of ['PUT', 'POST'] as const) {
      app.route({
        method,
        url: `${prefix}/buckets/:bucket/keys/:key`,
        handler: async (request, reply) => {
          const { bucket, key } = target(deps, request);
          return store(request, reply, bucket, key!, false);
        },
      });
    }
    app.post(`${prefix}/buckets/:bucket/keys`, async (request, reply) => {
      const { bucket } = target(deps, request);
      return store(request, reply, bucket, new TextEncoder().encode(randomBytes(16).toString('base64url')), true);
    });
    app.delete(`${prefix}/buckets/:bucket/keys/:key`, async (request, reply) => {
      const { bucket, key } = target(deps, request);
      const answer = expectWrite('KV.Bucket.delete', await kvCall(router, 'delete', [bucket, key!], routeOptions(deps, request, bucket, 'delete')));
      return answer === 'ok' ? reply.code(204).send() : reply.code(404).type('text/plain').send(NOT_FOUND_BODY);
    });
    app.get(`${prefix}/buckets/:bucket/keys`, async (request, reply) => {
      const { bucket } = target(deps, request);
      const mode = single(request.query as Query, 'keys');
      if (mode !== 'true' && mode !== 'stream') throw new BadHttpRequestError('list keys with ?keys=true or ?keys=stream');
      const options = routeOptions(deps, request, bucket, 'read');
      const { siblings: _siblings, r: _r, ...listOptions } = options;
      const answer: unknown = await kvCall(router, 'keys', [bucket, MAX_LISTED_KEYS], listOptions);
      if (answer !== 'not_found' && !(answer !== null && typeof answer === 'object' && Array.isArray((answer as { keys?: unknown }).keys))) {
        throw new Error('KV.Bucket.keys answered something the HTTP API cannot show');
      }
      const keys = answer === 'not_found' ? [] : (answer as { keys: Uint8Array[] }).keys.filter((k) => k instanceof Uint8Array);
      const truncated = answer !== 'not_found' && (answer as { truncated?: boolean }).truncated === true;
      if (truncated) reply.header('X-Ringkv-Truncated', 'true');
      reply.type('application/json');
      if (mode === 'true') return reply.send(namesJson('keys', keys, truncated));
      // Riak streams one JSON object per chunk; so does this, a chunk at a time.
      const chunks = function* () {
        for (let i = 0; i < keys.length; i += STREAM_CHUNK) yield JSON.stringify(namesJson('keys', keys.slice(i, i + STREAM_CHUNK), false));
        yield JSON.stringify(namesJson('keys', [], truncated));
      };
      return reply.send(Readable.from(chunks()));
    });
    app.get(`${prefix}/buckets/:bucket/props`, async (request, reply) => {
      const { bucket } = target(deps, request);
      const placement = deps.node.strategy().placement(bucket);
      const name = utf8OrUndefined(bucket) ?? encodePathSegment(bucket);
      return reply.type('application/json').send({
        props: { name, n_val: placement.n, r: placement.r, w: placement.w, allow_mult: deps.node.strategy().name === 'ring', last_write_wins: false },
      });
    });
    app.get(`${prefix}/buckets`, async (request, reply) => {
      if (prefix) target(deps, request); // checks the type
      if (single(request.query as Query, 'buckets') !== 'true') throw new BadHttpRequestError('list buckets with ?buckets=true');
      const found = new Map<string, Uint8Array>();
      const unreachable: string[] = [];
      await Promise.all(
        strategyMembers(deps.node).map(async (m) => {
          try {
            const list = await deps.node.send(m.name, BUCKETS_MESSAGE, {}, deps.listTimeoutMs);
            for (const b of Array.isArray(list) ? (list as { bucket?: unknown }[]) : []) {
              if (b.bucket instanceof Uint8Array) found.set(Buffer.from(b.bucket).toString('latin1'), b.bucket);
            }
          } catch (err) {
            if ((err as Error).name !== 'BadRequestError') unreachable.push(m.name); // BadRequest: a node without storage
          }
        }),
      );
      const buckets = [...found.values()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      const body = namesJson('buckets', buckets, false);
      if (unreachable.length) {
        reply.header('X-Ringkv-Unreachable', unreachable.sort().join(', '));
        return reply.type('application/json').send({ ...body, unreachable });
      }
      return reply.type('application/json').send(body);
    });
  }
}

/**
 * Names as JSON: UTF-8 names as strings (Riak's form), names that are not UTF-8
 * percent-encoded under `<field>_percent_encoded` (a ringkv addition).
 */
function namesJson(field: string, names: readonly Uint8Array[], truncated: boolean): Record<string, unknown> {
  const text: string[] = [];
  const encoded: string[] = [];
  for (const n of names) {
    const s = utf8OrUndefined(n);
    if (s === undefined) encoded.push(encodePathSegment(n));
    else text.push(s);
  }
  return { [field]: text, ...(encoded.length ? { [`${field}_percent_encoded`]: encoded } : {}), ...(truncated ? { truncated: true } : {}) };
}
