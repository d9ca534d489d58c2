import RedisMock from 'ioredis-mock';
import { createMemoryBackend, createRedisBackend } from '../src/index.js';
import { backendContract, uniquePrefix } from '@ringkv/test-utils';

backendContract('memory', { open: async () => createMemoryBackend() });

backendContract('redis (ioredis-mock)', {
  open: () => createRedisBackend({ keyPrefix: uniquePrefix('mock'), client: new RedisMock() }),
  propertyRuns: 40,
});
