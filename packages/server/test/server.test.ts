import fc from 'fast-check';
import { connect } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startServer } from '../src/index.js';
import { startFixture, type Fixture } from './cluster-fixture.js';
import { latin1, openClient, type LineClient, GUIDE_SESSION, runGuideSession } from '@ringkv/test-utils';

let fx: Fixture;
const clients: LineClient[] = [];
async function client(): Promise<LineClient> {
  const c = await openClient(fx.server.port);
  clients.push(c);
  return c;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await fx?.stop();
});

describe('text server: the guide', () => {
  beforeEach(async () => {
    fx = await startFixture();
  });

  it('logs the port it accepts connections on', () => {
    expect(fx.server.port).toBeGreaterThan(0);
    expect(fx.logs).toContain(`Accepting connections on port ${fx.server.port}`);
  });

  it('runs the guide\'s integration test step by step on one connection after a reset', async () => {
    await fx.node.route('shopping', 'KV.Registry', 'create', ['shopping']);
    await fx.store.reset();
    const c = await client();
    expect(await runGuideSession(c)).toEqual(GUIDE_SESSION.map(([, reply]) => reply));
  });

  it('answers every row of the reply table with its exact bytes', async () => {
    const c = await client();
    const rows: [string, string][] = [
      ['PUT b k v\n', 'NOT FOUND\r\n'], // no such bucket: not created implicitly
      ['GET b k\n', 'NOT FOUND\r\n'],
      ['DELETE b k\n', 'NOT FOUND\r\n'],
      ['CREATE b\n', 'OK\r\n'], // new
      ['GET b k\n', '\r\nOK\r\n'], // key missing
      ['DELETE b k\n', 'OK\r\n'], // key missing
      ['PUT b k v1\n', 'OK\r\n'],
      ['PUT b k v2\n', 'OK\r\n'], // overwrites
      ['GET b k\n', 'v2\r\nOK\r\n'],
      ['CREATE b\n', 'OK\r\n'], // existing: data kept
      ['GET b k\n', 'v2\r\nOK\r\n'],
      ['DELETE b k\n', 'OK\r\n'], // key present
      ['GET b k\n', '\r\nOK\r\n'],
      ['FOO b\n', 'UNKNOWN COMMAND\r\n'], // unknown word
      ['GET b\n', 'UNKNOWN COMMAND\r\n'], // wrong number of tokens
      ['PUT b k v extra\n', 'UNKNOWN COMMAND\r\n'],
      ['get b k\n', 'UNKNOWN COMMAND\r\n'], // lowercase
      ['\n', 'UNKNOWN COMMAND\r\n'], // empty
      [' \t\r\n', 'UNKNOWN COMMAND\r\n'], // blank
    ];
    for (const [line, reply] of rows) expect(await c.ask(line, reply), JSON.stringify(line)).toBe(reply);
  });
});

describe('text server: tokens and framing over the socket', () => {
  beforeEach(async () => {
    fx = await startFixture({ maxLineLength: 64 });
  });

  it('separates with tabs and Unicode spaces, not with U+00A0', async () => {
    const c = await client();
    expect(await c.ask('CREATE\tb\r\n', 'OK\r\n')).toBe('OK\r\n');
    expect(await c.ask('PUT\u3000b\u2000k\u205fv\u0085\n', 'OK\r\n')).toBe('OK\r\n');
    expect(await c.ask('GET\u1680b\u2029k\n', 'v\r\nOK\r\n')).toBe('v\r\nOK\r\n');
    expect(await c.ask('PUT b k\u00a0x v\n', 'OK\r\n')).toBe('OK\r\n'); // key is "k\u00a0x"
    expect(await c.ask('GET b k\u00a0x\n', Buffer.from('v\r\nOK\r\n'))).toBe('v\r\nOK\r\n');
    expect(await c.ask('GET b k\n', 'v\r\nOK\r\n')).toBe('v\r\nOK\r\n'); // untouched
    expect(await c.ask('GET\u00a0b k\n', 'UNKNOWN COMMAND\r\n')).toBe('UNKNOWN COMMAND\r\n');
  });

  it('ends lines at LF alone, and not at a CR alone', async () => {
    const c = await client();
    expect(await c.ask('CREATE b\n', 'OK\r\n')).toBe('OK\r\n');
    // "GET b k\rGET b k" is one line of five tokens.
    c.send('GET b k\rGET b k');
    await sleep(50);
    expect(c.received().length).toBe(4);
    expect(await c.ask('\n', 'UNKNOWN COMMAND\r\n')).toBe('UNKNOWN COMMAND\r\n');
    // A CR inside a line is whitespace like any other.
    expect(await c.ask('PUT b k\rv\n', 'OK\r\n')).toBe('OK\r\n');
    expect(await c.ask('GET b k\r\r\n', 'v\r\nOK\r\n')).toBe('v\r\nOK\r\n');
  });

  it('runs pipelined lines in order and answers in order, even when an earlier one is slower', async () => {
    await fx.stop();
    fx = await startFixture({
      wrap: (node) => ({
        route: async (bucket, mod, fun, args, opts) => {
          if (latin1(bucket as Uint8Array).startsWith('slow')) await sleep(150);
          return node.route(bucket, mod, fun, args, opts);
        },
      }),
    });
    const c = await client();
    c.send('CREATE slow\nPUT slow k 1\nCREATE fast\nGET slow k\nGET fast k\nnope\nGET slow k\n');
    const expected = 'OK\r\nOK\r\nOK\r\n1\r\nOK\r\n\r\nOK\r\nUNKNOWN COMMAND\r\n1\r\nOK\r\n';
    expect(await c.read(expected.length)).toBe(expected);
  });

  it('answers a line over the limit with ERROR line too long, stores nothing, and stays usable', async () => {
    const c = await client();
    expect(await c.ask('CREATE b\n', 'OK\r\n')).toBe('OK\r\n');
    const long = `PUT b k ${'x'.repeat(100)}\n`;
    expect(await c.ask(long, 'ERROR line too long\r\n')).toBe('ERROR line too long\r\n');
    expect(await c.ask('GET b k\n', '\r\nOK\r\n')).toBe('\r\nOK\r\n');
    // The rest of a long line, arriving in pieces, is dropped up to its LF.
    c.send(`PUT b k ${'y'.repeat(70)}`);
    expect(await c.read(21)).toBe('ERROR line too long\r\n');
    c.send('y'.repeat(1000));
    c.send('yyy\nPUT b k short\n');
    expect(await c.read(4)).toBe('OK\r\n');
    expect(await c.ask('GET b k\n', 'short\r\nOK\r\n')).toBe('short\r\nOK\r\n');
    // Exactly the limit (64 bytes, the LF excluded) is accepted.
    const value = 'z'.repeat(64 - 'PUT b k '.length);
    expect(await c.ask(`PUT b k ${value}\n`, 'OK\r\n')).toBe('OK\r\n');
  });

  it('round-trips NUL, 0xff and invalid UTF-8 in bucket, key and value', async () => {
    const c = await client();
    const bucket = Uint8Array.of(0x62, 0x00, 0xff);
    const key = Uint8Array.of(0xc3, 0x28, 0x00);
    const value = Uint8Array.of(0x00, 0xff, 0xfe, 0x80, 0xe2, 0x82, 0x01, 0xc2, 0xa0);
    const line = (...parts: Uint8Array[]) => Buffer.concat(parts.flatMap((p, i) => (i ? [Buffer.from(' '), p] : [p])).concat([Buffer.from('\n')]));
    const w = (s: string) => Buffer.from(s);
    expect(await c.ask(line(w('CREATE'), bucket), 'OK\r\n')).toBe('OK\r\n');
    expect(await c.ask(line(w('PUT'), bucket, key, value), 'OK\r\n')).toBe('OK\r\n');
    const reply = await c.ask(line(w('GET'), bucket, key), Buffer.concat([value, w('\r\nOK\r\n')]));
    expect(Buffer.from(reply, 'latin1')).toEqual(Buffer.concat([value, w('\r\nOK\r\n')]));
    const stored = await fx.store.buckets();
    expect(stored.map((s) => Buffer.from(s.bucket).toString('hex'))).toEqual(['6200ff']);
  });
});

describe('text server: errors', () => {
  beforeEach(async () => {
    fx = await startFixture();
  });

  it('answers ERROR for a bucket with no routing entry, and keeps the connection open', async () => {
    const c = await client();
    const reply = await c.ask(Buffer.from([0x43, 0x52, 0x45, 0x41, 0x54, 0x45, 0x20, 0xf5, 0x61, 0x0a]), 'ERROR NoEntryError: could not find entry for <<0xf5, 0x61>>');
    expect(reply).toBe('ERROR NoEntryError: could not find entry for <<0xf5, 0x61>>');
    const table = ' in table [0x01..0xef -> solo@test, 0xfd..0xfd -> hang@test, 0xfe..0xfe -> gone@test]\r\n';
    expect(await c.read(table.length)).toBe(table);
    expect(await c.ask('CREATE ok\n', 'OK\r\n')).toBe('OK\r\n');
  });

  it('answers ERROR when the owner is unreachable, and keeps the connection open', async () => {
    const c = await client();
    c.send(Buffer.from([0x47, 0x45, 0x54, 0x20, 0xfe, 0x20, 0x6b, 0x0a]));
    c.send('CREATE ok\n');
    const line = await c.read('ERROR NodeUnreachableError: node gone@test is not reachable\r\n'.length);
    expect(line).toBe('ERROR NodeUnreachableError: node gone@test is not reachable\r\n');
    expect(await c.read(4)).toBe('OK\r\n');
  });

  it('answers ERROR when the owner does not answer in time, and keeps the connection open', async () => {
    const c = await client();
    c.send(Buffer.from([0x50, 0x55, 0x54, 0x20, 0xfd, 0x20, 0x6b, 0x20, 0x76, 0x0a]));
    c.send('CREATE ok\n');
    const line = 'ERROR TimeoutError: node hang@test did not answer within 300 ms\r\n';
    expect(await c.read(line.length)).toBe(line);
    expect(await c.read(4)).toBe('OK\r\n');
  });

  it('answers ERROR when the storage function fails, without a line break inside', async () => {
    await fx.stop();
    fx = await startFixture({
      wrap: () => ({ route: () => Promise.reject(new Error('disk on fire\r\nsecond line')) }),
    });
    const c = await client();
    expect(await c.ask('GET b k\n', 'ERROR Error: disk on fire second line\r\n')).toBe('ERROR Error: disk on fire second line\r\n');
    expect(await c.ask('nope\n', 'UNKNOWN COMMAND\r\n')).toBe('UNKNOWN COMMAND\r\n');
  });

  it('answers ERROR for a reply the protocol cannot express', async () => {
    await fx.stop();
    fx = await startFixture({ wrap: () => ({ route: async () => 42 }) });
    const c = await client();
    const expected = 'ERROR UnexpectedReplyError: KV.Bucket.get answered 42, which the text protocol has no reply for\r\n';
    expect(await c.ask('GET b k\n', expected)).toBe(expected);
  });

  it('refuses bad options with clear errors', async () => {
    await expect(startServer({ node: fx.node, port: -1 })).rejects.toThrow(/port must be an integer from 0 to 65535/);
    await expect(startServer({ node: fx.node, port: 0, maxLineLength: 0 })).rejects.toThrow(/maxLineLength must be a positive integer/);
    await expect(startServer({ node: {} as never, port: 0 })).rejects.toThrow(/node must be a ringkv node/);
    await expect(startServer({ node: fx.node, port: fx.server.port, host: '127.0.0.1' })).rejects.toThrow(/EADDRINUSE/);
  });
});

describe('text server: connections', () => {
  beforeEach(async () => {
    fx = await startFixture();
  });

  it('discards a partial line when the client closes', async () => {
    const c = await client();
    expect(await c.ask('CREATE b\n', 'OK\r\n')).toBe('OK\r\n');
    c.send('PUT b k v');
    c.socket.end();
    expect(await c.ended()).toBe('');
    const d = await client();
    expect(await d.ask('GET b k\n', '\r\nOK\r\n')).toBe('\r\nOK\r\n');
  });

  it('executes a complete line even when the client closes at once', async () => {
    const c = await client();
    expect(await c.ask('CREATE b\n', 'OK\r\n')).toBe('OK\r\n');
    // Closed (reset, even) as soon as the line is handed to the kernel.
    c.socket.write('PUT b k v\n', () => c.socket.destroy());
    for (let i = 0; i < 100; i++) {
      const r = (await fx.node.route('b', 'KV.Bucket', 'get', ['b', 'k'])) as { value: Uint8Array | null };
      if (r.value) {
        const d = await client();
        expect(await d.ask('GET b k\n', 'v\r\nOK\r\n')).toBe('v\r\nOK\r\n');
        return;
      }
      await sleep(20);
    }
    throw new Error('the PUT sent before the close never ran');
  });

  it('delivers the replies after a half-close, then closes', async () => {
    await fx.stop();
    fx = await startFixture({
      wrap: (node) => ({
        route: async (...a) => {
          await sleep(100);
          return node.route(...a);
        },
      }),
    });
    const c = await client();
    c.send('CREATE b\nPUT b k 7\nGET b k\nGET b k');
    c.socket.end();
    expect(await c.ended()).toBe('OK\r\nOK\r\n7\r\nOK\r\n');
  });

  it('keeps accepting after 200 rapid connect/close cycles, and answers', async () => {
    for (let i = 0; i < 200; i++) {
      await new Promise<void>((resolve) => {
        const s = connect({ port: fx.server.port, host: '127.0.0.1' });
        s.on('error', () => resolve());
        s.on('connect', () => {
          if (i % 3 === 0) s.resetAndDestroy();
          else if (i % 3 === 1) s.end('GET');
          else s.destroy();
          resolve();
        });
      });
    }
    const c = await client();
    expect(await c.ask('CREATE b\n', 'OK\r\n')).toBe('OK\r\n');
  });

  it('survives arbitrary bytes from clients and still answers (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 5 }), async (chunks) => {
        const c = await openClient(fx.server.port);
        for (const chunk of chunks) c.send(Buffer.concat([Buffer.from(['CREATE ', 'PUT a ', 'GET a ', ''][chunk.length % 4]!), chunk]));
        c.socket.end();
        const replies = await c.ended();
        // Every reply is one of the protocol's, each ending CRLF.
        expect(replies).toMatch(/^((OK|NOT FOUND|UNKNOWN COMMAND|ERROR [^\r\n]*|[^\r\n]*\r\nOK)\r\n)*$/);
      }),
      { numRuns: 40 },
    );
    const c = await client();
    expect(await c.ask('CREATE still\n', 'OK\r\n')).toBe('OK\r\n');
  });

  it('serves many connections at once', async () => {
    const n = 100;
    const cs = await Promise.all(Array.from({ length: n }, () => client()));
    expect(await cs[0]!.ask('CREATE many\n', 'OK\r\n')).toBe('OK\r\n');
    const replies = await Promise.all(
      cs.map(async (c, i) => {
        await c.ask(`PUT many k${i} v${i}\n`, 'OK\r\n');
        return c.ask(`GET many k${i}\n`, `v${i}\r\nOK\r\n`);
      }),
    );
    expect(replies).toEqual(cs.map((_, i) => `v${i}\r\nOK\r\n`));
    expect(fx.server.connections()).toBe(n);
  });

  it('stops reading from a client that does not read its replies', async () => {
    let calls = 0;
    await fx.stop();
    fx = await startFixture({
      maxQueuedLines: 64,
      wrap: (node) => ({
        route: (...a) => {
          calls++;
          return node.route(...a);
        },
      }),
    });
    const big = 'x'.repeat(60_000);
    await fx.node.route('b', 'KV.Registry', 'create', ['b']);
    await fx.node.route('b', 'KV.Bucket', 'put', ['b', 'k', big]);
    const socket = connect({ port: fx.server.port, host: '127.0.0.1' });
    socket.on('error', () => {});
    await new Promise((r) => socket.once('connect', r));
    socket.pause(); // never read
    // 32 MB of requests (more than loopback socket buffers hold) asking for 240 GB of replies.
    const lines = 'GET b k\n'.repeat(4_000_000);
    socket.write(lines);
    await sleep(500);
    expect(calls).toBeLessThan(2000);
    expect(socket.writableLength).toBeGreaterThan(0);
    socket.destroy();
  });

  it('close() stops accepting, finishes the command in flight, then closes the connection', async () => {
    await fx.stop();
    let started!: () => void;
    const inFlight = new Promise<void>((r) => (started = r));
    fx = await startFixture({
      wrap: (node) => ({
        route: async (...a) => {
          started();
          await sleep(200);
          return node.route(...a);
        },
      }),
    });
    const c = await client();
    const idle = await client();
    c.send('CREATE b\n');
    await inFlight;
    const closing = fx.server.close();
    await sleep(20);
    await expect(openClient(fx.server.port)).rejects.toThrow(/ECONNREFUSED/);
    expect(await c.ended()).toBe('OK\r\n');
    expect(await idle.ended()).toBe('');
    await closing;
    expect(fx.logs).toContain(`Stopped accepting connections on port ${fx.server.port}`);
  });
});
