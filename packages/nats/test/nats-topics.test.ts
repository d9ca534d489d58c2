import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeDistributed, startNatsServer, type NatsServer } from '@ringkv/test-utils';
import { connectNatsTransport, type NatsTransport } from '../src/index.js';

describeDistributed('NATS transport: publish / subscribe on topics', () => {
  let nats: NatsServer;
  let a: NatsTransport;
  let b: NatsTransport;
  beforeAll(async () => {
    nats = await startNatsServer();
    a = await connectNatsTransport({ url: nats.url, name: 'a@topics' });
    b = await connectNatsTransport({ url: nats.url, name: 'b@topics' });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await nats?.stop();
  });

  const waitFor = async (cond: () => boolean) => {
    for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  };

  it('delivers what one connection publishes to subscribers on every connection, bytes intact', async () => {
    const got: unknown[] = [];
    const la = await a.subscribe('ringkv.bucket.x61', (m) => got.push(['a', m]));
    const lb = await b.subscribe('ringkv.bucket.x61', (m) => got.push(['b', m]));
    const other = await b.subscribe('ringkv.bucket.x62', (m) => got.push(['other', m]));
    await a.publish('ringkv.bucket.x61', { key: Uint8Array.of(0, 0xff, 0xc3), value: null });
    await waitFor(() => got.length >= 2);
    expect(got).toHaveLength(2);
    for (const [, m] of got as [string, { key: Uint8Array }][]) expect([...m.key]).toEqual([0, 0xff, 0xc3]);
    await la.close();
    await lb.close();
    await other.close();
  });

  it('stops delivering after close, and checks topics', async () => {
    const got: unknown[] = [];
    const l = await b.subscribe('t.closed', (m) => got.push(m));
    await l.close();
    await a.publish('t.closed', 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toEqual([]);
    await expect(a.publish('bad topic', 1)).rejects.toThrow(/topic must be dot-separated tokens/);
    await expect(a.subscribe('a.>', () => {})).rejects.toThrow(/topic must be/);
  });
});
