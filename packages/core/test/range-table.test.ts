import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, findEntry, lookupRange, NoEntryError, parseConfig, parseRangeTable, renderTable, type RangeTable } from '../src/index.js';

const entryArb = fc
  .record({ a: fc.integer({ min: 0, max: 255 }), b: fc.integer({ min: 0, max: 255 }), node: fc.constantFrom('a@h', 'b@h', 'c@h') })
  .map(({ a, b, node }) => ({ from: Math.min(a, b), to: Math.max(a, b), node }));
const tableArb = fc.array(entryArb, { maxLength: 8 }).map((t) => parseRangeTable(t));

/** Reference model: scan every entry, keep the first that contains the byte. */
function model(table: RangeTable, byte: number): string | undefined {
  const hits = table.filter((e) => e.from <= byte && byte <= e.to);
  return hits[0]?.node;
}

describe('range table (properties)', () => {
  it('finds exactly the first entry that contains the first byte', () => {
    fc.assert(
      fc.property(tableArb, fc.uint8Array({ minLength: 1, maxLength: 8 }), (table, bucket) => {
        const expected = model(table, bucket[0]!);
        if (expected === undefined) {
          expect(() => lookupRange(table, bucket)).toThrow(NoEntryError);
        } else {
          expect(lookupRange(table, bucket).node).toBe(expected);
        }
      }),
    );
  });

  it('depends only on the first byte of the name', () => {
    fc.assert(
      fc.property(tableArb, fc.integer({ min: 0, max: 255 }), fc.uint8Array(), fc.uint8Array(), (table, first, r1, r2) => {
        const a = findEntry(table, first);
        expect(findEntry(table, new Uint8Array([first, ...r1])[0]!)).toBe(a);
        expect(findEntry(table, new Uint8Array([first, ...r2])[0]!)).toBe(a);
      }),
    );
  });

  it('includes both bounds and nothing just outside them', () => {
    fc.assert(
      fc.property(entryArb, (e) => {
        const table = parseRangeTable([e]);
        expect(findEntry(table, e.from)?.node).toBe(e.node);
        expect(findEntry(table, e.to)?.node).toBe(e.node);
        if (e.from > 0) expect(findEntry(table, e.from - 1)).toBeUndefined();
        if (e.to < 255) expect(findEntry(table, e.to + 1)).toBeUndefined();
      }),
    );
  });

  it('routes string names on their UTF-8 first byte', () => {
    fc.assert(
      fc.property(tableArb, fc.string({ minLength: 1, unit: 'grapheme' }), (table, name) => {
        const first = new TextEncoder().encode(name)[0]!;
        expect(findEntry(table, first)?.node).toBe(model(table, first));
      }),
    );
  });
});

describe('range table (parsing and rendering)', () => {
  it('renders like the guide, with unprintable bounds in hex', () => {
    expect(renderTable(parseRangeTable([{ from: 'a', to: 'm', node: 'foo@x' }, { from: 0, to: 31, node: 'bar@x' }]))).toBe(
      '[a..m -> foo@x, 0x00..0x1f -> bar@x]',
    );
  });

  it('rejects bad bounds naming the entry and field', () => {
    expect(() => parseRangeTable([{ from: 'ab', to: 'z', node: 'a@b' }])).toThrow(ConfigError);
    expect(() => parseRangeTable([{ from: 'a', to: 256, node: 'a@b' }])).toThrow('routingTable[0].to');
    expect(() => parseRangeTable([{ from: 'a', to: 'b', node: 'a@b' }, { from: 'z', to: 'a', node: 'a@b' }])).toThrow(
      'routingTable[1]: range z..a is empty',
    );
    expect(() => parseRangeTable([{ from: 'ç', to: 'z', node: 'a@b' }])).toThrow(/one ASCII character/);
  });

  it('renders binary bucket names without forging text', () => {
    const err = (() => {
      try {
        lookupRange([], new Uint8Array([0xff, 0x0a]));
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err?.message).toBe('could not find entry for <<0xff, 0x0a>> in table []');
  });

  it('prints digit bytes as hex, so a table of digits cannot be read as small byte numbers', () => {
    expect(renderTable(parseRangeTable([{ from: '0', to: '2', node: 'foo@x' }, { from: 0, to: 2, node: 'bar@x' }]))).toBe('[0x30..0x32 -> foo@x, 0x00..0x02 -> bar@x]');
  });

  it('refuses overlapping ranges in a config table, naming both entries', () => {
    expect(() => parseConfig({ routingTable: [{ from: 'a', to: 'm', node: 'foo@x' }, { from: 'k', to: 'z', node: 'bar@x' }] })).toThrow(
      /entry 1 \(k\.\.z -> bar@x\) overlaps entry 0 \(a\.\.m -> foo@x\); the first match wins, so bytes k\.\.m never reach bar@x/,
    );
  });
});
