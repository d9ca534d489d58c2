/**
 * The pure consistent-hash ring: members, virtual nodes, weights, and the preference list of a
 * bucket. No I/O and no clock: the same members give the same answers in every process, which
 * is what lets every node of a cluster compute placements on its own.
 *
 * Built on `hashring` (ketama): each virtual node is one md5 digest giving 4 points on a
 * 32-bit circle. A bucket's point is the md5 of its bytes; its preference list is the first N
 * distinct members met walking clockwise from that point.
 *
 * @example
 * const ring = createRing({ members: ['a@h', 'b@h', 'c@h', 'd@h'] });
 * ring.preferenceList('shopping', 3);                    // 3 primaries in ring order
 * ring.preferenceList('shopping', 3, (n) => n !== 'b@h'); // b replaced by a fallback with hintFor 'b@h'
 */
import HashRing from 'hashring';
import { ArgumentError, bucketBytes, DEFAULT_RING_VNODES, EmptyBucketError, type BucketName, type Replica } from '@ringkv/core';

export interface RingOptions {
  /** Member node names. Order does not matter: the ring is the same for any order. */
  members: readonly string[];
  /**
   * Virtual nodes per member of weight 1 (each is one md5 digest = 4 points on the circle).
   * @default DEFAULT_RING_VNODES
   */
  vnodes?: number;
  /** Relative weight per member: a member of weight 2 gets twice the virtual nodes. @default 1 each */
  weights?: Readonly<Record<string, number>>;
}

export interface Ring {
  /** Members, sorted. */
  readonly members: readonly string[];
  /** Virtual nodes of a member of weight 1. */
  readonly vnodes: number;
  /** Virtual nodes each member actually got (weight applied). */
  vnodesOf(member: string): number;
  /**
   * The `n` primaries of `bucket` in ring order. With `isUp`, primaries for which it answers
   * false are left out and the next live members clockwise are appended as fallbacks, each
   * tagged with the down primary it stands in for (`hintFor`), in the order of the primaries
   * they replace. The list is shorter than `n` when not enough members are up.
   */
  preferenceList(bucket: BucketName, n: number, isUp?: (node: string) => boolean): Replica[];
  /** The first primary of `bucket`. */
  owner(bucket: BucketName): string;
  /**
   * The first `size` members (default: every member) in ring order from `bucket`'s point: the
   * first `n` are its primaries, the rest the order fallbacks are taken in. See
   * preference-list.ts, which caches it.
   */
  walk(bucket: BucketName, size?: number): string[];
  /**
   * The member owning `position` on the 32-bit circle (0 to 2^32 - 1): the first point at or
   * clockwise after it. Lets a picture of the ring (the HTTP dashboard) show who owns what.
   */
  ownerAt(position: number): string;
}

export function createRing(options: RingOptions): Ring {
  if (options === null || typeof options !== 'object') throw new ArgumentError('ring options must be an object');
  const members = checkMembers(options.members);
  const vnodes = options.vnodes ?? DEFAULT_RING_VNODES;
  if (!Number.isInteger(vnodes) || vnodes < 1 || vnodes > 100_000) {
    throw new ArgumentError(`vnodes must be an integer from 1 to 100000, got ${String(vnodes)}`);
  }
  const weights = options.weights ?? {};
  if (weights === null || typeof weights !== 'object') throw new ArgumentError('weights must be an object of member -> number');
  for (const [name, w] of Object.entries(weights)) {
    if (!members.includes(name)) throw new ArgumentError(`weights: ${JSON.stringify(name)} is not a member`);
    if (typeof w !== 'number' || !Number.isFinite(w) || w <= 0) {
      throw new ArgumentError(`weights: ${JSON.stringify(name)} must be a positive number, got ${String(w)}`);
    }
  }

  // Each member's virtual-node count depends only on its own weight, never on the other
  // members: hashring's built-in weighting divides by the total weight, so adding one member
  // would move points of every other member and break "adding a node only changes lists that
  // now include it".
  const perMember = new Map(members.map((m) => [m, Math.max(1, Math.round(vnodes * (weights[m] ?? 1)))]));
  const key = JSON.stringify([vnodes, [...perMember]]);
  const known = recentRings.get(key);
  if (known) {
    // Most recently used last: the least recently used is the one dropped.
    recentRings.delete(key);
    recentRings.set(key, known);
    return known;
  }
  const servers: Record<string, { vnodes: number }> = {};
  for (const [m, v] of perMember) servers[m] = { vnodes: v };
  // 'vnode count' 0 makes hashring use each member's own count as given (see its continuum()).
  const hashRing = new HashRing(servers, 'md5', { 'vnode count': 0, 'max cache size': 1 });

  function preferenceList(bucket: BucketName, n: number, isUp?: (node: string) => boolean): Replica[] {
    if (!Number.isInteger(n) || n < 1) throw new ArgumentError(`n must be a positive integer, got ${String(n)}`);
    if (n > members.length) throw new ArgumentError(`n (${n}) is larger than the number of ring members (${members.length})`);
    const key = ringKey(bucket);
    const primaries = hashRing.range(key, n);
    if (!isUp) return primaries.map((node) => ({ node, role: 'primary' }));

    const down = primaries.filter((p) => !isUp(p));
    const list: Replica[] = primaries.filter((p) => !down.includes(p)).map((node) => ({ node, role: 'primary' }));
    if (down.length === 0) return list;
    // Walk further clockwise for live members that are not primaries; widen the walk only as
    // far as needed, since most of the ring is never looked at.
    let size = n;
    let fallbacks: string[] = [];
    while (fallbacks.length < down.length && size < members.length) {
      size = Math.min(members.length, size + down.length);
      fallbacks = hashRing.range(key, size).slice(n).filter((m) => isUp(m));
    }
    down.forEach((primary, i) => {
      const node = fallbacks[i];
      if (node !== undefined) list.push({ node, role: 'fallback', hintFor: primary });
    });
    return list;
  }

  const ring: Ring = {
    // Frozen: the value is shared by everyone who asks for the same ring.
    members: Object.freeze(members),
    vnodes,
    vnodesOf(member) {
      const v = perMember.get(member);
      if (v === undefined) throw new ArgumentError(`${JSON.stringify(member)} is not a ring member`);
      return v;
    },
    preferenceList,
    owner: (bucket) => preferenceList(bucket, 1)[0]!.node,
    walk: (bucket, size = members.length) => hashRing.range(ringKey(bucket), Math.min(size, members.length)),
    ownerAt(position) {
      if (!Number.isInteger(position) || position < 0 || position > 0xffffffff) {
        throw new ArgumentError(`position must be an integer from 0 to 2^32 - 1, got ${String(position)}`);
      }
      return hashRing.ring[hashRing.find(position)]!.server;
    },
  };
  recentRings.set(key, ring);
  if (recentRings.size > RECENT_RINGS) recentRings.delete(recentRings.keys().next().value!);
  return ring;
}

/**
 * Rings built lately, by their points (members and virtual-node counts). A ring is a pure
 * value, so equal inputs may share one: a membership change asks for the same few rings over
 * and over (the committed ring, the next one, their union, on every epoch install and every
 * cleanup sweep), and building one costs an md5 per virtual node plus a sort of every point,
 * about 30 ms for 5 members of 1024 virtual nodes on a loaded machine, paid on the event loop
 * while client calls wait. A few entries cover a change (old, new, union, and the one before);
 * more would keep large rings' points alive for nothing.
 */
const RECENT_RINGS = 6;
const recentRings = new Map<string, Ring>();

/**
 * The string hashring hashes for a bucket: its bytes as latin1 (one char per byte), so every
 * byte sequence maps to its own string. Decoding as UTF-8 instead would map all invalid
 * sequences to U+FFFD and make distinct binary buckets collide.
 */
export function ringKey(bucket: BucketName): string {
  const bytes = bucketBytes(bucket);
  if (bytes.length === 0) throw new EmptyBucketError('bucket name is empty: there is nothing to hash onto the ring');
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

function checkMembers(input: readonly string[]): string[] {
  if (!Array.isArray(input)) throw new ArgumentError('members must be an array of node names');
  if (input.length === 0) throw new ArgumentError('a ring needs at least one member');
  for (const m of input) {
    if (typeof m !== 'string' || m === '') throw new ArgumentError(`members: every member must be a non-empty string, got ${JSON.stringify(m)}`);
  }
  const sorted = [...input].sort();
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] === sorted[i - 1]) throw new ArgumentError(`members: ${JSON.stringify(sorted[i])} is listed twice`);
  }
  return sorted;
}
