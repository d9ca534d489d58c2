/**
 * How a range table changes when members join or leave. The guide's table is written by hand;
 * a simulation needs a rule for the new one:
 *
 * - `even`: re-split the byte space 0..255 into one contiguous range per member, in member order;
 * - `balanced`: the same, but cut where the buckets (by first byte) split evenly;
 * - `split-loaded`: keep every range, split the most loaded one at its median first byte and give
 *   the upper half to the new member (once per new member); a leaving member's ranges go to the
 *   owner of the range just below (else just above);
 * - `bytes`: like `split-loaded`, but load is the buckets' bytes (bucket counts when no sizes are
 *   known), and a leaving member's ranges go to the lighter of its two neighbours: what
 *   `ringkv cluster plan` uses on a live cluster, whose bucket sizes it measures. Only the ranges
 *   of a joining or leaving member change hands, so nothing moves between staying members.
 * - `table`: a target table given whole (read from a file by the command).
 */
import { findEntry, parseRangeTable, type RangeEntry, type RangeEntryInput, type RangeTable } from '@ringkv/core';
import { SimulationError } from './errors.js';
import type { FirstByteHistogram } from './first-byte-histogram.js';

export type RangePolicy =
  | { readonly name: 'even' }
  | { readonly name: 'balanced' }
  | { readonly name: 'split-loaded' }
  | { readonly name: 'bytes' }
  | { readonly name: 'table'; readonly table: RangeTable | readonly RangeEntryInput[] };

export type RangePolicyName = RangePolicy['name'];

/** A table can give at most one byte to each member. */
const MAX_RANGE_MEMBERS = 256;

/** 0..255 cut into `members.length` contiguous ranges of (nearly) equal width, in member order. */
export function evenTable(members: readonly string[]): RangeTable {
  checkCount(members);
  const m = members.length;
  return members.map((node, i) => entry(Math.floor((i * 256) / m), Math.floor(((i + 1) * 256) / m) - 1, node));
}

/**
 * Contiguous ranges in member order, cut where the cumulative bucket count crosses each
 * member's equal share (to the nearer byte). Every member keeps at least one byte.
 */
export function balancedTable(members: readonly string[], histogram: FirstByteHistogram): RangeTable {
  checkCount(members);
  const m = members.length;
  const counts = histogram.buckets;
  let total = 0;
  for (let b = 0; b < 256; b++) total += counts[b]!;
  if (total === 0) return evenTable(members);
  const table: RangeEntry[] = [];
  let start = 0;
  let cum = 0;
  for (let i = 0; i < m; i++) {
    if (i === m - 1) {
      table.push(entry(start, 255, members[i]!));
      break;
    }
    const target = ((i + 1) * total) / m;
    const lastAllowed = 255 - (m - 1 - i);
    let end = start;
    let cumAtEnd = cum + counts[start]!;
    while (end < lastAllowed && cumAtEnd < target) {
      end++;
      cumAtEnd += counts[end]!;
    }
    // Stop one byte short when that lands nearer the share.
    if (end > start && Math.abs(cumAtEnd - counts[end]! - target) < Math.abs(cumAtEnd - target)) {
      cumAtEnd -= counts[end]!;
      end--;
    }
    table.push(entry(start, end, members[i]!));
    cum = cumAtEnd;
    start = end + 1;
  }
  return table;
}

/** Splits the most loaded range once per added member; hands removed members' ranges to a neighbour. */
export function splitLoadedTable(
  table: RangeTable,
  change: { readonly added: readonly string[]; readonly removed: readonly string[]; readonly after: readonly string[] },
  histogram: FirstByteHistogram,
): RangeTable {
  let current: RangeEntry[] = [...table];
  for (const gone of change.removed) current = handOver(current, gone, change.after);
  for (const node of change.added) current = splitMostLoaded(current, node, histogram.buckets);
  return current;
}

/**
 * `split-loaded` weighed by bytes: joining members split the range holding the most bytes at its
 * byte median; a leaving member's ranges go to the lighter neighbour (by bytes after the joins'
 * splits are not known yet, so by bytes before).
 */
export function bytesTable(
  table: RangeTable,
  change: { readonly added: readonly string[]; readonly removed: readonly string[]; readonly after: readonly string[] },
  histogram: FirstByteHistogram,
): RangeTable {
  let total = 0;
  for (let b = 0; b < 256; b++) total += histogram.bytes[b]!;
  const weights = total > 0 ? histogram.bytes : histogram.buckets;
  let current: RangeEntry[] = [...table];
  for (const gone of change.removed) current = handOver(current, gone, change.after, weights);
  for (const node of change.added) current = splitMostLoaded(current, node, weights);
  return current;
}

function handOver(table: RangeEntry[], gone: string, after: readonly string[], weights?: Float64Array): RangeEntry[] {
  const owners = table.filter((e) => e.node !== gone);
  const loadOf = (node: string): number => {
    let sum = 0;
    for (let b = 0; b < 256; b++) if (findEntry(table, b)?.node === node) sum += weights![b]!;
    return sum;
  };
  return table.map((e) => {
    if (e.node !== gone) return e;
    const below = e.from > 0 ? findEntry(owners, e.from - 1) : undefined;
    const above = e.to < 255 ? findEntry(owners, e.to + 1) : undefined;
    let heir = below?.node ?? above?.node ?? after[0]!;
    if (weights && below && above && loadOf(above.node) < loadOf(below.node)) heir = above.node;
    return entry(e.from, e.to, heir);
  });
}

function splitMostLoaded(table: RangeEntry[], node: string, weights: Float64Array): RangeEntry[] {
  if (table.length === 0) throw new SimulationError(`split-loaded: the table has no range to split for ${node}`);
  // Load by effective ownership: with overlapping entries, the first match owns the byte.
  const byByte = new Int32Array(256).fill(-1);
  const load = new Float64Array(table.length);
  for (let b = 0; b < 256; b++) {
    const i = firstMatch(table, b);
    byByte[b] = i;
    if (i >= 0) load[i]! += weights[b]!;
  }
  let pick = -1;
  for (let i = 0; i < table.length; i++) {
    if (table[i]!.to === table[i]!.from) continue; // one byte cannot be split
    if (pick < 0 || load[i]! > load[pick]!) pick = i;
  }
  if (pick < 0) throw new SimulationError(`split-loaded: every range is a single byte; none can be split for ${node}`);
  const e = table[pick]!;
  let cut = Math.floor((e.from + e.to) / 2);
  if (load[pick]! > 0) {
    // The median first byte: the cut leaving the two halves' bucket counts closest.
    let cum = 0;
    let best = Infinity;
    for (let b = e.from; b < e.to; b++) {
      if (byByte[b] === pick) cum += weights[b]!;
      const gap = Math.abs(2 * cum - load[pick]!);
      if (gap < best) {
        best = gap;
        cut = b;
      }
    }
  }
  return [...table.slice(0, pick), entry(e.from, cut, e.node), entry(cut + 1, e.to, node), ...table.slice(pick + 1)];
}

/** The table after the change under `policy`. */
export function nextRangeTable(
  policy: RangePolicy,
  before: RangeTable,
  change: { readonly added: readonly string[]; readonly removed: readonly string[]; readonly after: readonly string[] },
  histogram: FirstByteHistogram,
): RangeTable {
  switch (policy.name) {
    case 'even':
      return evenTable(change.after);
    case 'balanced':
      return balancedTable(change.after, histogram);
    case 'split-loaded':
      return splitLoadedTable(before, change, histogram);
    case 'bytes':
      return bytesTable(before, change, histogram);
    case 'table': {
      const table = parseRangeTable(policy.table as readonly RangeEntryInput[], 'target table');
      for (const [i, e] of table.entries()) {
        if (!change.after.includes(e.node)) {
          throw new SimulationError(`target table[${i}].node: ${JSON.stringify(e.node)} is not a member after the change (${change.after.join(', ')})`);
        }
      }
      return table;
    }
    default:
      throw new SimulationError(`unknown range policy ${JSON.stringify((policy as { name?: unknown })?.name)} (expected even, balanced, split-loaded, bytes or table)`);
  }
}

/** Owner of each first byte as an index into `nodes`, -1 where the table has no entry. */
export function ownersByByte(table: RangeTable, nodes: readonly string[]): Int16Array {
  const index = new Map(nodes.map((n, i) => [n, i]));
  const out = new Int16Array(256).fill(-1);
  for (let b = 0; b < 256; b++) {
    const e = findEntry(table, b);
    if (e) {
      const i = index.get(e.node);
      if (i === undefined) throw new SimulationError(`range table names ${JSON.stringify(e.node)}, which is not a member`);
      out[b] = i;
    }
  }
  return out;
}

function firstMatch(table: readonly RangeEntry[], b: number): number {
  for (let i = 0; i < table.length; i++) if (b >= table[i]!.from && b <= table[i]!.to) return i;
  return -1;
}

function entry(from: number, to: number, node: string): RangeEntry {
  return Object.freeze({ from, to, node });
}

function checkCount(members: readonly string[]): void {
  if (members.length === 0) throw new SimulationError('a range table needs at least one member');
  if (members.length > MAX_RANGE_MEMBERS) {
    throw new SimulationError(`a range table splits 256 first bytes: it cannot give each of ${members.length} members a range`);
  }
}
