/**
 * The default backend: tables in process memory. Map keys are the latin1 form of the bytes
 * (lossless); stored values are copies, so a caller reusing its buffer cannot change them.
 * Values handed out are the stored arrays themselves (no copy per read): callers must not
 * mutate them. Every operation is synchronous inside, so it also offers a {@link SyncBackend}.
 */
import type { Backend, Space, SyncBackend, TableStats } from './backend.js';
import { compareBytes, fromKeyString, keyString, ownBytes } from './bytes.js';

interface Table {
  readonly name: Uint8Array;
  readonly fields: Map<string, Uint8Array>;
}

export function createMemoryBackend(): Backend {
  const spaces: Record<Space, Map<string, Table>> = { plain: new Map(), versioned: new Map(), hinted: new Map() };

  const sync: SyncBackend = {
    hasTable: (space, id) => spaces[space].has(id),
    createTable(space, id, name) {
      if (spaces[space].has(id)) return false;
      spaces[space].set(id, { name: ownBytes(name), fields: new Map() });
      return true;
    },
    get: (space, id, field) => spaces[space].get(id)?.fields.get(keyString(field)),
    set(space, id, name, field, value) {
      let table = spaces[space].get(id);
      if (!table) spaces[space].set(id, (table = { name: ownBytes(name), fields: new Map() }));
      table.fields.set(keyString(field), ownBytes(value));
    },
    delete: (space, id, field) => spaces[space].get(id)?.fields.delete(keyString(field)) ?? false,
  };

  return {
    kind: 'memory',
    sync,
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
      spaces[space].delete(keyString(name));
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
      const out: TableStats = { keys: 0, bytes: 0 };
      const table = spaces[space].get(keyString(name));
      if (!table) return out;
      for (const [f, v] of table.fields) {
        out.keys++;
        out.bytes += f.length + v.length;
      }
      return out;
    },
    async clear() {
      for (const s of Object.values(spaces)) s.clear();
    },
    async close() {},
  };
}
