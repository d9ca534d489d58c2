import RedisMock from 'ioredis-mock';
import { createMemoryBackend, createRedisBackend } from '../src/index.js';
import { backendContract, scanContract, uniquePrefix } from '@ringkv/test-utils';

backendContract('memory', { open: async () => createMemoryBackend() });

backendContract('redis (ioredis-mock)', {
  open: () => createRedisBackend({ keyPrefix: uniquePrefix('mock'), client: new RedisMock() }),
  propertyRuns: 40,
});

scanContract('memory', { open: async () => createMemoryBackend() });
scanContract('redis (ioredis-mock)', { open: () => createRedisBackend({ keyPrefix: uniquePrefix('mock-scan'), client: new RedisMock() }), propertyRuns: 20 });
