/**
 * Test harness for distributed tests: starts real `nats-server` processes on free loopback
 * ports (never the default 4222), and tags suites that need a server binary so that, when it
 * is missing, every test of the suite fails with the install hint (never skipped: a green run
 * means every test ran).
 *
 * @example
 * describeDistributed('over NATS', () => {
 *   let nats: NatsServer;
 *   beforeAll(async () => { nats = await startNatsServer(); });
 *   afterAll(() => nats?.stop());
 *   it('connects', async () => { ... nats.url ... });
 * });
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe } from 'vitest';
import { stopChild, track } from './child-processes.js';

export type ServerBinary = 'nats-server' | 'redis-server';

const INSTALL_HINT: Record<ServerBinary, string> = {
  'nats-server': 'apt-get install -y nats-server',
  'redis-server': 'apt-get install -y redis-server',
};

const found = new Map<ServerBinary, boolean>();

/** Whether `binary` runs from PATH (checked once per process). */
export function hasBinary(binary: ServerBinary): boolean {
  let ok = found.get(binary);
  if (ok === undefined) {
    const r = spawnSync(binary, ['--version'], { stdio: 'ignore', timeout: 10_000 });
    ok = r.error === undefined && r.status === 0;
    found.set(binary, ok);
  }
  return ok;
}

export const hasNatsServer = (): boolean => hasBinary('nats-server');
export const hasRedisServer = (): boolean => hasBinary('redis-server');

/** CI sets this: distributed tests must run, a missing binary is a failure. */

export function missingBinaryMessage(binary: ServerBinary): string {
  return `${binary} is not installed (not found on PATH); install it with: ${INSTALL_HINT[binary]}`;
}

export interface DistributedOptions {
  /** Binaries the suite needs. @default ['nats-server'] */
  needs?: readonly ServerBinary[];
}

/**
 * `describe` for tests that need real servers. When a needed binary is missing, every test of
 * the suite fails with the install hint.
 */
export function describeDistributed(name: string, fn: () => void, options: DistributedOptions = {}): void {
  const needs = options.needs ?? ['nats-server'];
  const missing = needs.filter((b) => !hasBinary(b));
  if (missing.length === 0) {
    describe(name, fn);
    return;
  }
  const why = missing.map(missingBinaryMessage).join('; ');
  describe(name, () => {
    beforeAll(() => {
      throw new Error(`distributed test cannot run: ${why}`);
    });
    fn();
  });
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface NatsServerOptions {
  /** Client port. @default a free port */
  port?: number;
  /** Largest message payload the server accepts, in bytes. @default the server's (1 MiB) */
  maxPayload?: number;
  /** Cluster settings (used by {@link startNatsCluster}). */
  cluster?: { name: string; port: number; routes: readonly number[] };
  /** Server name, shown in logs. */
  name?: string;
  /** How long to wait for the server to accept connections. @default 10000 */
  readyTimeoutMs?: number;
  /** More nats-server configuration (authorization, tls, ...), appended to the file. */
  config?: string;
  /** Environment of the server process (its config may read `$VARIABLES`). */
  env?: Record<string, string>;
  /** URL scheme clients should use, e.g. `tls`. @default "nats" */
  scheme?: string;
  /**
   * Run JetStream (the cluster state's home). Off for servers whose config cannot host it, e.g.
   * operator/JWT mode without a system account. @default true
   */
  jetstream?: boolean;
}

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  /** The server's output so far (for failure messages). */
  output(): string;
  /** Stops the server (SIGTERM, SIGKILL after 3 s). Idempotent. */
  stop(): Promise<void>;
  /** Stops and starts it again on the same port, after `downMs` (default 0) without a server. */
  restart(downMs?: number): Promise<void>;
  /** Whether the process is running. */
  running(): boolean;
}

/** Starts `nats-server` on 127.0.0.1; throws with an install hint when the binary is missing. */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  if (!hasNatsServer()) throw new Error(missingBinaryMessage('nats-server'));
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'ringkv-nats-'));
  const confPath = join(dir, 'nats.conf');
  const lines = [`listen: "127.0.0.1:${port}"`];
  // JetStream holds the cluster state; its store folder survives restart() (not stop()).
  if (options.jetstream !== false) lines.push(`jetstream { store_dir: "${join(dir, 'js')}" }`);
  if (options.name) lines.push(`server_name: "${options.name}"`);
  if (options.maxPayload !== undefined) lines.push(`max_payload: ${options.maxPayload}`);
  if (options.cluster) {
    const routes = options.cluster.routes.map((p) => `"nats://127.0.0.1:${p}"`).join(', ');
    lines.push(
      `cluster {`,
      `  name: "${options.cluster.name}"`,
      `  listen: "127.0.0.1:${options.cluster.port}"`,
      `  routes: [${routes}]`,
      `}`,
    );
  }
  if (options.config) lines.push(options.config);
  const conf = `${lines.join('\n')}\n`;

  let child: ChildProcess | undefined;
  let out = '';

  async function launch(): Promise<void> {
    // Written at every start: stop() removes the folder, restart() may follow it.
    mkdirSync(dir, { recursive: true });
    writeFileSync(confPath, conf);
    const proc = spawn('nats-server', ['-c', confPath], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
    child = proc;
    track(proc);
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    await waitAccepting(proc, port, options.readyTimeoutMs ?? 10_000, () => out);
  }

  async function stop(): Promise<void> {
    const proc = child;
    child = undefined;
    if (proc) await stopChild(proc);
  }

  await launch();
  return {
    url: `${options.scheme ?? 'nats'}://127.0.0.1:${port}`,
    port,
    output: () => out,
    async stop() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
    async restart(downMs = 0) {
      await stop();
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      await launch();
    },
    running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
  };
}

async function waitAccepting(proc: ChildProcess, port: number, timeoutMs: number, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`nats-server exited (${proc.exitCode ?? proc.signalCode}) before accepting connections:\n${output()}`);
    }
    if (/Server is ready/.test(output()) && (await canConnect(port))) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  proc.kill('SIGKILL');
  throw new Error(`nats-server did not accept connections on 127.0.0.1:${port} within ${timeoutMs} ms:\n${output()}`);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

export interface NatsCluster {
  readonly servers: readonly NatsServer[];
  /** Every server's client URL (give clients all of them). */
  readonly urls: readonly string[];
  /** Waits until every server sees routes to all the others. */
  stop(): Promise<void>;
}

/** Three (or `size`) nats-servers on loopback, fully routed to each other. */
export async function startNatsCluster(size = 3, options: Omit<NatsServerOptions, 'port' | 'cluster' | 'name'> = {}): Promise<NatsCluster> {
  const clusterPorts: number[] = [];
  const clientPorts: number[] = [];
  for (let i = 0; i < size; i++) {
    clusterPorts.push(await freePort());
    clientPorts.push(await freePort());
  }
  const name = `ringkv-test-${process.pid}`;
  const servers = await Promise.all(
    clientPorts.map((port, i) =>
      startNatsServer({
        ...options,
        port,
        name: `s${i}`,
        cluster: { name, port: clusterPorts[i]!, routes: clusterPorts.filter((_, j) => j !== i) },
      }),
    ),
  );
  // Routes connect in the background; wait until each server logged all its routes.
  const deadline = Date.now() + 15_000;
  while (servers.some((s) => (s.output().match(/Route connection created/g) ?? []).length < size - 1)) {
    if (Date.now() > deadline) {
      await Promise.all(servers.map((s) => s.stop()));
      throw new Error(`nats cluster routes did not form:\n${servers.map((s) => s.output()).join('\n----\n')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    servers,
    urls: servers.map((s) => s.url),
    async stop() {
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}
