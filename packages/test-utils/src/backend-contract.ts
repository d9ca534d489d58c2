/**
 * The contract every backend passes, and the store's bucket semantics on top of it. Called
 * once per backend (memory, ioredis-mock, a real redis-server): the same tests, unchanged.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createStoreOn, type Backend } from '@ringkv/store';
import { bytes, directCaller, utf8 } from './store-helpers.js';

export interface BackendFixture {
  open(): Promise<Backend>;
  /** Fewer fast-check runs for slow backends. @default 60 */
  propertyRuns?: number;
}

const NASTY: Uint8Array[] = [
  bytes(0x00),
  bytes(0xff),
  bytes(0xfe),
  bytes(0xc3, 0x28),
  bytes(0x00, 0xff, 0x00),
  utf8('ção'),
  utf8('plain'),
];

export function backendContract(name: string, fixture: BackendFixture): void {
  describe(`backend contract: ${name}`, () => {
    let backend: Backend;
    beforeEach(async () => {
      backend = await fixture.open();
    });
    afterEach(async () => {
      await backend.clear();
      await backend.close();
    });

    it('creates tables idempotently, an empty table exists, spaces are separate', async () => {
      expect(await backend.hasTable('plain', utf8('b'))).toBe(false);
      expect(await backend.createTable('plain', utf8('b'))).toBe(true);
      expect(await backend.createTable('plain', utf8('b'))).toBe(false);
      expect(await backend.hasTable('plain', utf8('b'))).toBe(true);
      expect(await backend.hasTable('versioned', utf8('b'))).toBe(false);
      expect(await backend.tables('plain')).toEqual([utf8('b')]);
      expect(await backend.tables('hinted')).toEqual([]);
      expect(await backend.stats('plain', utf8('b'))).toEqual({ keys: 0, bytes: 0 });
    });

    it('sets, gets, overwrites and deletes fields', async () => {
      const t = utf8('t');
      expect(await backend.get('plain', t, utf8('k'))).toBeUndefined();
      await backend.set('plain', t, utf8('k'), utf8('v1'));
      expect(await backend.hasTable('plain', t)).toBe(true); // set creates the table
      await backend.set('plain', t, utf8('k'), utf8('v2'));
      expect(await backend.get('plain', t, utf8('k'))).toEqual(utf8('v2'));
      expect(await backend.delete('plain', t, utf8('k'))).toBe(true);
      expect(await backend.delete('plain', t, utf8('k'))).toBe(false);
      expect(await backend.get('plain', t, utf8('k'))).toBeUndefined();
      expect(await backend.hasTable('plain', t)).toBe(true); // emptied, still there
    });

    it('acts only on existing tables with getIfTable, setIfTable and deleteIfTable', async () => {
      const t = bytes(0xff, 0x00);
      const f = bytes(0xc3, 0x28);
      const v = Uint8Array.from({ length: 256 }, (_, i) => i);
      expect(await backend.getIfTable('plain', t, f)).toBeUndefined();
      expect(await backend.setIfTable('plain', t, f, v)).toBe(false);
      expect(await backend.deleteIfTable('plain', t, f)).toBeUndefined();
      expect(await backend.hasTable('plain', t)).toBe(false); // nothing created
      expect(await backend.entries('plain', t)).toEqual([]);
      await backend.createTable('plain', t);
      expect(await backend.getIfTable('plain', t, f)).toEqual({ value: undefined });
      expect(await backend.setIfTable('plain', t, f, v)).toBe(true);
      expect(await backend.getIfTable('plain', t, f)).toEqual({ value: v });
      expect(await backend.getIfTable('plain', t, bytes(0xc3, 0x29))).toEqual({ value: undefined });
      expect(await backend.deleteIfTable('plain', t, f)).toBe(true);
      expect(await backend.deleteIfTable('plain', t, f)).toBe(false);
      expect(await backend.hasTable('plain', t)).toBe(true);
      await backend.dropTable('plain', t);
      expect(await backend.setIfTable('plain', t, f, v)).toBe(false);
    });

    it('keeps names, fields and values with NUL and invalid UTF-8 exactly and apart', async () => {
      for (const [i, name] of NASTY.entries()) {
        for (const [j, field] of NASTY.entries()) {
          await backend.set('plain', name, field, bytes(i, j, 0xff, 0x00, 0xc3, 0x28));
        }
      }
      expect(await backend.tables('plain')).toEqual([...NASTY].sort(Buffer.compare));
      for (const [i, name] of NASTY.entries()) {
        for (const [j, field] of NASTY.entries()) {
          expect(await backend.get('plain', name, field)).toEqual(bytes(i, j, 0xff, 0x00, 0xc3, 0x28));
        }
        const entries = await backend.entries('plain', name);
        expect(entries.map(([f]) => f)).toEqual([...NASTY].sort(Buffer.compare));
      }
    });

    it('round-trips an empty value, an empty field and a 1 MiB value', async () => {
      const big = new Uint8Array(1 << 20);
      for (let i = 0; i < big.length; i++) big[i] = (i * 131 + 7) & 0xff;
      await backend.set('versioned', utf8('t'), bytes(), bytes());
      await backend.set('versioned', utf8('t'), bytes(0xff), bytes());
      await backend.set('versioned', utf8('t'), utf8('big'), big);
      expect(await backend.get('versioned', utf8('t'), bytes())).toEqual(bytes());
      expect(await backend.get('versioned', utf8('t'), bytes(0xff))).toEqual(bytes());
      const back = await backend.get('versioned', utf8('t'), utf8('big'));
      expect(back?.length).toBe(big.length);
      expect(Buffer.compare(back!, big)).toBe(0);
      expect(await backend.stats('versioned', utf8('t'))).toEqual({ keys: 3, bytes: 0 + 1 + 3 + big.length });
    });

    it('stats follow any mix of writes, overwrites and deletes (counted as they happen on memory)', async () => {
      const runs = Math.min(fixture.propertyRuns ?? 60, 30);
      let round = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({
              op: fc.constantFrom('set', 'setIfTable', 'delete', 'deleteIfTable'),
              field: fc.constantFrom(...NASTY, bytes()),
              value: fc.uint8Array({ maxLength: 20 }),
            }),
            { maxLength: 25 },
          ),
          async (ops) => {
            const table = utf8(`stats${round++}`);
            for (const { op, field, value } of ops) {
              if (op === 'set') await backend.set('versioned', table, field, value);
              else if (op === 'setIfTable') await backend.setIfTable('versioned', table, field, value);
              else if (op === 'delete') await backend.delete('versioned', table, field);
              else await backend.deleteIfTable('versioned', table, field);
            }
            const all = await backend.entries('versioned', table);
            expect(await backend.stats('versioned', table)).toEqual({
              keys: all.length,
              bytes: all.reduce((n, [f, v]) => n + f.length + v.length, 0),
            });
          },
        ),
        { numRuns: runs },
      );
    });

    it('keeps no reference to the caller’s buffer', async () => {
      const value = utf8('abc');
      await backend.set('plain', utf8('t'), utf8('k'), value);
      value[0] = 0x7a;
      expect(await backend.get('plain', utf8('t'), utf8('k'))).toEqual(utf8('abc'));
      // Node Buffers too (their slice() is a view, not a copy).
      const chunk = Buffer.from('xxdefxx');
      const view = chunk.subarray(2, 5);
      await backend.set('plain', utf8('t'), view, view);
      chunk.fill(0x21);
      expect(await backend.get('plain', utf8('t'), utf8('def'))).toEqual(utf8('def'));
    });

    it('lists entries in field order and accounts sizes', async () => {
      await backend.set('hinted', utf8('owner'), utf8('b'), utf8('22'));
      await backend.set('hinted', utf8('owner'), utf8('a'), utf8('1'));
      await backend.set('hinted', utf8('owner'), bytes(0xff), utf8('333'));
      expect(await backend.entries('hinted', utf8('owner'))).toEqual([
        [utf8('a'), utf8('1')],
        [utf8('b'), utf8('22')],
        [bytes(0xff), utf8('333')],
      ]);
      expect(await backend.stats('hinted', utf8('owner'))).toEqual({ keys: 3, bytes: 2 + 3 + 4 });
      expect(await backend.entries('hinted', utf8('nobody'))).toEqual([]);
    });

    it('lists more fields than one scan batch', async () => {
      for (let i = 0; i < 2500; i++) await backend.set('plain', utf8('many'), utf8(`k${i}`), bytes(i & 0xff));
      const entries = await backend.entries('plain', utf8('many'));
      expect(entries.length).toBe(2500);
      expect(new Set(entries.map(([f]) => Buffer.from(f).toString('latin1'))).size).toBe(2500);
    });

    it('drops a table with its fields, and clear empties every space', async () => {
      await backend.set('plain', utf8('a'), utf8('k'), utf8('v'));
      await backend.set('plain', utf8('b'), utf8('k'), utf8('v'));
      await backend.set('versioned', utf8('a'), utf8('k'), utf8('v'));
      await backend.dropTable('plain', utf8('a'));
      expect(await backend.hasTable('plain', utf8('a'))).toBe(false);
      expect(await backend.get('plain', utf8('a'), utf8('k'))).toBeUndefined();
      expect(await backend.get('versioned', utf8('a'), utf8('k'))).toEqual(utf8('v'));
      await backend.clear();
      for (const space of ['plain', 'versioned', 'hinted'] as const) expect(await backend.tables(space)).toEqual([]);
      expect(await backend.get('plain', utf8('b'), utf8('k'))).toBeUndefined();
    });

    it('runs the guide session through the bucket functions', async () => {
      const { call } = directCaller(createStoreOn(backend));
      expect(await call('KV.Bucket', 'get', ['shopping', 'eggs'])).toBe('not_found');
      expect(await call('KV.Registry', 'create', ['shopping'])).toBe('ok');
      expect(await call('KV.Bucket', 'put', ['shopping', 'eggs', '3'])).toBe('ok');
      expect(await call('KV.Bucket', 'get', ['shopping', 'eggs'])).toEqual({ value: utf8('3') });
      expect(await call('KV.Bucket', 'delete', ['shopping', 'eggs'])).toBe('ok');
      expect(await call('KV.Bucket', 'get', ['shopping', 'eggs'])).toEqual({ value: null });
      expect(await call('KV.Bucket', 'put', ['nope', 'eggs', '3'])).toBe('not_found');
      expect(await call('KV.Registry', 'lookup', ['nope'])).toBe(false);
    });

    it('serializes a bucket’s operations in arrival order', async () => {
      const { call } = directCaller(createStoreOn(backend));
      await call('KV.Registry', 'create', ['q']);
      const ops = Array.from({ length: 50 }, (_, i) => call('KV.Bucket', 'put', ['q', 'k', String(i)]));
      const read = call('KV.Bucket', 'get', ['q', 'k']);
      await Promise.all(ops);
      expect(await read).toEqual({ value: utf8('49') });
    });

    it('matches a simple model under random create/put/get/delete sequences', async () => {
      const store = createStoreOn(backend);
      const { call } = directCaller(store);
      const name = fc.constantFrom(...NASTY.slice(0, 4));
      const key = fc.constantFrom(bytes(0x00), bytes(0xff), bytes(0xfe), utf8('k'));
      const op = fc.oneof(
        fc.record({ op: fc.constant('create' as const), b: name }),
        fc.record({ op: fc.constant('lookup' as const), b: name }),
        fc.record({ op: fc.constant('put' as const), b: name, k: key, v: fc.uint8Array({ maxLength: 16 }) }),
        fc.record({ op: fc.constant('get' as const), b: name, k: key }),
        fc.record({ op: fc.constant('delete' as const), b: name, k: key }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 30 }), async (ops) => {
          await store.reset();
          const model = new Map<string, Map<string, Uint8Array>>();
          const id = (b: Uint8Array) => Buffer.from(b).toString('latin1');
          for (const o of ops) {
            const bucket = model.get(id(o.b));
            switch (o.op) {
              case 'create':
                expect(await call('KV.Registry', 'create', [o.b])).toBe('ok');
                if (!bucket) model.set(id(o.b), new Map());
                break;
              case 'lookup':
                expect(await call('KV.Registry', 'lookup', [o.b])).toBe(bucket !== undefined);
                break;
              case 'put':
                expect(await call('KV.Bucket', 'put', [o.b, o.k, o.v])).toBe(bucket ? 'ok' : 'not_found');
                bucket?.set(id(o.k), o.v);
                break;
              case 'get':
                expect(await call('KV.Bucket', 'get', [o.b, o.k])).toEqual(bucket ? { value: bucket.get(id(o.k)) ?? null } : 'not_found');
                break;
              case 'delete':
                expect(await call('KV.Bucket', 'delete', [o.b, o.k])).toBe(bucket ? 'ok' : 'not_found');
                bucket?.delete(id(o.k));
                break;
            }
          }
        }),
        { numRuns: fixture.propertyRuns ?? 60 },
      );
    });
  });
}
