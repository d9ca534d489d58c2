/**
 * The KV protocol: the one home of the bucket functions' names, arities, kinds, argument and
 * reply types, the bucket-listing message, and the typed client every package calls them
 * with. The store registers an implementation of {@link KvFunctions}; the text server, the
 * CLI and the tests call {@link kvCall}. Renaming a function here fails to compile everywhere
 * it is used, instead of failing at run time with an undefined function.
 *
 * @example
 * await kvCall(node, 'create', ['shopping']); // 'ok'
 * await kvCall(node, 'put', ['shopping', 'eggs', '3']); // 'ok' | 'not_found'
 * const reply = await kvCall(node, 'get', ['shopping', 'eggs']); // { value } | 'not_found'
 */
import type { BucketName } from './bucket-name.js';
import type { CallContext, FunctionKind, ModuleRegistry } from './module-registry.js';
import type { VersionedReply } from './replication.js';
import type { VersionVector } from './version-vector.js';
import type { RouteCall, RouteOptions } from './strategy.js';
import type { Transport } from './transport.js';

/** Bytes, or a string taken as its UTF-8 bytes. */
export type KvBytes = Uint8Array | string;

/**
 * What `KV.Bucket.get` answers. Under the ring, a caller that asked for siblings
 * (`{ siblings: true }` in the route options) also gets every concurrent value.
 */
export interface KvGetReply {
  /** The value, or null when the key is not in the bucket (or was deleted). */
  value: Uint8Array | null;
  /** Every concurrent value (null for a concurrent delete), when siblings were asked for. */
  siblings?: Array<Uint8Array | null>;
}

/**
 * What `KV.Bucket.object` answers: get's reply, plus under the ring every sibling (stamp order,
 * null for a delete; [] when the key was never written) and `vclock`, the version vector joined
 * over them: what a writer that saw this answer builds on (the HTTP API's X-Riak-Vclock). The
 * range table keeps one value and no versions: neither field.
 */
export interface KvObjectReply {
  value: Uint8Array | null;
  siblings?: Array<Uint8Array | null>;
  vclock?: VersionVector;
}

/** What `KV.Bucket.keys` answers: the live keys of the bucket in byte order, at most `limit`. */
export interface KvKeysReply {
  keys: Uint8Array[];
  /** More keys exist than were answered. */
  truncated: boolean;
}

export type KvOk = 'ok';
export type KvNotFound = 'not_found';

/** Each operation: its arguments (the bucket always first) and its reply. */
export interface KvSignatures {
  /** Creates the bucket (idempotent; data kept). */
  create: { args: [bucket: KvBytes]; reply: KvOk };
  /** Whether the bucket exists. */
  lookup: { args: [bucket: KvBytes]; reply: boolean };
  put: { args: [bucket: KvBytes, key: KvBytes, value: KvBytes]; reply: KvOk | KvNotFound };
  get: { args: [bucket: KvBytes, key: KvBytes]; reply: KvGetReply | KvNotFound };
  delete: { args: [bucket: KvBytes, key: KvBytes]; reply: KvOk | KvNotFound };
  /** A read like get that also answers siblings and the vclock (the HTTP API reads with it). */
  object: { args: [bucket: KvBytes, key: KvBytes]; reply: KvObjectReply | KvNotFound };
  /**
   * The bucket's live keys as the node that runs it holds them: a `plain` function, so under
   * the ring the first live primary answers alone (a coverage read, like Riak's key listing).
   */
  keys: { args: [bucket: KvBytes, limit: number]; reply: KvKeysReply | KvNotFound };
}

export type KvOp = keyof KvSignatures;
export type KvArgs<O extends KvOp> = KvSignatures[O]['args'];
export type KvReply<O extends KvOp> = KvSignatures[O]['reply'];

export interface KvFunctionDef {
  /** The module and function `route` is called with. */
  readonly mod: string;
  readonly fun: string;
  readonly arity: number;
  readonly kind: FunctionKind;
}

/**
 * Where each operation is registered: the module and function names (the guide's
 * `KV.Registry` and `KV.Bucket`), arity and kind. The only place these names are written.
 */
export const KV_FUNCTIONS: { readonly [O in KvOp]: KvFunctionDef } = {
  create: { mod: 'KV.Registry', fun: 'create', arity: 1, kind: 'write' },
  lookup: { mod: 'KV.Registry', fun: 'lookup', arity: 1, kind: 'read' },
  put: { mod: 'KV.Bucket', fun: 'put', arity: 3, kind: 'write' },
  get: { mod: 'KV.Bucket', fun: 'get', arity: 2, kind: 'read' },
  delete: { mod: 'KV.Bucket', fun: 'delete', arity: 2, kind: 'write' },
  // Named so that it sorts after `get`: a write's version is read with the module's read
  // function of the greatest arity, ties going to the first name (the ring's coordinator).
  object: { mod: 'KV.Bucket', fun: 'object', arity: 2, kind: 'read' },
  keys: { mod: 'KV.Bucket', fun: 'keys', arity: 2, kind: 'plain' },
};

/** `KV.Bucket.put` and so on: how errors and docs name an operation. */
export function kvFunctionName(op: KvOp): string {
  const def = KV_FUNCTIONS[op];
  return `${def.mod}.${def.fun}`;
}

/** What routes a call: a node (`RingkvNode.route`) or anything with the same method. */
export interface Router {
  route(bucket: BucketName, mod: string, fun: string, args?: readonly unknown[], options?: RouteOptions): Promise<unknown>;
}

/**
 * Routes one KV operation with its types checked: the arguments and the reply type come from
 * {@link KvSignatures}, the names from {@link KV_FUNCTIONS}. The bucket routed by is the first
 * argument. The reply is what the function answered; callers that face the network still
 * check its shape.
 */
export function kvCall<O extends KvOp>(router: Router, op: O, args: KvArgs<O>, options?: RouteOptions): Promise<KvReply<O>> {
  const { mod, fun } = KV_FUNCTIONS[op];
  const bucket = args[0];
  const routed = options ? router.route(bucket, mod, fun, args, options) : router.route(bucket, mod, fun, args);
  return routed as Promise<KvReply<O>>;
}

/**
 * An implementation of every KV operation. Arguments arrive as the network delivered them
 * (`unknown`: the implementation checks them); replies are typed by the protocol. Called as a
 * ring replica (`ctx.meta.replica` set), a function answers its stored versions instead
 * ({@link VersionedReply}), which the coordinator merges into the protocol's reply.
 */
/** The same tuple with every element `unknown`. */
type Unknowns<T extends readonly unknown[]> = { [I in keyof T]: unknown } & unknown[];

export type KvImplementation = {
  readonly [O in KvOp]: (
    ctx: CallContext,
    ...args: Unknowns<KvArgs<O>>
  ) => KvReply<O> | VersionedReply | Promise<KvReply<O> | VersionedReply>;
};

/** Registers `impl` under the protocol's names, arities and kinds. */
export function registerKvFunctions(modules: ModuleRegistry, impl: KvImplementation): void {
  for (const op of Object.keys(KV_FUNCTIONS) as KvOp[]) {
    const { mod, fun, arity, kind } = KV_FUNCTIONS[op];
    modules.register(mod, fun, { kind, arity, fn: impl[op] as (ctx: CallContext, ...args: unknown[]) => unknown });
  }
}

/** Message type every storage node answers with what it holds ({@link BucketSummary}[]). */
export const BUCKETS_MESSAGE = 'kv.buckets';

/** One bucket a node holds, in the answer to {@link BUCKETS_MESSAGE}. */
export interface BucketSummary {
  bucket: Uint8Array;
  /** Keys stored (live or tombstoned, under the ring). */
  keys: number;
  /** Bytes of keys and values (encoded records under the ring). */
  bytes: number;
}

/** Message type of a forwarded routing call. */
export const ROUTE_MESSAGE = 'route';

/** The body of a {@link ROUTE_MESSAGE}: the routing call, with the nodes it went through. */
export type RouteMessageBody = RouteCall;

/** Builds the wire body of a routing call, entering the cluster at a node (no path yet). */
export function routeMessageBody(bucket: BucketName, mod: string, fun: string, args: readonly unknown[], options?: RouteOptions, path: readonly string[] = []): RouteMessageBody {
  return options ? { bucket, mod, fun, args, path, options } : { bucket, mod, fun, args, path };
}

/**
 * A {@link Router} for callers that are not nodes (the CLI, tests, tools): each call goes to
 * `via` over `transport`, which routes it with its own strategy as if it had made it. The
 * transport timeout is the per-hop timeout plus `marginMs`, so the node's own timeout error
 * (naming the node that did not answer) arrives before the client gives up.
 *
 * @example
 * const client = remoteRouter(transport, 'foo@computer-name', { timeoutMs: 5000 });
 * await kvCall(client, 'create', ['shopping']);
 */
export function remoteRouter(transport: Transport, via: string, opts: { timeoutMs: number; marginMs?: number }): Router {
  const marginMs = opts.marginMs ?? 1000;
  return {
    route(bucket, mod, fun, args = [], options) {
      const body = routeMessageBody(bucket, mod, fun, args, options);
      const hop = options?.timeoutMs ?? opts.timeoutMs;
      return transport.request(via, { type: ROUTE_MESSAGE, body }, { timeoutMs: hop + marginMs });
    },
  };
}
