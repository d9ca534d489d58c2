/**
 * Builds a running ringkv node from a validated configuration: the transport, the strategy,
 * the module registry (built-ins + config `modules` files), and the roles (storage, server).
 * `ringkv node start` is a thin shell around {@link startNodeFromConfig}.
 *
 * @example
 * const config = loadConfig({ file: 'config/foo.json' });
 * const running = await startNodeFromConfig(config, { configFile: 'config/foo.json' });
 * await running.node.route('hello', 'Kernel', 'node', []); // 'foo@computer-name'
 * await running.stop();
 */
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  ConfigError,
  DEFAULT_DATA_ROOT,
  defaultQuorum,
  type ClusterLayout,
  type ClusterStateStore,
  createInProcessNetwork,
  createModuleRegistry,
  createNode,
  createRangeStrategy,
  silentLogger,
  type InProcessNetwork,
  type Logger,
  type ModuleRegistry,
  type RingkvConfig,
  type RingkvNode,
  type Strategy,
  type Transport,
} from '@ringkv/core';
import { connectClusterStateKv, connectNatsTransport } from '@ringkv/nats';
import { watchFileDescriptors } from './fd-watch.js';
import { natsConnectOptions } from './nats-flags.js';
import { AAE_STATUS_MESSAGE, createMembershipAgent, createRingStrategy, isIdempotentRingMessage, type MembershipAgent } from '@ringkv/ring';
import { startServer } from '@ringkv/server';
import { createStore, type LmdbBackend, type Store } from '@ringkv/store';
import type { NodeMetrics } from '@ringkv/http';
import { antiEntropyOf, statsSourceFor } from './node-stats-source.js';

export interface StartNodeOptions {
  /** The config file the config came from: `modules` paths resolve relative to its folder. */
  configFile?: string;
  /** Where relative `modules` paths resolve when there is no config file. @default process.cwd() */
  baseDir?: string;
  logger?: Logger;
  /** Use this transport instead of the one the config names (embedding, tests). */
  transport?: Transport;
  /** The network for `transport: "in-process"`. @default a new network (this node alone) */
  network?: InProcessNetwork;
  /** The cluster state of a managed cluster, instead of JetStream KV on the config's NATS (in-process clusters). */
  clusterState?: ClusterStateStore;
}

export interface RunningNode {
  readonly node: RingkvNode;
  readonly config: RingkvConfig;
  readonly transport: Transport;
  /** The TCP port the text server listens on (role "server"), once it is wired. */
  readonly serverPort?: number;
  /** The port of the HTTP API, /metrics and the dashboard (config `http.port`), once it is wired. */
  readonly httpPort?: number;
  /** In a managed cluster: what follows the cluster state for this node. */
  readonly agent?: MembershipAgent;
  /** Stops serving, drains in-flight calls, closes storage and the connection. Idempotent. */
  stop(): Promise<void>;
}

/** Starts the node `config` describes. On failure everything already opened is closed again. */
export async function startNodeFromConfig(config: RingkvConfig, options: StartNodeOptions = {}): Promise<RunningNode> {
  const name = config.node;
  if (!name) {
    throw new ConfigError('config has no node name: set "node" in the config file or the RINGKV_NODE environment variable');
  }
  const logger = options.logger ?? silentLogger;
  // Undone in reverse order by stop(), or when starting fails half way.
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    while (closers.length) {
      const close = closers.pop()!;
      await close().catch((err: unknown) => logger.warn(`while stopping ${name}: ${(err as Error).message}`));
    }
  };

  try {
    const transport = options.transport ?? (await transportFor(config, name, logger, options.network));
    if (!options.transport) closers.push(() => transport.close());

    const modules = createModuleRegistry();
    await loadModuleFiles(config.modules, modules, options.configFile ? dirname(resolve(options.configFile)) : (options.baseDir ?? process.cwd()));

    // Role "storage": this node keeps buckets. Without it the node stores nothing and only
    // routes (a server-only node); KV calls routed to it fail as undefined functions.
    let store: Store | undefined;
    if (config.roles.includes('storage')) {
      const storage = config.storage;
      const dataDir = storage.backend === 'lmdb' ? resolve(storage.path ?? defaultDataDir(name)) : undefined;
      const opened = await createStore({
        backend: storage.backend,
        redis: storage.redis,
        ...(storage.serializeBy ? { serializeBy: storage.serializeBy } : {}),
        ...(dataDir ? { lmdb: { path: dataDir, syncIntervalMs: storage.syncIntervalMs, maxValueBytes: storage.maxValueBytes } } : {}),
      });
      store = opened;
      closers.push(() => opened.close());
      store.register(modules);
      logger.info(describeStorage(opened, storage.syncIntervalMs));
    }

    // A managed cluster's placement comes from the cluster state, read before serving.
    const managed = config.cluster.managed;
    let clusterState: ClusterStateStore | undefined;
    if (managed) {
      const opened = options.clusterState ?? (await connectClusterStateKv({ ...natsConnectOptions(config), bucket: config.cluster.bucket, name: `${name} cluster state`, logger }));
      clusterState = opened;
      if (!options.clusterState) closers.push(() => opened.close());
    }

    const node = createNode({
      name,
      transport,
      strategy: managed ? createRangeStrategy([]) : strategyFor(config),
      modules,
      hopTimeoutMs: config.hopTimeoutMs,
      maxHops: config.maxHops,
      logger,
    });
    store?.attach(node);
    // Answered from the strategy in effect when asked: membership swaps strategies at runtime.
    node.handle(AAE_STATUS_MESSAGE, () => antiEntropyOf(node.strategy()) ?? null);

    let agent: MembershipAgent | undefined;
    if (clusterState) {
      const seed = seedLayout(config);
      const started = createMembershipAgent({
        node,
        store: clusterState,
        ...(seed ? { seed } : {}),
        storage: store !== undefined,
        timing: ringTiming(config),
        logger,
        heartbeatMs: config.cluster.heartbeatMs,
        livenessMs: config.cluster.livenessMs,
        batchSize: config.cluster.transferBatch,
        batchBytes: config.cluster.transferBatchBytes,
      });
      closers.push(() => started.stop());
      await started.start();
      agent = started;
    }
    await node.start();
    closers.push(() => node.stop());
    const stopFdWatch = watchFileDescriptors({ logger });
    closers.push(async () => stopFdWatch());

    // Metrics count the calls of both servers; they exist when the HTTP server does (it serves them).
    // Loaded only then: fastify and prom-client cost every other node start (and every CLI command) nothing.
    const http = config.http.port !== undefined ? await import('@ringkv/http') : undefined;
    // Anti-entropy families exist where it runs (the ring, unless turned off), not as zeros elsewhere.
    const source = statsSourceFor(
      store,
      config.strategy === 'ring' && config.ring.antiEntropy?.enabled !== false ? node : undefined,
      agent && clusterState ? { agent, state: clusterState } : undefined,
    );
    const metrics: NodeMetrics | undefined = http?.createNodeMetrics({ node, source });

    let serverPort: number | undefined;
    // Role "server": the text protocol in front of this node. Closed first on stop(), so the
    // commands in flight finish while the node and its storage are still up.
    if (config.roles.includes('server')) {
      const server = await startServer({
        node: metrics ? metrics.meter(node, 'text') : node,
        port: config.server.port,
        host: config.server.host,
        maxLineLength: config.server.maxLineLength,
        idleTimeoutMs: config.server.idleTimeoutMs,
        maxConnections: config.server.maxConnections,
        logger,
      });
      serverPort = server.port;
      closers.push(() => server.close());
    }

    let httpPort: number | undefined;
    // The HTTP API (any role: a storage-only node still serves /metrics and the dashboard).
    if (http && metrics && config.http.port !== undefined) {
      const httpServer = await http.startHttpServer({
        node,
        port: config.http.port,
        host: config.http.host,
        metrics,
        source,
        ...(config.http.bodyLimit !== undefined ? { bodyLimit: config.http.bodyLimit } : {}),
        ...(config.http.maxConnections !== undefined ? { maxConnections: config.http.maxConnections } : {}),
        ...(config.http.idleTimeoutMs !== undefined ? { idleTimeoutMs: config.http.idleTimeoutMs } : {}),
        ...(config.http.requestTimeoutMs !== undefined ? { requestTimeoutMs: config.http.requestTimeoutMs } : {}),
        logger,
      });
      httpPort = httpServer.port;
      closers.push(() => httpServer.close());
    }

    let stopped: Promise<void> | undefined;
    return {
      node,
      config,
      transport,
      ...(agent ? { agent } : {}),
      ...(serverPort !== undefined ? { serverPort } : {}),
      ...(httpPort !== undefined ? { httpPort } : {}),
      stop: () => (stopped ??= closeAll()),
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** The layout this node's file describes, which seeds a new managed cluster (none without members). */
export function seedLayout(config: RingkvConfig): ClusterLayout | undefined {
  if (config.strategy === 'ring') {
    const ring = config.ring;
    if (ring.members.length === 0) return undefined;
    const weights = Object.keys(ring.weights).length > 0 ? { weights: ring.weights } : {};
    return { strategy: 'ring', members: [...ring.members].sort(), n: ring.n, r: ring.r ?? defaultQuorum(ring.n), w: ring.w ?? defaultQuorum(ring.n), vnodes: ring.vnodes, ...weights };
  }
  if (config.routingTable.length === 0) return undefined;
  const members = [...new Set(config.routingTable.map((e) => e.node))].sort();
  return { strategy: 'range', members, table: config.routingTable.map((e) => ({ from: e.from, to: e.to, node: e.node })) };
}

function ringTiming(config: RingkvConfig) {
  const r = config.ring;
  return {
    ...(r.pingIntervalMs !== undefined ? { pingIntervalMs: r.pingIntervalMs } : {}),
    ...(r.pingTimeoutMs !== undefined ? { pingTimeoutMs: r.pingTimeoutMs } : {}),
    ...(r.handoffIntervalMs !== undefined ? { handoffIntervalMs: r.handoffIntervalMs } : {}),
    ...(r.handoffBatchSize !== undefined ? { handoffBatchSize: r.handoffBatchSize } : {}),
    ...(r.reapIntervalMs !== undefined ? { reapIntervalMs: r.reapIntervalMs } : {}),
    ...(r.tombstoneGraceMs !== undefined ? { tombstoneGraceMs: r.tombstoneGraceMs } : {}),
    ...(r.antiEntropy !== undefined ? { antiEntropy: r.antiEntropy } : {}),
  };
}

/** The one place strategies are chosen by name. */
function strategyFor(config: RingkvConfig): Strategy {
  switch (config.strategy) {
    case 'range':
      return createRangeStrategy(config.routingTable);
    case 'ring':
      return createRingStrategy(config.ring);
    default:
      throw new ConfigError(`strategy: unknown strategy ${JSON.stringify(config.strategy)}`);
  }
}

async function transportFor(config: RingkvConfig, name: string, logger: Logger, network?: InProcessNetwork): Promise<Transport> {
  if (config.transport === 'in-process') {
    if (!network) logger.warn('transport "in-process": this node can only reach nodes started in this same process');
    return (network ?? createInProcessNetwork()).transport();
  }
  return connectNatsTransport({
    ...natsConnectOptions(config),
    name,
    logger,
    // Replica merges and reads lost to a NATS restart are sent again after the reconnect.
    idempotent: isIdempotentRingMessage,
    ...(config.nats.subjectCheckIntervalMs !== undefined ? { subjectCheckIntervalMs: config.nats.subjectCheckIntervalMs } : {}),
    ...(config.nats.coalesceWrites !== undefined ? { coalesceWrites: config.nats.coalesceWrites } : {}),
  });
}

/**
 * Loads each `modules` file (an ES module exporting `register(registry)`) into `registry`.
 * Relative paths resolve against `baseDir`.
 */
export async function loadModuleFiles(paths: readonly string[], registry: ModuleRegistry, baseDir: string): Promise<void> {
  for (const path of paths) {
    const abs = isAbsolute(path) ? path : resolve(baseDir, path);
    let mod: { register?: unknown };
    try {
      mod = (await import(pathToFileURL(abs).href)) as { register?: unknown };
    } catch (err) {
      throw new ConfigError(`modules: cannot load ${abs}: ${(err as Error).message}`, { cause: err });
    }
    if (typeof mod.register !== 'function') {
      throw new ConfigError(`modules: ${abs} does not export a function register(registry)`);
    }
    try {
      await (mod.register as (r: ModuleRegistry) => unknown)(registry);
    } catch (err) {
      throw new ConfigError(`modules: register() of ${abs} failed: ${(err as Error).message}`, { cause: err });
    }
  }
}

/**
 * `data/<node name>` (relative to the working directory). Characters other than letters,
 * digits and `@._-` are %-escaped, so a node name can never climb out of `data/` or name a
 * second node's folder.
 */
export function defaultDataDir(node: string): string {
  const safe = node.replace(/[^A-Za-z0-9@._-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return join(DEFAULT_DATA_ROOT, safe);
}

/** The start-up line: where the data is and how much it holds. */
function describeStorage(store: Store, syncIntervalMs: number): string {
  const backend = store.backend;
  if (backend.kind !== 'lmdb') return `storage: ${backend.kind}${backend.kind === 'memory' ? ' (not kept across restarts)' : ''}`;
  const s = (backend as LmdbBackend).summary();
  const durability = syncIntervalMs === 0 ? 'writes answered once on disk' : `writes answered once committed, flushed every ${syncIntervalMs} ms`;
  return `storage: lmdb in ${s.path}: ${s.entries} entries in ${s.tables} buckets/areas, ${(s.fileBytes / 1048576).toFixed(1)} MiB on disk; ${durability}`;
}
