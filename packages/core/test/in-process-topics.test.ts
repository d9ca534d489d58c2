import { describe, expect, it } from 'vitest';
import { checkTopic, createInProcessNetwork } from '../src/index.js';

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('in-process transport: publish / subscribe', () => {
  it('delivers a copy to every subscriber of the topic, on any transport of the network', async () => {
    const net = createInProcessNetwork();
    const a = net.transport();
    const b = net.transport();
    const got: unknown[] = [];
    await a.subscribe!('ringkv.bucket.x61', (m) => got.push(['a', m]));
    await b.subscribe!('ringkv.bucket.x61', (m) => got.push(['b', m]));
    await b.subscribe!('ringkv.bucket.x62', (m) => got.push(['other', m]));
    const body = { key: Uint8Array.of(0, 255) };
    const sent = a.publish!('ringkv.bucket.x61', body);
    expect(got).toEqual([]); // never synchronously, as over a network
    await sent;
    await tick();
    expect(got).toEqual([
      ['a', { key: Uint8Array.of(0, 255) }],
      ['b', { key: Uint8Array.of(0, 255) }],
    ]);
    expect((got[0] as [string, typeof body])[1]).not.toBe(body);
  });

  it('stops delivering once the listener or the transport is closed', async () => {
    const net = createInProcessNetwork();
    const a = net.transport();
    const b = net.transport();
    const got: unknown[] = [];
    const l = await a.subscribe!('t', (m) => got.push(m));
    await b.subscribe!('t', (m) => got.push(m));
    await l.close();
    await b.close();
    await a.publish!('t', 1);
    await tick();
    expect(got).toEqual([]);
    await expect(b.publish!('t', 1)).rejects.toThrow(/closed/);
  });

  it('a throwing subscriber does not affect the publisher or the others', async () => {
    const a = createInProcessNetwork().transport();
    const got: unknown[] = [];
    await a.subscribe!('t', () => {
      throw new Error('boom');
    });
    await a.subscribe!('t', (m) => got.push(m));
    await a.publish!('t', 'x');
    await tick();
    expect(got).toEqual(['x']);
  });

  it('rejects invalid topics with a clear error', async () => {
    const a = createInProcessNetwork().transport();
    for (const bad of ['', 'a..b', 'a b', 'a.*', 'a.>', '.a', 'x'.repeat(300)]) {
      expect(() => checkTopic(bad), bad).toThrow(/topic must be dot-separated tokens/);
      await expect(a.publish!(bad, 1)).rejects.toThrow(/topic must be/);
    }
    expect(checkTopic('ringkv.bucket.x00ff')).toBe('ringkv.bucket.x00ff');
  });
});
