/**
 * A membership change: who is in the cluster now, who joins and who leaves. Checked once, so
 * every measure can rely on distinct names and on `after` being non-empty.
 */
import { SimulationError } from './errors.js';

export interface MembershipChangeInput {
  /** Members before the change, in the order their range-table ranges are laid out. */
  members: readonly string[];
  /** Members joining. */
  add?: readonly string[];
  /** Members leaving. */
  remove?: readonly string[];
}

export interface MembershipChange {
  readonly before: readonly string[];
  readonly after: readonly string[];
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /** Members in both `before` and `after`. */
  readonly survivors: readonly string[];
  /** Every node named, `before` first then `added`: the index space of load vectors and matrices. */
  readonly nodes: readonly string[];
}

export function resolveMembership(input: MembershipChangeInput): MembershipChange {
  if (input === null || typeof input !== 'object') throw new SimulationError('membership change must be an object');
  const before = names(input.members, 'members');
  const added = names(input.add ?? [], 'add');
  const removed = names(input.remove ?? [], 'remove');
  if (before.length === 0) throw new SimulationError('members: the cluster needs at least one member before the change');
  for (const a of added) {
    if (before.includes(a)) throw new SimulationError(`add: ${JSON.stringify(a)} is already a member`);
  }
  for (const r of removed) {
    if (!before.includes(r)) throw new SimulationError(`remove: ${JSON.stringify(r)} is not a member`);
  }
  const after = [...before.filter((m) => !removed.includes(m)), ...added];
  if (after.length === 0) throw new SimulationError('the change removes every member: nothing would be left to own the buckets');
  return {
    before,
    after,
    added,
    removed,
    survivors: before.filter((m) => !removed.includes(m)),
    nodes: [...before, ...added],
  };
}

function names(list: readonly string[], field: string): string[] {
  if (!Array.isArray(list)) throw new SimulationError(`${field}: must be an array of node names`);
  const seen = new Set<string>();
  for (const n of list) {
    if (typeof n !== 'string' || n === '') throw new SimulationError(`${field}: node names must be non-empty strings, got ${JSON.stringify(n)}`);
    if (seen.has(n)) throw new SimulationError(`${field}: ${JSON.stringify(n)} is listed twice`);
    seen.add(n);
  }
  return [...list];
}
