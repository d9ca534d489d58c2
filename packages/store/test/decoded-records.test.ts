/**
 * Records of a backend whose stored arrays never change are decoded once and shared (frozen);
 * any other backend's records are decoded on every read.
 */
import { describe, expect, it } from 'vitest';
import type { Sibling } from '@ringkv/core';
import { createBucketQueue } from '../src/bucket-queue.js';
import { createMemoryBackend } from '../src/memory-backend.js';
import { createVersionedStore } from '../src/versioned-store.js';
import type { Backend } from '../src/backend.js';

const enc = new TextEncoder();
const bucket = enc.encode('shopping');
const key = enc.encode('eggs');
const sib = (value: string, n: number): Sibling => ({ value: enc.encode(value), version: { vv: { 'a#1': n }, ts: n, actor: 'a#1' } });

async function roundTrip(backend: Backend) {
  const store = createVersionedStore(backend, createBucketQueue());
  const read = () => store.withKey(bucket, key, (o) => o.area(key, undefined));
  await store.withKey(bucket, key, (o) => o.merge(key, [sib('1', 1)], undefined));
  const first = await read();
  const second = await read();
  await store.withKey(bucket, key, (o) => o.merge(key, [sib('2', 2)], undefined));
  const third = await read();
  return { first, second, third };
}

describe('decoded records', () => {
  it('memory: one decoded list per stored record, shared and frozen, replaced by the next write', async () => {
    const { first, second, third } = await roundTrip(createMemoryBackend());
    expect(second).toBe(first);
    expect(Object.isFrozen(first) && Object.isFrozen(first[0]) && Object.isFrozen(first[0]!.version.vv)).toBe(true);
    expect(() => (first as Sibling[]).push(sib('x', 9))).toThrow(TypeError);
    expect(third).not.toBe(first);
    expect(third.map((s) => new TextDecoder().decode(s.value as Uint8Array))).toEqual(['2']);
    expect(first.map((s) => new TextDecoder().decode(s.value as Uint8Array))).toEqual(['1']);
  });

  it('a backend that does not promise immutable values is decoded on every read', async () => {
    const memory = createMemoryBackend();
    // Same storage, without the promise (as LMDB and Redis are).
    const plain: Backend = Object.create(memory, { valuesImmutable: { value: undefined } }) as Backend;
    const { first, second, third } = await roundTrip(plain);
    expect(second).not.toBe(first);
    expect(second).toEqual(first);
    expect(Object.isFrozen(first)).toBe(false);
    expect(third.map((s) => new TextDecoder().decode(s.value as Uint8Array))).toEqual(['2']);
  });
});
