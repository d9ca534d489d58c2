/**
 * Digest reads: the coordinator of a read that is itself a replica reads its own copy, and asks
 * the other replicas only for a digest of what they hold (`ring.apply` with `digest: true`,
 * answered `{ digest: [hi, lo] }`). A replica whose digest equals the coordinator's holds the
 * same versions, so its answer is the coordinator's own objects: nothing to decode, merge or
 * repair. One whose digest differs is asked again in full, and its objects are merged and
 * repaired as before. Cassandra's digest requests, for the same reason: in a healthy cluster the
 * replicas agree, and the full copies they send back are thrown away.
 *
 * The digest covers what the read path compares (`sameSiblings` in read-path.ts): for each
 * object its bucket and key, and for each sibling its stamp (hybrid timestamp, actor, version
 * vector) and whether it is a tombstone, not its value (a stamp names one write; a replica does
 * not hold two values under one stamp unless a peer forged them, which the full read would not
 * catch either). Siblings and vector entries are taken in a canonical order, so two replicas
 * holding the same versions agree whatever order their storage keeps them in. 64 bits of a
 * non-cryptographic hash: a false match would need two different version sets to collide, and
 * a peer able to forge one could as well send forged objects.
 *
 * @example
 * versionDigest(objects); // [hi, lo], two unsigned 32-bit numbers
 */
import { bucketBytes, type Sibling, type VersionedObject } from '@ringkv/core';
import { fmix32 } from './anti-entropy/hash-tree.js';

/** Two unsigned 32-bit halves of a 64-bit digest. */
export type VersionDigest = readonly [number, number];

// One digest runs at a time (synchronous), so the lanes live at module level: no allocation.
let h1 = 0;
let h2 = 0;
let words = 0;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** Feeds one 32-bit word into both lanes (murmur3's block step, and a second with other constants). */
function word(w: number): void {
  let k = Math.imul(w, 0xcc9e2d51);
  k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
  h1 ^= k;
  h1 = (Math.imul((h1 << 13) | (h1 >>> 19), 5) + 0xe6546b64) | 0;
  let j = Math.imul(w ^ 0x5bd1e995, 0x85ebca6b);
  j = Math.imul((j << 17) | (j >>> 15), 0xc2b2ae35);
  h2 = (Math.imul(h2 ^ j, 0x01000193) + 0x7f4a7c15) | 0;
  words++;
}

function num(v: number): void {
  f64[0] = v;
  word(u32[0]!);
  word(u32[1]!);
}

/** Length first, then two UTF-16 code units per word. */
function str(s: string): void {
  word(s.length);
  let i = 0;
  for (; i + 1 < s.length; i += 2) word(s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16));
  if (i < s.length) word(s.charCodeAt(i));
}

/** Length first, then four bytes per word. */
function bytes(b: Uint8Array): void {
  word(b.length);
  let i = 0;
  for (; i + 3 < b.length; i += 4) word(b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24));
  let last = 0;
  for (let s = 0; i < b.length; i++, s += 8) last |= b[i]! << s;
  word(last);
}

function byStamp(a: Sibling, b: Sibling): number {
  if (a.version.ts !== b.version.ts) return a.version.ts < b.version.ts ? -1 : 1;
  if (a.version.actor !== b.version.actor) return a.version.actor < b.version.actor ? -1 : 1;
  return (a.tombstone === true ? 1 : 0) - (b.tombstone === true ? 1 : 0);
}

function inOrder(keys: string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (keys[i - 1]! > keys[i]!) return false;
  return true;
}

/** The digest of a read's objects, in the order the read function answered them. */
export function versionDigest(objects: readonly VersionedObject[]): VersionDigest {
  h1 = 0x2f6b9a31;
  h2 = 0x811c9dc5;
  words = 0;
  word(objects.length);
  for (const o of objects) {
    bytes(bucketBytes(o.bucket));
    bytes(o.key);
    const siblings = o.siblings;
    word(siblings.length);
    const ordered = siblings.length > 1 ? [...siblings].sort(byStamp) : siblings;
    for (const s of ordered) {
      num(s.version.ts);
      str(s.version.actor);
      word(s.tombstone === true ? 1 : 0);
      const vv = s.version.vv;
      const actors = Object.keys(vv);
      if (!inOrder(actors)) actors.sort();
      word(actors.length);
      for (const a of actors) {
        str(a);
        num(vv[a]!);
      }
    }
  }
  const hi = fmix32(h1 ^ words);
  const lo = fmix32((h2 ^ hi) + words);
  return [hi, lo];
}

/** Whether `reply` is a digest answer (`{ digest: [hi, lo] }`); anything else is not. */
export function digestOf(reply: unknown): VersionDigest | undefined {
  const d = (reply as { digest?: unknown } | null | undefined)?.digest;
  return Array.isArray(d) && d.length === 2 && typeof d[0] === 'number' && typeof d[1] === 'number' ? (d as unknown as VersionDigest) : undefined;
}

export function sameDigest(a: VersionDigest, b: VersionDigest): boolean {
  return a[0] === b[0] && a[1] === b[1];
}
