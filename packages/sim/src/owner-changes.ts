/**
 * The buckets behind a result's numbers: a second pass naming the buckets whose owner changes,
 * for `ringkv plan` to list. Rebuilt from what the result records (tables, ring settings), so
 * it answers exactly as the simulation counted.
 */
import { type BucketName, findEntry } from '@ringkv/core';
import { createRing } from '@ringkv/ring';
import { readBucket, type BucketInput } from './bucket-input.js';
import type { SimulationReport, StrategyResult } from './simulate.js';

export interface OwnerChange {
  readonly bucket: BucketName;
  readonly from: string;
  readonly to: string;
  readonly bytes: number;
}

/** Up to `limit` buckets whose owner changes under `result`, in input order. */
export function ownerChanges(
  report: Pick<SimulationReport, 'members'>,
  result: StrategyResult,
  buckets: Iterable<BucketInput>,
  limit = Infinity,
): OwnerChange[] {
  const { before, after } = ownerFunctions(report, result);
  const out: OwnerChange[] = [];
  let i = 0;
  for (const input of buckets) {
    if (out.length >= limit) break;
    const { name, first, bytes } = readBucket(input, i++);
    const from = before(name, first);
    const to = after(name, first);
    if (from !== undefined && to !== undefined && from !== to) out.push({ bucket: name, from, to, bytes: bytes ?? 0 });
  }
  return out;
}

type OwnerOf = (name: BucketName, first: number) => string | undefined;

function ownerFunctions(report: Pick<SimulationReport, 'members'>, result: StrategyResult): { before: OwnerOf; after: OwnerOf } {
  if (result.range) {
    const { before, after } = result.range;
    return { before: (_, first) => findEntry(before, first)?.node, after: (_, first) => findEntry(after, first)?.node };
  }
  const ring = result.ring!;
  const ringOf = (members: readonly string[]) =>
    createRing({ members, vnodes: ring.vnodes, weights: Object.fromEntries(Object.entries(ring.weights).filter(([m]) => members.includes(m))) });
  const rb = ringOf(report.members.before);
  const ra = ringOf(report.members.after);
  return { before: (name) => rb.owner(name), after: (name) => ra.owner(name) };
}
