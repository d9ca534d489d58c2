/**
 * The embedded, durable backend: LMDB through the `lmdb` package, in a data folder of its own.
 * One environment holds three databases: `ringkv-data` (every field of every table, keyed as in
 * lmdb-keys.ts, so a table is one key range and a scan is a range read), `ringkv-tables` (which
 * tables exist, so an empty bucket exists too) and `ringkv-meta` (the format version).
 *
 * Writes take effect at once and become durable later. lmdb-js queues writes and commits them
 * in batches on its own thread (group commit: every write waiting while a commit runs goes into
 * the next one). Until its batch commits, a written value sits in `pending`, which reads consult
 * first, so the next operation sees it. That is what lets a bucket's operations stay
 * serialised in arrival order without waiting for the disk between them: the wait for
 * durability (the promise a write returns, or {@link SyncBackend.written}) happens outside the
 * bucket's queue, and the acknowledgement waits for it.
 *
 * Durability (`syncIntervalMs`): 0 (default) acknowledges a write once the batch that holds it
 * has been flushed to disk (fsync). N > 0 opens LMDB without a flush per commit, acknowledges a
 * write once committed (written into the OS's page cache, which outlives a crash of the
 * process) and flushes every N ms. docs/store.md says what each loses on a power cut.
 */
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ArgumentError, DEFAULT_MAX_VALUE_BYTES, describeType } from '@ringkv/core';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { Backend, ScanEntry, Space, SyncBackend, TableStats } from './backend.js';
import { SPACES } from './backend.js';
import { compareBytes, fromKeyString, keyString, ownBytes } from './bytes.js';
import { lockFolder, prepareFolder, type FolderLock } from './data-folder.js';
import { DataFolderError, StorageError, StorageLimitError } from './errors.js';
import { SPACE_BYTE, dataKey, parseDataKey, prefixEnd, spaceRange, tablePrefix } from './lmdb-keys.js';
import { checkScanOptions, encodeCursor } from './scan-cursor.js';

/** Bumped when the layout changes; a folder with a newer one is refused, not misread. */
export const LMDB_FORMAT_VERSION = 1;

export interface LmdbBackendOptions {
  /** The data folder (created when missing). */
  path: string;
  /**
   * 0: acknowledge a write once it is flushed to disk. N > 0: acknowledge once committed (it
   * survives a crash of the process) and flush every N ms (a power cut can lose up to N ms of
   * acknowledged writes). @default 0
   */
  syncIntervalMs?: number;
  /** Values (versioned records) above this many bytes are refused. @default 16 MiB */
  maxValueBytes?: number;
}

export interface LmdbSummary {
  path: string;
  tables: number;
  entries: number;
  /** Size of the data file on disk. */
  fileBytes: number;
}

export interface LmdbBackend extends Backend {
  readonly path: string;
  /** What the folder holds (for the node's start-up line). */
  summary(): LmdbSummary;
}

interface Table {
  readonly name: Uint8Array;
  readonly prefix: Buffer;
  /** Until the table's creation is durable: what an idempotent CREATE must wait for too. */
  created?: Promise<void>;
}

interface Pending {
  value: Uint8Array | null;
}

const FORMAT_KEY = Buffer.from('format');
const EMPTY = Buffer.alloc(0);
const BINARY = { keyEncoding: 'binary', encoding: 'binary' } as const;

export async function createLmdbBackend(options: LmdbBackendOptions): Promise<LmdbBackend> {
  if (options === null || typeof options !== 'object') throw new ArgumentError(`lmdb backend options must be an object, got ${describeType(options)}`);
  if (typeof options.path !== 'string' || options.path === '') throw new ArgumentError('lmdb backend: path must be a non-empty string');
  const syncIntervalMs = options.syncIntervalMs ?? 0;
  if (!Number.isInteger(syncIntervalMs) || syncIntervalMs < 0) {
    throw new ArgumentError(`lmdb backend: syncIntervalMs must be a non-negative integer, got ${JSON.stringify(syncIntervalMs)}`);
  }
  const maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
  if (!Number.isInteger(maxValueBytes) || maxValueBytes < 1) throw new ArgumentError(`lmdb backend: maxValueBytes must be a positive integer, got ${maxValueBytes}`);

  const path = resolve(options.path);
  prepareFolder(path);
  const lock = lockFolder(path);
  let env: RootDatabase<Buffer, Buffer> | undefined;
  try {
    env = open<Buffer, Buffer>({
      path,
      ...BINARY,
      maxDbs: 4,
      // lmdb-js bug: with event-turn batching, a failed commit (a full disk) also rejects an
      // internal promise nobody handles, which would end the process. Without it, writes are
      // still grouped: everything queued while a commit runs goes into the next one.
      eventTurnBatching: false,
      // Flushing on a timer instead of at each commit; see syncIntervalMs.
      ...(syncIntervalMs > 0 ? { noSync: true } : {}),
    });
    const meta = env.openDB<Buffer, Buffer>({ name: 'ringkv-meta', ...BINARY });
    const tablesDb = env.openDB<Buffer, Buffer>({ name: 'ringkv-tables', ...BINARY });
    const data = env.openDB<Buffer, Buffer>({ name: 'ringkv-data', ...BINARY });
    checkFormat(meta, path);
    return build({ path, syncIntervalMs, maxValueBytes, lock, env, tablesDb, data });
  } catch (err) {
    await env?.close().catch(() => undefined);
    lock.release();
    if (err instanceof StorageError || err instanceof ArgumentError) throw err;
    throw new DataFolderError(`cannot open the LMDB data in ${path}: ${(err as Error).message}`, { cause: err });
  }
}

function checkFormat(meta: Database<Buffer, Buffer>, path: string): void {
  const raw = meta.getBinary(FORMAT_KEY);
  if (raw === undefined) {
    const v = Buffer.alloc(4);
    v.writeUInt32BE(LMDB_FORMAT_VERSION);
    meta.putSync(FORMAT_KEY, v);
    return;
  }
  const version = raw.length === 4 ? raw.readUInt32BE(0) : NaN;
  if (version === LMDB_FORMAT_VERSION) return;
  if (version > LMDB_FORMAT_VERSION) {
    throw new DataFolderError(
      `data folder ${path} was written in storage format ${version}, newer than this ringkv's (${LMDB_FORMAT_VERSION}): run a ringkv that reads it, or point this node at another folder`,
    );
  }
  throw new DataFolderError(`data folder ${path} has an unknown storage format marker (${raw.toString('hex')}); it was not written by ringkv`);
}

interface Parts {
  path: string;
  syncIntervalMs: number;
  maxValueBytes: number;
  lock: FolderLock;
  env: RootDatabase<Buffer, Buffer>;
  tablesDb: Database<Buffer, Buffer>;
  data: Database<Buffer, Buffer>;
}

function build({ path, syncIntervalMs, maxValueBytes, lock, env, tablesDb, data }: Parts): LmdbBackend {
  const maxKeyBytes = (data as unknown as { maxKeySize?: number }).maxKeySize ?? 1978;
  const tables: Record<Space, Map<string, Table>> = { plain: new Map(), versioned: new Map(), hinted: new Map() };
  for (const space of SPACES) {
    const b = SPACE_BYTE[space];
    for (const key of tablesDb.getKeys({ start: Buffer.from([b]), end: Buffer.from([b + 1]) })) {
      const name = new Uint8Array(key.subarray(1));
      tables[space].set(keyString(name), { name, prefix: tablePrefix(space, name) });
    }
  }
  const pending = new Map<string, Pending>();
  /** Resolves once every write made so far is committed (visible to LMDB reads); never rejects. */
  let lastCommit: Promise<unknown> = Promise.resolve();
  /** Durability of the writes not yet handed to a caller (see SyncBackend.written). */
  let untaken: Promise<void> | undefined;
  let closed = false;
  let dirty = false;
  /** The flush running on lmdb's worker thread, if any: close() must wait for it. */
  let flushing: Promise<void> | undefined;
  const flushNow = (): Promise<void> =>
    (flushing ??= new Promise<void>((done) => {
      dirty = false;
      // `sync(callback)` runs mdb_env_sync on a worker thread (not in lmdb's typings).
      (env as unknown as { sync(cb: (err?: unknown) => void): void }).sync((err?: unknown) => {
        // A failed background flush leaves the data committed; the next round tries again.
        if (err) dirty = true;
        flushing = undefined;
        done();
      });
    }));
  const flusher =
    syncIntervalMs > 0
      ? setInterval(() => {
          if (dirty && !closed) void flushNow();
        }, syncIntervalMs)
      : undefined;
  flusher?.unref();

  function failure(err: unknown): Promise<never> {
    // lmdb-js rejects with "Commit failed" and puts the cause in a promise on the error.
    const commitError = (err as { commitError?: Promise<unknown> })?.commitError;
    const cause = commitError
      ? Promise.race([commitError.then(() => err, (c: unknown) => c), new Promise((r) => setTimeout(() => r(err), 1000))])
      : Promise.resolve(err);
    return cause.then((c) => {
      const code = (c as { code?: unknown })?.code;
      const message = (c as Error)?.message ?? String(c);
      const full = code === 28 || code === 27 || code === 'ENOSPC' || code === 'EFBIG' || /No space|File too large/i.test(message);
      throw new StorageError(
        `lmdb backend: could not write to ${path}: ${message}${full ? ' (the disk is full or the file size limit is reached; nothing of this write was stored, earlier data is intact)' : ''}`,
        { cause: c },
      );
    });
  }

  /** Follows one lmdb write: its commit, then (by default) its flush; returns the acknowledgement. */
  function track(write: Promise<unknown>): Promise<void> {
    const committed = write.then(() => undefined, failure);
    lastCommit = committed.catch(() => undefined);
    dirty = true;
    const ack = syncIntervalMs === 0 ? committed.then(() => env.flushed).then(() => undefined) : committed;
    const combined = untaken ? Promise.all([untaken, ack]).then(() => undefined) : ack;
    // Marked handled: a write whose caller never asks (a failed CREATE of a table that a later
    // PUT also creates) must not end the process; callers that ask get the rejection.
    combined.catch(() => undefined);
    untaken = combined;
    return ack;
  }

  function take(): Promise<void> | undefined {
    const a = untaken;
    untaken = undefined;
    return a;
  }

  function guard<T>(what: string, fn: () => T): T {
    if (closed) throw new StorageError(`lmdb backend: ${what} after the store was closed`);
    try {
      return fn();
    } catch (err) {
      if (err instanceof StorageError || err instanceof ArgumentError) throw err;
      throw new StorageError(`lmdb backend: ${what} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  function write(key: Buffer, value: Uint8Array | null): void {
    const id = key.toString('latin1');
    const entry: Pending = { value };
    const p = value === null ? data.remove(key) : data.put(key, value as Buffer);
    pending.set(id, entry);
    const settle = () => {
      if (pending.get(id) === entry) pending.delete(id);
    };
    p.then(settle, settle);
    // Not awaited here: the acknowledgement is taken by whoever waits on `untaken`; track()
    // already marks its promise handled.
    void track(p);
  }

  function read(key: Buffer): Uint8Array | undefined {
    if (pending.size > 0) {
      const hit = pending.get(key.toString('latin1'));
      if (hit) return hit.value ?? undefined;
    }
    const b = data.getBinary(key);
    return b === undefined ? undefined : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }

  function keyFor(prefix: Buffer, field: Uint8Array): Buffer {
    if (prefix.length + field.length > maxKeyBytes) {
      throw new StorageLimitError(
        `bucket (or owner) name and key take ${prefix.length + field.length} bytes as an LMDB key; the lmdb backend takes at most ${maxKeyBytes}`,
      );
    }
    return dataKey(prefix, field);
  }

  const tableKey = (space: Space, name: Uint8Array) => {
    const k = Buffer.allocUnsafe(1 + name.length);
    k[0] = SPACE_BYTE[space];
    k.set(name, 1);
    return k;
  };

  function createEntry(space: Space, id: string, name: Uint8Array, prefix = tablePrefix(space, name)): Table {
    const t: Table = { name: ownBytes(name), prefix };
    tables[space].set(id, t);
    const p = tablesDb.put(tableKey(space, name), EMPTY);
    const created = track(p);
    t.created = created;
    created.then(
      () => {
        if (t.created === created) delete t.created;
      },
      () => {
        // Not stored: forget it, so this process does not claim a table the disk lacks.
        if (tables[space].get(id) === t) tables[space].delete(id);
      },
    );
    return t;
  }

  function checkValue(value: Uint8Array): void {
    if (!(value instanceof Uint8Array)) throw new ArgumentError(`value must be bytes, got ${describeType(value)}`);
    if (value.length > maxValueBytes) {
      throw new StorageLimitError(`value of ${value.length} bytes is over this node's limit of ${maxValueBytes} bytes (storage.maxValueBytes); nothing was stored`);
    }
  }

  function dropTableNow(space: Space, id: string): void {
    const t = tables[space].get(id);
    if (!t) return;
    tables[space].delete(id);
    // Every key of the table: the committed ones, read now, and the ones still pending.
    const ids = new Set<string>();
    for (const k of data.getKeys({ start: t.prefix, end: prefixEnd(t.prefix) })) ids.add(Buffer.from(k).toString('latin1'));
    const prefixId = t.prefix.toString('latin1');
    for (const pid of pending.keys()) if (pid.startsWith(prefixId)) ids.add(pid);
    for (const pid of ids) write(Buffer.from(pid, 'latin1'), null);
    void track(tablesDb.remove(tableKey(space, t.name)));
  }

  const sync: SyncBackend = {
    hasTable: (space, id) => tables[space].has(id),
    createTable(space, id, name) {
      return guard('createTable', () => {
        const t = tables[space].get(id);
        if (t) {
          // Already there, maybe not yet durable: this CREATE's acknowledgement waits for it too.
          if (t.created) untaken = untaken ? Promise.all([untaken, t.created]).then(() => undefined) : t.created;
          return false;
        }
        createEntry(space, id, name);
        return true;
      });
    },
    get(space, id, field) {
      return guard('get', () => {
        const t = tables[space].get(id);
        return read(keyFor(t?.prefix ?? tablePrefix(space, fromKeyString(id)), field));
      });
    },
    set(space, id, name, field, value) {
      guard('set', () => {
        checkValue(value);
        let t = tables[space].get(id);
        const prefix = t?.prefix ?? tablePrefix(space, name);
        const key = keyFor(prefix, field);
        t ??= createEntry(space, id, name, prefix);
        write(key, ownBytes(value));
      });
    },
    delete(space, id, field) {
      return guard('delete', () => {
        const t = tables[space].get(id);
        if (!t) return false;
        const key = keyFor(t.prefix, field);
        if (read(key) === undefined) return false;
        write(key, null);
        return true;
      });
    },
    written: take,
  };

  /** Lets the writes made so far commit, so that LMDB range reads see them. */
  const settled = async () => {
    await lastCommit;
  };

  function* range(start: Buffer, end: Buffer, limit?: number): Generator<{ key: Buffer; value: Buffer }> {
    yield* data.getRange({ start, end, ...(limit !== undefined ? { limit } : {}) }) as Iterable<{ key: Buffer; value: Buffer }>;
  }

  // A copy: range reads may hand out buffers that lmdb-js reuses.
  const bytesOf = (b: Buffer) => new Uint8Array(b);

  const backend: LmdbBackend = {
    kind: 'lmdb',
    sync,
    path,
    async createTable(space, name) {
      const created = sync.createTable(space, keyString(name), name);
      await take();
      return created;
    },
    async hasTable(space, name) {
      return tables[space].has(keyString(name));
    },
    async tables(space) {
      return [...tables[space].values()].map((t) => t.name).sort(compareBytes);
    },
    async dropTable(space, name) {
      guard('dropTable', () => dropTableNow(space, keyString(name)));
      await take();
    },
    async get(space, name, field) {
      return sync.get(space, keyString(name), field);
    },
    async set(space, name, field, value) {
      sync.set(space, keyString(name), name, field, value);
      await take();
    },
    async delete(space, name, field) {
      const existed = sync.delete(space, keyString(name), field);
      await take();
      return existed;
    },
    async getIfTable(space, name, field) {
      const id = keyString(name);
      return tables[space].has(id) ? { value: sync.get(space, id, field) } : undefined;
    },
    async setIfTable(space, name, field, value) {
      const id = keyString(name);
      if (!tables[space].has(id)) return false;
      sync.set(space, id, name, field, value);
      await take();
      return true;
    },
    async deleteIfTable(space, name, field) {
      const id = keyString(name);
      if (!tables[space].has(id)) return undefined;
      const existed = sync.delete(space, id, field);
      await take();
      return existed;
    },
    async entries(space, name) {
      await settled();
      return guard('entries', () => {
        const prefix = tablePrefix(space, name);
        const out: Array<[Uint8Array, Uint8Array]> = [];
        for (const { key, value } of range(prefix, prefixEnd(prefix))) out.push([new Uint8Array(key.subarray(prefix.length)), bytesOf(value)]);
        return out;
      });
    },
    async stats(space, name) {
      await settled();
      return guard('stats', () => {
        const prefix = tablePrefix(space, name);
        const out: TableStats = { keys: 0, bytes: 0 };
        // Keys only, and each value's size from lmdb-js's shared read buffer: a walk that
        // copied every value (range) held the event loop ~2.5 ms per MB of values, on every
        // node for every \`cluster status\`.
        for (const key of data.getKeys({ start: prefix, end: prefixEnd(prefix) }) as Iterable<Buffer>) {
          out.keys++;
          out.bytes += key.length - prefix.length + (data.getBinaryFast(key)?.length ?? 0);
        }
        return out;
      });
    },
    async scan(space, options) {
      const { table, after, limit } = checkScanOptions(options);
      await settled();
      return guard('scan', () => {
        let { start, end } = spaceRange(space);
        if (table) {
          start = tablePrefix(space, table);
          end = prefixEnd(start);
        }
        if (after) {
          // Strictly after (table, field): the smallest key above it is the key with a 0x00 appended.
          const from = Buffer.concat([tablePrefix(space, after.table), after.field, Buffer.from([0])]);
          if (Buffer.compare(from, start) > 0) start = from;
          if (Buffer.compare(start, end) >= 0) return { entries: [] };
        }
        const entries: ScanEntry[] = [];
        for (const { key, value } of range(start, end, limit + 1)) {
          if (entries.length === limit) {
            const last = entries[entries.length - 1]!;
            return { entries, next: encodeCursor(last.table, last.field) };
          }
          const parts = parseDataKey(key);
          entries.push({ table: parts.table, field: parts.field, value: bytesOf(value) });
        }
        return { entries };
      });
    },
    async clear() {
      guard('clear', () => {
        for (const space of SPACES) for (const id of [...tables[space].keys()]) dropTableNow(space, id);
      });
      await take();
    },
    async close() {
      if (closed) return;
      await settled();
      await Promise.resolve(env.flushed).catch(() => undefined);
      closed = true;
      if (flusher) {
        clearInterval(flusher);
        await flushing;
        if (dirty) await flushNow();
      }
      try {
        await env.close();
      } finally {
        lock.release();
      }
    },
    summary() {
      let fileBytes = 0;
      try {
        fileBytes = statSync(join(path, 'data.mdb')).size;
      } catch {
        // not written yet
      }
      const count = SPACES.reduce((n, s) => n + tables[s].size, 0);
      return { path, tables: count, entries: (data.getStats() as { entryCount: number }).entryCount, fileBytes };
    },
  };
  return backend;
}
