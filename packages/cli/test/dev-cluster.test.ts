import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { openClient, GUIDE_SESSION, runGuideSession, describeDistributed, REPO_ROOT, RINGKV_BIN } from '@ringkv/test-utils';
import { startDevCluster, type DevCluster } from '../src/commands/dev.js';
import { main } from '../src/index.js';

const configDir = `${REPO_ROOT}config`;

function capture(env: Record<string, string>) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: (t: string) => void out.push(t), stderr: (t: string) => void err.push(t), env, cwd: REPO_ROOT },
    out: () => out.join(''),
    err: () => err.join(''),
  };
}

async function guideSession(port: number): Promise<void> {
  const c = await openClient(port);
  try {
    expect(await runGuideSession(c)).toEqual(GUIDE_SESSION.map(([, reply]) => reply));
  } finally {
    c.close();
  }
}

let cluster: DevCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe('ringkv dev', () => {
  it('--once starts foo and bar in-process, prints how to connect and the guide\'s session, and stops', async () => {
    const c = capture({ PORT: '0', HTTP_PORT: '0' });
    expect(await main(['dev', '--once', '--transport', 'in-process'], c.io)).toBe(0);
    const out = c.out();
    expect(out).toContain('transport: in-process');
    expect(out).toContain('route("world", Kernel, node, []) via foo -> "bar@computer-name"');
    const port = Number(out.match(/nc localhost (\d+)/)?.[1]);
    expect(port).toBeGreaterThan(0);
    expect(c.err()).toContain(`[foo@computer-name] Accepting connections on port ${port}`);
    expect(out).toContain('> PUT shopping eggs 3\n< OK\n> GET shopping eggs\n< 3\n< OK\n');
    expect(out).toContain('> GET shopping\n< UNKNOWN COMMAND');
    // Stopped: the port no longer accepts connections.
    await expect(openClient(port)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('takes its port from PORT, defaulting to 4040 from the config', async () => {
    cluster = await startDevCluster({ configDir, transport: 'in-process', env: { PORT: '0', HTTP_PORT: '0' }, log: () => {} });
    expect(cluster.port).not.toBe(4040);
    expect(cluster.foo.config.server.port).toBe(0);
    const defaults = await import('@ringkv/core');
    expect(defaults.loadConfig({ file: `${configDir}/foo.json`, env: {} }).server.port).toBe(4040);
  });

  it('in-process: runs the guide session; buckets n..z live on bar only, a..m on foo', async () => {
    cluster = await startDevCluster({ configDir, transport: 'in-process', env: { PORT: '0', HTTP_PORT: '0' }, log: () => {} });
    await guideSession(cluster.port);
    const c = await openClient(cluster.port);
    expect(await c.ask('CREATE apple\n', 'OK\r\n')).toBe('OK\r\n');
    c.close();
    const lookup = (node: DevCluster['foo'], b: string) => node.node.modules.resolve('KV.Registry', 'lookup', 1, node.node.name).fn({ node: node.node.name, bucket: b, meta: {} }, b);
    expect(await lookup(cluster.bar, 'shopping')).toBe(true);
    expect(await lookup(cluster.foo, 'shopping')).toBe(false);
    expect(await lookup(cluster.foo, 'apple')).toBe(true);
    expect(await lookup(cluster.bar, 'apple')).toBe(false);
  });

  it('refuses bad options and explains a port in use', async () => {
    const a = capture({ PORT: '0', HTTP_PORT: '0' });
    expect(await main(['dev', '--transport', 'carrier-pigeon'], a.io)).toBe(2);
    expect(a.err()).toContain('--transport must be auto, nats or in-process');
    const b = capture({ PORT: '0', HTTP_PORT: '0' });
    expect(await main(['dev', '--config-dir', '/nonexistent'], b.io)).toBe(2);
    expect(b.err()).toContain('/nonexistent/foo.json does not exist');
    const busy: Server = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as { port: number }).port;
    try {
      const c = capture({ PORT: String(port), HTTP_PORT: '0' });
      expect(await main(['dev', '--once', '--transport', 'in-process'], c.io)).toBe(2);
      expect(c.err()).toContain('port is in use');
      expect(c.err()).toContain('PORT=4041');
    } finally {
      busy.close();
    }
  });
});

describeDistributed('ringkv dev over NATS', () => {
  it('starts its own nats-server, runs the guide session across foo and bar, and stops the server with it', async () => {
    cluster = await startDevCluster({ configDir, transport: 'auto', env: { PORT: '0', HTTP_PORT: '0' }, log: () => {} });
    expect(cluster.transport).toMatch(/^NATS at nats:\/\/127\.0\.0\.1:\d+ \(nats-server started by ringkv dev/);
    await guideSession(cluster.port);
    const natsPort = Number(cluster.transport.match(/127\.0\.0\.1:(\d+)/)?.[1]);
    await cluster.stop();
    cluster = undefined;
    await expect(openClient(natsPort)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('as a process: serves until SIGINT, then stops and exits 0', async () => {
    const child = spawn(process.execPath, [RINGKV_BIN, 'dev'], { cwd: REPO_ROOT, env: { ...process.env, PORT: '0', HTTP_PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const deadline = Date.now() + 20_000;
      while (!/Press Ctrl-C to stop/.test(out)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`ringkv dev did not start:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(out).toMatch(/transport: NATS at nats:\/\/127\.0\.0\.1:\d+/);
      const port = Number(out.match(/nc localhost (\d+)/)?.[1]);
      await guideSession(port);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(out).toContain('ringkv dev: stopping');
      expect(out).toContain(`Stopped accepting connections on port ${port}`);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
