import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeDistributed, freePort, startRedisServer, type RedisServer, backendContract, bytes, directCaller, scanContract, uniquePrefix, versionedSuite } from '@ringkv/test-utils';
import { createRedisBackend, createStore, StorageError } from '../src/index.js';

describeDistributed(
  'redis backend on a real redis-server',
  () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await startRedisServer();
    });
    afterAll(() => redis?.stop());

    backendContract('redis (redis-server)', {
      open: () => createRedisBackend({ keyPrefix: uniquePrefix('real'), url: redis.url }),
      propertyRuns: 30,
    });
    versionedSuite('redis-server', () => createRedisBackend({ keyPrefix: uniquePrefix('real-versioned'), url: redis.url }));
    scanContract('redis (redis-server)', { open: () => createRedisBackend({ keyPrefix: uniquePrefix('real-scan'), url: redis.url }), propertyRuns: 20 });
  },
  { needs: ['redis-server'] },
);

describeDistributed(
  'redis layout and failures on a real redis-server',
  () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await startRedisServer();
    });
    afterAll(() => redis?.stop());

    it('stores a bucket as a hash with raw binary names, plus a set of bucket names', async () => {
      const prefix = uniquePrefix('layout');
      const store = await createStore({ backend: 'redis', redis: { url: redis.url, keyPrefix: prefix } });
      const { call } = directCaller(store);
      const bucket = bytes(0x62, 0xff, 0x00);
      await call('KV.Registry', 'create', [bucket]);
      await call('KV.Bucket', 'put', [bucket, bytes(0xc3, 0x28), bytes(0x00, 0xff)]);
      const raw = new Redis(redis.url);
      try {
        const hashKey = Buffer.concat([Buffer.from(`${prefix}h:plain:`), bucket]);
        expect(await raw.hgetBuffer(hashKey, Buffer.from([0xc3, 0x28]))).toEqual(Buffer.from([0x00, 0xff]));
        expect(await raw.smembersBuffer(`${prefix}s:plain`)).toEqual([Buffer.from(bucket)]);
      } finally {
        raw.disconnect();
        await store.reset();
        await store.close();
      }
    });

    it('fails with a StorageError naming the URL when nothing listens there', async () => {
      const url = `redis://127.0.0.1:${await freePort()}`;
      await expect(createStore({ backend: 'redis', redis: { url, keyPrefix: 'x:' } })).rejects.toThrow(
        new RegExp(`StorageError|cannot connect to ${url}`),
      );
      await expect(createStore({ backend: 'redis', redis: { url, keyPrefix: 'x:' } })).rejects.toBeInstanceOf(StorageError);
    });

    it('answers calls with a StorageError while the server is gone, never hanging', async () => {
      const own = await startRedisServer();
      const store = await createStore({ backend: 'redis', redis: { url: own.url, keyPrefix: uniquePrefix('down') } });
      const { call } = directCaller(store);
      expect(await call('KV.Registry', 'create', ['b'])).toBe('ok');
      await own.stop();
      await expect(call('KV.Bucket', 'put', ['b', 'k', 'v'])).rejects.toBeInstanceOf(StorageError);
      await store.close();
    });

    it('serves again once the server is back on its port, without a new store', async () => {
      const first = await startRedisServer();
      const store = await createStore({ backend: 'redis', redis: { url: first.url, keyPrefix: uniquePrefix('back') } });
      const { call } = directCaller(store);
      await first.stop();
      await expect(call('KV.Registry', 'create', ['b'])).rejects.toBeInstanceOf(StorageError);
      const again = await startRedisServer({ port: first.port });
      try {
        let answer: unknown;
        for (let i = 0; i < 100 && answer !== 'ok'; i++) {
          answer = await Promise.resolve(call('KV.Registry', 'create', ['b'])).catch(() => undefined);
          if (answer !== 'ok') await new Promise((r) => setTimeout(r, 50));
        }
        expect(answer).toBe('ok');
        expect(await call('KV.Bucket', 'put', ['b', 'k', 'v'])).toBe('ok');
      } finally {
        await store.close();
        await again.stop();
      }
    });
  },
  { needs: ['redis-server'] },
);
