/**
 * Stored records are msgpack written by a small writer of the store's own (msgpackr for
 * unusual shapes); msgpackr decodes both. Whatever the siblings, a record decodes to them.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Sibling } from '@ringkv/core';
import { Packr } from 'msgpackr';
import { decodeSiblings, encodeSiblings } from '../src/versioned-record.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });
const viaMsgpackr = (siblings: readonly Sibling[]) =>
  new Uint8Array(packr.pack([1, siblings.map((s) => [s.value, s.tombstone ? 1 : 0, s.version.vv, s.version.ts, s.version.actor])]));

// msgpackr renames a "__proto__" map key when decoding, whoever wrote the record: left out.
const actor = fc
  .oneof(fc.string({ unit: 'grapheme-ascii', maxLength: 40 }), fc.string({ maxLength: 8 }), fc.constant('a@bench#0123456789ab'))
  .filter((a) => a !== '__proto__');
const count = fc.oneof(fc.nat(300), fc.integer({ min: 0, max: 2 ** 40 }), fc.maxSafeNat(), fc.constantFrom(0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 2 ** 32));
const stamp = fc.record({
  vv: fc.dictionary(actor, count, { maxKeys: 20 }),
  ts: fc.oneof(fc.maxSafeNat(), fc.integer({ min: -(2 ** 31) - 5, max: 5 }), fc.double({ noNaN: true }), fc.constantFrom(1.5, -0, 2 ** 53 + 2)),
  actor,
});
const value = fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ maxLength: 300 }) },
  { weight: 2, arbitrary: fc.constant(true) },
  // Past the 8- and 16-bit length headers.
  { weight: 1, arbitrary: fc.constantFrom(255, 256, 65_535, 65_536, 70_000).map((n) => new Uint8Array(n).fill(n & 0xff)) },
);
const sibling: fc.Arbitrary<Sibling> = fc.oneof(
  fc.record({ value, version: stamp }),
  stamp.map((version) => ({ value: null, tombstone: true, version })),
);

const plain = (siblings: readonly Sibling[]) =>
  siblings.map((s) => ({ ...s, value: s.value instanceof Uint8Array ? Buffer.from(s.value).toString('hex') : s.value, version: { ...s.version, vv: { ...s.version.vv } } }));

describe('stored records', () => {
  it('decode to the siblings written, and to what msgpackr itself would have stored', () => {
    fc.assert(
      fc.property(fc.array(sibling, { maxLength: 20 }), (siblings) => {
        const record = encodeSiblings(siblings);
        const back = decodeSiblings(record, 'test');
        expect(plain(back)).toEqual(plain(siblings.map((s) => ({ ...s, version: { ...s.version, ts: Object.is(s.version.ts, -0) ? 0 : s.version.ts } }))));
        expect(plain(back)).toEqual(plain(decodeSiblings(viaMsgpackr(siblings), 'test')));
      }),
      { numRuns: 400 },
    );
  });

  it('are fresh arrays of their exact size (a backend may keep them as they are)', () => {
    const s: Sibling = { value: new Uint8Array([1, 2, 3]), version: { vv: { a: 1 }, ts: 5, actor: 'a' } };
    const a = encodeSiblings([s]);
    const b = encodeSiblings([s]);
    expect(a).not.toBe(b);
    expect(a.constructor).toBe(Uint8Array);
    expect(a.buffer.byteLength).toBe(a.length);
    expect([...a]).toEqual([...b]);
    // Unusual shapes (a non-ASCII actor here) go through msgpackr, and are fresh arrays too.
    const odd = encodeSiblings([{ ...s, version: { vv: { 'ação': 1 }, ts: 5, actor: 'ação' } }]);
    expect(odd.constructor).toBe(Uint8Array);
    expect(odd.buffer.byteLength).toBe(odd.length);
    expect(decodeSiblings(odd, 'test')[0]!.version.actor).toBe('ação');
  });
});
