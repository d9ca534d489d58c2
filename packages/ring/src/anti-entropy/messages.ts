/**
 * Anti-entropy's replica-level messages (sent with `node.send`, served by handlers the ring
 * strategy registers), how each body is checked before anything runs (a malformed or hostile
 * message gets a BadRequestError, never a crash or an unbounded amount of work), and how their
 * size on the wire is measured.
 *
 * | message | body | reply |
 * |---|---|---|
 * | `ring.aae.hashes` | `{ from, group, level, parents, root? }` | `{ ready, hashes }` (level 0: the root; with `root`, the peer records an in-sync exchange when equal) |
 * | `ring.aae.keys` | `{ group, segments }` | `{ refs, hashes }`: the entries of those segments |
 * | `ring.aae.fetch` | `{ refs }` | `{ objects }`: the peer's primary-area objects |
 * | `ring.aae.done` | `{ from, group, result }` | `'ok'`: the initiator's outcome, so both sides know |
 * | `ring.aae.digests` | `{ group, refs }` | `{ hashes }`: current entry hashes (zero when absent), for reaping |
 * | `ring.aae.reap` | `{ objects }` | number removed (`Replica.reapExact`) |
 *
 * Node indices and segments travel as big-endian uint32 arrays, hashes as 8-byte runs: a
 * 16-way level of 8-byte hashes is 128 bytes plus a few bytes of framing.
 */
import { BadRequestError, describeType, type VersionedObject } from '@ringkv/core';
import { Packr } from 'msgpackr';
import { levelSize, type TreeShape } from './hash-tree.js';

export const AAE_HASHES_MESSAGE = 'ring.aae.hashes';
export const AAE_KEYS_MESSAGE = 'ring.aae.keys';
export const AAE_FETCH_MESSAGE = 'ring.aae.fetch';
export const AAE_DONE_MESSAGE = 'ring.aae.done';
export const AAE_DIGESTS_MESSAGE = 'ring.aae.digests';
export const AAE_REAP_MESSAGE = 'ring.aae.reap';
/**
 * Asks a node how its anti-entropy stands (`ringkv cluster status`): every node started by the
 * CLI answers, with null where none runs (range table, or turned off).
 */
export const AAE_STATUS_MESSAGE = 'ring.aae.status';

/** Refs, segments or objects one message may carry: bounds the work a single message can ask for. */
export const MAX_ITEMS_PER_MESSAGE = 100_000;

/** Result of an exchange as both sides record it. */
export type ExchangeOutcome = 'in-sync' | 'repaired' | 'truncated' | 'failed' | 'not-ready';

export interface HashesRequest {
  from: string;
  group: string;
  level: number;
  parents: number[];
  root?: Uint8Array;
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

/** Bytes `value` takes as a msgpack payload, the NATS transport's encoding. */
export function wireSize(value: unknown): number {
  return packr.pack(value).length;
}

export function packIndices(indices: readonly number[]): Uint8Array {
  const out = new Uint8Array(4 * indices.length);
  const view = new DataView(out.buffer);
  indices.forEach((i, k) => view.setUint32(4 * k, i));
  return out;
}

export function unpackIndices(bytes: unknown, what: string, below: number): number[] {
  if (!(bytes instanceof Uint8Array) || bytes.length % 4 !== 0) throw new BadRequestError(`${what} must be bytes, 4 per index`);
  if (bytes.length / 4 > MAX_ITEMS_PER_MESSAGE) throw new BadRequestError(`${what}: at most ${MAX_ITEMS_PER_MESSAGE} indices per message`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  for (let k = 0; k < bytes.length / 4; k++) {
    const i = view.getUint32(4 * k);
    if (i >= below) throw new BadRequestError(`${what}: index ${i} out of range (below ${below})`);
    out.push(i);
  }
  return out;
}

function body(b: unknown, type: string): Record<string, unknown> {
  if (b === null || typeof b !== 'object' || Array.isArray(b)) throw new BadRequestError(`${type}: body must be an object`);
  return b as Record<string, unknown>;
}

function str(v: unknown, type: string, field: string): string {
  if (typeof v !== 'string' || v === '' || v.length > 64 * 1024)
    throw new BadRequestError(`${type}: ${field} must be a non-empty string, got ${describeType(v)}`);
  return v;
}

export function parseHashes(b: unknown, shape: TreeShape): HashesRequest {
  const o = body(b, AAE_HASHES_MESSAGE);
  const level = o.level;
  if (typeof level !== 'number' || !Number.isInteger(level) || level < 0 || level > shape.depth) {
    throw new BadRequestError(`${AAE_HASHES_MESSAGE}: level must be an integer from 0 to ${shape.depth}, got ${describeType(level)}`);
  }
  const parents = level === 0 ? [] : unpackIndices(o.parents, `${AAE_HASHES_MESSAGE}: parents`, levelSize(shape, level - 1));
  if (o.root !== undefined && !(o.root instanceof Uint8Array && o.root.length === 8))
    throw new BadRequestError(`${AAE_HASHES_MESSAGE}: root must be 8 bytes`);
  return {
    from: str(o.from, AAE_HASHES_MESSAGE, 'from'),
    group: str(o.group, AAE_HASHES_MESSAGE, 'group'),
    level,
    parents,
    ...(o.root instanceof Uint8Array ? { root: o.root } : {}),
  };
}

export function parseKeys(b: unknown, shape: TreeShape): { group: string; segments: number[] } {
  const o = body(b, AAE_KEYS_MESSAGE);
  return {
    group: str(o.group, AAE_KEYS_MESSAGE, 'group'),
    segments: unpackIndices(o.segments, `${AAE_KEYS_MESSAGE}: segments`, levelSize(shape, shape.depth)),
  };
}

export function parseRefs(b: unknown, type: string): { group?: string; refs: Uint8Array[] } {
  const o = body(b, type);
  if (!Array.isArray(o.refs) || o.refs.length > MAX_ITEMS_PER_MESSAGE || !o.refs.every((r) => r instanceof Uint8Array)) {
    throw new BadRequestError(`${type}: refs must be an array of at most ${MAX_ITEMS_PER_MESSAGE} byte strings`);
  }
  return { ...(typeof o.group === 'string' ? { group: o.group } : {}), refs: o.refs as Uint8Array[] };
}

export function parseDone(b: unknown): { from: string; group: string; result: ExchangeOutcome } {
  const o = body(b, AAE_DONE_MESSAGE);
  const result = o.result;
  if (result !== 'in-sync' && result !== 'repaired' && result !== 'truncated' && result !== 'failed' && result !== 'not-ready') {
    throw new BadRequestError(`${AAE_DONE_MESSAGE}: result must be an exchange outcome, got ${describeType(result)}`);
  }
  return { from: str(o.from, AAE_DONE_MESSAGE, 'from'), group: str(o.group, AAE_DONE_MESSAGE, 'group'), result };
}

export function parseReap(b: unknown): { objects: VersionedObject[] } {
  const o = body(b, AAE_REAP_MESSAGE);
  if (!Array.isArray(o.objects) || o.objects.length > MAX_ITEMS_PER_MESSAGE) {
    throw new BadRequestError(`${AAE_REAP_MESSAGE}: objects must be an array of at most ${MAX_ITEMS_PER_MESSAGE}`);
  }
  return { objects: o.objects as VersionedObject[] };
}
