/**
 * One `ringkv node start` process that is the whole cluster (server + storage, in-process
 * transport, a table sending every byte to itself), driven over TCP only.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openClient, type LineClient, GUIDE_SESSION, runGuideSession, startNodeProcess, type NodeProcess } from '@ringkv/test-utils';

const dir = mkdtempSync(join(tmpdir(), 'ringkv-server-single-'));
writeFileSync(
  join(dir, 'solo.json'),
  JSON.stringify({
    node: 'solo@ringkv.test',
    transport: 'in-process',
    roles: ['server', 'storage'],
    routingTable: [{ from: 1, to: 255, node: 'solo@ringkv.test' }],
    server: { maxLineLength: 100 },
  }),
);

describe('ringkv node start: a single node with the text server', () => {
  let node: NodeProcess;
  let port: number;
  const clients: LineClient[] = [];
  const client = async () => {
    const c = await openClient(port);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    node = await startNodeProcess({ config: join(dir, 'solo.json'), env: { PORT: '0' } });
    port = Number(node.output().match(/ready \(.*; port (\d+)\)/)?.[1]);
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await node?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes its port from PORT and logs it', () => {
    expect(port).toBeGreaterThan(0);
    expect(node.output()).toContain(`Accepting connections on port ${port}`);
  });

  it('runs the guide\'s integration test step by step on one connection', async () => {
    const c = await client();
    expect(await runGuideSession(c)).toEqual(GUIDE_SESSION.map(([, reply]) => reply));
  });

  it('uses the configured maximum line length', async () => {
    const c = await client();
    expect(await c.ask(`PUT shopping k ${'v'.repeat(100)}\n`, 'ERROR line too long\r\n')).toBe('ERROR line too long\r\n');
    expect(await c.ask('GET shopping k\n', '\r\nOK\r\n')).toBe('\r\nOK\r\n');
  });

  it('answers ERROR for the bucket its table has no entry for', async () => {
    const c = await client();
    const expected = 'ERROR NoEntryError: could not find entry for "\\u0000" in table [0x01..0xff -> solo@ringkv.test]\r\n';
    expect(await c.ask('CREATE \u0000\n', expected)).toBe(expected);
  });

  it('pipelines 1000 commands on one connection, answered in order', async () => {
    const c = await client();
    const lines = ['CREATE pipe\n'];
    let expected = 'OK\r\n';
    for (let i = 0; i < 500; i++) {
      lines.push(`PUT pipe k${i} v${i}\n`, `GET pipe k${i}\n`);
      expected += `OK\r\nv${i}\r\nOK\r\n`;
    }
    c.send(lines.join(''));
    expect(await c.read(expected.length)).toBe(expected);
  });
});
