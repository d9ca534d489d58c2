/**
 * The guide's routing table, as a pure value: an ordered list of inclusive byte ranges, each
 * naming a node; the first entry containing the bucket's first byte wins.
 *
 * @example
 * const table = parseRangeTable([{ from: 'a', to: 'm', node: 'foo@computer-name' }]);
 * lookupRange(table, 'hello'); // => entry for foo@computer-name
 */
import { ConfigError, NoEntryError } from './errors.js';
import { type BucketName, firstByte, renderBucket } from './bucket-name.js';

export interface RangeEntry {
  /** First byte of the range, 0..255, inclusive. */
  readonly from: number;
  /** Last byte of the range, 0..255, inclusive. */
  readonly to: number;
  readonly node: string;
}

export type RangeTable = readonly RangeEntry[];

/** A range bound as written in config: one ASCII character or an integer 0..255. */
export type RangeBound = string | number;

export interface RangeEntryInput {
  from: RangeBound;
  to: RangeBound;
  node: string;
}

/** Converts a config bound to a byte. Throws {@link ConfigError} naming `field`. */
export function boundToByte(bound: RangeBound, field: string): number {
  if (typeof bound === 'number') {
    if (Number.isInteger(bound) && bound >= 0 && bound <= 255) return bound;
    throw new ConfigError(`${field}: must be an integer from 0 to 255 or one ASCII character, got ${bound}`);
  }
  if (typeof bound === 'string' && bound.length === 1 && bound.charCodeAt(0) < 128) return bound.charCodeAt(0);
  throw new ConfigError(
    `${field}: must be one ASCII character or an integer from 0 to 255, got ${JSON.stringify(bound)}`,
  );
}

/** Validates and normalises a table from config. `path` prefixes field names in errors. */
export function parseRangeTable(entries: readonly RangeEntryInput[], path = 'routingTable'): RangeTable {
  return entries.map((e, i) => {
    const from = boundToByte(e.from, `${path}[${i}].from`);
    const to = boundToByte(e.to, `${path}[${i}].to`);
    if (from > to) {
      throw new ConfigError(`${path}[${i}]: range ${renderByte(from)}..${renderByte(to)} is empty (from > to)`);
    }
    if (typeof e.node !== 'string' || e.node === '') {
      throw new ConfigError(`${path}[${i}].node: must be a non-empty node name`);
    }
    return Object.freeze({ from, to, node: e.node });
  });
}

/** The entry owning `byte`, or undefined. First match wins; bounds are inclusive. */
export function findEntry(table: RangeTable, byte: number): RangeEntry | undefined {
  for (const entry of table) {
    if (byte >= entry.from && byte <= entry.to) return entry;
  }
  return undefined;
}

/** The entry owning `bucket`; throws the guide's error when none matches. */
export function lookupRange(table: RangeTable, bucket: BucketName): RangeEntry {
  const entry = findEntry(table, firstByte(bucket));
  if (!entry) throw noEntryError(bucket, table);
  return entry;
}

export function noEntryError(bucket: BucketName, table: RangeTable): NoEntryError {
  return new NoEntryError(`could not find entry for ${renderBucket(bucket)} in table ${renderTable(table)}`);
}

/** `[a..m -> foo@computer-name, n..z -> bar@computer-name]` */
export function renderTable(table: RangeTable): string {
  return `[${table.map((e) => `${renderByte(e.from)}..${renderByte(e.to)} -> ${e.node}`).join(', ')}]`;
}

/**
 * Printable ASCII as itself, anything else as 0xNN. Digits too print as 0xNN: a table bound
 * `0` in config is byte 0, so `0..2` would read as bytes 0..2 when it meant 0x30..0x32.
 */
export function renderByte(b: number): string {
  const isDigit = b >= 0x30 && b <= 0x39;
  return b > 0x20 && b < 0x7f && !isDigit ? String.fromCharCode(b) : `0x${b.toString(16).padStart(2, '0')}`;
}

/**
 * Pairs of entries whose ranges overlap, as messages. First match wins at lookup, so a later
 * overlapping entry is partly or wholly dead: config refuses such tables.
 */
export function overlappingRanges(table: RangeTable, label = 'entry '): string[] {
  const found: string[] = [];
  for (let i = 0; i < table.length; i++) {
    for (let j = i + 1; j < table.length; j++) {
      const a = table[i]!;
      const b = table[j]!;
      if (a.from <= b.to && b.from <= a.to) {
        found.push(
          `${label}${j} (${renderByte(b.from)}..${renderByte(b.to)} -> ${b.node}) overlaps ${label}${i} (${renderByte(a.from)}..${renderByte(a.to)} -> ${a.node}); the first match wins, so bytes ${renderByte(Math.max(a.from, b.from))}..${renderByte(Math.min(a.to, b.to))} never reach ${b.node}`,
        );
      }
    }
  }
  return found;
}
