/**
 * One test body, every setup (node-redis `testAll` style): the guide's text-protocol session
 * and the protocol's reply rules, run unchanged against each placement strategy and storage
 * backend. A setup only has to start a cluster with a text server in front and say how to stop
 * it; buckets used here start with a lowercase letter, so the guide's range table (a..m, n..z)
 * places every one of them.
 *
 * @example
 * textProtocolSuite({ name: 'range + memory', setup: async () => ({ port, teardown }) });
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GUIDE_SESSION, openClient, runGuideSession, type LineClient } from './line-client.js';

export interface TextProtocolCluster {
  /** Port of the text server in front of the cluster (on 127.0.0.1). */
  port: number;
  teardown(): Promise<void>;
}

export interface TextProtocolSetup {
  name: string;
  setup(): Promise<TextProtocolCluster>;
}

let bucketCounter = 0;
/** A bucket name no other test of this process used (the backends may be shared). */
const freshBucket = (label: string) => `${label}${process.pid}x${++bucketCounter}`;

export function textProtocolSuite(options: TextProtocolSetup): void {
  describe(`text protocol: ${options.name}`, () => {
    let cluster: TextProtocolCluster;
    const clients: LineClient[] = [];
    beforeEach(async () => {
      cluster = await options.setup();
    });
    afterEach(async () => {
      for (const c of clients.splice(0)) c.close();
      await cluster.teardown();
    });
    const client = async () => {
      const c = await openClient(cluster.port);
      clients.push(c);
      return c;
    };

    it("runs the guide's session step by step on one connection", async () => {
      expect(await runGuideSession(await client())).toEqual(GUIDE_SESSION.map(([, reply]) => reply));
    });

    it('answers every row of the reply table with its exact bytes', async () => {
      const c = await client();
      const b = freshBucket('table');
      const rows: [string, string][] = [
        [`PUT ${b} k v\n`, 'NOT FOUND\r\n'], // no such bucket: not created implicitly
        [`GET ${b} k\n`, 'NOT FOUND\r\n'],
        [`DELETE ${b} k\n`, 'NOT FOUND\r\n'],
        [`CREATE ${b}\n`, 'OK\r\n'],
        [`GET ${b} k\n`, '\r\nOK\r\n'], // key missing
        [`DELETE ${b} k\n`, 'OK\r\n'], // key missing
        [`PUT ${b} k v1\n`, 'OK\r\n'],
        [`PUT ${b} k v2\n`, 'OK\r\n'], // overwrites
        [`GET ${b} k\n`, 'v2\r\nOK\r\n'],
        [`CREATE ${b}\n`, 'OK\r\n'], // existing: data kept
        [`GET ${b} k\n`, 'v2\r\nOK\r\n'],
        [`DELETE ${b} k\n`, 'OK\r\n'], // key present
        [`GET ${b} k\n`, '\r\nOK\r\n'],
        [`FOO ${b}\n`, 'UNKNOWN COMMAND\r\n'],
        [`GET ${b}\n`, 'UNKNOWN COMMAND\r\n'],
        [`PUT ${b} k v extra\n`, 'UNKNOWN COMMAND\r\n'],
        [`get ${b} k\n`, 'UNKNOWN COMMAND\r\n'],
        ['\n', 'UNKNOWN COMMAND\r\n'],
      ];
      for (const [line, reply] of rows) expect(await c.ask(line, reply), JSON.stringify(line)).toBe(reply);
    });

    it('round-trips NUL, 0xff and invalid UTF-8 in bucket, key and value', async () => {
      const c = await client();
      const bucket = Buffer.concat([Buffer.from(freshBucket('bin')), Buffer.of(0x00, 0xff)]);
      const key = Buffer.of(0xc3, 0x28, 0x00);
      const value = Buffer.of(0x00, 0xff, 0xfe, 0x80, 0xe2, 0x82, 0x01, 0xc2, 0xa0);
      const line = (...parts: Buffer[]) => Buffer.concat([...parts.flatMap((p, i) => (i ? [Buffer.from(' '), p] : [p])), Buffer.from('\n')]);
      const w = (s: string) => Buffer.from(s);
      expect(await c.ask(line(w('CREATE'), bucket), 'OK\r\n')).toBe('OK\r\n');
      expect(await c.ask(line(w('PUT'), bucket, key, value), 'OK\r\n')).toBe('OK\r\n');
      const expected = Buffer.concat([value, w('\r\nOK\r\n')]);
      expect(Buffer.from(await c.ask(line(w('GET'), bucket, key), expected), 'latin1')).toEqual(expected);
    });

    it('answers pipelined lines in order', async () => {
      const c = await client();
      const b = freshBucket('pipe');
      const lines = [`CREATE ${b}`, ...Array.from({ length: 20 }, (_, i) => `PUT ${b} k${i} v${i}`), ...Array.from({ length: 20 }, (_, i) => `GET ${b} k${i}`)];
      const expected = ['OK\r\n', ...Array.from({ length: 20 }, () => 'OK\r\n'), ...Array.from({ length: 20 }, (_, i) => `v${i}\r\nOK\r\n`)].join('');
      c.send(`${lines.join('\n')}\n`);
      expect(await c.read(expected.length, 30_000)).toBe(expected);
    }, 60_000);

    it('keeps every acknowledged write from concurrent connections, read back on another connection', async () => {
      const b = freshBucket('load');
      const setup = await client();
      expect(await setup.ask(`CREATE ${b}\n`, 'OK\r\n')).toBe('OK\r\n');
      const acknowledged: string[] = [];
      await Promise.all(
        Array.from({ length: 6 }, async (_, conn) => {
          const c = await client();
          for (let i = 0; i < 20; i++) {
            const key = `c${conn}k${i}`;
            if ((await c.ask(`PUT ${b} ${key} ${key}v\n`, 'OK\r\n')) === 'OK\r\n') acknowledged.push(key);
          }
        }),
      );
      expect(acknowledged).toHaveLength(120);
      const reader = await client();
      for (const key of acknowledged) expect(await reader.ask(`GET ${b} ${key}\n`, `${key}v\r\nOK\r\n`)).toBe(`${key}v\r\nOK\r\n`);
    }, 90_000);
  });
}
