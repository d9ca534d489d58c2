import { afterEach, describe, expect, it } from 'vitest';
import { createChangeFeed, topicForBucket, type ChangeFeed } from '../src/index.js';
import { startFixture, type Fixture } from './cluster-fixture.js';
import { openClient, type LineClient } from '@ringkv/test-utils';

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

/** Subscribes `sub` to `bucket` and waits until changes flow (a probe PUT through `via` arrives). */
async function subscribe(sub: LineClient, via: LineClient, bucket: string): Promise<void> {
  sub.send(`SUBSCRIBE ${bucket}\n`);
  const probe = `probe SET TO 1\r\n`;
  for (let i = 0; i < 100; i++) {
    expect(await via.ask(`PUT ${bucket} probe 1\n`, 'OK\r\n')).toBe('OK\r\n');
    await sleep(10);
    const seen = sub.received().toString('latin1');
    if (seen.includes(probe)) {
      // Skip the probes: everything after the last one is what the test sends.
      const last = seen.lastIndexOf(probe) + probe.length;
      await sub.read(last);
      return;
    }
  }
  throw new Error('SUBSCRIBE never started streaming');
}

describe('SUBSCRIBE (newest guide, optional)', () => {
  it('streams k SET TO v and k DELETED for the bucket\'s changes, DELETE of an absent key included', async () => {
    fx = await startFixture();
    const a = await client();
    const b = await client();
    expect(await b.ask('CREATE shopping\n', 'OK\r\n')).toBe('OK\r\n');
    expect(await b.ask('CREATE other\n', 'OK\r\n')).toBe('OK\r\n');
    await subscribe(a, b, 'shopping');
    expect(await b.ask('PUT shopping eggs 3\n', 'OK\r\n')).toBe('OK\r\n');
    expect(await b.ask('PUT other eggs 4\n', 'OK\r\n')).toBe('OK\r\n'); // another bucket: not streamed
    expect(await b.ask('DELETE shopping eggs\n', 'OK\r\n')).toBe('OK\r\n');
    expect(await b.ask('DELETE shopping milk\n', 'OK\r\n')).toBe('OK\r\n');
    expect(await b.ask('GET shopping eggs\n', '\r\nOK\r\n')).toBe('\r\nOK\r\n'); // reads: nothing
    const expected = 'eggs SET TO 3\r\neggs DELETED\r\nmilk DELETED\r\n';
    expect(await a.read(expected.length)).toBe(expected);
    await sleep(50);
    expect(a.received().length).toBe(a.received().toString('latin1').lastIndexOf('milk DELETED\r\n') + 'milk DELETED\r\n'.length);
  });

  it('answers NOT FOUND for a missing bucket and the connection stays a normal one', async () => {
    fx = await startFixture();
    const a = await client();
    expect(await a.ask('SUBSCRIBE nothing\n', 'NOT FOUND\r\n')).toBe('NOT FOUND\r\n');
    expect(await a.ask('CREATE nothing\n', 'OK\r\n')).toBe('OK\r\n');
  });

  it('ignores lines sent after SUBSCRIBE, and streams bytes and long bucket names exactly', async () => {
    fx = await startFixture();
    const a = await client();
    const b = await client();
    const long = `l${'o'.repeat(100)}ng`; // over 64 bytes: a hashed topic
    expect(topicForBucket(Buffer.from(long))).toMatch(/^ringkv\.bucket\.h[0-9a-f]{64}$/);
    expect(await b.ask(`CREATE ${long}\n`, 'OK\r\n')).toBe('OK\r\n');
    await subscribe(a, b, long);
    a.send('GET whatever k\nCREATE x\n');
    const key = Buffer.from([0x00, 0xff, 0xc3]);
    const value = Buffer.from([0xfe, 0x00]);
    const put = Buffer.concat([Buffer.from(`PUT ${long} `), key, Buffer.from(' '), value, Buffer.from('\n')]);
    expect(await b.ask(put, 'OK\r\n')).toBe('OK\r\n');
    const expected = Buffer.concat([key, Buffer.from(' SET TO '), value, Buffer.from('\r\n')]);
    expect(Buffer.from(await a.read(expected.length), 'latin1')).toEqual(expected);
    expect(await b.ask('GET x k\n', 'NOT FOUND\r\n')).toBe('NOT FOUND\r\n'); // "CREATE x" on a did not run
  });

  it('drops the subscription when the client goes away; close() ends streaming connections', async () => {
    let active = 0;
    let feed!: ChangeFeed;
    fx = await startFixture({
      wrap: (node) => {
        const inner = createChangeFeed(node.transport);
        feed = {
          publish: (c) => inner.publish(c),
          async subscribe(bucket, listener) {
            const stop = await inner.subscribe(bucket, listener);
            active++;
            return async () => {
              active--;
              await stop();
            };
          },
          close: () => inner.close(),
        };
        return node;
      },
      feedFrom: () => feed,
    });
    const a = await client();
    const b = await client();
    expect(await b.ask('CREATE s\n', 'OK\r\n')).toBe('OK\r\n');
    await subscribe(a, b, 's');
    expect(active).toBe(1);
    a.close();
    for (let i = 0; i < 100 && active > 0; i++) await sleep(10);
    expect(active).toBe(0);
    const c = await client();
    await subscribe(c, b, 's');
    const closing = fx.server.close();
    expect(await c.ended()).toBe('');
    await closing;
    expect(active).toBe(0);
  });

  it('answers ERROR when the transport cannot publish/subscribe', async () => {
    fx = await startFixture({ wrap: (node) => ({ route: (...a) => node.route(...a) }) });
    const a = await client();
    expect(await a.ask('CREATE s\n', 'OK\r\n')).toBe('OK\r\n');
    const expected = "ERROR TransportError: this node's transport cannot publish/subscribe, so SUBSCRIBE is not available\r\n";
    expect(await a.ask('SUBSCRIBE s\n', expected)).toBe(expected);
    expect(await a.ask('GET s k\n', '\r\nOK\r\n')).toBe('\r\nOK\r\n');
  });
});
