/**
 * How (space, table, field) becomes one LMDB key, so that one table is one contiguous key range
 * and LMDB's byte order is the scan order (table bytes, then field bytes):
 *
 *   space byte ‖ escape(table) ‖ 0x00 0x01 ‖ field
 *
 * escape() turns each 0x00 of the table name into 0x00 0xff, and 0x00 0x01 ends the name. A
 * name that is a prefix of another therefore sorts first with all its fields (its terminator
 * 0x00 0x01 is below both 0x00 0xff and any other byte), and the encoding is injective. Fields
 * need no escaping: they run to the end of the key. A table's range is [prefix, prefix with its
 * last byte 0x01 raised to 0x02).
 */
import type { Space } from './backend.js';
import { StorageError } from './errors.js';

export const SPACE_BYTE: Record<Space, number> = { plain: 0x70, versioned: 0x76, hinted: 0x68 };
const SPACE_OF = new Map<number, Space>(Object.entries(SPACE_BYTE).map(([s, b]) => [b, s as Space]));

/** The key prefix of every field of `table` in `space`. */
export function tablePrefix(space: Space, table: Uint8Array): Buffer {
  let zeros = 0;
  for (let i = 0; i < table.length; i++) if (table[i] === 0) zeros++;
  const out = Buffer.allocUnsafe(1 + table.length + zeros + 2);
  out[0] = SPACE_BYTE[space];
  let o = 1;
  for (let i = 0; i < table.length; i++) {
    const b = table[i]!;
    out[o++] = b;
    if (b === 0) out[o++] = 0xff;
  }
  out[o++] = 0x00;
  out[o] = 0x01;
  return out;
}

/** The first key after every key of the table whose prefix this is. */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  end[end.length - 1] = 0x02;
  return end;
}

export function dataKey(prefix: Buffer, field: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(prefix.length + field.length);
  prefix.copy(out, 0);
  out.set(field, prefix.length);
  return out;
}

/** The space's whole key range: [space byte, space byte + 1). */
export function spaceRange(space: Space): { start: Buffer; end: Buffer } {
  return { start: Buffer.from([SPACE_BYTE[space]]), end: Buffer.from([SPACE_BYTE[space] + 1]) };
}

/** Splits a data key back into its parts (for scans over a whole space). */
export function parseDataKey(key: Uint8Array): { space: Space; table: Uint8Array; field: Uint8Array } {
  const space = SPACE_OF.get(key[0]!);
  if (!space) throw new StorageError(`lmdb backend: a stored key starts with an unknown space byte ${key[0]}`);
  const table: number[] = [];
  for (let i = 1; i + 1 < key.length; i++) {
    const b = key[i]!;
    if (b !== 0) {
      table.push(b);
      continue;
    }
    const next = key[i + 1]!;
    if (next === 0x01) return { space, table: Uint8Array.from(table), field: new Uint8Array(key.subarray(i + 2)) };
    if (next !== 0xff) break;
    table.push(0);
    i++;
  }
  throw new StorageError('lmdb backend: a stored key has no valid table terminator');
}
