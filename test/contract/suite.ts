/**
 * The one contract of ringkv, written once: every (strategy x transport) factory must pass it
 * unchanged. Add a factory, call `contractSuite(factory)` from a *.test.ts file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmptyBucketError, TimeoutError, UndefinedFunctionError } from '@ringkv/core';
import type { ContractCluster, ContractFactory } from './factory.js';

const BUCKETS = ['hello', 'world', 'shopping', 'Shopping', 'ção', 'zebra', '0', '~', '\u007f', 'Ä', '日本'];

export function contractSuite(factory: ContractFactory): void {
  describe(`route contract: ${factory.name}`, () => {
    let cluster: ContractCluster;
    beforeAll(async () => {
      cluster = await factory.setup();
    }, 60_000);
    afterAll(async () => {
      await cluster?.teardown();
    }, 60_000);

    it('runs a call on the node that owns the bucket, whichever node it enters at', async () => {
      for (const bucket of BUCKETS) {
        const owner = cluster.owner(bucket);
        expect(cluster.nodes).toContain(owner);
        for (const via of cluster.nodes) {
          expect(await cluster.route(via, bucket, 'Kernel', 'node', [])).toBe(owner);
        }
      }
    });

    it('spreads buckets over more than one node', () => {
      const owners = new Set(Array.from({ length: 256 }, (_, i) => cluster.owner(new Uint8Array([i, 1, 2]))));
      expect(owners.size).toBeGreaterThan(1);
    });

    it('routes binary bucket names (invalid UTF-8, NUL) like any other', async () => {
      for (const bucket of [new Uint8Array([0xff, 0xfe]), new Uint8Array([0, 0, 0]), new Uint8Array([0xc3])]) {
        const via = cluster.nodes[0]!;
        expect(await cluster.route(via, bucket, 'Contract', 'where', [])).toBe(cluster.owner(bucket));
        expect(await cluster.route(via, bucket, 'Contract', 'bucket', [])).toEqual(bucket);
      }
    });

    it('returns results unchanged across hops: bytes, text, numbers, structures', async () => {
      const values: unknown[] = [
        new Uint8Array([0, 1, 0xff, 0xc3, 0x28, 0x0a, 0x0d]),
        'ação \u0000 日本 🎉',
        0,
        -1.5,
        2 ** 40,
        true,
        null,
        [],
        { nested: { list: [1, 'two', new Uint8Array([3])] } },
      ];
      for (const via of cluster.nodes) {
        for (const value of values) {
          expect(await cluster.route(via, 'world', 'Contract', 'echo', [value])).toEqual(value);
        }
      }
    });

    it('fails an empty bucket name with EmptyBucketError', async () => {
      const err = await cluster.route(cluster.nodes[0]!, '', 'Kernel', 'node', []).catch((e: unknown) => e);
      expect((err as Error).name).toBe(EmptyBucketError.name);
      expect((err as Error).message).toMatch(/bucket name is empty/);
    });

    it('names Mod.fun/arity and the node for a function that is not registered', async () => {
      const bucket = 'world';
      const err = (await cluster.route(cluster.nodes[0]!, bucket, 'Nope', 'missing', [1, 2]).catch((e: unknown) => e)) as Error;
      expect(err.name).toBe(UndefinedFunctionError.name);
      expect(err.message).toContain('Nope.missing/2');
      expect(err.message).toMatch(/on node \S+@ringkv/);
    });

    it('delivers errors raised by the applied function with class name and message', async () => {
      for (const via of cluster.nodes) {
        const err = (await cluster.route(via, 'world', 'Contract', 'fail', ['InventoryError', 'out of eggs']).catch((e: unknown) => e)) as Error;
        expect(err).toBeInstanceOf(Error);
        expect(err.name).toBe('InventoryError');
        expect(err.message).toBe('out of eggs');
      }
    });

    it('fails a slow remote hop at the per-call timeout with a TimeoutError', async () => {
      const bucket = 'world';
      const owner = cluster.owner(bucket);
      const via = cluster.nodes.find((n) => n !== owner)!;
      const started = Date.now();
      const err = (await cluster.route(via, bucket, 'Contract', 'sleep', [2000], { timeoutMs: 200 }).catch((e: unknown) => e)) as Error;
      expect(err.name).toBe(TimeoutError.name);
      expect(err.message).toMatch(/did not answer within 200 ms/);
      expect(Date.now() - started).toBeLessThan(1900);
    });

    it('answers many concurrent calls, each from its owner', async () => {
      const buckets = Array.from({ length: 300 }, (_, i) => `bucket-${i}-${String.fromCharCode(97 + (i % 26))}`);
      const results = await Promise.all(
        buckets.map((b, i) => cluster.route(cluster.nodes[i % cluster.nodes.length]!, b, 'Contract', 'where', [])),
      );
      expect(results).toEqual(buckets.map((b) => cluster.owner(b)));
    });
  });
}
