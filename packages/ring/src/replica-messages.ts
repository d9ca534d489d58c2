/**
 * The ring's replica-level messages (sent with `node.send`, served by handlers the strategy
 * registers in `attach`), and the checks every incoming body passes before anything runs: a
 * malformed message gets a BadRequestError, never a crash.
 */
import {
  BadRequestError,
  bucketBytes,
  describeType,
  REPLICA_MODULE,
  type BucketName,
  type ReplicaMeta,
  type StrategyHost,
  type VersionedObject,
  type VersionedReply,
} from '@ringkv/core';
import { versionDigest } from './read-digest.js';

/**
 * Apply a read or write on this replica: `{ bucket, mod, fun, args, meta: { replica }, digest? }`.
 * A read with `digest: true` is answered `{ digest: [hi, lo] }` of its versioned reply instead of
 * the objects (read-digest.ts).
 */
export const APPLY_MESSAGE = 'ring.apply';
/**
 * The write path's fan-out: `{ objects, hintFor, read? }` -> the objects are merged here
 * (`Replica.merge`), then `read` (the write's read call) runs here and the answer is
 * `{ missed }`: the versions this replica holds that the objects do not cover.
 */
export const REPLICATE_MESSAGE = 'ring.replicate';
/** Liveness probe: `{ from, actor }` -> `{ actor }`. */
export const PING_MESSAGE = 'ring.ping';
/** Read repair: `{ objects, hintFor }` -> merged into this replica with `Replica.merge`. */
export const MERGE_MESSAGE = 'ring.merge';
/** Hinted handoff: `{ objects }` held for this node elsewhere -> merged here, acknowledged. */
export const HANDOFF_MESSAGE = 'ring.handoff';
/** Whether this node holds hinted data for anyone: `{}` -> boolean. */
export const HINTS_MESSAGE = 'ring.hints';

export interface ReplicaCall {
  readonly bucket: BucketName;
  readonly mod: string;
  readonly fun: string;
  readonly args: readonly unknown[];
}

export function parseApply(body: unknown): { call: ReplicaCall; meta: ReplicaMeta; digest: boolean } {
  const b = objectBody(body, APPLY_MESSAGE);
  let bytes: Uint8Array;
  try {
    bytes = bucketBytes(b.bucket as BucketName);
  } catch (err) {
    throw new BadRequestError(`${APPLY_MESSAGE}: ${(err as Error).message}`);
  }
  if (bytes.length === 0) throw new BadRequestError(`${APPLY_MESSAGE}: bucket name is empty`);
  if (typeof b.mod !== 'string' || b.mod === '') throw new BadRequestError(`${APPLY_MESSAGE}: mod must be a non-empty string, got ${describeType(b.mod)}`);
  if (typeof b.fun !== 'string' || b.fun === '') throw new BadRequestError(`${APPLY_MESSAGE}: fun must be a non-empty string, got ${describeType(b.fun)}`);
  if (!Array.isArray(b.args)) throw new BadRequestError(`${APPLY_MESSAGE}: args must be an array, got ${describeType(b.args)}`);
  const meta = b.meta as ReplicaMeta | undefined;
  if (meta === null || typeof meta !== 'object' || (meta.mode !== 'read' && meta.mode !== 'write')) {
    throw new BadRequestError(`${APPLY_MESSAGE}: meta.mode must be "read" or "write"`);
  }
  if (meta.mode === 'write') {
    const v = meta.version as unknown as Record<string, unknown> | undefined;
    if (!v || typeof v !== 'object' || typeof v.ts !== 'number' || typeof v.actor !== 'string' || !v.vv || typeof v.vv !== 'object') {
      throw new BadRequestError(`${APPLY_MESSAGE}: a write needs meta.version {vv, ts, actor}`);
    }
    if (meta.hintFor !== undefined && typeof meta.hintFor !== 'string') throw new BadRequestError(`${APPLY_MESSAGE}: meta.hintFor must be a string`);
  }
  if (b.digest !== undefined && typeof b.digest !== 'boolean') throw new BadRequestError(`${APPLY_MESSAGE}: digest must be true or false, got ${describeType(b.digest)}`);
  if (b.digest === true && meta.mode !== 'read') throw new BadRequestError(`${APPLY_MESSAGE}: only a read can be answered with a digest`);
  return { call: { bucket: b.bucket as BucketName, mod: b.mod, fun: b.fun, args: b.args }, meta, digest: b.digest === true };
}

export function parseObjects(body: unknown, type: string): { objects: VersionedObject[]; hintFor: string | null } {
  const b = objectBody(body, type);
  if (!Array.isArray(b.objects)) throw new BadRequestError(`${type}: objects must be an array`);
  for (const o of b.objects as unknown[]) {
    if (!isVersionedObject(o)) throw new BadRequestError(`${type}: every object needs bucket, key (bytes) and siblings`);
  }
  const hintFor = b.hintFor ?? null;
  if (hintFor !== null && typeof hintFor !== 'string') throw new BadRequestError(`${type}: hintFor must be a node name or null`);
  return { objects: b.objects as VersionedObject[], hintFor };
}

export function parseReplicate(body: unknown): { objects: VersionedObject[]; hintFor: string | null; read: ReplicaCall | undefined } {
  const { objects, hintFor } = parseObjects(body, REPLICATE_MESSAGE);
  const read = (body as { read?: unknown }).read;
  if (read === undefined || read === null) return { objects, hintFor, read: undefined };
  const r = objectBody(read, `${REPLICATE_MESSAGE} read`);
  const bytesOk = typeof r.bucket === 'string' || r.bucket instanceof Uint8Array;
  if (!bytesOk || typeof r.mod !== 'string' || typeof r.fun !== 'string' || !Array.isArray(r.args)) {
    throw new BadRequestError(`${REPLICATE_MESSAGE}: read must be {bucket, mod, fun, args}`);
  }
  return { objects, hintFor, read: { bucket: r.bucket as BucketName, mod: r.mod, fun: r.fun, args: r.args } };
}

export function isVersionedObject(o: unknown): o is VersionedObject {
  if (o === null || typeof o !== 'object') return false;
  const v = o as Record<string, unknown>;
  return (typeof v.bucket === 'string' || v.bucket instanceof Uint8Array) && v.key instanceof Uint8Array && Array.isArray(v.siblings);
}

/** Runs a registered function on this node with replica meta, checking its kind matches the mode. */
export async function applyOnReplica(node: StrategyHost, call: ReplicaCall, meta: ReplicaMeta): Promise<unknown> {
  const def = node.modules.resolve(call.mod, call.fun, call.args.length, node.name);
  if (meta.mode !== 'resolve' && def.kind !== meta.mode) {
    throw new BadRequestError(`${call.mod}.${call.fun}/${call.args.length} is a ${def.kind} function, not a ${meta.mode} on node ${node.name}`);
  }
  return def.fn({ node: node.name, bucket: call.bucket, meta: { replica: meta } }, ...call.args);
}

/**
 * Serves a parsed `ring.apply`: the function's answer, or for a digest read the digest of the
 * objects it answered (a function that does not answer a versioned reply is answered as it is,
 * and the coordinator, finding no digest, reads it in full).
 */
export async function serveApply(node: StrategyHost, call: ReplicaCall, meta: ReplicaMeta, digest: boolean): Promise<unknown> {
  const reply = await applyOnReplica(node, call, meta);
  if (!digest) return reply;
  const objects = versionedObjects(reply);
  return objects ? { digest: versionDigest(objects) } : reply;
}

/** The objects of a versioned reply (`{ objects }`, every one a versioned object), or undefined. */
export function versionedObjects(reply: unknown): readonly VersionedObject[] | undefined {
  const objects = (reply as VersionedReply | null | undefined)?.objects;
  return Array.isArray(objects) && objects.every(isVersionedObject) ? objects : undefined;
}

/** Runs `Replica.<fun>` on this node (storage's side of read repair and handoff). */
export async function replicaFn(node: StrategyHost, fun: string, args: readonly unknown[]): Promise<unknown> {
  const def = node.modules.resolve(REPLICA_MODULE, fun, args.length, node.name);
  return def.fn({ node: node.name, bucket: new Uint8Array(0), meta: {} }, ...args);
}

/** Whether this node's storage speaks the replication contract (registers `Replica`). */
export function hasReplicaModule(node: StrategyHost): boolean {
  return node.modules.lookup(REPLICA_MODULE, 'merge', 2) !== undefined;
}

function objectBody(body: unknown, type: string): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new BadRequestError(`${type}: body must be an object`);
  return body as Record<string, unknown>;
}
