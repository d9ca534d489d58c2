/**
 * The scan cursor every backend hands out: a tag byte, the table's length (4 bytes, big
 * endian), the table, then the field. Length-prefixing keeps (table, field) pairs apart (a
 * table `ab` with field `c` is not table `a` with field `bc`), and holding the position itself
 * rather than backend state is what lets a scan resume in another process or after a restart.
 */
import { ArgumentError, describeType } from '@ringkv/core';
import type { ScanCursor, ScanOptions } from './backend.js';

const CURSOR_TAG = 1;

export interface ScanPosition {
  table: Uint8Array;
  field: Uint8Array;
}

export function encodeCursor(table: Uint8Array, field: Uint8Array): ScanCursor {
  const out = new Uint8Array(5 + table.length + field.length);
  out[0] = CURSOR_TAG;
  new DataView(out.buffer).setUint32(1, table.length);
  out.set(table, 5);
  out.set(field, 5 + table.length);
  return out;
}

export function decodeCursor(cursor: ScanCursor): ScanPosition {
  if (cursor.length < 5 || cursor[0] !== CURSOR_TAG) throw new ArgumentError('after must be a cursor returned by scan (the `next` of an earlier batch)');
  const len = new DataView(cursor.buffer, cursor.byteOffset, cursor.byteLength).getUint32(1);
  if (5 + len > cursor.length) throw new ArgumentError('after must be a cursor returned by scan (its table length is past its end)');
  return { table: cursor.slice(5, 5 + len), field: cursor.slice(5 + len) };
}

export interface CheckedScan {
  table?: Uint8Array;
  after?: ScanPosition;
  limit: number;
}

/** Validates scan options with errors naming the field; decodes the cursor. */
export function checkScanOptions(options: ScanOptions): CheckedScan {
  if (options === null || typeof options !== 'object') throw new ArgumentError(`scan options must be an object, got ${describeType(options)}`);
  const { table, after, limit } = options;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) {
    throw new ArgumentError(`scan limit must be a positive integer, got ${describeType(limit)} ${String(limit)}`);
  }
  if (table !== undefined && !(table instanceof Uint8Array)) throw new ArgumentError(`scan table must be a Uint8Array, got ${describeType(table)}`);
  if (after !== undefined && !(after instanceof Uint8Array)) throw new ArgumentError(`scan after must be a Uint8Array cursor, got ${describeType(after)}`);
  return {
    limit,
    ...(table !== undefined ? { table } : {}),
    ...(after !== undefined ? { after: decodeCursor(after) } : {}),
  };
}
