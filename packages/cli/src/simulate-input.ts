/**
 * Bucket names for a simulation: seeded random names, a file of names (one a line, as bytes),
 * or what a running cluster really stores, asked of every member over NATS (the KV protocol's
 * bucket listing, `BUCKETS_MESSAGE`).
 */
import { readFileSync } from 'node:fs';
import { BUCKETS_MESSAGE, describeType, type NatsSecurityOptions, type Transport } from '@ringkv/core';
import { connectNatsTransport } from '@ringkv/nats';
import { randomBucketNames, type BucketEntry, type BucketInput } from '@ringkv/sim';
import { UsageError } from './command.js';
import type { BucketSourceSpec } from './simulate-options.js';


export interface LoadedBuckets {
  /** Each call iterates the names afresh (random names are generated again, not kept). */
  readonly iterate: () => Iterable<BucketInput>;
  readonly count: number;
  /** What the source was, for the report. */
  readonly description: string;
  /** From a cluster: what each member said it holds. */
  readonly perNode?: Record<string, { buckets: number; bytes: number }>;
}

export async function loadBuckets(source: BucketSourceSpec, members: readonly string[], connect = defaultConnect): Promise<LoadedBuckets> {
  switch (source.kind) {
    case 'random': {
      const { count, seed, charset } = source;
      return { iterate: () => randomBucketNames({ count, seed, charset }), count, description: `${count} random names (${charset}, seed ${seed})` };
    }
    case 'file': {
      const names = readNamesFile(source.path);
      return { iterate: () => names, count: names.length, description: `${names.length} names from ${source.path}` };
    }
    case 'cluster':
      return readCluster(source.natsUrl, source.timeoutMs, members, (url) => connect(url, source.security));
  }
}

/** One name a line, as raw bytes; a CR before the LF is dropped, empty lines are skipped. */
export function readNamesFile(path: string): Uint8Array[] {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    throw new UsageError(`--names-file: cannot read ${path}: ${(err as Error).message}`);
  }
  return splitLines(data);
}

export function splitLines(data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  while (start <= data.length) {
    let end = data.indexOf(0x0a, start);
    if (end < 0) end = data.length;
    let stop = end;
    if (stop > start && data[stop - 1] === 0x0d) stop--;
    if (stop > start) out.push(data.subarray(start, stop));
    start = end + 1;
  }
  return out;
}

async function defaultConnect(url: string, security?: NatsSecurityOptions): Promise<Transport> {
  return connectNatsTransport({ ...security, url, name: 'ringkv simulate' });
}

async function readCluster(url: string, timeoutMs: number, members: readonly string[], connect: (url: string) => Promise<Transport>): Promise<LoadedBuckets> {
  const transport = await connect(url);
  try {
    const replies = await Promise.all(
      members.map(async (node) => {
        try {
          return { node, list: checkReply(node, await transport.request(node, { type: BUCKETS_MESSAGE, body: null }, { timeoutMs })) };
        } catch (err) {
          const e = err as Error;
          throw new UsageError(`--from-cluster: node ${node} did not list its buckets (${e.name}: ${e.message}); is it running with the storage role?`);
        }
      }),
    );
    // Under the ring a bucket is stored on N nodes: count it once, at the largest size seen.
    const byName = new Map<string, { name: Uint8Array; bytes: number }>();
    const perNode: Record<string, { buckets: number; bytes: number }> = {};
    for (const { node, list } of replies) {
      perNode[node] = { buckets: list.length, bytes: list.reduce((s, b) => s + b.bytes, 0) };
      for (const b of list) {
        const key = Buffer.from(b.bucket.buffer, b.bucket.byteOffset, b.bucket.byteLength).toString('latin1');
        const seen = byName.get(key);
        if (!seen) byName.set(key, { name: Uint8Array.from(b.bucket), bytes: b.bytes });
        else seen.bytes = Math.max(seen.bytes, b.bytes);
      }
    }
    const entries: BucketEntry[] = [...byName.values()];
    return { iterate: () => entries, count: entries.length, description: `${entries.length} buckets read from ${members.length} nodes over ${url}`, perNode };
  } finally {
    await transport.close();
  }
}

function checkReply(node: string, reply: unknown): Array<{ bucket: Uint8Array; bytes: number }> {
  if (!Array.isArray(reply)) throw new Error(`expected a list of buckets from ${node}, got ${describeType(reply)}`);
  return reply.map((item: unknown, i) => {
    const b = item as { bucket?: unknown; bytes?: unknown };
    if (!(b?.bucket instanceof Uint8Array) || typeof b.bytes !== 'number') {
      throw new Error(`entry ${i} from ${node} is not {bucket: bytes, keys, bytes}`);
    }
    return { bucket: b.bucket, bytes: b.bytes };
  });
}
