/**
 * The default backend: tables in process memory. Map keys are the latin1 form of the bytes
 * (lossless); stored values are copies, so a caller reusing its buffer cannot change them.
 * Values handed out are the stored arrays themselves (no copy per read): callers must not
 * mutate them.
 */
import type { Backend, Space, TableStats } from './backend.js';
import { compareBytes, fromKeyString, keyString, ownBytes } from './bytes.js';

interface Table {
  readonly name: Uint8Array;
  readonly fields: Map<string, Uint8Array>;
}

export function createMemoryBackend(): Backend {
  const spaces: Record<Space, Map<string, Table>> = { plain: new Map(), versioned: new Map(), hinted: new Map() };

  function ensure(space: Space, name: Uint8Array): Table {
    const id = keyString(name);
    let table = spaces[space].get(id);
    if (!table) {
      table = { name: ownBytes(name), fields: new Map() };
      spaces[space].set(id, table);
    }
    return table;
  }

  return {
    kind: 'memory',
    async createTable(space, name) {
      const id = keyString(name);
      if (spaces[space].has(id)) return false;
      spaces[space].set(id, { name: ownBytes(name), fields: new Map() });
      return true;
    },
    async hasTable(space, name) {
      return spaces[space].has(keyString(name));
    },
    async tables(space) {
      return [...spaces[space].values()].map((t) => t.name).sort(compareBytes);
    },
    async dropTable(space, name) {
      spaces[space].delete(keyString(name));
    },
    async get(space, name, field) {
      return spaces[space].get(keyString(name))?.fields.get(keyString(field));
    },
    async set(space, name, field, value) {
      ensure(space, name).fields.set(keyString(field), ownBytes(value));
    },
    async delete(space, name, field) {
      return spaces[space].get(keyString(name))?.fields.delete(keyString(field)) ?? false;
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
