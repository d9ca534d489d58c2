/**
 * Configuration in the spirit of the guide's application environment, layered:
 * built-in defaults < `<dir>/default.json` < `<dir>/<NODE_ENV>.json` < the node's own file <
 * environment (`RINGKV_NODE`, `NATS_URL` and the other `NATS_*` of nats-config.ts, `PORT`,
 * `RINGKV_STORAGE_BACKEND`, `HTTP_PORT`). The result is validated at load; an invalid value
 * fails with a {@link ConfigError} naming the field and what is wrong.
 *
 * @example
 * const config = loadConfig({ file: 'config/foo.json' });
 * config.routingTable; // [{ from: 97, to: 109, node: 'foo@computer-name' }, ...]
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import {
  DEFAULT_HOP_TIMEOUT_MS,
  DEFAULT_HOST,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_HOPS,
  DEFAULT_MAX_LINE_LENGTH,
  DEFAULT_MAX_VALUE_BYTES,
  DEFAULT_NATS_URL,
  DEFAULT_PORT,
  DEFAULT_REDIS_KEY_PREFIX,
  DEFAULT_REDIS_URL,
  DEFAULT_RING_N,
  DEFAULT_RING_VNODES,
  DEFAULT_CLUSTER_HEARTBEAT_MS,
  DEFAULT_CLUSTER_LIVENESS_MS,
  DEFAULT_CLUSTER_STATE_BUCKET,
  DEFAULT_TRANSFER_BATCH,
  DEFAULT_TRANSFER_BATCH_BYTES,
} from './defaults.js';
import { ConfigError } from './errors.js';
import { natsConfigSchema, natsEnvOverrides } from './nats-config.js';
import { boundToByte, overlappingRanges, type RangeTable } from './range-table.js';

/** `name@host`: printable ASCII without spaces, exactly one `@`, both sides non-empty. */
export const NODE_NAME_PATTERN = /^[\x21-\x3f\x41-\x7e]+@[\x21-\x3f\x41-\x7e]+$/;

const nodeName = z
  .string()
  .regex(NODE_NAME_PATTERN, 'must look like name@host (printable ASCII, no spaces, one @)');

const bound = z.union([z.string(), z.number()]);

const rangeEntry = z
  .object({ from: bound, to: bound, node: nodeName })
  .strict()
  .transform((e, ctx) => {
    try {
      const from = boundToByte(e.from, 'from');
      const to = boundToByte(e.to, 'to');
      if (from > to) {
        ctx.addIssue({ code: 'custom', message: `range is empty: from (${from}) is greater than to (${to})` });
        return z.NEVER;
      }
      return { from, to, node: e.node };
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });

const port = z.number().int().min(0).max(65535);
const positiveInt = z.number().int().positive();

export const configSchema = z
  .object({
    /** This node's name, e.g. `foo@computer-name`. */
    node: nodeName.optional(),
    /** Placement strategy. @default "range" */
    strategy: z.enum(['range', 'ring']).default('range'),
    /** The range table (strategy "range"). @default [] */
    routingTable: z.array(rangeEntry).default([]),
    /** @default 5000 */
    hopTimeoutMs: positiveInt.max(3_600_000).default(DEFAULT_HOP_TIMEOUT_MS),
    /** @default 16 */
    maxHops: positiveInt.max(255).default(DEFAULT_MAX_HOPS),
    /** How nodes reach each other. @default "nats" */
    transport: z.enum(['nats', 'in-process']).default('nats'),
    /** Where NATS is and how to authenticate to it (nats-config.ts). */
    nats: natsConfigSchema.prefault({ url: DEFAULT_NATS_URL }),
    /** What this node does: serve the text protocol, store buckets, or both. @default ["server","storage"] */
    roles: z
      .array(z.enum(['server', 'storage']))
      .min(1, 'a node needs at least one role')
      .default(['server', 'storage']),
    server: z
      .object({
        port: port.default(DEFAULT_PORT),
        host: z.string().min(1).default(DEFAULT_HOST),
        maxLineLength: positiveInt.default(DEFAULT_MAX_LINE_LENGTH),
        /** Close a connection idle this long, ms; 0 never. @default 300000 */
        idleTimeoutMs: z.number().int().min(0).max(86_400_000).default(DEFAULT_IDLE_TIMEOUT_MS),
        /** Connections served at once; more are refused with a reply. @default 1024 */
        maxConnections: positiveInt.default(DEFAULT_MAX_CONNECTIONS),
      })
      .strict()
      .default({
        port: DEFAULT_PORT,
        host: DEFAULT_HOST,
        maxLineLength: DEFAULT_MAX_LINE_LENGTH,
        idleTimeoutMs: DEFAULT_IDLE_TIMEOUT_MS,
        maxConnections: DEFAULT_MAX_CONNECTIONS,
      }),
    /**
     * The HTTP API, /stats, /metrics and the dashboard (@ringkv/http), served when `port` is set
     * (or the HTTP_PORT environment variable). Limits default in @ringkv/http.
     */
    http: z
      .object({
        port: port.optional(),
        host: z.string().min(1).default(DEFAULT_HOST),
        /** Largest request body in bytes. @default 1048576 */
        bodyLimit: positiveInt.max(1024 * 1024 * 1024).optional(),
        /** @default 256 */
        maxConnections: positiveInt.max(1_000_000).optional(),
        /** A connection idle this long is closed, ms. @default 30000 */
        idleTimeoutMs: positiveInt.max(3_600_000).optional(),
        /** A request must arrive whole within this time, ms. @default 30000 */
        requestTimeoutMs: positiveInt.max(3_600_000).optional(),
      })
      .strict()
      .default({ host: DEFAULT_HOST }),
    storage: z
      .object({
        /** Where buckets live: LMDB in a data folder (durable), process memory, or Redis. @default "lmdb" */
        backend: z.enum(['lmdb', 'memory', 'redis']).default('lmdb'),
        /** The LMDB data folder. @default "data/<node name>" under the working directory */
        path: z.string().min(1).optional(),
        /** 0: a write is answered once flushed to disk; N: once committed, flushed every N ms. @default 0 */
        syncIntervalMs: z.number().int().min(0).max(3_600_000).default(0),
        /** Largest value (record under the ring) LMDB stores, bytes. @default 16777216 */
        maxValueBytes: positiveInt.max(1024 * 1024 * 1024).default(DEFAULT_MAX_VALUE_BYTES),
        /** Under the ring, what one queue covers: each key, or each bucket. @default "key" */
        serializeBy: z.enum(['key', 'bucket']).optional(),
        redis: z
          .object({
            url: z.string().min(1).default(DEFAULT_REDIS_URL),
            keyPrefix: z.string().default(DEFAULT_REDIS_KEY_PREFIX),
          })
          .strict()
          .default({ url: DEFAULT_REDIS_URL, keyPrefix: DEFAULT_REDIS_KEY_PREFIX }),
      })
      .strict()
      .default({
        backend: 'lmdb',
        syncIntervalMs: 0,
        maxValueBytes: DEFAULT_MAX_VALUE_BYTES,
        redis: { url: DEFAULT_REDIS_URL, keyPrefix: DEFAULT_REDIS_KEY_PREFIX },
      }),
    ring: z
      .object({
        /** Ring members (strategy "ring"). */
        members: z.array(nodeName).default([]),
        /** Replicas per bucket. @default 3 */
        n: positiveInt.default(DEFAULT_RING_N),
        /** Read quorum. @default floor(n/2)+1 */
        r: positiveInt.optional(),
        /** Write quorum. @default floor(n/2)+1 */
        w: positiveInt.optional(),
        /** Virtual nodes per member. @default 1024 (DEFAULT_RING_VNODES) */
        vnodes: positiveInt.max(100_000).default(DEFAULT_RING_VNODES),
        /** Relative weight per member. @default 1 each */
        weights: z.record(nodeName, z.number().positive()).default({}),
        // Timing of the ring's background work; defaults live in @ringkv/ring (ring-config.ts).
        /** Time between failure-detector ping rounds, ms. @default 1000 */
        pingIntervalMs: positiveInt.max(3_600_000).optional(),
        /** How long a ping may take before the member is suspected down, ms. @default 1000 */
        pingTimeoutMs: positiveInt.max(3_600_000).optional(),
        /** Time between hinted-handoff rounds, ms. @default 2000 */
        handoffIntervalMs: positiveInt.max(86_400_000).optional(),
        /** Objects per handoff batch. @default 100 */
        handoffBatchSize: positiveInt.max(100_000).optional(),
        /** Time between tombstone-reaping rounds, ms. @default 60000 */
        reapIntervalMs: positiveInt.max(86_400_000).optional(),
        /** Minimum age of a tombstone before it may be reaped, ms. @default 3600000 */
        tombstoneGraceMs: positiveInt.max(31_536_000_000).optional(),
        /** Versions stamped further ahead of this node's clock are refused, ms. @default 60000 */
        maxClockOffsetMs: positiveInt.max(31_536_000_000).optional(),
        /** How writes travel: one round trip from a coordinating replica, or the older version read then write. @default "coordinator" */
        writePath: z.enum(['coordinator', 'read-before-write']).optional(),
        /** Replica messages to one node in the same event-loop turn travel as one request. @default true */
        batchReplicaMessages: z.boolean().optional(),
        /** Buckets whose ring walk is cached per ring version; 0 turns the cache off. @default 10000 */
        placementCacheSize: z.number().int().min(0).max(10_000_000).optional(),
        /** A coordinator holding a replica asks the others for a digest, reading in full only those that differ. @default true */
        digestReads: z.boolean().optional(),
        /** Active anti-entropy (hash-tree exchanges between replicas); defaults in @ringkv/ring. */
        antiEntropy: z
          .object({
            /** @default true */
            enabled: z.boolean().optional(),
            /** Time between exchange rounds, ms. @default 30000 */
            intervalMs: z.number().int().min(10).max(86_400_000).optional(),
            /** Objects one exchange repairs at most. @default 10000 */
            maxKeysPerExchange: positiveInt.max(1_000_000).optional(),
            /** Objects per repair message. @default 500 */
            batchSize: positiveInt.max(10_000).optional(),
            /** Repair rate limit per node, objects per second. @default 20000 */
            maxKeysPerSecond: positiveInt.max(10_000_000).optional(),
            /** How often trees fold in recent writes, ms. @default 200 */
            treeUpdateMs: z.number().int().min(10).max(60_000).optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({ members: [], n: DEFAULT_RING_N, vnodes: DEFAULT_RING_VNODES, weights: {} }),
    /**
     * A managed cluster: membership lives in the cluster state (NATS JetStream KV over the
     * `nats` connection), changed with `ringkv cluster join/leave/replace`, `plan`, `commit`.
     * This file's members (or range table) only seed a new cluster. @default not managed
     */
    cluster: z
      .object({
        managed: z.boolean().default(false),
        /** JetStream KV bucket holding the state. @default "ringkv-cluster" */
        bucket: z.string().regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, _ and -').default(DEFAULT_CLUSTER_STATE_BUCKET),
        /** How often this node writes its heartbeat (seen-entry), ms. @default 1000 */
        heartbeatMs: positiveInt.max(60_000).default(DEFAULT_CLUSTER_HEARTBEAT_MS),
        /** A node silent this long is not waited for, ms. @default 5000 */
        livenessMs: positiveInt.max(600_000).default(DEFAULT_CLUSTER_LIVENESS_MS),
        /** Objects per transfer batch (at most). @default 200 */
        transferBatch: positiveInt.max(100_000).default(DEFAULT_TRANSFER_BATCH),
        /** Bytes a transfer batch aims at: fewer objects per batch when they are large. @default 131072 */
        transferBatchBytes: positiveInt.max(64 * 1024 * 1024).default(DEFAULT_TRANSFER_BATCH_BYTES),
      })
      .strict()
      .default({
        managed: false,
        bucket: DEFAULT_CLUSTER_STATE_BUCKET,
        heartbeatMs: DEFAULT_CLUSTER_HEARTBEAT_MS,
        livenessMs: DEFAULT_CLUSTER_LIVENESS_MS,
        transferBatch: DEFAULT_TRANSFER_BATCH,
        transferBatchBytes: DEFAULT_TRANSFER_BATCH_BYTES,
      }),
    /** ES modules registering extra functions (`export function register(registry)`). @default [] */
    modules: z.array(z.string().min(1)).default([]),
  })
  .strict()
  .superRefine((c, ctx) => {
    for (const message of overlappingRanges(c.routingTable, 'entry ')) ctx.addIssue({ code: 'custom', path: ['routingTable'], message });
    if (c.strategy !== 'ring') return;
    const members = c.ring.members;
    if (members.length === 0) {
      // A node joining a managed cluster takes the members from the cluster state.
      if (!c.cluster.managed) ctx.addIssue({ code: 'custom', path: ['ring', 'members'], message: 'strategy "ring" needs at least one member (or "cluster": {"managed": true} to take them from the cluster)' });
      return;
    }
    if (new Set(members).size !== members.length) {
      ctx.addIssue({ code: 'custom', path: ['ring', 'members'], message: 'members must be distinct' });
    }
    if (c.ring.n > members.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['ring', 'n'],
        message: `n (${c.ring.n}) is larger than the number of members (${members.length})`,
      });
    }
    for (const q of ['r', 'w'] as const) {
      const v = c.ring[q];
      if (v !== undefined && v > c.ring.n) {
        ctx.addIssue({ code: 'custom', path: ['ring', q], message: `${q} (${v}) is larger than n (${c.ring.n})` });
      }
    }
    for (const name of Object.keys(c.ring.weights)) {
      if (!members.includes(name)) {
        ctx.addIssue({ code: 'custom', path: ['ring', 'weights', name], message: 'weight given for a node that is not a member' });
      }
    }
  });

export type RingkvConfigInput = z.input<typeof configSchema>;
export type RingkvConfig = z.output<typeof configSchema> & { routingTable: RangeTable };

/** Validates a raw config value. `source` names the file (or "config") in error messages. */
export function parseConfig(raw: unknown, source = 'config'): RingkvConfig {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${formatPath(i.path)}: ${i.message}`);
    throw new ConfigError(`invalid configuration in ${source}:\n${lines.join('\n')}`);
  }
  return result.data as RingkvConfig;
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), '');
}

export interface LoadConfigOptions {
  /** The node's own config file. */
  file?: string;
  /** Where `default.json` and `<NODE_ENV>.json` live. Default: `RINGKV_CONFIG_DIR`, else the file's folder, else `./config`. */
  configDir?: string;
  /** Environment to read overrides from. @default process.env */
  env?: Record<string, string | undefined>;
  /** Applied last, above the environment. */
  overrides?: Record<string, unknown>;
}

/** Loads, layers and validates configuration. */
export function loadConfig(options: LoadConfigOptions = {}): RingkvConfig {
  const env = options.env ?? process.env;
  const dir =
    options.configDir ?? env.RINGKV_CONFIG_DIR ?? (options.file ? dirname(resolve(options.file)) : resolve('config'));
  let merged: Record<string, unknown> = {};
  const layers: string[] = [join(dir, 'default.json')];
  if (env.NODE_ENV) layers.push(join(dir, `${env.NODE_ENV}.json`));
  for (const path of layers) {
    if (existsSync(path) && resolve(path) !== (options.file && resolve(options.file))) {
      merged = deepMerge(merged, readJson(path));
    }
  }
  const sources = layers.filter((p) => existsSync(p));
  if (options.file) {
    if (!existsSync(options.file)) throw new ConfigError(`config file ${options.file} does not exist`);
    merged = deepMerge(merged, readJson(options.file));
    sources.push(options.file);
  }
  merged = deepMerge(merged, envOverrides(env));
  if (options.overrides) merged = deepMerge(merged, options.overrides);
  return parseConfig(merged, sources.length ? sources.join(' + ') : 'config');
}

function envOverrides(env: Record<string, string | undefined>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (env.RINGKV_NODE) out.node = env.RINGKV_NODE;
  const nats = natsEnvOverrides(env);
  if (nats) out.nats = nats;
  // Lets test harnesses and scripts keep nodes off the disk without a config file of their own.
  if (env.RINGKV_STORAGE_BACKEND) out.storage = { backend: env.RINGKV_STORAGE_BACKEND };
  if (env.PORT !== undefined && env.PORT !== '') {
    const p = Number(env.PORT);
    if (!/^\d+$/.test(env.PORT) || p > 65535) {
      throw new ConfigError(`environment variable PORT: must be an integer from 0 to 65535, got ${JSON.stringify(env.PORT)}`);
    }
    out.server = { port: p };
  }
  if (env.HTTP_PORT !== undefined && env.HTTP_PORT !== '') {
    const p = Number(env.HTTP_PORT);
    if (!/^\d+$/.test(env.HTTP_PORT) || p > 65535) {
      throw new ConfigError(`environment variable HTTP_PORT: must be an integer from 0 to 65535, got ${JSON.stringify(env.HTTP_PORT)}`);
    }
    out.http = { port: p };
  }
  return out;
}

function readJson(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`, { cause: err });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${jsonErrorWithoutText((err as Error).message, text)}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(`config file ${path}: (top level): must be a JSON object`);
  }
  const { $schema: _ignored, ...rest } = value as Record<string, unknown>;
  return rest;
}

/**
 * The parser's complaint without the slice of the file it quotes (a config file may hold a
 * password), and with a line and column instead of an offset.
 */
function jsonErrorWithoutText(message: string, text: string): string {
  // V8: `Unexpected token 'h', ..."word": hunter2"... is not valid JSON`: cut from the quote.
  const unquoted = message.replace(/, (?:\.\.\.)?".*$/s, '').replace(/^(Unexpected token) '.*'$/s, '$1');
  const at = /^(.*) in JSON at position (\d+)/s.exec(unquoted);
  if (!at) return unquoted;
  const before = text.slice(0, Number(at[2]));
  const line = before.split('\n').length;
  return `${at[1]} at line ${line}, column ${before.length - before.lastIndexOf('\n')}`;
}

/** Objects merge key by key; arrays and scalars replace. */
export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const prev = out[k];
    out[k] = isPlainObject(prev) && isPlainObject(v) ? deepMerge(prev, v) : v;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
