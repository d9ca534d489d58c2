/**
 * Starts a real `redis-server` on a free loopback port (never the default 6379), with no
 * persistence, for tests and benchmarks. Gate suites that use it with
 * `describeDistributed(name, fn, { needs: ['redis-server'] })` from ./nats.ts: its tests fail
 * with the install hint when the binary is missing.
 *
 * @example
 * describeDistributed('on redis-server', () => {
 *   let redis: RedisServer;
 *   beforeAll(async () => { redis = await startRedisServer(); });
 *   afterAll(() => redis?.stop());
 *   it('stores', async () => { ... redis.url ... });
 * }, { needs: ['redis-server'] });
 */
import { spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { freePort, hasRedisServer, missingBinaryMessage } from './nats.js';
import { stopChild, track } from './child-processes.js';

export interface RedisServer {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** The server's output so far (for failure messages). */
  output(): string;
  /** Stops the server (SIGTERM, SIGKILL after 3 s). Idempotent. */
  stop(): Promise<void>;
}

export interface RedisServerOptions {
  /** @default a free port */
  port?: number;
  /** How long to wait for PONG. @default 10000 */
  readyTimeoutMs?: number;
}


/** Starts `redis-server` on 127.0.0.1 and waits until it answers PING. */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  if (!hasRedisServer()) throw new Error(missingBinaryMessage('redis-server'));
  const port = options.port ?? (await freePort());
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(proc);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));

  const deadline = Date.now() + (options.readyTimeoutMs ?? 10_000);
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`redis-server exited (${proc.exitCode ?? proc.signalCode}) before answering PING:\n${out}`);
    }
    if (await pong(port)) break;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`redis-server did not answer PING on 127.0.0.1:${port} in time:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }

  let stopped = false;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    output: () => out,
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopChild(proc);
    },
  };
}

/** True when the server on `port` answers `PING` with `+PONG`. */
function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d: Buffer) => {
      reply += d.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}
