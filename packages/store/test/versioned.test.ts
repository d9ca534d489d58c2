import RedisMock from 'ioredis-mock';
import { createMemoryBackend, createRedisBackend } from '../src/index.js';
import { uniquePrefix } from './helpers.js';
import { versionedSuite } from './versioned-suite.js';

versionedSuite('memory', async () => createMemoryBackend());
versionedSuite('ioredis-mock', () => createRedisBackend({ keyPrefix: uniquePrefix('versioned'), client: new RedisMock() }));
