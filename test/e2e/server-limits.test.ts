/**
 * The text server's connection limits in a real `ringkv node start` process: the config's
 * `server.maxConnections` and `server.idleTimeoutMs` are honoured and logged, and a process
 * whose open-file limit is lower than `maxConnections` refuses (with a reply and a log line)
 * instead of letting the operating system drop connections unseen (prlimit, from util-linux,
 * which every Debian system has, sets that limit).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startNodeProcess, type NodeProcess } from '@ringkv/test-utils';

const NODE = 'limits@ringkv-test';

interface Conn {
  socket: Socket;
  text(): string;
  closed: Promise<void>;
}

function open(port: number): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => {});
      resolve({ socket, text: () => text, closed });
    });
  });
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const portOf = (node: NodeProcess) => Number(node.output().match(/; port (\d+)\)/)?.[1]);

describe('text server limits in a node process', () => {
  let dir: string;
  let node: NodeProcess | undefined;
  const conns: Conn[] = [];

  function configFile(server: Record<string, unknown>): string {
    const file = join(dir, `n${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        node: NODE,
        transport: 'in-process',
        routingTable: [{ from: 'a', to: 'z', node: NODE }],
        storage: { backend: 'memory' },
        server: { port: 0, ...server },
      }),
    );
    return file;
  }

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ringkv-server-limits-'));
  });
  afterEach(async () => {
    for (const c of conns.splice(0)) c.socket.destroy();
    await node?.kill();
    node = undefined;
  }, 30_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('takes maxConnections and idleTimeoutMs from the config file, and logs when they hit', async () => {
    node = await startNodeProcess({ config: configFile({ maxConnections: 4, idleTimeoutMs: 1500 }), env: { RINGKV_CONFIG_DIR: dir } });
    const port = portOf(node);
    for (let i = 0; i < 4; i++) conns.push(await open(port));
    conns[0]!.socket.write('CREATE b\n');
    await until(() => conns[0]!.text() === 'OK\r\n', 10_000, 'CREATE');
    const extra = await open(port);
    conns.push(extra);
    await extra.closed;
    expect(extra.text()).toBe('ERROR too many connections\r\n');
    await node.waitFor(/refused a connection from 127\.0\.0\.1: 4 open, the limit \(server\.maxConnections\)/, 10_000);
    // Nobody talks any more: all four are closed once idle, with a log line.
    await Promise.all(conns.slice(0, 4).map((c) => c.closed));
    await node.waitFor(/idle for 1500 ms \(server\.idleTimeoutMs\)/, 10_000);
    const again = await open(port);
    conns.push(again);
    again.socket.write('PUT b k v\nGET b k\n');
    await until(() => again.text() === 'OK\r\nv\r\nOK\r\n', 10_000, 'the server to answer after the limits hit');
  }, 60_000);

  it('serves no more connections than its open-file limit allows, and refuses the rest with a reply and a log line', async () => {
    node = await startNodeProcess({
      config: configFile({}),
      env: { RINGKV_CONFIG_DIR: dir },
      launcher: ['prlimit', '--nofile=128:128', '--'],
    });
    expect(node.output()).toMatch(
      /server\.maxConnections is 1024 but the open-file limit \(ulimit -n 128, \d+ in use\) leaves room for (\d+)/,
    );
    const room = Number(node.output().match(/leaves room for (\d+)/)![1]);
    const port = portOf(node);
    const all = await Promise.all(Array.from({ length: room + 40 }, () => open(port)));
    conns.push(...all);
    await until(() => all.filter((c) => c.text() === 'ERROR too many connections\r\n').length === 40, 15_000, '40 refusals');
    await node.waitFor(/refused a connection from 127\.0\.0\.1: \d+ open, the limit the open-file limit leaves \(ulimit -n\)/, 10_000);
    // The ones let in are served.
    const served = all.filter((c) => c.text() === '');
    expect(served).toHaveLength(room);
    served[0]!.socket.write('CREATE b\n');
    await until(() => served[0]!.text() === 'OK\r\n', 10_000, 'an answer on a served connection');
  }, 60_000);
});
