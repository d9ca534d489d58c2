import RedisMock from 'ioredis-mock';
import { createMemoryBackend, createRedisBackend } from '../src/index.js';
import { uniquePrefix, versionedSuite } from '@ringkv/test-utils';

versionedSuite('memory', async () => createMemoryBackend());
versionedSuite('ioredis-mock', () => createRedisBackend({ keyPrefix: uniquePrefix('versioned'), client: new RedisMock() }));
