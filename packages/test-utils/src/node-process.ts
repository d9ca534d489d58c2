/**
 * Runs real `ringkv node start --config <file>` processes (packages/cli/dist/bin.js, so build
 * first) for end-to-end tests: waits until each prints its ready line, keeps their output for
 * failure messages, kills and restarts single nodes, and tears everything down.
 *
 * @example
 * const nodes = await startNodeProcesses([{ config: 'config/foo.json', env: { NATS_URL: nats.url, PORT: '0' } }]);
 * try { ... } finally { await nodes.stop(); }
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { track } from './child-processes.js';

/** The repository root. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The built `ringkv` command. */
export const RINGKV_BIN = fileURLToPath(new URL('../../cli/dist/bin.js', import.meta.url));

/** What `ringkv node start` prints on stderr once it serves: `node <name> ready ...`. */
export const READY_LINE = /^node (\S+) ready\b/m;

export interface NodeProcessSpec {
  /** Path of the node's config file. */
  config: string;
  /** Extra environment (NATS_URL, PORT, RINGKV_NODE, ...), over the test's own. */
  env?: Record<string, string>;
  /** Extra arguments after `node start --config <file>`. */
  args?: readonly string[];
  cwd?: string;
  /** @default 20000 */
  readyTimeoutMs?: number;
  /** A command the node runs under, e.g. `['prlimit', '--nofile=128:128', '--']`. */
  launcher?: readonly string[];
}

export interface NodeProcess {
  readonly spec: NodeProcessSpec;
  /** The node name from its ready line. */
  name(): string;
  /** pid of the running process (undefined when stopped). */
  pid(): number | undefined;
  /** Everything it printed (stdout and stderr), across restarts. */
  output(): string;
  /** Waits until the output (since the last start) matches `pattern`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends `signal` and waits for the exit; SIGKILL after `graceMs`. Resolves to the exit code (null when killed by a signal). */
  kill(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
  /** Starts it again with the same spec and waits for its ready line. */
  restart(): Promise<void>;
  running(): boolean;
}

export interface NodeProcesses {
  readonly nodes: readonly NodeProcess[];
  /** The node whose ready line named `name`. */
  byName(name: string): NodeProcess;
  /** All output, labelled per node: put it in assertion messages. */
  output(): string;
  /** Kills every node (SIGTERM, then SIGKILL). */
  stop(): Promise<void>;
}


/** Starts one `ringkv node start` process and waits for its ready line. */
export async function startNodeProcess(spec: NodeProcessSpec): Promise<NodeProcess> {
  if (!existsSync(RINGKV_BIN)) throw new Error(`${RINGKV_BIN} is missing: build first (npx turbo run build)`);
  let child: ChildProcess | undefined;
  let all = '';
  let sinceStart = '';
  let nodeName = '';
  let exited: Promise<number | null> = Promise.resolve(null);
  const waiters = new Set<() => void>();

  function launch(): void {
    const command = [...(spec.launcher ?? []), process.execPath, RINGKV_BIN, 'node', 'start', '--config', spec.config, ...(spec.args ?? [])];
    const proc = spawn(command[0]!, command.slice(1), {
      cwd: spec.cwd ?? REPO_ROOT,
      // Memory unless the test asks for LMDB (`--data-dir` in args, or this variable in env):
      // node tests must not leave data/ folders behind or share one between runs.
      env: { ...process.env, RINGKV_STORAGE_BACKEND: 'memory', ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    sinceStart = '';
    track(proc);
    const onData = (d: Buffer) => {
      const text = d.toString();
      all += text;
      sinceStart += text;
      for (const w of waiters) w();
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    exited = new Promise((resolve) =>
      proc.once('exit', (code) => {
        all += `\n[process exited: ${code ?? proc.signalCode}]\n`;
        for (const w of waiters) w();
        resolve(code);
      }),
    );
  }

  function waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = sinceStart.match(pattern);
        if (m) {
          done();
          resolve(m);
        } else if (!proc.running()) {
          done();
          reject(new Error(`node process (${spec.config}) exited before printing ${pattern}:\n${all}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`node process (${spec.config}) did not print ${pattern} within ${timeoutMs} ms:\n${all}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  }

  async function ready(): Promise<void> {
    const m = await waitFor(READY_LINE, spec.readyTimeoutMs ?? 20_000);
    nodeName = m[1]!;
  }

  const proc: NodeProcess = {
    spec,
    name: () => nodeName,
    pid: () => (proc.running() ? child?.pid : undefined),
    output: () => all,
    waitFor,
    async kill(signal = 'SIGTERM', graceMs = 5000) {
      const c = child;
      if (!c || !proc.running()) return c?.exitCode ?? null;
      const force = setTimeout(() => c.kill('SIGKILL'), graceMs);
      c.kill(signal);
      const code = await exited;
      clearTimeout(force);
      return code;
    },
    async restart() {
      await proc.kill();
      launch();
      await ready();
    },
    running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
  };

  launch();
  try {
    await ready();
  } catch (err) {
    await proc.kill('SIGKILL');
    throw err;
  }
  return proc;
}

/** Starts several node processes in parallel; if one fails to start, all are killed. */
export async function startNodeProcesses(specs: readonly NodeProcessSpec[]): Promise<NodeProcesses> {
  const results = await Promise.allSettled(specs.map(startNodeProcess));
  const nodes = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
    throw failed.reason;
  }
  return {
    nodes,
    byName(name) {
      const n = nodes.find((p) => p.name() === name);
      if (!n) throw new Error(`no node process named ${name} (have ${nodes.map((p) => p.name()).join(', ')})`);
      return n;
    },
    output: () => nodes.map((n) => `--- ${n.name() || n.spec.config} ---\n${n.output()}`).join('\n'),
    async stop() {
      await Promise.all(nodes.map((n) => n.kill()));
    },
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `ringkv <args>` once and collects its output. */
export function runRingkv(args: readonly string[], options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RINGKV_BIN, ...args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    track(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The text-server port of the node's latest ready line (`node X ready (...; port N)`): a restart prints a new one. */
/** Writes a node's config file as `<dir>/<short name>.json` (the name before `@`) and returns its path. */
export function writeNodeConfig(dir: string, name: string, config: Record<string, unknown>): string {
  const path = join(dir, `${name.split('@')[0]}.json`);
  writeFileSync(path, JSON.stringify({ node: name, ...config }));
  return path;
}

/**
 * A managed ring node on LMDB (N3 R2 W2, 64 vnodes, fast heartbeats and pings) as the NATS
 * membership test and bench run it: LMDB keeps a node's data when its process is SIGKILLed;
 * answered at commit and flushed every 100 ms, so a SIGKILL loses nothing committed and a
 * loaded machine is spared a flush per write.
 */
export function managedRingLmdbConfig(dir: string, name: string, members: readonly string[]): string {
  return writeNodeConfig(dir, name, {
    strategy: 'ring',
    roles: ['server', 'storage'],
    server: { port: 0 },
    cluster: { managed: true, heartbeatMs: 200, livenessMs: 2000, transferBatch: 80 },
    storage: { backend: 'lmdb', path: join(dir, name.split('@')[0]!), syncIntervalMs: 100 },
    ring: { members, n: 3, r: 2, w: 2, vnodes: 64, pingIntervalMs: 200, pingTimeoutMs: 1000, handoffIntervalMs: 300 },
  });
}

export function serverPortOf(p: NodeProcess): number {
  const m = [...p.output().matchAll(/node \S+ ready \(.*; port (\d+)\)/g)].at(-1);
  if (!m) throw new Error(`no port in the ready line:\n${p.output()}`);
  return Number(m[1]);
}

/** `ringkv cluster <args> --nats <url>`: resolves to its stdout, rejects with its output when it exits non-zero. */
export function clusterCommand(natsUrl: string): (...args: string[]) => Promise<string> {
  return async (...args) => {
    const r = await runRingkv(['cluster', ...args, '--nats', natsUrl], { timeoutMs: 30_000 });
    if (r.code !== 0) throw new Error(`ringkv cluster ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
}
