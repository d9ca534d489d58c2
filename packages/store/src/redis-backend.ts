// Buffer appears in the exported client type: consumers get Node's types with the package.
/// <reference types="node" preserve="true" />
/**
 * The Redis backend, through ioredis. Layout under the configured key prefix `P`:
 *
 * - `P s:<space>`: a set of the space's table names (a table exists while its name is here,
 *   even when empty, since Redis drops empty hashes);
 * - `P h:<space>:<table name bytes>`: a hash from field bytes to value bytes.
 *
 * Everything is sent and read as Buffers, so names, fields and values are binary-safe.
 * Some clients are not (ioredis-mock keeps names as JavaScript strings decoded from UTF-8,
 * which merges 0xff and 0xfe into U+FFFD, and compares Buffer set members by identity). A
 * probe at open detects such a client, and names are then sent as latin1 strings, which such a
 * client keeps losslessly; values stay Buffers either way.
 *
 * One store per key prefix: the store serializes a bucket's operations in its own process, so
 * two nodes sharing a prefix would race.
 */
import { ArgumentError } from '@ringkv/core';
import { Redis } from 'ioredis';
import type { Backend, ScanEntry, Space, TableStats } from './backend.js';
import { SPACES } from './backend.js';
import { compareBytes, keyString } from './bytes.js';
import { StorageError } from './errors.js';
import { checkScanOptions, encodeCursor } from './scan-cursor.js';

type Name = Buffer | string;

/** The part of an ioredis client this backend uses (ioredis-mock provides it too). */
export interface RedisClientLike {
  sadd(key: Name, ...members: Name[]): Promise<number>;
  srem(key: Name, ...members: Name[]): Promise<number>;
  sismember(key: Name, member: Name): Promise<number>;
  smembersBuffer(key: Name): Promise<Buffer[]>;
  del(...keys: Name[]): Promise<number>;
  hgetBuffer(key: Name, field: Name): Promise<Buffer | null>;
  hset(key: Name, field: Name, value: Buffer): Promise<number>;
  hdel(key: Name, ...fields: Name[]): Promise<number>;
  hscanBuffer(key: Name, cursor: number | string, countToken: 'COUNT', count: number): Promise<[Buffer, Buffer[]]>;
  hkeysBuffer(key: Name): Promise<Buffer[]>;
  hmgetBuffer(key: Name, ...fields: Name[]): Promise<Array<Buffer | null>>;
  multi(): {
    sadd(key: Name, member: Name): unknown;
    sismember(key: Name, member: Name): unknown;
    hset(key: Name, field: Name, value: Buffer): unknown;
    hgetBuffer(key: Name, field: Name): unknown;
    hdel(key: Name, field: Name): unknown;
    srem(key: Name, member: Name): unknown;
    del(key: Name): unknown;
    exec(): Promise<Array<[Error | null, unknown]> | null>;
  };
  defineCommand(name: string, definition: { numberOfKeys: number; lua: string }): void;
  quit(): Promise<unknown>;
  disconnect(): void;
}

export interface RedisBackendOptions {
  /** Prepended to every Redis key. */
  keyPrefix: string;
  /** Connect to this URL (ignored when `client` is given). */
  url?: string;
  /** A client to use; the store does not close a client it was given. */
  client?: unknown;
}

/** Names as the client will keep them: raw Buffers, or latin1 strings for clients that are not binary-safe. */
interface NameCodec {
  name(bytes: Uint8Array): Name;
  key(prefix: string, bytes?: Uint8Array): Name;
  decode(b: Buffer): Uint8Array;
}

const binaryCodec: NameCodec = {
  name: (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
  key: (prefix, bytes) => (bytes ? Buffer.concat([Buffer.from(prefix, 'utf8'), bytes]) : Buffer.from(prefix, 'utf8')),
  decode: (b) => new Uint8Array(b),
};

const latin1Codec: NameCodec = {
  name: (bytes) => keyString(bytes),
  key: (prefix, bytes) => (bytes ? prefix + keyString(bytes) : prefix),
  // The client hands a latin1 string back as its UTF-8 bytes.
  decode: (b) => new Uint8Array(Buffer.from(b.toString('utf8'), 'latin1')),
};

const SCAN_COUNT = 1000;

/** A PUT in one round trip, atomic in Redis: store the field only if the table is in its set. */
const SET_IF_TABLE = 'ringkvSetIfTable';
const SET_IF_TABLE_LUA = `if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
  return 1
end
return 0`;

type SetIfTable = (setKey: Name, hashKey: Name, name: Name, field: Name, value: Buffer) => Promise<number>;

export async function createRedisBackend(options: RedisBackendOptions): Promise<Backend> {
  if (typeof options.keyPrefix !== 'string') throw new ArgumentError('redis backend: redis.keyPrefix must be a string');
  const owned = options.client === undefined;
  const client = (options.client ?? (await connect(options.url))) as RedisClientLike;
  const prefix = options.keyPrefix;
  const codec = await probeCodec(client, prefix);
  client.defineCommand(SET_IF_TABLE, { numberOfKeys: 2, lua: SET_IF_TABLE_LUA });
  const setIfTable = (client as unknown as Record<string, SetIfTable>)[SET_IF_TABLE]!.bind(client);
  const setKey = (space: Space) => codec.key(`${prefix}s:${space}`);
  const hashKey = (space: Space, name: Uint8Array) => codec.key(`${prefix}h:${space}:`, name);

  async function entries(space: Space, name: Uint8Array): Promise<Array<[Uint8Array, Uint8Array]>> {
    const key = hashKey(space, name);
    // HSCAN may return a field twice when the hash is rehashed meanwhile.
    const seen = new Map<string, [Uint8Array, Uint8Array]>();
    let cursor = '0';
    do {
      const [next, flat] = await client.hscanBuffer(key, cursor, 'COUNT', SCAN_COUNT);
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const field = codec.decode(flat[i]!);
        seen.set(keyString(field), [field, new Uint8Array(flat[i + 1]!)]);
      }
      cursor = next.toString();
    } while (cursor !== '0');
    return [...seen.values()].sort(([a], [b]) => compareBytes(a, b));
  }

  const backend: Backend = {
    kind: 'redis',
    async createTable(space, name) {
      return (await client.sadd(setKey(space), codec.name(name))) === 1;
    },
    async hasTable(space, name) {
      return (await client.sismember(setKey(space), codec.name(name))) === 1;
    },
    async tables(space) {
      return (await client.smembersBuffer(setKey(space))).map(codec.decode).sort(compareBytes);
    },
    async dropTable(space, name) {
      const m = client.multi();
      m.srem(setKey(space), codec.name(name));
      m.del(hashKey(space, name));
      await exec(m);
    },
    async get(space, name, field) {
      const v = await client.hgetBuffer(hashKey(space, name), codec.name(field));
      return v === null ? undefined : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    },
    async set(space, name, field, value) {
      const m = client.multi();
      m.sadd(setKey(space), codec.name(name));
      // A copy: some clients (ioredis-mock) keep the Buffer they are given.
      m.hset(hashKey(space, name), codec.name(field), Buffer.from(value));
      await exec(m);
    },
    async delete(space, name, field) {
      return (await client.hdel(hashKey(space, name), codec.name(field))) > 0;
    },
    async getIfTable(space, name, field) {
      const m = client.multi();
      m.sismember(setKey(space), codec.name(name));
      m.hgetBuffer(hashKey(space, name), codec.name(field));
      const [exists, value] = await execResults(m);
      if (exists !== 1) return undefined;
      const v = value as Buffer | null;
      return { value: v === null ? undefined : new Uint8Array(v.buffer, v.byteOffset, v.byteLength) };
    },
    async setIfTable(space, name, field, value) {
      return (await setIfTable(setKey(space), hashKey(space, name), codec.name(name), codec.name(field), Buffer.from(value))) === 1;
    },
    async deleteIfTable(space, name, field) {
      // HDEL on a table that does not exist touches nothing: dropTable removes hash and name together.
      const m = client.multi();
      m.sismember(setKey(space), codec.name(name));
      m.hdel(hashKey(space, name), codec.name(field));
      const [exists, deleted] = await execResults(m);
      return exists === 1 ? (deleted as number) > 0 : undefined;
    },
    entries,
    async scan(space, options) {
      const { table, after, limit } = checkScanOptions(options);
      const names = table ? [table] : await backend.tables(space);
      const entries: ScanEntry[] = [];
      for (const name of names) {
        const order = after ? compareBytes(name, after.table) : 1;
        if (order < 0) continue;
        // Redis hashes have no order: each batch takes the table's field names (HKEYS, one
        // round trip, O(fields)) and sorts them. Values come with one HMGET per table; a field
        // deleted in between is skipped (deleted during the scan, so it may be left out).
        const fields = (await client.hkeysBuffer(hashKey(space, name)))
          .map(codec.decode)
          .filter((f) => order > 0 || compareBytes(f, after!.field) > 0)
          .sort(compareBytes);
        const wanted = fields.slice(0, limit + 1 - entries.length);
        if (wanted.length === 0) continue;
        const values = await client.hmgetBuffer(hashKey(space, name), ...wanted.map(codec.name));
        for (let i = 0; i < wanted.length; i++) {
          if (entries.length === limit) {
            const last = entries[entries.length - 1]!;
            return { entries, next: encodeCursor(last.table, last.field) };
          }
          const v = values[i];
          if (v === null || v === undefined) continue;
          entries.push({ table: name, field: wanted[i]!, value: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) });
        }
      }
      return { entries };
    },
    async stats(space, name) {
      const out: TableStats = { keys: 0, bytes: 0 };
      for (const [f, v] of await entries(space, name)) {
        out.keys++;
        out.bytes += f.length + v.length;
      }
      return out;
    },
    async clear() {
      for (const space of SPACES) {
        const names = await backend.tables(space);
        for (let i = 0; i < names.length; i += 500) {
          const chunk = names.slice(i, i + 500).map((n) => hashKey(space, n));
          if (chunk.length) await client.del(...chunk);
        }
        await client.del(setKey(space));
      }
    },
    async close() {
      if (!owned) return;
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    },
  };
  return wrapErrors(backend);
}

type Multi = ReturnType<RedisClientLike['multi']>;

async function exec(m: Multi): Promise<void> {
  await execResults(m);
}

async function execResults(m: Multi): Promise<unknown[]> {
  const results = await m.exec();
  if (results === null) throw new StorageError('redis backend: transaction aborted');
  for (const [err] of results) if (err) throw err;
  return results.map(([, r]) => r);
}

async function connect(url: string | undefined): Promise<RedisClientLike> {
  if (typeof url !== 'string' || url === '') throw new ArgumentError('redis backend: redis.url must be a non-empty string');
  const client = new Redis(url, {
    lazyConnect: true,
    // Fail calls at once while the connection is down instead of queueing them until the hop times out.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  // Connection errors surface on the calls that fail; an unhandled 'error' event would crash the node.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    throw new StorageError(`redis backend: cannot connect to ${url}: ${(err as Error).message}`, { cause: err });
  }
  return client as unknown as RedisClientLike;
}

/** Binary names when the client keeps them exactly (real ioredis), latin1 strings otherwise. */
async function probeCodec(client: RedisClientLike, prefix: string): Promise<NameCodec> {
  const probe = Buffer.from(`${prefix}probe:${process.pid}:${Math.random()}`, 'utf8');
  try {
    await client.sadd(probe, Buffer.from([0xff, 0x00]));
    const exact = await client.sismember(probe, Buffer.from([0xff, 0x00]));
    const confused = await client.sismember(probe, Buffer.from([0xfe, 0x00]));
    return exact === 1 && confused === 0 ? binaryCodec : latin1Codec;
  } catch (err) {
    throw new StorageError(`redis backend: probing the client failed: ${(err as Error).message}`, { cause: err });
  } finally {
    await client.del(probe).catch(() => 0);
  }
}

/** Every backend failure becomes a StorageError saying which operation failed. */
function wrapErrors(backend: Backend): Backend {
  const wrapped = { ...backend } as Record<string, unknown>;
  for (const [op, fn] of Object.entries(backend)) {
    if (typeof fn !== 'function') continue;
    wrapped[op] = async (...args: unknown[]) => {
      try {
        return await (fn as (...a: unknown[]) => Promise<unknown>)(...args);
      } catch (err) {
        // A caller's mistake (bad scan options) is not a storage failure.
        if (err instanceof StorageError || err instanceof ArgumentError) throw err;
        throw new StorageError(`redis backend: ${op} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
      }
    };
  }
  return wrapped as unknown as Backend;
}
