/**
 * What one client (or many) cannot do to a text server: hold more than about one line limit
 * per connection, keep a connection open forever doing nothing, open more connections than
 * configured, or read a stored value that would break the reply framing.
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createInProcessNetwork } from '@ringkv/core';
import { createChangeFeed, createLineFramer, startServer } from '../src/index.js';
import { startFixture, type Fixture } from './cluster-fixture.js';
import { openClient, type LineClient } from '@ringkv/test-utils';

let fx: Fixture | undefined;
const clients: LineClient[] = [];
const sockets: Socket[] = [];
async function client(port = fx!.server.port): Promise<LineClient> {
  const c = await openClient(port);
  clients.push(c);
  return c;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of sockets.splice(0)) s.destroy();
  await fx?.stop();
  fx = undefined;
});

describe('line framer memory', () => {
  it('holds one buffer, never larger than the limit, however small the chunks', () => {
    const limit = 10_000;
    const f = createLineFramer({ maxLineLength: limit });
    const line = Buffer.from(`PUT b k ${'v'.repeat(limit - 8)}`);
    let most = 0;
    for (let i = 0; i < line.length; i++) {
      expect(f.push(line.subarray(i, i + 1))).toEqual([]);
      most = Math.max(most, f.capacity());
    }
    expect(f.pending()).toBe(limit);
    expect(most).toBe(limit);
    const [event] = f.push(Buffer.from('\n'));
    expect(event?.type === 'line' && Buffer.from(event.line).equals(line)).toBe(true);
    // A large buffer is not kept for an idle connection.
    expect(f.capacity()).toBe(0);
  });

  it('keeps a small buffer for the next split line', () => {
    const f = createLineFramer({ maxLineLength: 65_536 });
    f.push(Buffer.from('GET a'));
    expect(f.capacity()).toBeGreaterThan(0);
    expect(f.capacity()).toBeLessThanOrEqual(4096);
    f.push(Buffer.from(' b\n'));
    expect(f.capacity()).toBeLessThanOrEqual(4096);
  });
});

describe('text server limits', () => {
  it('stops reading once complete lines waiting pass maxQueuedBytes', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    fx = await startFixture({
      maxQueuedBytes: 1000,
      wrap: (node) => ({
        route: async (...a) => {
          calls++;
          await gate;
          return node.route(...a);
        },
      }),
    });
    const socket = connect({ port: fx.server.port, host: '127.0.0.1' });
    sockets.push(socket);
    socket.on('error', () => {});
    await new Promise((r) => socket.once('connect', r));
    // 8 MB of 100-byte lines while the first command hangs: the server must stop reading soon.
    const line = `CREATE ${'b'.repeat(92)}\n`;
    let flushed = true;
    for (let i = 0; i < 80_000 && flushed; i++) flushed = socket.write(line);
    await sleep(300);
    expect(calls).toBe(1);
    expect(flushed).toBe(false); // the client could not push everything: the server stopped reading
    release();
  });

  it('refuses a connection over maxConnections with one line, logs it, and serves the others', async () => {
    fx = await startFixture({ maxConnections: 3 });
    const served = await Promise.all([client(), client(), client()]);
    await until(() => fx!.server.connections() === 3);
    const extra = await client();
    expect(await extra.ended()).toBe('ERROR too many connections\r\n');
    expect(fx.logs.some((l) => /refused a connection .*server\.maxConnections/.test(l))).toBe(true);
    for (const c of served) expect(await c.ask('CREATE ok\n', 'OK\r\n')).toBe('OK\r\n');
    // A place frees up when one leaves.
    served[0]!.close();
    await until(() => fx!.server.connections() === 2);
    const next = await client();
    expect(await next.ask('CREATE again\n', 'OK\r\n')).toBe('OK\r\n');
  });

  it('logs a flood of refused connections once per interval, with the count', async () => {
    fx = await startFixture({ maxConnections: 1 });
    await client();
    await until(() => fx!.server.connections() === 1);
    for (let i = 0; i < 20; i++) await (await client()).ended();
    expect(fx.logs.filter((l) => /refused a connection/.test(l))).toHaveLength(1);
  });

  it('closes a connection idle longer than idleTimeoutMs, with a log line, dropping its partial line', async () => {
    fx = await startFixture({ idleTimeoutMs: 300 });
    const c = await client();
    expect(await c.ask('CREATE idle\n', 'OK\r\n')).toBe('OK\r\n');
    c.send('PUT idle k never-finished');
    expect(await c.ended()).toBe('');
    expect(fx.logs.some((l) => /idle for 300 ms \(server\.idleTimeoutMs\)/.test(l))).toBe(true);
    expect(await fx.node.route('idle', 'KV.Bucket', 'get', ['idle', 'k'])).toEqual({ value: null });
    await until(() => fx!.server.connections() === 0);
  });

  it('keeps a connection that keeps talking, and one whose command is slow', async () => {
    let slow = false;
    fx = await startFixture({
      idleTimeoutMs: 300,
      wrap: (node) => ({
        route: async (...a) => {
          if (slow) await sleep(900);
          return node.route(...a);
        },
      }),
    });
    const c = await client();
    for (let i = 0; i < 5; i++) {
      expect(await c.ask('CREATE busy\n', 'OK\r\n')).toBe('OK\r\n');
      await sleep(150);
    }
    slow = true;
    expect(await c.ask('CREATE busy\n', 'OK\r\n')).toBe('OK\r\n');
    expect(c.socket.destroyed).toBe(false);
  });

  it('does not close a SUBSCRIBE stream for being idle', async () => {
    const network = createInProcessNetwork();
    fx = await startFixture({ idleTimeoutMs: 200, feedFrom: () => createChangeFeed(network.transport()) });
    const sub = await client();
    expect(await sub.ask('CREATE feed\n', 'OK\r\n')).toBe('OK\r\n');
    sub.send('SUBSCRIBE feed\n');
    await sleep(700);
    const writer = await client();
    expect(await writer.ask('PUT feed k v\n', 'OK\r\n')).toBe('OK\r\n');
    expect(await sub.read('k SET TO v\r\n'.length)).toBe('k SET TO v\r\n');
  });

  it('refuses bad limits with clear errors', async () => {
    fx = await startFixture();
    await expect(startServer({ node: fx.node, port: 0, maxConnections: 0 })).rejects.toThrow(/maxConnections must be a positive integer/);
    await expect(startServer({ node: fx.node, port: 0, idleTimeoutMs: -1 })).rejects.toThrow(
      /idleTimeoutMs must be a non-negative integer/,
    );
    await expect(startServer({ node: fx.node, port: 0, maxQueuedBytes: 1.5 })).rejects.toThrow(/maxQueuedBytes/);
  });
});

describe('values the text protocol cannot carry', () => {
  it('answers ERROR naming why for a stored value with CR or LF, never the raw bytes', async () => {
    fx = await startFixture();
    await fx.node.route('forge', 'KV.Registry', 'create', ['forge']);
    await fx.node.route('forge', 'KV.Bucket', 'put', ['forge', 'lf', 'x\r\nOK\r\nforged']);
    await fx.node.route('forge', 'KV.Bucket', 'put', ['forge', 'cr', new Uint8Array([0x61, 0x0d, 0x62])]);
    await fx.node.route('forge', 'KV.Bucket', 'put', ['forge', 'fine', 'a\tb']);
    const c = await client();
    c.send('GET forge lf\nGET forge fine\nGET forge cr\nGET forge fine\n');
    await until(
      () =>
        (
          c
            .received()
            .toString('latin1')
            .match(/a\tb\r\nOK\r\n/g) ?? []
        ).length === 2,
    );
    const all = c.received().toString('latin1').split('\r\n');
    const why = (n: number) =>
      `ERROR UnrepresentableValueError: the stored value (${n} bytes) contains a CR or LF byte, which a text-protocol reply line cannot carry; read it with route (the library or ringkv route)`;
    expect(all).toEqual([why(13), 'a\tb', 'OK', why(3), 'a\tb', 'OK', '']);
    expect(all).not.toContain('forged');
  });

  it('drops a change event whose key or value holds CR or LF instead of streaming it', async () => {
    const network = createInProcessNetwork();
    const publisher = createChangeFeed(network.transport());
    fx = await startFixture({ feedFrom: () => createChangeFeed(network.transport()) });
    const sub = await client();
    expect(await sub.ask('CREATE feed\n', 'OK\r\n')).toBe('OK\r\n');
    sub.send('SUBSCRIBE feed\n');
    await sleep(100);
    const bucket = Buffer.from('feed');
    publisher.publish({ bucket, key: Buffer.from('k'), value: Buffer.from('v\r\nforged SET TO x') });
    publisher.publish({ bucket, key: Buffer.from('k\n'), value: null });
    publisher.publish({ bucket, key: Buffer.from('k'), value: Buffer.from('fine') });
    expect(await sub.read('k SET TO fine\r\n'.length)).toBe('k SET TO fine\r\n');
    expect(fx.logs.some((l) => /dropped a change whose key or value holds CR or LF/.test(l))).toBe(true);
    await publisher.close();
  });
});
