import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Sibling } from '@ringkv/core';
import { bucketIdOf, decodeRef, encodeRef, entryHash, entryHashOf, latin1, refFromId, refId, refIdOf, tombstoneTs } from '../../src/anti-entropy/object-digest.js';

const bytes = fc.uint8Array({ maxLength: 12 });
const sibling: fc.Arbitrary<Sibling> = fc.record({
  value: fc.uint8Array({ maxLength: 8 }),
  version: fc.record({
    vv: fc.dictionary(fc.constantFrom('a#1', 'b#1', 'c#1'), fc.integer({ min: 1, max: 5 })),
    ts: fc.nat(1000),
    actor: fc.constantFrom('a#1', 'b#1'),
  }),
});

describe('object refs and entry hashes', () => {
  it('refs round-trip for any bucket and key bytes, and their ids too', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 12 }), bytes, (bucket, key) => {
        const ref = encodeRef(bucket, key);
        expect(decodeRef(ref)).toEqual({ bucket: new Uint8Array(bucket), key: new Uint8Array(key) });
        expect(refFromId(refId(ref))).toEqual(ref);
        expect(bucketIdOf(refId(ref))).toBe(Buffer.from(bucket).toString('latin1'));
      }),
    );
  });

  it('refIdOf and entryHashOf give what building the ref gives, for any bytes (long refs too)', () => {
    const long = fc.uint8Array({ minLength: 500, maxLength: 700 });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 40 }), long), fc.oneof(bytes, fc.uint8Array({ maxLength: 40 }), long), fc.array(sibling, { maxLength: 3 }), (bucket, key, siblings) => {
        const ref = encodeRef(bucket, key);
        expect(refIdOf(bucket, key)).toBe(refId(ref));
        expect(entryHashOf(bucket, key, siblings)).toEqual(entryHash(ref, siblings));
        expect(latin1(bucket)).toBe(Buffer.from(bucket).toString('latin1'));
      }),
      { numRuns: 300 },
    );
  });

  it('malformed refs decode to undefined', () => {
    expect(decodeRef(new Uint8Array([0, 0]))).toBeUndefined();
    expect(decodeRef(new Uint8Array([0, 0, 0, 9, 1]))).toBeUndefined();
    expect(decodeRef(new Uint8Array([0, 0, 0, 0, 1]))).toBeUndefined();
    expect(decodeRef('x' as never)).toBeUndefined();
  });

  it('the hash ignores sibling order, vector key order and Buffer-vs-Uint8Array, and sees every field', () => {
    fc.assert(
      fc.property(fc.array(sibling, { minLength: 1, maxLength: 4 }), (siblings) => {
        const ref = encodeRef('b', new Uint8Array([1]));
        const h = entryHash(ref, siblings)!;
        const reordered = [...siblings].reverse().map((s) => ({
          ...s,
          value: Buffer.from(s.value as Uint8Array),
          version: { ...s.version, vv: Object.fromEntries(Object.entries(s.version.vv).reverse()) },
        }));
        expect(entryHash(ref, reordered)).toEqual(h);
        expect(entryHash(encodeRef('b', new Uint8Array([2])), siblings)).not.toEqual(h);
        const [first, ...rest] = siblings;
        expect(entryHash(ref, [{ ...first!, version: { ...first!.version, ts: first!.version.ts + 1 } }, ...rest])).not.toEqual(h);
        expect(entryHash(ref, [{ ...first!, tombstone: true, value: null }, ...rest])).not.toEqual(h);
        const value = first!.value as Uint8Array;
        expect(entryHash(ref, [{ ...first!, value: Uint8Array.from([...value, 0]) }, ...rest])).not.toEqual(h);
        expect(entryHash(ref, [{ ...first!, version: { ...first!.version, vv: { ...first!.version.vv, 'z#9': 1 } } }, ...rest])).not.toEqual(h);
        expect(entryHash(ref, [{ ...first!, version: { ...first!.version, actor: `${first!.version.actor}x` } }, ...rest])).not.toEqual(h);
      }),
    );
    expect(entryHash(encodeRef('b', new Uint8Array()), [])).toBeUndefined();
  });

  it('tombstoneTs: newest stamp when every sibling is a delete, else undefined', () => {
    const v = { vv: {}, actor: 'a' };
    expect(
      tombstoneTs([
        { value: null, tombstone: true, version: { ...v, ts: 3 } },
        { value: null, tombstone: true, version: { ...v, ts: 9 } },
      ]),
    ).toBe(9);
    expect(
      tombstoneTs([
        { value: null, tombstone: true, version: { ...v, ts: 3 } },
        { value: new Uint8Array(), version: { ...v, ts: 9 } },
      ]),
    ).toBeUndefined();
    expect(tombstoneTs([])).toBeUndefined();
  });
});
