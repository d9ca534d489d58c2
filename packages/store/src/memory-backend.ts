/**
 * The default backend: tables in process memory. Map keys are the latin1 form of the bytes
 * (lossless); stored values are copies, so a caller reusing its buffer cannot change them.
 * Values handed out are the stored arrays themselves (no copy per read): callers must not
 * mutate them. Every operation is synchronous inside, so it also offers a {@link SyncBackend}.
 */
import type { Backend, ScanEntry, Space, SyncBackend } from './backend.js';
import { compareBytes, fromKeyString, keyString, ownBytes } from './bytes.js';
import { checkScanOptions, encodeCursor } from './scan-cursor.js';

interface Table {
  readonly name: Uint8Array;
  readonly fields: Map<string, Uint8Array>;
  /** Field plus value bytes of every field, kept with each write so `stats` is O(1). */
  bytes: number;
  /**
   * The field ids in order, built by the first scan that needs them and dropped when a field is
   * added or removed (not when a value is overwritten), so a scan in batches sorts once, not
   * once per batch, while writes stay a Map operation.
   */
  sorted?: string[];
}

export function createMemoryBackend(): Backend {
  const spaces: Record<Space, Map<string, Table>> = { plain: new Map(), versioned: new Map(), hinted: new Map() };
  /** Table ids of each space in order, for scans; dropped when a table is created or removed. */
  const sortedTables: Partial<Record<Space, string[]>> = {};

  const newTable = (space: Space, id: string, name: Uint8Array): Table => {
    const table: Table = { name: ownBytes(name), fields: new Map(), bytes: 0 };
    spaces[space].set(id, table);
    delete sortedTables[space];
    return table;
  };

  const sync: SyncBackend = {
    hasTable: (space, id) => spaces[space].has(id),
    createTable(space, id, name) {
      if (spaces[space].has(id)) return false;
      newTable(space, id, name);
      return true;
    },
    get: (space, id, field) => spaces[space].get(id)?.fields.get(keyString(field)),
    set(space, id, name, field, value, handOver) {
      const table = spaces[space].get(id) ?? newTable(space, id, name);
      const f = keyString(field);
      const old = table.fields.get(f);
      const stored = handOver === true && value.constructor === Uint8Array ? value : ownBytes(value);
      table.fields.set(f, stored);
      table.bytes += value.length - (old === undefined ? -field.length : old.length);
      if (old === undefined) table.sorted = undefined;
      return stored;
    },
    delete(space, id, field) {
      const table = spaces[space].get(id);
      const f = keyString(field);
      const old = table?.fields.get(f);
      if (!table || old === undefined) return false;
      table.fields.delete(f);
      table.bytes -= field.length + old.length;
      table.sorted = undefined;
      return true;
    },
  };

  const tableIds = (space: Space) => (sortedTables[space] ??= [...spaces[space].keys()].sort());
  const fieldIds = (table: Table) => (table.sorted ??= [...table.fields.keys()].sort());

  return {
    kind: 'memory',
    sync,
    valuesImmutable: true,
    async createTable(space, name) {
      return sync.createTable(space, keyString(name), name);
    },
    async hasTable(space, name) {
      return sync.hasTable(space, keyString(name));
    },
    async tables(space) {
      return [...spaces[space].values()].map((t) => t.name).sort(compareBytes);
    },
    async dropTable(space, name) {
      if (spaces[space].delete(keyString(name))) delete sortedTables[space];
    },
    async get(space, name, field) {
      return sync.get(space, keyString(name), field);
    },
    async set(space, name, field, value) {
      sync.set(space, keyString(name), name, field, value);
    },
    async delete(space, name, field) {
      return sync.delete(space, keyString(name), field);
    },
    async getIfTable(space, name, field) {
      const id = keyString(name);
      return sync.hasTable(space, id) ? { value: sync.get(space, id, field) } : undefined;
    },
    async setIfTable(space, name, field, value) {
      const id = keyString(name);
      if (!sync.hasTable(space, id)) return false;
      sync.set(space, id, name, field, value);
      return true;
    },
    async deleteIfTable(space, name, field) {
      const id = keyString(name);
      return sync.hasTable(space, id) ? sync.delete(space, id, field) : undefined;
    },
    async entries(space, name) {
      const table = spaces[space].get(keyString(name));
      if (!table) return [];
      return [...table.fields.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([f, v]): [Uint8Array, Uint8Array] => [fromKeyString(f), v]);
    },
    async stats(space, name) {
      const table = spaces[space].get(keyString(name));
      return table ? { keys: table.fields.size, bytes: table.bytes } : { keys: 0, bytes: 0 };
    },
    async scan(space, options) {
      const { table, after, limit } = checkScanOptions(options);
      // Ids are latin1 strings (one char per byte), so string order is byte order.
      const afterTable = after ? keyString(after.table) : undefined;
      const afterField = after ? keyString(after.field) : undefined;
      const ids = table ? [keyString(table)] : tableIds(space);
      const entries: ScanEntry[] = [];
      for (let t = afterTable === undefined || table ? 0 : lowerBound(ids, afterTable); t < ids.length; t++) {
        const id = ids[t]!;
        if (afterTable !== undefined && id < afterTable) continue;
        const found = spaces[space].get(id);
        if (!found) continue;
        const fields = fieldIds(found);
        for (let f = id === afterTable ? upperBound(fields, afterField!) : 0; f < fields.length; f++) {
          if (entries.length === limit) {
            const last = entries[entries.length - 1]!;
            return { entries, next: encodeCursor(last.table, last.field) };
          }
          const fid = fields[f]!;
          entries.push({ table: found.name, field: fromKeyString(fid), value: found.fields.get(fid)! });
        }
      }
      return { entries };
    },
    async clear() {
      for (const s of Object.values(spaces)) s.clear();
      for (const space of Object.keys(sortedTables) as Space[]) delete sortedTables[space];
    },
    async close() {},
  };
}

/** First index whose id is >= `id`. */
function lowerBound(ids: readonly string[], id: string): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ids[mid]! < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose id is > `id`. */
function upperBound(ids: readonly string[], id: string): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ids[mid]! <= id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
