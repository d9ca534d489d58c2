/**
 * The buckets a simulation runs over: names (bytes or UTF-8 strings), optionally with their size
 * in bytes. Given as any iterable so a million names can stream from a generator.
 */
import { type BucketName, bucketBytes, describeType } from '@ringkv/core';
import { SimulationError } from './errors.js';

export interface BucketEntry {
  readonly name: BucketName;
  /** Stored size in bytes, when known (from a running cluster). */
  readonly bytes?: number;
}

export type BucketInput = BucketName | BucketEntry;

/** Normalises one input; `index` names it in errors. */
export function readBucket(input: BucketInput, index: number): { name: BucketName; first: number; bytes: number | undefined } {
  let name: unknown;
  let bytes: unknown;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    name = input;
  } else if (input !== null && typeof input === 'object') {
    name = (input as BucketEntry).name;
    bytes = (input as BucketEntry).bytes;
  } else {
    throw new SimulationError(`bucket #${index}: must be a name (string or bytes) or {name, bytes}, got ${describeType(input)}`);
  }
  const first = firstByteOf(name, index);
  if (bytes !== undefined && (typeof bytes !== 'number' || !Number.isFinite(bytes) || bytes < 0)) {
    throw new SimulationError(`bucket #${index}: bytes must be a finite number >= 0, got ${JSON.stringify(bytes)}`);
  }
  return { name: name as BucketName, first, bytes: bytes as number | undefined };
}

function firstByteOf(name: unknown, index: number): number {
  // Most names start with ASCII: read the byte off the string without encoding all of it.
  if (typeof name === 'string' && name.length > 0 && name.charCodeAt(0) < 0x80) return name.charCodeAt(0);
  let bytes: Uint8Array;
  try {
    bytes = typeof name === 'string' ? bucketBytes(name.slice(0, 2)) : bucketBytes(name as BucketName);
  } catch {
    throw new SimulationError(`bucket #${index}: name must be a string or a Uint8Array, got ${describeType(name)}`);
  }
  const first = bytes[0];
  if (first === undefined) throw new SimulationError(`bucket #${index}: name is empty (a bucket name needs at least one byte)`);
  return first;
}
