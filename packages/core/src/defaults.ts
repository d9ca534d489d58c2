/** Every default of ringkv, in one place. Config files and options override these. */

/** Per-hop wait, as the guide's `Task.await` default. */
export const DEFAULT_HOP_TIMEOUT_MS = 5000;
/** Forwarding hops before a call is declared a routing loop. */
export const DEFAULT_MAX_HOPS = 16;
/** The guide's port. */
export const DEFAULT_PORT = 4040;
export const DEFAULT_HOST = '127.0.0.1';
/** Longest request line the text server accepts, in bytes (the LF excluded). */
export const DEFAULT_MAX_LINE_LENGTH = 64 * 1024;
/** A text-server connection idle this long (ms) is closed; 0 never closes. */
export const DEFAULT_IDLE_TIMEOUT_MS = 300_000;
/** Text-server connections served at once. */
export const DEFAULT_MAX_CONNECTIONS = 1024;
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_REDIS_KEY_PREFIX = 'ringkv:';
/** Largest value (versioned record) the LMDB backend stores unless configured: 16 MiB. */
export const DEFAULT_MAX_VALUE_BYTES = 16 * 1024 * 1024;
/** Where a node keeps its LMDB folder unless configured: `data/<node name>` under the working directory. */
export const DEFAULT_DATA_ROOT = 'data';
/** Replicas per bucket on the ring. */
export const DEFAULT_RING_N = 3;
/** Virtual nodes per ring member (see docs/benchmarks.md for the measurement behind it). */
export const DEFAULT_RING_VNODES = 1024;
/** Read/write quorum for a replication factor: a majority. */
export const defaultQuorum = (n: number): number => Math.floor(n / 2) + 1;
/** JetStream KV bucket holding the cluster state. */
export const DEFAULT_CLUSTER_STATE_BUCKET = 'ringkv-cluster';
/** Transfers a node runs at once, receiving and sending (each). */
export const DEFAULT_TRANSFER_LIMIT = 2;
/** Objects per streamed transfer batch (at most). */
export const DEFAULT_TRANSFER_BATCH = 200;
/**
 * Bytes a streamed transfer batch aims at: the next batch asks for fewer objects when one came
 * back larger. A batch is decoded and merged in one go on both nodes, so its size is how long
 * their client calls wait behind it.
 */
export const DEFAULT_TRANSFER_BATCH_BYTES = 128 * 1024;
/** How often a node rewrites its seen-entry (its heartbeat in the cluster state), ms. */
export const DEFAULT_CLUSTER_HEARTBEAT_MS = 1000;
/** A node whose seen-entry is older than this is not waited for, ms. */
export const DEFAULT_CLUSTER_LIVENESS_MS = 5000;
