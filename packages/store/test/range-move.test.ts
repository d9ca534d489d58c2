/**
 * The `RangeMove` module a managed range-table cluster moves plain buckets with: pages in key
 * order from a cursor, bounded; absorbing a page creates the bucket; dropping forgets it; bad
 * arguments get a clear error. On memory and on LMDB (whose page is stored with one durability wait).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createModuleRegistry, kvCall, moveFn, RANGE_MOVE_MODULE, type RangeMovePage, type StrategyHost } from '@ringkv/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createStore, type Store } from '../src/index.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const root = mkdtempSync(join(tmpdir(), 'ringkv-range-move-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe.each(['memory', 'lmdb'] as const)('RangeMove on %s', (backend) => {
  async function host(name: string): Promise<{ host: StrategyHost; store: Store }> {
    const store = await createStore(backend === 'lmdb' ? { backend, lmdb: { path: join(root, name) } } : { backend });
    const modules = createModuleRegistry();
    store.register(modules);
    const h: StrategyHost = {
      name,
      modules,
      logger: { debug() {}, info() {}, warn() {}, error() {} } as unknown as StrategyHost['logger'],
      handle() {},
      send: () => Promise.reject(new Error('no network here')),
    };
    return { host: h, store };
  }
  const router = (h: StrategyHost) => ({
    route: (_b: unknown, mod: string, fun: string, args: readonly unknown[] = []) =>
      Promise.resolve(h.modules.resolve(mod, fun, args.length, h.name).fn({ node: h.name, bucket: args[0] as Uint8Array, meta: {} }, ...args)),
  });

  it('pages a bucket in key order from a cursor; the receiver ends with the same bucket; drop forgets it', async () => {
    const { host: from, store: s1 } = await host(`${backend}-from`);
    const { host: to, store: s2 } = await host(`${backend}-to`);
    const bucket = new Uint8Array([0xff, 0, 10]);
    await kvCall(router(from), 'create', [bucket]);
    for (let i = 0; i < 25; i++) await kvCall(router(from), 'put', [bucket, `k${String(i).padStart(2, '0')}`, new Uint8Array([i, 0, 255])]);
    const keys: string[] = [];
    let after: Uint8Array | null = null;
    let pages = 0;
    do {
      const page = (await moveFn(from, 'scan', [bucket, after, 7])) as RangeMovePage;
      expect(page.exists).toBe(true);
      expect(page.entries.length).toBeLessThanOrEqual(7);
      keys.push(...page.entries.map(([k]) => dec.decode(k)));
      expect(await moveFn(to, 'absorb', [bucket, page.entries])).toBe('ok');
      after = page.next ?? null;
      pages++;
    } while (after);
    expect(pages).toBe(4);
    expect(keys).toEqual([...keys].sort());
    expect(keys.length).toBe(25);
    expect(await kvCall(router(to), 'get', [bucket, 'k13'])).toEqual({ value: new Uint8Array([13, 0, 255]) });
    expect((await s2.buckets()).map((b) => [b.keys, b.bytes])).toEqual((await s1.buckets()).map((b) => [b.keys, b.bytes]));
    expect(await moveFn(from, 'drop', [bucket])).toBe('ok');
    expect(await moveFn(from, 'buckets', [])).toEqual([]);
    expect(((await moveFn(from, 'scan', [bucket, null, 5])) as RangeMovePage).exists).toBe(false);
    await s1.close();
    await s2.close();
  });

  it('an empty bucket moves as an empty page (the receiver creates it)', async () => {
    const { host: to, store } = await host(`${backend}-empty`);
    expect(await moveFn(to, 'absorb', [enc.encode('empty'), []])).toBe('ok');
    expect(await kvCall(router(to), 'lookup', ['empty'])).toBe(true);
    await store.close();
  });

  it('bad arguments get a clear error and store nothing', async () => {
    const { host: h, store } = await host(`${backend}-bad`);
    expect(h.modules.lookup(RANGE_MOVE_MODULE, 'scan', 3)).toBeDefined();
    await expect(moveFn(h, 'scan', ['b', null, 0])).rejects.toThrow(/limit must be an integer from 1 to 10000/);
    await expect(moveFn(h, 'scan', ['b', 'cursor', 5])).rejects.toThrow(/after must be bytes or null/);
    await expect(moveFn(h, 'absorb', ['b', [[enc.encode(''), enc.encode('v')]]])).rejects.toThrow(/entries\[0\] must be \[key bytes \(non-empty\), value bytes\]/);
    await expect(moveFn(h, 'absorb', ['b', 'nope'])).rejects.toThrow(/entries must be a list/);
    await expect(moveFn(h, 'drop', [''])).rejects.toThrow(/bucket/);
    expect(await moveFn(h, 'buckets', [])).toEqual([]);
    await store.close();
  });
});
