import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Distributed tests start real servers and processes; run files one at a time on 2 cores.
    fileParallelism: false,
  },
});
