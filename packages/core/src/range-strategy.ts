/**
 * The guide's strategy, and ringkv's default: the first byte of the bucket picks one owner
 * from the range table. The table can be replaced at runtime; the next call uses it.
 *
 * @example
 * const strategy = createRangeStrategy([{ from: 'a', to: 'm', node: 'foo@computer-name' }]);
 * strategy.placement('hello').replicas[0].node; // 'foo@computer-name'
 */
import type { BucketName } from './bucket-name.js';
import { lookupRange, parseRangeTable, renderTable, type RangeEntryInput, type RangeTable } from './range-table.js';
import type { Placement, Strategy } from './strategy.js';

export interface RangeStrategy extends Strategy {
  readonly name: 'range';
  table(): RangeTable;
  /** Replaces the table; takes effect on the next call. */
  setTable(table: RangeTable | readonly RangeEntryInput[]): void;
}

export function createRangeStrategy(initial: RangeTable | readonly RangeEntryInput[] = []): RangeStrategy {
  let table = normalise(initial);
  return {
    name: 'range',
    table: () => table,
    setTable(next) {
      table = normalise(next);
    },
    placement(bucket: BucketName): Placement {
      const entry = lookupRange(table, bucket);
      return { replicas: [{ node: entry.node, role: 'primary' }], n: 1, r: 1, w: 1 };
    },
    describe: () => `range table ${renderTable(table)}`,
    members: () => [...new Set(table.map((e) => e.node))],
  };
}

function normalise(t: RangeTable | readonly RangeEntryInput[]): RangeTable {
  return parseRangeTable(t as readonly RangeEntryInput[]);
}
