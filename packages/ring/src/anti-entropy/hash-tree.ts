/**
 * The hash tree anti-entropy compares: pure, no I/O. Keys fall into `fanout^depth` segments
 * (by a hash of the key alone, so both replicas put a key in the same segment); a segment's
 * hash is the XOR of its entries' 64-bit hashes, and every inner node is the XOR of its
 * children. XOR is what lets a write update the tree in O(depth) (remove the old entry hash,
 * add the new one, along one path) instead of rehashing a segment, and what makes the root
 * independent of insertion order: two trees holding the same entries have the same hashes at
 * every node, whatever order they were built in. The same idea as Riak's "tictac" AAE trees.
 *
 * Levels are numbered from the root (level 0, one node) to the segments (level `depth`).
 * Level arrays are dense (two uint32 per node: high and low half of the 64-bit hash); the
 * entries of each segment are kept sparsely, for the leaf comparison.
 *
 * @example
 * const tree = createHashTree();
 * tree.set('bucket/key', { hi: 0x12345678, lo: 0x9abcdef0 });
 * tree.root();                 // 8 bytes
 * tree.children(1, [0]);       // the 16 hashes under the root
 */

/** A 64-bit entry hash as two unsigned 32-bit halves. `{0, 0}` is the hash of nothing. */
export interface EntryHash {
  readonly hi: number;
  readonly lo: number;
}

export interface TreeShape {
  /** Children per inner node; a power of two. */
  readonly fanout: number;
  /** Levels below the root; segments = fanout^depth. */
  readonly depth: number;
}

/**
 * 16 x 16 x 16 x 16 = 65,536 segments: about one key per segment at 65k keys, so a replica that
 * missed a few hundred writes compares a few hundred small segments, not whole branches, while
 * an in-sync exchange still compares one 8-byte root.
 */
export const DEFAULT_TREE_SHAPE: TreeShape = { fanout: 16, depth: 4 };

/** Bytes of one hash on the wire. */
export const HASH_BYTES = 8;

export interface HashTree {
  readonly shape: TreeShape;
  /** Entries held. */
  readonly size: number;
  /** Sets the entry hash of `id` (removes it when `hash` is undefined). */
  set(id: string, hash: EntryHash | undefined): void;
  get(id: string): EntryHash | undefined;
  /** The root hash, 8 bytes. */
  root(): Uint8Array;
  /** Hashes of the nodes `indices` at `level`, 8 bytes each, in the order asked. */
  hashes(level: number, indices: readonly number[]): Uint8Array;
  /** Hashes of every child (at `level`) of each parent (at `level - 1`), fanout per parent. */
  children(level: number, parents: readonly number[]): Uint8Array;
  /** Entries of one segment. */
  segment(index: number): ReadonlyMap<string, EntryHash>;
  /** The segment `id` falls in. */
  segmentOf(id: string): number;
  /** Every id held (any order). */
  ids(): IterableIterator<string>;
  clear(): void;
}

export function checkTreeShape(shape: TreeShape): TreeShape {
  const { fanout, depth } = shape;
  if (!Number.isInteger(fanout) || fanout < 2 || fanout > 256 || (fanout & (fanout - 1)) !== 0) {
    throw new RangeError(`tree fanout must be a power of two from 2 to 256, got ${String(fanout)}`);
  }
  if (!Number.isInteger(depth) || depth < 1 || Math.log2(fanout) * depth > 24) {
    throw new RangeError(`tree depth must be a positive integer with fanout^depth <= 2^24, got ${String(depth)}`);
  }
  return { fanout, depth };
}

/** Nodes at `level` of a tree of `shape`. */
export function levelSize(shape: TreeShape, level: number): number {
  return shape.fanout ** level;
}

export function createHashTree(shapeInput: TreeShape = DEFAULT_TREE_SHAPE): HashTree {
  const shape = checkTreeShape(shapeInput);
  const bits = Math.log2(shape.fanout);
  const segmentBits = bits * shape.depth;
  const segmentMask = 2 ** segmentBits - 1;
  const levels: Uint32Array[] = Array.from({ length: shape.depth + 1 }, (_, l) => new Uint32Array(2 * levelSize(shape, l)));
  const segments = new Map<number, Map<string, EntryHash>>();
  let size = 0;

  const segmentOf = (id: string) => idHash32(id) & segmentMask;

  function xorPath(segment: number, hi: number, lo: number): void {
    for (let l = shape.depth; l >= 0; l--) {
      const i = segment >>> (bits * (shape.depth - l));
      const level = levels[l]!;
      level[2 * i] = (level[2 * i]! ^ hi) >>> 0;
      level[2 * i + 1] = (level[2 * i + 1]! ^ lo) >>> 0;
    }
  }

  function checkLevel(level: number): void {
    if (!Number.isInteger(level) || level < 0 || level > shape.depth)
      throw new RangeError(`level must be from 0 to ${shape.depth}, got ${String(level)}`);
  }

  const tree: HashTree = {
    shape,
    get size() {
      return size;
    },
    set(id, hash) {
      const s = segmentOf(id);
      let entries = segments.get(s);
      const old = entries?.get(id);
      if (old === undefined && hash === undefined) return;
      if (old !== undefined && hash !== undefined && old.hi === hash.hi && old.lo === hash.lo) return;
      xorPath(s, ((old?.hi ?? 0) ^ (hash?.hi ?? 0)) >>> 0, ((old?.lo ?? 0) ^ (hash?.lo ?? 0)) >>> 0);
      if (hash === undefined) {
        entries!.delete(id);
        if (entries!.size === 0) segments.delete(s);
        size--;
        return;
      }
      if (!entries) segments.set(s, (entries = new Map()));
      entries.set(id, { hi: hash.hi >>> 0, lo: hash.lo >>> 0 });
      if (old === undefined) size++;
    },
    get: (id) => segments.get(segmentOf(id))?.get(id),
    root: () => tree.hashes(0, [0]),
    hashes(level, indices) {
      checkLevel(level);
      const src = levels[level]!;
      const out = new Uint8Array(HASH_BYTES * indices.length);
      const view = new DataView(out.buffer);
      indices.forEach((i, k) => {
        if (!Number.isInteger(i) || i < 0 || 2 * i >= src.length) throw new RangeError(`node ${String(i)} is not on level ${level}`);
        view.setUint32(k * HASH_BYTES, src[2 * i]!);
        view.setUint32(k * HASH_BYTES + 4, src[2 * i + 1]!);
      });
      return out;
    },
    children(level, parents) {
      if (level < 1) throw new RangeError('the root has no parent: ask children from level 1');
      checkLevel(level);
      const kids: number[] = [];
      const parentCount = levelSize(shape, level - 1);
      for (const p of parents) {
        if (!Number.isInteger(p) || p < 0 || p >= parentCount) throw new RangeError(`node ${String(p)} is not on level ${level - 1}`);
        for (let c = 0; c < shape.fanout; c++) kids.push(p * shape.fanout + c);
      }
      return tree.hashes(level, kids);
    },
    segment: (index) => segments.get(index) ?? EMPTY,
    segmentOf,
    ids: function* () {
      for (const entries of segments.values()) yield* entries.keys();
    },
    clear() {
      for (const l of levels) l.fill(0);
      segments.clear();
      size = 0;
    },
  };
  return tree;
}

const EMPTY: ReadonlyMap<string, EntryHash> = new Map();

/**
 * FNV-1a over the id's char codes (ids are latin1 strings, one char per byte): cheap, and the
 * same on every node, which is all segment placement needs. Content hashes are cryptographic
 * (object-digest.ts); this one only spreads keys.
 */
export function idHash32(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // Final avalanche: FNV's low bits alone spread short, similar keys poorly.
  return fmix32(h);
}

/** murmur3's 32-bit finalizer: every input bit reaches every output bit. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Reads hash `k` of a concatenation of 8-byte hashes. */
export function hashAt(bytes: Uint8Array, k: number): EntryHash {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { hi: view.getUint32(k * HASH_BYTES), lo: view.getUint32(k * HASH_BYTES + 4) };
}

/** Whether hash `i` of `a` equals hash `j` of `b`. */
export function sameHashAt(a: Uint8Array, i: number, b: Uint8Array, j: number): boolean {
  const x = i * HASH_BYTES;
  const y = j * HASH_BYTES;
  for (let k = 0; k < HASH_BYTES; k++) if (a[x + k] !== b[y + k]) return false;
  return true;
}
