/**
 * The least movement any placement could get away with, for a change from one balanced
 * cluster to another. A node's fair share of copies is `replicas * weight / total weight`
 * (at most 1: a node holds a bucket once). The copies that must move are the sum of the shares
 * that grow; a bucket can take in at most `min(replicas, nodes that grow, nodes that shrink)`
 * of them, so at least that many buckets see their replica set change.
 *
 * For adding k nodes to n equal ones, this is k/(n+k) for the owner (1/(n+1) for one node), and
 * min(1, N/(n+1)) for replica sets of N when adding one node.
 */

export interface IdealInput {
  /** Weight of each member before the change (equal weights: 1 each). */
  readonly before: ReadonlyMap<string, number>;
  readonly after: ReadonlyMap<string, number>;
  /** Copies per bucket: 1 for the owner, N for a replica set. */
  readonly replicas: number;
}

export function idealChangedFraction(input: IdealInput): number {
  const before = shares(input.before, input.replicas);
  const after = shares(input.after, input.replicas);
  const nodes = new Set([...before.keys(), ...after.keys()]);
  let moved = 0;
  let gainers = 0;
  let losers = 0;
  for (const node of nodes) {
    const d = (after.get(node) ?? 0) - (before.get(node) ?? 0);
    if (d > 1e-12) {
      moved += d;
      gainers++;
    } else if (d < -1e-12) {
      losers++;
    }
  }
  if (moved === 0) return 0;
  return Math.min(1, moved / Math.min(input.replicas, gainers, losers));
}

function shares(weights: ReadonlyMap<string, number>, replicas: number): Map<string, number> {
  let total = 0;
  for (const w of weights.values()) total += w;
  const copies = Math.min(replicas, weights.size);
  const out = new Map<string, number>();
  for (const [node, w] of weights) out.set(node, Math.min(1, (copies * w) / total));
  return out;
}

/** Equal weights for `members`. */
export function equalWeights(members: readonly string[]): Map<string, number> {
  return new Map(members.map((m) => [m, 1]));
}
