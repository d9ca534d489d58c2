/**
 * What a membership change moves on the ring, bucket by bucket: the replica copies each node
 * entering a bucket's preference list must receive, and from whom. Pure; the same pairing as
 * the simulation's replica transfers (@ringkv/sim), so what a plan predicts is what moves.
 *
 * Each node entering the set is paired, in ring order, with a node leaving it (the copy it takes
 * over); an entering node with nobody leaving (the set grew) copies from the old first owner.
 * Nodes in both sets keep their copy: nothing moves between two nodes that both stay.
 *
 * @example
 * const before = createRing({ members: ['a@h', 'b@h', 'c@h'] });
 * const after = createRing({ members: ['a@h', 'b@h', 'c@h', 'd@h'] });
 * replicaMoves(before, after, 3, 'shopping'); // [] or [{ from: 'c@h', to: 'd@h' }]
 */
import type { BucketName } from '@ringkv/core';
import type { Ring } from './ring.js';

export interface ReplicaMove {
  readonly from: string;
  readonly to: string;
}

export function replicaMoves(before: Ring, after: Ring, n: number, bucket: BucketName): ReplicaMove[] {
  const b = before.preferenceList(bucket, Math.min(n, before.members.length)).map((r) => r.node);
  const a = after.preferenceList(bucket, Math.min(n, after.members.length)).map((r) => r.node);
  const out: ReplicaMove[] = [];
  let leaving = 0;
  for (const node of a) {
    if (b.includes(node)) continue;
    let from = b[0]!;
    for (; leaving < b.length; leaving++) {
      const candidate = b[leaving]!;
      if (!a.includes(candidate)) {
        from = candidate;
        leaving++;
        break;
      }
    }
    out.push({ from, to: node });
  }
  return out;
}

/** The replica set of `bucket` on `ring` (primaries only). */
export function replicaSet(ring: Ring, n: number, bucket: BucketName): string[] {
  return ring.preferenceList(bucket, Math.min(n, ring.members.length)).map((r) => r.node);
}
