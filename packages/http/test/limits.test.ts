/**
 * The HTTP server's limits, as issue 16 item 3 asks of every server: a connection cap (further
 * sockets dropped, with a rate-limited log line), idle sockets closed, the body limit, and the
 * server still serving afterwards.
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '@ringkv/core';
import { startHttpCluster, type HttpCluster } from './cluster-fixture.js';

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}
const closed = (s: Socket, within: number) =>
  new Promise<boolean>((resolve) => {
    if (s.destroyed) return resolve(true);
    const t = setTimeout(() => resolve(false), within);
    s.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
  });

describe('HTTP server limits', () => {
  let c: HttpCluster | undefined;
  const logs: string[] = [];
  const logger: Logger = { debug: () => {}, info: () => {}, warn: (m) => void logs.push(m), error: (m) => void logs.push(m) };
  afterEach(async () => {
    await c?.stop();
    c = undefined;
    logs.length = 0;
  });

  it('drops connections past maxConnections, says so once, and serves again when one closes', async () => {
    c = await startHttpCluster('range', { maxConnections: 2, logger });
    const port = c.http.port;
    const held = [await open(port), await open(port)];
    const extra = await Promise.all([open(port), open(port), open(port)]);
    for (const s of extra) expect(await closed(s, 5000)).toBe(true);
    expect(logs.filter((l) => /connection refused, 2 connections already open \(http\.maxConnections\)/.test(l))).toHaveLength(1);
    for (const s of held) s.destroy();
    await new Promise((r) => setTimeout(r, 200));
    const ping = await fetch(`${c.base}/ping`);
    expect(await ping.text()).toBe('OK');
  });

  it('closes a connection idle for idleTimeoutMs', async () => {
    c = await startHttpCluster('range', { idleTimeoutMs: 300, logger });
    const s = await open(c.http.port);
    const t0 = Date.now();
    expect(await closed(s, 10_000)).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
  });

  it('refuses a body declared larger than the limit before reading it', async () => {
    c = await startHttpCluster('range', { bodyLimit: 1000, logger });
    const s = await open(c.http.port);
    let got = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => (got += d));
    // Declares 1 GB and sends 3 bytes: the answer must not wait for the rest.
    s.write('PUT /buckets/b/keys/k HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\nabc');
    await new Promise((r) => setTimeout(r, 1000));
    expect(got).toMatch(/^HTTP\/1\.1 413/);
    expect(got).toMatch(/larger than the limit of 1000 bytes/);
    s.destroy();
    expect(logs.some((l) => /refused a body over 1000 bytes/.test(l))).toBe(true);
  });
});
