/**
 * The ordered, resumable scan every backend offers (`Backend.scan`): order (table bytes, then
 * field bytes), bounded batches, resumption from a cursor, and writes during a scan. Called
 * once per backend (memory, ioredis-mock, a real redis-server, LMDB), unchanged.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArgumentError } from '@ringkv/core';
import type { Backend, ScanEntry, ScanOptions, Space } from '@ringkv/store';
import { bytes, utf8 } from './store-helpers.js';

export interface ScanFixture {
  open(): Promise<Backend>;
  /** Fewer fast-check runs for slow backends. @default 40 */
  propertyRuns?: number;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const id = (e: { table: Uint8Array; field: Uint8Array }) => `${hex(e.table)}/${hex(e.field)}`;

/** Table bytes, then field bytes: the order every scan must follow. */
function comparePairs(a: { table: Uint8Array; field: Uint8Array }, b: { table: Uint8Array; field: Uint8Array }): number {
  return Buffer.compare(a.table, b.table) || Buffer.compare(a.field, b.field);
}

/** Every batch of a scan, each checked against its limit. */
async function scanAll(backend: Backend, space: Space, options: Omit<ScanOptions, 'after'>, between?: (i: number) => Promise<void>) {
  const out: ScanEntry[] = [];
  let after: Uint8Array | undefined;
  for (let i = 0; i < 100_000; i++) {
    const batch = await backend.scan(space, { ...options, ...(after ? { after } : {}) });
    expect(batch.entries.length).toBeLessThanOrEqual(options.limit);
    out.push(...batch.entries);
    if (!batch.next) return out;
    // A copy: the cursor is bytes the caller may keep anywhere (a file, another process).
    after = new Uint8Array(batch.next);
    await between?.(i);
  }
  throw new Error('scan did not end');
}

export function scanContract(name: string, fixture: ScanFixture): void {
  describe(`ordered scan: ${name}`, () => {
    let backend: Backend;
    beforeEach(async () => {
      backend = await fixture.open();
    });
    afterEach(async () => {
      await backend.clear();
      await backend.close();
    });

    const TABLES = [utf8('a'), utf8('ab'), bytes(0x61, 0x00), bytes(0xff), bytes(0x00), utf8('b')];
    const FIELDS = [utf8('k'), bytes(0x00), bytes(0xff, 0x00), utf8('k1'), bytes(0xc3, 0x28), utf8('')];

    async function fill(space: Space = 'plain') {
      const all: ScanEntry[] = [];
      for (const [i, table] of TABLES.entries()) {
        for (const [j, field] of FIELDS.entries()) {
          const value = bytes(i, j, 0xff, 0x00);
          await backend.set(space, table, field, value);
          all.push({ table, field, value });
        }
      }
      await backend.createTable(space, utf8('empty'));
      return all.sort(comparePairs);
    }

    it('lists a whole space in table, then field, byte order; spaces are separate', async () => {
      const all = await fill('versioned');
      await backend.set('plain', utf8('other'), utf8('k'), utf8('v'));
      const batch = await backend.scan('versioned', { limit: 1000 });
      expect(batch.next).toBeUndefined();
      expect(batch.entries).toEqual(all);
      expect((await backend.scan('hinted', { limit: 10 })).entries).toEqual([]);
      expect((await backend.scan('plain', { limit: 10 })).entries).toEqual([{ table: utf8('other'), field: utf8('k'), value: utf8('v') }]);
    });

    it('is bounded by limit and resumes strictly after the cursor, for every batch size', async () => {
      const all = await fill();
      for (const limit of [1, 2, 5, 6, 7, all.length - 1, all.length, all.length + 1]) {
        const got = await scanAll(backend, 'plain', { limit });
        expect(got.map(id)).toEqual(all.map(id));
      }
      // A batch that takes exactly what is left says the scan is complete.
      const exact = await backend.scan('plain', { limit: all.length });
      expect(exact.entries.length).toBe(all.length);
      expect(exact.next).toBeUndefined();
      const short = await backend.scan('plain', { limit: all.length - 1 });
      expect(short.next).toBeDefined();
    });

    it('scans one table only, also from a cursor taken in another table', async () => {
      const all = await fill();
      const ab = all.filter((e) => Buffer.compare(e.table, utf8('ab')) === 0);
      expect((await scanAll(backend, 'plain', { table: utf8('ab'), limit: 4 })).map(id)).toEqual(ab.map(id));
      expect(await backend.scan('plain', { table: utf8('empty'), limit: 3 })).toEqual({ entries: [] });
      expect(await backend.scan('plain', { table: utf8('missing'), limit: 3 })).toEqual({ entries: [] });

      // A cursor from the whole-space scan, inside table `a`, then resumed on single tables.
      const first = await backend.scan('plain', { limit: 8 });
      const inA = first.entries.at(-1)!;
      expect(Buffer.compare(inA.table, utf8('a'))).toBe(0);
      const restOfA = await backend.scan('plain', { table: utf8('a'), after: first.next!, limit: 100 });
      expect(restOfA.entries.map(id)).toEqual(all.filter((e) => Buffer.compare(e.table, utf8('a')) === 0 && comparePairs(e, inA) > 0).map(id));
      // A table before the cursor's has nothing left; a table after it is read from its start.
      expect((await backend.scan('plain', { table: bytes(0x00), after: first.next!, limit: 100 })).entries).toEqual([]);
      expect((await backend.scan('plain', { table: utf8('b'), after: first.next!, limit: 100 })).entries.length).toBe(FIELDS.length);
    });

    it('returns every entry that exists for the whole scan exactly once while others are written and deleted', async () => {
      const stable: ScanEntry[] = [];
      for (let t = 0; t < 5; t++) {
        for (let k = 0; k < 40; k++) {
          const e = { table: utf8(`t${t}`), field: utf8(`k${String(k).padStart(3, '0')}`), value: bytes(t, k) };
          await backend.set('plain', e.table, e.field, e.value);
          stable.push(e);
        }
      }
      // Churn: fields before and after every stable one, added and removed, in tables
      // that appear and disappear, plus overwrites of stable fields with the same value.
      let n = 0;
      const churn = async () => {
        const t = n % 6;
        const table = utf8(`t${t}`);
        await Promise.all([
          backend.set('plain', table, utf8(`k${String(n % 40).padStart(3, '0')}x${n}`), bytes(n & 0xff)),
          backend.set('plain', table, utf8(`j${n}`), bytes(1)),
          backend.set('plain', utf8(`t${t}-${n}`), utf8('new'), bytes(2)),
          backend.set('plain', table, utf8(`k${String(n % 40).padStart(3, '0')}`), bytes(t, n % 40)),
          n > 3 ? backend.delete('plain', table, utf8(`j${n - 3}`)) : Promise.resolve(false),
          n > 3 ? backend.dropTable('plain', utf8(`t${(n - 3) % 6}-${n - 3}`)) : Promise.resolve(),
        ]);
        n++;
      };
      const stableIds = new Set(stable.map(id));
      for (const limit of [3, 16]) {
        // Writes both between batches and in flight while a batch is being read.
        const got: ScanEntry[] = [];
        let after: Uint8Array | undefined;
        for (let i = 0; i < 10_000; i++) {
          const [batch] = await Promise.all([backend.scan('plain', { limit, ...(after ? { after } : {}) }), churn()]);
          expect(batch.entries.length).toBeLessThanOrEqual(limit);
          got.push(...batch.entries);
          if (!batch.next) break;
          after = batch.next;
          await churn();
        }
        const ids = got.map(id);
        expect(new Set(ids).size).toBe(ids.length); // nothing repeated
        for (let i = 1; i < got.length; i++) expect(comparePairs(got[i - 1]!, got[i]!)).toBeLessThan(0);
        expect(ids.filter((x) => stableIds.has(x))).toEqual(stable.map(id)); // nothing stable skipped
        for (const e of got.filter((x) => stableIds.has(id(x)))) {
          const want = stable.find((s) => id(s) === id(e))!;
          expect(e.value).toEqual(want.value);
        }
      }
    });

    it('refuses bad options with an ArgumentError naming the field', async () => {
      await backend.set('plain', utf8('t'), utf8('k'), utf8('v'));
      for (const limit of [0, -1, 1.5, Number.NaN, '3' as unknown as number, undefined as unknown as number]) {
        await expect(backend.scan('plain', { limit })).rejects.toThrow(/limit must be a positive integer/);
      }
      await expect(backend.scan('plain', { limit: 1, after: bytes(9, 9) })).rejects.toBeInstanceOf(ArgumentError);
      await expect(backend.scan('plain', { limit: 1, after: bytes(1, 0, 0, 0, 9) })).rejects.toThrow(/after must be a cursor/);
      await expect(backend.scan('plain', { limit: 1, table: 'x' as unknown as Uint8Array })).rejects.toThrow(/table must be a Uint8Array/);
    });

    it('matches a sorted model for random contents and batch sizes', async () => {
      const pair = fc.record({ t: fc.uint8Array({ minLength: 1, maxLength: 3 }), f: fc.uint8Array({ maxLength: 3 }), v: fc.uint8Array({ maxLength: 4 }) });
      await fc.assert(
        fc.asyncProperty(fc.array(pair, { maxLength: 30 }), fc.integer({ min: 1, max: 8 }), async (pairs, limit) => {
          await backend.clear();
          const model = new Map<string, ScanEntry>();
          for (const p of pairs) {
            await backend.set('hinted', p.t, p.f, p.v);
            model.set(id({ table: p.t, field: p.f }), { table: p.t, field: p.f, value: p.v });
          }
          const want = [...model.values()].sort(comparePairs);
          const got = await scanAll(backend, 'hinted', { limit });
          expect(got.map((e) => [id(e), hex(e.value)])).toEqual(want.map((e) => [id(e), hex(e.value)]));
        }),
        { numRuns: fixture.propertyRuns ?? 40 },
      );
    });
  });
}
