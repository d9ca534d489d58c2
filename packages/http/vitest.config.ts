import { defineConfig } from 'vitest/config';

// Timeouts guard against hangs, not speed: on 2 shared cores with packages tested in parallel
// (`npx turbo run build test`), slow-but-correct tests must not fail.
export default defineConfig({ test: { include: ['test/**/*.test.ts'], testTimeout: 30_000, hookTimeout: 30_000 } });
