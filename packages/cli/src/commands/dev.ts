/**
 * `ringkv dev`: the main job on the embedded default. Starts the guide's two nodes from
 * config/foo.json (server + storage) and config/bar.json (storage) in this process, with the
 * text server on foo (port 4040, `PORT` overrides), over a nats-server it starts itself when
 * `nats-server` is on the PATH, else over the in-process transport; then says how to connect
 * and runs until Ctrl-C. `--once` shows the guide's session over TCP and stops (scripts, tests).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect, createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_DATA_ROOT, createInProcessNetwork, loadConfig, renderBucket, type Logger } from '@ringkv/core';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { defaultDataDir, startNodeFromConfig, type RunningNode } from '../node-runtime.js';

export type DevTransport = 'auto' | 'nats' | 'in-process';

export interface DevClusterOptions {
  /** Folder holding foo.json and bar.json (and default.json). @default <cwd>/config */
  configDir: string;
  /** `auto`: NATS when `nats-server` is on the PATH, else in-process. @default "auto" */
  transport?: DevTransport;
  /** Environment for config layering (`PORT` sets foo's port). */
  env: Record<string, string | undefined>;
  /** Where node logs go. */
  log: (line: string) => void;
  /** Keep the nodes' data on LMDB under this folder (`<dir>/<node name>`); memory when absent. */
  dataDir?: string;
}

export interface DevCluster {
  readonly foo: RunningNode;
  readonly bar: RunningNode;
  /** The text server's port on foo. */
  readonly port: number;
  /** The HTTP API's port on foo (8098, `HTTP_PORT` overrides). */
  readonly httpPort: number | undefined;
  /** What the nodes talk over, in words (`NATS at nats://127.0.0.1:35123 (nats-server started by ringkv dev)`). */
  readonly transport: string;
  stop(): Promise<void>;
}

/** Starts foo and bar (and a nats-server when asked or found). Stops what it started if a step fails. */
export async function startDevCluster(options: DevClusterOptions): Promise<DevCluster> {
  const fooFile = join(options.configDir, 'foo.json');
  const barFile = join(options.configDir, 'bar.json');
  for (const f of [fooFile, barFile]) {
    if (!existsSync(f)) throw new UsageError(`${f} does not exist: run ringkv dev from the repository root, or pass --config-dir`);
  }
  const choice = options.transport ?? 'auto';
  const useNats = choice === 'nats' || (choice === 'auto' && natsServerOnPath());
  const closers: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    while (closers.length) await closers.pop()!().catch(() => {});
  };
  try {
    let transport: string;
    let overrides: Record<string, unknown>;
    const network = createInProcessNetwork();
    if (useNats) {
      const nats = await startNatsServerProcess();
      closers.push(() => nats.stop());
      transport = `NATS at ${nats.url} (nats-server started by ringkv dev, stopped with it)`;
      overrides = { transport: 'nats', nats: { url: nats.url } };
    } else {
      transport = `in-process (${choice === 'auto' ? 'nats-server is not on the PATH; install it to run over real NATS' : 'as asked'})`;
      overrides = { transport: 'in-process' };
    }
    const start = async (file: string, extra: Record<string, unknown> = {}) => {
      const named = loadConfig({ file, configDir: options.configDir, env: options.env, overrides });
      // dev keeps memory unless asked: trying ringkv out should leave nothing behind.
      const storage = options.dataDir
        ? { backend: 'lmdb', path: join(options.dataDir, defaultDataDir(named.node ?? 'node').slice(DEFAULT_DATA_ROOT.length + 1)) }
        : { backend: 'memory' };
      const config = loadConfig({ file, configDir: options.configDir, env: options.env, overrides: { ...overrides, storage, ...extra } });
      const running = await startNodeFromConfig(config, { configFile: file, network, logger: lineLogger(`[${config.node}] `, options.log) });
      closers.push(() => running.stop());
      return running;
    };
    // bar first: foo's server must not take commands before their owner serves.
    const bar = await start(barFile);
    // foo also serves HTTP: on HTTP_PORT when set (the config layering reads it), else Riak's 8098.
    const httpOverride = options.env.HTTP_PORT ? {} : { http: { port: (await import('@ringkv/http')).DEFAULT_HTTP_PORT } };
    const foo = await start(fooFile, httpOverride);
    if (foo.serverPort === undefined) throw new UsageError(`${fooFile} does not give foo the "server" role`);
    let stopped: Promise<void> | undefined;
    return { foo, bar, port: foo.serverPort, httpPort: foo.httpPort, transport, stop: () => (stopped ??= stopAll()) };
  } catch (err) {
    await stopAll();
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new UsageError(
        `a port is in use (${(err as Error).message}); pick others with PORT and HTTP_PORT, e.g. PORT=4041 HTTP_PORT=8099 ringkv dev`,
      );
    }
    throw err;
  }
}

export const devCommand: Command = {
  name: 'dev',
  summary: 'start a local cluster (the guide\'s foo and bar) with the text server on port 4040',
  help: `Usage: ringkv dev [--once] [--transport auto|nats|in-process] [--config-dir <dir>] [--data-dir <dir>]

Starts the guide's two nodes in this process: foo@computer-name from config/foo.json
(text server + storage; a..m -> foo, n..z -> bar) and bar@computer-name from
config/bar.json (storage; a..z -> bar). The text server listens on port 4040
(the PORT environment variable overrides it), and foo serves the HTTP API, /metrics
and the dashboard on port 8098 (HTTP_PORT overrides it). Nodes talk over a nats-server that
ringkv dev starts on a free loopback port when nats-server is on the PATH (and stops
on exit), else over the in-process transport; it says which. Runs until Ctrl-C.
Data lives in memory and is gone when dev stops, unless --data-dir is given: then
each node keeps it on LMDB in <dir>/<node name> (delete the folder to wipe it).

Options:
  --once                 show the guide's session over TCP, then stop
  --transport <t>        auto (default), nats or in-process
  --config-dir <dir>     where foo.json and bar.json are (default: ./config)
  --data-dir <dir>       keep data on disk (LMDB) in <dir>/<node name>

Example:
  ringkv dev
  nc localhost 4040      # in another terminal, then: CREATE shopping
`,
  async run(argv, io) {
    let values;
    try {
      ({ values } = parseArgs({
        args: argv,
        options: { once: { type: 'boolean' }, transport: { type: 'string' }, 'config-dir': { type: 'string' }, 'data-dir': { type: 'string' } },
        allowPositionals: false,
      }));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const transport = (values.transport ?? 'auto') as DevTransport;
    if (!['auto', 'nats', 'in-process'].includes(transport)) {
      throw new UsageError(`--transport must be auto, nats or in-process, got ${JSON.stringify(values.transport)}`);
    }
    const configDir = resolve(io.cwd, values['config-dir'] ?? 'config');
    const cluster = await startDevCluster({
      configDir,
      transport,
      env: io.env,
      log: (l) => io.stderr(`${l}\n`),
      ...(values['data-dir'] ? { dataDir: resolve(io.cwd, values['data-dir']) } : {}),
    });
    try {
      io.stdout(
        [
          `ringkv dev: ${cluster.foo.node.name} (server + storage) and ${cluster.bar.node.name} (storage)`,
          `  transport: ${cluster.transport}`,
          ...(await routingDemo(cluster)),
          '',
          `Text server on port ${cluster.port}. Connect with:`,
          '',
          `  nc localhost ${cluster.port}`,
          '',
          'and type, for example: CREATE shopping / PUT shopping eggs 3 / GET shopping eggs / DELETE shopping eggs',
          '',
          ...(cluster.httpPort !== undefined
            ? [
                `HTTP API (Riak's conventions), /stats, /metrics and the dashboard on port ${cluster.httpPort}:`,
                '',
                `  curl localhost:${cluster.httpPort}/buckets/shopping/keys/eggs`,
                `  open http://localhost:${cluster.httpPort}/ in a browser`,
                '',
              ]
            : []),
        ].join('\n'),
      );
      if (values.once) {
        if (cluster.httpPort !== undefined) io.stdout(`${await curlSession(cluster.httpPort)}\n\n`);
        io.stdout(`${await guideSession(cluster.port)}\n`);
        return 0;
      }
      io.stdout('Press Ctrl-C to stop.\n');
      await new Promise<void>((done) => {
        process.once('SIGINT', () => done());
        process.once('SIGTERM', () => done());
      });
      io.stdout('ringkv dev: stopping\n');
      return 0;
    } finally {
      await cluster.stop();
    }
  },
};

async function routingDemo(cluster: DevCluster): Promise<string[]> {
  const lines: string[] = [];
  for (const bucket of ['hello', 'world', '\u0000']) {
    let shown: string;
    try {
      shown = JSON.stringify(await cluster.foo.node.route(bucket, 'Kernel', 'node', []));
    } catch (err) {
      shown = `${(err as Error).name}: ${(err as Error).message}`;
    }
    lines.push(`  route(${renderBucket(bucket)}, Kernel, node, []) via foo -> ${shown}`);
  }
  return lines;
}

/** The guide's session over a real connection, as a transcript (`> ` sent, `< ` received). */
async function guideSession(port: number): Promise<string> {
  const steps = ['CREATE shopping', 'PUT shopping eggs 3', 'GET shopping eggs', 'DELETE shopping eggs', 'GET shopping eggs', 'GET shopping'];
  const socket = connect({ port, host: '127.0.0.1' });
  await new Promise<void>((ok, fail) => socket.once('connect', ok).once('error', fail));
  let received = '';
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (received += d));
  const out: string[] = [`$ nc localhost ${port}`];
  try {
    for (const line of steps) {
      const before = received.length;
      socket.write(`${line}\r\n`);
      // Every reply of these steps ends with OK, NOT FOUND or UNKNOWN COMMAND.
      const deadline = Date.now() + 5000;
      while (!/(OK|NOT FOUND|UNKNOWN COMMAND|ERROR[^\n]*)\r\n$/.test(received.slice(before)) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 5));
      }
      out.push(`> ${line}`, ...received.slice(before).replace(/\r\n$/, '').split('\r\n').map((l) => `< ${l}`));
    }
  } finally {
    socket.destroy();
  }
  return out.join('\n');
}

/**
 * The README's curl session, made over real HTTP: each step as the curl command a person would
 * type, then what curl prints (the body; nothing for 204 No Content).
 */
async function curlSession(port: number): Promise<string> {
  const base = `localhost:${port}`;
  const steps: { curl: string; method: string; path: string; body?: string; headers?: Record<string, string> }[] = [
    { curl: `curl -X PUT -H 'Content-Type: text/plain' --data-binary 3 ${base}/buckets/shopping/keys/eggs`, method: 'PUT', path: '/buckets/shopping/keys/eggs', body: '3', headers: { 'content-type': 'text/plain' } },
    { curl: `curl ${base}/buckets/shopping/keys/eggs`, method: 'GET', path: '/buckets/shopping/keys/eggs' },
    { curl: `curl '${base}/buckets/shopping/keys?keys=true'`, method: 'GET', path: '/buckets/shopping/keys?keys=true' },
    { curl: `curl -X DELETE ${base}/buckets/shopping/keys/eggs`, method: 'DELETE', path: '/buckets/shopping/keys/eggs' },
    { curl: `curl ${base}/buckets/shopping/keys/eggs`, method: 'GET', path: '/buckets/shopping/keys/eggs' },
  ];
  const out: string[] = [];
  for (const step of steps) {
    const res = await fetch(`http://127.0.0.1:${port}${step.path}`, { method: step.method, ...(step.body !== undefined ? { body: step.body } : {}), headers: step.headers ?? {} });
    const text = await res.text();
    out.push(`$ ${step.curl}`, ...(text === '' ? [] : text.replace(/\n$/, '').split('\n')));
  }
  return out.join('\n');
}

function lineLogger(prefix: string, log: (line: string) => void): Logger {
  const at = (level: string) => (message: string) => log(`${prefix}${level}${message}`);
  return { debug: () => {}, info: at(''), warn: at('[warn] '), error: at('[error] ') };
}

// ------------------------------------------------------------------ the nats-server child

function natsServerOnPath(): boolean {
  const r = spawnSync('nats-server', ['--version'], { stdio: 'ignore', timeout: 10_000 });
  return r.error === undefined && r.status === 0;
}

interface NatsServerProcess {
  readonly url: string;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** Starts `nats-server` on a free loopback port and waits until it is ready. */
async function startNatsServerProcess(): Promise<NatsServerProcess> {
  const port = await freeLoopbackPort();
  // JetStream holds the cluster state (`ringkv cluster ...`); its files live for this run only.
  const storeDir = mkdtempSync(join(tmpdir(), 'ringkv-dev-js-'));
  const child = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((done) =>
    child.once('exit', () => {
      children.delete(child);
      rmSync(storeDir, { recursive: true, force: true });
      done();
    }),
  );
  child.once('error', (err) => (output += `\n${err.message}`));
  const deadline = Date.now() + 10_000;
  while (!/Server is ready/.test(output)) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nats-server did not start on 127.0.0.1:${port}:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const force = setTimeout(() => child.kill('SIGKILL'), 3000);
      child.kill('SIGTERM');
      await exited;
      clearTimeout(force);
    },
  };
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => done(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

