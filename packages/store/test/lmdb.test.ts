/**
 * The shared suites on LMDB, unchanged. The contract and the scan suite flush on a timer
 * (syncIntervalMs): with the default every awaited write costs an fsync, and their sequential
 * loops (2,500 writes) would take minutes on a slow disk. The versioned suite runs on the
 * default; lmdb-failures.test.ts and test/e2e check what the default promises, with SIGKILL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { backendContract, scanContract, versionedSuite } from '@ringkv/test-utils';
import { createLmdbBackend } from '../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'ringkv-lmdb-suites-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const folder = () => join(root, `db${++n}`);

backendContract('lmdb', { open: () => createLmdbBackend({ path: folder(), syncIntervalMs: 1000 }), propertyRuns: 30 });
versionedSuite('lmdb', () => createLmdbBackend({ path: folder() }));
scanContract('lmdb', { open: () => createLmdbBackend({ path: folder(), syncIntervalMs: 1000 }), propertyRuns: 20 });
