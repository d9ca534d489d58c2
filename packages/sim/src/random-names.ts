/**
 * Seeded random bucket names, so a simulation run can be repeated exactly. `bytes` names are
 * arbitrary bytes (every first byte equally likely, which is the range table's best case);
 * `alnum` names look like identifiers (`k3x9q2`), which crowd into a few first bytes.
 */
import { SimulationError } from './errors.js';

export type NameCharset = 'bytes' | 'alnum';

export interface RandomNamesOptions {
  count: number;
  /** @default 1 */
  seed?: number;
  /** @default 'bytes' */
  charset?: NameCharset;
}

const ALNUM = new TextEncoder().encode('abcdefghijklmnopqrstuvwxyz0123456789');

/** mulberry32: small, fast, and good enough to spread names; not for anything secret. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Yields `count` names; the same options always yield the same names. */
export function* randomBucketNames(options: RandomNamesOptions): Generator<Uint8Array> {
  const { count } = options;
  const seed = options.seed ?? 1;
  const charset = options.charset ?? 'bytes';
  if (!Number.isInteger(count) || count < 0) throw new SimulationError(`count must be an integer >= 0, got ${String(count)}`);
  if (!Number.isInteger(seed)) throw new SimulationError(`seed must be an integer, got ${String(seed)}`);
  if (charset !== 'bytes' && charset !== 'alnum') throw new SimulationError(`charset must be "bytes" or "alnum", got ${JSON.stringify(charset)}`);
  const random = seededRandom(seed);
  for (let i = 0; i < count; i++) {
    const name = new Uint8Array(8 + Math.floor(random() * 9));
    for (let j = 0; j < name.length; j++) {
      name[j] = charset === 'bytes' ? Math.floor(random() * 256) : ALNUM[Math.floor(random() * ALNUM.length)]!;
    }
    yield name;
  }
}
