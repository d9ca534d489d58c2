/**
 * One anti-entropy exchange between this replica and one peer, over one tree (one replica
 * group): compare roots; while hashes differ, ask for the children of the differing nodes
 * only, level by level, down to the segments; compare the segments' entries; then repair each
 * differing object both ways with the version-vector merge read repair uses (pull what the
 * peer has and this node lacks or holds differently, merge it here; push what this node has,
 * merged, to the peer). Merging is idempotent and commutative, so after both directions the
 * two replicas hold the same sibling set for every object compared.
 *
 * The protocol is written against {@link ExchangePeer} (messages in anti-entropy.ts, an
 * in-memory peer in the tests), and is bounded: at most `maxKeys` objects repaired per
 * exchange (the rest is left for a follow-up, `truncated`), sent in batches of `batchSize`,
 * each batch paced by `pace` (the node's rate limit).
 */
import type { VersionedObject } from '@ringkv/core';
import { encodeRef, entryHash, refId } from './object-digest.js';
import { HASH_BYTES, levelSize, sameHashAt, type EntryHash, type HashTree } from './hash-tree.js';

/** The peer's answer to a root request when its tree is not built yet (restarting). */
export const NOT_READY = 'not-ready' as const;

export interface ExchangePeer {
  /** The peer's root hash. `mine` is this node's root, so the peer can tell it is in sync too. */
  root(mine: Uint8Array): Promise<Uint8Array | typeof NOT_READY>;
  /** Hashes of every child (at `level`) of `parents` (at `level - 1`), fanout per parent, in order. */
  children(level: number, parents: readonly number[]): Promise<Uint8Array>;
  /** Entries of the peer's segments. */
  keys(segments: readonly number[]): Promise<ReadonlyArray<readonly [id: string, hash: EntryHash]>>;
  /** The peer's objects for these ids (empty siblings when absent there). */
  fetch(ids: readonly string[]): Promise<VersionedObject[]>;
  /** Merges objects into the peer (its primary area). */
  merge(objects: readonly VersionedObject[]): Promise<void>;
}

export interface ExchangeLocal {
  readonly tree: HashTree;
  /** This node's objects for these ids. */
  fetch(ids: readonly string[]): Promise<VersionedObject[]>;
  /** Merges objects into this node. */
  merge(objects: readonly VersionedObject[]): Promise<void>;
}

export interface ExchangeLimits {
  /** Objects repaired at most per exchange. */
  maxKeys: number;
  /** Objects per repair message. */
  batchSize: number;
  /** Waits until `count` more objects may be repaired (rate limit). */
  pace?(count: number): Promise<void>;
}

export interface ExchangeResult {
  /** Roots were equal: nothing else was sent. */
  readonly inSync: boolean;
  /** False when the peer's tree was not built yet (nothing compared). */
  readonly ready: boolean;
  /** Segments whose entries were compared. */
  readonly segments: number;
  /** Objects found different (absent on one side, or different sibling sets). */
  readonly differing: number;
  /** Objects merged into the peer. */
  readonly pushed: number;
  /** Objects merged into this node. */
  readonly pulled: number;
  /** More differed than `maxKeys`: a follow-up exchange has work left. */
  readonly truncated: boolean;
}

export async function runExchange(local: ExchangeLocal, peer: ExchangePeer, limits: ExchangeLimits): Promise<ExchangeResult> {
  const { tree } = local;
  const shape = tree.shape;
  const mine = tree.root();
  const theirs = await peer.root(mine);
  const result = { inSync: false, ready: true, segments: 0, differing: 0, pushed: 0, pulled: 0, truncated: false };
  if (theirs === NOT_READY) return { ...result, ready: false };
  if (sameHashAt(mine, 0, theirs, 0)) return { ...result, inSync: true };

  // Descend: only the children of differing nodes are asked for.
  let differing = [0];
  for (let level = 1; level <= shape.depth && differing.length > 0; level++) {
    const hashes = await peer.children(level, differing);
    if (hashes.length !== differing.length * shape.fanout * HASH_BYTES) {
      throw new RangeError(`peer answered ${hashes.length / HASH_BYTES} hashes for ${differing.length * shape.fanout} nodes`);
    }
    const kids = differing.flatMap((p) => Array.from({ length: shape.fanout }, (_, c) => p * shape.fanout + c));
    const own = tree.hashes(level, kids);
    differing = kids.filter((_, k) => !sameHashAt(own, k, hashes, k));
    // Each differing segment holds at least one differing object: more than maxKeys of them
    // would only be work the bound throws away.
    if (level === shape.depth && differing.length > limits.maxKeys) {
      differing = differing.slice(0, limits.maxKeys);
      result.truncated = true;
    }
    if (differing.some((i) => i >= levelSize(shape, level))) throw new RangeError('node index out of range');
  }
  result.segments = differing.length;
  if (differing.length === 0) return result;

  // Leaves: which objects differ, and which way they must go.
  const peerEntries = new Map<string, EntryHash>();
  for (const [id, hash] of await peer.keys(differing)) peerEntries.set(id, hash);
  const pull: string[] = [];
  const push: string[] = [];
  for (const s of differing) {
    for (const [id, hash] of tree.segment(s)) {
      const t = peerEntries.get(id);
      if (!t) push.push(id);
      else if (t.hi !== hash.hi || t.lo !== hash.lo) {
        pull.push(id);
        push.push(id);
      }
    }
  }
  const asked = new Set(differing);
  for (const id of peerEntries.keys()) {
    // Entries outside the segments asked for are ignored: a peer cannot widen the exchange.
    if (asked.has(tree.segmentOf(id)) && !tree.get(id)) pull.push(id);
  }
  const all = new Set([...pull, ...push]);
  result.differing = all.size;
  let allowed = new Set(all);
  if (all.size > limits.maxKeys) {
    allowed = new Set([...all].sort().slice(0, limits.maxKeys));
    result.truncated = true;
  }

  // Pull first, so what is pushed afterwards is already the merge of both sides.
  for (const batch of batches(
    pull.filter((id) => allowed.has(id)),
    limits.batchSize,
  )) {
    await limits.pace?.(batch.length);
    const objects = (await peer.fetch(batch)).filter((o) => o.siblings.length > 0);
    if (objects.length) await local.merge(objects);
    result.pulled += objects.length;
  }
  for (const batch of batches(
    push.filter((id) => allowed.has(id)),
    limits.batchSize,
  )) {
    await limits.pace?.(batch.length);
    // After the pull, an object this node merged may now be exactly what the peer holds (the
    // peer's version dominated): sending it back would be bytes for nothing.
    const objects = (await local.fetch(batch)).filter((o) => {
      if (o.siblings.length === 0) return false;
      const theirs = peerEntries.get(refId(encodeRef(o.bucket, o.key)));
      const now = theirs && entryHash(encodeRef(o.bucket, o.key), o.siblings);
      return !(theirs && now && now.hi === theirs.hi && now.lo === theirs.lo);
    });
    if (objects.length) await peer.merge(objects);
    result.pushed += objects.length;
  }
  return result;
}

function* batches<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}
